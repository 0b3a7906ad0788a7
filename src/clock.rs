//! [`Clock`]: the one clock type of the crate, and the conversions between [`SystemTime`] and
//! the whole seconds and milliseconds since the Unix epoch that tokens and stores keep.
//!
//! It depends on nothing else in the crate: the layer, the minter and the stores all read the
//! time through it.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The clock that judges expiry: of sessions and refresh tokens in the stores.
/// [`Clock::system`] by default; [`Clock::manual`] gives a clock that tests set and advance, so
/// that idle and absolute expiry are tested without sleeps; [`Clock::from_fn`] wraps a closure.
///
/// ```
/// use std::time::{Duration, UNIX_EPOCH};
/// use tower_jwt_auth::clock::Clock;
///
/// let clock = Clock::manual(UNIX_EPOCH + Duration::from_secs(1_700_000_000));
/// assert!(clock.advance(Duration::from_secs(5)));
/// assert_eq!(clock.now_millis(), 1_700_000_005_000);
/// ```
#[derive(Clone, Default)]
pub struct Clock(ClockKind);

#[derive(Clone, Default)]
enum ClockKind {
    #[default]
    System,
    /// Milliseconds since the Unix epoch.
    Manual(Arc<AtomicU64>),
    Custom(Arc<dyn Fn() -> SystemTime + Send + Sync>),
}

impl Clock {
    /// The system clock ([`SystemTime::now`]).
    pub fn system() -> Self {
        Self(ClockKind::System)
    }

    /// A clock that stands at `start` until [`set`](Self::set) or [`advance`](Self::advance)
    /// moves it. Clones share the time.
    pub fn manual(start: SystemTime) -> Self {
        Self(ClockKind::Manual(Arc::new(AtomicU64::new(unix_millis(
            start,
        )))))
    }

    /// A clock that reads the time from `now`.
    pub fn from_fn(now: impl Fn() -> SystemTime + Send + Sync + 'static) -> Self {
        Self(ClockKind::Custom(Arc::new(now)))
    }

    /// The current time (millisecond resolution).
    pub fn now(&self) -> SystemTime {
        from_millis(self.now_millis())
    }

    /// The current time in whole seconds since the Unix epoch (0 before it), as the time claims
    /// of tokens count it.
    #[inline]
    pub fn now_secs(&self) -> u64 {
        match &self.0 {
            ClockKind::System => unix_secs(SystemTime::now()),
            ClockKind::Manual(ms) => ms.load(Ordering::Acquire) / 1000,
            ClockKind::Custom(now) => unix_secs(now()),
        }
    }

    /// The current time in milliseconds since the Unix epoch (0 before it).
    pub fn now_millis(&self) -> u64 {
        match &self.0 {
            ClockKind::System => unix_millis(SystemTime::now()),
            ClockKind::Manual(ms) => ms.load(Ordering::Acquire),
            ClockKind::Custom(now) => unix_millis(now()),
        }
    }

    /// Sets a [`manual`](Self::manual) clock to `time`; returns false (and does nothing) for
    /// any other clock.
    pub fn set(&self, time: SystemTime) -> bool {
        match &self.0 {
            ClockKind::Manual(ms) => {
                ms.store(unix_millis(time), Ordering::Release);
                true
            }
            ClockKind::System | ClockKind::Custom(_) => false,
        }
    }

    /// Moves a [`manual`](Self::manual) clock forward by `by`; returns false (and does nothing)
    /// for any other clock.
    pub fn advance(&self, by: Duration) -> bool {
        match &self.0 {
            ClockKind::Manual(ms) => {
                let by = millis(by);
                let _ = ms.fetch_update(Ordering::AcqRel, Ordering::Acquire, |t| {
                    Some(t.saturating_add(by))
                });
                true
            }
            ClockKind::System | ClockKind::Custom(_) => false,
        }
    }
}

impl fmt::Debug for Clock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            ClockKind::System => f.write_str("Clock::System"),
            ClockKind::Manual(ms) => write!(f, "Clock::Manual({} ms)", ms.load(Ordering::Acquire)),
            ClockKind::Custom(_) => f.write_str("Clock::Custom(<fn>)"),
        }
    }
}

/// Whole seconds since the Unix epoch (0 before it).
pub(crate) fn unix_secs(time: SystemTime) -> u64 {
    checked_unix_secs(time).unwrap_or(0)
}

/// Whole seconds since the Unix epoch; `None` before it.
pub(crate) fn checked_unix_secs(time: SystemTime) -> Option<u64> {
    time.duration_since(UNIX_EPOCH).ok().map(|d| d.as_secs())
}

/// Milliseconds since the Unix epoch, saturating (0 before it).
pub(crate) fn unix_millis(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH).map_or(0, millis)
}

/// A duration in milliseconds, saturating.
pub(crate) fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// Milliseconds since the Unix epoch back to a time (saturating far in the future).
pub(crate) fn from_millis(ms: u64) -> SystemTime {
    UNIX_EPOCH
        .checked_add(Duration::from_millis(ms))
        .unwrap_or(UNIX_EPOCH + Duration::from_secs(u64::from(u32::MAX)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_clock_manual_moves_only_when_told() {
        let t0 = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let clock = Clock::manual(t0);
        assert_eq!(clock.now(), t0);
        assert!(clock.advance(Duration::from_secs(5)));
        assert_eq!(clock.clone().now(), t0 + Duration::from_secs(5));
        assert!(clock.set(t0));
        assert_eq!(clock.now_millis(), 1_700_000_000_000);
        assert!(!Clock::system().advance(Duration::from_secs(1)));
        assert_eq!(Clock::from_fn(move || t0).now(), t0);
    }

    #[test]
    fn unix_time_helpers_saturate() {
        let before = UNIX_EPOCH - Duration::from_secs(1);
        assert_eq!(unix_secs(before), 0);
        assert_eq!(checked_unix_secs(before), None);
        assert_eq!(unix_millis(before), 0);
        let t = UNIX_EPOCH + Duration::from_millis(1_500);
        assert_eq!(unix_secs(t), 1);
        assert_eq!(checked_unix_secs(t), Some(1));
        assert_eq!(unix_millis(t), 1_500);
        assert_eq!(from_millis(1_500), t);
        assert_eq!(millis(Duration::MAX), u64::MAX);
    }
}
