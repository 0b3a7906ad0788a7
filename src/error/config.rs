//! [`ConfigError`]: why the builder or a setting refused a configuration.

use std::fmt;

use jsonwebtoken::Algorithm;

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
    /// The token sources of a layer from
    /// [`Sessions::layer_builder`](crate::session::Sessions::layer_builder) leave out the access
    /// cookie the sessions set (their [cookie settings](crate::session::SessionsBuilder::cookies)):
    /// such a layer would never read the cookies its own login and endpoints set.
    SessionCookieNotRead {
        /// The source left out, such as `cookie __Host-access_token`.
        source: String,
    },
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
    /// The [`metrics_name`](crate::JwtAuthBuilder::metrics_name) of a layer is empty, longer
    /// than 64 characters, or has a character outside `a-z`, `0-9`, `_` and `-`.
    InvalidMetricsName {
        /// The name.
        name: String,
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
    /// A [public origin](crate::csrf::CsrfGuard::public_origin) is not `http(s)://host[:port]`
    /// without a path.
    InvalidPublicOrigin {
        /// The origin as given.
        origin: String,
    },
    /// An RSA key's modulus has the ROCA fingerprint (CVE-2017-15361): it was made by a flawed
    /// generator and its private key can be recovered from the public key.
    RocaRsaKey,
    /// A [DPoP setting](crate::dpop::DpopConfig) is out of range: an algorithm that is not an
    /// asymmetric one, an empty list, a window or a bound of zero or too large.
    InvalidDpop {
        /// The setting.
        setting: &'static str,
        /// What is wrong with it.
        problem: &'static str,
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
            ConfigError::SessionCookieNotRead { source } => write!(
                f,
                "the token sources leave out the sessions' access cookie ({source}): add \
                 `CookieSettings::token_source()`, or configure the sessions without cookies"
            ),
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
            ConfigError::InvalidPublicOrigin { origin } => write!(
                f,
                "invalid public origin {origin:?}: give the service's own origin as browsers \
                 send it in Origin, http(s)://host[:port] without a path"
            ),
            ConfigError::RocaRsaKey => f.write_str(
                "the RSA key has the ROCA fingerprint (CVE-2017-15361): its private key can be \
                 recovered from the public key; generate a new key",
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
            ConfigError::InvalidMetricsName { name } => write!(
                f,
                "invalid metrics name {name:?}: a layer name is 1 to 64 characters of a-z, 0-9, \
                 _ and -"
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
            ConfigError::InvalidDpop { setting, problem } => {
                write!(f, "dpop: {setting} {problem}")
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

/// Issuers, audiences and claim names: non-empty, no control characters. `invalid` makes the
/// error of the setting from the value and what is wrong with it.
pub(crate) fn checked_value(
    value: String,
    invalid: fn(String, &'static str) -> ConfigError,
) -> Result<Box<str>, ConfigError> {
    if value.is_empty() {
        Err(invalid(value, "it is empty"))
    } else if value.chars().any(char::is_control) {
        Err(invalid(value, "it has control characters"))
    } else {
        Ok(value.into_boxed_str())
    }
}

/// An `iss` to accept, checked as [`checked_value`] does.
pub(crate) fn checked_issuer(issuer: String) -> Result<Box<str>, ConfigError> {
    checked_value(issuer, |issuer, reason| ConfigError::InvalidIssuer {
        issuer,
        reason,
    })
}

/// An `aud` value to accept, checked as [`checked_value`] does.
pub(crate) fn checked_audience(audience: String) -> Result<Box<str>, ConfigError> {
    checked_value(audience, |audience, reason| ConfigError::InvalidAudience {
        audience,
        reason,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

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
                ConfigError::SessionCookieNotRead {
                    source: "cookie access_token".into(),
                },
                "the token sources leave out the sessions' access cookie (cookie access_token): \
                 add `CookieSettings::token_source()`, or configure the sessions without cookies",
            ),
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
            (
                ConfigError::InvalidPublicOrigin {
                    origin: "https://api.example/app".into(),
                },
                "invalid public origin \"https://api.example/app\": give the service's own \
                 origin as browsers send it in Origin, http(s)://host[:port] without a path",
            ),
            (
                ConfigError::RocaRsaKey,
                "the RSA key has the ROCA fingerprint (CVE-2017-15361): its private key can be \
                 recovered from the public key; generate a new key",
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
