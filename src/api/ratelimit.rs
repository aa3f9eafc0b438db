//! Per-client rate limits (governor) and the IETF RateLimit header fields
//! (draft-ietf-httpapi-ratelimit-headers: `RateLimit-Policy: "name";q=…;w=…`,
//! `RateLimit: "name";r=…;t=…`). Each key has its own token bucket, so one
//! client exhausting its quota never slows another. A bucket whose quota
//! changed (a partner's record was edited) is replaced on its next use.
//!
//! The map of buckets is bounded: a bucket left alone long enough to be full
//! again is the same as none, so a sweep every [`SWEEP_EVERY`] drops those;
//! and at [`MAX_KEYS`] a new key is refused (after one more sweep) rather
//! than let a flood of addresses grow the map without end.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::Mutex;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock, Reference};
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

struct Entry<C: Clock> {
    policy: Policy,
    bucket: Bucket<C>,
    last_used: C::Instant,
}

impl<C: Clock> Entry<C> {
    /// Full again: dropping it changes nothing for its key.
    fn is_idle(&self, now: C::Instant) -> bool {
        let per_cell = Duration::from_secs(1) / self.policy.rate.max(1);
        Duration::from(now.duration_since(self.last_used)) >= per_cell * self.policy.burst
    }
}

struct Buckets<C: Clock> {
    by_key: HashMap<String, Entry<C>>,
    last_sweep: C::Instant,
}

/// Buckets by key ("partner:…", "ip:…"), on an injectable clock.
pub struct RateLimits<C: Clock = DefaultClock> {
    clock: C,
    max_keys: usize,
    buckets: Mutex<Buckets<C>>,
}

/// How often idle buckets are dropped.
pub const SWEEP_EVERY: Duration = Duration::from_secs(60);
/// At most this many buckets are kept (a few hundred bytes each).
pub const MAX_KEYS: usize = 100_000;
/// A full map is swept again at most this often before refusing new keys.
const FULL_SWEEP_GAP: Duration = Duration::from_secs(1);

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
        RateLimits::with_capacity(clock, MAX_KEYS)
    }

    /// At most `max_keys` buckets.
    pub fn with_capacity(clock: C, max_keys: usize) -> Self {
        let last_sweep = clock.now();
        RateLimits {
            clock,
            max_keys,
            buckets: Mutex::new(Buckets {
                by_key: HashMap::new(),
                last_sweep,
            }),
        }
    }

    /// How many buckets are kept now.
    pub fn len(&self) -> usize {
        self.lock().by_key.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Buckets<C>> {
        self.buckets.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Takes one request from `key`'s bucket under `policy`.
    pub fn check(&self, key: &str, policy: &Policy) -> Outcome {
        let now = self.clock.now();
        let mut buckets = self.lock();
        let since_sweep = Duration::from(now.duration_since(buckets.last_sweep));
        let known = buckets.by_key.contains_key(key);
        let full = !known && buckets.by_key.len() >= self.max_keys;
        if since_sweep >= SWEEP_EVERY || (full && since_sweep >= FULL_SWEEP_GAP) {
            buckets.by_key.retain(|_, entry| !entry.is_idle(now));
            buckets.last_sweep = now;
        }
        if !known && buckets.by_key.len() >= self.max_keys {
            // Every kept bucket is in use: the newcomer waits for one to idle.
            return Outcome {
                policy: policy.clone(),
                remaining: 0,
                reset_seconds: whole_seconds(FULL_SWEEP_GAP),
                retry_after: Some(whole_seconds(FULL_SWEEP_GAP)),
            };
        }
        let fresh = || Entry {
            policy: policy.clone(),
            bucket: RateLimiter::direct_with_clock(policy.quota(), self.clock.clone())
                .with_middleware::<StateInformationMiddleware>(),
            last_used: now,
        };
        let entry = buckets.by_key.entry(key.to_string()).or_insert_with(fresh);
        if &entry.policy != policy {
            *entry = fresh();
        }
        entry.last_used = now;
        let per_cell = Duration::from_secs(1) / policy.rate.max(1);
        match entry.bucket.check() {
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
    fn idle_buckets_are_dropped_at_the_periodic_sweep_and_busy_ones_kept() {
        let clock = FakeRelativeClock::default();
        let limits = RateLimits::with_clock(clock.clone());
        let policy = partner(1, 10);
        for key in ["ip:a", "ip:b"] {
            assert!(limits.check(key, &policy).allowed());
        }
        // "a" is full again after ten seconds; "b" keeps drawing from its bucket.
        for _ in 0..59 {
            clock.advance(Duration::from_secs(1));
            assert!(limits.check("ip:b", &policy).allowed());
        }
        assert_eq!(limits.len(), 2, "no sweep before a minute has passed");
        clock.advance(Duration::from_secs(1));
        assert!(limits.check("ip:b", &policy).allowed());
        assert_eq!(limits.len(), 1, "the idle bucket was dropped");
    }

    #[test]
    fn a_full_map_refuses_new_keys_until_a_bucket_idles() {
        let clock = FakeRelativeClock::default();
        let limits = RateLimits::with_capacity(clock.clone(), 2);
        let policy = partner(1, 5);
        assert!(limits.check("ip:a", &policy).allowed());
        assert!(limits.check("ip:b", &policy).allowed());
        let refused = limits.check("ip:c", &policy);
        assert_eq!(refused.retry_after, Some(1));
        assert_eq!(limits.len(), 2);
        // Known keys go on as before.
        assert!(limits.check("ip:a", &policy).allowed());
        // Five seconds on, "b" is full again: swept, and "c" gets its place.
        clock.advance(Duration::from_secs(5));
        assert!(limits.check("ip:a", &policy).allowed());
        assert!(limits.check("ip:c", &policy).allowed());
        assert_eq!(limits.len(), 2);
        assert!(!limits.check("ip:d", &policy).allowed(), "a and c are busy");
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
