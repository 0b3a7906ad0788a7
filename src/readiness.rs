//! [`Readiness`]: whether a layer can judge tokens now, for readiness probes.

use std::fmt;

/// The outcome of one readiness check: `ok`, or why not (a fixed sentence).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Check {
    /// The check passed.
    Ok,
    /// The check failed, for this reason.
    NotReady(&'static str),
}

impl Check {
    /// `true` for [`Check::Ok`].
    pub fn is_ok(&self) -> bool {
        matches!(self, Check::Ok)
    }

    /// `"ok"`, or the reason.
    pub fn as_str(&self) -> &'static str {
        match self {
            Check::Ok => "ok",
            Check::NotReady(reason) => reason,
        }
    }
}

impl fmt::Display for Check {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Whether a layer can judge tokens now: its keys, and its revocation store when it has one;
/// see [`JwtAuthLayer::readiness`](crate::JwtAuthLayer::readiness). Only the checks that apply
/// are present.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Readiness {
    keys: Option<Check>,
    store: Option<Check>,
}

impl Readiness {
    /// A readiness made of these checks (`None`: the check does not apply).
    pub fn new(keys: Option<Check>, store: Option<Check>) -> Self {
        Self { keys, store }
    }

    /// `true` when every check that applies passed.
    pub fn is_ready(&self) -> bool {
        self.keys.is_none_or(|check| check.is_ok()) && self.store.is_none_or(|check| check.is_ok())
    }

    /// The keys: loaded, and not past their maximum staleness.
    pub fn keys(&self) -> Option<Check> {
        self.keys
    }

    /// The store: it answers.
    pub fn store(&self) -> Option<Check> {
        self.store
    }

    /// The checks that apply, by name (`keys`, `store`).
    pub fn checks(&self) -> impl Iterator<Item = (&'static str, Check)> {
        [("keys", self.keys), ("store", self.store)]
            .into_iter()
            .filter_map(|(name, check)| Some((name, check?)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ready_only_when_every_check_that_applies_passed() {
        assert!(Readiness::new(Some(Check::Ok), None).is_ready());
        assert!(Readiness::new(None, Some(Check::Ok)).is_ready());
        let down = Readiness::new(Some(Check::Ok), Some(Check::NotReady("down")));
        assert!(!down.is_ready());
        assert_eq!(
            down.checks().collect::<Vec<_>>(),
            [("keys", Check::Ok), ("store", Check::NotReady("down"))]
        );
        assert_eq!(Check::NotReady("down").to_string(), "down");
        assert_eq!(Check::Ok.as_str(), "ok");
    }
}
