//! [`Grant`]: what an access token grants (its subject, scopes and custom claims), and
//! [`IssueError`], why a token could not be minted.

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::verify::scopes::is_scope_token;

/// Claim names a [`Grant`]'s custom claims may not use: the registered claims of RFC 7519 §4.1,
/// the ones the minter writes itself (`sid`, `scope`), and `scp`, which the layer reads as
/// scopes too.
pub(super) const RESERVED_CLAIMS: [&str; 10] = [
    "iss", "sub", "aud", "exp", "nbf", "iat", "jti", "sid", "scope", "scp",
];

/// What an access token grants: its subject (`sub`), its scopes (`scope`) and any custom claims.
///
/// The grant is checked when a token is minted: the subject must not be empty, every scope
/// must be an RFC 6749 §3.3 scope-token (printable ASCII without space, `"` or `\`), and no
/// custom claim may take the name of a claim the minter writes or the layer interprets
/// (`iss`, `sub`, `aud`, `exp`, `nbf`, `iat`, `jti`, `sid`, `scope`, `scp`).
///
/// It serialises with serde, so that a session store can keep it and mint the next access
/// token of the session with the same grant.
///
/// # Example
///
/// ```
/// use tower_jwt_auth::session::Grant;
///
/// let grant = Grant::new("user-42")
///     .scopes(["read", "write"])
///     .claim("name", "Ada")
///     .claim("groups", serde_json::json!(["staff"]));
/// assert_eq!(grant.subject(), "user-42");
/// assert_eq!(grant.scope_list().collect::<Vec<_>>(), ["read", "write"]);
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Grant {
    sub: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    scopes: Vec<String>,
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    claims: Map<String, Value>,
}

impl Grant {
    /// A grant for `subject` (the `sub` claim), with no scope and no custom claim.
    pub fn new(subject: impl Into<String>) -> Self {
        Self {
            sub: subject.into(),
            scopes: Vec::new(),
            claims: Map::new(),
        }
    }

    /// Adds one scope (a scope seen before is not added twice).
    #[must_use]
    pub fn scope(mut self, scope: impl Into<String>) -> Self {
        let scope = scope.into();
        if !self.scopes.contains(&scope) {
            self.scopes.push(scope);
        }
        self
    }

    /// Adds several scopes, one per item; they go into the token's `scope` claim in this
    /// order, separated by spaces.
    #[must_use]
    pub fn scopes<I, S>(self, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        scopes.into_iter().fold(self, Grant::scope)
    }

    /// Sets a custom claim; a second call with the same name replaces the value. The name of a
    /// registered claim is refused when the token is minted ([`IssueError::ReservedClaim`]).
    ///
    /// **Roles.** Put the user's roles into a claim at login, and have the layer read them back
    /// with [`roles_claim`](crate::JwtAuthBuilder::roles_claim) and require them with
    /// [`require_roles`](crate::JwtAuthLayer::require_roles) (403 `forbidden` without them);
    /// the grant is kept with the session, so every refreshed access token carries them too.
    /// The [sessions guide's recipe](crate::guide::sessions) does it end to end.
    ///
    /// ```
    /// use tower_jwt_auth::session::{Grant, Sessions};
    /// # use tower_jwt_auth::{Algorithm, SigningKey};
    /// # fn main() -> Result<(), tower_jwt_auth::ConfigError> {
    /// # let sessions = Sessions::builder()
    /// #     .signing_key(SigningKey::hmac(Algorithm::HS256, b"an example secret of 32 bytes!!!")?)?
    /// #     .issuer("https://issuer.example")?.build()?;
    /// let grant = Grant::new("alice").claim("roles", ["admin"]);
    /// let admin_only = sessions
    ///     .layer_builder::<serde_json::Value>()
    ///     .roles_claim("roles")?
    ///     .require_roles(["admin"])?
    ///     .build()?;
    /// # let _ = (grant, admin_only);
    /// # Ok(())
    /// # }
    /// ```
    #[must_use]
    pub fn claim(mut self, name: impl Into<String>, value: impl Into<Value>) -> Self {
        self.claims.insert(name.into(), value.into());
        self
    }

    /// The subject.
    pub fn subject(&self) -> &str {
        &self.sub
    }

    /// The scopes, in the order they were added.
    pub fn scope_list(&self) -> impl Iterator<Item = &str> {
        self.scopes.iter().map(String::as_str)
    }

    /// The custom claims.
    pub fn claims(&self) -> &Map<String, Value> {
        &self.claims
    }

    /// The `scope` claim: the scopes separated by spaces (empty without any).
    /// The same grant, bound to the DPoP key whose RFC 7638 thumbprint is `jkt`: its access
    /// tokens carry `cnf.jkt`, and the session's refreshes need a proof by that key. Use the
    /// thumbprint [`Sessions::check_dpop_proof`](super::Sessions::check_dpop_proof) gives.
    #[must_use]
    pub fn dpop_bound(self, jkt: impl Into<String>) -> Self {
        self.claim("cnf", serde_json::json!({ "jkt": jkt.into() }))
    }

    /// The thumbprint of the DPoP key the grant is bound to, if any (`cnf.jkt`).
    pub fn dpop_jkt(&self) -> Option<&str> {
        self.claims.get("cnf")?.get("jkt")?.as_str()
    }

    pub(super) fn scope_claim(&self) -> String {
        self.scopes.join(" ")
    }

    /// Checks the subject, the scopes and the custom claim names.
    pub(crate) fn check(&self) -> Result<(), IssueError> {
        if self.sub.is_empty() {
            return Err(IssueError::EmptySubject);
        }
        if let Some(scope) = self.scopes.iter().find(|s| !is_scope_token(s)) {
            return Err(IssueError::InvalidScope {
                scope: scope.clone(),
            });
        }
        if let Some(name) = self
            .claims
            .keys()
            .find(|n| RESERVED_CLAIMS.contains(&n.as_str()))
        {
            return Err(IssueError::ReservedClaim { name: name.clone() });
        }
        Ok(())
    }
}

/// Why an access token could not be minted.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum IssueError {
    /// The grant's subject is empty.
    EmptySubject,
    /// A scope is not an RFC 6749 §3.3 scope-token: empty, or with a space, `"`, `\` or a
    /// character outside printable ASCII.
    InvalidScope {
        /// The scope.
        scope: String,
    },
    /// A custom claim has the name of a claim the minter writes or the layer interprets.
    ReservedClaim {
        /// The claim's name.
        name: String,
    },
    /// The clock is before 1970 or so far ahead that `exp` overflows.
    Clock,
    /// The system's random number generator failed.
    Random,
    /// The claims could not be serialised, or the crypto provider could not sign.
    Signing,
}

impl fmt::Display for IssueError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IssueError::EmptySubject => f.write_str("the grant's subject is empty"),
            IssueError::InvalidScope { scope } => {
                write!(f, "the scope {scope:?} is not an rfc 6749 scope-token")
            }
            IssueError::ReservedClaim { name } => {
                write!(
                    f,
                    "the custom claim {name:?} has the name of a registered claim"
                )
            }
            IssueError::Clock => f.write_str("the clock is out of the range of a NumericDate"),
            IssueError::Random => f.write_str("the system random number generator failed"),
            IssueError::Signing => f.write_str("the access token could not be signed"),
        }
    }
}

impl std::error::Error for IssueError {}
