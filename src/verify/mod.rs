//! Verification: one compact JWS in, typed claims (or a classified failure) out. This folder owns
//! every step from the token's bytes to the checked claims; this file runs them in order.
//!
//! The order is that of RFC 7519 §7.2 and RFC 8725: structure and header (`jws`), the issuer's
//! key (`policy` chooses the issuer, the keys module the key), signature, then one pass over the
//! claims into the user's type and the registered claims (`parse`, `claims`, `scopes`), judged by
//! the claims policy (`policy`) with the layer's settings (`config`).

pub(crate) mod claims;
pub(crate) mod config;
pub(crate) mod identity;
pub(crate) mod jws;
pub(crate) mod parse;
pub(crate) mod policy;
pub(crate) mod roles;
pub(crate) mod scopes;

use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;

use jsonwebtoken::Algorithm;
use serde::de::DeserializeOwned;

pub(crate) use self::config::{now, IdentityRule, VerifyConfig};
pub(crate) use self::policy::normalize_typ;
use crate::error::{AuthError, ErrorKind};
use crate::keys::key::{kid_is_valid, Key};
use crate::keys::set::{KeyWait, Resolution};
use crate::verify::claims::{OneOrMany, Registered, NOT_A_CLAIMS_SET};
use crate::verify::identity::TokenIdentity;
use crate::verify::jws::{with_scratch, Decoded, Header, Segments, BAD_SIGNATURE};
use crate::verify::policy::{check_claims, select_tenant};
use crate::verify::roles::Roles;
use crate::verify::scopes::Scopes;

/// A token that passed every check.
#[derive(Debug)]
pub(crate) struct Verified<C> {
    pub(crate) claims: C,
    pub(crate) scopes: Scopes,
    pub(crate) roles: Roles,
    pub(crate) times: Times,
    /// The key that verified the token, kept only for the verified-token cache.
    pub(crate) key: Option<Arc<Key>>,
    /// The claims the revocation check reads; only when the layer has a revocation store.
    pub(crate) identity: Option<TokenIdentity>,
}

const NESTED_DUPLICATE: AuthError =
    AuthError::malformed("The token's claims repeat a name in a nested object");

const LACKS_IDENTITY: AuthError =
    AuthError::invalid_claims("The token lacks a claim the revocation check reads");

/// The claims the revocation check reads, each required (and `sid` unless the rule makes it
/// optional): a token without them cannot be checked, and is refused.
fn identity_claims(
    rule: IdentityRule,
    claims: &Registered<'_>,
) -> Result<TokenIdentity, AuthError> {
    let (Some(jti), Some(sub), Some(iat), Some(exp)) =
        (&claims.jti, &claims.sub, claims.iat, claims.exp)
    else {
        return Err(LACKS_IDENTITY);
    };
    if jti.is_empty() {
        return Err(AuthError::invalid_claims("The token's jti is empty"));
    }
    let sid = match &claims.sid {
        Some(sid) if sid.is_empty() => {
            return Err(AuthError::invalid_claims("The token's sid is empty"))
        }
        Some(sid) => Some(sid.to_string()),
        // A `sid` that is not a string names a session the store cannot be asked about.
        None if claims.has("sid") => {
            return Err(AuthError::invalid_claims("The token's sid is not a string"))
        }
        None if rule.sid_required => return Err(LACKS_IDENTITY),
        None => None,
    };
    // Both are finite and not negative (the parse refuses anything else); whole seconds.
    Ok(TokenIdentity {
        jti: jti.to_string(),
        sid,
        sub: sub.to_string(),
        iss: claims.iss.as_deref().map(str::to_owned),
        iat: iat as u64,
        exp: exp as u64,
    })
}

/// The time claims of a token, judged again on every hit.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Times {
    pub(crate) exp: Option<f64>,
    pub(crate) nbf: Option<f64>,
    pub(crate) iat: Option<f64>,
}

impl Times {
    /// The checks of the verification that depend on the current time (RFC 7519 §4.1.4,
    /// §4.1.5; `iat` not in the future). The lifetime bound does not need repeating: `exp - now`
    /// only shrinks.
    pub(crate) fn valid_at(&self, now: f64, leeway: f64) -> bool {
        self.exp.is_none_or(|exp| now < exp + leeway)
            && self.nbf.is_none_or(|nbf| now + leeway >= nbf)
            && self.iat.is_none_or(|iat| now + leeway >= iat)
    }
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
    let segments = Segments::split(token, config.max_token_len)?;
    // One scratch buffer for the three decoded segments: on the stack for ordinary tokens, no
    // larger than the token needs.
    let lens = segments.decoded_lens();
    with_scratch(lens.iter().sum(), |scratch| {
        verify_segments(config, segments, lens, scratch, may_fetch)
    })
}

/// Verification from the decoding of the segments on, into `scratch`, which holds at least
/// the sum of `lens` ([`Segments::decoded_lens`]) bytes.
fn verify_segments<C: DeserializeOwned>(
    config: &VerifyConfig,
    segments: Segments<'_>,
    lens: [usize; 3],
    scratch: &mut [u8],
    may_fetch: bool,
) -> Result<Verified<C>, Failure> {
    let Decoded {
        header: header_json,
        payload,
        signature,
    } = segments.decode_into(lens, scratch)?;

    // 2. Header.
    // RFC 7515 §5.2 and RFC 7519 §7.2: UTF-8 of a valid JSON object, also in members the layer
    // does not read (serde_json skips those without checking them).
    let header = std::str::from_utf8(header_json)
        .ok()
        .and_then(Header::parse)
        .ok_or(AuthError::malformed(
            "The token header is not a valid JOSE header",
        ))?;
    let algorithm: Algorithm = header.alg.parse().map_err(|_| ALGORITHM_NOT_ALLOWED)?;
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
    if segments.signature.is_empty() {
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
    if !verifier.verifies(segments.signed, signature) {
        return Err(BAD_SIGNATURE.into());
    }

    // 5. One parse of the claims into the user's type that also yields the registered claims,
    // then the policy checks on them.
    // Names repeated in a nested object (the top level's are the parse's own check): refused
    // before the parse, so that neither the roles nor `C` read such an object.
    if let Err(error) = parse::check_nested_names(payload) {
        return Err(match error.classify() {
            serde_json::error::Category::Data => NESTED_DUPLICATE,
            _ => NOT_A_CLAIMS_SET,
        }
        .into());
    }
    let mut observed = parse::Observed::default();
    if !config.role_paths.is_empty() {
        observed.paths = Some(&config.role_paths);
    }
    match parse::parse::<C>(payload, &mut observed) {
        Ok(claims) if observed.saw_object && !observed.invalid => {
            let registered = &mut observed.registered;
            registered.scopes = Scopes::from_claims(
                observed.scope.as_deref(),
                observed.scp.as_ref().map(OneOrMany::as_slice),
            )
            .map_err(|_| NOT_A_CLAIMS_SET)?;
            check_claims(config, tenant, &header, registered)?;
            let identity = match config.identity {
                Some(rule) => Some(identity_claims(rule, registered)?),
                None => None,
            };
            let roles = std::mem::take(&mut observed.granted);
            Ok(Verified {
                claims,
                roles,
                scopes: std::mem::take(&mut registered.scopes),
                times: Times {
                    exp: registered.exp,
                    nbf: registered.nbf,
                    iat: registered.iat,
                },
                key: config.cache.then(|| resolved.arc()),
                identity,
            })
        }
        _ => {
            // Refused: judge the registered claims on their own first, so that the reason is
            // the same whatever the user's type makes of the claims.
            let registered: Registered<'_> =
                serde_json::from_str(payload).map_err(|_| NOT_A_CLAIMS_SET)?;
            check_claims(config, tenant, &header, &registered)?;
            if let Some(rule) = config.identity {
                identity_claims(rule, &registered)?;
            }
            Err(AuthError::malformed("The token's claims do not have the expected types").into())
        }
    }
}
