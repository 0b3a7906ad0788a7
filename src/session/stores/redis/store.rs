//! The store itself: the keys of a session, a subject and a token, the calls of
//! [`SessionStore`] and [`RevocationStore`] on them, and the strict parsing of what Redis
//! answers.

use std::borrow::Cow;
use std::time::{Duration, SystemTime};

use ::redis::aio::ConnectionManager;
use ::redis::{Script, Value};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use ring::digest;

use super::{Fail, RedisStore, Res};
use crate::clock::{from_millis, millis};
use crate::revocation::{
    RevocationQuery, RevocationStatus, RevocationStore, StoreError, StoreFuture,
};
use crate::session::refresh_token::{is_plain_id, SealedSuccessor, SessionId, TokenHash};
use crate::session::stores::{
    Lookup, NewSession, RotateOutcome, Rotation, SessionInfo, SessionLimits, SessionStore,
};

impl RedisStore {
    // Keys.

    fn session_keys(&self, sid: &str) -> [String; 3] {
        let p = &self.inner.prefix;
        let id = id_key(sid);
        [
            format!("{p}{{{id}}}:s"),
            format!("{p}{{{id}}}:g"),
            format!("{p}{{{id}}}:x"),
        ]
    }

    fn ended_key(&self, sid: &str) -> String {
        format!("{}{{{}}}:x", self.inner.prefix, id_key(sid))
    }

    fn subject_key(&self, sub: &str) -> String {
        format!("{}u:{}", self.inner.prefix, id_key(sub))
    }

    fn cutoff_key(&self, sub: &str) -> String {
        format!("{}c:{}", self.inner.prefix, id_key(sub))
    }

    fn jti_key(&self, jti: &str) -> String {
        format!("{}j:{}", self.inner.prefix, id_key(jti))
    }

    // Calls.

    async fn status_call(
        &self,
        query: RevocationQuery<'_>,
    ) -> Result<RevocationStatus, StoreError> {
        let keys = [
            query.jti.map(|jti| self.jti_key(jti)),
            query.sid.map(|sid| self.ended_key(sid)),
            query.sub.map(|sub| self.cutoff_key(sub)),
        ];
        if keys.iter().all(Option::is_none) {
            return Ok(RevocationStatus::default());
        }
        let now = self.now();
        self.run(|mut con| async move {
            // One round trip: the GETs asked for (two for a token with a `sid`) in one
            // pipeline, each a single-key command, so that a cluster client can route them.
            let mut pipe = ::redis::pipe();
            for key in keys.iter().flatten() {
                pipe.cmd("GET").arg(key);
            }
            let values: Vec<Option<Vec<u8>>> = pipe.query_async(&mut con).await?;
            let mut values = values.into_iter();
            let mut next = |present: bool| {
                if present {
                    values.next().flatten()
                } else {
                    None
                }
            };
            let jti = next(keys[0].is_some());
            let sid = next(keys[1].is_some());
            let cutoff = next(keys[2].is_some());
            let live = |v: Option<Vec<u8>>| -> Res<bool> {
                match v {
                    None => Ok(false),
                    Some(v) => Ok(now < parse_u64(&v).ok_or(Fail::Data("a revocation marker"))?),
                }
            };
            let cutoff = match cutoff {
                None => None,
                Some(v) => {
                    let (until, cutoff) =
                        parse_pair(&v).ok_or(Fail::Data("a subject cutoff is malformed"))?;
                    (now < until).then_some(cutoff)
                }
            };
            Ok(RevocationStatus::new(live(jti)?, live(sid)?, cutoff))
        })
        .await
    }

    async fn create_call(
        &self,
        session: NewSession,
        limits: &SessionLimits,
    ) -> Result<SystemTime, StoreError> {
        let now = self.now();
        let absolute = now.saturating_add(millis(limits.absolute_lifetime));
        let expires = now
            .saturating_add(millis(limits.idle_timeout))
            .min(absolute);
        let ttl = expires.saturating_sub(now).max(1);
        let [session_key, _, _] = self.session_keys(session.sid.as_str());
        let subject_key = self.subject_key(&session.sub);
        let subject_ttl = absolute.saturating_sub(now).max(1);
        let created = self
            .run(|mut con| async move {
                let created: i64 = self
                    .inner
                    .create
                    .key(&session_key)
                    .arg(&session.sub)
                    .arg(&session.data)
                    .arg(absolute)
                    .arg(session.refresh.to_base64url())
                    .arg(expires)
                    .arg(ttl)
                    .invoke_async(&mut con)
                    .await?;
                if created == 0 {
                    return Ok(false);
                }
                ::redis::pipe()
                    .cmd("SADD")
                    .arg(&subject_key)
                    .arg(session.sid.as_str())
                    .ignore()
                    .cmd("PEXPIRE")
                    .arg(&subject_key)
                    .arg(subject_ttl)
                    .arg("NX")
                    .ignore()
                    .cmd("PEXPIRE")
                    .arg(&subject_key)
                    .arg(subject_ttl)
                    .arg("GT")
                    .ignore()
                    .exec_async(&mut con)
                    .await?;
                Ok(true)
            })
            .await?;
        if created {
            Ok(from_millis(expires))
        } else {
            Err(StoreError::unavailable(
                "a session with this id already exists",
            ))
        }
    }

    async fn lookup_call(
        &self,
        sid: &SessionId,
        presented: &TokenHash,
    ) -> Result<Lookup, StoreError> {
        let now = self.now();
        let [session_key, _, _] = self.session_keys(sid.as_str());
        let presented_b64 = presented.to_base64url();
        self.run(|mut con| async move {
            let fields: Vec<Option<Vec<u8>>> = ::redis::cmd("HMGET")
                .arg(&session_key)
                .arg(&["sub", "data", "abs", "cur", "cexp"])
                .query_async(&mut con)
                .await?;
            let [sub, data, abs, cur, cexp]: [Option<Vec<u8>>; 5] = fields
                .try_into()
                .map_err(|_| Fail::Data("a session is malformed"))?;
            let Some(sub) = sub else {
                return Ok(Lookup::Unknown);
            };
            let malformed = || Fail::Data("a session is malformed");
            let abs = abs.as_deref().and_then(parse_u64).ok_or_else(malformed)?;
            let cexp = cexp.as_deref().and_then(parse_u64).ok_or_else(malformed)?;
            if now >= abs || now >= cexp {
                return Ok(Lookup::Expired);
            }
            let sub = String::from_utf8(sub).map_err(|_| malformed())?;
            Ok(Lookup::Found(
                SessionInfo::new(
                    sid.clone(),
                    sub,
                    data.unwrap_or_default(),
                    from_millis(abs),
                    *presented,
                    cur.as_deref() == Some(presented_b64.as_bytes()),
                )
                .with_idle_expires_at(from_millis(cexp)),
            ))
        })
        .await
    }

    async fn rotate_call(
        &self,
        rotation: Rotation,
        limits: &SessionLimits,
    ) -> Result<RotateOutcome, StoreError> {
        let now = self.now();
        let [session_key, grace_key, ended_key] = self.session_keys(rotation.sid().as_str());
        let idle = millis(limits.idle_timeout);
        let grace = millis(limits.refresh_grace);
        let keep = millis(limits.token_lifetime);
        self.run(|mut con| async move {
            // One round trip: the script (EVALSHA, loaded on first use).
            let reply: Vec<Value> = self
                .inner
                .rotate
                .key(&session_key)
                .key(&grace_key)
                .key(&ended_key)
                .arg(rotation.presented().to_base64url())
                .arg(rotation.successor().to_base64url())
                .arg(rotation.sealed().as_bytes())
                .arg(now)
                .arg(idle)
                .arg(grace)
                .arg(keep)
                .invoke_async(&mut con)
                .await?;
            parse_rotate(&reply, rotation.sid())
        })
        .await
    }

    async fn end_session_call(
        &self,
        sid: &str,
        limits: &SessionLimits,
    ) -> Result<bool, StoreError> {
        let now = self.now();
        let keep = millis(limits.token_lifetime);
        let keys = self.session_keys(sid);
        self.run(|mut con| async move {
            let (sub, live) = end_one(&self.inner.end, &mut con, &keys, now, keep).await?;
            if let Some(sub) = sub {
                ::redis::cmd("SREM")
                    .arg(self.subject_key(&sub))
                    .arg(sid)
                    .exec_async(&mut con)
                    .await?;
            }
            Ok(live)
        })
        .await
    }

    async fn end_subject_call(
        &self,
        sub: &str,
        limits: &SessionLimits,
    ) -> Result<usize, StoreError> {
        let now = self.now();
        let keep = millis(limits.token_lifetime);
        let subject_key = self.subject_key(sub);
        let cutoff_key = self.cutoff_key(sub);
        self.run(|mut con| async move {
            set_cutoff(&self.inner.cutoff, &mut con, &cutoff_key, now, keep).await?;
            let sids: Vec<String> = ::redis::cmd("SMEMBERS")
                .arg(&subject_key)
                .query_async(&mut con)
                .await?;
            let mut live = 0;
            for sid in &sids {
                let keys = self.session_keys(sid);
                let (_, was_live) = end_one(&self.inner.end, &mut con, &keys, now, keep).await?;
                live += usize::from(was_live);
            }
            if !sids.is_empty() {
                ::redis::cmd("SREM")
                    .arg(&subject_key)
                    .arg(&sids)
                    .exec_async(&mut con)
                    .await?;
            }
            Ok(live)
        })
        .await
    }
}

async fn end_one(
    script: &Script,
    con: &mut ConnectionManager,
    keys: &[String; 3],
    now: u64,
    keep: u64,
) -> Res<(Option<String>, bool)> {
    let reply: Vec<Value> = script
        .key(&keys[0])
        .key(&keys[1])
        .key(&keys[2])
        .arg(now)
        .arg(keep)
        .invoke_async(con)
        .await?;
    let sub = match reply.first() {
        Some(Value::BulkString(sub)) => {
            Some(String::from_utf8(sub.clone()).map_err(|_| Fail::Data("a session is malformed"))?)
        }
        _ => None,
    };
    let live = matches!(reply.get(1), Some(Value::Int(1)));
    Ok((sub, live))
}

async fn set_cutoff(
    script: &Script,
    con: &mut ConnectionManager,
    key: &str,
    now: u64,
    keep: u64,
) -> Res<()> {
    let until = now.saturating_add(keep);
    let _: i64 = script
        .key(key)
        .arg(until)
        .arg(now / 1000)
        .arg(now)
        .invoke_async(con)
        .await?;
    Ok(())
}

fn parse_rotate(reply: &[Value], sid: &SessionId) -> Res<RotateOutcome> {
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

fn parse_u64(value: &[u8]) -> Option<u64> {
    std::str::from_utf8(value).ok()?.parse().ok()
}

/// `<a>:<b>`, both numbers.
fn parse_pair(value: &[u8]) -> Option<(u64, u64)> {
    let value = std::str::from_utf8(value).ok()?;
    let (a, b) = value.split_once(':')?;
    Some((a.parse().ok()?, b.parse().ok()?))
}

/// A value in a key: itself when it is a plain id (at most 64 base64url characters), otherwise
/// `~` and its SHA-256 in base64url (`~` is outside the base64url alphabet, so the two forms
/// never collide, and no key holds `{`, `}` or `:` from a value).
fn id_key(value: &str) -> Cow<'_, str> {
    if is_plain_id(value, 64) {
        Cow::Borrowed(value)
    } else {
        let digest = digest::digest(&digest::SHA256, value.as_bytes());
        Cow::Owned(format!("~{}", URL_SAFE_NO_PAD.encode(digest.as_ref())))
    }
}

impl RevocationStore for RedisStore {
    fn status<'a>(&'a self, query: RevocationQuery<'a>) -> StoreFuture<'a, RevocationStatus> {
        Box::pin(self.status_call(query))
    }

    /// `PING`, within the store's timeout.
    fn ping(&self) -> StoreFuture<'_, ()> {
        Box::pin(RedisStore::ping(self))
    }

    fn revoke_token<'a>(&'a self, jti: &'a str, keep_for: Duration) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            let now = self.now();
            let keep = millis(keep_for);
            let key = self.jti_key(jti);
            self.run(|mut con| async move {
                let _: i64 = self
                    .inner
                    .set_max
                    .key(&key)
                    .arg(now.saturating_add(keep))
                    .arg(keep.max(1))
                    .invoke_async(&mut con)
                    .await?;
                Ok(())
            })
            .await
        })
    }

    fn set_subject_cutoff<'a>(&'a self, sub: &'a str, keep_for: Duration) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            let now = self.now();
            let key = self.cutoff_key(sub);
            self.run(|mut con| async move {
                set_cutoff(&self.inner.cutoff, &mut con, &key, now, millis(keep_for)).await
            })
            .await
        })
    }
}

impl SessionStore for RedisStore {
    fn create<'a>(
        &'a self,
        session: NewSession,
        limits: &'a SessionLimits,
    ) -> StoreFuture<'a, SystemTime> {
        Box::pin(self.create_call(session, limits))
    }

    fn lookup<'a>(
        &'a self,
        sid: &'a SessionId,
        presented: &'a TokenHash,
    ) -> StoreFuture<'a, Lookup> {
        Box::pin(self.lookup_call(sid, presented))
    }

    fn rotate<'a>(
        &'a self,
        rotation: Rotation,
        limits: &'a SessionLimits,
    ) -> StoreFuture<'a, RotateOutcome> {
        Box::pin(self.rotate_call(rotation, limits))
    }

    fn end_session<'a>(&'a self, sid: &'a str, limits: &'a SessionLimits) -> StoreFuture<'a, bool> {
        Box::pin(self.end_session_call(sid, limits))
    }

    fn end_subject<'a>(
        &'a self,
        sub: &'a str,
        limits: &'a SessionLimits,
    ) -> StoreFuture<'a, usize> {
        Box::pin(self.end_subject_call(sub, limits))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_redis_keys_escape_values_and_share_the_session_tag() {
        assert_eq!(id_key("abc-_9"), "abc-_9");
        let escaped = id_key("user:{1}");
        assert!(escaped.starts_with('~'));
        assert!(!escaped.contains(['{', '}', ':']));
        assert_eq!(escaped.len(), 44);
        assert!(id_key(&"a".repeat(65)).starts_with('~'));

        let store = RedisStore::builder("redis://127.0.0.1:1").unwrap().build();
        let [s, g, x] = store.session_keys("sid1");
        assert_eq!(s, "tjwt:{sid1}:s");
        assert_eq!(g, "tjwt:{sid1}:g");
        assert_eq!(x, "tjwt:{sid1}:x");
        assert_eq!(store.ended_key("sid1"), x);
        assert_eq!(store.subject_key("alice"), "tjwt:u:alice");
        assert_eq!(store.cutoff_key("alice"), "tjwt:c:alice");
        assert_eq!(store.jti_key("j"), "tjwt:j:j");
    }

    #[test]
    fn session_redis_values_parse_strictly() {
        assert_eq!(parse_pair(b"5:6"), Some((5, 6)));
        assert_eq!(parse_u64(b"12"), Some(12));
        assert_eq!(parse_u64(b"1x"), None);
        assert_eq!(parse_pair(b"5"), None);
    }
}
