//! Authorization on claims, against tokens shaped as each identity provider issues them: the
//! claims below follow the providers' documented access tokens (Keycloak, Auth0, Microsoft
//! Entra ID, Amazon Cognito, Okta), signed here with HS256 in place of the providers' keys. Each
//! layer is configured with the one line `src/docs/identity_providers.md` gives for that
//! provider, and driven with `tower::ServiceExt::oneshot`.

use std::convert::Infallible;
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use serde_json::{json, Value};
use tower::{ServiceBuilder, ServiceExt};
use tower_jwt_auth::{
    Algorithm, AuthError, AuthMode, ClaimPath, ErrorKind, InvalidTokenPolicy, JwtAuthBuilder,
    JwtAuthLayer, Key, Requirement, Roles, Scopes,
};

const SECRET: &[u8] = b"authorization tests: an HS256 secret";

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn sign(claims: &Value) -> String {
    let _ = tower_jwt_auth::crypto::RING_PROVIDER.install_default();
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(Algorithm::HS256),
        claims,
        &jsonwebtoken::EncodingKey::from_secret(SECRET).unwrap(),
    )
    .unwrap()
}

/// The claims every test reads: the subject only. The roles come from the layer, not from this
/// type.
#[derive(Clone, Debug, serde::Deserialize)]
struct Subject {
    sub: String,
}

fn builder() -> JwtAuthBuilder<Subject> {
    JwtAuthLayer::<Subject>::builder().key(Key::hmac(Algorithm::HS256, SECRET).unwrap())
}

/// Answers `<sub> roles=<roles> scopes=<scopes>`.
async fn echo(req: Request<Full<Bytes>>) -> Result<Response<Full<Bytes>>, Infallible> {
    let extensions = req.extensions();
    let body = match (
        extensions.get::<Subject>(),
        Roles::from_extensions(extensions),
        extensions.get::<Scopes>(),
    ) {
        (Some(subject), Some(roles), Some(scopes)) => format!(
            "{} roles={} scopes={scopes}",
            subject.sub,
            roles.iter().collect::<Vec<_>>().join(",")
        ),
        (None, None, None) => "anonymous".to_owned(),
        _ => "inconsistent".to_owned(),
    };
    Ok(Response::new(Full::new(Bytes::from(body))))
}

struct Answer {
    status: StatusCode,
    error: Option<AuthError>,
    body: String,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap()
    }
}

async fn call(layer: &JwtAuthLayer<Subject>, path: &str, token: Option<&str>) -> Answer {
    let mut request = Request::builder().uri(path);
    if let Some(token) = token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    let request = request.body(Full::<Bytes>::default()).unwrap();
    let service = ServiceBuilder::new().layer(layer.clone()).service_fn(echo);
    let response = service.oneshot(request).await.unwrap();
    let status = response.status();
    let error = response.extensions().get::<AuthError>().cloned();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    Answer {
        status,
        error,
        body: String::from_utf8(body.to_vec()).unwrap(),
    }
}

/// Asserts a `forbidden` refusal as the default rejection sends it.
#[track_caller]
fn assert_forbidden(answer: &Answer) {
    assert_eq!(answer.status, StatusCode::FORBIDDEN, "{}", answer.body);
    assert_eq!(answer.error.as_ref().unwrap().kind(), ErrorKind::Forbidden);
    let body = answer.json();
    assert_eq!(body["reason"], "forbidden");
    assert_eq!(body["error"], "insufficient_scope");
}

// -----------------------------------------------------------------------------------------------
// Keycloak: realm roles in `realm_access.roles`, client roles in `resource_access.CLIENT.roles`.

const KEYCLOAK_ISSUER: &str = "https://sso.example.com/realms/main";

fn keycloak_token(realm_roles: &[&str], client_roles: &[&str]) -> String {
    let now = now();
    let defaults = ["default-roles-main", "offline_access", "uma_authorization"];
    let realm: Vec<&str> = defaults.iter().chain(realm_roles).copied().collect();
    sign(&json!({
        "exp": now + 300,
        "iat": now,
        "auth_time": now - 10,
        "jti": "onrtac:4d3c0f1e-58b1-4b6c-9c6e-2f6d0c3b7a11",
        "iss": KEYCLOAK_ISSUER,
        "aud": ["orders-api", "account"],
        "sub": "f1b2c3d4-0000-4000-8000-00000000a11c",
        "typ": "Bearer",
        "azp": "web-frontend",
        "sid": "6a8c7e5f-1b2d-4c3e-9f0a-123456789abc",
        "acr": "1",
        "allowed-origins": ["https://app.example.com"],
        "realm_access": {
            "roles": realm
        },
        "resource_access": {
            "orders-api": { "roles": client_roles },
            "account": { "roles": ["manage-account", "manage-account-links", "view-profile"] }
        },
        "scope": "openid email profile",
        "email_verified": true,
        "name": "Alice Example",
        "preferred_username": "alice",
        "given_name": "Alice",
        "family_name": "Example",
        "email": "alice@example.com"
    }))
}

#[tokio::test]
async fn keycloak_realm_and_client_roles() {
    let auth = builder()
        .issuer(KEYCLOAK_ISSUER)
        .unwrap()
        .audience("orders-api")
        .unwrap()
        .roles_claim("realm_access.roles")
        .unwrap()
        .build()
        .unwrap();
    let staff = keycloak_token(&["staff"], &["reader"]);
    let answer = call(&auth, "/", Some(&staff)).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    assert_eq!(
        answer.body,
        "f1b2c3d4-0000-4000-8000-00000000a11c \
         roles=default-roles-main,offline_access,uma_authorization,staff \
         scopes=openid email profile"
    );
    let staff_only = auth.clone().require_roles(["staff"]).unwrap();
    assert_eq!(
        call(&staff_only, "/", Some(&staff)).await.status,
        StatusCode::OK
    );
    let user = keycloak_token(&[], &["reader"]);
    assert_forbidden(&call(&staff_only, "/", Some(&user)).await);
    // Another client's roles and the client roles are not realm roles.
    let account_role = auth.clone().require_roles(["view-profile"]).unwrap();
    assert_forbidden(&call(&account_role, "/", Some(&staff)).await);

    // The roles of one client, beside the realm's: the union.
    let both = builder()
        .issuer(KEYCLOAK_ISSUER)
        .unwrap()
        .audience("orders-api")
        .unwrap()
        .roles_claim("realm_access.roles")
        .unwrap()
        .roles_claim("resource_access.orders-api.roles")
        .unwrap()
        .require_roles(["staff", "reader"])
        .unwrap()
        .build()
        .unwrap();
    assert_eq!(call(&both, "/", Some(&staff)).await.status, StatusCode::OK);
    assert_forbidden(&call(&both, "/", Some(&keycloak_token(&["staff"], &[]))).await);
    let client_only = builder()
        .issuer(KEYCLOAK_ISSUER)
        .unwrap()
        .audience("orders-api")
        .unwrap()
        .roles_claim("resource_access.orders-api.roles")
        .unwrap()
        .build()
        .unwrap();
    let answer = call(&client_only, "/", Some(&staff)).await;
    assert!(answer.body.contains(" roles=reader "), "{}", answer.body);
}

// -----------------------------------------------------------------------------------------------
// Auth0: RBAC permissions in `permissions`; roles from an Action in a namespaced claim.

const AUTH0_ISSUER: &str = "https://example-tenant.auth0.com/";
const AUTH0_API: &str = "https://orders.example.com";

fn auth0_token(permissions: Option<&[&str]>, roles: Option<&[&str]>) -> String {
    let now = now();
    let mut claims = json!({
        "iss": AUTH0_ISSUER,
        "sub": "auth0|64f0c0ffee0123456789abcd",
        "aud": [AUTH0_API, "https://example-tenant.auth0.com/userinfo"],
        "iat": now,
        "exp": now + 86_000,
        "azp": "AbCdEfGhIjKlMnOpQrStUvWxYz012345",
        "scope": "openid profile email read:orders"
    });
    if let Some(permissions) = permissions {
        claims["permissions"] = json!(permissions);
    }
    if let Some(roles) = roles {
        claims["https://example.com/roles"] = json!(roles);
    }
    sign(&claims)
}

#[tokio::test]
async fn auth0_permissions_and_namespaced_roles() {
    let auth = builder()
        .issuer(AUTH0_ISSUER)
        .unwrap()
        .audience(AUTH0_API)
        .unwrap()
        .roles_claim("permissions")
        .unwrap()
        .build()
        .unwrap();
    let token = auth0_token(Some(&["read:orders", "write:orders"]), Some(&["admin"]));
    let answer = call(&auth, "/", Some(&token)).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    assert!(
        answer.body.contains(" roles=read:orders,write:orders "),
        "{}",
        answer.body
    );
    let writers = auth
        .clone()
        .require_any_role(["write:orders", "admin:orders"])
        .unwrap();
    assert_eq!(
        call(&writers, "/", Some(&token)).await.status,
        StatusCode::OK
    );
    let reader = auth0_token(Some(&["read:orders"]), None);
    assert_forbidden(&call(&writers, "/", Some(&reader)).await);
    // RBAC off: no `permissions` claim, nothing granted.
    let no_rbac = auth0_token(None, None);
    let answer = call(&auth, "/", Some(&no_rbac)).await;
    assert!(answer.body.contains(" roles= "), "{}", answer.body);
    assert_forbidden(&call(&writers, "/", Some(&no_rbac)).await);

    // The namespaced claim, whose name has dots and slashes: one segment.
    let namespaced = builder()
        .issuer(AUTH0_ISSUER)
        .unwrap()
        .audience(AUTH0_API)
        .unwrap()
        .roles_claim(ClaimPath::from_segments(["https://example.com/roles"]))
        .unwrap()
        .require_roles(["admin"])
        .unwrap()
        .build()
        .unwrap();
    assert_eq!(
        call(&namespaced, "/", Some(&token)).await.status,
        StatusCode::OK
    );
    assert_forbidden(&call(&namespaced, "/", Some(&reader)).await);
    // Split at the dots, the same name is a path that no token has.
    let split = builder()
        .issuer(AUTH0_ISSUER)
        .unwrap()
        .audience(AUTH0_API)
        .unwrap()
        .roles_claim("https://example.com/roles")
        .unwrap()
        .require_roles(["admin"])
        .unwrap()
        .build()
        .unwrap();
    assert_forbidden(&call(&split, "/", Some(&token)).await);
}

// -----------------------------------------------------------------------------------------------
// Microsoft Entra ID (v2.0 access tokens): app roles in `roles`, delegated permissions in `scp`.

const ENTRA_TENANT: &str = "11111111-1111-1111-1111-111111111111";
const ENTRA_API: &str = "00000000-0000-0000-0000-00000000a0a0";

fn entra_token(roles: Option<&[&str]>, scp: Option<&str>) -> String {
    let now = now();
    let mut claims = json!({
        "aud": ENTRA_API,
        "iss": format!("https://login.microsoftonline.com/{ENTRA_TENANT}/v2.0"),
        "iat": now,
        "nbf": now,
        "exp": now + 3_900,
        "aio": "E2ZgYJh8+n3aXz6W8pV5oD4AAA==",
        "azp": "33333333-3333-3333-3333-333333333333",
        "azpacr": "1",
        "oid": "44444444-4444-4444-4444-444444444444",
        "rh": "0.AXwA1.AAAA.",
        "sub": "44444444-4444-4444-4444-444444444444",
        "tid": ENTRA_TENANT,
        "uti": "Zm9vYmFyYmF6cXV4",
        "ver": "2.0"
    });
    if let Some(roles) = roles {
        claims["roles"] = json!(roles);
    }
    if let Some(scp) = scp {
        claims["scp"] = json!(scp);
        claims["name"] = json!("Alice Example");
        claims["preferred_username"] = json!("alice@contoso.example");
    }
    sign(&claims)
}

#[tokio::test]
async fn entra_id_app_roles_and_delegated_scopes() {
    let auth = builder()
        .issuer(format!(
            "https://login.microsoftonline.com/{ENTRA_TENANT}/v2.0"
        ))
        .unwrap()
        .audience(ENTRA_API)
        .unwrap()
        .roles_claim("roles")
        .unwrap()
        .build()
        .unwrap();
    // An application's token: app roles, no `scp`.
    let daemon = entra_token(Some(&["Orders.Read.All", "Orders.Write.All"]), None);
    let answer = call(&auth, "/", Some(&daemon)).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    assert!(
        answer
            .body
            .ends_with(" roles=Orders.Read.All,Orders.Write.All scopes="),
        "{}",
        answer.body
    );
    // A user's token: delegated permissions, read as scopes, and no role.
    let user = entra_token(None, Some("Orders.Read access_as_user"));
    let answer = call(&auth, "/", Some(&user)).await;
    assert!(
        answer
            .body
            .ends_with(" roles= scopes=Orders.Read access_as_user"),
        "{}",
        answer.body
    );
    let writers = auth.clone().require_roles(["Orders.Write.All"]).unwrap();
    assert_eq!(
        call(&writers, "/", Some(&daemon)).await.status,
        StatusCode::OK
    );
    assert_forbidden(&call(&writers, "/", Some(&user)).await);
    // A delegated permission is a scope: required as one, refused as `insufficient_scope`.
    let delegated = auth.clone().require_scopes(["Orders.Read"]).unwrap();
    assert_eq!(
        call(&delegated, "/", Some(&user)).await.status,
        StatusCode::OK
    );
    let answer = call(&delegated, "/", Some(&daemon)).await;
    assert_eq!(answer.status, StatusCode::FORBIDDEN);
    assert_eq!(answer.json()["reason"], "insufficient_scope");
    // Either: an application with the role, or a user with the scope.
    let either = auth
        .clone()
        .require_any_scope(["Orders.Read", "Orders.Read.All"])
        .unwrap();
    assert_eq!(call(&either, "/", Some(&user)).await.status, StatusCode::OK);
}

// -----------------------------------------------------------------------------------------------
// Amazon Cognito: groups in `cognito:groups`; `client_id` checked with a predicate.

const COGNITO_ISSUER: &str = "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_EXAMPLE";

#[derive(Clone, Debug, serde::Deserialize)]
struct CognitoClaims {
    sub: String,
    client_id: String,
    token_use: String,
}

fn cognito_token(groups: Option<&[&str]>, client_id: &str) -> String {
    let now = now();
    let mut claims = json!({
        "sub": "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee",
        "iss": COGNITO_ISSUER,
        "version": 2,
        "client_id": client_id,
        "origin_jti": "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee",
        "event_id": "bbbbbbbb-cccc-dddd-eeee-ffffffffffff",
        "token_use": "access",
        "scope": "aws.cognito.signin.user.admin phone openid profile email",
        "auth_time": now - 5,
        "exp": now + 3_600,
        "iat": now,
        "jti": "cccccccc-dddd-eeee-ffff-000000000000",
        "username": "alice"
    });
    if let Some(groups) = groups {
        claims["cognito:groups"] = json!(groups);
    }
    sign(&claims)
}

#[tokio::test]
async fn cognito_groups_and_a_client_id_predicate() {
    let auth = JwtAuthLayer::<CognitoClaims>::builder()
        .key(Key::hmac(Algorithm::HS256, SECRET).unwrap())
        .issuer(COGNITO_ISSUER)
        .unwrap()
        .require_claims(["client_id", "token_use"])
        .unwrap()
        .require(|claims: &CognitoClaims| {
            claims.client_id == "1example23456789" && claims.token_use == "access"
        })
        .roles_claim("cognito:groups")
        .unwrap()
        .build()
        .unwrap();
    let call = |layer: JwtAuthLayer<CognitoClaims>, token: String| async move {
        let request = Request::builder()
            .header("authorization", format!("Bearer {token}"))
            .body(Full::<Bytes>::default())
            .unwrap();
        let service =
            ServiceBuilder::new()
                .layer(layer)
                .service_fn(|req: Request<Full<Bytes>>| async move {
                    let roles = Roles::from_extensions(req.extensions()).unwrap();
                    let sub = &req.extensions().get::<CognitoClaims>().unwrap().sub;
                    let body = format!("{sub} {}", roles.iter().collect::<Vec<_>>().join(","));
                    Ok::<_, Infallible>(Response::new(Full::new(Bytes::from(body))))
                });
        let response = service.oneshot(request).await.unwrap();
        let status = response.status();
        let error = response
            .extensions()
            .get::<AuthError>()
            .map(AuthError::kind);
        let body = response.into_body().collect().await.unwrap().to_bytes();
        (status, error, String::from_utf8(body.to_vec()).unwrap())
    };
    let admin = cognito_token(Some(&["admin", "staff"]), "1example23456789");
    let (status, _, body) = call(auth.clone(), admin.clone()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body, "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee admin,staff");
    let admins = auth.clone().require_roles(["admin"]).unwrap();
    assert_eq!(call(admins.clone(), admin).await.0, StatusCode::OK);
    // A user in no group has no `cognito:groups` claim at all.
    let (status, error, _) = call(admins.clone(), cognito_token(None, "1example23456789")).await;
    assert_eq!(
        (status, error),
        (StatusCode::FORBIDDEN, Some(ErrorKind::Forbidden))
    );
    // Another app client: the predicate refuses it, groups or not.
    let (status, error, _) = call(
        auth.clone(),
        cognito_token(Some(&["admin"]), "another-client"),
    )
    .await;
    assert_eq!(
        (status, error),
        (StatusCode::FORBIDDEN, Some(ErrorKind::Forbidden))
    );
}

// -----------------------------------------------------------------------------------------------
// Okta (custom authorization server): groups in `groups` once a Groups claim is configured;
// group names may have spaces.

const OKTA_ISSUER: &str = "https://example.okta.com/oauth2/default";

fn okta_token(groups: Value) -> String {
    let now = now();
    sign(&json!({
        "ver": 1,
        "jti": "AT.d8Jm0T9cW1l5yXkZ7pQ3nR2sV4uA6bC8eF0gH2iJ4kL",
        "iss": OKTA_ISSUER,
        "aud": "api://default",
        "iat": now,
        "exp": now + 3_600,
        "cid": "0oa1b2c3d4e5f6g7h8i9",
        "uid": "00u1a2b3c4d5e6f7g8h9",
        "scp": ["openid", "email", "orders.read"],
        "auth_time": now - 30,
        "sub": "alice@example.com",
        "groups": groups
    }))
}

#[tokio::test]
async fn okta_groups_keep_their_spaces() {
    let auth = builder()
        .issuer(OKTA_ISSUER)
        .unwrap()
        .audience("api://default")
        .unwrap()
        .roles_claim("groups")
        .unwrap()
        .build()
        .unwrap();
    let token = okta_token(json!(["Everyone", "Domain Users", "Staff"]));
    let answer = call(&auth, "/", Some(&token)).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    assert_eq!(
        answer.body,
        "alice@example.com roles=Everyone,Domain Users,Staff scopes=openid email orders.read"
    );
    let domain_users = auth.clone().require_roles(["Domain Users"]).unwrap();
    assert_eq!(
        call(&domain_users, "/", Some(&token)).await.status,
        StatusCode::OK
    );
    // "Domain" alone is not a group of this token.
    let domain = auth.clone().require_roles(["Domain"]).unwrap();
    assert_forbidden(&call(&domain, "/", Some(&token)).await);
    // A groups claim of another type (a filter misconfigured into a string of JSON, say, or an
    // object) grants nothing and leaves the token valid.
    for groups in [
        json!(5),
        json!({ "Staff": true }),
        json!([["Staff"]]),
        json!(null),
    ] {
        let token = okta_token(groups);
        let answer = call(&auth, "/", Some(&token)).await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
        assert!(answer.body.contains(" roles= "), "{}", answer.body);
    }
}

// -----------------------------------------------------------------------------------------------
// Across providers: per-path requirements, cache hits, the optional mode.

#[tokio::test]
async fn requirements_hold_on_cache_hits_per_path_and_in_optional_mode() {
    let auth = builder()
        .issuer(KEYCLOAK_ISSUER)
        .unwrap()
        .audience("orders-api")
        .unwrap()
        .roles_claim("realm_access.roles")
        .unwrap()
        .token_cache(64, 1 << 20)
        .unwrap()
        .mode(AuthMode::Optional(InvalidTokenPolicy::Anonymous))
        .require_for_path("/orders.Orders/Delete", Requirement::role("staff"))
        .unwrap()
        .require_for_path(
            "/orders.Orders/Delete",
            Requirement::predicate(|subject: &Subject| !subject.sub.is_empty()),
        )
        .unwrap()
        .build()
        .unwrap();
    let staff = keycloak_token(&["staff"], &[]);
    let user = keycloak_token(&[], &[]);
    for _ in 0..3 {
        assert_eq!(
            call(&auth, "/orders.Orders/Delete", Some(&staff))
                .await
                .status,
            StatusCode::OK
        );
        // Refused, from the cache too, and never treated as anonymous.
        assert_forbidden(&call(&auth, "/orders.Orders/Delete", Some(&user)).await);
        assert_eq!(
            call(&auth, "/orders.Orders/List", Some(&user)).await.status,
            StatusCode::OK
        );
    }
    // No token: anonymous where nothing is required, `missing` where something is.
    assert_eq!(
        call(&auth, "/orders.Orders/List", None).await.body,
        "anonymous"
    );
    let answer = call(&auth, "/orders.Orders/Delete", None).await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    assert_eq!(answer.json()["reason"], "missing");
}
