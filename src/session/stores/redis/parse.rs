//! The strict reading of what Redis answers, and the escaping of values in keys.

use std::borrow::Cow;

use ::redis::Value;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use ring::digest;

use super::{Fail, Res};
use crate::clock::from_millis;
use crate::session::refresh_token::{is_plain_id, SealedSuccessor, SessionId};
use crate::session::stores::RotateOutcome;

pub(super) fn bytes(value: Option<Value>) -> Option<Vec<u8>> {
    match value {
        Some(Value::BulkString(b)) => Some(b),
        Some(Value::SimpleString(s)) => Some(s.into_bytes()),
        _ => None,
    }
}

pub(super) fn parse_rotate(reply: &[Value], sid: &SessionId) -> Res<RotateOutcome> {
    let bytes = |v: Option<&Value>| match v {
        Some(Value::BulkString(b)) => Some(b.clone()),
        Some(Value::SimpleString(s)) => Some(s.clone().into_bytes()),
        _ => None,
    };
    let bad = Fail::Data("the rotation script answered something unexpected");
    let tag = bytes(reply.first()).ok_or(Fail::Data("empty rotation reply"))?;
    Ok(match tag.as_slice() {
        b"rotated" => {
            let exp = bytes(reply.get(1))
                .as_deref()
                .and_then(parse_u64)
                .ok_or(bad)?;
            RotateOutcome::Rotated {
                refresh_expires_at: from_millis(exp),
            }
        }
        b"grace" => {
            RotateOutcome::Grace(SealedSuccessor::from_bytes(bytes(reply.get(1)).ok_or(bad)?))
        }
        b"reused" => RotateOutcome::Reused {
            sid: sid.clone(),
            sub: String::from_utf8(bytes(reply.get(1)).ok_or(bad)?)
                .map_err(|_| Fail::Data("a session is malformed"))?,
        },
        b"expired" => RotateOutcome::Expired,
        b"unknown" => RotateOutcome::Unknown,
        _ => return Err(bad),
    })
}

pub(super) fn parse_u64(value: &[u8]) -> Option<u64> {
    std::str::from_utf8(value).ok()?.parse().ok()
}

/// `<a>:<b>`, both numbers.
pub(super) fn parse_pair(value: &[u8]) -> Option<(u64, u64)> {
    let value = std::str::from_utf8(value).ok()?;
    let (a, b) = value.split_once(':')?;
    Some((a.parse().ok()?, b.parse().ok()?))
}

/// A value in a key: itself when it is a plain id (at most 64 base64url characters), otherwise
/// `~` and its SHA-256 in base64url (`~` is outside the base64url alphabet, so the two forms
/// never collide, and no key holds `{`, `}` or `:` from a value).
pub(super) fn id_key(value: &str) -> Cow<'_, str> {
    if is_plain_id(value, 64) {
        Cow::Borrowed(value)
    } else {
        let digest = digest::digest(&digest::SHA256, value.as_bytes());
        Cow::Owned(format!("~{}", URL_SAFE_NO_PAD.encode(digest.as_ref())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_redis_values_parse_strictly() {
        assert_eq!(parse_pair(b"5:6"), Some((5, 6)));
        assert_eq!(parse_u64(b"12"), Some(12));
        assert_eq!(parse_u64(b"1x"), None);
        assert_eq!(parse_pair(b"5"), None);
    }
}
