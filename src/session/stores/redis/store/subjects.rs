//! A subject's sessions in Redis: logout everywhere and the cleanup after it, the cap per
//! subject, and the list of its live sessions. A subject's keys (its index and its cutoff) share
//! the slot of `{<iss>:<sub>}`; its sessions each live in their own slot.

use ::redis::Value;

use super::super::con::Con;
use super::super::parse::{bytes, parse_pair, parse_u64};
use super::super::slots::key_slot;
use super::super::{Fail, RedisStore, Res};
use crate::clock::{from_millis, millis};
use crate::revocation::StoreError;
use crate::session::stores::{ClientInfo, NewSession, SessionLimits, SessionSummary};

/// How many ended sessions one batch of the cleanup after a logout everywhere drops.
const CLEANUP_BATCH: usize = 500;
/// How many sessions one login ends at most to bring its subject under the cap.
const CAP_STEPS: usize = 16;

impl RedisStore {
    /// Logout everywhere: the cutoff and a count of the sessions it covers, in one pipeline on
    /// the subject's slot, acknowledged by a replica; dropping their entries is left to
    /// [`Self::cleanup`].
    pub(super) async fn end_subject_call(
        &self,
        iss: &str,
        sub: &str,
        limits: &SessionLimits,
    ) -> Result<usize, StoreError> {
        self.ready().await?;
        let now = self.now();
        let keep = millis(limits.token_lifetime);
        let covered = self
            .run(|mut con| async move { self.write_cutoff(&mut con, iss, sub, now, keep).await })
            .await?;
        let store = self.clone();
        let (iss, sub) = (iss.to_owned(), sub.to_owned());
        tokio::spawn(async move { store.cleanup(&iss, &sub, now).await });
        Ok(covered)
    }

    /// Drops the entries of the subject's sessions opened at or before `cutoff` (already ended
    /// by it), in batches of [`CLEANUP_BATCH`]: the index's ids, then each session's keys in its
    /// slot, then the ids from the index. A failure is logged and left for the entries' TTLs:
    /// it never undoes the logout.
    async fn cleanup(&self, iss: &str, sub: &str, cutoff: u64) {
        let subject_key = self.subject_key(iss, sub);
        loop {
            let subject_key = &subject_key;
            let batch = self
                .run(|mut con| async move {
                    let sids: Vec<String> = ::redis::cmd("ZRANGE")
                        .arg(subject_key)
                        .arg("-inf")
                        .arg(cutoff)
                        .arg("BYSCORE")
                        .arg("LIMIT")
                        .arg(0)
                        .arg(CLEANUP_BATCH)
                        .query_async(&mut con)
                        .await?;
                    if sids.is_empty() {
                        return Ok(0);
                    }
                    let groups = sids
                        .iter()
                        .map(|sid| {
                            let mut unlink = ::redis::cmd("UNLINK");
                            unlink.arg(&self.session_keys(sid)[..]);
                            vec![unlink]
                        })
                        .collect();
                    self.groups(&con, groups).await?;
                    ::redis::cmd("ZREM")
                        .arg(subject_key)
                        .arg(&sids)
                        .exec_async(&mut con)
                        .await?;
                    Ok(sids.len())
                })
                .await;
            match batch {
                Ok(n) if n == CLEANUP_BATCH => continue,
                Ok(_) => return,
                Err(_error) => {
                    #[cfg(feature = "tracing")]
                    tracing::warn!(
                        error = %_error,
                        "dropping the sessions ended by a logout everywhere failed; they stay ended, and their entries expire"
                    );
                    return;
                }
            }
        }
    }

    /// Adds a new session to its subject's index and enforces the cap, in one script on the
    /// subject's slot (acknowledged by a replica), then ends the sessions the cap took out,
    /// each in its slot. Answers how many live sessions the cap ended.
    pub(super) async fn index_session(
        &self,
        con: &mut Con,
        session: &NewSession,
        subject_key: &str,
        now: u64,
        subject_ttl: u64,
        limits: &SessionLimits,
    ) -> Res<usize> {
        let slot = key_slot(subject_key);
        // Entries older than the absolute lifetime are dead and pruned here.
        let oldest_live = now.saturating_sub(millis(limits.absolute_lifetime));
        let mut pipe = ::redis::pipe();
        self.start_epoch_cmd(&mut pipe, slot, now);
        pipe.invoke_script(
            self.inner
                .index
                .key(subject_key)
                .arg(now)
                .arg(session.sid.as_str())
                .arg(oldest_live)
                .arg(subject_ttl)
                .arg(limits.max_sessions_per_user)
                .arg(CAP_STEPS),
        );
        let values = self.write(con, slot, pipe, &[&self.inner.index]).await?;
        let taken: Vec<String> = match values.into_iter().next() {
            Some(Value::Array(ids)) => ids
                .into_iter()
                .filter_map(|id| bytes(Some(id)))
                .filter_map(|id| String::from_utf8(id).ok())
                .collect(),
            _ => return Err(Fail::Data("the index script answered something unexpected")),
        };
        let keep = millis(limits.token_lifetime);
        let mut ended = 0;
        for sid in &taken {
            if self.end_one(con, &session.iss, sid, now, keep).await?.1 {
                ended += 1;
            }
        }
        Ok(ended)
    }

    /// The subject's live sessions, newest first (at most 1,000): the index, then every
    /// session's fields and the cutoff in one pipeline.
    pub(super) async fn list_call(
        &self,
        iss: &str,
        sub: &str,
    ) -> Result<Vec<SessionSummary>, StoreError> {
        self.ready().await?;
        let now = self.now();
        let subject_key = self.subject_key(iss, sub);
        let cutoff_key = self.cutoff_key(iss, sub);
        self.run(|mut con| async move {
            // The index, the cutoff and the epoch of the subject's slot; then every session's
            // fields, each in its slot.
            let slot = key_slot(&subject_key);
            let (epoch, cutoff, sids): (Option<Vec<u8>>, Option<Vec<u8>>, Vec<String>) =
                ::redis::pipe()
                    .cmd("GET")
                    .arg(self.epoch_key(slot))
                    .cmd("GET")
                    .arg(&cutoff_key)
                    .cmd("ZRANGE")
                    .arg(&subject_key)
                    .arg("+inf")
                    .arg("-inf")
                    .arg("BYSCORE")
                    .arg("REV")
                    .arg("LIMIT")
                    .arg(0)
                    .arg(1000)
                    .query_async(&mut con)
                    .await?;
            let epoch = self.epoch_of(&mut con, slot, epoch, now).await?;
            let groups = sids
                .iter()
                .map(|sid| {
                    let mut hmget = ::redis::cmd("HMGET");
                    hmget.arg(&self.session_keys(sid)[0]).arg(&[
                        "sub", "iss", "ct", "abs", "cexp", "lr", "ua", "ua2", "ua3", "ua4", "ip",
                    ]);
                    vec![hmget]
                })
                .collect();
            let values: Vec<Value> = self
                .groups(&con, groups)
                .await?
                .into_iter()
                .map(|mut group| group.pop().unwrap_or(Value::Nil))
                .collect();
            if values.len() != sids.len() {
                return Err(Fail::Data("a session list is malformed"));
            }
            let cutoff = match cutoff {
                Some(v) => {
                    let (until, cutoff) =
                        parse_pair(&v).ok_or(Fail::Data("a subject cutoff is malformed"))?;
                    (now < until).then_some(cutoff)
                }
                None => None,
            };
            let mut list = Vec::new();
            for (sid, fields) in sids.iter().zip(values) {
                let Value::Array(fields) = fields else {
                    continue;
                };
                let fields: Vec<Option<Vec<u8>>> =
                    fields.into_iter().map(|v| bytes(Some(v))).collect();
                let [s_sub, s_iss, ct, abs, cexp, lr, ua, ua2, ua3, ua4, ip]: [Option<Vec<u8>>;
                    11] = match fields.try_into() {
                    Ok(fields) => fields,
                    Err(_) => continue,
                };
                let number = |v: &Option<Vec<u8>>| v.as_deref().and_then(parse_u64);
                let (Some(ct), Some(abs), Some(cexp)) = (number(&ct), number(&abs), number(&cexp))
                else {
                    continue;
                };
                let ours = s_sub.as_deref() == Some(sub.as_bytes())
                    && s_iss.as_deref().unwrap_or_default() == iss.as_bytes();
                let live = now < abs && now < cexp && ct >= epoch && cutoff.is_none_or(|c| ct > c);
                if !ours || !live {
                    continue;
                }
                let text = |v: Option<Vec<u8>>| {
                    v.and_then(|v| String::from_utf8(v).ok())
                        .filter(|v| !v.is_empty())
                };
                // The user agent, from its chunks of at most 64 bytes.
                let ua = [ua, ua2, ua3, ua4]
                    .into_iter()
                    .flatten()
                    .reduce(|mut whole, part| {
                        whole.extend(part);
                        whole
                    });
                let client =
                    ClientInfo::new(text(ua).as_deref(), text(ip).and_then(|ip| ip.parse().ok()));
                list.push(SessionSummary::new(
                    sid.as_str(),
                    from_millis(ct),
                    from_millis(number(&lr).unwrap_or(ct)),
                    from_millis(cexp.min(abs)),
                    client,
                ));
            }
            Ok(list)
        })
        .await
    }
}
