//! Why a request was refused ([`AuthError`], [`ErrorKind`]), and why a configuration was
//! refused ([`ConfigError`], in `config.rs`).

use std::fmt;
use std::sync::Arc;

mod config;

pub use config::ConfigError;
pub(crate) use config::{checked_audience, checked_issuer, checked_value};

/// The class of an authentication failure.
///
/// Each kind has a stable machine code, [`ErrorKind::reason`], that appears in the JSON body of
/// the default rejection, in `grpc-message` and in the `tracing` events. The codes are part of
/// the crate's API: they do not change between versions, and new kinds only add new codes.
///
/// The [table of reasons](crate#errors) gives, for every kind, when it happens, its HTTP status
/// under each [`StatusPolicy`](crate::StatusPolicy), its challenge and its gRPC code; the
/// [errors guide](crate::guide::errors) tells the rest.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The request carries no token in any configured source.
    Missing,
    /// The credentials are ambiguous or syntactically broken: two `Authorization` headers, two
    /// cookies of the token's name, a bearer header without a token.
    InvalidRequest,
    /// The token is not a well-formed signed JWT: wrong number of segments, bad base64url, bad
    /// JSON, duplicate names, claims of the wrong type, a forbidden header parameter, or a token
    /// longer than the configured bound.
    Malformed,
    /// The signature does not verify with the selected key.
    InvalidSignature,
    /// The header names an algorithm that is not allowed (including `none`), or one the selected
    /// key is not bound to.
    AlgorithmNotAllowed,
    /// No configured key matches the token's `kid`, or the choice of key is ambiguous.
    UnknownKey,
    /// The token has expired (`exp`): the client should refresh it.
    Expired,
    /// The token is not valid yet (`nbf` or `iat` in the future).
    NotYetValid,
    /// The token verifies but its claims are not acceptable: wrong `iss` or `aud`, a missing
    /// required claim, a wrong `typ`, an unsupported `crit` parameter, a lifetime above the
    /// configured maximum.
    InvalidClaims,
    /// The token is valid but does not grant a scope the route requires.
    InsufficientScope,
    /// The token is valid but the route refuses it: it lacks a role the route requires, or its
    /// claims fail the route's [predicate](crate::JwtAuthBuilder::require). 403; the challenge
    /// and the body's `error` say `insufficient_scope` (RFC 6750 has no other code for a caller
    /// who is identified but not allowed), the `reason` says `forbidden`; gRPC
    /// `PERMISSION_DENIED`.
    Forbidden,
    /// No key could be had to verify the token: the key source was never reached, is down with
    /// nothing usable cached, or the fetch that would decide the token's `kid` failed. Not the
    /// client's fault: 503, gRPC `UNAVAILABLE`.
    KeySourceUnavailable,
    /// The token is genuine but was revoked: the layer's
    /// [revocation store](crate::JwtAuthBuilder::revocation) says that its `jti` was revoked,
    /// that its session (`sid`) was ended (logout, logout everywhere, refresh token reuse), or,
    /// for a token without a `sid`, that its subject logged out everywhere at or after its `iat`.
    ///
    /// 401 with `error="invalid_token"`, gRPC `UNAUTHENTICATED`, and, as a deliberate exception
    /// to "401 means refresh", [`is_refreshable`](ErrorKind::is_refreshable) is `false`: the
    /// user must authenticate again. A client that refreshes anyway gets a refusal from the
    /// refresh endpoint (its session ended too) and then logs in.
    Revoked,
    /// The [revocation store](crate::JwtAuthBuilder::revocation) could not answer (Redis down
    /// or too slow): the token cannot be judged. Not the client's fault: 503 with
    /// `"error":"temporarily_unavailable"`, no challenge, gRPC `UNAVAILABLE`; never treated as
    /// anonymous by an optional layer. Unless the layer
    /// [fails open](crate::JwtAuthBuilder::revocation_fail_open), nothing is let in.
    RevocationUnavailable,
    /// A request authenticated by a cookie failed the layer's [CSRF guard](crate::csrf::CsrfGuard):
    /// a cross-site request, a `same-site` one or an `Origin` that is not trusted, or (in
    /// double-submit mode) a missing or wrong `x-csrf-token` header. 403 under every status
    /// policy with `"error":"csrf"` in the body, no challenge (other credentials would not
    /// help), gRPC `PERMISSION_DENIED`; not refreshable, and never treated as anonymous by an
    /// optional layer: the browser did send credentials.
    Csrf,
    /// A [DPoP](crate::dpop) proof was required and is missing, broken, or fails a check of
    /// RFC 9449 §4.3: its header (`typ`, `alg`, `jwk`), its signature, its claims (`htm`, `htu`,
    /// `iat`, `ath`, `jti` seen before), or the token's binding (`cnf.jkt`); or the request
    /// carries more than one `DPoP` header. 401 under every status policy, challenge
    /// `DPoP error="invalid_dpop_proof"`, gRPC `UNAUTHENTICATED`; not refreshable.
    InvalidDpopProof,
    /// A [DPoP](crate::dpop)-bound token (one with `cnf.jkt`) came as a bearer token (the
    /// downgrade RFC 9449 §7.2 forbids), or a layer in DPoP-required mode got a token without a
    /// proof or without a binding. 401 under every status policy, challenge
    /// `DPoP error="invalid_token"`, gRPC `UNAUTHENTICATED`; not refreshable.
    DpopRequired,
    /// The in-memory [DPoP replay cache](crate::dpop::MemoryReplayCache) is full of proofs that
    /// are still within their window, or a shared replay store could not answer: the proof
    /// cannot be judged. Not the client's fault: 503 with `"error":"temporarily_unavailable"`,
    /// no challenge, gRPC `UNAVAILABLE`.
    DpopReplayCacheFull,
}

impl ErrorKind {
    /// The stable machine code of this kind, as listed in the [table of reasons](crate#errors).
    pub const fn reason(self) -> &'static str {
        match self {
            ErrorKind::Missing => "missing",
            ErrorKind::InvalidRequest => "invalid_request",
            ErrorKind::Malformed => "malformed",
            ErrorKind::InvalidSignature => "invalid_signature",
            ErrorKind::AlgorithmNotAllowed => "algorithm_not_allowed",
            ErrorKind::UnknownKey => "unknown_key",
            ErrorKind::Expired => "expired",
            ErrorKind::NotYetValid => "not_yet_valid",
            ErrorKind::InvalidClaims => "invalid_claims",
            ErrorKind::InsufficientScope => "insufficient_scope",
            ErrorKind::Forbidden => "forbidden",
            ErrorKind::KeySourceUnavailable => "key_source_unavailable",
            ErrorKind::Revoked => "revoked",
            ErrorKind::RevocationUnavailable => "revocation_unavailable",
            ErrorKind::Csrf => "csrf",
            ErrorKind::InvalidDpopProof => "invalid_dpop_proof",
            ErrorKind::DpopRequired => "dpop_required",
            ErrorKind::DpopReplayCacheFull => "dpop_replay_cache_full",
        }
    }

    /// The RFC 6750 §3.1 error code, or `None` when the request carried no credentials (the
    /// challenge then has no `error` attribute) or the failure is not the client's
    /// ([`KeySourceUnavailable`](ErrorKind::KeySourceUnavailable),
    /// [`RevocationUnavailable`](ErrorKind::RevocationUnavailable)).
    pub const fn error_code(self) -> Option<&'static str> {
        match self {
            ErrorKind::Missing
            | ErrorKind::KeySourceUnavailable
            | ErrorKind::RevocationUnavailable
            | ErrorKind::DpopReplayCacheFull
            | ErrorKind::Csrf => None,
            ErrorKind::InvalidRequest => Some("invalid_request"),
            ErrorKind::InvalidDpopProof => Some("invalid_dpop_proof"),
            ErrorKind::InsufficientScope | ErrorKind::Forbidden => Some("insufficient_scope"),
            ErrorKind::Malformed
            | ErrorKind::InvalidSignature
            | ErrorKind::AlgorithmNotAllowed
            | ErrorKind::UnknownKey
            | ErrorKind::Expired
            | ErrorKind::NotYetValid
            | ErrorKind::InvalidClaims
            | ErrorKind::DpopRequired
            | ErrorKind::Revoked => Some("invalid_token"),
        }
    }

    /// `true` for the kinds RFC 6750 files under `invalid_token`.
    pub const fn is_invalid_token(self) -> bool {
        !matches!(
            self,
            ErrorKind::Missing
                | ErrorKind::InvalidRequest
                | ErrorKind::InsufficientScope
                | ErrorKind::Forbidden
                | ErrorKind::KeySourceUnavailable
                | ErrorKind::RevocationUnavailable
                | ErrorKind::Csrf
                | ErrorKind::InvalidDpopProof
                | ErrorKind::DpopReplayCacheFull
        )
    }

    /// `true` when a client holding a refresh token should refresh and retry: the token was
    /// good but has expired or is not valid yet. `false` for
    /// [`Revoked`](ErrorKind::Revoked), although it answers 401: the session behind the token
    /// ended, so the user must authenticate again.
    pub const fn is_refreshable(self) -> bool {
        matches!(self, ErrorKind::Expired | ErrorKind::NotYetValid)
    }

    /// The gRPC status code for this kind: `UNAUTHENTICATED` (16) for every token failure,
    /// `INVALID_ARGUMENT` (3) for ambiguous credentials, `PERMISSION_DENIED` (7) for a missing
    /// scope or role or a failed predicate (a caller who is identified but not allowed),
    /// `UNAVAILABLE` (14) when no key can be had or the revocation store cannot answer.
    pub const fn grpc_code(self) -> u8 {
        match self {
            ErrorKind::InvalidRequest => 3,
            ErrorKind::InsufficientScope | ErrorKind::Forbidden | ErrorKind::Csrf => 7,
            ErrorKind::KeySourceUnavailable
            | ErrorKind::RevocationUnavailable
            | ErrorKind::DpopReplayCacheFull => 14,
            ErrorKind::Missing
            | ErrorKind::InvalidDpopProof
            | ErrorKind::DpopRequired
            | ErrorKind::Malformed
            | ErrorKind::InvalidSignature
            | ErrorKind::AlgorithmNotAllowed
            | ErrorKind::UnknownKey
            | ErrorKind::Expired
            | ErrorKind::NotYetValid
            | ErrorKind::InvalidClaims
            | ErrorKind::Revoked => 16,
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.reason())
    }
}

/// An authentication failure: its [kind](AuthError::kind) and a fixed, human-readable
/// [description](AuthError::description).
///
/// The description never contains anything taken from the request, so it is safe to send to
/// the client and to log. On every rejection the layer puts a clone of the error into the
/// response extensions, so that outer layers can look at it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuthError {
    kind: ErrorKind,
    description: &'static str,
    scope: Option<Arc<str>>,
    /// Set by a layer whose DPoP mode is not off for the request: its challenge parameters.
    dpop: Option<DpopChallenge>,
}

/// What a refusal's DPoP challenge says (RFC 9449 §7.1), set by a layer whose DPoP mode is
/// allowed or required for the refused request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct DpopChallenge {
    /// The proof algorithms the layer accepts, space-separated, for `algs`.
    pub(crate) algs: Arc<str>,
    /// Allowed mode: the `Bearer` challenge goes along with the `DPoP` one.
    pub(crate) bearer_too: bool,
}

impl AuthError {
    pub(crate) const fn new(kind: ErrorKind, description: &'static str) -> Self {
        Self {
            kind,
            description,
            scope: None,
            dpop: None,
        }
    }

    /// The same error, answered with the DPoP challenge `challenge` (and, in allowed mode, the
    /// bearer one).
    pub(crate) fn with_dpop(mut self, challenge: DpopChallenge) -> Self {
        self.dpop = Some(challenge);
        self
    }

    /// With a layer whose [DPoP](crate::dpop) mode is allowed or required for the refused
    /// request: the proof algorithms it accepts, space-separated, as the `algs` of its `DPoP`
    /// challenge (RFC 9449 §7.1).
    pub fn dpop_algs(&self) -> Option<&str> {
        self.dpop.as_ref().map(|d| &*d.algs)
    }

    /// `true` when the refusal carries a `Bearer` challenge: always, except in DPoP-required
    /// mode, whose refusals carry only the `DPoP` challenge.
    pub fn has_bearer_challenge(&self) -> bool {
        self.dpop.as_ref().is_none_or(|d| d.bearer_too)
    }

    pub(crate) fn insufficient_scope(required: Arc<str>) -> Self {
        Self {
            kind: ErrorKind::InsufficientScope,
            description: "The access token does not grant the required scope",
            scope: Some(required),
            dpop: None,
        }
    }

    /// A missing scope whose name a challenge cannot carry.
    pub(crate) const fn insufficient_scope_unnamed() -> Self {
        Self::new(
            ErrorKind::InsufficientScope,
            "The access token does not grant the required scope",
        )
    }

    /// A scope-token list the route accepts any one of, not granted.
    pub(crate) fn no_accepted_scope(accepted: Arc<str>) -> Self {
        Self {
            kind: ErrorKind::InsufficientScope,
            description: "The access token grants none of the accepted scopes",
            scope: Some(accepted),
            dpop: None,
        }
    }

    /// An accepted-scope list whose names a challenge cannot carry, none of them granted.
    pub(crate) const fn no_accepted_scope_unnamed() -> Self {
        Self::new(
            ErrorKind::InsufficientScope,
            "The access token grants none of the accepted scopes",
        )
    }

    pub(crate) const fn forbidden(description: &'static str) -> Self {
        Self::new(ErrorKind::Forbidden, description)
    }

    pub(crate) const fn missing() -> Self {
        Self::new(ErrorKind::Missing, "No access token was sent")
    }

    pub(crate) const fn malformed(description: &'static str) -> Self {
        Self::new(ErrorKind::Malformed, description)
    }

    pub(crate) const fn invalid_request(description: &'static str) -> Self {
        Self::new(ErrorKind::InvalidRequest, description)
    }

    pub(crate) const fn invalid_claims(description: &'static str) -> Self {
        Self::new(ErrorKind::InvalidClaims, description)
    }

    /// The class of the failure.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The stable machine code, the same as `self.kind().reason()`.
    pub fn reason(&self) -> &'static str {
        self.kind.reason()
    }

    /// A fixed English sentence for developers, suitable for RFC 6750's `error_description`:
    /// printable ASCII without `"` or `\`, and never built from request data.
    pub fn description(&self) -> &'static str {
        self.description
    }

    /// The space-separated scopes the route requires (all of them, or any one of them, as the
    /// [description](Self::description) says), for [`ErrorKind::InsufficientScope`].
    pub fn required_scope(&self) -> Option<&str> {
        self.scope.as_deref()
    }
}

impl fmt::Display for AuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind.reason(), self.description)
    }
}

impl std::error::Error for AuthError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_are_stable() {
        let all = [
            (ErrorKind::Missing, "missing", None, 16),
            (
                ErrorKind::InvalidRequest,
                "invalid_request",
                Some("invalid_request"),
                3,
            ),
            (ErrorKind::Malformed, "malformed", Some("invalid_token"), 16),
            (
                ErrorKind::InvalidSignature,
                "invalid_signature",
                Some("invalid_token"),
                16,
            ),
            (
                ErrorKind::AlgorithmNotAllowed,
                "algorithm_not_allowed",
                Some("invalid_token"),
                16,
            ),
            (
                ErrorKind::UnknownKey,
                "unknown_key",
                Some("invalid_token"),
                16,
            ),
            (ErrorKind::Expired, "expired", Some("invalid_token"), 16),
            (
                ErrorKind::NotYetValid,
                "not_yet_valid",
                Some("invalid_token"),
                16,
            ),
            (
                ErrorKind::InvalidClaims,
                "invalid_claims",
                Some("invalid_token"),
                16,
            ),
            (
                ErrorKind::InsufficientScope,
                "insufficient_scope",
                Some("insufficient_scope"),
                7,
            ),
            (
                ErrorKind::Forbidden,
                "forbidden",
                Some("insufficient_scope"),
                7,
            ),
            (
                ErrorKind::KeySourceUnavailable,
                "key_source_unavailable",
                None,
                14,
            ),
            (ErrorKind::Revoked, "revoked", Some("invalid_token"), 16),
            (
                ErrorKind::RevocationUnavailable,
                "revocation_unavailable",
                None,
                14,
            ),
            (ErrorKind::Csrf, "csrf", None, 7),
            (
                ErrorKind::InvalidDpopProof,
                "invalid_dpop_proof",
                Some("invalid_dpop_proof"),
                16,
            ),
            (
                ErrorKind::DpopRequired,
                "dpop_required",
                Some("invalid_token"),
                16,
            ),
            (
                ErrorKind::DpopReplayCacheFull,
                "dpop_replay_cache_full",
                None,
                14,
            ),
        ];
        for (kind, reason, code, grpc) in all {
            assert_eq!(kind.reason(), reason);
            assert_eq!(kind.error_code(), code);
            assert_eq!(kind.grpc_code(), grpc);
            assert_eq!(kind.to_string(), reason);
        }
    }

    #[test]
    fn display_has_reason_and_description() {
        let err = AuthError::new(ErrorKind::Expired, "The access token expired");
        assert_eq!(err.to_string(), "expired: The access token expired");
        assert!(err.kind().is_refreshable());
        assert!(!AuthError::malformed("x").kind().is_refreshable());
    }
}
