//! Internals for the fuzz targets of `fuzz/` and for `tests/fuzz_corpus.rs`, which replays their
//! corpora.
//!
//! **Unstable.** This module exists only with the hidden `fuzzing` feature, is not part of the
//! crate's API, and changes or goes away in any release without notice. Nothing else should
//! enable that feature.

use http::{HeaderMap, Uri};

use crate::error::AuthError;
use crate::keys::key::Key;
use crate::source::{TokenSource, TokenSourceKind};

/// The token a layer with these sources finds in a request head, with the kind of its source:
/// the parse the layer runs before any verification.
///
/// # Errors
///
/// The request's own error (a duplicated header or cookie, an empty bearer token), as the
/// layer answers it.
pub fn find_token(
    sources: &[TokenSource],
    headers: &HeaderMap,
    uri: &Uri,
) -> Result<Option<(Vec<u8>, TokenSourceKind)>, AuthError> {
    Ok(crate::source::find_token(sources, headers, uri)?
        .map(|found| (found.token.to_vec(), found.source)))
}

/// The value of the cookie `name`, read by the crate's cookie parser.
///
/// # Errors
///
/// A duplicated or look-alike cookie name.
pub fn cookie_value(headers: &HeaderMap, name: &str) -> Result<Option<Vec<u8>>, AuthError> {
    Ok(crate::source::cookie_value(headers, name.as_bytes())?.map(<[u8]>::to_vec))
}

/// The usable keys of a JWK set document and how many were left out, as a remote key set
/// (`allow_symmetric == false`) or [`Key::from_jwks`] (`true`) reads it.
///
/// # Errors
///
/// The reason the whole document is refused.
pub fn parse_jwks(
    document: &[u8],
    allow_symmetric: bool,
) -> Result<(Vec<Key>, usize), &'static str> {
    crate::keys::jwk::parse_jwks(document, allow_symmetric)
        .map(|parsed| (parsed.keys, parsed.skipped.len()))
}

/// The cache lifetime that a key server's `Cache-Control` headers give its answer.
#[cfg(feature = "jwks")]
pub fn cache_max_age(headers: &HeaderMap) -> Option<std::time::Duration> {
    crate::keys::jwks::cache_control::max_age(headers)
}
