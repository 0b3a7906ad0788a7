//! Why a session operation failed ([`SessionError`], [`SessionErrorKind`]), and the event of a
//! detected refresh token reuse ([`ReuseEvent`]).

use std::error::Error as StdError;
use std::fmt;
use std::sync::Arc;

use super::cookies::CookieError;
use super::grant::IssueError;
use super::refresh_token::SessionCryptoError;
use crate::error::AuthError;
use crate::revocation::StoreError;

/// The hook of [`SessionsBuilder::on_reuse`](super::SessionsBuilder::on_reuse).
pub(super) type ReuseHook = Arc<dyn Fn(&ReuseEvent) + Send + Sync>;

/// A session was ended because one of its refresh tokens was presented again after the grace
/// window: usually a stolen token. Handed to the hook of [`SessionsBuilder::on_reuse`](super::SessionsBuilder::on_reuse); it holds
/// no token.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ReuseEvent {
    /// The session's subject.
    pub sub: String,
    /// The ended session.
    pub sid: String,
}

/// Why a session operation failed. Its message never shows a token.
///
/// ```
/// # use tower_jwt_auth::{Algorithm, SigningKey};
/// # use tower_jwt_auth::session::Sessions;
/// use tower_jwt_auth::session::SessionErrorKind;
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let sessions = Sessions::builder()
/// #     .signing_key(SigningKey::hmac(Algorithm::HS256, b"an example secret of 32 bytes!!!")?)?
/// #     .issuer("https://issuer.example")?.build()?;
/// let error = sessions.refresh("not-a-known-token").await.unwrap_err();
/// assert_eq!(error.kind(), SessionErrorKind::InvalidRefreshToken);
/// assert_eq!(error.reason(), "invalid_refresh_token");
/// // The answer of the endpoints and of a login handler: 401 `invalid_grant` here.
/// assert_eq!(error.http_response().status(), 401);
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct SessionError {
    kind: SessionErrorKind,
    source: Option<Box<dyn StdError + Send + Sync>>,
}

/// What kind of [`SessionError`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SessionErrorKind {
    /// The refresh token is unknown (its session ended), forged, malformed or over 512
    /// bytes: `invalid_refresh_token`.
    InvalidRefreshToken,
    /// The refresh token or its session expired (idle timeout or absolute lifetime):
    /// `refresh_expired`.
    RefreshExpired,
    /// The refresh token was used before and the grace window is over: the session was ended.
    /// `refresh_reused`.
    RefreshReused,
    /// The store could not be reached or answer in time, or it is full:
    /// `session_store_unavailable`.
    StoreUnavailable,
    /// An access token could not be issued: a grant the minter refuses (an application error)
    /// or a failure of the random number generator, the signature or the sealing of the
    /// successor. `issue_failed`.
    Issue,
    /// A login ([`Sessions::login`](super::Sessions::login)) was refused by the sessions'
    /// [CSRF guard](super::SessionsBuilder::csrf): a request another site made the browser
    /// send (login CSRF). `csrf`.
    Csrf,
    /// The session cookies could not be set (a [`CookieError`](super::CookieError): an access
    /// token too large for a cookie, or no random CSRF token). `cookie_error`.
    Cookie,
    /// The session is bound to a DPoP key and the refresh came without a valid proof by that
    /// key, or a login's or refresh's `DPoP` proof failed a check (RFC 9449 §5): 400,
    /// `invalid_dpop_proof`. Such a refusal changes nothing in the session.
    InvalidDpopProof,
}

impl SessionErrorKind {
    /// The machine-readable reason, as the endpoints put it into `reason`.
    pub fn reason(self) -> &'static str {
        match self {
            SessionErrorKind::InvalidRefreshToken => "invalid_refresh_token",
            SessionErrorKind::RefreshExpired => "refresh_expired",
            SessionErrorKind::RefreshReused => "refresh_reused",
            SessionErrorKind::StoreUnavailable => "session_store_unavailable",
            SessionErrorKind::Issue => "issue_failed",
            SessionErrorKind::Csrf => "csrf",
            SessionErrorKind::Cookie => "cookie_error",
            SessionErrorKind::InvalidDpopProof => "invalid_dpop_proof",
        }
    }

    /// A sentence for `error_description`.
    pub fn description(self) -> &'static str {
        match self {
            SessionErrorKind::InvalidRefreshToken => "The refresh token is invalid",
            SessionErrorKind::RefreshExpired => "The refresh token expired",
            SessionErrorKind::RefreshReused => {
                "The refresh token was already used; the session was ended"
            }
            SessionErrorKind::StoreUnavailable => {
                "The session store is unavailable; try again later"
            }
            SessionErrorKind::Issue => "The tokens could not be issued",
            SessionErrorKind::Csrf => "The request was refused as cross-site (CSRF)",
            SessionErrorKind::Cookie => "The session cookies could not be set",
            SessionErrorKind::InvalidDpopProof => "The DPoP proof is missing or invalid",
        }
    }
}

impl SessionError {
    pub(super) fn new(kind: SessionErrorKind) -> Self {
        Self { kind, source: None }
    }

    pub(super) fn store(error: StoreError) -> Self {
        Self {
            kind: SessionErrorKind::StoreUnavailable,
            source: Some(Box::new(error)),
        }
    }

    pub(super) fn issue(error: IssueError) -> Self {
        Self {
            kind: SessionErrorKind::Issue,
            source: Some(Box::new(error)),
        }
    }

    /// A login refused by the CSRF guard: `error`, of kind [`ErrorKind::Csrf`](crate::ErrorKind::Csrf).
    pub(super) fn csrf(error: AuthError) -> Self {
        Self {
            kind: SessionErrorKind::Csrf,
            source: Some(Box::new(error)),
        }
    }

    pub(super) fn cookie(error: CookieError) -> Self {
        Self {
            kind: SessionErrorKind::Cookie,
            source: Some(Box::new(error)),
        }
    }

    /// The guard's refusal of a [`SessionErrorKind::Csrf`] error.
    pub(super) fn auth_error(&self) -> Option<&AuthError> {
        self.source.as_deref()?.downcast_ref::<AuthError>()
    }

    pub(super) fn crypto(error: SessionCryptoError) -> Self {
        Self {
            kind: SessionErrorKind::Issue,
            source: Some(Box::new(error)),
        }
    }

    /// What went wrong.
    pub fn kind(&self) -> SessionErrorKind {
        self.kind
    }

    /// The machine-readable reason: `invalid_refresh_token`, `refresh_expired`,
    /// `refresh_reused`, `session_store_unavailable`, `issue_failed`, `csrf` or `cookie_error`.
    pub fn reason(&self) -> &'static str {
        self.kind.reason()
    }
}

impl fmt::Display for SessionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self.kind {
            SessionErrorKind::InvalidRefreshToken => "the refresh token is invalid",
            SessionErrorKind::RefreshExpired => "the refresh token expired",
            SessionErrorKind::RefreshReused => {
                "the refresh token was already used: the session was ended"
            }
            SessionErrorKind::StoreUnavailable => "the session store is unavailable",
            SessionErrorKind::Issue => "the tokens could not be issued",
            SessionErrorKind::Csrf => "the request was refused by the CSRF guard",
            SessionErrorKind::Cookie => "the session cookies could not be set",
            SessionErrorKind::InvalidDpopProof => "the DPoP proof is missing or invalid",
        })?;
        if let Some(source) = &self.source {
            write!(f, ": {source}")?;
        }
        Ok(())
    }
}

impl StdError for SessionError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn StdError + 'static))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_error_reasons_and_messages_name_no_token() {
        for (kind, reason) in [
            (
                SessionErrorKind::InvalidRefreshToken,
                "invalid_refresh_token",
            ),
            (SessionErrorKind::RefreshExpired, "refresh_expired"),
            (SessionErrorKind::RefreshReused, "refresh_reused"),
            (
                SessionErrorKind::StoreUnavailable,
                "session_store_unavailable",
            ),
            (SessionErrorKind::Issue, "issue_failed"),
            (SessionErrorKind::Csrf, "csrf"),
            (SessionErrorKind::Cookie, "cookie_error"),
        ] {
            let e = SessionError::new(kind);
            assert_eq!(e.reason(), reason);
            assert_eq!(e.kind(), kind);
            assert!(!e.to_string().is_empty());
        }
        let e = SessionError::store(StoreError::full());
        assert_eq!(
            e.to_string(),
            "the session store is unavailable: the session store is full and refused a new session"
        );
    }
}
