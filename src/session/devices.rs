//! A user's devices: the live sessions of a subject, ending one of them, ending all but the
//! current one; and the client metadata recorded at login and refresh.

use super::error::SessionError;
use super::grant::Grant;
use super::lifecycle::Sessions;
use super::stores::{ClientInfo, SessionSummary};
use super::token_pair::TokenPair;
use crate::metrics::{SessionEvent, StoreOp};
use crate::readiness::{Check, Readiness};

impl Sessions {
    /// [`open`](Self::open), recording the client (user agent, address) the application saw,
    /// for [`list_sessions`](Self::list_sessions).
    ///
    /// # Errors
    ///
    /// As [`open`](Self::open).
    pub async fn open_with_client(
        &self,
        grant: Grant,
        client: ClientInfo,
    ) -> Result<TokenPair, SessionError> {
        self.open_for(grant, client).await
    }

    /// [`refresh`](Self::refresh), recording the client as the session's latest.
    ///
    /// # Errors
    ///
    /// As [`refresh`](Self::refresh).
    pub async fn refresh_with_client(
        &self,
        refresh_token: &str,
        client: ClientInfo,
    ) -> Result<TokenPair, SessionError> {
        self.refresh_for(refresh_token, Some(client)).await
    }

    /// The live sessions of the subject `sub` (of these sessions' issuer), newest first: each
    /// with its id (the `sid` of its access tokens), opening, last refresh and expiry times, and
    /// the client recorded when it was opened or last refreshed.
    ///
    /// # Errors
    ///
    /// [`SessionErrorKind::StoreUnavailable`](super::SessionErrorKind::StoreUnavailable) when the
    /// store cannot answer.
    pub async fn list_sessions(&self, sub: &str) -> Result<Vec<SessionSummary>, SessionError> {
        let inner = &*self.inner;
        let list = inner.store.list_sessions(inner.minter.issuer(), sub);
        let mut list = inner
            .metrics
            .store
            .timed(StoreOp::List, list)
            .await
            .map_err(SessionError::store)?;
        list.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(a.id.cmp(&b.id)));
        Ok(list)
    }

    /// Ends the session `sid` of the subject `sub`, if it is one of that subject's live
    /// sessions: its refresh tokens are refused and its access tokens revoked. Returns `false`,
    /// ending nothing, for an unknown session or another subject's.
    ///
    /// # Errors
    ///
    /// [`SessionErrorKind::StoreUnavailable`](super::SessionErrorKind::StoreUnavailable) when the
    /// store cannot answer.
    pub async fn end_user_session(&self, sub: &str, sid: &str) -> Result<bool, SessionError> {
        self.inner.metrics.event(SessionEvent::LogoutOne);
        let list = self.list_sessions(sub).await?;
        if !list.iter().any(|s| s.id == sid) {
            return Ok(false);
        }
        self.end_session_of(self.inner.minter.issuer(), sid).await?;
        Ok(true)
    }

    /// Ends every live session of the subject `sub` but `current`. Returns how many ended.
    ///
    /// # Errors
    ///
    /// [`SessionErrorKind::StoreUnavailable`](super::SessionErrorKind::StoreUnavailable) when the
    /// store cannot answer.
    pub async fn logout_others(&self, sub: &str, current: &str) -> Result<usize, SessionError> {
        self.inner.metrics.event(SessionEvent::LogoutOthers);
        let mut ended = 0;
        for session in self.list_sessions(sub).await? {
            let issuer = self.inner.minter.issuer();
            if session.id != current && self.end_session_of(issuer, &session.id).await? {
                ended += 1;
            }
        }
        Ok(ended)
    }

    /// Whether the sessions' store answers now, for a readiness probe
    /// ([`RevocationStore::ping`](crate::revocation::RevocationStore::ping), timed as the
    /// store operation `status`). See the [operations guide](crate::guide::operations).
    pub async fn readiness(&self) -> Readiness {
        let inner = &*self.inner;
        let ping = inner.store.ping();
        let check = match inner.metrics.store.timed(StoreOp::Status, ping).await {
            Ok(()) => Check::Ok,
            Err(_) => Check::NotReady("the session store does not answer"),
        };
        Readiness::new(None, Some(check))
    }
}
