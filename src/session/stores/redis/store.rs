//! The store itself: the keys of a session, a subject and a token, the calls of
//! [`SessionStore`] and [`RevocationStore`] on them, and the strict parsing of what Redis
//! answers.

use std::time::{Duration, SystemTime};

use ::redis::aio::ConnectionManager;
use ::redis::{Script, Value};

use super::parse::{bytes, id_key, parse_pair, parse_rotate, parse_u64};
use super::{Fail, RedisStore, Res};
use crate::clock::{from_millis, millis};
use crate::revocation::{
    RevocationQuery, RevocationStatus, RevocationStore, StoreError, StoreFuture,
};
use crate::session::refresh_token::{SessionId, TokenHash};
use crate::session::stores::{
    Lookup, NewSession, RotateOutcome, Rotation, SessionInfo, SessionLimits, SessionStore,
    SessionSummary,
};

mod subjects;

impl RedisStore {
    // Keys.

    pub(super) fn session_keys(&self, sid: &str) -> [String; 2] {
        let p = &self.inner.prefix;
        let id = id_key(sid);
        [format!("{p}{{{id}}}:s"), format!("{p}{{{id}}}:g")]
    }

    /// The ended marker of session `sid` of issuer `iss` (in the session's hash tag).
    pub(super) fn ended_key(&self, iss: &str, sid: &str) -> String {
        format!("{}{{{}}}:x:{}", self.inner.prefix, id_key(sid), id_key(iss))
    }

    /// The subject's sessions: a sorted set of ids scored by their opening time (ms).
    fn subject_key(&self, iss: &str, sub: &str) -> String {
        format!("{}u:{}:{}", self.inner.prefix, id_key(iss), id_key(sub))
    }

    pub(super) fn cutoff_key(&self, iss: &str, sub: &str) -> String {
        format!("{}c:{}:{}", self.inner.prefix, id_key(iss), id_key(sub))
    }

    pub(super) fn jti_key(&self, iss: &str, jti: &str) -> String {
        format!("{}j:{}:{}", self.inner.prefix, id_key(iss), id_key(jti))
    }

    pub(super) fn epoch_key(&self) -> String {
        format!("{}epoch", self.inner.prefix)
    }

    // Calls.

    pub(super) async fn status_call(
        &self,
        query: RevocationQuery<'_>,
    ) -> Result<RevocationStatus, StoreError> {
        let iss = query.issuer_or_empty();
        let jti_key = query.jti.map(|jti| self.jti_key(iss, jti));
        let ended_key = query.sid.map(|sid| self.ended_key(iss, sid));
        let session_key = query.sid.map(|sid| self.session_keys(sid)[0].clone());
        let cutoff_key = query.sub.map(|sub| self.cutoff_key(iss, sub));
        let epoch_key = self.epoch_key();
        let now = self.now();
        self.run(|mut con| async move {
            // One round trip: the epoch, the `jti`, the session's ended marker and opening
            // time, and the subject's cutoff, in one pipeline of single-key commands (a cluster
            // client can route them).
            let mut pipe = ::redis::pipe();
            pipe.cmd("GET").arg(&epoch_key);
            for key in [&jti_key, &ended_key].into_iter().flatten() {
                pipe.cmd("GET").arg(key);
            }
            if let Some(key) = &session_key {
                pipe.cmd("HMGET").arg(key).arg(&["ct", "iss"]);
            }
            if let Some(key) = &cutoff_key {
                pipe.cmd("GET").arg(key);
            }
            let values: Vec<Value> = pipe.query_async(&mut con).await?;
            let mut values = values.into_iter();
            let epoch = bytes(values.next());
            let jti = if jti_key.is_some() {
                bytes(values.next())
            } else {
                None
            };
            let ended = if ended_key.is_some() {
                bytes(values.next())
            } else {
                None
            };
            let opened = if session_key.is_some() {
                match values.next() {
                    Some(Value::Array(fields)) => match fields.as_slice() {
                        [ct, session_iss] => {
                            let ct = bytes(Some(ct.clone()));
                            let session_iss = bytes(Some(session_iss.clone()));
                            ct.filter(|_| session_iss.as_deref() == Some(iss.as_bytes()))
                                .as_deref()
                                .and_then(parse_u64)
                        }
                        _ => return Err(Fail::Data("a session is malformed")),
                    },
                    _ => None,
                }
            } else {
                None
            };
            let cutoff = if cutoff_key.is_some() {
                bytes(values.next())
            } else {
                None
            };
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
            let epoch = match epoch {
                Some(v) => parse_u64(&v).ok_or(Fail::Data("the epoch is malformed"))?,
                // The store is empty (new, or it lost its data): it starts a new epoch, and
                // tokens issued before it are refused.
                None => start_epoch(&mut con, &epoch_key, now).await?,
            };
            Ok(RevocationStatus::new(live(jti)?, live(ended)?)
                .with_subject_cutoff_ms(cutoff)
                .with_session_opened_ms(opened)
                .with_epoch_ms(Some(epoch)))
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
        let [session_key, _] = self.session_keys(session.sid.as_str());
        let subject_key = self.subject_key(&session.iss, &session.sub);
        let subject_ttl = absolute.saturating_sub(now).max(1);
        let epoch_key = self.epoch_key();
        let created = self
            .run(|mut con| async move {
                // A store that starts empty starts its epoch before its first session.
                start_epoch(&mut con, &epoch_key, now).await?;
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
                    .arg(&session.iss)
                    .arg(now)
                    .arg(session.client.user_agent.as_deref().unwrap_or(""))
                    .arg(
                        session
                            .client
                            .ip
                            .map(|ip| ip.to_string())
                            .unwrap_or_default(),
                    )
                    .arg(self.invalidation_channel())
                    .invoke_async(&mut con)
                    .await?;
                if created == 0 {
                    return Ok(false);
                }
                // The index: scored by opening time; entries older than the absolute lifetime
                // are dead and pruned here (bounded by what expired since the last login).
                let oldest_live = now.saturating_sub(millis(limits.absolute_lifetime));
                ::redis::pipe()
                    .cmd("ZADD")
                    .arg(&subject_key)
                    .arg(now)
                    .arg(session.sid.as_str())
                    .ignore()
                    .cmd("ZREMRANGEBYSCORE")
                    .arg(&subject_key)
                    .arg("-inf")
                    .arg(format!("({oldest_live}"))
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
                self.enforce_cap(&mut con, &session.iss, &subject_key, now, limits)
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
        let [session_key, _] = self.session_keys(sid.as_str());
        let presented_b64 = presented.to_base64url();
        self.run(|mut con| async move {
            let fields: Vec<Option<Vec<u8>>> = ::redis::cmd("HMGET")
                .arg(&session_key)
                .arg(&["sub", "data", "abs", "cur", "cexp", "iss", "ct"])
                .query_async(&mut con)
                .await?;
            let [sub, data, abs, cur, cexp, iss, ct]: [Option<Vec<u8>>; 7] = fields
                .try_into()
                .map_err(|_| Fail::Data("a session is malformed"))?;
            let Some(sub) = sub else {
                return Ok(Lookup::Unknown);
            };
            let malformed = || Fail::Data("a session is malformed");
            let abs = abs.as_deref().and_then(parse_u64).ok_or_else(malformed)?;
            let cexp = cexp.as_deref().and_then(parse_u64).ok_or_else(malformed)?;
            let ct = ct.as_deref().and_then(parse_u64).ok_or_else(malformed)?;
            let sub = String::from_utf8(sub).map_err(|_| malformed())?;
            let iss = String::from_utf8(iss.unwrap_or_default()).map_err(|_| malformed())?;
            // A session opened at or before its subject's cutoff was ended by it.
            let cutoff: Option<Vec<u8>> = ::redis::cmd("GET")
                .arg(self.cutoff_key(&iss, &sub))
                .query_async(&mut con)
                .await?;
            if let Some(cutoff) = cutoff {
                let (until, cutoff) =
                    parse_pair(&cutoff).ok_or(Fail::Data("a subject cutoff is malformed"))?;
                if now < until && ct <= cutoff {
                    return Ok(Lookup::Unknown);
                }
            }
            if now >= abs || now >= cexp {
                return Ok(Lookup::Expired);
            }
            Ok(Lookup::Found(
                SessionInfo::new(
                    sid.clone(),
                    sub,
                    data.unwrap_or_default(),
                    from_millis(abs),
                    *presented,
                    cur.as_deref() == Some(presented_b64.as_bytes()),
                )
                .with_idle_expires_at(from_millis(cexp))
                .with_issuer(iss),
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
        let [session_key, grace_key] = self.session_keys(rotation.sid().as_str());
        let ended_key = self.ended_key(rotation.iss(), rotation.sid().as_str());
        let idle = millis(limits.idle_timeout);
        let grace = millis(limits.refresh_grace);
        let keep = millis(limits.token_lifetime);
        let client = rotation.client().cloned();
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
                .arg(if client.is_some() { "1" } else { "0" })
                .arg(
                    client
                        .as_ref()
                        .and_then(|c| c.user_agent.as_deref())
                        .unwrap_or(""),
                )
                .arg(
                    client
                        .as_ref()
                        .and_then(|c| c.ip)
                        .map(|ip| ip.to_string())
                        .unwrap_or_default(),
                )
                .arg(self.invalidation_channel())
                .invoke_async(&mut con)
                .await?;
            parse_rotate(&reply, rotation.sid())
        })
        .await
    }

    async fn end_session_call(
        &self,
        iss: &str,
        sid: &str,
        limits: &SessionLimits,
    ) -> Result<bool, StoreError> {
        let now = self.now();
        let keep = millis(limits.token_lifetime);
        let [session_key, grace_key] = self.session_keys(sid);
        let keys = [session_key, grace_key, self.ended_key(iss, sid)];
        self.run(|mut con| async move {
            let channel = self.invalidation_channel();
            let (sub, live) =
                end_one(&self.inner.end, &mut con, &keys, now, keep, iss, &channel).await?;
            if let Some(sub) = sub {
                ::redis::cmd("ZREM")
                    .arg(self.subject_key(iss, &sub))
                    .arg(sid)
                    .exec_async(&mut con)
                    .await?;
            }
            Ok(live)
        })
        .await
    }
}

/// Reads the store's epoch, starting it at `now` (whole seconds) when there is none: a store
/// that is new or lost its data.
async fn start_epoch(con: &mut ConnectionManager, key: &str, now: u64) -> Res<u64> {
    let start = now / 1000 * 1000;
    let old: Option<Vec<u8>> = ::redis::cmd("SET")
        .arg(key)
        .arg(start)
        .arg("NX")
        .arg("GET")
        .query_async(con)
        .await?;
    match old {
        Some(old) => parse_u64(&old).ok_or(Fail::Data("the epoch is malformed")),
        None => Ok(start),
    }
}

async fn end_one(
    script: &Script,
    con: &mut ConnectionManager,
    keys: &[String; 3],
    now: u64,
    keep: u64,
    iss: &str,
    channel: &str,
) -> Res<(Option<String>, bool)> {
    let reply: Vec<Value> = script
        .key(&keys[0])
        .key(&keys[1])
        .key(&keys[2])
        .arg(now)
        .arg(keep)
        .arg(iss)
        .arg(channel)
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
    channel: &str,
) -> Res<()> {
    let until = now.saturating_add(keep);
    let _: i64 = script
        .key(key)
        .arg(until)
        .arg(now)
        .arg(now)
        .arg(channel)
        .invoke_async(con)
        .await?;
    Ok(())
}

impl RevocationStore for RedisStore {
    fn status<'a>(&'a self, query: RevocationQuery<'a>) -> StoreFuture<'a, RevocationStatus> {
        // Local view (view.rs): a hit costs no future of Redis calls.
        match self.status_local(&query) {
            Some(status) => Box::pin(std::future::ready(Ok(status))),
            None => Box::pin(self.status_viewed(query)),
        }
    }

    /// `PING`, within the store's timeout.
    fn ping(&self) -> StoreFuture<'_, ()> {
        Box::pin(RedisStore::ping(self))
    }

    fn metrics_label(&self) -> &'static str {
        "redis"
    }

    fn revoke_token<'a>(
        &'a self,
        iss: &'a str,
        jti: &'a str,
        keep_for: Duration,
    ) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            let now = self.now();
            let keep = millis(keep_for);
            let key = self.jti_key(iss, jti);
            let key_ref = &key;
            let done = self
                .run(|mut con| async move {
                    let _: i64 = self
                        .inner
                        .set_max
                        .key(key_ref)
                        .arg(now.saturating_add(keep))
                        .arg(keep.max(1))
                        .arg(self.invalidation_channel())
                        .invoke_async(&mut con)
                        .await?;
                    Ok(())
                })
                .await;
            self.touched(&[key]); // local view (view.rs)
            done
        })
    }

    fn set_subject_cutoff<'a>(
        &'a self,
        iss: &'a str,
        sub: &'a str,
        keep_for: Duration,
    ) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            let now = self.now();
            let key = self.cutoff_key(iss, sub);
            let channel = self.invalidation_channel();
            let (key_ref, channel) = (&key, &channel);
            let done = self
                .run(|mut con| async move {
                    set_cutoff(
                        &self.inner.cutoff,
                        &mut con,
                        key_ref,
                        now,
                        millis(keep_for),
                        channel,
                    )
                    .await
                })
                .await;
            self.touched(&[key]); // local view (view.rs)
            done
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
        Box::pin(async move {
            let (iss, sid) = (
                rotation.iss().to_owned(),
                rotation.sid().as_str().to_owned(),
            );
            let outcome = self.rotate_call(rotation, limits).await;
            if matches!(outcome, Ok(RotateOutcome::Reused { .. })) {
                // Local view (view.rs).
                self.touched(&[
                    self.session_keys(&sid)[0].clone(),
                    self.ended_key(&iss, &sid),
                ]);
            }
            outcome
        })
    }

    fn end_session<'a>(
        &'a self,
        iss: &'a str,
        sid: &'a str,
        limits: &'a SessionLimits,
    ) -> StoreFuture<'a, bool> {
        Box::pin(async move {
            let ended = self.end_session_call(iss, sid, limits).await;
            // Local view (view.rs).
            self.touched(&[self.session_keys(sid)[0].clone(), self.ended_key(iss, sid)]);
            ended
        })
    }

    fn end_subject<'a>(
        &'a self,
        iss: &'a str,
        sub: &'a str,
        limits: &'a SessionLimits,
    ) -> StoreFuture<'a, usize> {
        Box::pin(async move {
            let ended = self.end_subject_call(iss, sub, limits).await;
            self.touched(&[self.cutoff_key(iss, sub)]); // local view (view.rs)
            ended
        })
    }

    fn list_sessions<'a>(
        &'a self,
        iss: &'a str,
        sub: &'a str,
    ) -> StoreFuture<'a, Vec<SessionSummary>> {
        Box::pin(self.list_call(iss, sub))
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
        let [s, g] = store.session_keys("sid1");
        assert_eq!(s, "tjwt2:{sid1}:s");
        assert_eq!(g, "tjwt2:{sid1}:g");
        assert_eq!(store.ended_key("i", "sid1"), "tjwt2:{sid1}:x:i");
        assert_eq!(store.subject_key("i", "alice"), "tjwt2:u:i:alice");
        assert_eq!(store.cutoff_key("i", "alice"), "tjwt2:c:i:alice");
        assert_eq!(store.jti_key("i", "j"), "tjwt2:j:i:j");
        // Every key names the issuer: escaped when it is a URL.
        assert!(store
            .jti_key("https://a.example", "j")
            .starts_with("tjwt2:j:~"));
    }
}
