//! Shared helpers for the adversarial and Wycheproof suites: minting tokens (well-formed or
//! hostile), wrapping a recording echo handler in the layer, calling it with `oneshot`, and
//! reading the response (status, `WWW-Authenticate`, JSON `reason`, the `AuthError` in the
//! response extensions, and whether the handler ran).

// Each test binary uses a different subset of these helpers.
#![allow(dead_code)]

use std::convert::Infallible;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use bytes::Bytes;
use http::header::{AUTHORIZATION, CONTENT_TYPE, COOKIE, WWW_AUTHENTICATE};
use http::{HeaderMap, HeaderValue, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use tower::util::BoxCloneService;
use tower::{Layer, ServiceExt};
use tower_jwt_auth::{AuthError, JwtAuthLayer, ResponseBody, ResponseForAuthError, Scopes};

// ---------------------------------------------------------------------------------------------
// Keys and secrets

/// The HMAC secret the test layers trust: 64 bytes, enough for HS256, HS384 and HS512.
pub const SECRET: &[u8] = b"adversarial-suite-hmac-secret-0123456789-abcdefghijklmnopqrstuvw";
/// Another secret of the same length, for wrong-key cases.
pub const OTHER_SECRET: &[u8] = b"a-different-hmac-secret-that-the-layer-never-trusts-0123456789ab";

/// Installs ring as jsonwebtoken's process default, for the tests' own `jsonwebtoken::encode`
/// (the layers do not need it: they verify through the crate's provider directly); every test
/// calls it first.
pub fn init() {
    let _ = tower_jwt_auth::crypto::RING_PROVIDER.install_default();
}

/// The bytes of a checked-in test key under `tests/keys/`.
pub fn key_file(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/keys/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read {path}: {e}"))
}

/// The DER inside a PEM file (the base64 between the armour lines).
pub fn pem_to_der(pem: &[u8]) -> Vec<u8> {
    let text = std::str::from_utf8(pem).unwrap();
    let body: String = text
        .lines()
        .filter(|line| !line.starts_with("-----"))
        .collect();
    STANDARD.decode(body).unwrap()
}

/// A PEM armour around `der`, 64 base64 characters a line.
pub fn der_to_pem(label: &str, der: &[u8]) -> String {
    let b64 = STANDARD.encode(der);
    let mut pem = format!("-----BEGIN {label}-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        pem.push_str(std::str::from_utf8(chunk).unwrap());
        pem.push('\n');
    }
    pem.push_str(&format!("-----END {label}-----\n"));
    pem
}

/// The PKCS#1 `RSAPublicKey` inside an SPKI `PUBLIC KEY` DER (the BIT STRING's content).
pub fn spki_to_pkcs1(spki: &[u8]) -> Vec<u8> {
    // SEQUENCE { SEQUENCE { rsaEncryption, NULL }, BIT STRING { 0x00, RSAPublicKey } }
    let at = spki
        .windows(2)
        .position(|w| w == [0x03, 0x82])
        .expect("a BIT STRING with a two-byte length");
    spki[at + 5..].to_vec()
}

pub fn encoding_key(alg: Algorithm) -> EncodingKey {
    match alg {
        Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512 => {
            EncodingKey::from_secret(SECRET).unwrap()
        }
        Algorithm::ES256 => EncodingKey::from_ec_pem(&key_file("ec256_private.pem")).unwrap(),
        Algorithm::ES384 => EncodingKey::from_ec_pem(&key_file("ec384_private.pem")).unwrap(),
        Algorithm::EdDSA => EncodingKey::from_ed_pem(&key_file("ed25519_private.pem")).unwrap(),
        _ => EncodingKey::from_rsa_pem(&key_file("rsa_private.pem")).unwrap(),
    }
}

// ---------------------------------------------------------------------------------------------
// Time and claims

pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// A fixed instant for the tests with an injected clock.
pub const FIXED_NOW: u64 = 1_700_000_000;

pub fn fixed_clock() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(FIXED_NOW)
}

/// The typed claims most layers in the suites deserialize into.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Claims {
    pub sub: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
}

/// Claims that pass every default check: a subject, `iat` now and `exp` ten minutes on.
pub fn good_claims() -> Value {
    let now = now();
    json!({"sub": "user-1", "iat": now, "exp": now + 600})
}

/// `base` with the members of `patch` set (a `null` in the patch removes the member).
pub fn with(base: Value, patch: Value) -> Value {
    let mut base = base;
    let map = base.as_object_mut().unwrap();
    for (name, value) in patch.as_object().unwrap() {
        if value.is_null() {
            map.remove(name);
        } else {
            map.insert(name.clone(), value.clone());
        }
    }
    base
}

// ---------------------------------------------------------------------------------------------
// Minting

pub fn b64(bytes: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

pub fn unb64(text: &str) -> Vec<u8> {
    URL_SAFE_NO_PAD.decode(text).unwrap()
}

/// The bytes of strict base64url text, or `None` when the text is not canonical base64url.
pub fn try_unb64(text: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(text).ok()
}

/// A token through `jsonwebtoken::encode`.
pub fn mint(header: &Header, claims: &impl Serialize, key: &EncodingKey) -> String {
    jsonwebtoken::encode(header, claims, key).unwrap()
}

/// An HS256 token over `claims`, signed with [`SECRET`].
pub fn hs256(claims: &Value) -> String {
    mint(
        &Header::new(Algorithm::HS256),
        claims,
        &encoding_key(Algorithm::HS256),
    )
}

/// A valid HS256 token for the default test layers.
pub fn good_token() -> String {
    hs256(&good_claims())
}

/// A token with exactly these header and payload bytes, signed over their base64url with
/// `key` under `alg` (whatever the header says).
pub fn sign_raw(header: &[u8], payload: &[u8], key: &EncodingKey, alg: Algorithm) -> String {
    let message = format!("{}.{}", b64(header), b64(payload));
    let signature = jsonwebtoken::crypto::sign(message.as_bytes(), key, alg).unwrap();
    format!("{message}.{signature}")
}

/// [`sign_raw`] with HS256 and [`SECRET`].
pub fn hs256_raw(header: impl AsRef<[u8]>, payload: impl AsRef<[u8]>) -> String {
    sign_raw(
        header.as_ref(),
        payload.as_ref(),
        &encoding_key(Algorithm::HS256),
        Algorithm::HS256,
    )
}

/// The three segments of a compact token.
pub fn segments(token: &str) -> (String, String, String) {
    let mut parts = token.split('.');
    let h = parts.next().unwrap().to_owned();
    let p = parts.next().unwrap().to_owned();
    let s = parts.next().unwrap().to_owned();
    assert!(parts.next().is_none());
    (h, p, s)
}

// ---------------------------------------------------------------------------------------------
// Layers

/// The default test layer: one HS256 key ([`SECRET`]), default policy and sources.
pub fn hs256_layer() -> JwtAuthLayer<Claims> {
    init();
    JwtAuthLayer::<Claims>::builder()
        .key(tower_jwt_auth::Key::hmac(Algorithm::HS256, SECRET).unwrap())
        .build()
        .unwrap()
}

// ---------------------------------------------------------------------------------------------
// The service under test

pub type Body = Full<Bytes>;
pub type Svc = BoxCloneService<Request<Body>, Response<ResponseBody<Body>>, Infallible>;

/// A layer around a recording echo handler. The handler counts its calls and answers 200 with
/// `{"claims": <the C it found or null>, "scopes": <Scopes or null>, "extensions": <count>}`.
#[derive(Clone)]
pub struct Harness {
    svc: Svc,
    calls: Arc<AtomicUsize>,
}

/// What came back from one call.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
    /// The `AuthError` the layer put into the response extensions.
    pub error: Option<AuthError>,
    /// Whether the inner handler ran for this request.
    pub called: bool,
}

impl Harness {
    pub fn new<C, R>(layer: JwtAuthLayer<C, R>) -> Self
    where
        C: DeserializeOwned + Serialize + Clone + Send + Sync + 'static,
        R: ResponseForAuthError + Send + Sync + 'static,
    {
        let calls = Arc::new(AtomicUsize::new(0));
        let counter = calls.clone();
        let handler = tower::service_fn(move |req: Request<Body>| {
            let counter = counter.clone();
            async move {
                counter.fetch_add(1, Ordering::SeqCst);
                let claims = req
                    .extensions()
                    .get::<C>()
                    .map(|c| serde_json::to_value(c).unwrap());
                let scopes = req.extensions().get::<Scopes>().map(ToString::to_string);
                let body = json!({
                    "claims": claims,
                    "scopes": scopes,
                    "extensions": req.extensions().len(),
                });
                Ok::<_, Infallible>(Response::new(Full::new(Bytes::from(body.to_string()))))
            }
        });
        Self {
            svc: BoxCloneService::new(layer.layer(handler)),
            calls,
        }
    }

    /// How many times the handler ran so far.
    pub fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }

    /// Sends `req` through a clone of the service with `oneshot`.
    pub async fn send(&self, req: Request<Body>) -> Reply {
        let before = self.calls();
        let response = self.svc.clone().oneshot(req).await.unwrap();
        let called = self.calls() != before;
        let (parts, body) = response.into_parts();
        let body = body.collect().await.unwrap().to_bytes();
        Reply {
            status: parts.status,
            headers: parts.headers,
            error: parts.extensions.get::<AuthError>().cloned(),
            body,
            called,
        }
    }

    /// `GET /` with `Authorization: Bearer <token>` (the token's bytes as they are).
    pub async fn bearer(&self, token: impl AsRef<[u8]>) -> Reply {
        let mut value = b"Bearer ".to_vec();
        value.extend_from_slice(token.as_ref());
        self.send(get_with(&[(AUTHORIZATION.as_str(), &value)]))
            .await
    }

    /// `GET /` with one `Cookie` header of exactly this value.
    pub async fn cookie(&self, value: impl AsRef<[u8]>) -> Reply {
        self.send(get_with(&[(COOKIE.as_str(), value.as_ref())]))
            .await
    }

    /// Asserts that `token` is refused with `status` and `reason`, without calling the handler.
    pub async fn refuses(&self, label: &str, token: impl AsRef<[u8]>, status: u16, reason: &str) {
        self.bearer(token)
            .await
            .assert_refused(label, status, reason);
    }

    /// Asserts that `token` passes and returns what the handler saw.
    pub async fn accepts(&self, label: &str, token: impl AsRef<[u8]>) -> Value {
        self.bearer(token).await.assert_ok(label)
    }

    /// Asserts that the service still serves a good request after whatever came before.
    pub async fn still_serves(&self, token: &str) {
        let seen = self
            .accepts("valid token after the hostile ones", token)
            .await;
        assert!(
            seen["claims"].is_object(),
            "no claims reached the handler: {seen}"
        );
    }
}

/// `GET /` with these headers (appended, so a name may repeat).
pub fn get_with(headers: &[(&str, &[u8])]) -> Request<Body> {
    let mut req = Request::get("/").body(Body::default()).unwrap();
    for (name, value) in headers {
        req.headers_mut().append(
            http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
            HeaderValue::from_bytes(value).unwrap(),
        );
    }
    req
}

impl Reply {
    /// The JSON body, or `Null` when it is not JSON.
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }

    /// The body's `reason`.
    pub fn reason(&self) -> Option<String> {
        self.json()["reason"].as_str().map(str::to_owned)
    }

    pub fn challenge(&self) -> Option<&str> {
        self.headers
            .get(WWW_AUTHENTICATE)
            .map(|v| v.to_str().unwrap())
    }

    /// A refusal by the default rejection: status, reason (body and extensions agree), the
    /// challenge and body shape of RFC 6750, and no call to the handler.
    #[track_caller]
    pub fn assert_refused(&self, label: &str, status: u16, reason: &str) {
        let body = String::from_utf8_lossy(&self.body);
        assert_eq!(
            (self.status.as_u16(), self.reason().as_deref()),
            (status, Some(reason)),
            "{label}: unexpected outcome, body {body}"
        );
        assert!(
            !self.called,
            "{label}: the handler ran for a refused request"
        );
        let error = self
            .error
            .as_ref()
            .unwrap_or_else(|| panic!("{label}: no AuthError in the response extensions"));
        assert_eq!(
            error.reason(),
            reason,
            "{label}: AuthError in the extensions"
        );
        let json = self.json();
        assert_eq!(json["error_description"], error.description(), "{label}");
        assert_eq!(
            self.headers.get(CONTENT_TYPE).map(|v| v.as_bytes()),
            Some(&b"application/json"[..]),
            "{label}: content-type"
        );
        let challenge = self
            .challenge()
            .unwrap_or_else(|| panic!("{label}: no WWW-Authenticate"));
        assert!(challenge.starts_with("Bearer"), "{label}: {challenge}");
        let code = match reason {
            "missing" => None,
            "invalid_request" => Some("invalid_request"),
            "insufficient_scope" => Some("insufficient_scope"),
            _ => Some("invalid_token"),
        };
        match code {
            None => {
                assert!(!challenge.contains("error="), "{label}: {challenge}");
                assert_eq!(json["error"], "unauthorized", "{label}");
            }
            Some(code) => {
                assert!(
                    challenge.contains(&format!("error=\"{code}\"")),
                    "{label}: {challenge}"
                );
                assert_eq!(json["error"], code, "{label}");
            }
        }
    }

    /// A request that reached the handler: 200, no `AuthError`; returns the handler's echo.
    #[track_caller]
    pub fn assert_ok(&self, label: &str) -> Value {
        let body = String::from_utf8_lossy(&self.body);
        assert_eq!(self.status, StatusCode::OK, "{label}: body {body}");
        assert!(self.called, "{label}: the handler did not run");
        assert!(self.error.is_none(), "{label}: an AuthError on a success");
        self.json()
    }
}

// ---------------------------------------------------------------------------------------------
// A small deterministic PRNG (xorshift64*), for the property-style loops

#[derive(Clone, Debug)]
pub struct XorShift(u64);

impl XorShift {
    pub fn new(seed: u64) -> Self {
        Self(seed.max(1))
    }

    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A number in `0..n` (`n > 0`).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    pub fn chance(&mut self, one_in: usize) -> bool {
        self.below(one_in) == 0
    }

    pub fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| self.next_u64() as u8).collect()
    }
}

/// Asserts that the Wycheproof cases whose outcome differs from their label (`deviations`: tcId
/// to label and outcome) are exactly the `documented` ones, so that any change of behaviour, in
/// either direction, fails the test.
pub fn assert_deviations(
    documented: &[(u64, &str)],
    deviations: &std::collections::BTreeMap<u64, (String, String)>,
) {
    let listed: std::collections::BTreeMap<u64, &str> = documented.iter().copied().collect();
    assert_eq!(listed.len(), documented.len(), "a tcId is listed twice");
    let undocumented: Vec<_> = deviations
        .iter()
        .filter(|(tc_id, _)| !listed.contains_key(tc_id))
        .collect();
    let vanished: Vec<_> = listed
        .iter()
        .filter(|(tc_id, _)| !deviations.contains_key(tc_id))
        .collect();
    assert!(
        undocumented.is_empty() && vanished.is_empty(),
        "deviations changed\n  new (tcId, label, outcome): {undocumented:#?}\n  \
         documented but no longer deviating: {vanished:#?}"
    );
}

/// The folder of the Wycheproof JWS and JWK vector files that ship with the crate (see the
/// README.md there for their provenance and license).
pub const VECTORS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/wycheproof");

/// The Wycheproof file `file` of [`VECTORS`], parsed. A missing or unreadable file fails the
/// test, naming the path: nothing skips.
pub fn read_vectors(file: &str) -> serde_json::Value {
    let path = std::path::Path::new(VECTORS).join(file);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "Wycheproof vector file {} cannot be read ({e}); it ships with the crate under \
             tests/data/wycheproof/",
            path.display()
        )
    });
    serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("Wycheproof vector file {}: bad JSON: {e}", path.display()))
}
