//! Verification of one compact JWS: structure, header, key, signature, registered claims, and
//! the user's claims type, in that order (RFC 7519 §7.2, RFC 8725).

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::Algorithm;
use serde::de::{self, DeserializeOwned, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;

pub(crate) mod jws;
pub(crate) mod parse;

use crate::cache::Times;
use crate::error::{AuthError, ErrorKind};
use crate::keys::issuer::Tenant;
use crate::keys::key::{kid_is_valid, Key};
use crate::keys::set::{KeyWait, Resolution};
use crate::scope::Scopes;
use crate::verify::jws::Header;
use crate::verify::parse::{classify, Claim};

/// The longest encoded header accepted, in bytes.
const MAX_HEADER_LEN: usize = 1024;

/// The clock the time claims are judged against.
pub(crate) type Clock = Arc<dyn Fn() -> SystemTime + Send + Sync>;

/// Everything the verification needs, built once with the layer.
pub(crate) struct VerifyConfig {
    /// One tenant, or several chosen by the token's `iss`.
    pub(crate) tenants: Vec<Tenant>,
    pub(crate) leeway: u64,
    pub(crate) max_lifetime: Option<u64>,
    pub(crate) exp_required: bool,
    pub(crate) required_claims: Vec<Box<str>>,
    pub(crate) typ: Option<Box<str>>,
    pub(crate) max_token_len: usize,
    pub(crate) clock: Option<Clock>,
    /// Whether the layer caches verified tokens.
    pub(crate) cache: bool,
}

impl fmt::Debug for VerifyConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerifyConfig")
            .field("tenants", &self.tenants)
            .field("leeway", &self.leeway)
            .field("max_lifetime", &self.max_lifetime)
            .field("exp_required", &self.exp_required)
            .field("required_claims", &self.required_claims)
            .field("typ", &self.typ)
            .field("max_token_len", &self.max_token_len)
            .field("clock", &self.clock.as_ref().map(|_| "<fn>"))
            .finish_non_exhaustive()
    }
}

/// A token that passed every check.
#[derive(Debug)]
pub(crate) struct Verified<C> {
    pub(crate) claims: C,
    pub(crate) scopes: Scopes,
    pub(crate) times: Times,
    /// The key that verified the token, kept only for the verified-token cache.
    pub(crate) key: Option<Arc<Key>>,
}

/// Verifies tokens with the configuration of a [`JwtAuthLayer`](crate::JwtAuthLayer), outside of
/// a request: for a token that arrives in a WebSocket message, say.
///
/// Get one with [`JwtAuthLayer::verifier`](crate::JwtAuthLayer::verifier).
pub struct TokenVerifier<C> {
    config: Arc<VerifyConfig>,
    _claims: PhantomData<fn() -> C>,
}

impl<C> Clone for TokenVerifier<C> {
    fn clone(&self) -> Self {
        Self {
            config: self.config.clone(),
            _claims: PhantomData,
        }
    }
}

impl<C> fmt::Debug for TokenVerifier<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenVerifier")
            .field("config", &self.config)
            .finish()
    }
}

impl<C: DeserializeOwned> TokenVerifier<C> {
    pub(crate) fn new(config: Arc<VerifyConfig>) -> Self {
        Self {
            config,
            _claims: PhantomData,
        }
    }

    /// Verifies a compact JWS and returns its claims, without waiting: where the key would
    /// have to be fetched first (a remote key set that does not know the token's `kid` yet), the
    /// answer is the one the layer gives when no fetch is allowed. Use
    /// [`verify_async`](Self::verify_async) to wait for the fetch.
    ///
    /// # Errors
    ///
    /// The [`AuthError`] that the layer would answer with.
    pub fn verify(&self, token: &str) -> Result<C, AuthError> {
        match verify(&self.config, token.as_bytes(), false) {
            Ok(verified) => Ok(verified.claims),
            Err(Failure::Refused(error)) => Err(error),
            Err(Failure::Wait(_)) => Err(AuthError::new(
                ErrorKind::UnknownKey,
                "No key matches the token's key id",
            )),
        }
    }

    /// Verifies a compact JWS and returns its claims, waiting for a key fetch where one is
    /// needed, as the layer does.
    ///
    /// # Errors
    ///
    /// The [`AuthError`] that the layer would answer with.
    pub async fn verify_async(&self, token: &str) -> Result<C, AuthError> {
        match verify(&self.config, token.as_bytes(), true) {
            Ok(verified) => Ok(verified.claims),
            Err(Failure::Refused(error)) => Err(error),
            Err(Failure::Wait(wait)) => {
                wait.await;
                self.verify(token)
            }
        }
    }
}

pub(crate) fn now(config: &VerifyConfig) -> u64 {
    let now = match &config.clock {
        Some(clock) => clock(),
        None => SystemTime::now(),
    };
    now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

const BAD_BASE64: AuthError = AuthError::malformed("The token is not valid base64url");

/// Decodes base64url into `buf`, which must hold `base64::decoded_len_estimate(segment.len())`
/// bytes.
fn b64_decode_into<'b>(segment: &[u8], buf: &'b mut [u8]) -> Result<&'b [u8], AuthError> {
    let len = URL_SAFE_NO_PAD
        .decode_slice(segment, buf)
        .map_err(|_| BAD_BASE64)?;
    buf.get(..len).ok_or(BAD_BASE64)
}

/// The longest signature: RSA with an 8192-bit modulus.
const MAX_SIGNATURE_LEN: usize = 1024;
/// Tokens whose decoded segments fit in this many bytes are decoded on the stack: most in the
/// small buffer, larger ones (long claims sets, RSA-4096 signatures) in the larger one.
const SMALL_SCRATCH_LEN: usize = 768;
const STACK_SCRATCH_LEN: usize = 2048;

fn algorithm_from_name(name: &str) -> Option<Algorithm> {
    Some(match name {
        "HS256" => Algorithm::HS256,
        "HS384" => Algorithm::HS384,
        "HS512" => Algorithm::HS512,
        "RS256" => Algorithm::RS256,
        "RS384" => Algorithm::RS384,
        "RS512" => Algorithm::RS512,
        "PS256" => Algorithm::PS256,
        "PS384" => Algorithm::PS384,
        "PS512" => Algorithm::PS512,
        "ES256" => Algorithm::ES256,
        "ES384" => Algorithm::ES384,
        "EdDSA" => Algorithm::EdDSA,
        _ => return None,
    })
}

pub(crate) const ALGORITHM_NOT_ALLOWED: AuthError = AuthError::new(
    ErrorKind::AlgorithmNotAllowed,
    "The token's algorithm is not allowed",
);

/// Why a token did not pass.
pub(crate) enum Failure {
    Refused(AuthError),
    /// The key may arrive with a fetch under way: verify again, without fetching, when it ends.
    Wait(KeyWait),
}

impl From<AuthError> for Failure {
    fn from(error: AuthError) -> Self {
        Failure::Refused(error)
    }
}

/// Verifies one token. The order matters: nothing about the claims is judged before the
/// signature verifies, so a forged token with a past `exp` is forged, not expired. `may_fetch`
/// says whether an unknown key may start a fetch of a remote key set.
pub(crate) fn verify<C: DeserializeOwned>(
    config: &VerifyConfig,
    token: &[u8],
    may_fetch: bool,
) -> Result<Verified<C>, Failure> {
    // 1. Size and structure, before any decoding.
    if token.len() > config.max_token_len {
        return Err(AuthError::malformed("The token is too large").into());
    }
    // Three segments: the header ends at the first dot, the signature starts after the last one
    // (both scans are short); a dot anywhere else is in the payload, and the base64url decoding
    // below refuses it, as it refuses any character outside the alphabet.
    let first = memchr::memchr(b'.', token).ok_or(NOT_A_JWS)?;
    let last = memchr::memrchr(b'.', token).ok_or(NOT_A_JWS)?;
    let (Some(header_b64), Some(payload_b64), Some(signature_b64)) = (
        token.get(..first),
        token.get(first + 1..last),
        token.get(last + 1..),
    ) else {
        return Err(NOT_A_JWS.into());
    };
    if header_b64.is_empty() || payload_b64.is_empty() || first == last {
        return Err(NOT_A_JWS.into());
    }
    if header_b64.len() > MAX_HEADER_LEN {
        return Err(AuthError::malformed("The token header is too large").into());
    }
    if signature_b64.len() > MAX_SIGNATURE_LEN * 4 / 3 + 2 {
        return Err(BAD_SIGNATURE.into());
    }

    // One scratch buffer for the three decoded segments: on the stack for ordinary tokens, no
    // larger than the token needs (it is zeroed first).
    let segments = Segments {
        header: header_b64,
        payload: payload_b64,
        signature: signature_b64,
    };
    let lens = segments.decoded_lens();
    let total = lens.iter().sum();
    if total <= SMALL_SCRATCH_LEN {
        verify_segments(
            config,
            token,
            segments,
            lens,
            &mut [0; SMALL_SCRATCH_LEN],
            may_fetch,
        )
    } else if total <= STACK_SCRATCH_LEN {
        verify_segments(
            config,
            token,
            segments,
            lens,
            &mut [0; STACK_SCRATCH_LEN],
            may_fetch,
        )
    } else {
        verify_segments(
            config,
            token,
            segments,
            lens,
            &mut vec![0; total],
            may_fetch,
        )
    }
}

/// The three base64url segments of a compact JWS.
#[derive(Clone, Copy)]
struct Segments<'t> {
    header: &'t [u8],
    payload: &'t [u8],
    signature: &'t [u8],
}

impl Segments<'_> {
    /// Room for each of the three decoded segments.
    fn decoded_lens(&self) -> [usize; 3] {
        [self.header, self.payload, self.signature]
            .map(|segment| base64::decoded_len_estimate(segment.len()))
    }
}

/// Verification from the decoding of the segments on, into `scratch`, which holds at least
/// the sum of `lens` ([`Segments::decoded_lens`]) bytes.
fn verify_segments<C: DeserializeOwned>(
    config: &VerifyConfig,
    token: &[u8],
    segments: Segments<'_>,
    [header_len, payload_len, _]: [usize; 3],
    scratch: &mut [u8],
    may_fetch: bool,
) -> Result<Verified<C>, Failure> {
    let Segments {
        header: header_b64,
        payload: payload_b64,
        signature: signature_b64,
    } = segments;
    let (header_buf, rest) = scratch.split_at_mut(header_len.min(scratch.len()));
    let (payload_buf, signature_buf) = rest.split_at_mut(payload_len.min(rest.len()));

    let header_json = b64_decode_into(header_b64, header_buf)?;
    let payload = b64_decode_into(payload_b64, payload_buf)?;
    let signature = b64_decode_into(signature_b64, signature_buf)?;

    // 2. Header.
    // RFC 7515 §5.2 and RFC 7519 §7.2: UTF-8 of a valid JSON object, also in members the layer
    // does not read (serde_json skips those without checking them).
    let header = std::str::from_utf8(header_json)
        .ok()
        .and_then(Header::parse)
        .ok_or(AuthError::malformed(
            "The token header is not a valid JOSE header",
        ))?;
    let algorithm = algorithm_from_name(&header.alg).ok_or(ALGORITHM_NOT_ALLOWED)?;
    let payload = std::str::from_utf8(payload).map_err(|_| NOT_A_CLAIMS_SET)?;

    // 3. The issuer's keys: with several issuers, the one the token names, before any key is
    // looked up or fetched.
    let tenant = select_tenant(config, payload)?;
    if !tenant.keys.allows(algorithm) {
        return Err(ALGORITHM_NOT_ALLOWED.into());
    }
    if let Some(kid) = &header.kid {
        if !kid_is_valid(kid) {
            return Err(AuthError::malformed("The token's key id is not acceptable").into());
        }
    }
    if header.forbidden {
        return Err(
            AuthError::malformed("The token header has a parameter that is not accepted").into(),
        );
    }
    if header.crit {
        return Err(AuthError::invalid_claims(
            "The token header lists a critical extension that is not understood",
        )
        .into());
    }
    let resolved = match tenant
        .keys
        .resolve(header.kid.as_deref(), algorithm, may_fetch)
    {
        Resolution::Found(resolved) => resolved,
        Resolution::Refused(error) => return Err(error.into()),
        Resolution::Wait(wait) => return Err(Failure::Wait(wait)),
    };

    // 4. Signature.
    if signature_b64.is_empty() {
        return Err(
            AuthError::new(ErrorKind::InvalidSignature, "The token has no signature").into(),
        );
    }
    let Some(verifier) = resolved.key().verifier(algorithm) else {
        #[cfg(feature = "tracing")]
        tracing::error!(
            algorithm = ?algorithm,
            "a key has no verifier for an algorithm it allows; this is a bug"
        );
        return Err(BAD_SIGNATURE.into());
    };
    let signed_len = header_b64.len() + 1 + payload_b64.len();
    let message = token.get(..signed_len).unwrap_or_default();
    if !verifier.verifies(message, signature) {
        return Err(BAD_SIGNATURE.into());
    }

    // 5. One parse of the claims into the user's type that also yields the registered claims,
    // then the policy checks on them.
    let mut observed = crate::verify::parse::Observed::default();
    match crate::verify::parse::parse::<C>(payload, &mut observed) {
        Ok(claims) if observed.saw_object && !observed.invalid => {
            let registered = &mut observed.registered;
            registered.scopes = Scopes::from_claims(
                observed.scope.as_deref(),
                observed.scp.as_ref().map(OneOrMany::as_slice),
            )
            .map_err(|_| NOT_A_CLAIMS_SET)?;
            check_claims(config, tenant, &header, registered)?;
            Ok(Verified {
                claims,
                scopes: std::mem::take(&mut registered.scopes),
                times: Times {
                    exp: registered.exp,
                    nbf: registered.nbf,
                    iat: registered.iat,
                },
                key: config.cache.then(|| resolved.arc()),
            })
        }
        _ => {
            // Refused: judge the registered claims on their own first, so that the reason is
            // the same whatever the user's type makes of the claims.
            let registered: Registered<'_> =
                serde_json::from_str(payload).map_err(|_| NOT_A_CLAIMS_SET)?;
            check_claims(config, tenant, &header, &registered)?;
            Err(AuthError::malformed("The token's claims do not have the expected types").into())
        }
    }
}

const NOT_A_JWS: AuthError =
    AuthError::malformed("The token is not a compact JWS of three segments");
const NOT_A_CLAIMS_SET: AuthError =
    AuthError::malformed("The token's claims are not a valid claims set");
const BAD_SIGNATURE: AuthError = AuthError::new(
    ErrorKind::InvalidSignature,
    "The token's signature does not verify",
);
const ISSUER_NOT_ACCEPTED: AuthError =
    AuthError::invalid_claims("The token's issuer is not accepted");

/// The tenant of a token: the only one, or the one whose issuer the token names. The `iss` is
/// read from the unverified payload only to choose the keys; the verified claims are checked
/// against the same issuer afterwards.
fn select_tenant<'c>(config: &'c VerifyConfig, payload: &str) -> Result<&'c Tenant, AuthError> {
    match config.tenants.as_slice() {
        [only] => Ok(only),
        tenants => {
            #[derive(Deserialize)]
            struct Issuer<'a> {
                #[serde(borrow)]
                iss: Option<Cow<'a, str>>,
            }
            let issuer: Issuer<'_> = serde_json::from_str(payload).map_err(|_| NOT_A_CLAIMS_SET)?;
            let iss = issuer.iss.ok_or(ISSUER_NOT_ACCEPTED)?;
            tenants
                .iter()
                .find(|tenant| tenant.issuers.iter().any(|i| **i == *iss))
                .ok_or(ISSUER_NOT_ACCEPTED)
        }
    }
}

/// RFC 7515 §4.1.9: a media type without '/' means "application/" + it, and media types are
/// case-insensitive; the configured `typ` is stored in this normal form.
pub(crate) fn normalize_typ(typ: &str) -> String {
    let lower = typ.to_ascii_lowercase();
    match lower.strip_prefix("application/") {
        Some(rest) => rest.to_owned(),
        None => lower,
    }
}

/// `true` when the token's `typ` names the configured type (already in normal form), compared
/// as [`normalize_typ`] would, without allocating.
fn typ_matches(typ: &str, expected: &str) -> bool {
    const PREFIX: &str = "application/";
    let rest = match typ.get(..PREFIX.len()) {
        Some(head) if head.eq_ignore_ascii_case(PREFIX) => typ.get(PREFIX.len()..).unwrap_or(""),
        _ => typ,
    };
    rest.eq_ignore_ascii_case(expected)
}

fn check_claims(
    config: &VerifyConfig,
    tenant: &Tenant,
    header: &Header<'_>,
    claims: &Registered<'_>,
) -> Result<(), AuthError> {
    if let Some(expected) = &config.typ {
        match &header.typ {
            Some(typ) if typ_matches(typ, expected) => {}
            _ => {
                return Err(AuthError::invalid_claims(
                    "The token's type is not accepted",
                ))
            }
        }
    }
    if config.exp_required && claims.exp.is_none() {
        return Err(AuthError::invalid_claims(
            "The token lacks a required claim",
        ));
    }
    for name in &config.required_claims {
        if !claims.has(name) {
            return Err(AuthError::invalid_claims(
                "The token lacks a required claim",
            ));
        }
    }
    if !tenant.issuers.is_empty() {
        match &claims.iss {
            Some(iss) if tenant.issuers.iter().any(|i| **i == **iss) => {}
            _ => return Err(ISSUER_NOT_ACCEPTED),
        }
    }
    // RFC 7519 §4.1.3: a present `aud` that does not name this service is refused, and a
    // service that names no audience names itself in none.
    if !tenant.audiences.is_empty() || claims.has("aud") {
        let accepted = claims.aud.as_ref().is_some_and(|aud| {
            aud.as_slice()
                .iter()
                .any(|aud| tenant.audiences.iter().any(|a| **a == **aud))
        });
        if !accepted {
            return Err(AuthError::invalid_claims(
                "The token's audience is not accepted",
            ));
        }
    }
    if let Some(sub) = &claims.sub {
        if sub.is_empty() {
            return Err(AuthError::invalid_claims("The token's subject is empty"));
        }
    }

    let now = now(config) as f64;
    let leeway = config.leeway as f64;
    if let Some(exp) = claims.exp {
        // RFC 7519 §4.1.4: the current time must be before exp.
        if now >= exp + leeway {
            return Err(AuthError::new(
                ErrorKind::Expired,
                "The access token expired",
            ));
        }
        if let Some(max) = config.max_lifetime {
            let max = max as f64;
            let too_long =
                exp - now > max + leeway || claims.iat.is_some_and(|iat| exp - iat > max);
            if too_long {
                return Err(AuthError::invalid_claims(
                    "The token's lifetime is above the accepted maximum",
                ));
            }
        }
    }
    if let Some(nbf) = claims.nbf {
        if now + leeway < nbf {
            return Err(AuthError::new(
                ErrorKind::NotYetValid,
                "The access token is not valid yet",
            ));
        }
    }
    if let Some(iat) = claims.iat {
        if now + leeway < iat {
            return Err(AuthError::new(
                ErrorKind::NotYetValid,
                "The access token was issued in the future",
            ));
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Registered claims

/// The registered claims the layer judges, read in one pass that also refuses duplicate names
/// (RFC 7519 §4) and claims of the wrong type.
#[derive(Debug, Default)]
pub(crate) struct Registered<'a> {
    pub(crate) exp: Option<f64>,
    pub(crate) nbf: Option<f64>,
    pub(crate) iat: Option<f64>,
    pub(crate) iss: Option<Cow<'a, str>>,
    pub(crate) sub: Option<Cow<'a, str>>,
    pub(crate) aud: Option<OneOrMany<'a>>,
    pub(crate) scopes: Scopes,
    /// The registered claim names seen, one bit each ([`Claim::bit`]).
    pub(crate) seen: u16,
    /// Every other name seen.
    pub(crate) names: Names<'a>,
}

impl<'a> Registered<'a> {
    /// Records a member name classified as `claim`: a registered claim name as a bit, without
    /// hashing or storing it, any other name in `names`. A name seen before is refused.
    pub(crate) fn record(&mut self, claim: Claim, name: Cow<'a, str>) -> Result<(), &'static str> {
        match claim.bit() {
            Some(bit) if self.seen & bit != 0 => Err("duplicate name"),
            Some(bit) => {
                self.seen |= bit;
                Ok(())
            }
            None => self.names.insert(name),
        }
    }

    pub(crate) fn has(&self, name: &str) -> bool {
        match classify(name).bit() {
            Some(bit) => self.seen & bit != 0,
            None => self.names.contains(name),
        }
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Registered<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ClaimsVisitor<'a>(PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for ClaimsVisitor<'a> {
            type Value = Registered<'a>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JWT claims set object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Registered<'a>, A::Error> {
                let mut claims = Registered::default();
                let mut scope = None;
                let mut scp = None;
                while let Some(name) = map.next_key::<Str<'de>>()? {
                    let claim = classify(&name.0);
                    match claim {
                        Claim::Exp => claims.exp = Some(map.next_value::<NumericDate>()?.0),
                        Claim::Nbf => claims.nbf = Some(map.next_value::<NumericDate>()?.0),
                        Claim::Iat => claims.iat = Some(map.next_value::<NumericDate>()?.0),
                        Claim::Iss => claims.iss = Some(map.next_value::<Str<'de>>()?.0),
                        Claim::Sub => claims.sub = Some(map.next_value::<Str<'de>>()?.0),
                        Claim::Jti | Claim::ClientId => {
                            map.next_value::<Str<'de>>()?;
                        }
                        Claim::Aud => claims.aud = Some(map.next_value::<OneOrMany<'de>>()?),
                        Claim::Scope => scope = Some(map.next_value::<Str<'de>>()?.0),
                        Claim::Scp => scp = Some(map.next_value::<OneOrMany<'de>>()?),
                        Claim::Other => {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                    claims.record(claim, name.0).map_err(de::Error::custom)?;
                }
                claims.scopes =
                    Scopes::from_claims(scope.as_deref(), scp.as_ref().map(OneOrMany::as_slice))
                        .map_err(de::Error::custom)?;
                Ok(claims)
            }
        }
        deserializer.deserialize_map(ClaimsVisitor(PhantomData))
    }
}

/// The names seen in a JSON object, to refuse duplicates: the first borrowed ones inline,
/// without allocating, the rest (and names with escapes) in a sorted vector. A 64-bit filter of their
/// hashes answers most look-ups without comparing strings.
#[derive(Debug)]
pub(crate) struct Names<'a> {
    filter: u64,
    inline: [&'a str; INLINE_NAMES],
    len: usize,
    overflow: Vec<Cow<'a, str>>,
}

const INLINE_NAMES: usize = 16;

impl Default for Names<'_> {
    fn default() -> Self {
        Self {
            filter: 0,
            inline: [""; INLINE_NAMES],
            len: 0,
            overflow: Vec::new(),
        }
    }
}

/// One bit of the filter for `name`: its first and last bytes (overlapping for short names)
/// and its length, mixed by one multiplication, without a loop over the bytes.
fn filter_bit(name: &str) -> u64 {
    let bytes = name.as_bytes();
    let len = bytes.len();
    let word = |at: usize| -> u64 {
        bytes
            .get(at..at + 8)
            .and_then(|b| b.try_into().ok())
            .map_or(0, u64::from_le_bytes)
    };
    let half = |at: usize| -> u64 {
        bytes
            .get(at..at + 4)
            .and_then(|b| b.try_into().ok())
            .map_or(0, |b| u64::from(u32::from_le_bytes(b)))
    };
    let byte = |at: usize| -> u64 { bytes.get(at).map_or(0, |b| u64::from(*b)) };
    let mixed = if len >= 8 {
        word(0) ^ word(len - 8).rotate_left(29)
    } else if len >= 4 {
        half(0) | half(len - 4) << 32
    } else {
        byte(0) | byte(len / 2) << 8 | byte(len.saturating_sub(1)) << 16
    };
    let hash = (mixed ^ (len as u64).rotate_right(8)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    1u64 << (hash >> 58)
}

impl<'a> Names<'a> {
    pub(crate) fn insert(&mut self, name: Cow<'a, str>) -> Result<(), &'static str> {
        let bit = filter_bit(&name);
        if self.filter & bit != 0 && self.scan(&name) {
            return Err("duplicate name");
        }
        self.filter |= bit;
        match name {
            Cow::Borrowed(name) if self.len < INLINE_NAMES => {
                if let Some(slot) = self.inline.get_mut(self.len) {
                    *slot = name;
                    self.len += 1;
                }
            }
            name => {
                let at = self.overflow.binary_search(&name).unwrap_or_else(|at| at);
                self.overflow.insert(at, name);
            }
        }
        Ok(())
    }

    pub(crate) fn contains(&self, name: &str) -> bool {
        self.filter & filter_bit(name) != 0 && self.scan(name)
    }

    fn scan(&self, name: &str) -> bool {
        self.inline.iter().take(self.len).any(|n| *n == name)
            || self.overflow.binary_search_by(|n| (**n).cmp(name)).is_ok()
    }
}

/// A JSON string, borrowed from the input when it has no escapes.
pub(crate) struct Str<'a>(pub(crate) Cow<'a, str>);

impl<'de> Deserialize<'de> for Str<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct StrVisitor;
        impl<'de> Visitor<'de> for StrVisitor {
            type Value = Str<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Str<'de>, E> {
                Ok(Str(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Str<'de>, E> {
                Ok(Str(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Str<'de>, E> {
                Ok(Str(Cow::Owned(v)))
            }
        }
        deserializer.deserialize_str(StrVisitor)
    }
}

/// A string or an array of strings (`aud`, `scp`); a single string needs no allocation.
#[derive(Debug)]
pub(crate) enum OneOrMany<'a> {
    One(Cow<'a, str>),
    Many(Vec<Cow<'a, str>>),
}

impl<'a> OneOrMany<'a> {
    pub(crate) fn as_slice(&self) -> &[Cow<'a, str>] {
        match self {
            OneOrMany::One(one) => std::slice::from_ref(one),
            OneOrMany::Many(many) => many,
        }
    }
}

impl<'de> Deserialize<'de> for OneOrMany<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct OneOrManyVisitor;
        impl<'de> Visitor<'de> for OneOrManyVisitor {
            type Value = OneOrMany<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string or an array of strings")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(OneOrMany::One(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(OneOrMany::One(Cow::Owned(v.to_owned())))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut all = Vec::new();
                while let Some(item) = seq.next_element::<Str<'de>>()? {
                    all.push(item.0);
                }
                Ok(OneOrMany::Many(all))
            }
        }
        deserializer.deserialize_any(OneOrManyVisitor)
    }
}

/// RFC 7519 §2 NumericDate: a non-negative JSON number of seconds, fractions allowed.
struct NumericDate(f64);

impl<'de> Deserialize<'de> for NumericDate {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct DateVisitor;
        impl Visitor<'_> for DateVisitor {
            type Value = NumericDate;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a non-negative number of seconds")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<NumericDate, E> {
                Ok(NumericDate(v as f64))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<NumericDate, E> {
                u64::try_from(v)
                    .map(|v| NumericDate(v as f64))
                    .map_err(|_| E::custom("negative date"))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<NumericDate, E> {
                if v.is_finite() && v >= 0.0 {
                    Ok(NumericDate(v))
                } else {
                    Err(E::custom("date out of range"))
                }
            }
        }
        deserializer.deserialize_any(DateVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typ_is_compared_as_its_normal_form() {
        for typ in [
            "at+jwt",
            "AT+JWT",
            "application/at+jwt",
            "Application/At+Jwt",
            "at+JWT",
        ] {
            assert!(typ_matches(typ, &normalize_typ(typ)), "{typ}");
            assert!(typ_matches(typ, "at+jwt"), "{typ}");
        }
        for typ in [
            "jwt",
            "at+jwt ",
            "application/",
            "applicationat+jwt",
            "app/at+jwt",
            "é",
        ] {
            assert!(!typ_matches(typ, "at+jwt"), "{typ}");
            assert_eq!(
                typ_matches(typ, "at+jwt"),
                normalize_typ(typ) == "at+jwt",
                "{typ}"
            );
        }
        // "application/application/x" normalises once, as `normalize_typ` does.
        assert!(typ_matches("application/application/x", "application/x"));
        assert_eq!(normalize_typ("application/application/x"), "application/x");
    }

    #[test]
    fn names_refuse_every_repeat_and_only_repeats() {
        let mut names = Names::default();
        // Names sharing their first eight bytes, or differing only in length, or long.
        let distinct = [
            "a",
            "a\0",
            "ab",
            "abcdefgh",
            "abcdefghi",
            "abcdefghj",
            "",
            "exp",
            "https://x.example/a",
            "https://x.example/b",
            "é",
            "e",
        ];
        for name in distinct {
            assert!(names.insert(Cow::Borrowed(name)).is_ok(), "{name:?}");
        }
        for name in distinct {
            assert!(names.contains(name), "{name:?}");
            assert!(names.insert(Cow::Borrowed(name)).is_err(), "{name:?}");
            assert!(
                names.insert(Cow::Owned(name.to_owned())).is_err(),
                "{name:?}"
            );
        }
        assert!(!names.contains("abcdefgz"));
        assert!(!names.contains("https://x.example/c"));
        // Past the inline slots, and names that came with escapes (owned), still count.
        let many: Vec<String> = (0..40).map(|i| format!("claim-{i}")).collect();
        for name in &many {
            assert!(names.insert(Cow::Borrowed(name)).is_ok(), "{name}");
        }
        assert!(names.insert(Cow::Owned("late".to_owned())).is_ok());
        for name in &many {
            assert!(names.insert(Cow::Borrowed(name)).is_err(), "{name}");
        }
        assert!(names.insert(Cow::Borrowed("late")).is_err());
        assert!(names.insert(Cow::Borrowed("a")).is_err());
    }
}
