//! The store itself: the keys of a session, a subject and a token, the calls of
//! [`SessionStore`] and [`RevocationStore`] on them, and the strict parsing of what Redis
//! answers. Every pipeline and script touches the keys of one slot (see the sessions guide's
//! "Redis Cluster"): a session's keys share `{sid}`, a subject's share `{iss:sub}`, and each
//! slot has its own epoch key.

use std::time::{Duration, SystemTime};

use ::redis::{Cmd, Value};

use super::con::Con;
use super::parse::{id_key, parse_pair, parse_rotate, parse_u64};
use super::slots::key_slot;
use super::topology::epoch_start;
use super::{Fail, RedisStore, Res};
use crate::clock::{from_millis, millis};
use crate::revocation::{
    RevocationQuery, RevocationStatus, RevocationStore, StoreError, StoreFuture,
};
use crate::session::refresh_token::{SessionId, TokenHash};
use crate::session::stores::{
    Created, Lookup, NewSession, RotateOutcome, Rotation, SessionInfo, SessionLimits, SessionStore,
    SessionSummary,
};

mod status;
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

    /// The subject's sessions: a sorted set of ids scored by their opening time (ms), in the
    /// subject's hash tag `{<iss>:<sub>}` (a session id never holds `:`, so the two kinds of tag
    /// never meet).
    pub(super) fn subject_key(&self, iss: &str, sub: &str) -> String {
        format!("{}{{{}:{}}}:u", self.inner.prefix, id_key(iss), id_key(sub))
    }

    /// The subject's logout-everywhere cutoff, in the subject's hash tag.
    pub(super) fn cutoff_key(&self, iss: &str, sub: &str) -> String {
        format!("{}{{{}:{}}}:c", self.inner.prefix, id_key(iss), id_key(sub))
    }

    pub(super) fn jti_key(&self, iss: &str, jti: &str) -> String {
        format!("{}j:{}:{}", self.inner.prefix, id_key(iss), id_key(jti))
    }

    /// `SET <epoch of slot> <now> NX`, ignored: a write to a slot that lost its data starts its
    /// epoch.
    pub(super) fn start_epoch_cmd(&self, pipe: &mut ::redis::Pipeline, slot: u16, now: u64) {
        pipe.cmd("SET")
            .arg(self.epoch_key(slot))
            .arg(epoch_start(now))
            .arg("NX")
            .ignore();
    }

    /// Reads a slot's epoch from `value`, starting it at `now` when it is missing (the slot lost
    /// its data, or never had an epoch: its revocations may be gone).
    pub(super) async fn epoch_of(
        &self,
        con: &mut Con,
        slot: u16,
        value: Option<Vec<u8>>,
        now: u64,
    ) -> Res<u64> {
        match value {
            Some(v) => parse_u64(&v).ok_or(Fail::Data("an epoch is malformed")),
            None => {
                let old: Option<Vec<u8>> = ::redis::cmd("SET")
                    .arg(self.epoch_key(slot))
                    .arg(epoch_start(now))
                    .arg("NX")
                    .arg("GET")
                    .query_async(con)
                    .await?;
                match old {
                    Some(old) => parse_u64(&old).ok_or(Fail::Data("an epoch is malformed")),
                    None => Ok(epoch_start(now)),
                }
            }
        }
    }

    /// Runs groups of commands, each group on the keys of one slot: one pipeline on one node;
    /// one pipeline per group, all at once, on a cluster. Answers each group's values.
    pub(super) async fn groups(&self, con: &Con, groups: Vec<Vec<Cmd>>) -> Res<Vec<Vec<Value>>> {
        if !con.is_cluster() {
            let sizes: Vec<usize> = groups.iter().map(Vec::len).collect();
            let mut pipe = ::redis::pipe();
            for cmd in groups.into_iter().flatten() {
                pipe.add_command(cmd);
            }
            let values: Vec<Value> = pipe.query_async(&mut con.clone()).await?;
            if values.len() != sizes.iter().sum::<usize>() {
                return Err(Fail::Data("a pipeline answered the wrong number of values"));
            }
            let mut values = values.into_iter();
            return Ok(sizes
                .into_iter()
                .map(|n| values.by_ref().take(n).collect())
                .collect());
        }
        let tasks: Vec<_> = groups
            .into_iter()
            .map(|group| {
                let mut con = con.clone();
                tokio::spawn(async move {
                    let mut pipe = ::redis::pipe();
                    for cmd in group {
                        pipe.add_command(cmd);
                    }
                    pipe.query_async::<Vec<Value>>(&mut con).await
                })
            })
            .collect();
        let mut out = Vec::with_capacity(tasks.len());
        for task in tasks {
            out.push(
                task.await
                    .map_err(|_| Fail::Data("a Redis call was cancelled"))??,
            );
        }
        Ok(out)
    }

    // Calls.

    async fn create_call(
        &self,
        session: NewSession,
        limits: &SessionLimits,
    ) -> Result<Created, StoreError> {
        self.ready().await?;
        let now = self.now();
        let absolute = now.saturating_add(millis(limits.absolute_lifetime));
        let expires = now
            .saturating_add(millis(limits.idle_timeout))
            .min(absolute);
        let ttl = expires.saturating_sub(now).max(1);
        let [session_key, _] = self.session_keys(session.sid.as_str());
        let subject_key = self.subject_key(&session.iss, &session.sub);
        let subject_ttl = absolute.saturating_sub(now).max(1);
        let created = self
            .run(|mut con| async move {
                // First the session, in its slot (with the slot's epoch, in case it lost its
                // data), acknowledged by a replica; then the subject's index and cap, in the
                // subject's slot; then the sessions the cap took out, each in its slot.
                let slot = key_slot(&session_key);
                let mut pipe = ::redis::pipe();
                self.start_epoch_cmd(&mut pipe, slot, now);
                pipe.invoke_script(
                    self.inner
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
                        .arg(self.invalidation_channel()),
                );
                let values = self
                    .write(&mut con, slot, pipe, &[&self.inner.create])
                    .await?;
                if !matches!(values.first(), Some(Value::Int(1))) {
                    return Ok(None);
                }
                let capped = self
                    .index_session(&mut con, &session, &subject_key, now, subject_ttl, limits)
                    .await?;
                Ok(Some(capped))
            })
            .await?;
        match created {
            Some(capped) => Ok(Created::new(from_millis(expires)).with_capped(capped)),
            None => Err(StoreError::unavailable(
                "a session with this id already exists",
            )),
        }
    }

    async fn lookup_call(
        &self,
        sid: &SessionId,
        presented: &TokenHash,
    ) -> Result<Lookup, StoreError> {
        self.ready().await?;
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
            // A session opened at or before its subject's cutoff was ended by it; one opened
            // before the subject's slot started its epoch may have been (the cutoff is lost).
            if self.cut_off(&mut con, &iss, &sub, ct, now).await? {
                return Ok(Lookup::Unknown);
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

    /// Whether the subject's cutoff (or its slot's epoch) ends a session opened at `ct`.
    async fn cut_off(&self, con: &mut Con, iss: &str, sub: &str, ct: u64, now: u64) -> Res<bool> {
        let key = self.cutoff_key(iss, sub);
        let slot = key_slot(&key);
        let (epoch, cutoff): (Option<Vec<u8>>, Option<Vec<u8>>) = ::redis::pipe()
            .cmd("GET")
            .arg(self.epoch_key(slot))
            .cmd("GET")
            .arg(&key)
            .query_async(con)
            .await?;
        if ct < self.epoch_of(con, slot, epoch, now).await? {
            return Ok(true);
        }
        Ok(match cutoff {
            Some(cutoff) => {
                let (until, cutoff) =
                    parse_pair(&cutoff).ok_or(Fail::Data("a subject cutoff is malformed"))?;
                now < until && ct <= cutoff
            }
            None => false,
        })
    }

    async fn rotate_call(
        &self,
        rotation: Rotation,
        limits: &SessionLimits,
    ) -> Result<RotateOutcome, StoreError> {
        self.ready().await?;
        let now = self.now();
        let [session_key, grace_key] = self.session_keys(rotation.sid().as_str());
        let ended_key = self.ended_key(rotation.iss(), rotation.sid().as_str());
        let idle = millis(limits.idle_timeout);
        let grace = millis(limits.refresh_grace);
        let keep = millis(limits.token_lifetime);
        let client = rotation.client().cloned();
        self.run(|mut con| async move {
            // One round trip: the script (EVALSHA) and, with replicas, `WAIT`.
            let mut pipe = ::redis::pipe();
            pipe.invoke_script(
                self.inner
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
                    .arg(self.invalidation_channel()),
            );
            let slot = key_slot(&session_key);
            let values = self
                .write(&mut con, slot, pipe, &[&self.inner.rotate])
                .await?;
            match values.into_iter().next() {
                Some(Value::Array(reply)) => parse_rotate(&reply, rotation.sid()),
                _ => Err(Fail::Data(
                    "the rotation script answered something unexpected",
                )),
            }
        })
        .await
    }

    async fn end_session_call(
        &self,
        iss: &str,
        sid: &str,
        limits: &SessionLimits,
    ) -> Result<bool, StoreError> {
        self.ready().await?;
        let now = self.now();
        let keep = millis(limits.token_lifetime);
        self.run(|mut con| async move {
            let (sub, live) = self.end_one(&mut con, iss, sid, now, keep).await?;
            if let Some(sub) = sub {
                // The index entry: bookkeeping only (the list reads every session it names).
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

    /// Ends one session in its slot (the `END` script, with the slot's epoch), acknowledged
    /// by a replica: its subject (when it was of `iss`) and whether it was live.
    pub(super) async fn end_one(
        &self,
        con: &mut Con,
        iss: &str,
        sid: &str,
        now: u64,
        keep: u64,
    ) -> Res<(Option<String>, bool)> {
        let [session_key, grace_key] = self.session_keys(sid);
        let slot = key_slot(&session_key);
        let mut pipe = ::redis::pipe();
        self.start_epoch_cmd(&mut pipe, slot, now);
        pipe.invoke_script(
            self.inner
                .end
                .key(&session_key)
                .key(&grace_key)
                .key(self.ended_key(iss, sid))
                .arg(now)
                .arg(keep)
                .arg(iss)
                .arg(self.invalidation_channel()),
        );
        let values = self.write(con, slot, pipe, &[&self.inner.end]).await?;
        let reply = match values.into_iter().next() {
            Some(Value::Array(reply)) => reply,
            _ => return Err(Fail::Data("the end script answered something unexpected")),
        };
        let sub = match reply.first() {
            Some(Value::BulkString(sub)) => Some(
                String::from_utf8(sub.clone()).map_err(|_| Fail::Data("a session is malformed"))?,
            ),
            _ => None,
        };
        let live = matches!(reply.get(1), Some(Value::Int(1)));
        Ok((sub, live))
    }

    /// Sets the subject's cutoff in its slot (with the slot's epoch), acknowledged by a
    /// replica, and counts the sessions of its index it covers.
    pub(super) async fn write_cutoff(
        &self,
        con: &mut Con,
        iss: &str,
        sub: &str,
        now: u64,
        keep: u64,
    ) -> Res<usize> {
        let key = self.cutoff_key(iss, sub);
        let slot = key_slot(&key);
        let mut pipe = ::redis::pipe();
        self.start_epoch_cmd(&mut pipe, slot, now);
        pipe.invoke_script(
            self.inner
                .cutoff
                .key(&key)
                .arg(now.saturating_add(keep))
                .arg(now)
                .arg(now)
                .arg(self.invalidation_channel()),
        );
        pipe.cmd("ZCOUNT")
            .arg(self.subject_key(iss, sub))
            .arg("-inf")
            .arg(now);
        let values = self.write(con, slot, pipe, &[&self.inner.cutoff]).await?;
        match values.get(1) {
            Some(Value::Int(n)) => Ok(usize::try_from(*n).unwrap_or(0)),
            _ => Err(Fail::Data("ZCOUNT answered something unexpected")),
        }
    }
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
            self.ready().await?;
            let now = self.now();
            let keep = millis(keep_for);
            let key = self.jti_key(iss, jti);
            let done = self
                .run(|mut con| async move {
                    let slot = key_slot(&key);
                    let mut pipe = ::redis::pipe();
                    self.start_epoch_cmd(&mut pipe, slot, now);
                    pipe.invoke_script(
                        self.inner
                            .set_max
                            .key(&key)
                            .arg(now.saturating_add(keep))
                            .arg(keep.max(1))
                            .arg(self.invalidation_channel()),
                    );
                    self.write(&mut con, slot, pipe, &[&self.inner.set_max])
                        .await?;
                    Ok(())
                })
                .await;
            self.touched(&[self.jti_key(iss, jti)]); // local view (view.rs)
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
            self.ready().await?;
            let now = self.now();
            let done = self
                .run(|mut con| async move {
                    self.write_cutoff(&mut con, iss, sub, now, millis(keep_for))
                        .await
                        .map(|_| ())
                })
                .await;
            self.touched(&[self.cutoff_key(iss, sub)]); // local view (view.rs)
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
        Box::pin(async move { Ok(self.create_call(session, limits).await?.expires_at()) })
    }

    fn open<'a>(
        &'a self,
        session: NewSession,
        limits: &'a SessionLimits,
    ) -> StoreFuture<'a, Created> {
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
        assert_eq!(store.subject_key("i", "alice"), "tjwt2:{i:alice}:u");
        assert_eq!(store.cutoff_key("i", "alice"), "tjwt2:{i:alice}:c");
        // A subject's keys share a slot; a session's keys share another.
        assert_eq!(
            key_slot(&store.subject_key("i", "alice")),
            key_slot(&store.cutoff_key("i", "alice"))
        );
        assert_eq!(key_slot(&s), key_slot(&store.ended_key("i", "sid1")));
        assert_eq!(key_slot(&store.epoch_key(key_slot(&s))), key_slot(&s));
        assert_eq!(store.jti_key("i", "j"), "tjwt2:j:i:j");
        // Every key names the issuer: escaped when it is a URL.
        assert!(store
            .jti_key("https://a.example", "j")
            .starts_with("tjwt2:j:~"));
    }
}
