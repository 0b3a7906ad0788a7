//! What a store keeps about the devices of a subject's sessions: the client that opened or last
//! refreshed a session ([`ClientInfo`]), and one live session as listed ([`SessionSummary`]).

use std::net::IpAddr;
use std::time::SystemTime;

/// The most bytes of a user agent kept with a session.
pub const MAX_USER_AGENT_LEN: usize = 256;

/// The client of a session, as the application (or [`SessionEndpoints`](crate::session::SessionEndpoints)
/// when recording is on) saw it when the session was opened or last refreshed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ClientInfo {
    /// The `User-Agent`, at most [`MAX_USER_AGENT_LEN`] bytes (cut at a character boundary).
    pub user_agent: Option<String>,
    /// The client's IP address (without a port).
    pub ip: Option<IpAddr>,
}

impl ClientInfo {
    /// A client with this user agent (cut to [`MAX_USER_AGENT_LEN`] bytes; empty reads as
    /// none) and address.
    pub fn new(user_agent: Option<&str>, ip: Option<IpAddr>) -> Self {
        let user_agent = user_agent.filter(|ua| !ua.is_empty()).map(|ua| {
            let mut end = ua.len().min(MAX_USER_AGENT_LEN);
            while !ua.is_char_boundary(end) {
                end -= 1;
            }
            ua[..end].to_owned()
        });
        Self { user_agent, ip }
    }
}

/// One live session of a subject: [`SessionStore::list_sessions`](super::SessionStore::list_sessions).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct SessionSummary {
    /// The session id: the `sid` claim of its access tokens.
    pub id: String,
    /// When it was opened.
    pub created_at: SystemTime,
    /// When it was last refreshed (its opening time until the first refresh).
    pub last_refreshed_at: SystemTime,
    /// When it ends unless refreshed first: the earlier of the idle and the absolute expiry.
    pub expires_at: SystemTime,
    /// The client that opened or last refreshed it.
    pub client: ClientInfo,
}

impl SessionSummary {
    /// A summary with these parts. For store implementations.
    pub fn new(
        id: impl Into<String>,
        created_at: SystemTime,
        last_refreshed_at: SystemTime,
        expires_at: SystemTime,
        client: ClientInfo,
    ) -> Self {
        Self {
            id: id.into(),
            created_at,
            last_refreshed_at,
            expires_at,
            client,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_client_user_agent_is_cut_at_256_bytes_on_a_char_boundary() {
        let long = "é".repeat(200);
        let client = ClientInfo::new(Some(&long), None);
        let ua = client.user_agent.unwrap();
        assert!(ua.len() <= MAX_USER_AGENT_LEN && ua.len() >= MAX_USER_AGENT_LEN - 1);
        assert_eq!(ClientInfo::new(Some(""), None).user_agent, None);
    }
}
