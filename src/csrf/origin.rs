//! Origins as the guard compares them: `scheme://host[:port]`, the scheme and the host in any
//! case, a default port (`:443` for `https`, `:80` for `http`) the same as none.

use http::header::HOST;
use http::{HeaderMap, Uri};

/// An origin split into its scheme (`"https"` or `"http"`) and its authority without the
/// scheme's default port; `None` for anything else (`null`, another scheme, a path).
pub(crate) fn split(origin: &[u8]) -> Option<(&'static str, &[u8])> {
    let (scheme, authority) = if let Some(rest) = strip_prefix_ci(origin, b"https://") {
        ("https", rest)
    } else if let Some(rest) = strip_prefix_ci(origin, b"http://") {
        ("http", rest)
    } else {
        return None;
    };
    let valid = !authority.is_empty()
        && authority
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || b"-.:[]".contains(b));
    valid.then(|| (scheme, without_default_port(scheme, authority)))
}

fn strip_prefix_ci<'a>(value: &'a [u8], prefix: &[u8]) -> Option<&'a [u8]> {
    let head = value.get(..prefix.len())?;
    if head.eq_ignore_ascii_case(prefix) {
        value.get(prefix.len()..)
    } else {
        None
    }
}

fn without_default_port<'a>(scheme: &str, authority: &'a [u8]) -> &'a [u8] {
    let default: &[u8] = if scheme == "https" { b":443" } else { b":80" };
    authority.strip_suffix(default).unwrap_or(authority)
}

/// Whether `origin` is the origin `scheme://authority`.
pub(super) fn is(origin: &[u8], scheme: &str, authority: &[u8]) -> bool {
    split(origin).is_some_and(|(s, a)| {
        s.eq_ignore_ascii_case(scheme) && a.eq_ignore_ascii_case(without_default_port(s, authority))
    })
}

/// Whether `origin` is the service's own origin: `public` when set; else the request's, its
/// scheme the URI's when the URI is absolute (HTTP/2, a proxy request), `https` otherwise,
/// never a forwarded header's, its authority the `Host` header (sent once), else the URI's.
pub(super) fn is_own(
    origin: &[u8],
    public: Option<&str>,
    uri: Option<&Uri>,
    headers: &HeaderMap,
) -> bool {
    if let Some(public) = public {
        return split(public.as_bytes())
            .is_some_and(|(scheme, authority)| is(origin, scheme, authority));
    }
    let scheme = uri.and_then(Uri::scheme_str).unwrap_or("https");
    let mut hosts = headers.get_all(HOST).iter();
    let host = match (hosts.next(), hosts.next()) {
        (Some(host), None) => host.as_bytes(),
        (Some(_), Some(_)) => return false,
        (None, _) => match uri.and_then(Uri::authority) {
            Some(authority) => authority.as_str().as_bytes(),
            None => return false,
        },
    };
    is(origin, scheme, host)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_compare_scheme_host_and_port() {
        assert!(is(b"https://api.example", "https", b"api.example"));
        assert!(is(b"HTTPS://API.example:443", "https", b"api.example"));
        assert!(is(b"https://api.example", "https", b"api.example:443"));
        assert!(!is(b"http://api.example", "https", b"api.example"));
        assert!(!is(b"https://api.example:8443", "https", b"api.example"));
        assert!(!is(b"https://api.example/", "https", b"api.example"));
        assert!(!is(b"null", "https", b"api.example"));
        assert!(is(b"http://127.0.0.1:80", "http", b"127.0.0.1"));
    }
}
