//! Why a request was refused, and why a configuration was refused.

use std::fmt;
use std::sync::Arc;

use jsonwebtoken::Algorithm;

/// The class of an authentication failure.
///
/// Each kind has a stable machine code, [`ErrorKind::reason`], that appears in the JSON body of
/// the default rejection, in `grpc-message` and in the `tracing` events. The codes are part of
/// the crate's API: they do not change between versions, and new kinds only add new codes.
///
/// | kind | reason | RFC 6750 `error` |
/// |---|---|---|
/// | [`Missing`](ErrorKind::Missing) | `missing` | none |
/// | [`InvalidRequest`](ErrorKind::InvalidRequest) | `invalid_request` | `invalid_request` |
/// | [`Malformed`](ErrorKind::Malformed) | `malformed` | `invalid_token` |
/// | [`InvalidSignature`](ErrorKind::InvalidSignature) | `invalid_signature` | `invalid_token` |
/// | [`AlgorithmNotAllowed`](ErrorKind::AlgorithmNotAllowed) | `algorithm_not_allowed` | `invalid_token` |
/// | [`UnknownKey`](ErrorKind::UnknownKey) | `unknown_key` | `invalid_token` |
/// | [`Expired`](ErrorKind::Expired) | `expired` | `invalid_token` |
/// | [`NotYetValid`](ErrorKind::NotYetValid) | `not_yet_valid` | `invalid_token` |
/// | [`InvalidClaims`](ErrorKind::InvalidClaims) | `invalid_claims` | `invalid_token` |
/// | [`InsufficientScope`](ErrorKind::InsufficientScope) | `insufficient_scope` | `insufficient_scope` |
/// | [`KeySourceUnavailable`](ErrorKind::KeySourceUnavailable) | `key_source_unavailable` | none |
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
    /// No key could be had to verify the token: the key source was never reached, or is down
    /// and nothing is cached. Not the client's fault: 503, gRPC `UNAVAILABLE`.
    KeySourceUnavailable,
}

impl ErrorKind {
    /// The stable machine code of this kind, as listed in the table above.
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
            ErrorKind::KeySourceUnavailable => "key_source_unavailable",
        }
    }

    /// The RFC 6750 §3.1 error code, or `None` when the request carried no credentials (the
    /// challenge then has no `error` attribute) or the failure is not the client's
    /// ([`KeySourceUnavailable`](ErrorKind::KeySourceUnavailable)).
    pub const fn error_code(self) -> Option<&'static str> {
        match self {
            ErrorKind::Missing | ErrorKind::KeySourceUnavailable => None,
            ErrorKind::InvalidRequest => Some("invalid_request"),
            ErrorKind::InsufficientScope => Some("insufficient_scope"),
            ErrorKind::Malformed
            | ErrorKind::InvalidSignature
            | ErrorKind::AlgorithmNotAllowed
            | ErrorKind::UnknownKey
            | ErrorKind::Expired
            | ErrorKind::NotYetValid
            | ErrorKind::InvalidClaims => Some("invalid_token"),
        }
    }

    /// `true` for the kinds RFC 6750 files under `invalid_token`.
    pub const fn is_invalid_token(self) -> bool {
        !matches!(
            self,
            ErrorKind::Missing
                | ErrorKind::InvalidRequest
                | ErrorKind::InsufficientScope
                | ErrorKind::KeySourceUnavailable
        )
    }

    /// `true` when a client holding a refresh token should refresh and retry: the token was
    /// good but has expired or is not valid yet.
    pub const fn is_refreshable(self) -> bool {
        matches!(self, ErrorKind::Expired | ErrorKind::NotYetValid)
    }

    /// The gRPC status code for this kind: `UNAUTHENTICATED` (16) for every token failure,
    /// `INVALID_ARGUMENT` (3) for ambiguous credentials, `PERMISSION_DENIED` (7) for a missing
    /// scope (a caller who is identified but not allowed), `UNAVAILABLE` (14) when no key can be
    /// had.
    pub const fn grpc_code(self) -> u8 {
        match self {
            ErrorKind::InvalidRequest => 3,
            ErrorKind::InsufficientScope => 7,
            ErrorKind::KeySourceUnavailable => 14,
            _ => 16,
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
}

impl AuthError {
    pub(crate) const fn new(kind: ErrorKind, description: &'static str) -> Self {
        Self {
            kind,
            description,
            scope: None,
        }
    }

    pub(crate) fn insufficient_scope(required: Arc<str>) -> Self {
        Self {
            kind: ErrorKind::InsufficientScope,
            description: "The access token does not grant the required scope",
            scope: Some(required),
        }
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

    /// The space-separated scopes the route requires, for
    /// [`ErrorKind::InsufficientScope`].
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

/// A configuration the layer refuses to build with.
///
/// Every check that can be made before the first request is made when the layer is built, so
/// that a bad configuration fails at startup and never on a request.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConfigError {
    /// No key was configured.
    NoKeys,
    /// An HMAC secret is shorter than its hash (RFC 7518 §3.2).
    WeakHmacSecret {
        /// The algorithm the secret is bound to.
        algorithm: Algorithm,
        /// The secret's length in bytes.
        len: usize,
        /// The smallest length allowed for the algorithm.
        min: usize,
    },
    /// An RSA key is shorter than 2048 bits (RFC 7518 §3.3).
    WeakRsaKey {
        /// The modulus length in bits.
        bits: usize,
    },
    /// A key could not be read (bad PEM, DER or components).
    InvalidKey {
        /// What was wrong.
        reason: String,
    },
    /// A key was bound to an algorithm of another family, such as an RSA key to HS256.
    AlgorithmMismatch {
        /// The algorithm asked for.
        algorithm: Algorithm,
        /// The kind of key it was asked for.
        key: &'static str,
    },
    /// Two keys share a `kid`.
    DuplicateKid {
        /// The `kid`.
        kid: String,
    },
    /// A `kid` is empty, too long or has characters outside printable ASCII.
    InvalidKid,
    /// The leeway is above the 300 seconds allowed.
    LeewayTooLarge {
        /// The leeway asked for, in seconds.
        secs: u64,
    },
    /// No token source was configured.
    NoTokenSources,
    /// A cookie or query parameter name is empty or not an RFC 6265 token.
    InvalidSourceName {
        /// The name.
        name: String,
    },
    /// The maximum token length is zero or above 64 KiB.
    InvalidMaxTokenLength {
        /// The length asked for.
        len: usize,
    },
    /// A realm, issuer, audience, `typ` or scope has characters that cannot be put into a
    /// `WWW-Authenticate` challenge or compared safely.
    InvalidValue {
        /// Which setting.
        setting: &'static str,
    },
    /// No jsonwebtoken `CryptoProvider` could be installed or found.
    NoCryptoProvider,
    /// The builder's `realm` or `status_policy`, settings of the
    /// [`DefaultRejection`](crate::DefaultRejection), next to a custom
    /// [`rejection`](crate::JwtAuthBuilder::rejection), which would ignore them.
    DefaultRejectionSettingsWithCustomRejection {
        /// `"realm"` or `"status_policy"`.
        setting: &'static str,
    },
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::NoKeys => f.write_str("no verification key configured"),
            ConfigError::WeakHmacSecret {
                algorithm,
                len,
                min,
            } => write!(
                f,
                "hmac secret for {algorithm:?} is {len} bytes, at least {min} are required"
            ),
            ConfigError::WeakRsaKey { bits } => {
                write!(f, "rsa key has {bits} bits, at least 2048 are required")
            }
            ConfigError::InvalidKey { reason } => write!(f, "invalid key: {reason}"),
            ConfigError::AlgorithmMismatch { algorithm, key } => {
                write!(f, "algorithm {algorithm:?} cannot be used with {key} key")
            }
            ConfigError::DuplicateKid { kid } => write!(f, "two keys share the kid {kid:?}"),
            ConfigError::InvalidKid => {
                f.write_str("a kid must be 1 to 256 characters of printable ascii")
            }
            ConfigError::LeewayTooLarge { secs } => {
                write!(f, "leeway of {secs} s is above the 300 s allowed")
            }
            ConfigError::NoTokenSources => f.write_str("no token source configured"),
            ConfigError::InvalidSourceName { name } => {
                write!(f, "invalid cookie or parameter name {name:?}")
            }
            ConfigError::InvalidMaxTokenLength { len } => {
                write!(f, "maximum token length {len} is not between 1 and 65536")
            }
            ConfigError::InvalidValue { setting } => {
                write!(
                    f,
                    "invalid {setting}: use printable ascii without quotes or backslashes"
                )
            }
            ConfigError::NoCryptoProvider => {
                f.write_str("no jsonwebtoken crypto provider could be installed")
            }
            ConfigError::DefaultRejectionSettingsWithCustomRejection { setting } => write!(
                f,
                "{setting} is a setting of the default rejection, and a custom rejection is \
                 configured: set it on the custom rejection instead"
            ),
        }
    }
}

impl std::error::Error for ConfigError {}

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
                ErrorKind::KeySourceUnavailable,
                "key_source_unavailable",
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
