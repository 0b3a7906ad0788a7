//! The cache lifetime a key server gives its response: `Cache-Control` (RFC 9111 §5.2.2).

use std::time::Duration;

use http::header::CACHE_CONTROL;
use http::HeaderMap;

/// `max-age` of `Cache-Control`; `no-store` and `no-cache` count as zero.
pub(super) fn max_age(headers: &HeaderMap) -> Option<Duration> {
    let mut result = None;
    for value in headers.get_all(CACHE_CONTROL) {
        let Ok(value) = value.to_str() else { continue };
        for directive in value.split(',') {
            let directive = directive.trim();
            let (name, arg) = match directive.split_once('=') {
                Some((name, arg)) => (name.trim(), Some(arg.trim().trim_matches('"'))),
                None => (directive, None),
            };
            if name.eq_ignore_ascii_case("max-age") {
                if let Some(secs) = arg.and_then(|a| a.parse::<u64>().ok()) {
                    result = Some(Duration::from_secs(secs));
                }
            } else if name.eq_ignore_ascii_case("no-store") || name.eq_ignore_ascii_case("no-cache")
            {
                return Some(Duration::ZERO);
            }
        }
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(values: &[&str]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for value in values {
            map.append(CACHE_CONTROL, value.parse().unwrap());
        }
        map
    }

    #[test]
    fn cache_control_max_age() {
        assert_eq!(max_age(&headers(&[])), None);
        assert_eq!(
            max_age(&headers(&["public, max-age=600"])),
            Some(Duration::from_secs(600))
        );
        assert_eq!(
            max_age(&headers(&["public", "Max-Age=\"60\""])),
            Some(Duration::from_secs(60))
        );
        assert_eq!(
            max_age(&headers(&["max-age=60, no-cache"])),
            Some(Duration::ZERO)
        );
        assert_eq!(max_age(&headers(&["max-age=abc"])), None);
    }
}
