//! Minting access tokens: [`AccessTokenMinter`] (the issuing settings and the signing keys) and
//! [`AccessToken`] (one minted token); what a token grants is a [`Grant`].

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use ring::rand::{SecureRandom, SystemRandom};
use serde::Serialize;
use serde_json::{Map, Value};

use super::grant::{Grant, IssueError};
use crate::clock::{checked_unix_secs, Clock};
use crate::error::ConfigError;
use crate::keys::signing::SigningKeys;

/// The lifetime of an access token unless another is configured: 10 minutes.
pub const DEFAULT_ACCESS_TTL: Duration = Duration::from_secs(10 * 60);

/// The longest access token lifetime that can be configured: 24 hours, the layer's default
/// maximum lifetime (`DEFAULT_MAX_LIFETIME`), so that every token minted passes it.
pub const MAX_ACCESS_TTL: Duration = Duration::from_secs(24 * 60 * 60);

/// Random bytes in a `jti` or a session id: 128 bits.
const ID_BYTES: usize = 16;

/// A minted access token, with the identifiers and times it carries.
///
/// Its `Debug` output leaves the token out: it is a bearer credential.
#[derive(Clone)]
pub struct AccessToken {
    token: String,
    jti: String,
    sid: String,
    issued_at: u64,
    expires_at: u64,
}

impl fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccessToken")
            .field("token", &"[redacted]")
            .field("jti", &self.jti)
            .field("sid", &self.sid)
            .field("issued_at", &self.issued_at)
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

impl AccessToken {
    /// The compact JWS, for an `Authorization: Bearer` header.
    pub fn as_str(&self) -> &str {
        &self.token
    }

    /// The compact JWS.
    pub fn into_string(self) -> String {
        self.token
    }

    /// The token's `jti`: 128 random bits, base64url.
    pub fn jti(&self) -> &str {
        &self.jti
    }

    /// The token's session id, `sid`.
    pub fn sid(&self) -> &str {
        &self.sid
    }

    /// The token's `iat`.
    pub fn issued_at(&self) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(self.issued_at)
    }

    /// The token's `exp`.
    pub fn expires_at(&self) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(self.expires_at)
    }

    /// `exp - iat`: the `expires_in` of an OAuth token response.
    pub fn lifetime(&self) -> Duration {
        Duration::from_secs(self.expires_at.saturating_sub(self.issued_at))
    }
}

/// Mints access tokens: signed JWTs that a layer configured from the same settings accepts.
///
/// Each token has the header `alg`, `typ` (`at+jwt` with
/// [`at_jwt_typ(true)`](AccessTokenMinterBuilder::at_jwt_typ), else `JWT`) and `kid` (when the
/// active key has one), and the claims `iss`, `sub`, `aud` (when configured: a string, or an
/// array for several audiences), `iat`, `exp` (`iat` plus the lifetime, 10 minutes by
/// default), a random `jti` (128 bits from the system's random number generator, base64url),
/// `sid` (the session), `scope` (the grant's scopes, space-separated, left out when there are
/// none) and the grant's custom claims. It signs with the active key of its [`SigningKeys`].
///
/// The layer that checks these tokens is configured from the same settings:
/// `.keys(minter.signing_keys().verification_keys())` (or a JWKS served from
/// [`SigningKeys::jwks_document`]), `.issuer(..)`, `.audience(..)`, and `.typ("at+jwt")` when the
/// tokens are typed so (RFC 8725 §3.11: a token of another kind is then refused).
///
/// Cloning is cheap: clones share the configuration.
///
/// # Example
///
/// ```
/// use tower_jwt_auth::session::{AccessTokenMinter, Grant};
/// use tower_jwt_auth::{Algorithm, JwtAuthLayer, SigningKey};
///
/// #[derive(Clone, serde::Deserialize)]
/// struct Claims {
///     sub: String,
/// }
///
/// let signing = SigningKey::hmac(Algorithm::HS256, b"an example secret of 32 bytes!!!")?;
/// let minter = AccessTokenMinter::builder(signing.clone())?
///     .issuer("https://issuer.example")?
///     .audience("api")?
///     .at_jwt_typ(true)
///     .build()?;
/// let auth = JwtAuthLayer::<Claims>::builder()
///     .key(signing.verification_key())
///     .issuer("https://issuer.example")?
///     .audience("api")?
///     .typ("at+jwt")?
///     .build()?;
/// # let _ = auth;
///
/// let token = minter.mint(&Grant::new("user-42").scope("read")).expect("minted");
/// assert_eq!(token.lifetime().as_secs(), 600);
/// assert_eq!(token.as_str().split('.').count(), 3);
/// # Ok::<(), tower_jwt_auth::ConfigError>(())
/// ```
#[derive(Clone)]
pub struct AccessTokenMinter {
    inner: Arc<Inner>,
}

struct Inner {
    keys: SigningKeys,
    /// The base64url header, the same for every token.
    header: String,
    issuer: Box<str>,
    /// The audiences, in the order they were added.
    audiences: Box<[String]>,
    /// `aud`: a string, an array, or nothing.
    audience: Option<Value>,
    ttl: u64,
    at_jwt: bool,
    clock: Clock,
    rng: SystemRandom,
}

impl fmt::Debug for AccessTokenMinter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let inner = &*self.inner;
        f.debug_struct("AccessTokenMinter")
            .field("keys", &inner.keys)
            .field("issuer", &inner.issuer)
            .field("audience", &inner.audience)
            .field("ttl", &inner.ttl)
            .field("at_jwt", &inner.at_jwt)
            .field("clock", &inner.clock)
            .finish_non_exhaustive()
    }
}

/// The claims of one token, in the order they are written.
#[derive(Serialize)]
struct Claims<'a> {
    iss: &'a str,
    sub: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    aud: Option<&'a Value>,
    iat: u64,
    exp: u64,
    jti: &'a str,
    sid: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    scope: &'a str,
    #[serde(flatten)]
    custom: &'a Map<String, Value>,
}

/// `bytes` random bytes from `rng`, base64url without padding.
pub(crate) fn random_id(rng: &dyn SecureRandom, bytes: usize) -> Result<String, IssueError> {
    let mut buf = vec![0u8; bytes];
    rng.fill(&mut buf).map_err(|_| IssueError::Random)?;
    Ok(URL_SAFE_NO_PAD.encode(buf))
}

impl AccessTokenMinter {
    /// Starts a configuration that signs with `keys` (one [`SigningKey`](crate::SigningKey), or
    /// a [`SigningKeys`] set with keys kept for verification).
    ///
    /// # Errors
    ///
    /// The errors of the signing keys' `kid`s (see [`SigningKeys`]).
    pub fn builder(keys: impl Into<SigningKeys>) -> Result<AccessTokenMinterBuilder, ConfigError> {
        AccessTokenMinterBuilder::new().signing_keys(keys.into())
    }

    /// Mints an access token for `grant` in a new session: its `sid` is 128 random bits,
    /// base64url.
    ///
    /// # Errors
    ///
    /// An [`IssueError`]: a grant with an empty subject, a scope that is not a scope-token or a
    /// custom claim with a reserved name; or a failure of the clock, the random number
    /// generator or the signature.
    pub fn mint(&self, grant: &Grant) -> Result<AccessToken, IssueError> {
        let sid = self.new_session_id()?;
        self.mint_at(grant, &sid, self.now())
    }

    /// A new random session id: 128 bits, base64url.
    pub(crate) fn new_session_id(&self) -> Result<String, IssueError> {
        random_id(&self.inner.rng, ID_BYTES)
    }

    /// The minter's clock: what `iat` and `exp` are read from.
    pub(crate) fn clock(&self) -> &Clock {
        &self.inner.clock
    }

    /// The current time by the minter's clock.
    pub(crate) fn now(&self) -> SystemTime {
        self.inner.clock.now()
    }

    /// Mints an access token for `grant` in the session `sid`, issued at `now`.
    pub(crate) fn mint_at(
        &self,
        grant: &Grant,
        sid: &str,
        now: SystemTime,
    ) -> Result<AccessToken, IssueError> {
        grant.check()?;
        let inner = &*self.inner;
        let iat = checked_unix_secs(now).ok_or(IssueError::Clock)?;
        let exp = iat.checked_add(inner.ttl).ok_or(IssueError::Clock)?;
        let jti = random_id(&inner.rng, ID_BYTES)?;
        let scope = grant.scope_claim();
        let claims = Claims {
            iss: &inner.issuer,
            sub: grant.subject(),
            aud: inner.audience.as_ref(),
            iat,
            exp,
            jti: &jti,
            sid,
            scope: &scope,
            custom: grant.claims(),
        };
        let payload = serde_json::to_vec(&claims).map_err(|_| IssueError::Signing)?;

        let mut token = String::with_capacity(inner.header.len() + payload.len() * 4 / 3 + 400);
        token.push_str(&inner.header);
        token.push('.');
        URL_SAFE_NO_PAD.encode_string(&payload, &mut token);
        let signature = inner
            .keys
            .active()
            .sign(token.as_bytes())
            .map_err(|_| IssueError::Signing)?;
        token.push('.');
        URL_SAFE_NO_PAD.encode_string(&signature, &mut token);
        Ok(AccessToken {
            token,
            jti,
            sid: sid.to_owned(),
            issued_at: iat,
            expires_at: exp,
        })
    }

    /// The signing keys: the active one and those kept for verification.
    pub fn signing_keys(&self) -> &SigningKeys {
        &self.inner.keys
    }

    /// The lifetime of the tokens minted.
    pub fn ttl(&self) -> Duration {
        Duration::from_secs(self.inner.ttl)
    }

    /// The `iss` of the tokens minted.
    pub fn issuer(&self) -> &str {
        &self.inner.issuer
    }

    /// The audiences of the tokens minted, in the order they were added.
    pub fn audiences(&self) -> &[String] {
        &self.inner.audiences
    }

    /// Whether the tokens are typed `at+jwt`.
    pub fn is_at_jwt_typ(&self) -> bool {
        self.inner.at_jwt
    }
}

/// The settings of an [`AccessTokenMinter`]; see [`AccessTokenMinter::builder`]. A setting
/// whose value is invalid fails at once; [`build`](Self::build) reports what needs the whole
/// configuration.
pub struct AccessTokenMinterBuilder {
    keys: Option<SigningKeys>,
    issuer: Option<Box<str>>,
    audiences: Vec<String>,
    ttl: Duration,
    at_jwt: bool,
    clock: Clock,
}

impl fmt::Debug for AccessTokenMinterBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccessTokenMinterBuilder")
            .field("keys", &self.keys)
            .field("issuer", &self.issuer)
            .field("audiences", &self.audiences)
            .field("ttl", &self.ttl)
            .field("at_jwt", &self.at_jwt)
            .field("clock", &self.clock)
            .finish()
    }
}

/// The error of a setting: [`ConfigError::InvalidIssuing`].
pub(crate) fn invalid(setting: &'static str, problem: &'static str) -> ConfigError {
    ConfigError::InvalidIssuing { setting, problem }
}

/// `value` when it can go into `iss` or `aud`: not empty, no control character.
fn claim_value(setting: &'static str, value: String) -> Result<String, ConfigError> {
    if value.is_empty() || value.chars().any(char::is_control) {
        return Err(invalid(
            setting,
            "must not be empty or hold control characters",
        ));
    }
    Ok(value)
}

impl AccessTokenMinterBuilder {
    /// The defaults, without signing keys (the sessions' builder gets them later).
    pub(crate) fn new() -> Self {
        Self {
            keys: None,
            issuer: None,
            audiences: Vec::new(),
            ttl: DEFAULT_ACCESS_TTL,
            at_jwt: false,
            clock: Clock::system(),
        }
    }

    /// The signing keys, replacing any set before.
    ///
    /// # Errors
    ///
    /// The errors of the keys' `kid`s (see [`SigningKeys`]).
    pub(crate) fn signing_keys(mut self, keys: SigningKeys) -> Result<Self, ConfigError> {
        keys.check()?;
        self.keys = Some(keys);
        Ok(self)
    }

    /// The `iss` of every token (required): the exact string the layer's `issuer` expects.
    ///
    /// # Errors
    ///
    /// [`ConfigError::InvalidIssuing`] for an empty issuer or one with a control character.
    pub fn issuer(mut self, issuer: impl Into<String>) -> Result<Self, ConfigError> {
        self.issuer = Some(claim_value("issuer", issuer.into())?.into_boxed_str());
        Ok(self)
    }

    /// Adds an audience: `aud` is this string, or an array when several are added. Without
    /// any, tokens carry no `aud`, which only a layer without an audience accepts.
    ///
    /// # Errors
    ///
    /// [`ConfigError::InvalidIssuing`] for an empty audience or one with a control character.
    pub fn audience(mut self, audience: impl Into<String>) -> Result<Self, ConfigError> {
        self.audiences
            .push(claim_value("audience", audience.into())?);
        Ok(self)
    }

    /// The lifetime of each token, `exp - iat`, in whole seconds: 1 second to
    /// [`MAX_ACCESS_TTL`] (24 hours); [`DEFAULT_ACCESS_TTL`] (10 minutes) by default.
    ///
    /// # Errors
    ///
    /// [`ConfigError::InvalidIssuing`] for a lifetime outside 1 second to 24 hours.
    pub fn ttl(mut self, ttl: Duration) -> Result<Self, ConfigError> {
        if ttl.as_secs() == 0 || ttl > MAX_ACCESS_TTL {
            return Err(invalid(
                "access token lifetime",
                "must be 1 second to 24 hours",
            ));
        }
        self.ttl = ttl;
        Ok(self)
    }

    /// Types the tokens `at+jwt` (RFC 9068 §2.1), so that a layer with `.typ("at+jwt")` tells
    /// them from every other kind of JWT (RFC 8725 §3.11). Off by default (`typ` is then
    /// `JWT`). RFC 9068 also requires an audience.
    pub fn at_jwt_typ(mut self, at_jwt: bool) -> Self {
        self.at_jwt = at_jwt;
        self
    }

    /// The clock `iat` and `exp` are read from; [`Clock::system`] by default. For tests.
    pub fn clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// Builds the minter.
    ///
    /// # Errors
    ///
    /// [`ConfigError::InvalidIssuing`] without an issuer, or for `at+jwt` without an audience.
    pub fn build(self) -> Result<AccessTokenMinter, ConfigError> {
        let Some(keys) = self.keys else {
            return Err(invalid("signing key", "is required"));
        };
        let Some(issuer) = self.issuer else {
            return Err(invalid("issuer", "is required"));
        };
        if self.at_jwt && self.audiences.is_empty() {
            return Err(invalid(
                "audience",
                "is required for at+jwt tokens (RFC 9068)",
            ));
        }
        let audience = match self.audiences.as_slice() {
            [] => None,
            [one] => Some(Value::String(one.clone())),
            all => Some(Value::Array(
                all.iter().cloned().map(Value::String).collect(),
            )),
        };
        let active = keys.active();
        let mut header = Map::new();
        header.insert("alg".into(), active.alg_name().into());
        header.insert(
            "typ".into(),
            if self.at_jwt { "at+jwt" } else { "JWT" }.into(),
        );
        if let Some(kid) = active.kid() {
            header.insert("kid".into(), kid.into());
        }
        let header = URL_SAFE_NO_PAD.encode(Value::Object(header).to_string());
        Ok(AccessTokenMinter {
            inner: Arc::new(Inner {
                keys,
                header,
                issuer,
                audiences: self.audiences.into_boxed_slice(),
                audience,
                ttl: self.ttl.as_secs(),
                at_jwt: self.at_jwt,
                clock: self.clock,
                rng: SystemRandom::new(),
            }),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::signing::SigningKey;
    use crate::session::grant::RESERVED_CLAIMS;
    use jsonwebtoken::Algorithm;
    use serde_json::json;

    const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";
    const NOW: u64 = 1_800_000_000;

    fn minter(at_jwt: bool) -> AccessTokenMinter {
        let key = SigningKey::hmac(Algorithm::HS256, SECRET)
            .unwrap()
            .with_kid("k1");
        AccessTokenMinter::builder(key)
            .and_then(|b| b.issuer("https://issuer.example"))
            .and_then(|b| b.audience("api"))
            .unwrap()
            .at_jwt_typ(at_jwt)
            .clock(Clock::manual(UNIX_EPOCH + Duration::from_secs(NOW)))
            .build()
            .unwrap()
    }

    fn parts(token: &AccessToken) -> (Value, Value) {
        let mut segments = token.as_str().split('.');
        let mut json = || {
            let bytes = URL_SAFE_NO_PAD.decode(segments.next().unwrap()).unwrap();
            serde_json::from_slice::<Value>(&bytes).unwrap()
        };
        (json(), json())
    }

    #[test]
    fn header_and_claims_are_as_documented() {
        let grant = Grant::new("user-1")
            .scopes(["read", "write", "read"])
            .claim("name", "Ada")
            .claim("groups", json!(["staff"]));
        let token = minter(true).mint(&grant).unwrap();
        let (header, claims) = parts(&token);
        assert_eq!(
            header,
            json!({"alg": "HS256", "typ": "at+jwt", "kid": "k1"})
        );
        assert_eq!(claims["iss"], "https://issuer.example");
        assert_eq!(claims["aud"], "api");
        assert_eq!(claims["sub"], "user-1");
        assert_eq!(claims["iat"], NOW);
        assert_eq!(claims["exp"], NOW + 600);
        assert_eq!(claims["scope"], "read write");
        assert_eq!(claims["name"], "Ada");
        assert_eq!(claims["groups"], json!(["staff"]));
        assert_eq!(claims["jti"], token.jti());
        assert_eq!(claims["sid"], token.sid());
        assert_eq!(token.lifetime(), DEFAULT_ACCESS_TTL);
        assert_eq!(
            token.expires_at(),
            UNIX_EPOCH + Duration::from_secs(NOW + 600)
        );
        // Compact JSON, in the documented order.
        let payload = token.as_str().split('.').nth(1).unwrap();
        let text = String::from_utf8(URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
        assert!(
            text.starts_with(r#"{"iss":"https://issuer.example","sub":"user-1","aud":"api","#),
            "{text}"
        );
        assert!(!text.contains(' ') || text.contains("read write"), "{text}");

        let (header, claims) = parts(&minter(false).mint(&Grant::new("u")).unwrap());
        assert_eq!(header["typ"], "JWT");
        assert!(claims.get("scope").is_none());
    }

    #[test]
    fn jti_and_sid_are_128_random_bits() {
        let minter = minter(false);
        let a = minter.mint(&Grant::new("u")).unwrap();
        let b = minter.mint(&Grant::new("u")).unwrap();
        for id in [a.jti(), a.sid(), b.jti(), b.sid()] {
            assert_eq!(URL_SAFE_NO_PAD.decode(id).unwrap().len(), 16, "{id}");
        }
        assert_ne!(a.jti(), b.jti());
        assert_ne!(a.sid(), b.sid());
        // A session's tokens share the sid and nothing else.
        let now = minter.now();
        let c = minter.mint_at(&Grant::new("u"), "session-1", now).unwrap();
        let d = minter.mint_at(&Grant::new("u"), "session-1", now).unwrap();
        assert_eq!((c.sid(), d.sid()), ("session-1", "session-1"));
        assert_ne!(c.jti(), d.jti());
        assert_ne!(c.as_str(), d.as_str());
    }

    #[test]
    fn bad_grants_are_refused() {
        let minter = minter(false);
        assert_eq!(
            minter.mint(&Grant::new("")).unwrap_err(),
            IssueError::EmptySubject
        );
        for scope in ["", "two words", "quo\"te", "back\\slash", "é", "tab\t"] {
            assert_eq!(
                minter.mint(&Grant::new("u").scope(scope)).unwrap_err(),
                IssueError::InvalidScope {
                    scope: scope.to_owned()
                }
            );
        }
        for name in RESERVED_CLAIMS {
            assert_eq!(
                minter.mint(&Grant::new("u").claim(name, 1)).unwrap_err(),
                IssueError::ReservedClaim {
                    name: name.to_owned()
                }
            );
        }
        assert!(minter
            .mint(&Grant::new("u").scope("a:b!#[]~").claim("client_id", "app"))
            .is_ok());
    }

    #[test]
    fn the_settings_are_checked() {
        let key = || SigningKey::hmac(Algorithm::HS256, SECRET).unwrap();
        let builder = || AccessTokenMinter::builder(key()).unwrap();
        let issuing = |err: Result<AccessTokenMinter, ConfigError>| {
            matches!(err, Err(ConfigError::InvalidIssuing { .. }))
        };
        assert!(issuing(builder().build()));
        assert!(issuing(builder().issuer("").and_then(|b| b.build())));
        assert!(issuing(
            builder()
                .issuer("i")
                .and_then(|b| b.audience("a\nb"))
                .and_then(|b| b.build())
        ));
        assert!(issuing(
            builder()
                .issuer("i")
                .and_then(|b| b.at_jwt_typ(true).build())
        ));
        for ttl in [
            Duration::ZERO,
            Duration::from_millis(999),
            MAX_ACCESS_TTL * 2,
        ] {
            assert!(issuing(
                builder()
                    .issuer("i")
                    .and_then(|b| b.ttl(ttl))
                    .and_then(|b| b.build())
            ));
        }
        let minter = builder()
            .issuer("i")
            .and_then(|b| b.audience("a"))
            .and_then(|b| b.audience("b"))
            .and_then(|b| b.ttl(MAX_ACCESS_TTL))
            .and_then(|b| b.build())
            .unwrap();
        assert_eq!(minter.ttl(), MAX_ACCESS_TTL);
        let (header, claims) = parts(&minter.mint(&Grant::new("u")).unwrap());
        assert_eq!(claims["aud"], json!(["a", "b"]));
        assert_eq!(header, json!({"alg": "HS256", "typ": "JWT"}));
        assert!(matches!(
            AccessTokenMinter::builder(key().with_kid(""))
                .and_then(|b| b.issuer("i"))
                .and_then(|b| b.build()),
            Err(ConfigError::InvalidKid)
        ));
    }

    #[test]
    fn a_clock_out_of_range_is_an_error() {
        let minter = minter(false);
        let before_1970 = UNIX_EPOCH - Duration::from_secs(1);
        assert_eq!(
            minter
                .mint_at(&Grant::new("u"), "s", before_1970)
                .unwrap_err(),
            IssueError::Clock
        );
    }

    #[test]
    fn the_token_is_never_in_debug_output() {
        let token = minter(false).mint(&Grant::new("u")).unwrap();
        let printed = format!("{token:?}");
        assert!(!printed.contains(token.as_str()), "{printed}");
        assert!(printed.contains("redacted"));
        let printed = format!("{:?}", minter(false));
        assert!(!printed.contains("0123456789"), "{printed}");
    }

    #[test]
    fn grants_round_trip_through_serde() {
        let grant = Grant::new("u").scope("read").claim("n", 1);
        let json = serde_json::to_string(&grant).unwrap();
        assert_eq!(serde_json::from_str::<Grant>(&json).unwrap(), grant);
        assert_eq!(
            serde_json::from_str::<Grant>(r#"{"sub":"x"}"#).unwrap(),
            Grant::new("x")
        );
    }
}
