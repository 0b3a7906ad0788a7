//! Issuing: a token the crate mints passes the layer configured from the same settings (HS256,
//! RS256, ES256, EdDSA; typed `at+jwt` or `JWT`), the published JWK set verifies it, a retired
//! key verifies while it is published, and a token of another key is refused.

mod common;

use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};
use serde_json::json;
use tower_jwt_auth::clock::Clock;
use tower_jwt_auth::session::{AccessToken, AccessTokenMinter, Grant};
use tower_jwt_auth::{Algorithm, ErrorKind, JwtAuthLayer, Key, SigningKey, SigningKeys};

use common::{key_file, Harness, Reply};

const ISSUER: &str = "https://issuer.example";
const AUDIENCE: &str = "api";

/// The claims a handler reads: the registered ones the minter writes and two custom ones.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct SessionClaims {
    sub: String,
    sid: String,
    jti: String,
    iat: u64,
    exp: u64,
    name: String,
    groups: Vec<String>,
}

fn hmac_key() -> SigningKey {
    SigningKey::hmac(Algorithm::HS256, b"issue-suite-hmac-secret-of-32-b!").unwrap()
}

fn rsa_key() -> SigningKey {
    SigningKey::rsa_pem(Algorithm::RS256, key_file("rsa_private.pem")).unwrap()
}

fn ec_key() -> SigningKey {
    SigningKey::ec_pem(Algorithm::ES256, key_file("ec256_private.pem")).unwrap()
}

fn ed_key() -> SigningKey {
    SigningKey::ed25519_pem(key_file("ed25519_private.pem")).unwrap()
}

/// One key of each algorithm the issue names.
fn keys_of_each_algorithm() -> Vec<SigningKey> {
    vec![hmac_key(), rsa_key(), ec_key(), ed_key()]
}

fn minter(keys: impl Into<SigningKeys>, at_jwt: bool) -> AccessTokenMinter {
    AccessTokenMinter::builder(keys)
        .and_then(|b| b.issuer(ISSUER))
        .and_then(|b| b.audience(AUDIENCE))
        .and_then(|b| b.at_jwt_typ(at_jwt).build())
        .unwrap()
}

/// The layer configured from the same settings as [`minter`], trusting `keys`.
fn layer(keys: Vec<Key>, at_jwt: bool) -> Harness {
    let builder = JwtAuthLayer::<SessionClaims>::builder()
        .keys(keys)
        .issuer(ISSUER)
        .unwrap()
        .audience(AUDIENCE)
        .unwrap()
        .require_claims(["sub", "iat", "jti", "sid"]);
    let builder = if at_jwt {
        builder.unwrap().typ("at+jwt")
    } else {
        builder
    };
    Harness::new(builder.unwrap().build().unwrap())
}

fn grant() -> Grant {
    Grant::new("user-42")
        .scopes(["read", "write"])
        .claim("name", "Ada Lovelace")
        .claim("groups", json!(["staff", "admins"]))
}

/// Asserts that the handler ran and saw exactly the claims and scopes of `token`.
#[track_caller]
fn assert_sees(label: &str, reply: &Reply, token: &AccessToken) {
    assert!(
        reply.called && reply.error.is_none(),
        "{label}: refused: {:?} {}",
        reply.error,
        String::from_utf8_lossy(&reply.body)
    );
    let seen = reply.json();
    let claims: SessionClaims = serde_json::from_value(seen["claims"].clone()).unwrap();
    let issued_at = token
        .issued_at()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    assert_eq!(
        claims,
        SessionClaims {
            sub: "user-42".into(),
            sid: token.sid().into(),
            jti: token.jti().into(),
            iat: issued_at,
            exp: issued_at + 600,
            name: "Ada Lovelace".into(),
            groups: vec!["staff".into(), "admins".into()],
        },
        "{label}"
    );
    assert_eq!(seen["scopes"], "read write", "{label}");
}

/// Asserts that the layer refused without calling the handler, for `kind`.
#[track_caller]
fn assert_refused(label: &str, reply: &Reply, kind: ErrorKind) {
    assert!(!reply.called, "{label}: the handler ran");
    assert_eq!(
        reply.error.as_ref().map(|e| e.kind()),
        Some(kind),
        "{label}: {}",
        String::from_utf8_lossy(&reply.body)
    );
}

#[tokio::test]
async fn issued_tokens_pass_the_layer_configured_from_the_same_settings() {
    for at_jwt in [true, false] {
        for signing in keys_of_each_algorithm() {
            let label = format!("{:?}, at+jwt {at_jwt}", signing.algorithm());
            let minter = minter(signing.clone(), at_jwt);
            let harness = layer(vec![signing.verification_key()], at_jwt);
            let token = minter.mint(&grant()).unwrap();
            assert_sees(&label, &harness.bearer(token.as_str()).await, &token);

            // With a kid, the layer picks the key by it.
            let named = signing.with_kid("key-1");
            let token = self::minter(named.clone(), at_jwt).mint(&grant()).unwrap();
            let harness = layer(vec![named.verification_key()], at_jwt);
            assert_sees(&label, &harness.bearer(token.as_str()).await, &token);
        }
    }
}

#[tokio::test]
async fn at_jwt_tokens_meet_the_rfc_9068_profile_and_jwt_ones_do_not() {
    let signing = ec_key();
    let at_jwt = minter(signing.clone(), true);
    let plain = minter(signing.clone(), false);
    let profile = Harness::new(
        JwtAuthLayer::<SessionClaims>::builder()
            .key(signing.verification_key())
            .issuer(ISSUER)
            .unwrap()
            .audience(AUDIENCE)
            .unwrap()
            .rfc9068()
            .build()
            .unwrap(),
    );
    let token = at_jwt.mint(&grant().claim("client_id", "app")).unwrap();
    assert_sees("rfc 9068", &profile.bearer(token.as_str()).await, &token);

    // A token typed `JWT` is not an access token to a layer that requires `at+jwt`.
    let token = plain.mint(&grant().claim("client_id", "app")).unwrap();
    assert_refused(
        "typ JWT",
        &profile.bearer(token.as_str()).await,
        ErrorKind::InvalidClaims,
    );
    let typed = layer(vec![signing.verification_key()], true);
    assert_refused(
        "typ JWT",
        &typed.bearer(token.as_str()).await,
        ErrorKind::InvalidClaims,
    );
}

#[tokio::test]
async fn the_jwks_document_verifies_the_issued_tokens() {
    let rsa = rsa_key().with_kid("rsa-1");
    let ec = ec_key().with_kid("ec-1");
    let ed = ed_key().with_kid("ed-1");
    let set = SigningKeys::new(rsa.clone())
        .verification_only_key(ec.clone())
        .unwrap()
        .verification_only_key(ed.clone())
        .unwrap()
        .verification_only_key(hmac_key().with_kid("hmac-1"))
        .unwrap();
    let document = set.jwks_document();
    assert!(!document.contains("hmac-1"), "{document}");
    let published = Key::from_jwks(&document).unwrap();
    assert_eq!(published.len(), 3);
    let harness = layer(published, true);
    for signing in [rsa, ec, ed] {
        let label = format!("{:?}", signing.algorithm());
        let token = minter(signing, true).mint(&grant()).unwrap();
        assert_sees(&label, &harness.bearer(token.as_str()).await, &token);
    }
}

#[tokio::test]
async fn a_token_of_the_retired_key_verifies_while_it_is_published() {
    for (old, new) in [
        (
            hmac_key(),
            SigningKey::hmac(Algorithm::HS256, [7u8; 32]).unwrap(),
        ),
        (rsa_key(), ec_key()),
    ] {
        let label = format!("{:?} to {:?}", old.algorithm(), new.algorithm());
        // A kid the layer no longer knows; or, when no key of the old algorithm is left, an
        // algorithm it no longer accepts.
        let refusal = if old.algorithm() == new.algorithm() {
            ErrorKind::UnknownKey
        } else {
            ErrorKind::AlgorithmNotAllowed
        };
        let old = old.with_kid("2026-11");
        let new = new.with_kid("2026-12");
        let before = minter(old.clone(), true).mint(&grant()).unwrap();

        // The rotation: the new key signs, the old one is still published.
        let rotated = SigningKeys::new(new.clone())
            .verification_only_key(old)
            .unwrap();
        let after = minter(rotated.clone(), true).mint(&grant()).unwrap();
        let harness = layer(rotated.verification_keys(), true);
        assert_sees(&label, &harness.bearer(before.as_str()).await, &before);
        assert_sees(&label, &harness.bearer(after.as_str()).await, &after);
        if !new.is_symmetric() {
            let from_jwks = layer(Key::from_jwks(&rotated.jwks_document()).unwrap(), true);
            assert_sees(&label, &from_jwks.bearer(before.as_str()).await, &before);
            assert_sees(&label, &from_jwks.bearer(after.as_str()).await, &after);
        }

        // Once the old key is no longer published, its tokens are refused.
        let retired = layer(SigningKeys::new(new).verification_keys(), true);
        assert_refused(&label, &retired.bearer(before.as_str()).await, refusal);
        assert_sees(&label, &retired.bearer(after.as_str()).await, &after);
    }
}

#[tokio::test]
async fn the_layer_refuses_a_token_minted_with_another_key() {
    let other_rsa = SigningKey::rsa_pem(Algorithm::RS256, key_file("rsa2_private.pem")).unwrap();
    let other_hmac = SigningKey::hmac(Algorithm::HS256, [9u8; 32]).unwrap();
    let cases = [
        (
            "hmac, another secret",
            hmac_key(),
            other_hmac.clone(),
            ErrorKind::InvalidSignature,
        ),
        (
            "rsa, another key",
            rsa_key(),
            other_rsa.clone(),
            ErrorKind::InvalidSignature,
        ),
        (
            "rsa layer, ec token",
            rsa_key(),
            ec_key(),
            ErrorKind::AlgorithmNotAllowed,
        ),
        (
            "ed layer, hmac token",
            ed_key(),
            other_hmac,
            ErrorKind::AlgorithmNotAllowed,
        ),
    ];
    for (label, trusted, signer, kind) in cases {
        let harness = layer(vec![trusted.verification_key()], false);
        let token = minter(signer.clone(), false).mint(&grant()).unwrap();
        assert_refused(label, &harness.bearer(token.as_str()).await, kind);

        // The same kid on both sides does not help.
        let harness = layer(vec![trusted.with_kid("k").verification_key()], false);
        let token = minter(signer.with_kid("k"), false).mint(&grant()).unwrap();
        assert_refused(label, &harness.bearer(token.as_str()).await, kind);
    }
    // A kid the layer does not know.
    let harness = layer(vec![rsa_key().with_kid("k").verification_key()], false);
    let token = minter(other_rsa.with_kid("x"), false)
        .mint(&grant())
        .unwrap();
    assert_refused(
        "unknown kid",
        &harness.bearer(token.as_str()).await,
        ErrorKind::UnknownKey,
    );
}

#[tokio::test]
async fn tokens_expire_after_their_lifetime() {
    let signing = hmac_key();
    let issued = SystemTime::now() - Duration::from_secs(120);
    let minter = AccessTokenMinter::builder(signing.clone())
        .and_then(|b| b.issuer(ISSUER))
        .and_then(|b| b.audience(AUDIENCE))
        .and_then(|b| b.ttl(Duration::from_secs(60)))
        .and_then(|b| b.clock(Clock::from_fn(move || issued)).build())
        .unwrap();
    let token = minter.mint(&grant()).unwrap();
    assert_eq!(token.lifetime(), Duration::from_secs(60));
    let harness = Harness::new(
        JwtAuthLayer::<SessionClaims>::builder()
            .key(signing.verification_key())
            .issuer(ISSUER)
            .unwrap()
            .audience(AUDIENCE)
            .unwrap()
            .leeway(Duration::ZERO)
            .unwrap()
            .build()
            .unwrap(),
    );
    assert_refused(
        "expired",
        &harness.bearer(token.as_str()).await,
        ErrorKind::Expired,
    );
}
