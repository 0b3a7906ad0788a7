//! Sessions: staying logged in and logging out.
//!
//! - `issue`: minting access tokens ([`AccessTokenMinter`], [`Grant`], [`AccessToken`]), signed with
//!   the [`SigningKeys`](crate::SigningKeys) of `keys`.
//! - [`refresh`]: opaque refresh tokens ([`RefreshToken`]) that name their session and carry a
//!   MAC under the service's [`RefreshTokenKey`], their SHA-256 ([`TokenHash`], the only form a
//!   store keeps) and the successor pair sealed for the grace window ([`SealedSuccessor`]).
//! - [`store`]: the store trait ([`SessionStore`] with its atomic [`rotate`](SessionStore::rotate)
//!   step) and its values. It extends the layer's [`RevocationStore`], and judges expiry by
//!   the [`Clock`](crate::clock::Clock).
//! - [`memory`]: [`MemoryStore`], the default in-memory store.
//! - `redis` (feature `redis`): `RedisStore`, shared by every instance of a service.
//! - [`Sessions`]: the lifecycle assembled from these parts (open, refresh, logout, logout
//!   everywhere, the matching layer configuration), and [`SessionEndpoints`], its HTTP
//!   endpoints as a Tower service.
//! - [`CookieSettings`]: the session's cookies for browsers (access, refresh, CSRF), and the
//!   matching [`TokenSource`](crate::TokenSource).

mod cookies;
mod endpoint;
mod issue;
pub mod memory;
#[cfg(feature = "redis")]
#[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
pub mod redis;
pub mod refresh;
mod sessions;
pub mod store;

pub use self::cookies::{CookieError, CookieSettings, DEFAULT_REFRESH_PATH, MAX_SET_COOKIE_LEN};
pub use self::endpoint::{EndpointBody, EndpointFuture, SessionEndpoints, MAX_BODY_LEN};
pub use self::issue::{
    AccessToken, AccessTokenMinter, AccessTokenMinterBuilder, Grant, IssueError,
    DEFAULT_ACCESS_TTL, MAX_ACCESS_TTL,
};
pub use self::memory::{MemoryStats, MemoryStore, MemoryStoreBuilder};
#[cfg(feature = "redis")]
pub use self::redis::{RedisConfigError, RedisStore, RedisStoreBuilder};
pub use self::refresh::{
    InvalidRefreshToken, RefreshToken, RefreshTokenKey, SealedSuccessor, SessionCryptoError,
    SessionId, SuccessorPair, TokenHash, MAX_REFRESH_TOKEN_LEN, MAX_SESSION_ID_LEN,
    MIN_REFRESH_KEY_LEN,
};
pub use self::sessions::{
    ReuseEvent, SessionError, SessionErrorKind, Sessions, SessionsBuilder, TokenPair,
    DEFAULT_ABSOLUTE_LIFETIME, DEFAULT_IDLE_TIMEOUT, DEFAULT_REFRESH_GRACE, MAX_REFRESH_GRACE,
};
pub use self::store::{
    Lookup, NewSession, RotateOutcome, Rotation, SessionInfo, SessionLimits, SessionStore,
};

// The old paths of the items that moved to `clock` and `revocation` in 0.3.0, kept for this
// release: the deprecated aliases of `store`, and the identity type.
#[allow(deprecated)]
pub use self::store::{
    Clock, RevocationQuery, RevocationStatus, RevocationStore, StoreError, StoreErrorKind,
    StoreFuture,
};

/// Moved to [`tower_jwt_auth::revocation::TokenIdentity`](crate::revocation::TokenIdentity).
#[deprecated(
    since = "0.3.0",
    note = "moved to `tower_jwt_auth::revocation::TokenIdentity`"
)]
pub type TokenIdentity = crate::revocation::TokenIdentity;
