//! The cache lifetime a key server gives its response: `Cache-Control` (RFC 9111 §5.2.2).

use std::time::Duration;

use http::header::CACHE_CONTROL;
use http::HeaderMap;

/// The value RFC 9111 §1.2.2 has a cache use for a `delta-seconds` too large to represent.
const DELTA_SECONDS_CEILING: u64 = 1 << 31;

/// `max-age` of `Cache-Control`; `no-store` and `no-cache` count as zero. An argument counts
/// only when it is decimal digits, optionally in one pair of double quotes (RFC 9111 §5.2.2.1
/// and §1.2.2); any other (`+60`, `"60`, `""60""`, `6 0`) is ignored.
pub(crate) fn max_age(headers: &HeaderMap) -> Option<Duration> {
    let mut result = None;
    for value in headers.get_all(CACHE_CONTROL) {
        let Ok(value) = value.to_str() else { continue };
        for directive in value.split(',') {
            let directive = directive.trim();
            let (name, arg) = match directive.split_once('=') {
                Some((name, arg)) => (name.trim(), Some(arg.trim())),
                None => (directive, None),
            };
            if name.eq_ignore_ascii_case("max-age") {
                if let Some(secs) = arg.and_then(delta_seconds) {
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

/// `delta-seconds` (`1*DIGIT`), bare or in one pair of double quotes; a value too large for a
/// `u64` counts as 2^31 seconds, as RFC 9111 §1.2.2 asks.
fn delta_seconds(arg: &str) -> Option<u64> {
    let digits = match arg.strip_prefix('"') {
        Some(rest) => rest.strip_suffix('"')?,
        None => arg,
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(digits.parse::<u64>().unwrap_or(DELTA_SECONDS_CEILING))
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

    /// Fuzzing found stray quotes and a sign accepted (`max-age="60`, `max-age=+60`): only
    /// digits count, bare or in one pair of quotes.
    #[test]
    fn cache_control_max_age_is_digits_only() {
        for value in [
            "max-age=+60",
            "max-age=\"60",
            "max-age=60\"",
            "max-age=\"\"60\"\"",
            "max-age=\"+60\"",
            "max-age=-1",
            "max-age=6 0",
            "max-age=",
            "max-age=\"\"",
            "max-age=60s",
        ] {
            assert_eq!(max_age(&headers(&[value])), None, "{value}");
        }
        assert_eq!(
            max_age(&headers(&["max-age=\"60\""])),
            Some(Duration::from_secs(60))
        );
        assert_eq!(
            max_age(&headers(&["max-age = 0060 "])),
            Some(Duration::from_secs(60))
        );
        assert_eq!(
            max_age(&headers(&["max-age=99999999999999999999999"])),
            Some(Duration::from_secs(1 << 31))
        );
    }
}
