//! What the invariants share: a runtime, HS256 tokens, requests built from fuzz input, and a
//! recording inner service. Included with `#[path]` by the fuzz targets and by
//! `tests/fuzz_corpus.rs`, so that both check the same invariants.
#![allow(dead_code)]

use std::cell::RefCell;
use std::convert::Infallible;
use std::future::Future;
use std::time::{Duration, UNIX_EPOCH};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use bytes::Bytes;
use http::header::{HeaderName, COOKIE};
use http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode, Uri};
use http_body_util::Full;
use ring::hmac;
use serde_json::Value;
use tower::util::BoxCloneService;
use tower::{Layer, ServiceExt};
use tower_jwt_auth::clock::Clock;
use tower_jwt_auth::{JwtAuthLayer, ResponseBody, Roles};

/// The HMAC secret every layer of the invariants trusts (64 bytes).
pub const SECRET: &[u8] = b"fuzz-invariants-hmac-secret-0123456789-abcdefghijklmnopqrstuvwxyz";
/// The instant the layers' clocks stand at.
pub const NOW: u64 = 1_700_000_000;
/// The subject and session of [`valid_token`].
pub const SID: &str = "fuzz-session-1";

/// In fuzz input, replaced by [`valid_token`].
pub const TOKEN_MARK: &str = "@T";

/// Runs `future` to completion on this thread's runtime.
pub fn block_on<F: Future>(future: F) -> F::Output {
    thread_local! {
        static RUNTIME: tokio::runtime::Runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .expect("a current-thread runtime");
    }
    RUNTIME.with(|runtime| runtime.block_on(future))
}

/// A clock that stands at [`NOW`].
pub fn clock() -> Clock {
    Clock::manual(UNIX_EPOCH + Duration::from_secs(NOW))
}

pub fn b64(bytes: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The bytes of canonical unpadded base64url text.
pub fn unb64(text: &[u8]) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(text).ok()
}

/// A compact JWS with exactly these header and payload bytes, HS256 over [`SECRET`].
pub fn hs256_raw(header: &[u8], payload: &[u8]) -> String {
    let message = format!("{}.{}", b64(header), b64(payload));
    let key = hmac::Key::new(hmac::HMAC_SHA256, SECRET);
    let tag = hmac::sign(&key, message.as_bytes());
    format!("{message}.{}", b64(tag.as_ref()))
}

/// Whether `token` is three segments whose signature is HS256 over the first two with
/// [`SECRET`]: the only tokens any layer here may accept.
pub fn signed_by_secret(token: &[u8]) -> bool {
    let mut parts = token.split(|b| *b == b'.');
    let (Some(header), Some(payload), Some(signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return false;
    };
    let Some(signature) = unb64(signature) else {
        return false;
    };
    let message_len = header.len() + 1 + payload.len();
    let key = hmac::Key::new(hmac::HMAC_SHA256, SECRET);
    hmac::verify(&key, &token[..message_len], &signature).is_ok()
}

/// The (header, payload) JSON text of a compact token, base64url-decoded.
pub fn decoded_parts(token: &[u8]) -> Option<(Vec<u8>, Vec<u8>)> {
    let mut parts = token.split(|b| *b == b'.');
    let header = unb64(parts.next()?)?;
    let payload = unb64(parts.next()?)?;
    Some((header, payload))
}

/// The claims of [`valid_token`].
pub fn valid_claims() -> Value {
    serde_json::json!({"sub": "fuzz-user", "sid": SID, "iat": NOW, "exp": NOW + 3600})
}

/// A token every layer here accepts.
pub fn valid_token() -> &'static str {
    static TOKEN: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    TOKEN.get_or_init(|| {
        hs256_raw(
            br#"{"alg":"HS256","typ":"JWT"}"#,
            valid_claims().to_string().as_bytes(),
        )
    })
}

/// What the inner service saw of one request.
#[derive(Clone, Debug, PartialEq)]
pub struct Seen {
    pub claims: Option<Value>,
    pub roles: Option<Vec<String>>,
}

/// What came back from one request through a layer.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    /// `Some` when the inner service ran.
    pub seen: Option<Seen>,
}

pub type Service =
    BoxCloneService<Request<Full<Bytes>>, Response<ResponseBody<Full<Bytes>>>, Infallible>;

thread_local! {
    static SEEN: RefCell<Option<Seen>> = const { RefCell::new(None) };
}

/// A service: `layer` around an inner service that records the claims and roles it gets.
pub fn service(layer: JwtAuthLayer<Value>) -> Service {
    let inner = tower::service_fn(|request: Request<Full<Bytes>>| async move {
        let seen = Seen {
            claims: request.extensions().get::<Value>().cloned(),
            roles: Roles::from_extensions(request.extensions())
                .map(|roles| roles.iter().map(str::to_owned).collect()),
        };
        SEEN.with(|cell| *cell.borrow_mut() = Some(seen));
        Ok::<_, Infallible>(Response::new(Full::new(Bytes::new())))
    });
    BoxCloneService::new(layer.layer(inner))
}

/// Sends `request` through `service`; checks that no answer is a server error.
pub fn send(service: &Service, request: Request<Full<Bytes>>) -> Reply {
    SEEN.with(|cell| *cell.borrow_mut() = None);
    let response = block_on(service.clone().oneshot(request)).expect("infallible");
    let status = response.status();
    assert!(
        !status.is_server_error(),
        "a request answered {status}: hostile input must never be a server error"
    );
    Reply {
        status,
        seen: SEEN.with(|cell| cell.borrow_mut().take()),
    }
}

/// The methods a request head can start with (one byte picks one).
pub const METHODS: [Method; 8] = [
    Method::GET,
    Method::HEAD,
    Method::OPTIONS,
    Method::POST,
    Method::PUT,
    Method::PATCH,
    Method::DELETE,
    Method::TRACE,
];

/// A request head from fuzz input: the first line is the request target (`/` when it does not
/// parse), each further line a `name: value` field (lines that are not valid fields are left
/// out). Every [`TOKEN_MARK`] becomes [`valid_token`], and every `(mark, replacement)` of
/// `marks` is applied too.
pub fn request_head(method: Method, data: &[u8], marks: &[(&str, &str)]) -> Request<Full<Bytes>> {
    let text = String::from_utf8_lossy(data);
    let mut text = text.replace(TOKEN_MARK, valid_token());
    for (mark, replacement) in marks {
        text = text.replace(mark, replacement);
    }
    let mut lines = text.split('\n');
    let target = lines.next().unwrap_or_default();
    let uri = if target.starts_with('/') {
        target
            .parse::<Uri>()
            .unwrap_or_else(|_| Uri::from_static("/"))
    } else {
        Uri::from_static("/")
    };
    let mut headers = HeaderMap::new();
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.trim().as_bytes()),
            HeaderValue::from_bytes(value.trim_start_matches(' ').as_bytes()),
        ) else {
            continue;
        };
        headers.append(name, value);
    }
    let mut request = Request::new(Full::new(Bytes::new()));
    *request.method_mut() = method;
    *request.uri_mut() = uri;
    *request.headers_mut() = headers;
    request
}

fn trim_sp_htab(mut bytes: &[u8]) -> &[u8] {
    while let Some((b' ' | b'\t', rest)) = bytes.split_first() {
        bytes = rest;
    }
    while let Some((b' ' | b'\t', rest)) = bytes.split_last() {
        bytes = rest;
    }
    bytes
}

/// The reference reading of the cookie `name`: `Err` for a refused request.
pub fn reference_cookie(headers: &HeaderMap, name: &str) -> Result<Option<Vec<u8>>, ()> {
    let mut exact = Vec::new();
    let mut lookalikes = 0;
    for field in headers.get_all(COOKIE) {
        for pair in field.as_bytes().split(|b| *b == b';') {
            let Some(eq) = pair.iter().position(|b| *b == b'=') else {
                continue;
            };
            let (raw_name, raw_value) = (&pair[..eq], &pair[eq + 1..]);
            let pair_name = trim_sp_htab(raw_name);
            if pair_name == name.as_bytes() {
                let value = trim_sp_htab(raw_value);
                let value =
                    if value.len() >= 2 && value.starts_with(b"\"") && value.ends_with(b"\"") {
                        &value[1..value.len() - 1]
                    } else {
                        value
                    };
                exact.push(value.to_vec());
            } else if std::str::from_utf8(pair_name).is_ok_and(|n| n.trim() == name) {
                lookalikes += 1;
            }
        }
    }
    if exact.len() > 1 || lookalikes > 1 || (!exact.is_empty() && lookalikes > 0) {
        return Err(());
    }
    Ok(exact.pop().filter(|value| !value.is_empty()))
}
