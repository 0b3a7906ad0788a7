//! The devices routes: `GET /sessions` (the user's live sessions), `DELETE /sessions/{id}`
//! (end one), `POST /logout-others` (end all but the current one); and the client a refresh
//! records when [`SessionEndpoints::record_client`] is on.

use std::net::{IpAddr, SocketAddr};

use http::header::USER_AGENT;
use http::{Extensions, HeaderMap, Request, Response, StatusCode};
use serde::Serialize;

use super::response::{auth_error, empty, error_body, json, session_error};
use super::SessionEndpoints;
use crate::body::ResponseBody;
use crate::clock::unix_secs;
use crate::error::AuthError;
use crate::revocation::TokenIdentity;
use crate::session::stores::ClientInfo;

#[derive(Serialize)]
struct Device<'a> {
    id: &'a str,
    created_at: u64,
    last_refreshed_at: u64,
    expires_at: u64,
    user_agent: Option<&'a str>,
    ip: Option<String>,
    current: bool,
}

#[derive(Serialize)]
struct Devices<'a> {
    sessions: Vec<Device<'a>>,
}

/// 404 for an unknown session or another user's: the same answer for both.
fn not_found() -> Response<ResponseBody> {
    error_body(
        StatusCode::NOT_FOUND,
        "invalid_request",
        "No such session among the user's sessions",
        "session_not_found",
    )
}

/// The client of a request: its `User-Agent` and its peer address (a `SocketAddr` or `IpAddr`
/// the server put in the extensions).
pub(super) fn client_of<B>(request: &Request<B>) -> ClientInfo {
    client_of_parts(request.headers(), request.extensions())
}

/// [`client_of`] from a request's headers and extensions.
pub(super) fn client_of_parts(headers: &HeaderMap, extensions: &Extensions) -> ClientInfo {
    let user_agent = headers.get(USER_AGENT).and_then(|v| v.to_str().ok());
    let ip = extensions
        .get::<SocketAddr>()
        .map(SocketAddr::ip)
        .or_else(|| extensions.get::<IpAddr>().copied());
    ClientInfo::new(user_agent, ip)
}

impl SessionEndpoints {
    /// `GET /sessions`: the identity's live sessions, newest first.
    pub(super) async fn devices(&self, identity: Option<&TokenIdentity>) -> Response<ResponseBody> {
        let Some(identity) = identity else {
            return auth_error(&AuthError::missing());
        };
        let list = match self.sessions.list_sessions(&identity.sub).await {
            Ok(list) => list,
            Err(error) => return session_error(&error),
        };
        let sessions = list
            .iter()
            .map(|s| Device {
                id: &s.id,
                created_at: unix_secs(s.created_at),
                last_refreshed_at: unix_secs(s.last_refreshed_at),
                expires_at: unix_secs(s.expires_at),
                user_agent: s.client.user_agent.as_deref(),
                ip: s.client.ip.map(|ip| ip.to_string()),
                current: identity.sid.as_deref() == Some(s.id.as_str()),
            })
            .collect();
        json(StatusCode::OK, &Devices { sessions })
    }

    /// `DELETE /sessions/{id}`: ends one of the identity's sessions (the current one is a
    /// logout, and clears the cookies); 404 for any other id.
    pub(super) async fn end_device(
        &self,
        identity: Option<&TokenIdentity>,
        id: &str,
    ) -> Response<ResponseBody> {
        let Some(identity) = identity else {
            return auth_error(&AuthError::missing());
        };
        match self.sessions.end_user_session(&identity.sub, id).await {
            Ok(true) if identity.sid.as_deref() == Some(id) => {
                self.cleared(empty(StatusCode::NO_CONTENT))
            }
            Ok(true) => empty(StatusCode::NO_CONTENT),
            Ok(false) => not_found(),
            Err(error) => session_error(&error),
        }
    }

    /// `POST /logout-others`: ends every session of the identity's subject but its own.
    pub(super) async fn logout_others(
        &self,
        identity: Option<&TokenIdentity>,
    ) -> Response<ResponseBody> {
        let Some(identity) = identity else {
            return auth_error(&AuthError::missing());
        };
        let current = identity.sid.as_deref().unwrap_or("");
        match self.sessions.logout_others(&identity.sub, current).await {
            Ok(_) => empty(StatusCode::NO_CONTENT),
            Err(error) => session_error(&error),
        }
    }
}
