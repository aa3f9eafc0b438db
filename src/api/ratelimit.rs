//! Per-client rate limits (governor) and the IETF RateLimit header fields
//! (draft-ietf-httpapi-ratelimit-headers: `RateLimit-Policy: "name";q=…;w=…`,
//! `RateLimit: "name";r=…;t=…`). Each key has its own token bucket, so one
//! client exhausting its quota never slows another. A bucket whose quota
//! changed (a partner's record was edited) is replaced on its next use.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::Mutex;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::middleware::StateInformationMiddleware;
use governor::state::{InMemoryState, NotKeyed};
use governor::{Quota, RateLimiter};

/// A named quota: `rate` requests per second with bursts up to `burst`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    pub name: &'static str,
    pub rate: u32,
    pub burst: u32,
}

impl Policy {
    /// The window over which `burst` requests refill, in whole seconds.
    fn window_seconds(&self) -> u64 {
        u64::from(self.burst)
            .div_ceil(u64::from(self.rate.max(1)))
            .max(1)
    }

    fn quota(&self) -> Quota {
        let rate = NonZeroU32::new(self.rate).unwrap_or(NonZeroU32::MIN);
        let burst = NonZeroU32::new(self.burst).unwrap_or(NonZeroU32::MIN);
        Quota::per_second(rate).allow_burst(burst)
    }

    /// `RateLimit-Policy`.
    pub fn header(&self) -> String {
        format!(
            "\"{}\";q={};w={}",
            self.name,
            self.burst,
            self.window_seconds()
        )
    }
}

/// What one check decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub policy: Policy,
    /// Requests left in the current burst.
    pub remaining: u32,
    /// Seconds until the bucket is full again.
    pub reset_seconds: u64,
    /// Set when the request is refused: seconds until one is allowed.
    pub retry_after: Option<u64>,
}

impl Outcome {
    pub fn allowed(&self) -> bool {
        self.retry_after.is_none()
    }

    /// `RateLimit`.
    pub fn header(&self) -> String {
        format!(
            "\"{}\";r={};t={}",
            self.policy.name, self.remaining, self.reset_seconds
        )
    }
}

type Bucket<C> = RateLimiter<NotKeyed, InMemoryState, C, StateInformationMiddleware>;

/// Buckets by key ("partner:…", "ip:…"), on an injectable clock.
pub struct RateLimits<C: Clock = DefaultClock> {
    clock: C,
    buckets: Mutex<HashMap<String, (Policy, Bucket<C>)>>,
}

/// Buckets kept before idle ones (full again) are dropped.
const PRUNE_ABOVE: usize = 10_000;

impl Default for RateLimits<DefaultClock> {
    fn default() -> Self {
        RateLimits::with_clock(DefaultClock::default())
    }
}

fn whole_seconds(d: Duration) -> u64 {
    d.as_secs() + u64::from(d.subsec_nanos() > 0)
}

impl<C: Clock + Clone> RateLimits<C> {
    pub fn with_clock(clock: C) -> Self {
        RateLimits {
            clock,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one request from `key`'s bucket under `policy`.
    pub fn check(&self, key: &str, policy: &Policy) -> Outcome {
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if buckets.len() > PRUNE_ABOVE {
            buckets.retain(|_, (p, bucket)| bucket_is_busy(bucket, p));
        }
        let stale = buckets.get(key).is_none_or(|(p, _)| p != policy);
        if stale {
            let bucket = RateLimiter::direct_with_clock(policy.quota(), self.clock.clone())
                .with_middleware::<StateInformationMiddleware>();
            buckets.insert(key.to_string(), (policy.clone(), bucket));
        }
        let (_, bucket) = &buckets[key];
        let per_cell = Duration::from_secs(1) / policy.rate.max(1);
        match bucket.check() {
            Ok(snapshot) => {
                let remaining = snapshot.remaining_burst_capacity();
                let used = policy.burst.saturating_sub(remaining);
                Outcome {
                    policy: policy.clone(),
                    remaining,
                    reset_seconds: whole_seconds(per_cell * used),
                    retry_after: None,
                }
            }
            Err(not_until) => {
                let wait = not_until.wait_time_from(self.clock.now());
                Outcome {
                    policy: policy.clone(),
                    remaining: 0,
                    reset_seconds: whole_seconds(per_cell * policy.burst),
                    retry_after: Some(whole_seconds(wait).max(1)),
                }
            }
        }
    }
}

/// Whether a bucket has been used recently (is not full again).
fn bucket_is_busy<C: Clock>(bucket: &Bucket<C>, policy: &Policy) -> bool {
    bucket
        .check_n(NonZeroU32::new(policy.burst).unwrap_or(NonZeroU32::MIN))
        .map(|allowed| allowed.is_err())
        .unwrap_or(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use governor::clock::FakeRelativeClock;

    fn partner(rate: u32, burst: u32) -> Policy {
        Policy {
            name: "partner",
            rate,
            burst,
        }
    }

    #[test]
    fn a_burst_then_refusal_then_refill_as_the_clock_moves() {
        let clock = FakeRelativeClock::default();
        let limits = RateLimits::with_clock(clock.clone());
        let policy = partner(2, 4);
        let first = limits.check("partner:a", &policy);
        assert!(first.allowed());
        assert_eq!(first.remaining, 3);
        for left in [2, 1, 0] {
            assert_eq!(limits.check("partner:a", &policy).remaining, left);
        }
        let refused = limits.check("partner:a", &policy);
        assert_eq!(refused.retry_after, Some(1));
        assert_eq!(refused.header(), "\"partner\";r=0;t=2");
        clock.advance(Duration::from_millis(500));
        let refilled = limits.check("partner:a", &policy);
        assert!(refilled.allowed(), "one request every half second");
        assert!(!limits.check("partner:a", &policy).allowed());
        clock.advance(Duration::from_secs(2));
        for _ in 0..4 {
            assert!(limits.check("partner:a", &policy).allowed());
        }
    }

    #[test]
    fn clients_do_not_share_buckets() {
        let limits = RateLimits::with_clock(FakeRelativeClock::default());
        let policy = partner(1, 2);
        for _ in 0..2 {
            assert!(limits.check("partner:a", &policy).allowed());
        }
        assert!(!limits.check("partner:a", &policy).allowed());
        assert!(limits.check("partner:b", &policy).allowed());
    }

    #[test]
    fn a_changed_quota_applies_at_once() {
        let limits = RateLimits::with_clock(FakeRelativeClock::default());
        assert!(limits.check("partner:a", &partner(1, 1)).allowed());
        assert!(!limits.check("partner:a", &partner(1, 1)).allowed());
        let raised = partner(1, 10);
        assert_eq!(limits.check("partner:a", &raised).remaining, 9);
    }

    #[test]
    fn the_headers_have_the_structured_field_form() {
        let policy = partner(50, 100);
        assert_eq!(policy.header(), "\"partner\";q=100;w=2");
        let limits = RateLimits::with_clock(FakeRelativeClock::default());
        let outcome = limits.check("partner:a", &policy);
        assert_eq!(outcome.header(), "\"partner\";r=99;t=1");
    }
}
