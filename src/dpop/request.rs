//! The DPoP side of a request: its `Authorization: DPoP` token, its one `DPoP` header, the
//! token's `cnf.jkt`, and the check of the whole ([`check_request`]).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use http::{HeaderMap, Method, Uri};

use super::{check_proof, invalid, DpopConfig, DpopMode, Expected, ReplayCheck, Target, DPOP};
use crate::error::{AuthError, ErrorKind};

/// The one `DPoP` header of a request, or `None`; two or more are refused.
pub(crate) fn single_proof(headers: &HeaderMap) -> Result<Option<&[u8]>, AuthError> {
    let mut values = headers.get_all(DPOP).iter();
    match (values.next(), values.next()) {
        (None, _) => Ok(None),
        (Some(_), Some(_)) => Err(invalid("The request carries more than one DPoP header")),
        (Some(value), None) => Ok(Some(value.as_bytes())),
    }
}

/// `Authorization: DPoP <token>` (scheme in any case): the token, `None` for another scheme or
/// no header, an error for a DPoP header without a token. Two `Authorization` headers are left
/// to the token sources, which refuse them.
pub(crate) fn dpop_token(headers: &HeaderMap) -> Result<Option<&[u8]>, AuthError> {
    let mut values = headers.get_all(http::header::AUTHORIZATION).iter();
    let (Some(value), None) = (values.next(), values.next()) else {
        return Ok(None);
    };
    let value = value.as_bytes();
    let (scheme, rest) = match memchr::memchr(b' ', value) {
        Some(at) => value.split_at(at),
        None => (value, &[][..]),
    };
    if !scheme.eq_ignore_ascii_case(b"dpop") {
        return Ok(None);
    }
    let mut token = rest;
    while let [b' ', tail @ ..] = token {
        token = tail;
    }
    if token.is_empty() {
        return Err(AuthError::invalid_request(
            "The DPoP credentials carry no token",
        ));
    }
    Ok(Some(token))
}

/// The `cnf.jkt` of a verified token, read from its payload; `None` when it has none.
pub(crate) fn token_jkt(token: &[u8]) -> Result<Option<String>, AuthError> {
    #[derive(serde::Deserialize)]
    struct Payload {
        cnf: Option<Cnf>,
    }
    #[derive(serde::Deserialize)]
    struct Cnf {
        jkt: Option<String>,
    }
    const BAD_CNF: AuthError = AuthError::malformed("The token's cnf claim is not acceptable");
    let payload = token.split(|b| *b == b'.').nth(1).ok_or(BAD_CNF)?;
    let json = URL_SAFE_NO_PAD.decode(payload).map_err(|_| BAD_CNF)?;
    let payload: Payload = serde_json::from_slice(&json).map_err(|_| BAD_CNF)?;
    Ok(payload.cnf.and_then(|cnf| cnf.jkt))
}

/// How the token of a request came.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Presented {
    /// `Authorization: DPoP`.
    DpopScheme,
    /// A cookie, with a `DPoP` header (the crate's form for browsers, outside RFC 9449).
    CookieWithProof,
    /// Any other way, without a proof that counts.
    Plain,
}

/// The DPoP check of a request whose token verified: the proof and the binding, or the
/// downgrade and required-mode refusals. `Ok` lets the request on.
#[allow(clippy::too_many_arguments)]
pub(crate) fn check_request(
    config: &DpopConfig,
    mode: DpopMode,
    presented: Presented,
    token: &[u8],
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    now_ms: u64,
) -> Result<Option<ReplayCheck>, AuthError> {
    let proof = single_proof(headers)?;
    let jkt = token_jkt(token)?;
    // A cookie of an unbound session with a proof (a page that sends proofs, logged in before
    // DPoP was on): the proof has nothing to bind, the cookie is judged as a plain one.
    let plain =
        presented == Presented::Plain || (presented == Presented::CookieWithProof && jkt.is_none());
    if plain {
        return match (jkt, mode) {
            (Some(_), _) => Err(DOWNGRADE),
            (None, DpopMode::Required) => Err(UNBOUND),
            (None, _) => Ok(None),
        };
    }
    let proof = proof.ok_or(invalid("The request carries no DPoP proof"))?;
    let target = Target::of(config.public_origin.as_deref(), uri, headers)
        .ok_or(invalid("The request's URI cannot be told"))?;
    let checked = check_proof(
        config,
        proof,
        &Expected {
            method: method.as_str(),
            target,
            access_token: Some(token),
            now_ms,
        },
    )?;
    if jkt.as_deref() != Some(checked.jkt.as_str()) {
        return Err(invalid(
            "The access token is not bound to the DPoP proof's key",
        ));
    }
    config.record(&checked, now_ms)
}

const DOWNGRADE: AuthError = AuthError::new(
    ErrorKind::DpopRequired,
    "A DPoP-bound access token was sent without a DPoP proof",
);

const UNBOUND: AuthError = AuthError::new(
    ErrorKind::DpopRequired,
    "This resource requires a DPoP-bound access token and a DPoP proof",
);
