//! Which URLs a remote key set may be fetched from: absolute `https://` ones, and plain
//! `http://` only to loopback hosts under `allow_http(true)` or to hosts named one by one.

use http::Uri;

use crate::error::ConfigError;

/// `url` as a URI, when it is an absolute `https://` or `http://` URL with a host.
pub(super) fn parse_uri(url: &str) -> Result<Uri, ConfigError> {
    let uri: Uri = url.parse().map_err(|_| ConfigError::InvalidJwksUrl {
        url: url.to_owned(),
    })?;
    match (uri.scheme_str(), uri.host()) {
        (Some("https" | "http"), Some(host)) if !host.is_empty() => Ok(uri),
        _ => Err(ConfigError::InvalidJwksUrl {
            url: url.to_owned(),
        }),
    }
}

/// Whether `uri` may be fetched: `https://`, or `http://` to a loopback host when `loopback`
/// (`allow_http(true)`) or to one of `hosts` (named with `allow_http_host`).
pub(super) fn may_fetch(uri: &Uri, loopback: bool, hosts: &[String]) -> bool {
    if uri.scheme_str() != Some("http") {
        return true;
    }
    let Some(host) = uri.host() else {
        return false;
    };
    (loopback && is_loopback(host))
        || hosts
            .iter()
            .any(|allowed| allowed.eq_ignore_ascii_case(host))
}

/// `127.0.0.0/8`, `[::1]` or `localhost` (the host of a URI: IPv6 in brackets).
fn is_loopback(host: &str) -> bool {
    if host.eq_ignore_ascii_case("localhost") {
        return true;
    }
    match host.strip_prefix('[').and_then(|ip| ip.strip_suffix(']')) {
        Some(ip) => ip
            .parse::<std::net::Ipv6Addr>()
            .is_ok_and(|ip| ip.is_loopback()),
        None => host
            .parse::<std::net::Ipv4Addr>()
            .is_ok_and(|ip| ip.is_loopback()),
    }
}

/// A host name or IP address alone: what `http://{host}/` has as its whole authority.
pub(super) fn is_bare_host(host: &str) -> bool {
    !host.is_empty()
        && format!("http://{host}/").parse::<Uri>().is_ok_and(|uri| {
            uri.port().is_none()
                && uri.host() == Some(host)
                && uri.authority().map(|a| a.as_str()) == Some(host)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_http_is_for_loopback_and_named_hosts() {
        for host in [
            "127.0.0.1",
            "127.255.0.9",
            "[::1]",
            "localhost",
            "LOCALHOST",
        ] {
            assert!(is_loopback(host), "{host}");
        }
        for host in [
            "0.0.0.0",
            "10.0.0.1",
            "[::ffff:127.0.0.1]",
            "[::]",
            "localhost.example.com",
            "127.0.0.1.nip.io",
            "::1",
            "",
        ] {
            assert!(!is_loopback(host), "{host}");
        }
        for host in ["keys.internal", "10.0.0.1", "[fd00::1]", "KEYS"] {
            assert!(is_bare_host(host), "{host}");
        }
        for host in [
            "", "a:80", "u@h", "h/p", "http://h", "a b", "[::1]:80", "h?q",
        ] {
            assert!(!is_bare_host(host), "{host}");
        }
    }
}
