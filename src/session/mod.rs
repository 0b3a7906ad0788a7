//! Sessions: staying logged in and logging out. This folder owns the session lifecycle on top of
//! the layer: issuing, refresh tokens, the stores, the HTTP endpoints and the browser cookies.
//!
//! Every item has one path, flat under `tower_jwt_auth::session`:
//!
//! - Issuing: [`AccessTokenMinter`] mints the access tokens of a [`Grant`] as [`AccessToken`]s,
//!   signed with the [`SigningKeys`](crate::SigningKeys) of `keys`.
//! - Refresh tokens: opaque [`RefreshToken`]s that name their session and carry a MAC under the
//!   service's [`RefreshTokenKey`], their SHA-256 ([`TokenHash`], the only form a store keeps)
//!   and the successor pair sealed for the grace window ([`SealedSuccessor`]).
//! - Stores: the trait [`SessionStore`] (with its atomic [`rotate`](SessionStore::rotate)
//!   step) and its values. It extends the layer's
//!   [`RevocationStore`], and judges expiry by the
//!   [`Clock`](crate::clock::Clock). [`MemoryStore`] is the default, in-memory store;
//!   `RedisStore` (feature `redis`) is shared by every instance of a service.
//! - [`Sessions`]: the lifecycle assembled from these parts (open, refresh, logout, logout
//!   everywhere, the matching layer configuration), configured by [`SessionsBuilder`], and
//!   [`SessionEndpoints`], its HTTP endpoints as a Tower service.
//! - [`CookieSettings`]: the session's cookies for browsers (access, refresh, CSRF), and the
//!   matching [`TokenSource`](crate::TokenSource); given once to
//!   [`SessionsBuilder::cookies`], with the CSRF guard ([`SessionsBuilder::csrf`]), for both the
//!   layer and the endpoints.

mod builder;
mod cookies;
mod endpoint;
mod error;
mod grant;
mod issue;
mod lifecycle;
mod old_paths;
mod refresh_token;
mod stores;
mod token_pair;

mod devices;

pub use self::builder::{
    SessionsBuilder, DEFAULT_ABSOLUTE_LIFETIME, DEFAULT_IDLE_TIMEOUT, DEFAULT_REFRESH_GRACE,
    MAX_REFRESH_GRACE,
};
pub use self::cookies::{CookieError, CookieSettings, DEFAULT_REFRESH_PATH, MAX_SET_COOKIE_LEN};
pub use self::endpoint::{EndpointFuture, SessionEndpoints, SessionRoutes, MAX_BODY_LEN};
pub use self::error::{ReuseEvent, SessionError, SessionErrorKind};
pub use self::grant::{Grant, IssueError};
pub use self::issue::{
    AccessToken, AccessTokenMinter, AccessTokenMinterBuilder, DEFAULT_ACCESS_TTL, MAX_ACCESS_TTL,
};
pub use self::lifecycle::Sessions;
pub use self::refresh_token::{
    InvalidRefreshToken, RefreshToken, RefreshTokenKey, SealedSuccessor, SessionCryptoError,
    SessionId, SuccessorPair, TokenHash, MAX_REFRESH_TOKEN_LEN, MAX_SESSION_ID_LEN,
    MIN_REFRESH_KEY_LEN,
};
pub use self::stores::memory::{MemoryStats, MemoryStore, MemoryStoreBuilder};
#[cfg(feature = "redis")]
#[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
pub use self::stores::redis::{
    RedisConfigError, RedisStore, RedisStoreBuilder, DEFAULT_REDIS_PREFIX, DEFAULT_REDIS_TIMEOUT,
    DEFAULT_REPLICA_WAIT,
};
pub use self::stores::{
    ClientInfo, Created, Lookup, NewSession, RotateOutcome, Rotation, SessionInfo, SessionLimits,
    SessionStore, SessionSummary, DEFAULT_MAX_SESSIONS_PER_USER, MAX_USER_AGENT_LEN,
};
pub use self::token_pair::TokenPair;

// The old paths, kept for 0.3.0: the aliases of the items that moved to `clock` and
// `revocation`, `EndpointBody`, and the modules `store`, `memory`, `refresh` and `redis`.
#[cfg(feature = "redis")]
#[doc(hidden)]
pub use self::old_paths::redis;
#[doc(hidden)]
pub use self::old_paths::{memory, refresh, store};
#[allow(deprecated)]
pub use self::old_paths::{
    Clock, EndpointBody, RevocationQuery, RevocationStatus, RevocationStore, StoreError,
    StoreErrorKind, StoreFuture, TokenIdentity,
};
