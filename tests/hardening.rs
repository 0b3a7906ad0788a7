//! Catalog cases of issue #19 that need a test of their own: the `jti` bound (E13), an oversized
//! token refused before any verification work (F9), revocation of a malleated ECDSA token (H3),
//! and gRPC content types in any case, `grpc-web-text` and gRPC over HTTP/1.1 (K7). Each drives
//! the layer with `oneshot` through the suites' recording harness.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::LazyLock;
use std::time::Duration;

use common::*;
use http::{Request, Version};
use jsonwebtoken::crypto::{CryptoProvider, JwtVerifier};
use jsonwebtoken::{Algorithm, DecodingKey, Header};
use serde_json::{json, Value};
use tower_jwt_auth::revocation::RevocationStore;
use tower_jwt_auth::session::MemoryStore;
use tower_jwt_auth::{JwtAuthLayer, Key};

fn builder() -> tower_jwt_auth::JwtAuthBuilder<Claims> {
    init();
    JwtAuthLayer::<Claims>::builder().key(Key::hmac(Algorithm::HS256, SECRET).unwrap())
}

// ---------------------------------------------------------------------------------------------
// E13: `jti`

fn with_jti(jti: Value) -> String {
    hs256(&with(good_claims(), json!({ "jti": jti, "sid": "s-1" })))
}

#[tokio::test]
async fn e13_a_jti_over_256_characters_is_invalid_claims_with_or_without_revocation() {
    let plain = Harness::new(builder().build().unwrap());
    let revoking = Harness::new(builder().revocation(MemoryStore::new()).build().unwrap());
    for h in [&plain, &revoking] {
        h.accepts("256 ascii", with_jti(json!("j".repeat(256))))
            .await;
        // Characters, not bytes: 256 two-byte characters pass.
        h.accepts("256 two-byte", with_jti(json!("é".repeat(256))))
            .await;
        h.refuses(
            "257 ascii",
            with_jti(json!("j".repeat(257))),
            403,
            "invalid_claims",
        )
        .await;
        h.refuses(
            "257 two-byte",
            with_jti(json!("é".repeat(257))),
            403,
            "invalid_claims",
        )
        .await;
        h.refuses(
            "2000 characters",
            with_jti(json!("j".repeat(2000))),
            403,
            "invalid_claims",
        )
        .await;
        h.still_serves(&with_jti(json!("ok"))).await;
    }
}

#[tokio::test]
async fn e13_a_numeric_jti_is_malformed_with_or_without_revocation() {
    let plain = Harness::new(builder().build().unwrap());
    let revoking = Harness::new(builder().revocation(MemoryStore::new()).build().unwrap());
    for h in [&plain, &revoking] {
        for jti in [
            json!(42),
            json!(4.2),
            json!(true),
            json!(["a"]),
            json!({"a": 1}),
        ] {
            h.refuses(&format!("jti {jti}"), with_jti(jti), 403, "malformed")
                .await;
        }
    }
}

// ---------------------------------------------------------------------------------------------
// F9: no work for an oversized token

/// How many verifications the counting provider was asked for.
static VERIFICATIONS: AtomicUsize = AtomicUsize::new(0);

fn counting_verifier(
    algorithm: &Algorithm,
    key: &DecodingKey,
) -> jsonwebtoken::errors::Result<Box<dyn JwtVerifier>> {
    VERIFICATIONS.fetch_add(1, Ordering::SeqCst);
    (tower_jwt_auth::crypto::RING_PROVIDER.verifier_factory)(algorithm, key)
}

/// ring, with every verifier counted: a layer asks a provider other than its own ones for a
/// verifier on each verification.
static COUNTING: LazyLock<CryptoProvider> = LazyLock::new(|| CryptoProvider {
    signer_factory: tower_jwt_auth::crypto::RING_PROVIDER.signer_factory,
    verifier_factory: counting_verifier,
    key_utils: tower_jwt_auth::crypto::RING_PROVIDER.key_utils.clone(),
});

#[tokio::test]
async fn f9_an_oversized_token_is_refused_before_any_verification_work() {
    let layer = builder()
        .crypto_provider(&COUNTING)
        .max_token_len(1024)
        .unwrap()
        .build()
        .unwrap();
    let h = Harness::new(layer);
    // The counter counts: a token within the bound is verified once.
    let before = VERIFICATIONS.load(Ordering::SeqCst);
    h.accepts("within the bound", good_token()).await;
    assert_eq!(VERIFICATIONS.load(Ordering::SeqCst), before + 1);

    // Over the bound: a genuine signature, a header that does not decode, and 64 KiB of junk.
    let padded = hs256(&with(good_claims(), json!({ "pad": "x".repeat(2000) })));
    let junk_header = format!("!!!!{}", "A".repeat(2000));
    let cases = [
        ("genuine, too long", padded),
        ("undecodable header", format!("{junk_header}.e30.sig")),
        ("64 KiB", "A".repeat(64 * 1024)),
    ];
    let before = VERIFICATIONS.load(Ordering::SeqCst);
    let mut descriptions = Vec::new();
    for (label, token) in &cases {
        let reply = h.bearer(token).await;
        reply.assert_refused(label, 403, "malformed");
        descriptions.push(reply.error.unwrap().description().to_owned());
    }
    assert_eq!(
        VERIFICATIONS.load(Ordering::SeqCst),
        before,
        "no verifier was asked for"
    );
    // One refusal, the length check's, whatever the bytes: nothing was decoded to tell them
    // apart.
    assert!(
        descriptions.windows(2).all(|w| w[0] == w[1]),
        "{descriptions:?}"
    );
    h.still_serves(&good_token()).await;
}

// ---------------------------------------------------------------------------------------------
// H3: a malleated token after logout

/// The order of the P-256 group, big-endian.
const P256_N: [u8; 32] = [
    0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xbc, 0xe6, 0xfa, 0xad, 0xa7, 0x17, 0x9e, 0x84, 0xf3, 0xb9, 0xca, 0xc2, 0xfc, 0x63, 0x25, 0x51,
];

/// `a - b` for big-endian numbers of 32 bytes, `a >= b`.
fn sub_be(a: &[u8; 32], b: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    let mut borrow = 0i16;
    for i in (0..32).rev() {
        let mut d = i16::from(a[i]) - i16::from(b[i]) - borrow;
        borrow = i16::from(d < 0);
        if d < 0 {
            d += 256;
        }
        out[i] = d as u8;
    }
    out
}

#[tokio::test]
async fn h3_a_malleated_ecdsa_token_of_a_revoked_jti_is_still_revoked() {
    init();
    let store = MemoryStore::new();
    let layer = JwtAuthLayer::<Claims>::builder()
        .key(Key::ec_pem(Algorithm::ES256, key_file("ec256_public.pem")).unwrap())
        .revocation(store.clone())
        .revocation_sid_optional(true)
        .build()
        .unwrap();
    let h = Harness::new(layer);
    let claims = with(good_claims(), json!({ "jti": "to-revoke" }));
    let token = mint(
        &Header::new(Algorithm::ES256),
        &claims,
        &encoding_key(Algorithm::ES256),
    );
    let (head, payload, signature) = segments(&token);
    let raw = unb64(&signature);
    let s_prime = sub_be(&P256_N, &raw[32..]);
    let malleated = format!(
        "{head}.{payload}.{}",
        b64([&raw[..32], &s_prime[..]].concat())
    );
    assert_ne!(malleated, token);
    // Before the logout both verify: (r, n - s) is a valid signature of the same token.
    h.accepts("original", &token).await;
    h.accepts("(r, n - s)", &malleated).await;
    store
        .revoke_token("", "to-revoke", Duration::from_secs(600))
        .await
        .unwrap();
    // After it, both are refused as revoked: revocation keys on the `jti`, not the string.
    h.refuses("original after revocation", &token, 401, "revoked")
        .await;
    h.refuses("(r, n - s) after revocation", &malleated, 401, "revoked")
        .await;
}

// ---------------------------------------------------------------------------------------------
// K7: gRPC content types

fn grpc_request(content_type: &str, version: Version, token: Option<&str>) -> Request<Body> {
    let mut request = Request::builder()
        .method("POST")
        .uri("/pkg.Service/Method")
        .version(version)
        .header("content-type", content_type)
        .header("te", "trailers");
    if let Some(token) = token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    request.body(Body::default()).unwrap()
}

#[tokio::test]
async fn k7_every_grpc_content_type_in_any_case_and_over_http1_gets_the_grpc_answer() {
    let h = Harness::new(builder().build().unwrap());
    let mut forged = good_token();
    forged.push('A');
    for content_type in [
        "application/grpc",
        "application/grpc+proto",
        "application/grpc-web",
        "application/grpc-web+proto",
        "application/grpc-web-text",
        "application/grpc-web-text+proto",
        "APPLICATION/GRPC-WEB-TEXT",
        "Application/Grpc",
    ] {
        for version in [Version::HTTP_11, Version::HTTP_2, Version::HTTP_10] {
            for (token, code) in [(None, "16"), (Some(forged.as_str()), "16")] {
                let label = format!("{content_type} {version:?} token {}", token.is_some());
                let reply = h.send(grpc_request(content_type, version, token)).await;
                assert!(!reply.called, "{label}: the handler ran");
                assert_eq!(reply.status.as_u16(), 200, "{label}: trailers-only answer");
                assert_eq!(
                    reply.headers.get("grpc-status").map(|v| v.as_bytes()),
                    Some(code.as_bytes()),
                    "{label}"
                );
                assert_eq!(
                    reply.headers.get("content-type").map(|v| v.as_bytes()),
                    Some(content_type.as_bytes()),
                    "{label}"
                );
                assert!(reply.body.is_empty(), "{label}");
            }
            // A valid token passes, as for any request.
            let reply = h
                .send(grpc_request(content_type, version, Some(&good_token())))
                .await;
            assert!(reply.called, "{content_type} {version:?}: a valid token");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// D2: duplicate names nested in claims

/// The layer the review's inputs went through: roles from Keycloak's realm and client roles,
/// `staff` required, claims read as a `serde_json::Value`.
fn staff_only() -> Harness {
    init();
    let layer = JwtAuthLayer::<Value>::builder()
        .key(Key::hmac(Algorithm::HS256, SECRET).unwrap())
        .roles_claim("realm_access.roles")
        .unwrap()
        .roles_claim("resource_access.my-api.roles")
        .unwrap()
        .require_roles(["staff"])
        .unwrap()
        .build()
        .unwrap();
    Harness::new(layer)
}

fn claims_with(extra: &str) -> String {
    let now = now();
    hs256_raw(
        r#"{"alg":"HS256","typ":"JWT"}"#,
        format!(
            r#"{{"sub":"user-1","iat":{now},"exp":{},{extra}}}"#,
            now + 600
        ),
    )
}

#[tokio::test]
async fn d2_nested_duplicate_names_are_malformed_under_role_paths() {
    let h = staff_only();
    // The review's two inputs: each granted `staff` before.
    for extra in [
        r#""realm_access":{"roles":["staff"],"roles":[]}"#,
        r#""resource_access":{"my-api":{"roles":["staff"]},"my-api":{}}"#,
    ] {
        let reply = h.bearer(claims_with(extra)).await;
        reply.assert_refused(extra, 403, "malformed");
        assert_eq!(
            reply.error.unwrap().description(),
            "The token's claims repeat a name in a nested object",
            "{extra}"
        );
    }
    // Without the duplicate, the same roles pass.
    h.accepts(
        "realm roles",
        claims_with(r#""realm_access":{"roles":["staff"]}"#),
    )
    .await;
    h.accepts(
        "client roles",
        claims_with(r#""resource_access":{"my-api":{"roles":["staff"]}}"#),
    )
    .await;
}

#[tokio::test]
async fn d2_nested_duplicate_names_are_malformed_at_every_depth() {
    let h = Harness::new(builder().build().unwrap());
    for extra in [
        r#""a":{"b":1,"b":2}"#,
        r#""a":{"b":{"c":{"d":{"e":1,"e":1}}}}"#,
        r#""a":[{"b":1},{"c":1,"c":2}]"#,
        r#""a":[[[{"x":true,"x":false}]]]"#,
        // The same name, once escaped.
        r#""a":{"b":1,"\u0062":2}"#,
    ] {
        h.refuses(extra, claims_with(extra), 403, "malformed").await;
    }
    // Equal names in different objects are not duplicates.
    h.accepts(
        "siblings",
        claims_with(r#""a":{"b":1},"c":{"b":1},"d":[{"b":1},{"b":2}]"#),
    )
    .await;
    // A string that looks like an object is a string.
    h.accepts(
        "braces in a string",
        claims_with(r#""s":"{\"b\":1,\"b\":2}""#),
    )
    .await;
}
