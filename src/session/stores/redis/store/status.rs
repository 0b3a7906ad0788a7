//! The layer's question, [`RevocationStore::status`](crate::revocation::RevocationStore::status):
//! one pipeline per slot it touches (the `jti`'s, the session's, the subject's), each with its
//! slot's epoch, in one round trip.

use ::redis::Value;

use super::super::parse::{bytes, parse_pair, parse_u64};
use super::super::slots::key_slot;
use super::super::{Fail, RedisStore, Res};
use crate::revocation::{RevocationQuery, RevocationStatus, StoreError};

impl RedisStore {
    pub(in crate::session::stores::redis) async fn status_call(
        &self,
        query: RevocationQuery<'_>,
    ) -> Result<RevocationStatus, StoreError> {
        let iss = query.issuer_or_empty();
        let jti_key = query.jti.map(|jti| self.jti_key(iss, jti));
        let sid_keys = query
            .sid
            .map(|sid| (self.ended_key(iss, sid), self.session_keys(sid)[0].clone()));
        let cutoff_key = query.sub.map(|sub| self.cutoff_key(iss, sub));
        self.ready().await?;
        let now = self.now();
        self.run(|mut con| async move {
            // One round trip: a group per slot (the `jti`'s; the session's ended marker and
            // opening time; the subject's cutoff), each with its slot's epoch.
            let mut groups = Vec::new();
            let mut slots = Vec::new();
            let get = |key: &str| {
                let mut c = ::redis::cmd("GET");
                c.arg(key);
                c
            };
            if let Some(key) = &jti_key {
                let slot = key_slot(key);
                groups.push(vec![get(&self.epoch_key(slot)), get(key)]);
                slots.push(slot);
            }
            if let Some((ended, session)) = &sid_keys {
                let slot = key_slot(session);
                let mut hmget = ::redis::cmd("HMGET");
                hmget.arg(session).arg(&["ct", "iss"]);
                groups.push(vec![get(&self.epoch_key(slot)), get(ended), hmget]);
                slots.push(slot);
            }
            if let Some(key) = &cutoff_key {
                let slot = key_slot(key);
                groups.push(vec![get(&self.epoch_key(slot)), get(key)]);
                slots.push(slot);
            }
            if groups.is_empty() {
                groups.push(vec![get(&self.epoch_key(0))]);
                slots.push(0);
            }
            let mut replies = self.groups(&con, groups).await?.into_iter();
            let mut epochs = Vec::new();
            let mut slots = slots.into_iter();
            let mut next_group = || {
                let mut values = replies.next().unwrap_or_default().into_iter();
                let epoch = bytes(values.next());
                (slots.next().unwrap_or(0), epoch, values)
            };
            let live = |v: Option<Vec<u8>>| -> Res<bool> {
                match v {
                    None => Ok(false),
                    Some(v) => Ok(now < parse_u64(&v).ok_or(Fail::Data("a revocation marker"))?),
                }
            };
            let mut jti = false;
            if jti_key.is_some() {
                let (slot, epoch, mut values) = next_group();
                jti = live(bytes(values.next()))?;
                epochs.push((false, self.epoch_of(&mut con, slot, epoch, now).await?));
            }
            let mut ended = false;
            let mut opened = None;
            if sid_keys.is_some() {
                let (slot, epoch, mut values) = next_group();
                ended = live(bytes(values.next()))?;
                opened = match values.next() {
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
                };
                epochs.push((true, self.epoch_of(&mut con, slot, epoch, now).await?));
            }
            let mut cutoff = None;
            if cutoff_key.is_some() {
                let (slot, epoch, mut values) = next_group();
                cutoff = match bytes(values.next()) {
                    None => None,
                    Some(v) => {
                        let (until, cutoff) =
                            parse_pair(&v).ok_or(Fail::Data("a subject cutoff is malformed"))?;
                        (now < until).then_some(cutoff)
                    }
                };
                epochs.push((false, self.epoch_of(&mut con, slot, epoch, now).await?));
            }
            if epochs.is_empty() {
                let (slot, epoch, _) = next_group();
                epochs.push((false, self.epoch_of(&mut con, slot, epoch, now).await?));
            }
            // A slot whose epoch started after the session opened lost the revocations that
            // may apply to it (the `jti`'s, the subject's cutoff): judge the token as one whose
            // session the store does not hold, by the epoch.
            let others = epochs
                .iter()
                .filter(|(own, _)| !own)
                .map(|(_, e)| *e)
                .max()
                .unwrap_or(0);
            let opened = opened.filter(|&ct| ct >= others);
            let epoch = epochs.iter().map(|(_, e)| *e).max();
            Ok(RevocationStatus::new(jti, ended)
                .with_subject_cutoff_ms(cutoff)
                .with_session_opened_ms(opened)
                .with_epoch_ms(epoch))
        })
        .await
    }
}
