//! CSRF protection for tokens that came from a cookie: [`CsrfGuard`] (Fetch Metadata and
//! `Origin`, on by default) and the signed double-submit cookie ([`CsrfKey`], opt-in).
//!
//! A cookie is the only credential a browser attaches by itself, so only a token found in a
//! [cookie source](crate::TokenSource::cookie) is subject to the guard; a token from
//! `Authorization`, a custom header or the query is not. The guard judges unsafe methods
//! (anything but `GET`, `HEAD` and `OPTIONS`) and WebSocket upgrades (a `GET` with
//! `Upgrade: websocket`, which acts like a state-changing request).
//!
//! A refusal is 403 with the body `{"error":"csrf","error_description":..,"reason":"csrf"}`, no
//! `WWW-Authenticate` challenge, gRPC 7 `PERMISSION_DENIED`, under every status policy; it is
//! never treated as anonymous by an optional layer, since the browser did send credentials.

pub(crate) mod origin;

use std::fmt;
use std::sync::Arc;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use http::header::ORIGIN;
use http::{HeaderMap, HeaderName, HeaderValue, Method, Uri};
use ring::rand::SecureRandom as _;
use ring::{hkdf, hmac};

use crate::error::{AuthError, ConfigError, ErrorKind};
use crate::source::{cookie_value, Found, TokenSourceKind};

/// The header in which a page echoes the CSRF cookie in [double-submit](CsrfGuard::double_submit)
/// mode: `x-csrf-token`.
pub const CSRF_HEADER: HeaderName = HeaderName::from_static("x-csrf-token");

/// The shortest secret a [`CsrfKey`] is made from: 32 bytes.
pub const MIN_CSRF_SECRET_LEN: usize = 32;

const SEC_FETCH_SITE: HeaderName = HeaderName::from_static("sec-fetch-site");
/// The longest JWT payload segment read for its `sid` (the layer bounds tokens anyway).
const MAX_PAYLOAD_LEN: usize = 16 * 1024;
const NONCE_LEN: usize = 16;
/// Domain separation of the MAC and of the key derivation.
const MAC_CONTEXT: &[u8] = b"tower-jwt-auth csrf v1\0";
const HKDF_SALT: &[u8] = b"tower-jwt-auth csrf key salt v1";
const HKDF_INFO: &[u8] = b"tower-jwt-auth csrf key v1";

const CROSS_SITE: AuthError = AuthError::new(ErrorKind::Csrf, "A cross-site request was refused");
const UNTRUSTED: AuthError = AuthError::new(
    ErrorKind::Csrf,
    "The request comes from an origin that is not trusted",
);
const NO_ORIGIN: AuthError = AuthError::new(
    ErrorKind::Csrf,
    "The request carries neither Sec-Fetch-Site nor Origin",
);
const DUPLICATE: AuthError = AuthError::new(
    ErrorKind::Csrf,
    "A CSRF-relevant header (Sec-Fetch-Site, Origin or x-csrf-token) was sent more than once",
);
const NO_HEADER: AuthError = AuthError::new(
    ErrorKind::Csrf,
    "The x-csrf-token header is missing: echo the CSRF cookie in it",
);
const MISMATCH: AuthError = AuthError::new(
    ErrorKind::Csrf,
    "The x-csrf-token header does not match a CSRF cookie of this session",
);

/// The key of the signed double-submit cookie: an HMAC-SHA256 key. Instances that share it
/// accept each other's CSRF cookies.
///
/// # Example
///
/// ```
/// use tower_jwt_auth::csrf::CsrfKey;
///
/// // Derived (HKDF-SHA256) from secret material the service already has.
/// let key = CsrfKey::derive(b"the service's secret, at least 32 bytes")?;
/// let token = key.token("session-id")?;
/// assert!(key.verify("session-id", &token));
/// assert!(!key.verify("another-session", &token));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct CsrfKey {
    key: hmac::Key,
}

impl fmt::Debug for CsrfKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CsrfKey(<redacted>)")
    }
}

/// The HKDF output length of a [`CsrfKey`] (32 bytes).
struct KeyLen;

impl hkdf::KeyType for KeyLen {
    fn len(&self) -> usize {
        32
    }
}

impl CsrfKey {
    /// A key used as it is.
    ///
    /// # Errors
    ///
    /// [`ConfigError::CsrfSecretTooShort`] for fewer than [`MIN_CSRF_SECRET_LEN`] bytes.
    pub fn new(key: &[u8]) -> Result<Self, ConfigError> {
        check_len(key)?;
        Ok(Self {
            key: hmac::Key::new(hmac::HMAC_SHA256, key),
        })
    }

    /// A key derived by HKDF-SHA256 from `secret` (for example the HS256 secret of the
    /// service), with a salt and an info string of the crate's own, so that the CSRF key is
    /// never the signing key itself.
    ///
    /// # Errors
    ///
    /// [`ConfigError::CsrfSecretTooShort`] for fewer than [`MIN_CSRF_SECRET_LEN`] bytes.
    pub fn derive(secret: &[u8]) -> Result<Self, ConfigError> {
        check_len(secret)?;
        let prk = hkdf::Salt::new(hkdf::HKDF_SHA256, HKDF_SALT).extract(secret);
        let mut bytes = [0u8; 32];
        // Both steps fail only for an output length HKDF-SHA256 cannot give; 32 bytes it can.
        let filled = prk
            .expand(&[HKDF_INFO], KeyLen)
            .and_then(|okm| okm.fill(&mut bytes));
        if filled.is_err() {
            return Err(ConfigError::CsrfSecretTooShort {
                len: secret.len(),
                min: MIN_CSRF_SECRET_LEN,
            });
        }
        Ok(Self {
            key: hmac::Key::new(hmac::HMAC_SHA256, &bytes),
        })
    }

    /// A new CSRF token for the session `sid`: a random nonce and an HMAC over `sid` and the
    /// nonce, both base64url, joined by `.`. The value of the CSRF cookie.
    ///
    /// # Errors
    ///
    /// [`CsrfRandomError`] when the system's random number generator fails.
    pub fn token(&self, sid: &str) -> Result<String, CsrfRandomError> {
        let mut nonce = [0u8; NONCE_LEN];
        ring::rand::SystemRandom::new()
            .fill(&mut nonce)
            .map_err(|_| CsrfRandomError)?;
        let tag = hmac::sign(&self.key, &message(sid, &nonce));
        Ok(format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(nonce),
            URL_SAFE_NO_PAD.encode(tag.as_ref())
        ))
    }

    /// Whether `token` is a CSRF token this key made for the session `sid`. The MAC is compared
    /// in constant time.
    pub fn verify(&self, sid: &str, token: &str) -> bool {
        let Some((nonce, tag)) = token.split_once('.') else {
            return false;
        };
        let (Ok(nonce), Ok(tag)) = (URL_SAFE_NO_PAD.decode(nonce), URL_SAFE_NO_PAD.decode(tag))
        else {
            return false;
        };
        nonce.len() == NONCE_LEN && hmac::verify(&self.key, &message(sid, &nonce), &tag).is_ok()
    }
}

/// No CSRF token could be made ([`CsrfKey::token`]): the system's random number generator
/// failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct CsrfRandomError;

impl fmt::Display for CsrfRandomError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the system random number generator failed")
    }
}

impl std::error::Error for CsrfRandomError {}

fn check_len(secret: &[u8]) -> Result<(), ConfigError> {
    if secret.len() < MIN_CSRF_SECRET_LEN {
        return Err(ConfigError::CsrfSecretTooShort {
            len: secret.len(),
            min: MIN_CSRF_SECRET_LEN,
        });
    }
    Ok(())
}

/// The MAC's input: a context, the length of `sid`, `sid`, the nonce.
fn message(sid: &str, nonce: &[u8]) -> Vec<u8> {
    let mut message = Vec::with_capacity(MAC_CONTEXT.len() + 8 + sid.len() + nonce.len());
    message.extend_from_slice(MAC_CONTEXT);
    message.extend_from_slice(&(sid.len() as u64).to_be_bytes());
    message.extend_from_slice(sid.as_bytes());
    message.extend_from_slice(nonce);
    message
}

/// The CSRF protection of a layer (and of [`SessionEndpoints`](crate::session::SessionEndpoints)) for
/// tokens that came from a cookie.
///
/// - **Default: Fetch Metadata.** `Sec-Fetch-Site: same-origin` or `none` passes,
///   `cross-site` is refused, `same-site` passes only when its `Origin` is a
///   [trusted origin](Self::trusted_origin). Without `Sec-Fetch-Site` (browsers before 2023),
///   the `Origin` header must be a trusted origin or the service's own origin, scheme
///   included: the [public origin](Self::public_origin) when set, else the request's scheme
///   (from an absolute URI, `https` by default; never from `X-Forwarded-*`) and `Host`. A
///   request with neither header is not from a current browser (every browser since 2020 sends
///   `Origin` on a cross-origin `POST`, and `Sec-Fetch-Site` on every request); only a browser
///   attaches cookies on its own, so it passes, unless [`require_origin`](Self::require_origin)
///   is on.
/// - **Opt-in: [the signed double-submit cookie](Self::double_submit).** On top of the check
///   above, every unsafe cookie-authenticated request must carry the CSRF cookie's value in
///   [`x-csrf-token`](CSRF_HEADER): the same value, with a valid HMAC for the token's `sid`.
/// - Duplicated `Sec-Fetch-Site`, `Origin` or `x-csrf-token` headers, and values that are not
///   visible ASCII, are refused.
///
/// # Example
///
/// ```
/// use tower_jwt_auth::csrf::{CsrfGuard, CsrfKey};
/// use tower_jwt_auth::session::CookieSettings;
/// use tower_jwt_auth::{Algorithm, JwtAuthLayer, Key};
///
/// let cookies = CookieSettings::new();
/// let guard = CsrfGuard::new()
///     .trusted_origin("https://app.example")?
///     .double_submit(
///         CsrfKey::derive(b"the service's secret, at least 32 bytes")?,
///         cookies.csrf_cookie_name(),
///     );
/// let layer = JwtAuthLayer::<serde_json::Value>::builder()
///     .key(Key::hmac(Algorithm::HS256, b"the service's secret, at least 32 bytes")?)
///     .issuer("https://issuer.example")?
///     .audience("api")?
///     .token_sources([tower_jwt_auth::TokenSource::bearer(), cookies.token_source()])?
///     .csrf(guard)
///     .build()?;
/// # let _ = layer;
/// # Ok::<(), tower_jwt_auth::ConfigError>(())
/// ```
#[derive(Clone, Debug)]
pub struct CsrfGuard {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    enabled: bool,
    /// Lower-case `scheme://host[:port]`.
    trusted: Vec<Box<str>>,
    /// The service's own origin behind a proxy, lower-case.
    public_origin: Option<Box<str>>,
    /// Refuse a judged request with neither `Sec-Fetch-Site` nor `Origin`.
    require_origin: bool,
    double_submit: Option<DoubleSubmit>,
}

#[derive(Debug)]
struct DoubleSubmit {
    key: CsrfKey,
    cookie: Box<str>,
}

impl Default for CsrfGuard {
    fn default() -> Self {
        Self::new()
    }
}

impl CsrfGuard {
    /// The default guard: Fetch Metadata and `Origin`, no trusted origins, no double-submit.
    pub fn new() -> Self {
        Self {
            inner: Arc::new(Inner {
                enabled: true,
                trusted: Vec::new(),
                public_origin: None,
                require_origin: false,
                double_submit: None,
            }),
        }
    }

    /// No CSRF protection at all: only for a service whose cookie tokens are protected some
    /// other way (a service no browser talks to should not read cookies in the first place).
    pub fn disabled() -> Self {
        Self {
            inner: Arc::new(Inner {
                enabled: false,
                trusted: Vec::new(),
                public_origin: None,
                require_origin: false,
                double_submit: None,
            }),
        }
    }

    fn edit(mut self, edit: impl FnOnce(&mut Inner)) -> Self {
        match Arc::get_mut(&mut self.inner) {
            Some(inner) => edit(inner),
            None => {
                let mut inner = Inner {
                    enabled: self.inner.enabled,
                    trusted: self.inner.trusted.clone(),
                    public_origin: self.inner.public_origin.clone(),
                    require_origin: self.inner.require_origin,
                    double_submit: self.inner.double_submit.as_ref().map(|d| DoubleSubmit {
                        key: d.key.clone(),
                        cookie: d.cookie.clone(),
                    }),
                };
                edit(&mut inner);
                self.inner = Arc::new(inner);
            }
        }
        self
    }

    /// Trusts `origin` (`scheme://host[:port]`, as browsers send it in `Origin`): a `same-site`
    /// request from it passes, and so does a request without `Sec-Fetch-Site` whose `Origin` it
    /// is. Typically the origin of the web app, the same setting as the CORS allowed origin.
    ///
    /// # Errors
    ///
    /// [`ConfigError::InvalidTrustedOrigin`] for anything but `http(s)://host[:port]`.
    pub fn trusted_origin(self, origin: impl AsRef<str>) -> Result<Self, ConfigError> {
        let origin = origin.as_ref();
        let valid = origin
            .strip_prefix("https://")
            .or_else(|| origin.strip_prefix("http://"))
            .is_some_and(|authority| {
                !authority.is_empty()
                    && authority
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"-.:[]".contains(&b))
            });
        if !valid {
            return Err(ConfigError::InvalidTrustedOrigin {
                origin: origin.to_owned(),
            });
        }
        let origin: Box<str> = origin.to_ascii_lowercase().into();
        Ok(self.edit(|inner| inner.trusted.push(origin)))
    }

    /// The service's own origin, `scheme://host[:port]` as browsers send it in `Origin`, for a
    /// service behind a proxy or TLS terminator (where the request's scheme and `Host` are not
    /// those the browser used). When set, a request without `Sec-Fetch-Site` passes on its
    /// `Origin` only when it is this origin (or a [trusted one](Self::trusted_origin)), scheme
    /// included. It is one setting, never read from `X-Forwarded-*` headers. When unset, the
    /// request's own scheme and `Host` are used, the scheme `https` unless the request's URI is
    /// absolute.
    ///
    /// # Errors
    ///
    /// [`ConfigError::InvalidPublicOrigin`] for anything but `http(s)://host[:port]`.
    pub fn public_origin(self, origin: &str) -> Result<Self, ConfigError> {
        if origin::split(origin.as_bytes()).is_none() {
            return Err(ConfigError::InvalidPublicOrigin {
                origin: origin.to_owned(),
            });
        }
        let origin: Box<str> = origin.to_ascii_lowercase().into();
        Ok(self.edit(|inner| inner.public_origin = Some(origin)))
    }

    /// Refuses a judged request (an unsafe cookie-authenticated one, or one through
    /// [`check_origin`](Self::check_origin)) that carries neither `Sec-Fetch-Site` nor
    /// `Origin`. Off by default, since such a request does not come from a current browser.
    /// Turn it on when every client that sends the cookies is a browser (a web app's own API):
    /// it then also refuses requests from old browsers, from extensions or privacy tools that
    /// strip both headers, and from anything that replays the cookies without them. Leave it off
    /// when non-browser clients call the same endpoints with cookies or log in without `Origin`.
    pub fn require_origin(self, required: bool) -> Self {
        self.edit(|inner| inner.require_origin = required)
    }

    /// Turns on the signed double-submit cookie: every unsafe cookie-authenticated request must
    /// echo the value of the CSRF cookie named `csrf_cookie` in [`x-csrf-token`](CSRF_HEADER),
    /// with a valid HMAC under `key` for the token's session (`sid`). With the session's cookies,
    /// the name is
    /// [`CookieSettings::csrf_cookie_name`](crate::session::CookieSettings::csrf_cookie_name),
    /// and [`CookieSettings::set`](crate::session::CookieSettings::set) sets the cookie (or
    /// [`CookieSettings::csrf_cookie`](crate::session::CookieSettings::csrf_cookie) with a token
    /// from [`CsrfKey::token`]). A cookie token without a `sid` (from an identity provider
    /// without sessions) cannot be bound, so its unsafe requests are refused in this mode.
    pub fn double_submit(self, key: CsrfKey, csrf_cookie: impl Into<String>) -> Self {
        let cookie: Box<str> = csrf_cookie.into().into_boxed_str();
        self.edit(|inner| {
            inner.enabled = true;
            inner.double_submit = Some(DoubleSubmit { key, cookie });
        })
    }

    /// The double-submit key, when that mode is on.
    pub(crate) fn key(&self) -> Option<&CsrfKey> {
        self.inner.double_submit.as_ref().map(|d| &d.key)
    }

    /// Whether the guard judges requests at all.
    pub fn is_enabled(&self) -> bool {
        self.inner.enabled
    }

    /// Whether the double-submit cookie is required.
    pub fn is_double_submit(&self) -> bool {
        self.inner.double_submit.is_some()
    }

    /// The Fetch Metadata / `Origin` check alone, whatever the method: for endpoints that must
    /// not be driven by another site although they carry no token yet, such as a login
    /// endpoint (login CSRF). Passes when the guard is [disabled](Self::disabled). Without a
    /// URI, the request's scheme is taken as `https` (or the [public origin](Self::public_origin)'s);
    /// [`check_request_origin`](Self::check_request_origin) takes it from an absolute URI.
    ///
    /// # Errors
    ///
    /// An [`AuthError`] of kind [`ErrorKind::Csrf`] when the request is refused.
    pub fn check_origin(&self, headers: &HeaderMap) -> Result<(), AuthError> {
        self.judge_origin(None, headers)
    }

    /// [`check_origin`](Self::check_origin) for a request of `uri`: the request's scheme is the
    /// URI's when it is absolute (HTTP/2), `https` otherwise.
    ///
    /// # Errors
    ///
    /// An [`AuthError`] of kind [`ErrorKind::Csrf`] when the request is refused.
    pub fn check_request_origin(&self, uri: &Uri, headers: &HeaderMap) -> Result<(), AuthError> {
        self.judge_origin(Some(uri), headers)
    }

    fn judge_origin(&self, uri: Option<&Uri>, headers: &HeaderMap) -> Result<(), AuthError> {
        if !self.inner.enabled {
            return Ok(());
        }
        let origin = single(headers, &ORIGIN)?;
        match single(headers, &SEC_FETCH_SITE)? {
            Some(b"same-origin" | b"none") => Ok(()),
            Some(b"same-site") => match origin {
                Some(origin) if self.is_trusted(origin) => Ok(()),
                _ => Err(UNTRUSTED),
            },
            Some(b"cross-site") => Err(CROSS_SITE),
            // An unknown value: not a browser we know how to judge.
            Some(_) => Err(UNTRUSTED),
            None => match origin {
                None if self.inner.require_origin => Err(NO_ORIGIN),
                None => Ok(()),
                Some(origin)
                    if self.is_trusted(origin)
                        || origin::is_own(
                            origin,
                            self.inner.public_origin.as_deref(),
                            uri,
                            headers,
                        ) =>
                {
                    Ok(())
                }
                Some(_) => Err(UNTRUSTED),
            },
        }
    }

    /// The double-submit check for the session `sid`: the `x-csrf-token` header is present
    /// once, equals the CSRF cookie, and carries a valid HMAC for `sid`. Passes when
    /// double-submit is off.
    pub(crate) fn check_double_submit(
        &self,
        headers: &HeaderMap,
        sid: Option<&str>,
    ) -> Result<(), AuthError> {
        let Some(double_submit) = &self.inner.double_submit else {
            return Ok(());
        };
        let header = single(headers, &CSRF_HEADER)?.ok_or(NO_HEADER)?;
        let cookie = cookie_value(headers, double_submit.cookie.as_bytes())
            .map_err(|_| DUPLICATE)?
            .ok_or(MISMATCH)?;
        let (Some(sid), Ok(header)) = (sid, std::str::from_utf8(header)) else {
            return Err(MISMATCH);
        };
        if !constant_time_eq(header.as_bytes(), cookie) || !double_submit.key.verify(sid, header) {
            return Err(MISMATCH);
        }
        Ok(())
    }

    /// Whether a request of `method` with these headers is judged: an unsafe method, or a
    /// WebSocket upgrade.
    pub(crate) fn applies(&self, method: &Method, headers: &HeaderMap) -> bool {
        self.inner.enabled && (is_unsafe(method) || is_websocket_upgrade(method, headers))
    }

    /// The layer's check, for the token `found` of a request: nothing unless the token came
    /// from a cookie and [`applies`](Self::applies); then the Fetch Metadata / `Origin` check
    /// and, for an unsafe method, the double-submit check against the token's `sid`.
    ///
    /// The `sid` is read from the token's payload before the signature is checked: a token
    /// that then fails verification is refused (or anonymous, and then it grants nothing), and
    /// one that passes is the very payload the `sid` was read from.
    #[inline]
    pub(crate) fn check(
        &self,
        method: &Method,
        uri: &Uri,
        headers: &HeaderMap,
        found: &Found<'_>,
    ) -> Result<(), AuthError> {
        if found.source != TokenSourceKind::Cookie || !self.applies(method, headers) {
            return Ok(());
        }
        self.check_request_origin(uri, headers)?;
        if is_unsafe(method) && self.is_double_submit() {
            let sid = unverified_sid(found.token);
            self.check_double_submit(headers, sid.as_deref())?;
        }
        Ok(())
    }

    fn is_trusted(&self, origin: &[u8]) -> bool {
        self.inner
            .trusted
            .iter()
            .any(|trusted| origin.eq_ignore_ascii_case(trusted.as_bytes()))
    }
}

/// Anything but `GET`, `HEAD` and `OPTIONS`.
pub(crate) fn is_unsafe(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// A `GET` with `Upgrade: websocket` (in any case, among other protocols).
fn is_websocket_upgrade(method: &Method, headers: &HeaderMap) -> bool {
    method == Method::GET
        && headers.get_all(http::header::UPGRADE).iter().any(|value| {
            value
                .as_bytes()
                .split(|b| *b == b',')
                .any(|p| p.trim_ascii().eq_ignore_ascii_case(b"websocket"))
        })
}

/// The value of a header sent at most once, as visible ASCII; refused when sent twice or with
/// other bytes.
fn single<'a>(headers: &'a HeaderMap, name: &HeaderName) -> Result<Option<&'a [u8]>, AuthError> {
    let mut values = headers.get_all(name).iter();
    match (values.next(), values.next()) {
        (None, _) => Ok(None),
        (Some(_), Some(_)) => Err(DUPLICATE),
        (Some(value), None) if is_visible_ascii(value) => Ok(Some(value.as_bytes())),
        (Some(_), None) => Err(AuthError::new(
            ErrorKind::Csrf,
            "A CSRF-relevant header holds bytes other than visible ASCII",
        )),
    }
}

fn is_visible_ascii(value: &HeaderValue) -> bool {
    value.as_bytes().iter().all(|b| (0x21..=0x7e).contains(b))
}

/// `a == b` in time that does not depend on where they differ (`subtle`).
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    use subtle::ConstantTimeEq as _;
    bool::from(a.ct_eq(b))
}

/// The `sid` claim of a JWT's payload, unverified; `None` when there is none or the payload
/// does not parse (a duplicated `sid` included).
fn unverified_sid(token: &[u8]) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct SidOnly {
        sid: Option<String>,
    }
    let mut segments = token.split(|b| *b == b'.');
    let payload = segments.nth(1)?;
    if payload.len() > MAX_PAYLOAD_LEN {
        return None;
    }
    let json = URL_SAFE_NO_PAD.decode(payload).ok()?;
    serde_json::from_slice::<SidOnly>(&json).ok()?.sid
}

#[cfg(test)]
mod tests;
