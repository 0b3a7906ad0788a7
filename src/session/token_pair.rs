//! [`TokenPair`]: the access token and the refresh token of one session, as a login or a
//! refresh answers them.

use std::fmt;
use std::time::Duration;

use serde::Serialize;

use super::refresh_token::SuccessorPair;

/// An access token and a refresh token of one session: the answer of a login or a refresh. It
/// serialises as the OAuth token response (RFC 6749 §5.1) plus `session_expires_at`:
///
/// ```json
/// {"access_token": "eyJ..", "refresh_token": "..", "token_type": "Bearer",
///  "expires_in": 600, "session_expires_at": 1767225600}
/// ```
///
/// Its `Debug` output leaves both tokens out.
#[derive(Clone, PartialEq, Eq, Serialize)]
pub struct TokenPair {
    access_token: String,
    refresh_token: String,
    token_type: &'static str,
    expires_in: u64,
    session_expires_at: u64,
    /// The session id, for the CSRF cookie; not part of the token response.
    #[serde(skip)]
    sid: String,
    /// Seconds until the refresh token stops working: the earlier of the absolute and the idle
    /// expiry; not part of the token response.
    #[serde(skip)]
    remaining: u64,
}

impl TokenPair {
    /// The pair of a newly opened session.
    pub(super) fn new(
        access_token: String,
        refresh_token: String,
        expires_in: u64,
        session_expires_at: u64,
        sid: String,
        remaining: u64,
    ) -> Self {
        Self {
            access_token,
            refresh_token,
            token_type: "Bearer",
            expires_in,
            session_expires_at,
            sid,
            remaining,
        }
    }

    /// The pair of a rotation (or of the grace window's sealed successor).
    pub(super) fn from_successor(
        pair: SuccessorPair,
        expires_in: u64,
        session_expires_at: u64,
        sid: &str,
        remaining: u64,
    ) -> Self {
        Self {
            access_token: pair.access_token,
            refresh_token: pair.refresh_token.as_str().to_owned(),
            token_type: "Bearer",
            expires_in,
            session_expires_at,
            sid: sid.to_owned(),
            remaining,
        }
    }

    /// The id of the session (`sid`) both tokens belong to: not a credential, but the value a
    /// [CSRF token](crate::csrf::CsrfKey::token) is bound to.
    pub fn sid(&self) -> &str {
        &self.sid
    }

    /// How long the session can still be used without logging in again, from when the pair
    /// was issued: the earlier of its absolute expiry and the refresh token's idle expiry. The
    /// `Max-Age` of the [session cookies](crate::session::CookieSettings).
    pub fn remaining_lifetime(&self) -> Duration {
        Duration::from_secs(self.remaining)
    }

    /// The access token (a JWT), for an `Authorization: Bearer` header.
    pub fn access_token(&self) -> &str {
        &self.access_token
    }

    /// The refresh token (opaque), for the next refresh. Never log it.
    pub fn refresh_token(&self) -> &str {
        &self.refresh_token
    }

    /// Always `Bearer`.
    pub fn token_type(&self) -> &'static str {
        self.token_type
    }

    /// For a DPoP-bound pair (`token_type` `DPoP`): the base64url SHA-256 of the access
    /// token, the `ath` of the proofs that go with it. A page that holds the access token only
    /// as an `HttpOnly` cookie gets it in the cookie answer; see the [DPoP
    /// guide](crate::guide::dpop).
    pub fn access_token_hash(&self) -> Option<String> {
        (self.token_type == "DPoP").then(|| crate::dpop::access_token_hash(&self.access_token))
    }

    /// The same pair, DPoP-bound: `token_type` `DPoP`.
    pub(super) fn bound(mut self, bound: bool) -> Self {
        if bound {
            self.token_type = "DPoP";
        }
        self
    }

    /// Seconds until the access token expires.
    pub fn expires_in(&self) -> u64 {
        self.expires_in
    }

    /// When the session ends however often it is refreshed (its absolute lifetime), in seconds
    /// since the Unix epoch.
    pub fn session_expires_at(&self) -> u64 {
        self.session_expires_at
    }
}

impl fmt::Debug for TokenPair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenPair")
            .field("access_token", &"[redacted]")
            .field("refresh_token", &"[redacted]")
            .field("token_type", &self.token_type)
            .field("expires_in", &self.expires_in)
            .field("session_expires_at", &self.session_expires_at)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_token_pair_debug_hides_tokens_and_serialises_oauth_fields() {
        let pair = TokenPair {
            access_token: "a.b.c".into(),
            refresh_token: "secret-refresh".into(),
            token_type: "Bearer",
            expires_in: 600,
            session_expires_at: 42,
            sid: "s1".into(),
            remaining: 7,
        };
        assert_eq!(pair.sid(), "s1");
        assert_eq!(pair.remaining_lifetime(), Duration::from_secs(7));
        let shown = format!("{pair:?}");
        assert!(!shown.contains("a.b.c") && !shown.contains("secret-refresh"));
        assert_eq!(
            serde_json::to_value(&pair).unwrap(),
            serde_json::json!({
                "access_token": "a.b.c",
                "refresh_token": "secret-refresh",
                "token_type": "Bearer",
                "expires_in": 600,
                "session_expires_at": 42,
            })
        );
    }
}
