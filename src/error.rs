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
            | ErrorKind::Csrf => None,
            ErrorKind::InvalidRequest => Some("invalid_request"),
            ErrorKind::InsufficientScope | ErrorKind::Forbidden => Some("insufficient_scope"),
            ErrorKind::Malformed
            | ErrorKind::InvalidSignature
            | ErrorKind::AlgorithmNotAllowed
            | ErrorKind::UnknownKey
            | ErrorKind::Expired
            | ErrorKind::NotYetValid
            | ErrorKind::InvalidClaims
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
            ErrorKind::KeySourceUnavailable | ErrorKind::RevocationUnavailable => 14,
            ErrorKind::Missing
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

    /// A missing scope whose name a challenge cannot carry.
    #[cfg(feature = "tonic")]
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
        }
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
    /// An [`issuer`](crate::JwtAuthBuilder::issuer) is not acceptable.
    InvalidIssuer {
        /// The issuer.
        issuer: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// An [`audience`](crate::JwtAuthBuilder::audience) is not acceptable.
    InvalidAudience {
        /// The audience.
        audience: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A [required claim](crate::JwtAuthBuilder::require_claims) name is not acceptable.
    InvalidClaimName {
        /// The name.
        name: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The [`typ`](crate::JwtAuthBuilder::typ) is empty, or has characters outside printable
    /// ASCII, `"` or `\`.
    InvalidTyp {
        /// The `typ`.
        typ: String,
    },
    /// The [`realm`](crate::JwtAuthBuilder::realm) has characters outside printable ASCII, `"`
    /// or `\`, which cannot stand in a `WWW-Authenticate` challenge.
    InvalidRealm {
        /// The realm.
        realm: String,
    },
    /// A [`CsrfKey`](crate::csrf::CsrfKey) secret is too short.
    CsrfSecretTooShort {
        /// The secret's length in bytes.
        len: usize,
        /// The smallest length allowed.
        min: usize,
    },
    /// A [trusted origin](crate::csrf::CsrfGuard::trusted_origin) is not
    /// `http(s)://host[:port]`.
    InvalidTrustedOrigin {
        /// The origin as given.
        origin: String,
    },
    /// A [cookie path](crate::session::CookieSettings::refresh_path) does not start with `/` or
    /// holds characters a cookie attribute cannot carry.
    InvalidCookiePath {
        /// The path as given.
        path: String,
    },
    /// A [required scope](crate::JwtAuthBuilder::require_scopes) is not an RFC 6749 scope-token:
    /// empty, or with a space, `"`, `\` or a character outside printable ASCII.
    InvalidScope {
        /// The scope.
        scope: String,
    },
    /// A [claim path](crate::ClaimPath) given to
    /// [`roles_claim`](crate::JwtAuthBuilder::roles_claim) is empty, has an empty member name,
    /// is deeper than 16 names, or starts at a registered claim the layer reads itself.
    InvalidClaimPath {
        /// The path, its names joined with dots.
        path: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A required role is empty.
    InvalidRole {
        /// The role.
        role: String,
    },
    /// A gRPC method path given to [`require_for_path`](crate::JwtAuthBuilder::require_for_path)
    /// does not start with `/`.
    InvalidRequestPath {
        /// The path.
        path: String,
    },
    /// The bounds of the [verified-token cache](crate::JwtAuthBuilder::token_cache) are out of
    /// range: 1 to 2^24 entries and at least 1 KiB are required.
    InvalidCacheBound {
        /// The most entries asked for.
        max_entries: usize,
        /// The most bytes asked for.
        max_bytes: usize,
    },
    /// An issuer is configured twice (on the builder and a trusted issuer, or on two trusted
    /// issuers), so a token's `iss` would not select exactly one key set.
    IssuerConflict {
        /// The issuer.
        issuer: String,
    },
    /// The issuer set next to OIDC discovery is not the issuer whose keys are discovered.
    DiscoveryIssuerMismatch {
        /// The issuer configured.
        configured: String,
        /// The issuer discovery was asked for.
        discovered: String,
    },
    /// The layer has keys of its own next to [trusted issuers](crate::TrustedIssuer) but no
    /// [`issuer`](crate::JwtAuthBuilder::issuer) for them.
    IssuerRequiredNextToTrustedIssuers,
    /// An issuer or audience is set on the builder, which has no keys of its own: they belong on
    /// each [trusted issuer](crate::TrustedIssuer).
    IssuerOrAudienceWithoutOwnKeys,
    /// Static keys and a remote key set were configured together.
    KeysAndJwksTogether,
    /// A key set or discovery URL is not an absolute `https://` (or `http://`) URL with a host.
    InvalidJwksUrl {
        /// The URL.
        url: String,
    },
    /// The algorithms of a remote key set are empty or include a symmetric one.
    InvalidJwksAlgorithms,
    /// A timing or size setting of a remote key set is out of range.
    InvalidJwksSetting {
        /// Which setting (`min_ttl`, `max_ttl`, `cooldown`, `timeout`, `connect_timeout`,
        /// `max_size`).
        setting: &'static str,
        /// What it must be.
        requirement: &'static str,
    },
    /// The TLS client of a remote key set could not be set up.
    TlsSetup {
        /// Why.
        reason: String,
    },
    /// The builder's `realm` or `status_policy`, settings of the
    /// [`DefaultRejection`](crate::DefaultRejection), next to a custom
    /// [`rejection`](crate::JwtAuthBuilder::rejection), which would ignore them.
    DefaultRejectionSettingsWithCustomRejection {
        /// `"realm"` or `"status_policy"`.
        setting: &'static str,
    },
    /// A key set or discovery URL is plain `http://` to a host that is not allowed: plain HTTP is
    /// allowed to loopback hosts with `JwksSource::allow_http(true)`, and to hosts named with
    /// `JwksSource::allow_http_host`.
    PlainHttpNotAllowed {
        /// The URL's host.
        host: String,
    },
    /// A host given to `JwksSource::allow_http_host` is not a host name or IP address alone.
    InvalidHttpHost {
        /// The host as given.
        host: String,
    },
    /// A setting of access token issuing is missing or out of range (an issuer, an audience, a
    /// lifetime, the `kid`s of several signing keys).
    InvalidIssuing {
        /// Which setting.
        setting: &'static str,
        /// What is wrong with it.
        problem: &'static str,
    },
    /// A setting of the revocation check (`revocation_sid_optional`, `revocation_fail_open`)
    /// was made without a revocation store, so it would have no effect.
    RevocationSettingWithoutStore {
        /// Which setting.
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
            ConfigError::InvalidIssuer { issuer, reason } => {
                write!(f, "invalid issuer {issuer:?}: {reason}")
            }
            ConfigError::InvalidAudience { audience, reason } => {
                write!(f, "invalid audience {audience:?}: {reason}")
            }
            ConfigError::InvalidClaimName { name, reason } => {
                write!(f, "invalid required claim name {name:?}: {reason}")
            }
            ConfigError::InvalidTyp { typ } => write!(
                f,
                "invalid typ {typ:?}: it must be a non-empty media type of printable ascii \
                 without quotes or backslashes"
            ),
            ConfigError::CsrfSecretTooShort { len, min } => write!(
                f,
                "the CSRF secret has {len} bytes: it needs at least {min}"
            ),
            ConfigError::InvalidTrustedOrigin { origin } => write!(
                f,
                "invalid trusted origin {origin:?}: give it as a browser sends it in Origin, \
                 http(s)://host[:port] without a path"
            ),
            ConfigError::InvalidCookiePath { path } => write!(
                f,
                "invalid cookie path {path:?}: it must start with / and hold only visible ascii \
                 without ;"
            ),
            ConfigError::InvalidRealm { realm } => write!(
                f,
                "invalid realm {realm:?}: a challenge can only carry printable ascii without \
                 quotes or backslashes"
            ),
            ConfigError::InvalidScope { scope } => write!(
                f,
                "invalid required scope {scope:?}: a scope is one rfc 6749 scope-token, \
                 non-empty printable ascii without spaces, quotes or backslashes"
            ),
            ConfigError::InvalidClaimPath { path, reason } => {
                write!(f, "invalid roles claim path {path:?}: {reason}")
            }
            ConfigError::InvalidRole { role } => {
                write!(
                    f,
                    "invalid required role {role:?}: a role is a non-empty string"
                )
            }
            ConfigError::InvalidRequestPath { path } => write!(
                f,
                "invalid request path {path:?}: a path such as \"/pkg.Service/Method\" starts \
                 with a slash"
            ),
            ConfigError::InvalidCacheBound {
                max_entries,
                max_bytes,
            } => write!(
                f,
                "invalid token cache bounds of {max_entries} entries and {max_bytes} bytes: \
                 1 to 16777216 entries and at least 1024 bytes are required"
            ),
            ConfigError::IssuerConflict { issuer } => write!(
                f,
                "issuer {issuer:?} is configured twice: each issuer must select exactly one \
                 key set"
            ),
            ConfigError::DiscoveryIssuerMismatch {
                configured,
                discovered,
            } => write!(
                f,
                "issuer {configured:?} is not the issuer {discovered:?} whose keys are \
                 discovered: keys found by discovery verify that issuer's tokens only"
            ),
            ConfigError::IssuerRequiredNextToTrustedIssuers => f.write_str(
                "the layer's own keys need an issuer when trusted issuers are configured, so \
                 that each token's iss selects exactly one key set",
            ),
            ConfigError::IssuerOrAudienceWithoutOwnKeys => f.write_str(
                "an issuer or audience is set on the builder, which has no keys of its own: \
                 set them on each trusted issuer",
            ),
            ConfigError::KeysAndJwksTogether => f.write_str(
                "static keys and a remote key set cannot be combined: use one or the other",
            ),
            ConfigError::InvalidJwksUrl { url } => write!(
                f,
                "invalid key set url {url:?}: an absolute https:// url with a host is required"
            ),
            ConfigError::InvalidJwksAlgorithms => f.write_str(
                "invalid key set algorithms: one or more asymmetric algorithms are required \
                 (RS*, PS*, ES*, EdDSA)",
            ),
            ConfigError::InvalidJwksSetting {
                setting,
                requirement,
            } => write!(f, "invalid key set {setting}: {requirement}"),
            ConfigError::TlsSetup { reason } => {
                write!(
                    f,
                    "the tls client of the key set cannot be set up: {reason}"
                )
            }
            ConfigError::DefaultRejectionSettingsWithCustomRejection { setting } => write!(
                f,
                "{setting} is a setting of the default rejection, and a custom rejection is \
                 configured: set it on the custom rejection instead"
            ),
            ConfigError::PlainHttpNotAllowed { host } => write!(
                f,
                "key set url: plain http to {host:?} is not allowed; use https, or \
                 JwksSource::allow_http(true) for a loopback host (127.0.0.0/8, [::1], \
                 localhost), or JwksSource::allow_http_host({host:?}) to name this host"
            ),
            ConfigError::InvalidHttpHost { host } => write!(
                f,
                "invalid plain-http host {host:?} for JwksSource::allow_http_host: it must be a \
                 host name or ip address alone (no scheme, user, port or path)"
            ),
            ConfigError::InvalidIssuing { setting, problem } => {
                write!(f, "token issuing: {setting} {problem}")
            }
            ConfigError::RevocationSettingWithoutStore { setting } => write!(
                f,
                "{setting} is a setting of the revocation check, and no revocation store is \
                 configured: add one with revocation(store), or drop the setting"
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

    /// One case per variant: each message names the setting and what is wrong with it, in
    /// lowercase, without a final period.
    #[test]
    fn config_error_messages_name_the_setting_and_the_fault() {
        let cases: Vec<(ConfigError, &str)> = vec![
            (ConfigError::NoKeys, "no verification key configured"),
            (
                ConfigError::WeakHmacSecret {
                    algorithm: Algorithm::HS256,
                    len: 16,
                    min: 32,
                },
                "hmac secret for HS256 is 16 bytes, at least 32 are required",
            ),
            (
                ConfigError::WeakRsaKey { bits: 1024 },
                "rsa key has 1024 bits, at least 2048 are required",
            ),
            (
                ConfigError::InvalidKey {
                    reason: "bad pem".into(),
                },
                "invalid key: bad pem",
            ),
            (
                ConfigError::AlgorithmMismatch {
                    algorithm: Algorithm::HS256,
                    key: "an rsa",
                },
                "algorithm HS256 cannot be used with an rsa key",
            ),
            (
                ConfigError::DuplicateKid { kid: "k1".into() },
                "two keys share the kid \"k1\"",
            ),
            (
                ConfigError::InvalidKid,
                "a kid must be 1 to 256 characters of printable ascii",
            ),
            (
                ConfigError::LeewayTooLarge { secs: 600 },
                "leeway of 600 s is above the 300 s allowed",
            ),
            (ConfigError::NoTokenSources, "no token source configured"),
            (
                ConfigError::InvalidSourceName { name: "a b".into() },
                "invalid cookie or parameter name \"a b\"",
            ),
            (
                ConfigError::InvalidMaxTokenLength { len: 0 },
                "maximum token length 0 is not between 1 and 65536",
            ),
            (
                ConfigError::InvalidIssuer {
                    issuer: String::new(),
                    reason: "it is empty",
                },
                "invalid issuer \"\": it is empty",
            ),
            (
                ConfigError::InvalidAudience {
                    audience: "a\nb".into(),
                    reason: "it has control characters",
                },
                "invalid audience \"a\\nb\": it has control characters",
            ),
            (
                ConfigError::InvalidClaimName {
                    name: String::new(),
                    reason: "it is empty",
                },
                "invalid required claim name \"\": it is empty",
            ),
            (
                ConfigError::InvalidTyp { typ: "a\"b".into() },
                "invalid typ \"a\\\"b\": it must be a non-empty media type of printable ascii \
                 without quotes or backslashes",
            ),
            (
                ConfigError::InvalidRealm {
                    realm: "caf\u{e9}".into(),
                },
                "invalid realm \"caf\u{e9}\": a challenge can only carry printable ascii \
                 without quotes or backslashes",
            ),
            (
                ConfigError::InvalidScope {
                    scope: "a b".into(),
                },
                "invalid required scope \"a b\": a scope is one rfc 6749 scope-token, \
                 non-empty printable ascii without spaces, quotes or backslashes",
            ),
            (
                ConfigError::InvalidClaimPath {
                    path: "a..b".into(),
                    reason: "a member name is empty",
                },
                "invalid roles claim path \"a..b\": a member name is empty",
            ),
            (
                ConfigError::InvalidRole {
                    role: String::new(),
                },
                "invalid required role \"\": a role is a non-empty string",
            ),
            (
                ConfigError::InvalidRequestPath { path: "x".into() },
                "invalid request path \"x\": a path such as \"/pkg.Service/Method\" starts \
                 with a slash",
            ),
            (
                ConfigError::InvalidCacheBound {
                    max_entries: 0,
                    max_bytes: 10,
                },
                "invalid token cache bounds of 0 entries and 10 bytes: 1 to 16777216 entries \
                 and at least 1024 bytes are required",
            ),
            (
                ConfigError::IssuerConflict {
                    issuer: "https://a".into(),
                },
                "issuer \"https://a\" is configured twice: each issuer must select exactly one \
                 key set",
            ),
            (
                ConfigError::DiscoveryIssuerMismatch {
                    configured: "https://a".into(),
                    discovered: "https://b".into(),
                },
                "issuer \"https://a\" is not the issuer \"https://b\" whose keys are \
                 discovered: keys found by discovery verify that issuer's tokens only",
            ),
            (
                ConfigError::IssuerRequiredNextToTrustedIssuers,
                "the layer's own keys need an issuer when trusted issuers are configured, so \
                 that each token's iss selects exactly one key set",
            ),
            (
                ConfigError::IssuerOrAudienceWithoutOwnKeys,
                "an issuer or audience is set on the builder, which has no keys of its own: \
                 set them on each trusted issuer",
            ),
            (
                ConfigError::KeysAndJwksTogether,
                "static keys and a remote key set cannot be combined: use one or the other",
            ),
            (
                ConfigError::InvalidJwksUrl { url: "keys".into() },
                "invalid key set url \"keys\": an absolute https:// url with a host is required",
            ),
            (
                ConfigError::PlainHttpNotAllowed {
                    host: "keys.internal".into(),
                },
                "key set url: plain http to \"keys.internal\" is not allowed; use https, or \
                 JwksSource::allow_http(true) for a loopback host (127.0.0.0/8, [::1], \
                 localhost), or JwksSource::allow_http_host(\"keys.internal\") to name this host",
            ),
            (
                ConfigError::InvalidHttpHost {
                    host: "http://x".into(),
                },
                "invalid plain-http host \"http://x\" for JwksSource::allow_http_host: it must \
                 be a host name or ip address alone (no scheme, user, port or path)",
            ),
            (
                ConfigError::InvalidJwksAlgorithms,
                "invalid key set algorithms: one or more asymmetric algorithms are required \
                 (RS*, PS*, ES*, EdDSA)",
            ),
            (
                ConfigError::InvalidJwksSetting {
                    setting: "cooldown",
                    requirement: "it must be between 1 s and 600 s",
                },
                "invalid key set cooldown: it must be between 1 s and 600 s",
            ),
            (
                ConfigError::TlsSetup {
                    reason: "no roots".into(),
                },
                "the tls client of the key set cannot be set up: no roots",
            ),
            (
                ConfigError::InvalidIssuing {
                    setting: "issuer",
                    problem: "is empty",
                },
                "token issuing: issuer is empty",
            ),
            (
                ConfigError::DefaultRejectionSettingsWithCustomRejection { setting: "realm" },
                "realm is a setting of the default rejection, and a custom rejection is \
                 configured: set it on the custom rejection instead",
            ),
        ];
        for (error, message) in &cases {
            let shown = error.to_string();
            assert_eq!(shown, *message, "{error:?}");
            assert!(!shown.ends_with('.'), "{shown}");
            let first = shown.chars().next().unwrap();
            assert!(!first.is_ascii_uppercase(), "{shown}");
            // The catch-all advice is gone: only settings it fits mention printable ascii.
            if shown.contains("printable ascii") {
                assert!(
                    matches!(
                        error,
                        ConfigError::InvalidKid
                            | ConfigError::InvalidTyp { .. }
                            | ConfigError::InvalidRealm { .. }
                            | ConfigError::InvalidScope { .. }
                    ),
                    "{shown}"
                );
            }
        }
    }
}
