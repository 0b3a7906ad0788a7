//! The claims policy: which trusted issuer a token belongs to ([`select_tenant`]), and whether its
//! header `typ` and registered claims are accepted ([`check_claims`]).

use std::borrow::Cow;

use serde::Deserialize;

use crate::error::{AuthError, ErrorKind};
use crate::keys::issuer::Tenant;
use crate::verify::claims::{Registered, NOT_A_CLAIMS_SET};
use crate::verify::config::{now, VerifyConfig};
use crate::verify::jws::Header;

const ISSUER_NOT_ACCEPTED: AuthError =
    AuthError::invalid_claims("The token's issuer is not accepted");

/// The tenant of a token: the only one, or the one whose issuer the token names. The `iss` is
/// read from the unverified payload only to choose the keys; the verified claims are checked
/// against the same issuer afterwards.
pub(crate) fn select_tenant<'c>(
    config: &'c VerifyConfig,
    payload: &str,
) -> Result<&'c Tenant, AuthError> {
    match config.tenants.as_slice() {
        [only] => Ok(only),
        tenants => {
            #[derive(Deserialize)]
            struct Issuer<'a> {
                #[serde(borrow)]
                iss: Option<Cow<'a, str>>,
            }
            let issuer: Issuer<'_> = serde_json::from_str(payload).map_err(|_| NOT_A_CLAIMS_SET)?;
            let iss = issuer.iss.ok_or(ISSUER_NOT_ACCEPTED)?;
            tenants
                .iter()
                .find(|tenant| tenant.issuers.iter().any(|i| **i == *iss))
                .ok_or(ISSUER_NOT_ACCEPTED)
        }
    }
}

/// RFC 7515 §4.1.9: a media type without '/' means "application/" + it, and media types are
/// case-insensitive; the configured `typ` is stored in this normal form.
pub(crate) fn normalize_typ(typ: &str) -> String {
    let lower = typ.to_ascii_lowercase();
    match lower.strip_prefix("application/") {
        Some(rest) => rest.to_owned(),
        None => lower,
    }
}

/// `true` when the token's `typ` names the configured type (already in normal form), compared
/// as [`normalize_typ`] would, without allocating.
fn typ_matches(typ: &str, expected: &str) -> bool {
    const PREFIX: &str = "application/";
    let rest = match typ.get(..PREFIX.len()) {
        Some(head) if head.eq_ignore_ascii_case(PREFIX) => typ.get(PREFIX.len()..).unwrap_or(""),
        _ => typ,
    };
    rest.eq_ignore_ascii_case(expected)
}

/// The longest `jti` accepted, in characters.
pub(crate) const MAX_JTI_CHARS: usize = 256;

pub(crate) fn check_claims(
    config: &VerifyConfig,
    tenant: &Tenant,
    header: &Header<'_>,
    claims: &Registered<'_>,
) -> Result<(), AuthError> {
    if let Some(expected) = &config.typ {
        match &header.typ {
            Some(typ) if typ_matches(typ, expected) => {}
            _ => {
                return Err(AuthError::invalid_claims(
                    "The token's type is not accepted",
                ))
            }
        }
    }
    if config.exp_required && claims.exp.is_none() {
        return Err(AuthError::invalid_claims(
            "The token lacks a required claim",
        ));
    }
    for name in &config.required_claims {
        if !claims.has(name) {
            return Err(AuthError::invalid_claims(
                "The token lacks a required claim",
            ));
        }
    }
    if !tenant.issuers.is_empty() {
        match &claims.iss {
            Some(iss) if tenant.issuers.iter().any(|i| **i == **iss) => {}
            _ => return Err(ISSUER_NOT_ACCEPTED),
        }
    }
    // RFC 7519 §4.1.3: a present `aud` that does not name this service is refused, and a
    // service that names no audience names itself in none.
    if !tenant.audiences.is_empty() || claims.has("aud") {
        let accepted = claims.aud.as_ref().is_some_and(|aud| {
            aud.as_slice()
                .iter()
                .any(|aud| tenant.audiences.iter().any(|a| **a == **aud))
        });
        if !accepted {
            return Err(AuthError::invalid_claims(
                "The token's audience is not accepted",
            ));
        }
    }
    if let Some(sub) = &claims.sub {
        if sub.is_empty() {
            return Err(AuthError::invalid_claims("The token's subject is empty"));
        }
    }
    // The catalog's bound (E13), whether or not revocation reads the `jti`.
    if let Some(jti) = &claims.jti {
        if jti.len() > MAX_JTI_CHARS && jti.chars().count() > MAX_JTI_CHARS {
            return Err(AuthError::invalid_claims(
                "The token's jti is longer than 256 characters",
            ));
        }
    }

    let now = now(config) as f64;
    let leeway = config.leeway as f64;
    if let Some(exp) = claims.exp {
        // RFC 7519 §4.1.4: the current time must be before exp.
        if now >= exp + leeway {
            return Err(AuthError::new(
                ErrorKind::Expired,
                "The access token expired",
            ));
        }
        if let Some(max) = config.max_lifetime {
            let max = max as f64;
            let too_long =
                exp - now > max + leeway || claims.iat.is_some_and(|iat| exp - iat > max);
            if too_long {
                return Err(AuthError::invalid_claims(
                    "The token's lifetime is above the accepted maximum",
                ));
            }
        }
    }
    if let Some(nbf) = claims.nbf {
        if now + leeway < nbf {
            return Err(AuthError::new(
                ErrorKind::NotYetValid,
                "The access token is not valid yet",
            ));
        }
    }
    if let Some(iat) = claims.iat {
        if now + leeway < iat {
            return Err(AuthError::new(
                ErrorKind::NotYetValid,
                "The access token was issued in the future",
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typ_is_compared_as_its_normal_form() {
        for typ in [
            "at+jwt",
            "AT+JWT",
            "application/at+jwt",
            "Application/At+Jwt",
            "at+JWT",
        ] {
            assert!(typ_matches(typ, &normalize_typ(typ)), "{typ}");
            assert!(typ_matches(typ, "at+jwt"), "{typ}");
        }
        for typ in [
            "jwt",
            "at+jwt ",
            "application/",
            "applicationat+jwt",
            "app/at+jwt",
            "é",
        ] {
            assert!(!typ_matches(typ, "at+jwt"), "{typ}");
            assert_eq!(
                typ_matches(typ, "at+jwt"),
                normalize_typ(typ) == "at+jwt",
                "{typ}"
            );
        }
        // "application/application/x" normalises once, as `normalize_typ` does.
        assert!(typ_matches("application/application/x", "application/x"));
        assert_eq!(normalize_typ("application/application/x"), "application/x");
    }
}
