//! The paths of session items before 0.3.0, kept for this release: the modules `store`,
//! `memory`, `refresh` and `redis` (each type now has one path, flat under
//! `tower_jwt_auth::session`), and the aliases of the items that moved to `clock` and
//! `revocation`.

/// Moved to [`tower_jwt_auth::clock::Clock`](crate::clock::Clock).
#[deprecated(since = "0.3.0", note = "moved to `tower_jwt_auth::clock::Clock`")]
pub type Clock = crate::clock::Clock;

/// Moved to [`tower_jwt_auth::revocation::RevocationQuery`](crate::revocation::RevocationQuery).
#[deprecated(
    since = "0.3.0",
    note = "moved to `tower_jwt_auth::revocation::RevocationQuery`"
)]
pub type RevocationQuery<'a> = crate::revocation::RevocationQuery<'a>;

/// Moved to [`tower_jwt_auth::revocation::RevocationStatus`](crate::revocation::RevocationStatus).
#[deprecated(
    since = "0.3.0",
    note = "moved to `tower_jwt_auth::revocation::RevocationStatus`"
)]
pub type RevocationStatus = crate::revocation::RevocationStatus;

/// Moved to [`tower_jwt_auth::revocation::StoreError`](crate::revocation::StoreError).
#[deprecated(
    since = "0.3.0",
    note = "moved to `tower_jwt_auth::revocation::StoreError`"
)]
pub type StoreError = crate::revocation::StoreError;

/// Moved to [`tower_jwt_auth::revocation::StoreErrorKind`](crate::revocation::StoreErrorKind).
#[deprecated(
    since = "0.3.0",
    note = "moved to `tower_jwt_auth::revocation::StoreErrorKind`"
)]
pub type StoreErrorKind = crate::revocation::StoreErrorKind;

/// Moved to [`tower_jwt_auth::revocation::StoreFuture`](crate::revocation::StoreFuture).
#[deprecated(
    since = "0.3.0",
    note = "moved to `tower_jwt_auth::revocation::StoreFuture`"
)]
pub type StoreFuture<'a, T> = crate::revocation::StoreFuture<'a, T>;

/// Moved to [`tower_jwt_auth::revocation::TokenIdentity`](crate::revocation::TokenIdentity).
#[deprecated(
    since = "0.3.0",
    note = "moved to `tower_jwt_auth::revocation::TokenIdentity`"
)]
pub type TokenIdentity = crate::revocation::TokenIdentity;

/// The trait moved to [`tower_jwt_auth::revocation::RevocationStore`](crate::revocation::RevocationStore).
#[deprecated(
    since = "0.3.0",
    note = "moved to `tower_jwt_auth::revocation::RevocationStore`"
)]
pub use crate::revocation::RevocationStore;

/// Replaced by [`tower_jwt_auth::ResponseBody`](crate::ResponseBody), the crate's one-frame body.
#[deprecated(since = "0.3.0", note = "use `tower_jwt_auth::ResponseBody`")]
pub type EndpointBody = crate::ResponseBody;

/// The old module of the store trait and its values.
pub mod store {
    /// Moved to [`tower_jwt_auth::session::NewSession`](crate::session::NewSession).
    #[deprecated(
        since = "0.3.0",
        note = "moved to `tower_jwt_auth::session::NewSession`"
    )]
    pub type NewSession = crate::session::NewSession;
    /// Moved to [`tower_jwt_auth::session::SessionInfo`](crate::session::SessionInfo).
    #[deprecated(
        since = "0.3.0",
        note = "moved to `tower_jwt_auth::session::SessionInfo`"
    )]
    pub type SessionInfo = crate::session::SessionInfo;
    /// Moved to [`tower_jwt_auth::session::Lookup`](crate::session::Lookup).
    #[deprecated(since = "0.3.0", note = "moved to `tower_jwt_auth::session::Lookup`")]
    pub type Lookup = crate::session::Lookup;
    /// Moved to [`tower_jwt_auth::session::Rotation`](crate::session::Rotation).
    #[deprecated(since = "0.3.0", note = "moved to `tower_jwt_auth::session::Rotation`")]
    pub type Rotation = crate::session::Rotation;
    /// Moved to [`tower_jwt_auth::session::RotateOutcome`](crate::session::RotateOutcome).
    #[deprecated(
        since = "0.3.0",
        note = "moved to `tower_jwt_auth::session::RotateOutcome`"
    )]
    pub type RotateOutcome = crate::session::RotateOutcome;
    /// Moved to [`tower_jwt_auth::session::SessionLimits`](crate::session::SessionLimits).
    #[deprecated(
        since = "0.3.0",
        note = "moved to `tower_jwt_auth::session::SessionLimits`"
    )]
    pub type SessionLimits = crate::session::SessionLimits;
    #[allow(deprecated)]
    pub use super::{
        Clock, RevocationQuery, RevocationStatus, RevocationStore, StoreError, StoreErrorKind,
        StoreFuture,
    };
    /// Moved to [`tower_jwt_auth::session::SessionStore`](crate::session::SessionStore).
    #[deprecated(
        since = "0.3.0",
        note = "moved to `tower_jwt_auth::session::SessionStore`"
    )]
    pub use crate::session::SessionStore;
}

/// The old module of the in-memory store.
pub mod memory {
    /// Moved to [`tower_jwt_auth::session::MemoryStore`](crate::session::MemoryStore).
    #[deprecated(
        since = "0.3.0",
        note = "moved to `tower_jwt_auth::session::MemoryStore`"
    )]
    pub type MemoryStore = crate::session::MemoryStore;
    /// Moved to [`tower_jwt_auth::session::MemoryStoreBuilder`](crate::session::MemoryStoreBuilder).
    #[deprecated(
        since = "0.3.0",
        note = "moved to `tower_jwt_auth::session::MemoryStoreBuilder`"
    )]
    pub type MemoryStoreBuilder = crate::session::MemoryStoreBuilder;
    /// Moved to [`tower_jwt_auth::session::MemoryStats`](crate::session::MemoryStats).
    #[deprecated(
        since = "0.3.0",
        note = "moved to `tower_jwt_auth::session::MemoryStats`"
    )]
    pub type MemoryStats = crate::session::MemoryStats;
}

/// The old module of the refresh tokens.
pub mod refresh {
    /// Moved to [`tower_jwt_auth::session::RefreshTokenKey`](crate::session::RefreshTokenKey).
    #[deprecated(
        since = "0.3.0",
        note = "moved to `tower_jwt_auth::session::RefreshTokenKey`"
    )]
    pub type RefreshTokenKey = crate::session::RefreshTokenKey;
    /// Moved to [`tower_jwt_auth::session::RefreshToken`](crate::session::RefreshToken).
    #[deprecated(
        since = "0.3.0",
        note = "moved to `tower_jwt_auth::session::RefreshToken`"
    )]
    pub type RefreshToken = crate::session::RefreshToken;
    /// Moved to [`tower_jwt_auth::session::InvalidRefreshToken`](crate::session::InvalidRefreshToken).
    #[deprecated(
        since = "0.3.0",
        note = "moved to `tower_jwt_auth::session::InvalidRefreshToken`"
    )]
    pub type InvalidRefreshToken = crate::session::InvalidRefreshToken;
    /// Moved to [`tower_jwt_auth::session::TokenHash`](crate::session::TokenHash).
    #[deprecated(
        since = "0.3.0",
        note = "moved to `tower_jwt_auth::session::TokenHash`"
    )]
    pub type TokenHash = crate::session::TokenHash;
    /// Moved to [`tower_jwt_auth::session::SuccessorPair`](crate::session::SuccessorPair).
    #[deprecated(
        since = "0.3.0",
        note = "moved to `tower_jwt_auth::session::SuccessorPair`"
    )]
    pub type SuccessorPair = crate::session::SuccessorPair;
    /// Moved to [`tower_jwt_auth::session::SealedSuccessor`](crate::session::SealedSuccessor).
    #[deprecated(
        since = "0.3.0",
        note = "moved to `tower_jwt_auth::session::SealedSuccessor`"
    )]
    pub type SealedSuccessor = crate::session::SealedSuccessor;
    /// Moved to [`tower_jwt_auth::session::SessionCryptoError`](crate::session::SessionCryptoError).
    #[deprecated(
        since = "0.3.0",
        note = "moved to `tower_jwt_auth::session::SessionCryptoError`"
    )]
    pub type SessionCryptoError = crate::session::SessionCryptoError;
    /// Moved to [`tower_jwt_auth::session::SessionId`](crate::session::SessionId).
    #[deprecated(
        since = "0.3.0",
        note = "moved to `tower_jwt_auth::session::SessionId`"
    )]
    pub type SessionId = crate::session::SessionId;
    /// Moved to [`tower_jwt_auth::session::MAX_REFRESH_TOKEN_LEN`](crate::session::MAX_REFRESH_TOKEN_LEN).
    #[deprecated(
        since = "0.3.0",
        note = "moved to `tower_jwt_auth::session::MAX_REFRESH_TOKEN_LEN`"
    )]
    pub const MAX_REFRESH_TOKEN_LEN: usize = crate::session::MAX_REFRESH_TOKEN_LEN;
    /// Moved to [`tower_jwt_auth::session::MAX_SESSION_ID_LEN`](crate::session::MAX_SESSION_ID_LEN).
    #[deprecated(
        since = "0.3.0",
        note = "moved to `tower_jwt_auth::session::MAX_SESSION_ID_LEN`"
    )]
    pub const MAX_SESSION_ID_LEN: usize = crate::session::MAX_SESSION_ID_LEN;
    /// Moved to [`tower_jwt_auth::session::MIN_REFRESH_KEY_LEN`](crate::session::MIN_REFRESH_KEY_LEN).
    #[deprecated(
        since = "0.3.0",
        note = "moved to `tower_jwt_auth::session::MIN_REFRESH_KEY_LEN`"
    )]
    pub const MIN_REFRESH_KEY_LEN: usize = crate::session::MIN_REFRESH_KEY_LEN;
}

/// The old module of the Redis store.
#[cfg(feature = "redis")]
pub mod redis {
    use std::time::Duration;

    /// Moved to [`tower_jwt_auth::session::RedisStore`](crate::session::RedisStore).
    #[deprecated(
        since = "0.3.0",
        note = "moved to `tower_jwt_auth::session::RedisStore`"
    )]
    pub type RedisStore = crate::session::RedisStore;
    /// Moved to [`tower_jwt_auth::session::RedisStoreBuilder`](crate::session::RedisStoreBuilder).
    #[deprecated(
        since = "0.3.0",
        note = "moved to `tower_jwt_auth::session::RedisStoreBuilder`"
    )]
    pub type RedisStoreBuilder = crate::session::RedisStoreBuilder;
    /// Moved to [`tower_jwt_auth::session::RedisConfigError`](crate::session::RedisConfigError).
    #[deprecated(
        since = "0.3.0",
        note = "moved to `tower_jwt_auth::session::RedisConfigError`"
    )]
    pub type RedisConfigError = crate::session::RedisConfigError;
    /// Moved to [`tower_jwt_auth::session::DEFAULT_REDIS_PREFIX`](crate::session::DEFAULT_REDIS_PREFIX).
    #[deprecated(
        since = "0.3.0",
        note = "moved to `tower_jwt_auth::session::DEFAULT_REDIS_PREFIX`"
    )]
    pub const DEFAULT_PREFIX: &str = crate::session::DEFAULT_REDIS_PREFIX;
    /// Moved to [`tower_jwt_auth::session::DEFAULT_REDIS_TIMEOUT`](crate::session::DEFAULT_REDIS_TIMEOUT).
    #[deprecated(
        since = "0.3.0",
        note = "moved to `tower_jwt_auth::session::DEFAULT_REDIS_TIMEOUT`"
    )]
    pub const DEFAULT_TIMEOUT: Duration = crate::session::DEFAULT_REDIS_TIMEOUT;
}
