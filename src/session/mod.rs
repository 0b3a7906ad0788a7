//! Sessions: the lifecycle of a login, from the access tokens it is issued to its end.
//! Minting access tokens (`issue`); refresh tokens, their stores and revocation live beside it.

mod issue;

pub use self::issue::{
    AccessToken, AccessTokenMinter, AccessTokenMinterBuilder, Grant, IssueError,
    DEFAULT_ACCESS_TTL, MAX_ACCESS_TTL,
};
