//! The memory store's revocations: revoked `jti`s, ended sessions and subject cutoffs, each
//! keyed by issuer.

use std::collections::HashMap;

/// Entries keyed by issuer, then by a value of that issuer (looked up without allocating).
pub(super) type ByIssuer<V> = HashMap<String, HashMap<String, V>>;

#[derive(Debug, Default)]
pub(super) struct Revocations {
    /// (`iss`, `jti`) → until (ms).
    pub(super) jtis: ByIssuer<u64>,
    /// (`iss`, `sid`) → until (ms).
    pub(super) ended: ByIssuer<u64>,
    /// (`iss`, `sub`) → (cutoff in ms, until in ms).
    pub(super) cutoffs: ByIssuer<(u64, u64)>,
    pub(super) next_sweep: u64,
}

pub(super) fn get<'m, V>(map: &'m ByIssuer<V>, iss: &str, key: &str) -> Option<&'m V> {
    map.get(iss)?.get(key)
}

fn retain<V>(map: &mut ByIssuer<V>, keep: impl Fn(&V) -> bool) {
    map.retain(|_, inner| {
        inner.retain(|_, v| keep(v));
        !inner.is_empty()
    });
}

impl Revocations {
    pub(super) fn extend(map: &mut ByIssuer<u64>, iss: &str, key: &str, until: u64) {
        let inner = map.entry(iss.to_owned()).or_default();
        match inner.get_mut(key) {
            Some(old) => *old = (*old).max(until),
            None => {
                inner.insert(key.to_owned(), until);
            }
        }
    }

    pub(super) fn sweep(&mut self, now: u64, interval: u64) {
        if now < self.next_sweep {
            return;
        }
        self.next_sweep = now.saturating_add(interval);
        retain(&mut self.jtis, |until| now < *until);
        retain(&mut self.ended, |until| now < *until);
        retain(&mut self.cutoffs, |(_, until)| now < *until);
    }

    pub(super) fn len(&self) -> usize {
        let count =
            |m: &HashMap<String, HashMap<String, _>>| m.values().map(HashMap::len).sum::<usize>();
        count(&self.jtis)
            + count(&self.ended)
            + self.cutoffs.values().map(HashMap::len).sum::<usize>()
    }

    /// The cutoff (ms) of a subject in force at `now`.
    pub(super) fn cutoff(&self, iss: &str, sub: &str, now: u64) -> Option<u64> {
        get(&self.cutoffs, iss, sub)
            .filter(|(_, until)| now < *until)
            .map(|(cutoff, _)| *cutoff)
    }
}
