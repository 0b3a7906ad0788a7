//! The local view's read of Redis on a miss (the same parts as the store's revocation read, each
//! group in one slot with its slot's epoch, but keeping the values the view needs: the markers'
//! and the cutoff's `until`, the session's expiry), and the builder's settings of the view.

use std::time::Duration;

use ::redis::{Cmd, Value};

use super::super::parse::{bytes, parse_pair, parse_u64};
use super::super::slots::key_slot;
use super::super::{Fail, RedisStore, RedisStoreBuilder};
use super::{Facts, Held, Keys};
use crate::revocation::StoreError;

impl RedisStore {
    /// What Redis holds for `keys`, one group per slot, at once; `None` when a slot has no
    /// epoch (the store's direct read starts it).
    pub(super) async fn read_facts(&self, keys: &Keys) -> Result<Option<Facts>, StoreError> {
        self.ready().await?;
        self.run(|con| async move {
            let get = |key: &str| {
                let mut c = ::redis::cmd("GET");
                c.arg(key);
                c
            };
            let mut groups: Vec<Vec<Cmd>> = Vec::new();
            if let Some(key) = &keys.jti {
                groups.push(vec![get(&self.epoch_key(key_slot(key))), get(key)]);
            }
            if let (Some(ended), Some(session)) = (&keys.ended, &keys.session) {
                let mut hmget = ::redis::cmd("HMGET");
                hmget.arg(session).arg(&["ct", "iss", "abs", "cexp"]);
                groups.push(vec![
                    get(&self.epoch_key(key_slot(session))),
                    get(ended),
                    hmget,
                ]);
            }
            if let Some(key) = &keys.cutoff {
                groups.push(vec![get(&self.epoch_key(key_slot(key))), get(key)]);
            }
            let mut replies = self.groups(&con, groups).await?.into_iter();
            let mut next = || -> Result<Option<(u64, std::vec::IntoIter<Value>)>, Fail> {
                let mut values = replies.next().unwrap_or_default().into_iter();
                match bytes(values.next()) {
                    Some(epoch) => Ok(Some((
                        parse_u64(&epoch).ok_or(Fail::Data("an epoch is malformed"))?,
                        values,
                    ))),
                    None => Ok(None),
                }
            };
            let marker = |v: Option<Vec<u8>>| -> Result<Option<u64>, Fail> {
                v.map(|v| parse_u64(&v).ok_or(Fail::Data("a revocation marker")))
                    .transpose()
            };
            let mut facts = Facts {
                jti: None,
                session: None,
                cutoff: None,
            };
            if keys.jti.is_some() {
                let Some((epoch, mut values)) = next()? else {
                    return Ok(None);
                };
                facts.jti = Some((marker(bytes(values.next()))?, epoch));
            }
            if keys.ended.is_some() && keys.session.is_some() {
                let Some((epoch, mut values)) = next()? else {
                    return Ok(None);
                };
                let ended = marker(bytes(values.next()))?;
                let held = match values.next() {
                    Some(Value::Array(fields)) => held(fields)?,
                    _ => return Err(Fail::Data("a session is malformed")),
                };
                facts.session = Some((ended, held, epoch));
            }
            if keys.cutoff.is_some() {
                let Some((epoch, mut values)) = next()? else {
                    return Ok(None);
                };
                let cutoff = bytes(values.next())
                    .map(|v| parse_pair(&v).ok_or(Fail::Data("a subject cutoff is malformed")))
                    .transpose()?;
                facts.cutoff = Some((cutoff, epoch));
            }
            Ok(Some(facts))
        })
        .await
    }
}

/// A session's `ct`, `iss`, `abs` and `cexp`; `None` when it is absent.
fn held(fields: Vec<Value>) -> Result<Option<Held>, Fail> {
    let malformed = || Fail::Data("a session is malformed");
    let [ct, iss, abs, cexp]: [Value; 4] = fields.try_into().map_err(|_| malformed())?;
    let Some(ct) = bytes(Some(ct)) else {
        return Ok(None);
    };
    let number = |v: Value| bytes(Some(v)).as_deref().and_then(parse_u64);
    let opened = parse_u64(&ct).ok_or_else(malformed)?;
    let abs = number(abs).ok_or_else(malformed)?;
    let cexp = number(cexp).ok_or_else(malformed)?;
    Ok(Some(Held {
        opened,
        iss: bytes(Some(iss)).unwrap_or_default().into_boxed_slice(),
        until: abs.min(cexp),
    }))
}

impl RedisStoreBuilder {
    /// Whether revocation is judged from a local view kept current by Redis (default on, on
    /// one node; a cluster store asks Redis on every check for now); see the sessions guide,
    /// "Revocation at local speed". Off, every check asks Redis.
    pub fn local_view(mut self, on: bool) -> Self {
        self.view.enabled = on;
        self
    }

    /// The most entries the local view holds (default 65,536, at least 2); past it, the older
    /// half is dropped and asked of Redis again. An entry is a key's name and value, about
    /// 200 bytes.
    pub fn local_view_capacity(mut self, entries: usize) -> Self {
        self.view.capacity = entries.max(2);
        self
    }

    /// How long after its newest heartbeat the local view is trusted (default 200 ms): the
    /// bound on how long a revocation elsewhere can go unseen when the invalidation connection
    /// hangs. Heartbeats go every quarter of it.
    pub fn local_view_lease(mut self, lease: Duration) -> Self {
        self.view.lease = lease.max(Duration::from_millis(4));
        self
    }
}
