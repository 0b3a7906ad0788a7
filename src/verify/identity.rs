//! [`TokenIdentity`]: who and which session an accepted access token speaks for, read from its
//! claims by the verification when the layer checks revocation, and handed to handlers.

/// The identity of an accepted access token: its `jti`, `sid`, `sub`, `iat` and `exp`, owned.
///
/// A layer with a [revocation store](crate::JwtAuthBuilder::revocation) puts one into the
/// extensions of every request it lets through with a token, next to the claims, so that a
/// logout handler needs nothing from the application's claims type: it ends the session `sid`,
/// or revokes the token by its `jti` until `exp`, or ends every session of `sub`. A layer
/// without a store adds none.
///
/// ```
/// use tower_jwt_auth::revocation::TokenIdentity;
///
/// fn logout_target(request: &http::Request<()>) -> Option<&str> {
///     let identity = request.extensions().get::<TokenIdentity>()?;
///     identity.sid.as_deref()
/// }
/// # let _ = logout_target;
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct TokenIdentity {
    /// The token's `jti`: what
    /// [`RevocationStore::revoke_token`](crate::revocation::RevocationStore::revoke_token)
    /// revokes. Never empty.
    pub jti: String,
    /// The token's session id (`sid`), if it has one. A layer requires it unless
    /// [`revocation_sid_optional`](crate::JwtAuthBuilder::revocation_sid_optional) is on (tokens
    /// from an outside identity provider without sessions). Never empty.
    pub sid: Option<String>,
    /// The token's subject (`sub`). Never empty.
    pub sub: String,
    /// The token's issuer (`iss`), if it has one: every revocation key includes it, so that
    /// subject `42` of one trusted issuer is never revoked for subject `42` of another.
    pub iss: Option<String>,
    /// When the token was issued (`iat`), in whole seconds since the Unix epoch.
    pub iat: u64,
    /// When the token expires (`exp`), in whole seconds since the Unix epoch.
    pub exp: u64,
}

impl TokenIdentity {
    /// The identity of a token with these claims. For tests and for tokens verified outside the
    /// layer.
    pub fn new(
        jti: impl Into<String>,
        sid: Option<String>,
        sub: impl Into<String>,
        iat: u64,
        exp: u64,
    ) -> Self {
        Self {
            jti: jti.into(),
            sid,
            sub: sub.into(),
            iss: None,
            iat,
            exp,
        }
    }

    /// The same identity, from the issuer `iss`.
    #[must_use]
    pub fn with_issuer(mut self, iss: impl Into<String>) -> Self {
        self.iss = Some(iss.into());
        self
    }
}
