//! What opening a session did: [`Created`], the answer of [`SessionStore::open`](super::SessionStore::open).

use std::time::SystemTime;

/// What [`SessionStore::open`](super::SessionStore::open) did: when the new session's first refresh token expires, and
/// how many live sessions of its subject the per-user cap ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Created {
    expires_at: SystemTime,
    capped: usize,
}

impl Created {
    /// A session whose first refresh token expires at `expires_at`; the cap ended none.
    pub fn new(expires_at: SystemTime) -> Self {
        Self {
            expires_at,
            capped: 0,
        }
    }

    /// The same, with how many live sessions the cap ended. For store implementations.
    #[must_use]
    pub fn with_capped(mut self, capped: usize) -> Self {
        self.capped = capped;
        self
    }

    /// When the first refresh token expires unless used.
    pub fn expires_at(&self) -> SystemTime {
        self.expires_at
    }

    /// How many live sessions of the subject the cap ended ([`SessionLimits::max_sessions_per_user`](super::SessionLimits::max_sessions_per_user)).
    pub fn capped(&self) -> usize {
        self.capped
    }
}
