//! One DPoP proof (RFC 9449 §4.2), checked as §4.3 says: structure, header (`typ`, `alg`,
//! `jwk`), signature under the `jwk`, then the claims (`jti`, `htm`, `htu`, `iat`, `ath`).
//! The replay check and the token's binding are the caller's (`mod.rs`).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use std::borrow::Cow;

use serde::de::IgnoredAny;
use serde::Deserialize;

use super::htu::Target;
use super::jwk::{sha256_base64url, ProofJwk};
use super::DpopConfig;
use crate::error::{AuthError, ErrorKind};

/// A refusal of the proof, with a fixed description.
pub(crate) const fn invalid(description: &'static str) -> AuthError {
    AuthError::new(ErrorKind::InvalidDpopProof, description)
}

/// The longest `jti` accepted.
const MAX_JTI_LEN: usize = 256;

/// What the proof must say about the request.
#[derive(Debug)]
pub(crate) struct Expected<'a> {
    /// The request's method.
    pub(crate) method: &'a str,
    /// Where the request went.
    pub(crate) target: Target<'a>,
    /// The access token whose hash the proof's `ath` must be; `None` at a token request.
    pub(crate) access_token: Option<&'a [u8]>,
    /// The time, in milliseconds since the Unix epoch.
    pub(crate) now_ms: u64,
}

/// A proof that passed every check of its own.
#[derive(Debug)]
pub(crate) struct Checked {
    /// The RFC 7638 thumbprint of its key.
    pub(crate) jkt: String,
    /// Its `jti`.
    pub(crate) jti: String,
}

#[derive(Deserialize)]
struct Header<'a> {
    #[serde(borrow)]
    typ: Option<Cow<'a, str>>,
    #[serde(borrow)]
    alg: Cow<'a, str>,
    #[serde(borrow)]
    jwk: Option<ProofJwk<'a>>,
    crit: Option<IgnoredAny>,
}

#[derive(Deserialize)]
struct Claims<'a> {
    #[serde(borrow)]
    jti: Option<Cow<'a, str>>,
    #[serde(borrow)]
    htm: Option<Cow<'a, str>>,
    #[serde(borrow)]
    htu: Option<Cow<'a, str>>,
    iat: Option<f64>,
    #[serde(borrow)]
    ath: Option<Cow<'a, str>>,
}

/// Checks `proof` against the request `expected`, with the layer's `config`.
pub(crate) fn check(
    config: &DpopConfig,
    proof: &[u8],
    expected: &Expected<'_>,
) -> Result<Checked, AuthError> {
    if proof.len() > config.max_proof_len {
        return Err(invalid("The DPoP proof is too long"));
    }
    let mut parts = proof.split(|b| *b == b'.');
    let (Some(header_b64), Some(payload_b64), Some(signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(invalid("The DPoP proof is not a compact JWS"));
    };
    let decode = |segment: &[u8]| URL_SAFE_NO_PAD.decode(segment).ok();
    let (Some(header_json), Some(payload_json), Some(signature)) =
        (decode(header_b64), decode(payload_b64), decode(signature))
    else {
        return Err(invalid("The DPoP proof is not valid base64url"));
    };

    // The header.
    let header: Header<'_> = serde_json::from_slice(&header_json)
        .map_err(|_| invalid("The DPoP proof's header is not acceptable"))?;
    if !header
        .typ
        .as_deref()
        .is_some_and(|typ| typ.eq_ignore_ascii_case("dpop+jwt"))
    {
        return Err(invalid("The DPoP proof's typ is not dpop+jwt"));
    }
    if header.crit.is_some() {
        return Err(invalid(
            "The DPoP proof's header lists a critical extension that is not understood",
        ));
    }
    let algorithm = config
        .algorithms
        .iter()
        .copied()
        .find(|alg| crate::crypto::algorithm_name(*alg) == Some(&*header.alg))
        .ok_or(invalid("The DPoP proof's algorithm is not allowed"))?;
    let jwk = header
        .jwk
        .ok_or(invalid("The DPoP proof's header has no jwk"))?;
    if jwk.has_private_part() {
        return Err(invalid("The DPoP proof's jwk is not a public key"));
    }

    // The signature, under the proof's own key.
    let signed_len = header_b64.len() + 1 + payload_b64.len();
    let signed = proof.get(..signed_len).unwrap_or_default();
    if signature.is_empty() || !jwk.verifies(algorithm, signed, &signature) {
        return Err(invalid("The DPoP proof's signature does not verify"));
    }

    // The claims.
    let claims: Claims<'_> = serde_json::from_slice(&payload_json)
        .map_err(|_| invalid("The DPoP proof's claims are not acceptable"))?;
    let jti = claims
        .jti
        .filter(|jti| !jti.is_empty() && jti.len() <= MAX_JTI_LEN)
        .ok_or(invalid("The DPoP proof has no acceptable jti"))?;
    if claims.htm.as_deref() != Some(expected.method) {
        return Err(invalid("The DPoP proof's htm is not the request's method"));
    }
    if !claims
        .htu
        .as_deref()
        .is_some_and(|htu| expected.target.matches(htu))
    {
        return Err(invalid("The DPoP proof's htu is not the request's URI"));
    }
    let iat = claims
        .iat
        .filter(|iat| iat.is_finite())
        .ok_or(invalid("The DPoP proof has no iat"))?;
    let now = expected.now_ms as f64 / 1000.0;
    if iat < now - config.past.as_secs_f64() {
        return Err(invalid("The DPoP proof is too old"));
    }
    if iat > now + config.future.as_secs_f64() {
        return Err(invalid("The DPoP proof was issued in the future"));
    }
    if let Some(token) = expected.access_token {
        let hash = sha256_base64url(token);
        if claims.ath.as_deref() != Some(hash.as_str()) {
            return Err(invalid(
                "The DPoP proof's ath is not the access token's hash",
            ));
        }
    }
    let jkt = jwk.thumbprint().ok_or(invalid(
        "The DPoP proof's jwk is not a usable key for its algorithm",
    ))?;
    Ok(Checked {
        jkt,
        jti: jti.into_owned(),
    })
}
