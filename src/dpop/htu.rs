//! The `htu` check (RFC 9449 §4.3 item 9): the proof's URI, without query and fragment, against
//! the request's, after RFC 3986 §6.2.2 syntax-based normalization (scheme and host in any
//! case, the scheme's default port the same as none, percent-encodings in any hex case, an
//! empty path the same as `/`).

use http::header::HOST;
use http::{HeaderMap, Uri};

/// Where the request went: its scheme (when known), its authority, and its path.
#[derive(Debug)]
pub(crate) struct Target<'a> {
    /// `None` when neither a public origin nor the request's URI names the scheme (HTTP/1.1
    /// behind a plain server): the proof may then name `http` or `https`.
    scheme: Option<&'a str>,
    authority: &'a str,
    path: &'a str,
    /// The service may be mounted under a prefix it does not see (axum's `nest_service`):
    /// the proof's path may be a prefix followed by the request's path.
    mounted: bool,
}

impl<'a> Target<'a> {
    /// The target of a request: the public origin's scheme and authority when one is set, else
    /// the URI's scheme (HTTP/2 and absolute-form requests) and authority (`:authority`), else
    /// the `Host` header, sent once. Never a forwarded header. `None` when no authority can be
    /// had.
    pub(crate) fn of(
        public_origin: Option<&'a str>,
        uri: &'a Uri,
        headers: &'a HeaderMap,
    ) -> Option<Self> {
        let path = uri.path();
        if let Some(origin) = public_origin {
            let (scheme, authority) = origin.split_once("://")?;
            return Some(Self {
                scheme: Some(scheme),
                authority,
                path,
                mounted: false,
            });
        }
        let authority = match uri.authority() {
            Some(authority) => authority.as_str(),
            None => {
                let mut hosts = headers.get_all(HOST).iter();
                match (hosts.next(), hosts.next()) {
                    (Some(host), None) => host.to_str().ok()?,
                    _ => return None,
                }
            }
        };
        Some(Self {
            scheme: uri.scheme_str(),
            authority,
            path,
            mounted: false,
        })
    }

    /// The same target, for a service that may be mounted under a prefix it does not see.
    pub(crate) fn mounted(mut self) -> Self {
        self.mounted = true;
        self
    }

    /// Whether the proof's `htu` names this target.
    pub(crate) fn matches(&self, htu: &str) -> bool {
        // Query and fragment are not compared (RFC 9449 §4.2).
        let htu = htu.split(['?', '#']).next().unwrap_or(htu);
        let Some((scheme, rest)) = htu.split_once("://") else {
            return false;
        };
        let scheme_ok = match self.scheme {
            Some(expected) => scheme.eq_ignore_ascii_case(expected),
            None => scheme.eq_ignore_ascii_case("http") || scheme.eq_ignore_ascii_case("https"),
        };
        if !scheme_ok {
            return false;
        }
        let (authority, path) = match rest.find('/') {
            Some(at) => rest.split_at(at),
            None => (rest, ""),
        };
        // User information is never part of a target.
        if authority.contains('@') || authority.is_empty() {
            return false;
        }
        let scheme = scheme.to_ascii_lowercase();
        let ours = without_default_port(self.scheme.unwrap_or(&scheme), self.authority);
        let (theirs, ours_path) = (or_root(path), or_root(self.path));
        let path_ok = path_eq(theirs, ours_path)
            || (self.mounted
                && theirs.len() > ours_path.len()
                && theirs
                    .get(theirs.len() - ours_path.len()..)
                    .is_some_and(|tail| path_eq(tail, ours_path))
                && theirs.starts_with('/'));
        authority_eq(without_default_port(&scheme, authority), ours) && path_ok
    }
}

fn or_root(path: &str) -> &str {
    if path.is_empty() {
        "/"
    } else {
        path
    }
}

fn without_default_port<'a>(scheme: &str, authority: &'a str) -> &'a str {
    let default = if scheme.eq_ignore_ascii_case("https") {
        ":443"
    } else {
        ":80"
    };
    authority.strip_suffix(default).unwrap_or(authority)
}

fn authority_eq(a: &str, b: &str) -> bool {
    a.eq_ignore_ascii_case(b)
}

/// Paths byte for byte, except that the hex digits of a percent-encoding compare in any case.
fn path_eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut hex_left = 0;
    for (x, y) in a.iter().zip(b) {
        if hex_left > 0 {
            hex_left -= 1;
            if !x.eq_ignore_ascii_case(y) {
                return false;
            }
        } else if x != y {
            return false;
        } else if *x == b'%' {
            hex_left = 2;
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target<'a>(uri: &'a Uri, headers: &'a HeaderMap) -> Target<'a> {
        Target::of(None, uri, headers).unwrap()
    }

    #[test]
    fn rfc_3986_normalization_of_scheme_host_port_and_percent_encodings() {
        let uri: Uri = "https://server.example.com/token".parse().unwrap();
        let headers = HeaderMap::new();
        let t = target(&uri, &headers);
        assert!(t.matches("https://server.example.com/token"));
        assert!(t.matches("HTTPS://Server.Example.COM:443/token"));
        assert!(t.matches("https://server.example.com/token?x=1#f"));
        assert!(!t.matches("http://server.example.com/token"));
        assert!(!t.matches("https://server.example.com:8443/token"));
        assert!(!t.matches("https://server.example.com/Token"));
        assert!(!t.matches("https://user@server.example.com/token"));
        assert!(!t.matches("https://server.example.com/token/"));
        assert!(!t.matches("server.example.com/token"));
        let uri: Uri = "https://a.example/p%2fq".parse().unwrap();
        let t = target(&uri, &headers);
        assert!(t.matches("https://a.example/p%2Fq"));
        assert!(!t.matches("https://a.example/p/q"));
    }

    #[test]
    fn host_header_then_scheme_either_and_never_forwarded_headers() {
        let uri: Uri = "/api/me".parse().unwrap();
        let mut headers = HeaderMap::new();
        headers.insert(HOST, "127.0.0.1:8080".parse().unwrap());
        headers.insert("x-forwarded-host", "evil.example".parse().unwrap());
        let t = target(&uri, &headers);
        assert!(t.matches("http://127.0.0.1:8080/api/me"));
        assert!(t.matches("https://127.0.0.1:8080/api/me"));
        assert!(!t.matches("https://evil.example/api/me"));
        assert!(!t.matches("ftp://127.0.0.1:8080/api/me"));
        headers.append(HOST, "other.example".parse().unwrap());
        assert!(Target::of(None, &uri, &headers).is_none());
        // The public origin decides, whatever the Host header says.
        let t = Target::of(Some("https://api.example"), &uri, &headers).unwrap();
        assert!(t.matches("https://api.example/api/me"));
        assert!(t.matches("https://api.example:443/api/me"));
        assert!(!t.matches("http://api.example/api/me"));
        assert!(!t.matches("https://127.0.0.1:8080/api/me"));
    }
}
