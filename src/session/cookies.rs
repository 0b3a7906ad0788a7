//! [`CookieSettings`]: the `Set-Cookie` headers of a session for browsers (the access token,
//! the refresh token and the CSRF cookie), and the [`TokenSource`] that reads them back.

use std::fmt;
use std::time::Duration;

use cookie::time::{Duration as CookieDuration, OffsetDateTime};
use cookie::{Cookie, SameSite};
use http::HeaderValue;

use super::refresh_token::SessionCryptoError;
use super::token_pair::TokenPair;
use crate::csrf::{CsrfKey, CsrfRandomError};
use crate::error::ConfigError;
use crate::source::TokenSource;

/// The longest `Set-Cookie` header the helpers produce: 4,096 bytes, the size browsers
/// guarantee to keep (RFC 6265 §6.1). A longer one would be dropped silently; the helpers refuse
/// it with [`CookieError::TooLarge`] instead.
pub const MAX_SET_COOKIE_LEN: usize = 4096;

/// The refresh cookie's default `Path`: `/auth`, which covers the refresh, logout and session
/// endpoints and nothing else.
pub const DEFAULT_REFRESH_PATH: &str = "/auth";

/// One place for every cookie name: the base names, prefixed when `Secure`.
const ACCESS: (&str, &str) = ("__Host-access_token", "access_token");
const REFRESH: (&str, &str) = ("__Secure-refresh_token", "refresh_token");
const CSRF: (&str, &str) = ("__Host-csrf_token", "csrf_token");

/// How a session's cookies are set for browsers, and the [`TokenSource`] that reads the access
/// cookie back: one source of truth for their names.
///
/// | cookie | name | attributes | value |
/// |---|---|---|---|
/// | access token | `__Host-access_token` | `HttpOnly; Secure; SameSite=Lax; Path=/` | the JWT |
/// | refresh token | `__Secure-refresh_token` | `HttpOnly; Secure; SameSite=Strict; Path=/auth` | the opaque refresh token |
/// | CSRF token | `__Host-csrf_token` | `Secure; SameSite=Lax; Path=/`, readable by the page | a [`CsrfKey::token`] |
///
/// - None has a `Domain`: a cookie is sent back only to the host that set it. The `__Host-`
///   prefix makes browsers refuse a cookie of that name that has a `Domain`, lacks `Secure` or
///   has another `Path`, so a sibling subdomain cannot toss in its own access or CSRF cookie.
///   The refresh cookie's narrowed `Path` rules `__Host-` out; it gets `__Secure-`.
/// - Their `Max-Age` is the session's [remaining lifetime](TokenPair::remaining_lifetime), not
///   the access token's: an expired access token must still reach the server, get 401
///   `expired` and start a silent refresh (a cookie the browser dropped would give `missing`).
/// - [`clear`](Self::clear) gives the headers that remove them: same names, same `Path`.
/// - A header over [`MAX_SET_COOKIE_LEN`] bytes is refused ([`CookieError::TooLarge`]).
/// - **Development on plain http:** [`insecure_for_development`](Self::insecure_for_development)
///   drops `Secure`, and with it the prefixes (`access_token`, `refresh_token`, `csrf_token`);
///   [`token_source`](Self::token_source) follows. Current Chromium keeps `Secure` and prefixed
///   cookies from `http://localhost` and `http://127.0.0.1`; Safari and older browsers do not
///   and need the switch.
///
/// The layer's default cookie source is the same `__Host-access_token`; give the layer
/// [`token_source`](Self::token_source) anyway, so that it follows
/// [`insecure_for_development`](Self::insecure_for_development).
///
/// # Example
///
/// ```
/// use tower_jwt_auth::session::CookieSettings;
/// use tower_jwt_auth::TokenSource;
///
/// let cookies = CookieSettings::new();
/// assert_eq!(cookies.access_cookie_name(), "__Host-access_token");
/// assert_eq!(cookies.token_source(), TokenSource::cookie("__Host-access_token"));
/// let plain = CookieSettings::new().insecure_for_development();
/// assert_eq!(plain.token_source(), TokenSource::cookie("access_token"));
/// // Logout: three headers that remove the cookies.
/// assert_eq!(cookies.clear().len(), 3);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CookieSettings {
    secure: bool,
    refresh_path: Box<str>,
}

impl Default for CookieSettings {
    fn default() -> Self {
        Self::new()
    }
}

/// Why a `Set-Cookie` header was not produced.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum CookieError {
    /// The header would be longer than [`MAX_SET_COOKIE_LEN`] (a very large access token):
    /// browsers would drop the cookie silently.
    TooLarge {
        /// The cookie's name.
        name: &'static str,
        /// The header's length in bytes.
        len: usize,
    },
    /// The value cannot stand in a cookie (a byte outside the cookie-octet set).
    InvalidValue {
        /// The cookie's name.
        name: &'static str,
    },
    /// The CSRF token could not be made: the system's random number generator failed.
    Random,
}

impl fmt::Display for CookieError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CookieError::TooLarge { name, len } => write!(
                f,
                "the Set-Cookie header of {name} would have {len} bytes, over the \
                 {MAX_SET_COOKIE_LEN} browsers keep: use a smaller access token (fewer claims)"
            ),
            CookieError::InvalidValue { name } => {
                write!(f, "the value of {name} cannot stand in a cookie")
            }
            CookieError::Random => f.write_str("the system's random number generator failed"),
        }
    }
}

impl std::error::Error for CookieError {}

impl From<SessionCryptoError> for CookieError {
    fn from(_: SessionCryptoError) -> Self {
        CookieError::Random
    }
}

impl From<CsrfRandomError> for CookieError {
    fn from(_: CsrfRandomError) -> Self {
        CookieError::Random
    }
}

impl CookieSettings {
    /// `Secure` cookies with prefixes, the refresh cookie on [`DEFAULT_REFRESH_PATH`].
    pub fn new() -> Self {
        Self {
            secure: true,
            refresh_path: DEFAULT_REFRESH_PATH.into(),
        }
    }

    /// Drops `Secure`, and with it the `__Host-` and `__Secure-` prefixes, for development on
    /// plain `http` with browsers that refuse `Secure` cookies there (Safari, older Chrome).
    /// Never in production: the cookies would then travel over plain http.
    pub fn insecure_for_development(mut self) -> Self {
        self.secure = false;
        self
    }

    /// The refresh cookie's `Path`: where the refresh, logout and session endpoints are served
    /// ([`DEFAULT_REFRESH_PATH`] by default).
    ///
    /// # Errors
    ///
    /// [`ConfigError::InvalidCookiePath`] for a path that does not start with `/` or holds
    /// anything but visible ASCII without `;`.
    pub fn refresh_path(mut self, path: impl AsRef<str>) -> Result<Self, ConfigError> {
        let path = path.as_ref();
        let valid = path.starts_with('/')
            && path
                .bytes()
                .all(|b| (0x21..=0x7e).contains(&b) && b != b';');
        if !valid {
            return Err(ConfigError::InvalidCookiePath {
                path: path.to_owned(),
            });
        }
        self.refresh_path = path.into();
        Ok(self)
    }

    /// Whether the cookies are `Secure` (and prefixed).
    pub fn is_secure(&self) -> bool {
        self.secure
    }

    fn name(&self, names: (&'static str, &'static str)) -> &'static str {
        if self.secure {
            names.0
        } else {
            names.1
        }
    }

    /// The access cookie's name: `__Host-access_token`, or `access_token` when insecure.
    pub fn access_cookie_name(&self) -> &'static str {
        self.name(ACCESS)
    }

    /// The refresh cookie's name: `__Secure-refresh_token`, or `refresh_token` when insecure.
    pub fn refresh_cookie_name(&self) -> &'static str {
        self.name(REFRESH)
    }

    /// The CSRF cookie's name: `__Host-csrf_token`, or `csrf_token` when insecure.
    pub fn csrf_cookie_name(&self) -> &'static str {
        self.name(CSRF)
    }

    /// The refresh cookie's `Path`.
    pub fn refresh_cookie_path(&self) -> &str {
        &self.refresh_path
    }

    /// The layer's source for the access cookie these settings set.
    pub fn token_source(&self) -> TokenSource {
        TokenSource::cookie(self.access_cookie_name())
    }

    /// The `Set-Cookie` headers of `pair`: the access cookie and the refresh cookie, and, with
    /// a `csrf` key, a new CSRF cookie bound to the pair's session. All with the session's
    /// remaining lifetime as `Max-Age`.
    ///
    /// # Errors
    ///
    /// [`CookieError::TooLarge`] when a header would exceed [`MAX_SET_COOKIE_LEN`];
    /// [`CookieError::Random`] when no CSRF token could be made.
    pub fn set(
        &self,
        pair: &TokenPair,
        csrf: Option<&CsrfKey>,
    ) -> Result<Vec<HeaderValue>, CookieError> {
        let max_age = pair.remaining_lifetime();
        let mut headers = vec![
            self.build(
                ACCESS,
                pair.access_token(),
                true,
                "/",
                SameSite::Lax,
                max_age,
            )?,
            self.build(
                REFRESH,
                pair.refresh_token(),
                true,
                &self.refresh_path,
                SameSite::Strict,
                max_age,
            )?,
        ];
        if let Some(key) = csrf {
            headers.push(self.csrf_cookie(&key.token(pair.sid())?, max_age)?);
        }
        Ok(headers)
    }

    /// The `Set-Cookie` header of the CSRF cookie holding `token` (from [`CsrfKey::token`]):
    /// readable by the page, `SameSite=Lax; Path=/`.
    ///
    /// # Errors
    ///
    /// [`CookieError::TooLarge`] or [`CookieError::InvalidValue`].
    pub fn csrf_cookie(&self, token: &str, max_age: Duration) -> Result<HeaderValue, CookieError> {
        self.build(CSRF, token, false, "/", SameSite::Lax, max_age)
    }

    /// The `Set-Cookie` headers that remove the three cookies (logout): empty values,
    /// `Max-Age=0` and an `Expires` in the past, with the same names and `Path`s.
    pub fn clear(&self) -> Vec<HeaderValue> {
        [
            (ACCESS, true, "/", SameSite::Lax),
            (REFRESH, true, &*self.refresh_path, SameSite::Strict),
            (CSRF, false, "/", SameSite::Lax),
        ]
        .into_iter()
        .filter_map(|(names, http_only, path, same_site)| {
            let cookie = self
                .builder(names, "", http_only, path, same_site)
                .max_age(CookieDuration::ZERO)
                .expires(OffsetDateTime::UNIX_EPOCH)
                .build();
            HeaderValue::try_from(cookie.to_string()).ok()
        })
        .collect()
    }

    fn builder<'a>(
        &self,
        names: (&'static str, &'static str),
        value: &'a str,
        http_only: bool,
        path: &'a str,
        same_site: SameSite,
    ) -> cookie::CookieBuilder<'a> {
        Cookie::build((self.name(names), value))
            .http_only(http_only)
            .secure(self.secure)
            .same_site(same_site)
            .path(path)
    }

    fn build(
        &self,
        names: (&'static str, &'static str),
        value: &str,
        http_only: bool,
        path: &str,
        same_site: SameSite,
        max_age: Duration,
    ) -> Result<HeaderValue, CookieError> {
        let name = self.name(names);
        // RFC 6265 cookie-octets: what a JWT, a refresh token and a CSRF token are made of.
        if !value.bytes().all(|b| {
            b == 0x21
                || (0x23..=0x2b).contains(&b)
                || (0x2d..=0x3a).contains(&b)
                || (0x3c..=0x5b).contains(&b)
                || (0x5d..=0x7e).contains(&b)
        }) {
            return Err(CookieError::InvalidValue { name });
        }
        let seconds = i64::try_from(max_age.as_secs()).unwrap_or(i64::MAX);
        let cookie = self
            .builder(names, value, http_only, path, same_site)
            .max_age(CookieDuration::seconds(seconds))
            .build()
            .to_string();
        if cookie.len() > MAX_SET_COOKIE_LEN {
            return Err(CookieError::TooLarge {
                name,
                len: cookie.len(),
            });
        }
        HeaderValue::try_from(cookie).map_err(|_| CookieError::InvalidValue { name })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair(access: &str) -> TokenPair {
        TokenPair::new(
            access.to_owned(),
            "refresh-token".to_owned(),
            60,
            0,
            "sid-1".to_owned(),
            3600,
        )
    }

    fn texts(headers: &[HeaderValue]) -> Vec<&str> {
        headers.iter().map(|h| h.to_str().unwrap()).collect()
    }

    #[test]
    fn secure_cookies_have_prefixes_and_the_documented_attributes() {
        let key = CsrfKey::new(&[7; 32]).unwrap();
        let set = CookieSettings::new()
            .set(&pair("a.b.c"), Some(&key))
            .unwrap();
        let set = texts(&set);
        assert_eq!(
            set[0],
            "__Host-access_token=a.b.c; HttpOnly; SameSite=Lax; Secure; Path=/; Max-Age=3600"
        );
        assert_eq!(
            set[1],
            "__Secure-refresh_token=refresh-token; HttpOnly; SameSite=Strict; Secure; Path=/auth; Max-Age=3600"
        );
        assert!(set[2].starts_with("__Host-csrf_token="), "{}", set[2]);
        assert!(set[2].ends_with("; SameSite=Lax; Secure; Path=/; Max-Age=3600"));
        assert!(!set[2].contains("HttpOnly") && !set.iter().any(|c| c.contains("Domain")));
        let value = set[2]
            .trim_start_matches("__Host-csrf_token=")
            .split(';')
            .next()
            .unwrap();
        assert!(key.verify("sid-1", value));
    }

    #[test]
    fn insecure_settings_drop_secure_and_the_prefixes_and_the_source_follows() {
        let settings = CookieSettings::new().insecure_for_development();
        let set = settings.set(&pair("a.b.c"), None).unwrap();
        let set = texts(&set);
        assert_eq!(
            set[0],
            "access_token=a.b.c; HttpOnly; SameSite=Lax; Path=/; Max-Age=3600"
        );
        assert!(set[1].starts_with("refresh_token=") && !set[1].contains("Secure"));
        assert_eq!(settings.token_source(), TokenSource::cookie("access_token"));
        assert_eq!(
            CookieSettings::new().token_source(),
            TokenSource::cookie("__Host-access_token")
        );
    }

    #[test]
    fn clearing_uses_the_same_names_and_paths() {
        let cleared = CookieSettings::new().clear();
        let cleared = texts(&cleared);
        assert_eq!(cleared.len(), 3);
        assert!(cleared[0].starts_with("__Host-access_token=; HttpOnly; SameSite=Lax; Secure; Path=/; Max-Age=0; Expires=Thu, 01 Jan 1970"));
        assert!(
            cleared[1].starts_with("__Secure-refresh_token=;")
                && cleared[1].contains("Path=/auth;")
        );
        assert!(cleared[2].starts_with("__Host-csrf_token=;") && !cleared[2].contains("HttpOnly"));
    }

    #[test]
    fn an_oversized_cookie_is_refused_with_a_clear_error() {
        let big = "a".repeat(MAX_SET_COOKIE_LEN);
        let err = CookieSettings::new().set(&pair(&big), None).unwrap_err();
        assert!(matches!(
            err,
            CookieError::TooLarge {
                name: "__Host-access_token",
                ..
            }
        ));
        assert!(err.to_string().contains("4096"), "{err}");
        // Just under the limit passes.
        let fits = "a".repeat(MAX_SET_COOKIE_LEN - 100);
        assert!(CookieSettings::new().set(&pair(&fits), None).is_ok());
        let bad = CookieSettings::new().set(&pair("a;b"), None).unwrap_err();
        assert_eq!(
            bad,
            CookieError::InvalidValue {
                name: "__Host-access_token"
            }
        );
    }

    #[test]
    fn refresh_path_is_validated() {
        assert!(CookieSettings::new().refresh_path("/api/auth").is_ok());
        assert!(CookieSettings::new().refresh_path("auth").is_err());
        assert!(CookieSettings::new().refresh_path("/a;b").is_err());
    }
}
