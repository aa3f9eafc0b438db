//! Circuit breaker per endpoint: after N consecutive failures the endpoint is
//! paused; when the pause ends one probe goes through, and its answer decides.

use chrono::{DateTime, Duration, Utc};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// `closed`, `open` or `disabled`.
    pub state: String,
    pub failures: i32,
    pub paused_until: Option<DateTime<Utc>>,
}

impl Endpoint {
    pub fn healthy() -> Self {
        Endpoint {
            state: "closed".into(),
            failures: 0,
            paused_until: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Gate {
    Send,
    /// Paused: try this row again then.
    WaitUntil(DateTime<Utc>),
    /// The endpoint answered 410 Gone.
    Disabled,
}

pub fn gate(endpoint: &Endpoint, now: DateTime<Utc>) -> Gate {
    match (endpoint.state.as_str(), endpoint.paused_until) {
        ("disabled", _) => Gate::Disabled,
        ("open", Some(until)) if until > now => Gate::WaitUntil(until),
        _ => Gate::Send,
    }
}

/// While a probe is in flight the endpoint stays paused for `pause` more, so
/// only one row probes it at a time.
pub fn probing(endpoint: &Endpoint, now: DateTime<Utc>, pause: Duration) -> Option<Endpoint> {
    (endpoint.state == "open").then(|| Endpoint {
        paused_until: Some(now + pause),
        ..endpoint.clone()
    })
}

pub fn after_failure(
    endpoint: &Endpoint,
    threshold: u32,
    pause: Duration,
    now: DateTime<Utc>,
) -> Endpoint {
    let failures = endpoint.failures + 1;
    if failures >= i32::try_from(threshold).unwrap_or(i32::MAX) {
        Endpoint {
            state: "open".into(),
            failures,
            paused_until: Some(now + pause),
        }
    } else {
        Endpoint {
            state: "closed".into(),
            failures,
            paused_until: None,
        }
    }
}

pub fn disabled() -> Endpoint {
    Endpoint {
        state: "disabled".into(),
        failures: 0,
        paused_until: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_after_the_threshold_and_lets_one_probe_through_after_the_pause() {
        let now = Utc::now();
        let pause = Duration::seconds(60);
        let mut e = Endpoint::healthy();
        for _ in 0..2 {
            e = after_failure(&e, 3, pause, now);
            assert_eq!(gate(&e, now), Gate::Send);
        }
        e = after_failure(&e, 3, pause, now);
        assert_eq!(gate(&e, now), Gate::WaitUntil(now + pause));
        let later = now + pause + Duration::seconds(1);
        assert_eq!(gate(&e, later), Gate::Send);
        let probing = probing(&e, later, pause).unwrap();
        assert_eq!(gate(&probing, later), Gate::WaitUntil(later + pause));
        assert!(super::probing(&Endpoint::healthy(), now, pause).is_none());
        assert_eq!(gate(&disabled(), now), Gate::Disabled);
    }
}
