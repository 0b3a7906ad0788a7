//! Sessions: staying logged in and logging out.
//!
//! - `issue`: minting access tokens ([`AccessTokenMinter`], [`Grant`], [`AccessToken`]), signed with
//!   the [`SigningKeys`](crate::SigningKeys) of `keys`.
//! - [`refresh`]: opaque refresh tokens ([`RefreshToken`]) that name their session and carry a
//!   MAC under the service's [`RefreshTokenKey`], their SHA-256 ([`TokenHash`], the only form a
//!   store keeps) and the successor pair sealed for the grace window ([`SealedSuccessor`]).
//! - [`store`]: the store traits ([`SessionStore`] with its atomic [`rotate`](SessionStore::rotate)
//!   step, [`RevocationStore`] for the layer's check), their values, the [`Clock`] and
//!   [`StoreError`].
//! - [`TokenIdentity`]: the `jti`, `sid`, `sub`, `iat` and `exp` of an accepted token, which a
//!   layer with a revocation store hands to handlers.
//! - [`memory`]: [`MemoryStore`], the default in-memory store.
//! - `redis` (feature `redis`): `RedisStore`, shared by every instance of a service.
//! - [`Sessions`]: the lifecycle assembled from these parts (open, refresh, logout, logout
//!   everywhere, the matching layer configuration), and [`SessionEndpoints`], its HTTP
//!   endpoints as a Tower service.
//! - [`CookieSettings`]: the session's cookies for browsers (access, refresh, CSRF), and the
//!   matching [`TokenSource`](crate::TokenSource).

mod cookies;
mod endpoint;
pub(crate) mod identity;
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
pub use self::identity::TokenIdentity;
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
    Clock, Lookup, NewSession, RevocationQuery, RevocationStatus, RevocationStore, RotateOutcome,
    Rotation, SessionInfo, SessionLimits, SessionStore, StoreError, StoreErrorKind, StoreFuture,
};
