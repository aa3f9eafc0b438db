//! The one business clock (SPEC §11). Every timestamp stored on a case and every
//! deadline comes from here; operational timers use real time instead.

use std::sync::{Arc, RwLock};

use chrono::{DateTime, Duration, Utc};

use crate::domain::calendar::BEIJING;
use crate::domain::deadlines::Policy;

/// A business instant with the deadline rules that apply to it: what every
/// state change is stamped with, so each one recomputes the case's deadlines.
#[derive(Clone, Copy)]
pub struct Now<'a> {
    pub at: DateTime<Utc>,
    pub policy: &'a Policy,
}

/// RFC 3339 in Beijing time (+08:00): how every business timestamp is shown.
pub fn beijing(t: &DateTime<Utc>) -> String {
    t.with_timezone(&BEIJING).to_rfc3339()
}

/// How an administrator moves the manual clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Move {
    By(Duration),
    To(DateTime<Utc>),
}

#[derive(Clone)]
pub enum BusinessClock {
    System,
    /// Moves only when an admin moves it.
    Manual(Arc<RwLock<DateTime<Utc>>>),
}

impl BusinessClock {
    pub fn manual(start: DateTime<Utc>) -> Self {
        BusinessClock::Manual(Arc::new(RwLock::new(start)))
    }

    pub fn now(&self) -> DateTime<Utc> {
        match self {
            BusinessClock::System => Utc::now(),
            BusinessClock::Manual(at) => {
                *at.read().unwrap_or_else(|poisoned| poisoned.into_inner())
            }
        }
    }

    pub fn is_manual(&self) -> bool {
        matches!(self, BusinessClock::Manual(_))
    }

    /// Moves a manual clock; `None` on the system clock. The clock never goes
    /// backwards, so deadlines already acted on stay acted on.
    pub fn set(&self, to: DateTime<Utc>) -> Option<Result<DateTime<Utc>, DateTime<Utc>>> {
        let BusinessClock::Manual(at) = self else {
            return None;
        };
        let mut at = at.write().unwrap_or_else(|poisoned| poisoned.into_inner());
        if to < *at {
            return Some(Err(*at));
        }
        *at = to;
        Some(Ok(to))
    }

    pub fn advance(&self, by: Duration) -> Option<Result<DateTime<Utc>, DateTime<Utc>>> {
        let to = self.now() + by;
        self.set(to)
    }

    /// [`BusinessClock::advance`] or [`BusinessClock::set`], as `how` says.
    pub fn shift(&self, how: Move) -> Option<Result<DateTime<Utc>, DateTime<Utc>>> {
        match how {
            Move::By(by) => self.advance(by),
            Move::To(to) => self.set(to),
        }
    }

    /// Moves a manual clock up to `saved`, where another process moved the
    /// shared clock, if that is further on; it never moves back.
    pub fn follow(&self, saved: DateTime<Utc>) {
        if self.is_manual() && saved > self.now() {
            let _ = self.set(saved);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_manual_clock_moves_only_forward_when_told() {
        let start = DateTime::parse_from_rfc3339("2026-09-29T10:00:00+08:00")
            .unwrap()
            .with_timezone(&Utc);
        let clock = BusinessClock::manual(start);
        assert_eq!(clock.now(), start);
        assert_eq!(
            clock.advance(Duration::hours(5)),
            Some(Ok(start + Duration::hours(5)))
        );
        assert_eq!(clock.now(), start + Duration::hours(5));
        assert_eq!(clock.set(start), Some(Err(start + Duration::hours(5))));
        assert!(BusinessClock::System.set(start).is_none());
    }

    #[test]
    fn a_followed_clock_moves_only_forward() {
        let start = DateTime::parse_from_rfc3339("2026-09-29T10:00:00+08:00")
            .unwrap()
            .with_timezone(&Utc);
        let clock = BusinessClock::manual(start);
        clock.follow(start - Duration::hours(1));
        assert_eq!(clock.now(), start);
        clock.follow(start + Duration::hours(1));
        assert_eq!(clock.now(), start + Duration::hours(1));
        assert_eq!(
            clock.shift(Move::By(Duration::hours(1))),
            Some(Ok(start + Duration::hours(2)))
        );
        assert_eq!(
            clock.shift(Move::To(start)),
            Some(Err(start + Duration::hours(2)))
        );
    }
}
