//! The public key of a DPoP proof (its header's `jwk`): read strictly, refused with any private
//! part, turned into a verification [`Key`], and its RFC 7638 thumbprint.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use jsonwebtoken::Algorithm;
use serde::de::IgnoredAny;
use serde::Deserialize;
use std::borrow::Cow;

/// A JWK as a proof carries it. Only the members the thumbprint and the key need are read;
/// each of them (and each private member) at most once, or the header is refused.
#[derive(Deserialize)]
pub(crate) struct ProofJwk<'a> {
    #[serde(borrow)]
    kty: Cow<'a, str>,
    #[serde(borrow)]
    crv: Option<Cow<'a, str>>,
    #[serde(borrow)]
    x: Option<Cow<'a, str>>,
    #[serde(borrow)]
    y: Option<Cow<'a, str>>,
    #[serde(borrow)]
    n: Option<Cow<'a, str>>,
    #[serde(borrow)]
    e: Option<Cow<'a, str>>,
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

impl ProofJwk<'_> {
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

    /// Whether `signature` over `message` verifies under this key with `algorithm`: the key
    /// must be a public key of the algorithm's family and curve (an EC point of the curve's
    /// size, an RSA modulus of 2048 to 8192 bits, a 32-byte Ed25519 key). ring checks the
    /// point, the modulus and the exponent as it verifies; the proof's key is used once, so
    /// nothing is prepared ahead.
    pub(crate) fn verifies(&self, algorithm: Algorithm, message: &[u8], signature: &[u8]) -> bool {
        use ring::signature as sig;
        let decode = |value: &Option<Cow<'_, str>>| {
            value
                .as_deref()
                .and_then(|v| URL_SAFE_NO_PAD.decode(v).ok())
        };
        let ec = |curve: &str, len: usize| -> Option<Vec<u8>> {
            if self.kty != "EC" || self.crv.as_deref() != Some(curve) {
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
            Some(point)
        };
        let rsa = |params: &'static sig::RsaParameters| -> bool {
            let (Some(n), Some(e)) = (decode(&self.n), decode(&self.e)) else {
                return false;
            };
            self.kty == "RSA"
                && sig::RsaPublicKeyComponents { n: &n, e: &e }
                    .verify(params, message, signature)
                    .is_ok()
        };
        let public = |alg: &'static dyn sig::VerificationAlgorithm, key: Option<Vec<u8>>| {
            key.is_some_and(|key| {
                sig::UnparsedPublicKey::new(alg, key)
                    .verify(message, signature)
                    .is_ok()
            })
        };
        match algorithm {
            Algorithm::ES256 => public(&sig::ECDSA_P256_SHA256_FIXED, ec("P-256", 32)),
            Algorithm::ES384 => public(&sig::ECDSA_P384_SHA384_FIXED, ec("P-384", 48)),
            Algorithm::EdDSA => {
                let okp = self.kty == "OKP" && self.crv.as_deref() == Some("Ed25519");
                public(
                    &sig::ED25519,
                    decode(&self.x).filter(|x| okp && x.len() == 32),
                )
            }
            Algorithm::RS256 => rsa(&sig::RSA_PKCS1_2048_8192_SHA256),
            Algorithm::RS384 => rsa(&sig::RSA_PKCS1_2048_8192_SHA384),
            Algorithm::RS512 => rsa(&sig::RSA_PKCS1_2048_8192_SHA512),
            Algorithm::PS256 => rsa(&sig::RSA_PSS_2048_8192_SHA256),
            Algorithm::PS384 => rsa(&sig::RSA_PSS_2048_8192_SHA384),
            Algorithm::PS512 => rsa(&sig::RSA_PSS_2048_8192_SHA512),
            _ => false,
        }
    }

    /// The RFC 7638 thumbprint, base64url of the SHA-256 of the required members in
    /// lexicographic order without whitespace; `None` when a required member is missing.
    pub(crate) fn thumbprint(&self) -> Option<String> {
        let json = match &*self.kty {
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
        json.push('"');
        json.push_str(name);
        json.push_str("\":");
        // base64url values (all of a valid key's) need no escaping.
        if value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            json.push('"');
            json.push_str(value);
            json.push('"');
        } else {
            json.push_str(&serde_json::to_string(value).ok()?);
        }
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
        let jwk: ProofJwk<'_> = serde_json::from_str(
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
        let with_d: ProofJwk<'_> =
            serde_json::from_str(r#"{"kty":"EC","crv":"P-256","x":"a","y":"b","d":"c"}"#).unwrap();
        assert!(with_d.has_private_part());
        let symmetric: ProofJwk<'_> = serde_json::from_str(r#"{"kty":"oct","k":"c"}"#).unwrap();
        assert!(symmetric.has_private_part());
        assert!(serde_json::from_str::<ProofJwk<'_>>(
            r#"{"kty":"EC","crv":"P-256","x":"a","x":"b","y":"b"}"#
        )
        .is_err());
    }
}
