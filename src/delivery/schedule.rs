//! When to try again: the configured schedule with ±20 % jitter, and the
//! receiver's `Retry-After` within bounds.

use std::time::Duration;

use chrono::{DateTime, Utc};

/// The delay before attempt number `attempts + 1` (after `attempts` failures),
/// or `None` when the schedule is used up.
pub fn next_delay(schedule: &[u64], attempts: usize, jitter: f64) -> Option<Duration> {
    let base = *schedule.get(attempts)? as f64;
    let factor = 1.0 + 0.2 * jitter.clamp(-1.0, 1.0);
    Some(Duration::from_secs_f64((base * factor).max(0.0)))
}

/// A uniformly random number in [-1, 1] for [`next_delay`].
pub fn jitter() -> f64 {
    let mut bytes = [0u8; 4];
    if getrandom::fill(&mut bytes).is_err() {
        return 0.0;
    }
    f64::from(u32::from_le_bytes(bytes)) / f64::from(u32::MAX) * 2.0 - 1.0
}

/// The longest a receiver may ask us to wait with `Retry-After`.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(6 * 3600);
/// The shortest wait we accept, so a receiver cannot ask for a hot loop.
pub const MIN_RETRY_AFTER: Duration = Duration::from_secs(1);

/// `Retry-After` as delay-seconds or an HTTP date, clamped to the bounds.
pub fn retry_after(value: &str, now: DateTime<Utc>) -> Option<Duration> {
    let value = value.trim();
    let wait = if let Ok(seconds) = value.parse::<u64>() {
        Duration::from_secs(seconds)
    } else {
        let at = DateTime::parse_from_rfc2822(value)
            .ok()?
            .with_timezone(&Utc);
        (at - now).to_std().unwrap_or(Duration::ZERO)
    };
    Some(wait.clamp(MIN_RETRY_AFTER, MAX_RETRY_AFTER))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_schedule_runs_out() {
        let schedule = [0, 5, 300];
        assert_eq!(next_delay(&schedule, 0, 0.0), Some(Duration::ZERO));
        assert_eq!(next_delay(&schedule, 1, 0.0), Some(Duration::from_secs(5)));
        assert_eq!(
            next_delay(&schedule, 2, 1.0),
            Some(Duration::from_secs(360))
        );
        assert_eq!(
            next_delay(&schedule, 2, -1.0),
            Some(Duration::from_secs(240))
        );
        assert_eq!(next_delay(&schedule, 3, 0.0), None);
    }

    #[test]
    fn jitter_stays_within_twenty_percent() {
        for _ in 0..1000 {
            let j = jitter();
            assert!((-1.0..=1.0).contains(&j));
            let d = next_delay(&[100], 0, j).unwrap().as_secs_f64();
            assert!((80.0..=120.0).contains(&d));
        }
    }

    #[test]
    fn retry_after_is_read_and_bounded() {
        let now = DateTime::parse_from_rfc3339("2026-11-22T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(retry_after("120", now), Some(Duration::from_secs(120)));
        assert_eq!(retry_after("0", now), Some(MIN_RETRY_AFTER));
        assert_eq!(retry_after("999999", now), Some(MAX_RETRY_AFTER));
        assert_eq!(
            retry_after("Sun, 22 Nov 2026 10:01:00 GMT", now),
            Some(Duration::from_secs(60))
        );
        assert_eq!(retry_after("soon", now), None);
    }
}
