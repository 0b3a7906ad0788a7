//! Helpers for the unit tests.

use std::convert::Infallible;
use std::time::SystemTime;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::{BodyExt, Full};
use jsonwebtoken::{EncodingKey, Header};
use serde::{Deserialize, Serialize};

use crate::{Algorithm, JwtAuthBuilder, Key, Scopes};

pub(crate) const SECRET: &[u8] = b"unit-test secret, 32 bytes long!";

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
pub(crate) struct TestClaims {
    pub(crate) sub: String,
}

pub(crate) fn now() -> u64 {
    crate::clock::unix_secs(SystemTime::now())
}

pub(crate) fn mint(claims: serde_json::Value) -> String {
    let _ = crate::crypto::RING_PROVIDER.install_default();
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(SECRET).unwrap(),
    )
    .unwrap()
}

pub(crate) fn good_token() -> String {
    mint(serde_json::json!({ "sub": "alice", "exp": now() + 300, "scope": "read write" }))
}

pub(crate) fn builder() -> JwtAuthBuilder<TestClaims> {
    crate::JwtAuthLayer::<TestClaims>::builder().key(Key::hmac(Algorithm::HS256, SECRET).unwrap())
}

/// Answers 200 with `sub=<sub>;scopes=<scopes>` or `anonymous`.
pub(crate) async fn echo(req: Request<Full<Bytes>>) -> Result<Response<Full<Bytes>>, Infallible> {
    let body = match (
        req.extensions().get::<TestClaims>(),
        req.extensions().get::<Scopes>(),
    ) {
        (Some(claims), Some(scopes)) => format!("sub={};scopes={scopes}", claims.sub),
        (None, None) => "anonymous".to_owned(),
        _ => "inconsistent".to_owned(),
    };
    Ok(Response::new(Full::new(Bytes::from(body))))
}

pub(crate) async fn body_string<B>(body: B) -> String
where
    B: http_body::Body,
    B::Error: std::fmt::Debug,
{
    String::from_utf8(body.collect().await.unwrap().to_bytes().to_vec()).unwrap()
}
