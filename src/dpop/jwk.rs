//! The public key of a DPoP proof (its header's `jwk`): read strictly, refused with any private
//! part, turned into a verification [`Key`], and its RFC 7638 thumbprint.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use jsonwebtoken::Algorithm;
use serde::de::IgnoredAny;
use serde::Deserialize;

use crate::keys::key::Key;

/// A JWK as a proof carries it. Only the members the thumbprint and the key need are read;
/// each of them (and each private member) at most once, or the header is refused.
#[derive(Deserialize)]
pub(crate) struct ProofJwk {
    kty: String,
    crv: Option<String>,
    x: Option<String>,
    y: Option<String>,
    n: Option<String>,
    e: Option<String>,
    // Private parts (RFC 7518 §6.2.2, §6.3.2, §6.4; RFC 8037 §2): none may be present.
    d: Option<IgnoredAny>,
    p: Option<IgnoredAny>,
    q: Option<IgnoredAny>,
    dp: Option<IgnoredAny>,
    dq: Option<IgnoredAny>,
    qi: Option<IgnoredAny>,
    oth: Option<IgnoredAny>,
    k: Option<IgnoredAny>,
}

impl ProofJwk {
    /// `true` when the key carries a private or symmetric part.
    pub(crate) fn has_private_part(&self) -> bool {
        self.d.is_some()
            || self.p.is_some()
            || self.q.is_some()
            || self.dp.is_some()
            || self.dq.is_some()
            || self.qi.is_some()
            || self.oth.is_some()
            || self.k.is_some()
    }

    /// The verification key for `algorithm`, when the JWK is a public key of its family (and
    /// curve) that the crate's key checks accept: a point on the curve, an RSA modulus of 2048
    /// to 8192 bits, a 32-byte Ed25519 key.
    pub(crate) fn key(&self, algorithm: Algorithm) -> Option<Key> {
        let decode = |value: &Option<String>| {
            value
                .as_deref()
                .and_then(|v| URL_SAFE_NO_PAD.decode(v).ok())
        };
        match (self.kty.as_str(), algorithm) {
            ("EC", Algorithm::ES256 | Algorithm::ES384) => {
                let (curve, len) = match algorithm {
                    Algorithm::ES256 => ("P-256", 32),
                    _ => ("P-384", 48),
                };
                if self.crv.as_deref() != Some(curve) {
                    return None;
                }
                let (x, y) = (decode(&self.x)?, decode(&self.y)?);
                if x.len() != len || y.len() != len {
                    return None;
                }
                let mut point = Vec::with_capacity(1 + 2 * len);
                point.push(4);
                point.extend_from_slice(&x);
                point.extend_from_slice(&y);
                Key::ec_point(algorithm, point).ok()
            }
            (
                "RSA",
                Algorithm::RS256
                | Algorithm::RS384
                | Algorithm::RS512
                | Algorithm::PS256
                | Algorithm::PS384
                | Algorithm::PS512,
            ) => {
                let (n, e) = (self.n.as_deref()?, self.e.as_deref()?);
                Key::rsa_components(algorithm, n, e).ok()
            }
            ("OKP", Algorithm::EdDSA) => {
                if self.crv.as_deref() != Some("Ed25519") {
                    return None;
                }
                Key::ed25519_raw(decode(&self.x)?).ok()
            }
            _ => None,
        }
    }

    /// The RFC 7638 thumbprint, base64url of the SHA-256 of the required members in
    /// lexicographic order without whitespace; `None` when a required member is missing.
    pub(crate) fn thumbprint(&self) -> Option<String> {
        let json = match self.kty.as_str() {
            "EC" => canonical(&[
                ("crv", self.crv.as_deref()?),
                ("kty", "EC"),
                ("x", self.x.as_deref()?),
                ("y", self.y.as_deref()?),
            ]),
            "RSA" => canonical(&[
                ("e", self.e.as_deref()?),
                ("kty", "RSA"),
                ("n", self.n.as_deref()?),
            ]),
            "OKP" => canonical(&[
                ("crv", self.crv.as_deref()?),
                ("kty", "OKP"),
                ("x", self.x.as_deref()?),
            ]),
            _ => return None,
        }?;
        Some(sha256_base64url(json.as_bytes()))
    }
}

/// The JSON object of `members`, in the given order, without whitespace.
fn canonical(members: &[(&str, &str)]) -> Option<String> {
    let mut json = String::from("{");
    for (i, (name, value)) in members.iter().enumerate() {
        if i > 0 {
            json.push(',');
        }
        json.push_str(&serde_json::to_string(name).ok()?);
        json.push(':');
        json.push_str(&serde_json::to_string(value).ok()?);
    }
    json.push('}');
    Some(json)
}

/// base64url (no padding) of the SHA-256 of `bytes`: a JWK thumbprint, a proof's `ath`.
pub(crate) fn sha256_base64url(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(ring::digest::digest(&ring::digest::SHA256, bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_7638_example_thumbprint() {
        // RFC 7638 §3.1.
        let jwk: ProofJwk = serde_json::from_str(
            r#"{"kty":"RSA","n":"0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw","e":"AQAB","alg":"RS256","kid":"2011-04-29"}"#,
        )
        .unwrap();
        assert_eq!(
            jwk.thumbprint().unwrap(),
            "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
        );
    }

    #[test]
    fn private_parts_are_seen_and_members_are_read_once() {
        let with_d: ProofJwk =
            serde_json::from_str(r#"{"kty":"EC","crv":"P-256","x":"a","y":"b","d":"c"}"#).unwrap();
        assert!(with_d.has_private_part());
        let symmetric: ProofJwk = serde_json::from_str(r#"{"kty":"oct","k":"c"}"#).unwrap();
        assert!(symmetric.has_private_part());
        assert!(serde_json::from_str::<ProofJwk>(
            r#"{"kty":"EC","crv":"P-256","x":"a","x":"b","y":"b"}"#
        )
        .is_err());
    }
}
