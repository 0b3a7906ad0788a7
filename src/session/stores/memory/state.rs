//! The memory store's sessions: their entries, their subjects' sets, and the sweep.

use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet};

use crate::session::refresh_token::{SealedSuccessor, SessionId, TokenHash};
use crate::session::stores::ClientInfo;

#[derive(Debug, Default)]
pub(super) struct State {
    pub(super) sessions: HashMap<SessionId, Session>,
    /// (issuer, subject) → its sessions.
    pub(super) subjects: HashMap<(String, String), HashSet<SessionId>>,
    pub(super) next_sweep: u64,
}

#[derive(Debug)]
pub(super) struct Session {
    pub(super) sub: String,
    pub(super) iss: String,
    /// When it was opened (ms).
    pub(super) created: u64,
    /// When it was last refreshed (ms).
    pub(super) refreshed: u64,
    pub(super) client: ClientInfo,
    pub(super) data: Vec<u8>,
    /// Absolute expiry (ms).
    pub(super) absolute: u64,
    pub(super) current: TokenHash,
    /// The current token's idle expiry (ms).
    pub(super) current_expires: u64,
    pub(super) grace: Option<Grace>,
}

impl Session {
    pub(super) fn live(&self, now: u64) -> bool {
        now < self.absolute && now < self.current_expires
    }
}

#[derive(Debug)]
pub(super) struct Grace {
    pub(super) predecessor: TokenHash,
    pub(super) until: u64,
    pub(super) sealed: SealedSuccessor,
}

/// Removes a session and its place in its subject's set.
pub(super) fn remove_session(state: &mut State, sid: &SessionId) -> Option<Session> {
    let session = state.sessions.remove(sid)?;
    let key = (session.iss.clone(), session.sub.clone());
    if let Entry::Occupied(mut sids) = state.subjects.entry(key) {
        sids.get_mut().remove(sid);
        if sids.get().is_empty() {
            sids.remove();
        }
    }
    Some(session)
}

/// Drops expired sessions, grace states past their window and empty subject sets, at most once
/// per interval.
pub(super) fn sweep_state(state: &mut State, now: u64, interval: u64) {
    if now < state.next_sweep {
        return;
    }
    state.next_sweep = now.saturating_add(interval);
    state.sessions.retain(|_, s| {
        if s.grace.as_ref().is_some_and(|g| now >= g.until) {
            s.grace = None;
        }
        s.live(now)
    });
    let sessions = &state.sessions;
    state.subjects.retain(|_, sids| {
        sids.retain(|sid| sessions.contains_key(sid));
        !sids.is_empty()
    });
}
