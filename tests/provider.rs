//! Building a layer has no process-wide side effect: jsonwebtoken's default `CryptoProvider`
//! stays as the application left it. A test binary of its own, with one test, so that no other
//! test installs a provider in this process first.

use jsonwebtoken::crypto::CryptoProvider;
use tower_jwt_auth::crypto::RING_PROVIDER;
use tower_jwt_auth::{Algorithm, JwtAuthLayer, Key};

#[derive(Clone, serde::Deserialize)]
struct Claims {
    sub: String,
}

const SECRET: &[u8] = b"the provider test's HS256 secret";

fn layer() -> JwtAuthLayer<Claims> {
    JwtAuthLayer::<Claims>::builder()
        .key(Key::hmac(Algorithm::HS256, SECRET).unwrap())
        .token_cache(16, 1 << 16)
        .unwrap()
        .build()
        .unwrap()
}

#[test]
fn building_and_using_a_layer_leaves_the_process_default_provider_alone() {
    assert!(
        CryptoProvider::try_get_default().is_none(),
        "nothing installs a provider in this process before the test"
    );
    // Build, make variants, and verify: still nothing installed.
    let auth = layer();
    let _admin = auth.clone().require_scopes(["admin"]).unwrap();
    let verifier = auth.verifier();
    assert!(verifier.verify("a.b.c").is_err());
    assert!(CryptoProvider::try_get_default().is_none());

    // The application installs its own provider after building a layer: that works (the
    // rustls-style trap is gone), it is what jsonwebtoken uses from then on, and the layer,
    // which verifies through the crate's provider directly, keeps working.
    RING_PROVIDER
        .install_default()
        .expect("no provider was installed by the layer");
    let installed = CryptoProvider::try_get_default().unwrap();
    assert!(std::ptr::eq(installed, &RING_PROVIDER));
    let exp = jsonwebtoken::get_current_timestamp() + 600;
    let token = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(Algorithm::HS256),
        &serde_json::json!({ "sub": "alice", "exp": exp }),
        &jsonwebtoken::EncodingKey::from_secret(SECRET).unwrap(),
    )
    .unwrap();
    assert_eq!(verifier.verify(&token).unwrap().sub, "alice");
    // Building another layer leaves the application's provider in place.
    let _again = layer();
    assert!(std::ptr::eq(
        CryptoProvider::try_get_default().unwrap(),
        &RING_PROVIDER
    ));
}
