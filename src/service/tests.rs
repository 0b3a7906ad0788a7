//! The service's tests: sources, modes, requirements, rejections and the cache, through the
//! layer.

use bytes::Bytes;
use http::header::{AUTHORIZATION, CONTENT_TYPE, COOKIE, WWW_AUTHENTICATE};
use http::{Request, StatusCode};
use http_body_util::Full;
use tower::{service_fn, ServiceBuilder, ServiceExt};

use crate::test_helpers::*;
use crate::{
    AuthError, AuthMode, ErrorKind, InvalidTokenPolicy, JwtAuthLayer, StatusPolicy, TokenSource,
};

fn request(auth: Option<&str>, cookie: Option<&str>) -> Request<Full<Bytes>> {
    let mut builder = Request::builder().uri("/x");
    if let Some(auth) = auth {
        builder = builder.header(AUTHORIZATION, auth);
    }
    if let Some(cookie) = cookie {
        builder = builder.header(COOKIE, cookie);
    }
    builder.body(Full::default()).unwrap()
}

async fn call(
    layer: &JwtAuthLayer<TestClaims>,
    req: Request<Full<Bytes>>,
) -> (StatusCode, Option<String>, Option<AuthError>, String) {
    let svc = ServiceBuilder::new().layer(layer.clone()).service_fn(echo);
    let response = svc.oneshot(req).await.unwrap();
    let status = response.status();
    let challenge = response
        .headers()
        .get(WWW_AUTHENTICATE)
        .map(|v| v.to_str().unwrap().to_owned());
    let error = response.extensions().get::<AuthError>().cloned();
    let body = body_string(response.into_body()).await;
    (status, challenge, error, body)
}

fn reason(body: &str) -> String {
    let json: serde_json::Value = serde_json::from_str(body).unwrap();
    json["reason"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn bearer_token_is_verified_and_claims_reach_the_handler() {
    let layer = builder().build().unwrap();
    let token = good_token();
    let (status, challenge, error, body) =
        call(&layer, request(Some(&format!("Bearer {token}")), None)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(challenge, None);
    assert_eq!(error, None);
    assert_eq!(body, "sub=alice;scopes=read write");
}

#[tokio::test]
async fn cookie_token_is_verified() {
    let layer = builder().build().unwrap();
    let cookie = format!("theme=dark; __Host-access_token={}", good_token());
    let (status, _, _, body) = call(&layer, request(None, Some(&cookie))).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, "sub=alice;scopes=read write");
}

#[tokio::test]
async fn configured_sources_replace_the_defaults() {
    let layer = builder()
        .token_sources([TokenSource::cookie("__Host-at")])
        .unwrap()
        .build()
        .unwrap();
    let token = good_token();
    let (status, ..) = call(&layer, request(Some(&format!("Bearer {token}")), None)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, ..) = call(&layer, request(None, Some(&format!("__Host-at={token}")))).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn every_failure_class_has_its_status_reason_and_challenge() {
    let layer = builder().realm("api").unwrap().build().unwrap();
    let expired = mint(serde_json::json!({ "sub": "a", "exp": now() - 3600 }));
    let future = mint(serde_json::json!({ "sub": "a", "exp": now() + 600, "nbf": now() + 300 }));
    let no_exp = mint(serde_json::json!({ "sub": "a" }));
    let mut forged = good_token();
    forged.push('A');
    let cases: Vec<(Option<String>, StatusCode, &str)> = vec![
        (None, StatusCode::UNAUTHORIZED, "missing"),
        (
            Some(format!("Bearer {expired}")),
            StatusCode::UNAUTHORIZED,
            "expired",
        ),
        (
            Some(format!("Bearer {future}")),
            StatusCode::UNAUTHORIZED,
            "not_yet_valid",
        ),
        (
            Some("Bearer a.b".into()),
            StatusCode::FORBIDDEN,
            "malformed",
        ),
        (
            Some(format!("Bearer {forged}")),
            StatusCode::FORBIDDEN,
            "invalid_signature",
        ),
        (
            Some(format!("Bearer {no_exp}")),
            StatusCode::FORBIDDEN,
            "invalid_claims",
        ),
        (
            Some("Bearer".into()),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
    ];
    for (auth, expected_status, expected_reason) in cases {
        let (status, challenge, error, body) = call(&layer, request(auth.as_deref(), None)).await;
        assert_eq!(status, expected_status, "{expected_reason}");
        assert_eq!(reason(&body), expected_reason);
        assert_eq!(error.unwrap().reason(), expected_reason);
        let challenge = challenge.unwrap();
        assert!(challenge.starts_with("Bearer realm=\"api\""), "{challenge}");
        match expected_reason {
            "missing" => assert_eq!(challenge, "Bearer realm=\"api\""),
            "invalid_request" => assert!(challenge.contains("error=\"invalid_request\"")),
            _ => assert!(challenge.contains("error=\"invalid_token\""), "{challenge}"),
        }
    }
}

#[tokio::test]
async fn strict_policy_answers_401_for_every_invalid_token() {
    let layer = builder()
        .status_policy(StatusPolicy::Rfc6750)
        .build()
        .unwrap();
    let (status, _, error, _) = call(&layer, request(Some("Bearer a.b.c"), None)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(error.unwrap().kind(), ErrorKind::Malformed);
}

#[tokio::test]
async fn custom_rejection_is_used_and_the_error_is_still_in_the_extensions() {
    let called = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = called.clone();
    let layer = builder()
        .rejection(move |error: &AuthError, _: &http::request::Parts| {
            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            http::Response::builder()
                .status(StatusCode::IM_A_TEAPOT)
                .body(Bytes::from(error.reason()))
                .unwrap()
        })
        .build()
        .unwrap();
    let svc = ServiceBuilder::new().layer(layer).service_fn(echo);
    let response = svc.clone().oneshot(request(None, None)).await.unwrap();
    assert_eq!(response.status(), StatusCode::IM_A_TEAPOT);
    assert_eq!(
        response.extensions().get::<AuthError>().unwrap().kind(),
        ErrorKind::Missing
    );
    assert_eq!(body_string(response.into_body()).await, "missing");
    let token = good_token();
    let response = svc
        .oneshot(request(Some(&format!("Bearer {token}")), None))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(called.load(std::sync::atomic::Ordering::SeqCst), 1);
}

#[tokio::test]
async fn optional_mode() {
    let layer = builder().build().unwrap();
    let optional = layer
        .clone()
        .mode(AuthMode::Optional(InvalidTokenPolicy::Reject));
    let (status, _, _, body) = call(&optional, request(None, None)).await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "anonymous"));
    let token = good_token();
    let (status, _, _, body) =
        call(&optional, request(Some(&format!("Bearer {token}")), None)).await;
    assert_eq!(
        (status, body.as_str()),
        (StatusCode::OK, "sub=alice;scopes=read write")
    );
    // A bad token is refused by default...
    let (status, ..) = call(&optional, request(Some("Bearer x.y.z"), None)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // ... or treated as anonymous when asked.
    let lenient = layer.mode(AuthMode::Optional(InvalidTokenPolicy::Anonymous));
    let (status, _, _, body) = call(&lenient, request(Some("Bearer x.y.z"), None)).await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "anonymous"));
    // Ambiguous credentials are refused in every mode.
    let mut req = request(Some("Bearer a"), None);
    req.headers_mut()
        .append(AUTHORIZATION, "Bearer b".parse().unwrap());
    let (status, ..) = call(&lenient, req).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn layer_level_scopes() {
    let layer = builder().build().unwrap();
    let token = good_token();
    let auth = format!("Bearer {token}");
    let ok = layer.clone().require_scopes(["read", "write"]).unwrap();
    assert_eq!(
        call(&ok, request(Some(&auth), None)).await.0,
        StatusCode::OK
    );
    let admin = layer.require_scopes(["admin"]).unwrap();
    let (status, challenge, error, body) = call(&admin, request(Some(&auth), None)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(reason(&body), "insufficient_scope");
    assert_eq!(error.unwrap().required_scope(), Some("admin"));
    assert!(challenge.unwrap().contains("error=\"insufficient_scope\""));
}

#[tokio::test]
async fn an_optional_variant_with_scopes_still_needs_a_token_with_them() {
    let layer = builder().build().unwrap();
    let svc = ServiceBuilder::new()
        .layer(
            layer
                .mode(AuthMode::Optional(InvalidTokenPolicy::Anonymous))
                .require_scopes(["write"])
                .unwrap(),
        )
        .service_fn(echo);
    let token = good_token();
    let response = svc
        .clone()
        .oneshot(request(Some(&format!("Bearer {token}")), None))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let response = svc.clone().oneshot(request(None, None)).await.unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    // A bad token is not "anonymous" past a scope requirement either.
    let response = svc
        .clone()
        .oneshot(request(Some("Bearer x.y.z"), None))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let read_only = mint(serde_json::json!({ "sub": "b", "exp": now() + 60, "scp": ["read"] }));
    let response = svc
        .oneshot(request(Some(&format!("Bearer {read_only}")), None))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        response.extensions().get::<AuthError>().unwrap().kind(),
        ErrorKind::InsufficientScope
    );
}

#[tokio::test]
async fn builder_level_mode_and_scopes() {
    let optional = builder()
        .mode(AuthMode::Optional(InvalidTokenPolicy::Reject))
        .build()
        .unwrap();
    let (status, _, _, body) = call(&optional, request(None, None)).await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "anonymous"));
    let admin = builder()
        .require_scopes(["admin"])
        .unwrap()
        .build()
        .unwrap();
    let token = good_token();
    let (status, _, error, _) = call(&admin, request(Some(&format!("Bearer {token}")), None)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(error.unwrap().required_scope(), Some("admin"));
    // The variant replaces the scopes; an empty list requires none.
    let none = admin.require_scopes(Vec::<String>::new()).unwrap();
    let (status, ..) = call(&none, request(Some(&format!("Bearer {token}")), None)).await;
    assert_eq!(status, StatusCode::OK);
    // Invalid scopes are refused when they are set.
    assert!(builder().require_scopes(["a b"]).is_err());
}

#[tokio::test]
async fn grpc_requests_get_grpc_answers() {
    let layer = builder().build().unwrap();
    let req = Request::builder()
        .uri("/greeter.Greeter/SayHello")
        .header(CONTENT_TYPE, "application/grpc+proto")
        .body(Full::default())
        .unwrap();
    let svc = ServiceBuilder::new().layer(layer).service_fn(echo);
    let response = svc.oneshot(req).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["grpc-status"], "16");
    assert_eq!(response.headers()[CONTENT_TYPE], "application/grpc+proto");
    assert!(response.headers()["grpc-message"]
        .to_str()
        .unwrap()
        .starts_with("missing: "));
    assert!(http_body::Body::is_end_stream(response.body()));
}

#[tokio::test]
async fn an_opted_in_pass_through_lets_only_a_bare_preflight_pass() {
    let layer = builder().pass_cors_preflight(true).build().unwrap();
    let preflight = || {
        Request::builder()
            .method("OPTIONS")
            .uri("/x")
            .header("origin", "https://app.example")
            .header("access-control-request-method", "POST")
    };
    let (status, _, _, body) = call(&layer, preflight().body(Full::default()).unwrap()).await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "anonymous"));
    // Never a gRPC call, never a request with a body.
    let refused = [
        preflight()
            .header(CONTENT_TYPE, "application/grpc")
            .body(Full::default())
            .unwrap(),
        preflight()
            .body(Full::new(Bytes::from_static(b"{}")))
            .unwrap(),
        preflight()
            .header("transfer-encoding", "chunked")
            .body(Full::default())
            .unwrap(),
        preflight()
            .header("content-length", "2")
            .body(Full::default())
            .unwrap(),
    ];
    for req in refused {
        let (_, _, error, body) = call(&layer, req).await;
        assert_eq!(error.map(|e| e.kind()), Some(ErrorKind::Missing), "{body}");
    }
    // Never past a scope requirement.
    let admin = layer.require_scopes(["admin"]).unwrap();
    let (status, _, error, _) = call(&admin, preflight().body(Full::default()).unwrap()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(error.unwrap().kind(), ErrorKind::Missing);
}

/// A CORS preflight carries no credentials: by default it is refused like any other request
/// without a token, and never reaches the inner service.
#[tokio::test]
async fn a_cors_preflight_without_a_token_does_not_reach_the_inner_service() {
    let layer = builder().build().unwrap();
    let preflight = || {
        Request::builder()
            .method("OPTIONS")
            .uri("/x")
            .header("origin", "https://app.example")
            .header("access-control-request-method", "POST")
            .body(Full::default())
            .unwrap()
    };
    let (status, _, error, body) = call(&layer, preflight()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert_eq!(reason(&body), "missing");
    assert_eq!(error.unwrap().kind(), ErrorKind::Missing);
    // Nor with a scope requirement.
    let admin = layer.require_scopes(["admin"]).unwrap();
    let (status, _, _, body) = call(&admin, preflight()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert_eq!(reason(&body), "missing");
}

#[tokio::test]
async fn poll_ready_is_propagated() {
    use std::task::{Context, Poll};
    use tower_service::Service;
    let layer = builder().build().unwrap();
    let inner = tower::service_fn(echo);
    // A service that is not ready keeps the layer not ready.
    #[derive(Clone)]
    struct NotReady<S>(S);
    impl<S: Service<R>, R> Service<R> for NotReady<S> {
        type Response = S::Response;
        type Error = S::Error;
        type Future = S::Future;
        fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
            Poll::Pending
        }
        fn call(&mut self, req: R) -> S::Future {
            self.0.call(req)
        }
    }
    let mut svc = tower_layer::Layer::layer(&layer, NotReady(inner));
    let mut cx = Context::from_waker(std::task::Waker::noop());
    assert!(svc.poll_ready(&mut cx).is_pending());
    let mut svc = tower_layer::Layer::layer(&layer, service_fn(echo));
    assert!(matches!(svc.poll_ready(&mut cx), Poll::Ready(Ok(()))));
}

#[tokio::test]
async fn cached_tokens_are_judged_again_on_every_hit() {
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::Arc;
    use std::time::{Duration, UNIX_EPOCH};

    let start = now();
    let clock = Arc::new(AtomicU64::new(start));
    let ticking = clock.clone();
    let layer = builder()
        .leeway(Duration::ZERO)
        .unwrap()
        .token_cache(100, 1 << 20)
        .unwrap()
        .clock(crate::clock::Clock::from_fn(move || {
            UNIX_EPOCH + Duration::from_secs(ticking.load(Ordering::SeqCst))
        }))
        .build()
        .unwrap();
    let token = mint(serde_json::json!({ "sub": "carol", "exp": start + 60, "scope": "a" }));
    let auth = format!("Bearer {token}");
    let svc = ServiceBuilder::new().layer(layer.clone()).service_fn(echo);

    for _ in 0..3 {
        let response = svc
            .clone()
            .oneshot(request(Some(&auth), None))
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(
            body_string(response.into_body()).await,
            "sub=carol;scopes=a"
        );
    }
    assert_eq!(layer.cache_len(), 1);
    // A token that fails is never cached.
    let mut forged = token.clone();
    forged.push('A');
    let (status, ..) = call(&layer, request(Some(&format!("Bearer {forged}")), None)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(layer.cache_len(), 1);
    // Once the clock passes `exp`, the cached token is expired like any other.
    clock.store(start + 60, Ordering::SeqCst);
    let (status, _, error, _) = call(&layer, request(Some(&auth), None)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(error.unwrap().kind(), ErrorKind::Expired);
    assert_eq!(layer.cache_len(), 0);
}

#[cfg(feature = "aws-lc-rs")]
#[tokio::test]
async fn a_layer_can_verify_with_its_own_provider() {
    let layer = builder()
        .crypto_provider(&crate::crypto::AWS_LC_PROVIDER)
        .build()
        .unwrap();
    let token = good_token();
    let (status, _, _, body) = call(&layer, request(Some(&format!("Bearer {token}")), None)).await;
    assert_eq!(
        (status, body.as_str()),
        (StatusCode::OK, "sub=alice;scopes=read write")
    );
    let mut forged = token;
    forged.push('A');
    let (status, ..) = call(&layer, request(Some(&format!("Bearer {forged}")), None)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn clones_share_one_configuration_and_still_verify() {
    fn assert_send_sync<T: Send + Sync>(_: &T) {}
    let layer = builder().token_cache(16, 1 << 16).unwrap().build().unwrap();
    let service = tower::Layer::layer(&layer, service_fn(echo));
    assert_send_sync(&service);
    let clone = service.clone();
    // A clone is one more count on the shared configuration, not a copy of it.
    assert!(std::sync::Arc::ptr_eq(&service.shared, &clone.shared));
    assert_eq!(std::sync::Arc::strong_count(&service.shared), 2);
    let token = good_token();
    let auth = format!("Bearer {token}");
    let response = clone.oneshot(request(Some(&auth), None)).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(std::sync::Arc::strong_count(&service.shared), 1);
    // The clone filled the cache the original reads.
    assert_eq!(layer.cache_len(), 1);
    let response = service.oneshot(request(Some(&auth), None)).await.unwrap();
    assert_eq!(
        body_string(response.into_body()).await,
        "sub=alice;scopes=read write"
    );
}

fn roles_token(roles: &[&str]) -> String {
    mint(serde_json::json!({
        "sub": "alice",
        "exp": now() + 300,
        "scope": "read",
        "realm_access": { "roles": roles },
    }))
}

#[tokio::test]
async fn a_missing_role_or_a_failed_predicate_is_forbidden_even_on_cache_hits() {
    for policy in [StatusPolicy::RefreshOrRefuse, StatusPolicy::Rfc6750] {
        let staff = builder()
            .roles_claim("realm_access.roles")
            .unwrap()
            .token_cache(16, 1 << 16)
            .unwrap()
            .status_policy(policy)
            .require_roles(["staff"])
            .unwrap()
            .build()
            .unwrap();
        let with = format!("Bearer {}", roles_token(&["staff"]));
        let without = format!("Bearer {}", roles_token(&["reader"]));
        for _ in 0..2 {
            // The second round is answered from the cache, and judged the same.
            let (status, ..) = call(&staff, request(Some(&with), None)).await;
            assert_eq!(status, StatusCode::OK);
            let (status, challenge, error, body) =
                call(&staff, request(Some(&without), None)).await;
            assert_eq!(status, StatusCode::FORBIDDEN);
            assert_eq!(error.unwrap().kind(), ErrorKind::Forbidden);
            let json: serde_json::Value = serde_json::from_str(&body).unwrap();
            assert_eq!(json["error"], "insufficient_scope");
            assert_eq!(json["reason"], "forbidden");
            assert!(json.get("scope").is_none());
            assert_eq!(
                challenge.unwrap(),
                "Bearer error=\"insufficient_scope\", error_description=\"The access token does not grant a required role\""
            );
        }
        assert_eq!(staff.cache_len(), 2);
        let picky = staff
            .clone()
            .require(|claims: &TestClaims| claims.sub == "bob");
        let (status, _, error, body) = call(&picky, request(Some(&with), None)).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert_eq!(reason(&body), "forbidden");
        assert_eq!(
            error.unwrap().description(),
            "The access token's claims do not meet the route's requirement"
        );
        let alice = staff.require(|claims: &TestClaims| claims.sub == "alice");
        let (status, ..) = call(&alice, request(Some(&with), None)).await;
        assert_eq!(status, StatusCode::OK);
    }
}

#[tokio::test]
async fn any_of_and_all_of_scopes_and_roles() {
    let layer = builder()
        .roles_claim("realm_access.roles")
        .unwrap()
        .build()
        .unwrap();
    let token = format!("Bearer {}", roles_token(&["staff", "reader"]));
    let cases: Vec<(JwtAuthLayer<TestClaims>, Option<&str>)> = vec![
        (
            layer.clone().require_roles(["staff", "reader"]).unwrap(),
            None,
        ),
        (
            layer.clone().require_roles(["staff", "admin"]).unwrap(),
            Some("forbidden"),
        ),
        (
            layer.clone().require_any_role(["admin", "reader"]).unwrap(),
            None,
        ),
        (
            layer.clone().require_any_role(["admin"]).unwrap(),
            Some("forbidden"),
        ),
        (layer.clone().require_scopes(["read"]).unwrap(), None),
        (
            layer.clone().require_any_scope(["admin", "read"]).unwrap(),
            None,
        ),
        (
            layer.clone().require_any_scope(["admin", "write"]).unwrap(),
            Some("insufficient_scope"),
        ),
        // A missing scope is judged before a missing role.
        (
            layer
                .clone()
                .require_roles(["admin"])
                .unwrap()
                .require_scopes(["admin"])
                .unwrap(),
            Some("insufficient_scope"),
        ),
    ];
    for (i, (variant, expected)) in cases.into_iter().enumerate() {
        let (status, _, _, body) = call(&variant, request(Some(&token), None)).await;
        match expected {
            None => assert_eq!(status, StatusCode::OK, "{i}: {body}"),
            Some(expected) => {
                assert_eq!(status, StatusCode::FORBIDDEN, "{i}");
                assert_eq!(reason(&body), expected, "{i}");
            }
        }
    }
    assert_eq!(
        layer.clone().require_roles([""]).err(),
        Some(crate::ConfigError::InvalidRole {
            role: String::new()
        })
    );
    assert!(builder().roles_claim("a..b").is_err());
    assert!(builder().require_any_scope(["a b"]).is_err());
    assert!(builder()
        .require_for_path("nope", crate::Requirement::role("a"))
        .is_err());
}

#[tokio::test]
async fn a_forbidden_token_is_never_anonymous_and_no_token_is_missing() {
    let maybe = builder()
        .roles_claim("realm_access.roles")
        .unwrap()
        .mode(AuthMode::Optional(InvalidTokenPolicy::Anonymous))
        .require_roles(["staff"])
        .unwrap()
        .build()
        .unwrap();
    let without = format!("Bearer {}", roles_token(&["reader"]));
    let (status, _, error, _) = call(&maybe, request(Some(&without), None)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let error = error.unwrap();
    assert_eq!(error.kind(), ErrorKind::Forbidden);
    assert!(!error.kind().is_refreshable());
    let (status, _, error, _) = call(&maybe, request(None, None)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(error.unwrap().kind(), ErrorKind::Missing);
}

#[tokio::test]
async fn requirements_by_path_apply_to_that_path_only() {
    let layer = builder()
        .roles_claim("realm_access.roles")
        .unwrap()
        .mode(AuthMode::Optional(InvalidTokenPolicy::Reject))
        .require_for_path(
            "/greeter.Greeter/SayGoodbye",
            crate::Requirement::role("staff"),
        )
        .unwrap()
        .pass_cors_preflight(true)
        .build()
        .unwrap();
    let grpc = |path: &str, token: Option<&str>| {
        let mut builder = Request::builder()
            .uri(path)
            .header(CONTENT_TYPE, "application/grpc");
        if let Some(token) = token {
            builder = builder.header(AUTHORIZATION, format!("Bearer {token}"));
        }
        builder.body(Full::<Bytes>::default()).unwrap()
    };
    let svc = || ServiceBuilder::new().layer(layer.clone()).service_fn(echo);
    let reader = roles_token(&["reader"]);
    let staff = roles_token(&["staff"]);
    let status_of = |response: &http::Response<_>| {
        response
            .headers()
            .get("grpc-status")
            .map(|v| v.to_str().unwrap().to_owned())
    };
    for (path, token, expected) in [
        ("/greeter.Greeter/SayHello", Some(&reader), None),
        ("/greeter.Greeter/SayHello", None, None),
        ("/greeter.Greeter/SayGoodbye", Some(&staff), None),
        ("/greeter.Greeter/SayGoodbye?x=1", Some(&staff), None),
        ("/greeter.Greeter/SayGoodbye", Some(&reader), Some("7")),
        ("/greeter.Greeter/SayGoodbye?x=1", Some(&reader), Some("7")),
        // Optional mode, but the path requires a role: a token is needed.
        ("/greeter.Greeter/SayGoodbye", None, Some("16")),
    ] {
        let response = svc()
            .oneshot(grpc(path, token.map(String::as_str)))
            .await
            .unwrap();
        assert_eq!(status_of(&response).as_deref(), expected, "{path}");
        if expected == Some("7") {
            assert!(response.headers()["grpc-message"]
                .to_str()
                .unwrap()
                .starts_with("forbidden"));
        }
    }
    // A requirement anywhere keeps every preflight out.
    let preflight = Request::builder()
        .method("OPTIONS")
        .uri("/other")
        .header("origin", "https://app.example")
        .header("access-control-request-method", "POST")
        .body(Full::default())
        .unwrap();
    let required = layer.clone().mode(AuthMode::Required);
    let (_, _, error, _) = call(&required, preflight).await;
    assert_eq!(error.map(|e| e.kind()), Some(ErrorKind::Missing));
    // The layer still clones and prints.
    let printed = format!("{:?}", layer.clone().require(|_: &TestClaims| true));
    assert!(printed.contains("<fn>"), "{printed}");
    assert!(printed.contains("SayGoodbye"), "{printed}");
}

#[tokio::test]
async fn roles_reach_the_handler() {
    let layer = builder()
        .roles_claim("realm_access.roles")
        .unwrap()
        .roles_claim("groups")
        .unwrap()
        .build()
        .unwrap();
    let token = mint(serde_json::json!({
        "sub": "alice",
        "exp": now() + 300,
        "groups": "a b",
        "realm_access": { "roles": ["staff", "a"] },
    }));
    let req = request(Some(&format!("Bearer {token}")), None);
    let svc =
        ServiceBuilder::new()
            .layer(layer)
            .service_fn(|req: Request<Full<Bytes>>| async move {
                let roles = req.extensions().get::<crate::Roles>().unwrap();
                let body = roles.iter().collect::<Vec<_>>().join(",");
                Ok::<_, std::convert::Infallible>(http::Response::new(Full::new(Bytes::from(body))))
            });
    let response = svc.oneshot(req).await.unwrap();
    // Union of both claims, each role once, in token order.
    assert_eq!(body_string(response.into_body()).await, "a,b,staff");
}
