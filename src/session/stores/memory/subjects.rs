//! A subject's sessions in memory: the cap per subject and the list of its live sessions.

use super::state::{remove_session, State};
use super::MemoryStore;
use crate::clock::from_millis;
use crate::session::stores::{SessionLimits, SessionSummary};

impl MemoryStore {
    /// Ends the subject's sessions with the oldest opening time while it has more live ones
    /// than the cap (dead ones are dropped on the way).
    pub(super) fn enforce_cap(
        &self,
        state: &mut State,
        subject: &(String, String),
        now: u64,
        limits: &SessionLimits,
    ) -> usize {
        let cap = limits.max_sessions_per_user;
        let mut ended = 0;
        if cap == 0 {
            return ended;
        }
        loop {
            let Some(sids) = state.subjects.get(subject) else {
                return ended;
            };
            if sids.len() <= cap {
                return ended;
            }
            let oldest = sids
                .iter()
                .filter_map(|sid| state.sessions.get(sid).map(|s| (s.created, sid)))
                .min()
                .map(|(_, sid)| sid.clone());
            let Some(oldest) = oldest else {
                return ended;
            };
            if remove_session(state, &oldest).is_some_and(|s| s.live(now)) {
                ended += 1;
                self.record_revocations(
                    now,
                    &subject.0,
                    Some(oldest.as_str()),
                    None,
                    limits.token_lifetime,
                );
            }
        }
    }

    pub(super) fn list_sync(&self, iss: &str, sub: &str) -> Vec<SessionSummary> {
        let now = self.now();
        let cutoff = self.read_revoked().cutoff(iss, sub, now);
        let state = self.state();
        let key = (iss.to_owned(), sub.to_owned());
        let mut list: Vec<SessionSummary> = state
            .subjects
            .get(&key)
            .into_iter()
            .flatten()
            .filter_map(|sid| Some((sid, state.sessions.get(sid)?)))
            .filter(|(_, s)| s.live(now) && cutoff.is_none_or(|c| s.created > c))
            .map(|(sid, s)| {
                SessionSummary::new(
                    sid.as_str(),
                    from_millis(s.created),
                    from_millis(s.refreshed),
                    from_millis(s.current_expires.min(s.absolute)),
                    s.client.clone(),
                )
            })
            .collect();
        list.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(a.id.cmp(&b.id)));
        list.truncate(1000);
        list
    }
}
