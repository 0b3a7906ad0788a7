//! OIDC discovery (OpenID Connect Discovery 1.0 §4, RFC 8414): where an issuer's metadata is,
//! and the `jwks_uri` it names, which must come with the same issuer.

use http::Uri;

use super::url::parse_uri;
use crate::error::ConfigError;

/// The metadata URL of `issuer`: `{issuer}/.well-known/openid-configuration`, with one slash
/// between them.
///
/// # Errors
///
/// If that is not an absolute `https://` or `http://` URL.
pub(super) fn metadata_url(issuer: &str) -> Result<Uri, ConfigError> {
    let base = issuer.strip_suffix('/').unwrap_or(issuer);
    parse_uri(&format!("{base}/.well-known/openid-configuration"))
}

/// The `jwks_uri` of the metadata document `body`, whose `issuer` must equal `issuer` exactly.
/// Whether it may be fetched is the caller's to check. Errors are fixed sentences, for the logs.
pub(super) fn jwks_uri(body: &[u8], issuer: &str) -> Result<Uri, &'static str> {
    #[derive(serde::Deserialize)]
    struct Metadata {
        issuer: String,
        jwks_uri: String,
    }
    let metadata: Metadata =
        serde_json::from_slice(body).map_err(|_| "the discovery document is not valid")?;
    // RFC 8414 §3.3 / OIDC Discovery §4.3: the issuer must be identical.
    if metadata.issuer != issuer {
        return Err("the discovery document names another issuer");
    }
    parse_uri(&metadata.jwks_uri).map_err(|_| "the discovery document's jwks_uri is not valid")
}
