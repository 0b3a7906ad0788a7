//! Where the access token is looked for, in order.

use http::header::{AUTHORIZATION, COOKIE};
use http::{HeaderMap, HeaderName, Uri};

use crate::error::{AuthError, ConfigError};

/// A place the access token can come from.
///
/// The layer tries its sources in the order they were configured; the first source that is
/// *present* wins, and a present but bad token is refused, never rescued by a later source. The
/// default is [`TokenSource::bearer()`] then [`TokenSource::cookie`] with the name
/// `__Host-access_token`, the cookie `session::CookieSettings` sets.
///
/// # Example
///
/// ```
/// use tower_jwt_auth::TokenSource;
///
/// let sources = [
///     TokenSource::bearer(),
///     TokenSource::cookie("__Host-access_token"),
///     TokenSource::header(http::HeaderName::from_static("x-access-token")),
/// ];
/// assert_eq!(sources[1].to_string(), "cookie __Host-access_token");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenSource {
    kind: SourceKind,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum SourceKind {
    Bearer,
    Cookie(Box<str>),
    Header(HeaderName),
    Query(Box<str>),
}

/// Which kind of source a token came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TokenSourceKind {
    /// `Authorization: Bearer`.
    Bearer,
    /// A cookie.
    Cookie,
    /// A custom header carrying the bare token.
    Header,
    /// A query-string parameter.
    Query,
}

impl TokenSource {
    /// `Authorization: Bearer <token>` (RFC 6750 §2.1). The scheme is matched without regard to
    /// case; a header with another scheme, such as `Basic`, counts as no token.
    pub fn bearer() -> Self {
        Self {
            kind: SourceKind::Bearer,
        }
    }

    /// A cookie of this exact name, read from every `Cookie` header of the request. A quoted
    /// value is unquoted; an empty value counts as no cookie; two cookies of the name are refused
    /// with `invalid_request`.
    pub fn cookie(name: impl Into<String>) -> Self {
        Self {
            kind: SourceKind::Cookie(name.into().into_boxed_str()),
        }
    }

    /// A custom header carrying the bare token, without a scheme.
    pub fn header(name: HeaderName) -> Self {
        Self {
            kind: SourceKind::Header(name),
        }
    }

    /// A query-string parameter. Tokens in URLs end up in logs and browser histories
    /// (RFC 6750 §2.3), so this source exists only as an explicit opt-in, for clients such as
    /// WebSocket or EventSource that cannot set headers.
    pub fn query(name: impl Into<String>) -> Self {
        Self {
            kind: SourceKind::Query(name.into().into_boxed_str()),
        }
    }

    /// Which kind of source this is.
    pub fn kind(&self) -> TokenSourceKind {
        match self.kind {
            SourceKind::Bearer => TokenSourceKind::Bearer,
            SourceKind::Cookie(_) => TokenSourceKind::Cookie,
            SourceKind::Header(_) => TokenSourceKind::Header,
            SourceKind::Query(_) => TokenSourceKind::Query,
        }
    }

    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        match &self.kind {
            SourceKind::Cookie(name) | SourceKind::Query(name) => {
                if !name.is_empty() && name.bytes().all(is_token_char) {
                    Ok(())
                } else {
                    Err(ConfigError::InvalidSourceName {
                        name: name.to_string(),
                    })
                }
            }
            SourceKind::Bearer | SourceKind::Header(_) => Ok(()),
        }
    }

    /// Looks for the token. `Ok(None)` means this source is absent.
    fn find<'a>(
        &self,
        headers: &'a HeaderMap,
        uri: &'a Uri,
    ) -> Result<Option<&'a [u8]>, AuthError> {
        match &self.kind {
            SourceKind::Bearer => bearer(headers),
            SourceKind::Cookie(name) => cookie(headers, name.as_bytes()),
            SourceKind::Header(name) => {
                let mut values = headers.get_all(name).iter();
                match (values.next(), values.next()) {
                    (None, _) => Ok(None),
                    (Some(_), Some(_)) => Err(AuthError::invalid_request(
                        "The token header was sent more than once",
                    )),
                    (Some(value), None) if value.is_empty() => Ok(None),
                    (Some(value), None) => Ok(Some(value.as_bytes())),
                }
            }
            SourceKind::Query(name) => query(uri, name.as_bytes()),
        }
    }
}

impl std::fmt::Display for TokenSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.kind {
            SourceKind::Bearer => f.write_str("authorization bearer"),
            SourceKind::Cookie(name) => write!(f, "cookie {name}"),
            SourceKind::Header(name) => write!(f, "header {name}"),
            SourceKind::Query(name) => write!(f, "query {name}"),
        }
    }
}

/// RFC 9110 `tchar`, which RFC 6265 uses for cookie names.
fn is_token_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// A token found in a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Found<'a> {
    pub(crate) token: &'a [u8],
    pub(crate) source: TokenSourceKind,
}

impl Found<'_> {
    /// For a token that failed to verify: the error of the request itself when the token is
    /// not one token but several (`Authorization: Bearer a b`, `Bearer a,Bearer b`), which is
    /// the client's malformed request (RFC 6750 §3.1 `invalid_request`, 400) rather than a bad
    /// token.
    pub(crate) fn request_error(&self) -> Option<AuthError> {
        (self.source == TokenSourceKind::Bearer && has_separator(self.token)).then(|| {
            AuthError::invalid_request("The Authorization header carries more than one token")
        })
    }
}

/// Tries the sources in order; the first present one wins.
pub(crate) fn find_token<'a>(
    sources: &[TokenSource],
    headers: &'a HeaderMap,
    uri: &'a Uri,
) -> Result<Option<Found<'a>>, AuthError> {
    for source in sources {
        if let Some(token) = source.find(headers, uri)? {
            return Ok(Some(Found {
                token,
                source: source.kind(),
            }));
        }
    }
    Ok(None)
}

const BEARER: &[u8] = b"bearer";

fn bearer(headers: &HeaderMap) -> Result<Option<&[u8]>, AuthError> {
    let mut values = headers.get_all(AUTHORIZATION).iter();
    let value = match (values.next(), values.next()) {
        (None, _) => return Ok(None),
        (Some(_), Some(_)) => {
            return Err(AuthError::invalid_request(
                "The Authorization header was sent more than once",
            ))
        }
        (Some(value), None) => value.as_bytes(),
    };
    // credentials = auth-scheme [ 1*SP token68 ]; the scheme is case-insensitive.
    let (scheme, rest) = match memchr::memchr(b' ', value) {
        Some(at) => value.split_at(at),
        None => (value, &[][..]),
    };
    if !scheme.eq_ignore_ascii_case(BEARER) {
        // Another scheme (Basic, Digest, ...) is not a bearer token.
        return Ok(None);
    }
    let token = trim_leading_spaces(rest);
    if token.is_empty() {
        return Err(AuthError::invalid_request(
            "The Bearer credentials carry no token",
        ));
    }
    // A space, tab or comma in the token (two tokens, or two credentials joined by a proxy) is
    // looked for only when the token fails to verify, where `Found::request_error` turns the
    // refusal into the request error it is: no such token can verify, since none of the three
    // is a base64url character.
    Ok(Some(token))
}

/// `true` when `bytes` holds a space, a tab or a comma.
fn has_separator(bytes: &[u8]) -> bool {
    memchr::memchr3(b' ', b'\t', b',', bytes).is_some()
}

fn trim_leading_spaces(mut bytes: &[u8]) -> &[u8] {
    while let [b' ', rest @ ..] = bytes {
        bytes = rest;
    }
    bytes
}

/// RFC 6265 §5.2 trims only SP and HTAB around names and values.
fn trim_sp_htab(mut bytes: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = bytes {
        bytes = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = bytes {
        bytes = rest;
    }
    bytes
}

/// Unicode whitespace that some cookie parsers (and frameworks) trim from names, which turns a
/// cookie an attacker could set (a name starting with U+2000, say) into one that looks like the
/// auth cookie. Such look-alikes count as duplicates.
fn trim_unicode_whitespace(bytes: &[u8]) -> &[u8] {
    match std::str::from_utf8(bytes) {
        Ok(s) => s.trim().as_bytes(),
        Err(_) => bytes,
    }
}

/// The value of the cookie `name`, read with the same strict rules as a cookie token source
/// (every `Cookie` field, a duplicate or look-alike name refused, quotes removed).
pub(crate) fn cookie_value<'a>(
    headers: &'a HeaderMap,
    name: &[u8],
) -> Result<Option<&'a [u8]>, AuthError> {
    cookie(headers, name)
}

fn cookie<'a>(headers: &'a HeaderMap, name: &[u8]) -> Result<Option<&'a [u8]>, AuthError> {
    let mut found: Option<&'a [u8]> = None;
    let mut lookalikes = 0usize;
    // HTTP/2 may split the cookies over several fields: read all of them.
    for value in headers.get_all(COOKIE) {
        for pair in value.as_bytes().split(|b| *b == b';') {
            let (raw_name, raw_value) = match pair.iter().position(|b| *b == b'=') {
                Some(at) => (
                    pair.get(..at).unwrap_or_default(),
                    pair.get(at + 1..).unwrap_or_default(),
                ),
                None => continue,
            };
            let exact = trim_sp_htab(raw_name);
            if exact == name {
                if found.is_some() {
                    return Err(AuthError::invalid_request(
                        "The token cookie was sent more than once",
                    ));
                }
                found = Some(unquote(trim_sp_htab(raw_value)));
            } else if trim_unicode_whitespace(exact) == name {
                lookalikes += 1;
            }
        }
    }
    if lookalikes > 0 && found.is_some() || lookalikes > 1 {
        return Err(AuthError::invalid_request(
            "The token cookie was sent more than once",
        ));
    }
    Ok(found.filter(|v| !v.is_empty()))
}

fn unquote(value: &[u8]) -> &[u8] {
    match value {
        [b'"', inner @ .., b'"'] => inner,
        _ => value,
    }
}

fn query<'a>(uri: &'a Uri, name: &[u8]) -> Result<Option<&'a [u8]>, AuthError> {
    let Some(query) = uri.query() else {
        return Ok(None);
    };
    let mut found = None;
    for pair in query.as_bytes().split(|b| *b == b'&') {
        let (key, value) = match pair.iter().position(|b| *b == b'=') {
            Some(at) => (
                pair.get(..at).unwrap_or_default(),
                pair.get(at + 1..).unwrap_or_default(),
            ),
            None => (pair, &[][..]),
        };
        if key == name {
            if found.is_some() {
                return Err(AuthError::invalid_request(
                    "The token parameter was sent more than once",
                ));
            }
            found = Some(value);
        }
    }
    Ok(found.filter(|v| !v.is_empty()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;
    use http::HeaderValue;

    fn headers(pairs: &[(&str, &[u8])]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(
                HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_bytes(value).unwrap(),
            );
        }
        map
    }

    /// The layer's default sources (`layer.rs` tests that they are).
    fn default_sources() -> Vec<TokenSource> {
        vec![
            TokenSource::bearer(),
            TokenSource::cookie("__Host-access_token"),
        ]
    }

    /// The token found, or the request error: found right away, or, for a token that will not
    /// verify, once it failed to.
    fn find(pairs: &[(&str, &[u8])]) -> Result<Option<(Vec<u8>, TokenSourceKind)>, ErrorKind> {
        let map = headers(pairs);
        let uri = Uri::from_static("/");
        match find_token(&default_sources(), &map, &uri) {
            Ok(Some(found)) => match found.request_error() {
                Some(error) => Err(error.kind()),
                None => Ok(Some((found.token.to_vec(), found.source))),
            },
            Ok(None) => Ok(None),
            Err(error) => Err(error.kind()),
        }
    }

    fn token(pairs: &[(&str, &[u8])]) -> Option<Vec<u8>> {
        find(pairs).unwrap().map(|(t, _)| t)
    }

    #[test]
    fn bearer_scheme_is_case_insensitive() {
        for value in ["Bearer t", "bearer t", "BEARER t", "BeArEr t", "Bearer  t"] {
            assert_eq!(
                token(&[("authorization", value.as_bytes())]),
                Some(b"t".to_vec()),
                "{value}"
            );
        }
    }

    #[test]
    fn other_schemes_are_not_bearer_tokens() {
        for value in ["Basic dXNlcjpwYXNz", "Token abc", "Digest x=y", "Bearert"] {
            assert_eq!(
                find(&[("authorization", value.as_bytes())]),
                Ok(None),
                "{value}"
            );
        }
    }

    #[test]
    fn broken_bearer_credentials_are_invalid_requests() {
        for value in [
            "Bearer",
            "Bearer ",
            "Bearer a b",
            "Bearer a,Bearer b",
            "Bearer a\tb",
        ] {
            assert_eq!(
                find(&[("authorization", value.as_bytes())]),
                Err(ErrorKind::InvalidRequest),
                "{value:?}"
            );
        }
    }

    #[test]
    fn separators_are_found_at_every_position() {
        for len in 0..40 {
            let clean = vec![b'a'; len];
            assert!(!has_separator(&clean), "{len}");
            for at in 0..len {
                for sep in [b' ', b'\t', b','] {
                    let mut dirty = clean.clone();
                    dirty[at] = sep;
                    assert!(has_separator(&dirty), "{len} {at} {sep}");
                }
            }
        }
        // Bytes next to the separators' values are not separators.
        assert!(!has_separator(b"!!!!!!!!\x08\x0a\x1f\x21+-./"));
    }

    #[test]
    fn two_authorization_headers_are_refused() {
        assert_eq!(
            find(&[
                ("authorization", b"Bearer a"),
                ("authorization", b"Bearer a")
            ]),
            Err(ErrorKind::InvalidRequest)
        );
        assert_eq!(
            find(&[
                ("authorization", b"Basic a"),
                ("authorization", b"Bearer a")
            ]),
            Err(ErrorKind::InvalidRequest)
        );
    }

    #[test]
    fn cookie_is_found_among_others_and_unquoted() {
        assert_eq!(
            find(&[("cookie", b"a=1; __Host-access_token=tok; b=2")]),
            Ok(Some((b"tok".to_vec(), TokenSourceKind::Cookie)))
        );
        assert_eq!(
            token(&[("cookie", b"__Host-access_token=\"tok\"")]),
            Some(b"tok".to_vec())
        );
        assert_eq!(
            token(&[("cookie", b"x=1"), ("cookie", b"__Host-access_token=tok")]),
            Some(b"tok".to_vec())
        );
        assert_eq!(token(&[("cookie", b"__Host-access_token=")]), None);
        assert_eq!(
            token(&[("cookie", b"__Host-Access_Token=tok; x__Host-access_token=1")]),
            None
        );
    }

    #[test]
    fn duplicate_cookies_are_refused_also_across_fields_and_after_normalisation() {
        assert_eq!(
            find(&[("cookie", b"__Host-access_token=a; __Host-access_token=b")]),
            Err(ErrorKind::InvalidRequest)
        );
        assert_eq!(
            find(&[
                ("cookie", b"__Host-access_token=a"),
                ("cookie", b"__Host-access_token=b")
            ]),
            Err(ErrorKind::InvalidRequest)
        );
        let lookalike = "\u{2000}__Host-access_token=EVIL; __Host-access_token=GOOD";
        assert_eq!(
            find(&[("cookie", lookalike.as_bytes())]),
            Err(ErrorKind::InvalidRequest)
        );
        let reversed = "__Host-access_token=GOOD; \u{2000}__Host-access_token=EVIL";
        assert_eq!(
            find(&[("cookie", reversed.as_bytes())]),
            Err(ErrorKind::InvalidRequest)
        );
        // A look-alike alone is not the auth cookie.
        assert_eq!(
            find(&[("cookie", "\u{2000}__Host-access_token=EVIL".as_bytes())]),
            Ok(None)
        );
    }

    #[test]
    fn first_present_source_wins_and_a_bad_header_is_not_rescued() {
        assert_eq!(
            find(&[
                ("authorization", b"Bearer h"),
                ("cookie", b"__Host-access_token=c")
            ]),
            Ok(Some((b"h".to_vec(), TokenSourceKind::Bearer)))
        );
        assert_eq!(
            find(&[
                ("authorization", b"Bearer"),
                ("cookie", b"__Host-access_token=c")
            ]),
            Err(ErrorKind::InvalidRequest)
        );
        // A Basic header is absent as far as bearer tokens go: the cookie is used.
        assert_eq!(
            find(&[
                ("authorization", b"Basic x"),
                ("cookie", b"__Host-access_token=c")
            ]),
            Ok(Some((b"c".to_vec(), TokenSourceKind::Cookie)))
        );
    }

    #[test]
    fn query_and_custom_header_sources() {
        let sources = [
            TokenSource::header(HeaderName::from_static("x-token")),
            TokenSource::query("access_token"),
        ];
        let uri = Uri::from_static("/x?a=1&access_token=q");
        let empty = HeaderMap::new();
        let found = find_token(&sources, &empty, &uri).unwrap().unwrap();
        assert_eq!(
            (found.token, found.source),
            (&b"q"[..], TokenSourceKind::Query)
        );
        let map = headers(&[("x-token", b"h")]);
        let found = find_token(&sources, &map, &uri).unwrap().unwrap();
        assert_eq!(
            (found.token, found.source),
            (&b"h"[..], TokenSourceKind::Header)
        );
        let uri = Uri::from_static("/x?access_token=a&access_token=b");
        assert_eq!(
            find_token(&sources, &HeaderMap::new(), &uri)
                .unwrap_err()
                .kind(),
            ErrorKind::InvalidRequest
        );
        // The query source is opt-in: the defaults ignore it.
        let uri = Uri::from_static("/x?access_token=q");
        assert_eq!(
            find_token(&default_sources(), &HeaderMap::new(), &uri),
            Ok(None)
        );
    }

    #[test]
    fn source_names_are_validated() {
        assert!(TokenSource::cookie("__Host-at").validate().is_ok());
        assert!(TokenSource::cookie("").validate().is_err());
        assert!(TokenSource::cookie("a b").validate().is_err());
        assert!(TokenSource::query("a=b").validate().is_err());
    }
}
