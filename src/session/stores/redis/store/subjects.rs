//! A subject's sessions in Redis: logout everywhere and the cleanup after it, the cap per
//! subject, and the list of its live sessions.

use ::redis::aio::ConnectionManager;
use ::redis::Value;

use super::super::parse::{bytes, parse_pair, parse_u64};
use super::super::{Fail, RedisStore, Res};
use super::{end_one, set_cutoff};
use crate::clock::{from_millis, millis};
use crate::revocation::StoreError;
use crate::session::stores::{ClientInfo, SessionLimits, SessionSummary};

/// How many ended sessions one batch of the cleanup after a logout everywhere drops.
const CLEANUP_BATCH: usize = 500;
/// How many sessions one login ends at most to bring its subject under the cap.
const CAP_STEPS: usize = 16;

impl RedisStore {
    /// Logout everywhere: the cutoff (one script on one key) and a count of the sessions it
    /// covers, in one round trip; dropping their entries is left to [`Self::cleanup`].
    pub(super) async fn end_subject_call(
        &self,
        iss: &str,
        sub: &str,
        limits: &SessionLimits,
    ) -> Result<usize, StoreError> {
        let now = self.now();
        let keep = millis(limits.token_lifetime);
        let subject_key = self.subject_key(iss, sub);
        let cutoff_key = self.cutoff_key(iss, sub);
        let covered = self
            .run(|mut con| async move {
                let channel = self.invalidation_channel();
                set_cutoff(
                    &self.inner.cutoff,
                    &mut con,
                    &cutoff_key,
                    now,
                    keep,
                    &channel,
                )
                .await?;
                let covered: usize = ::redis::cmd("ZCOUNT")
                    .arg(&subject_key)
                    .arg("-inf")
                    .arg(now)
                    .query_async(&mut con)
                    .await?;
                Ok(covered)
            })
            .await?;
        let store = self.clone();
        let (iss, sub) = (iss.to_owned(), sub.to_owned());
        tokio::spawn(async move { store.cleanup(&iss, &sub, now).await });
        Ok(covered)
    }

    /// Drops the entries of the subject's sessions opened at or before `cutoff` (already ended
    /// by it), in batches of [`CLEANUP_BATCH`], each one call within the timeout. A failure is
    /// logged and left for the entries' TTLs: it never undoes the logout.
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
                    let mut pipe = ::redis::pipe();
                    for sid in &sids {
                        let [s, g] = self.session_keys(sid);
                        pipe.cmd("UNLINK").arg(s).arg(g).ignore();
                    }
                    pipe.cmd("ZREM").arg(subject_key).arg(&sids).ignore();
                    pipe.exec_async(&mut con).await?;
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

    /// Ends the subject's sessions with the oldest opening time while its index holds more
    /// than the cap (entries of dead sessions go on the way), at most [`CAP_STEPS`] per login.
    pub(super) async fn enforce_cap(
        &self,
        con: &mut ConnectionManager,
        iss: &str,
        subject_key: &str,
        now: u64,
        limits: &SessionLimits,
    ) -> Res<()> {
        let cap = limits.max_sessions_per_user;
        if cap == 0 {
            return Ok(());
        }
        let keep = millis(limits.token_lifetime);
        let count: usize = ::redis::cmd("ZCARD")
            .arg(subject_key)
            .query_async(con)
            .await?;
        for _ in 0..count.saturating_sub(cap).min(CAP_STEPS) {
            let oldest: Vec<String> = ::redis::cmd("ZRANGE")
                .arg(subject_key)
                .arg(0)
                .arg(0)
                .query_async(con)
                .await?;
            let Some(sid) = oldest.first() else {
                break;
            };
            let [session_key, grace_key] = self.session_keys(sid);
            let keys = [session_key, grace_key, self.ended_key(iss, sid)];
            end_one(
                &self.inner.end,
                con,
                &keys,
                now,
                keep,
                iss,
                &self.invalidation_channel(),
            )
            .await?;
            ::redis::cmd("ZREM")
                .arg(subject_key)
                .arg(sid)
                .exec_async(con)
                .await?;
        }
        Ok(())
    }

    /// The subject's live sessions, newest first (at most 1,000): the index, then every
    /// session's fields and the cutoff in one pipeline.
    pub(super) async fn list_call(
        &self,
        iss: &str,
        sub: &str,
    ) -> Result<Vec<SessionSummary>, StoreError> {
        let now = self.now();
        let subject_key = self.subject_key(iss, sub);
        let cutoff_key = self.cutoff_key(iss, sub);
        self.run(|mut con| async move {
            let sids: Vec<String> = ::redis::cmd("ZRANGE")
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
            let mut pipe = ::redis::pipe();
            pipe.cmd("GET").arg(&cutoff_key);
            for sid in &sids {
                pipe.cmd("HMGET")
                    .arg(&self.session_keys(sid)[0])
                    .arg(&["sub", "iss", "ct", "abs", "cexp", "lr", "ua", "ip"]);
            }
            let mut values: Vec<Value> = pipe.query_async(&mut con).await?;
            if values.len() != sids.len() + 1 {
                return Err(Fail::Data("a session list is malformed"));
            }
            let cutoff = match bytes(Some(values.remove(0))) {
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
                let [s_sub, s_iss, ct, abs, cexp, lr, ua, ip]: [Option<Vec<u8>>; 8] =
                    match fields.try_into() {
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
                let live = now < abs && now < cexp && cutoff.is_none_or(|c| ct > c);
                if !ours || !live {
                    continue;
                }
                let text = |v: Option<Vec<u8>>| {
                    v.and_then(|v| String::from_utf8(v).ok())
                        .filter(|v| !v.is_empty())
                };
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
