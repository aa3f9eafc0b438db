//! Delivery workers: claim due outbox rows, sign and POST them, record the
//! attempt, and settle the row (delivered, retried later, or given up).

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::{Duration as StdDuration, Instant};

use chrono::{DateTime, Duration, Utc};
use governor::clock::DefaultClock;
use governor::state::{InMemoryState, NotKeyed};
use governor::{Quota, RateLimiter};
use serde_json::json;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::breaker::{self, Endpoint, Gate};
use super::{schedule, signature, target};
use crate::auth::secrets::Sealer;
use crate::clock::{BusinessClock, Now};
use crate::config::DeliveryConfig;
use crate::domain::deadlines::Policy;
use crate::domain::lifecycle::{Action, EscalationReason, Status};
use crate::metrics::Metrics;
use crate::store::deliveries::Settle;
use crate::store::{Complaint, Db, OutboxRow, complaints, deliveries, directory, outbox as queue};

/// Where a row goes, with which secrets, at what rate.
struct Destination {
    url: String,
    secrets: Vec<String>,
    /// Deliveries per second; `None` for the configured default.
    rate: Option<u32>,
}

type Limiter = RateLimiter<NotKeyed, InMemoryState, DefaultClock>;

/// One rate limiter per endpoint, rebuilt when its rate changes.
#[derive(Default)]
struct Limiters(std::sync::Mutex<HashMap<String, (u32, Arc<Limiter>)>>);

impl Limiters {
    fn get(&self, key: &str, rate: u32, burst: u32) -> Arc<Limiter> {
        let mut map = self
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some((r, limiter)) = map.get(key)
            && *r == rate
        {
            return limiter.clone();
        }
        let per_second = NonZeroU32::new(rate).unwrap_or(NonZeroU32::MIN);
        let burst = NonZeroU32::new(burst.max(rate)).unwrap_or(NonZeroU32::MIN);
        let limiter = Arc::new(RateLimiter::direct(
            Quota::per_second(per_second).allow_burst(burst),
        ));
        map.insert(key.to_string(), (rate, limiter.clone()));
        limiter
    }
}

pub struct Deliverer {
    db: Db,
    clock: BusinessClock,
    policy: Arc<Policy>,
    sealer: Arc<Sealer>,
    config: DeliveryConfig,
    client: reqwest::Client,
    limiters: Limiters,
    metrics: Arc<Metrics>,
    ready: queue::Ready,
}

/// One attempt and how it ended.
struct Sent {
    row: OutboxRow,
    at: chrono::DateTime<Utc>,
    elapsed: StdDuration,
    outcome: Outcome,
}

fn endpoint_key(row: &OutboxRow) -> String {
    format!("{}:{}", row.target_kind, row.target_id)
}

/// How one attempt ended.
enum Outcome {
    Delivered(u16),
    /// 410 Gone: the endpoint is switched off.
    Gone,
    Failed {
        status: Option<u16>,
        error: String,
        retry_after: Option<StdDuration>,
    },
}

/// An error with its causes, outermost first ("error sending request: ...:
/// refused: ... resolves to the internal address ...").
fn causes(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let next = cause.to_string();
        if !text.ends_with(&next) {
            text = format!("{text}: {next}");
        }
        source = cause.source();
    }
    text
}

const RESPONSE_BODY_LIMIT: usize = 4096;

/// Time kept in hand, within a lease, for writing the batch's results.
const BOOKKEEPING: Duration = Duration::milliseconds(500);

impl Deliverer {
    pub fn new(
        db: Db,
        clock: BusinessClock,
        policy: Arc<Policy>,
        sealer: Arc<Sealer>,
        config: DeliveryConfig,
        metrics: Arc<Metrics>,
        ready: queue::Ready,
    ) -> Result<Arc<Self>, reqwest::Error> {
        super::install_crypto_provider();
        // Webhooks go straight to their endpoint: a proxy from the environment
        // would connect on the gateway's behalf, past the SSRF guard.
        let mut builder = reqwest::Client::builder()
            .connect_timeout(StdDuration::from_secs(config.connect_timeout_seconds))
            .timeout(StdDuration::from_secs(config.timeout_seconds))
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .user_agent(concat!("odr-gateway/", env!("CARGO_PKG_VERSION")));
        if !config.allow_private_targets {
            builder = builder.dns_resolver(target::GuardedResolver);
        }
        let client = builder.build()?;
        Ok(Arc::new(Deliverer {
            db,
            clock,
            policy,
            sealer,
            config,
            client,
            limiters: Limiters::default(),
            metrics,
            ready,
        }))
    }

    fn now(&self) -> Now<'_> {
        Now {
            at: self.clock.now(),
            policy: &self.policy,
        }
    }

    /// Starts the process's one claimer, which takes due rows from the
    /// database and delivers up to `workers` batches of them at once, and
    /// `workers` hand-off workers, which deliver the rows this process's
    /// commits leased to them through `handed`.
    pub fn spawn(self: &Arc<Self>, handed: mpsc::Receiver<OutboxRow>) -> Vec<JoinHandle<()>> {
        let handed = Arc::new(tokio::sync::Mutex::new(handed));
        let mut tasks = Vec::with_capacity(self.config.workers + 1);
        let me = Arc::clone(self);
        tasks.push(tokio::spawn(async move { me.claim_and_deliver().await }));
        for _ in 0..self.config.workers {
            let me = Arc::clone(self);
            let handed = handed.clone();
            tasks.push(tokio::spawn(async move { me.run_handed(handed).await }));
        }
        tasks
    }

    /// How many handed-off rows may wait for a worker; beyond that, commits
    /// leave their rows for the claimers.
    pub fn hand_off_capacity(&self) -> usize {
        self.config.workers * self.config.batch_size as usize * 4
    }

    /// Delivers rows handed over by commits in this process. A row whose lease
    /// would run out before its attempt could finish is left to be claimed
    /// once it has, so it is never sent by two workers at once.
    async fn run_handed(&self, handed: Arc<tokio::sync::Mutex<mpsc::Receiver<OutboxRow>>>) {
        let limit = self.config.batch_size as usize;
        loop {
            let mut rows = Vec::with_capacity(limit);
            if handed.lock().await.recv_many(&mut rows, limit).await == 0 {
                return;
            }
            rows.retain(|row| self.holds_lease(row));
            if rows.is_empty() {
                continue;
            }
            if let Err(err) = self.deliver_batch(rows).await {
                tracing::warn!(error = %err, "delivery bookkeeping failed");
            }
        }
    }

    /// The last moment an attempt may start under a lease that ends at
    /// `until`: one whole attempt, and the writing of its result, still fit.
    /// A row not sent by then is left alone: once its lease has run out it
    /// is claimed again, so no two workers ever send it at once.
    fn send_by(&self, until: Option<DateTime<Utc>>) -> Option<DateTime<Utc>> {
        let attempt = Duration::seconds(self.config.timeout_seconds as i64) + BOOKKEEPING;
        until.map(|until| until - attempt)
    }

    fn holds_lease(&self, row: &OutboxRow) -> bool {
        self.send_by(row.locked_until)
            .is_some_and(|by| by > Utc::now())
    }

    /// The claimer: one per process (on SQLite, with its one connection, the
    /// only one; processes sharing PostgreSQL claim side by side, `SKIP
    /// LOCKED`). It claims a batch whenever fewer than `workers` claimed
    /// batches are out, and delivers each in a task of its own. After a full
    /// batch it claims again at once; otherwise it waits to be woken by a
    /// commit in this process that left rows for a claim, or for
    /// `poll_interval_ms` (rows of other processes, retries coming due).
    async fn claim_and_deliver(self: Arc<Self>) {
        let lease = Duration::seconds(self.config.lease_seconds as i64);
        let poll = StdDuration::from_millis(self.config.poll_interval_ms);
        let out = Arc::new(tokio::sync::Semaphore::new(self.config.workers));
        loop {
            let Ok(permit) = out.clone().acquire_owned().await else {
                return;
            };
            match queue::claim(&self.db, lease, self.config.batch_size).await {
                Ok(rows) if !rows.is_empty() => {
                    let full = rows.len() as u64 == self.config.batch_size;
                    let me = Arc::clone(&self);
                    tokio::spawn(async move {
                        // On an error the leases expire and the rows are tried again.
                        if let Err(err) = me.deliver_batch(rows).await {
                            tracing::warn!(error = %err, "delivery bookkeeping failed");
                        }
                        drop(permit);
                    });
                    if !full {
                        self.ready.wait(poll).await;
                    }
                }
                Ok(_) => {
                    drop(permit);
                    self.ready.wait(poll).await;
                }
                Err(err) => {
                    drop(permit);
                    tracing::warn!(error = %err, "claiming outbox rows failed");
                    tokio::time::sleep(StdDuration::from_secs(1)).await;
                }
            }
        }
    }

    async fn destination(&self, row: &OutboxRow) -> crate::error::Result<Option<Destination>> {
        let open = |sealed: &str| self.sealer.open(sealed);
        Ok(match row.target_kind.as_str() {
            "handler" => {
                let Some(h) = directory::handler(&self.db, &row.target_id).await? else {
                    return Ok(None);
                };
                let mut secrets = vec![open(&h.webhook_secret)?];
                if let (Some(previous), Some(until)) =
                    (&h.previous_webhook_secret, h.previous_secret_until)
                    && until > Utc::now()
                {
                    secrets.push(open(previous)?);
                }
                let rate = h
                    .delivery_rate_per_second
                    .and_then(|r| u32::try_from(r).ok());
                h.webhook_url
                    .filter(|_| h.status != "withdrawn")
                    .map(|url| Destination { url, secrets, rate })
            }
            _ => {
                let Some(p) = directory::partner(&self.db, &row.target_id).await? else {
                    return Ok(None);
                };
                match (p.callback_url, p.webhook_secret) {
                    (Some(url), Some(secret)) => Some(Destination {
                        url,
                        secrets: vec![open(&secret)?],
                        rate: None,
                    }),
                    _ => None,
                }
            }
        })
    }

    /// Delivers one claimed batch: destinations and breaker states are read once
    /// per target, the requests go out concurrently, and the attempts and
    /// successes are written back in bulk: the gate, the sends, the breakers,
    /// then the rows as the answers say.
    async fn deliver_batch(&self, rows: Vec<OutboxRow>) -> crate::error::Result<()> {
        let (to_send, states) = self.gate(rows).await?;
        let sent = self.send_all(to_send).await;
        self.record(&sent).await?;
        self.follow_breakers(&sent, &states).await?;
        self.settle_sent(&sent).await
    }

    fn breaker_pause(&self) -> Duration {
        Duration::seconds(self.config.breaker_pause_seconds as i64)
    }

    /// Settles the rows that cannot go now (no endpoint, endpoint gone or
    /// paused) and answers the rest with their destinations, and each
    /// endpoint's breaker state as it stands before the sends.
    async fn gate(
        &self,
        rows: Vec<OutboxRow>,
    ) -> crate::error::Result<(
        Vec<(OutboxRow, Arc<Destination>)>,
        HashMap<String, Endpoint>,
    )> {
        let mut destinations: HashMap<String, Option<Arc<Destination>>> = HashMap::new();
        for row in &rows {
            if let Entry::Vacant(slot) = destinations.entry(endpoint_key(row)) {
                slot.insert(self.destination(row).await?.map(Arc::new));
            }
        }
        let loaded: HashMap<String, Endpoint> =
            deliveries::endpoints(&self.db, destinations.keys().cloned().collect())
                .await?
                .into_iter()
                .map(|e| {
                    let state = Endpoint {
                        state: e.state,
                        failures: e.consecutive_failures,
                        paused_until: e.paused_until,
                    };
                    (e.target, state)
                })
                .collect();
        let mut states = loaded.clone();
        let now = Utc::now();
        let pause = self.breaker_pause();
        let mut to_send = Vec::new();
        for row in rows {
            let key = endpoint_key(&row);
            let Some(dest) = destinations.get(&key).cloned().flatten() else {
                deliveries::settle_row(
                    &self.db,
                    &row,
                    "skipped",
                    false,
                    None,
                    Some("no endpoint".into()),
                )
                .await?;
                continue;
            };
            let endpoint = states.get(&key).cloned().unwrap_or_else(Endpoint::healthy);
            match breaker::gate(&endpoint, now) {
                Gate::Disabled => {
                    self.give_up(&row, false, "the endpoint answered 410 Gone earlier")
                        .await?;
                    continue;
                }
                Gate::WaitUntil(until) => {
                    deliveries::settle_row(
                        &self.db,
                        &row,
                        "pending",
                        false,
                        Some(until),
                        row.last_error.clone(),
                    )
                    .await?;
                    continue;
                }
                Gate::Send => {}
            }
            // A paused endpoint gets one probe; the rest of the batch waits for its answer.
            if let Some(probe) = breaker::probing(&endpoint, now, pause) {
                deliveries::save_endpoint(
                    &self.db,
                    &key,
                    &probe.state,
                    probe.failures,
                    probe.paused_until,
                )
                .await?;
                states.insert(key.clone(), probe);
            }
            to_send.push((row, dest));
        }
        Ok((to_send, states))
    }

    /// Sends the batch concurrently, each within the endpoint's rate cap and
    /// the batch's lease; a send that cannot start in time is left out.
    async fn send_all(&self, to_send: Vec<(OutboxRow, Arc<Destination>)>) -> Vec<Sent> {
        // Results are written once the whole batch has answered, so every
        // attempt of the batch starts in time for the earliest lease in it.
        let send_by = self.send_by(to_send.iter().filter_map(|(r, _)| r.locked_until).min());
        futures_util::future::join_all(to_send.into_iter().map(|(row, dest)| async move {
            let rate = dest.rate.unwrap_or(self.config.rate_per_second);
            let burst = if dest.rate.is_some() {
                rate
            } else {
                self.config.burst
            };
            // The wait for the rate cap must not outlast the lease.
            let time_left = (send_by? - Utc::now()).to_std().ok()?;
            let limiter = self.limiters.get(&endpoint_key(&row), rate, burst);
            tokio::time::timeout(time_left, limiter.until_ready())
                .await
                .ok()?;
            let at = Utc::now();
            let started = Instant::now();
            let outcome = self.send(&row, &dest).await;
            Some(Sent {
                elapsed: started.elapsed(),
                at,
                row,
                outcome,
            })
        }))
        .await
        .into_iter()
        .flatten()
        .collect()
    }

    /// Each endpoint's breaker follows its answers in order; only changes are written.
    async fn follow_breakers(
        &self,
        sent: &[Sent],
        states: &HashMap<String, Endpoint>,
    ) -> crate::error::Result<()> {
        let mut after: HashMap<String, Endpoint> = HashMap::new();
        for s in sent {
            let key = endpoint_key(&s.row);
            let current = after
                .get(&key)
                .or(states.get(&key))
                .cloned()
                .unwrap_or_else(Endpoint::healthy);
            let next = match &s.outcome {
                Outcome::Delivered(_) => Endpoint::healthy(),
                Outcome::Gone => breaker::disabled(),
                Outcome::Failed { .. } => breaker::after_failure(
                    &current,
                    self.config.breaker_failures,
                    self.breaker_pause(),
                    Utc::now(),
                ),
            };
            after.insert(key, next);
        }
        for (key, e) in after {
            let unchanged = match states.get(&key) {
                Some(before) => *before == e,
                None => e == Endpoint::healthy(),
            };
            if !unchanged {
                deliveries::save_endpoint(&self.db, &key, &e.state, e.failures, e.paused_until)
                    .await?;
            }
        }
        Ok(())
    }

    /// The rows as their answers say: delivered forwards move their cases,
    /// a 410 gives up, a failure is retried on the schedule or given up.
    async fn settle_sent(&self, sent: &[Sent]) -> crate::error::Result<()> {
        let mut forwarded = Vec::new();
        for s in sent {
            match &s.outcome {
                Outcome::Delivered(_) if s.row.event_type == queue::FORWARDED => {
                    forwarded.push(&s.row)
                }
                Outcome::Delivered(_) => {}
                Outcome::Gone => {
                    self.give_up(&s.row, true, "410 Gone: endpoint disabled")
                        .await?
                }
                Outcome::Failed {
                    error, retry_after, ..
                } => {
                    let attempts = (s.row.attempts + 1) as usize;
                    let delay = retry_after.or_else(|| {
                        schedule::next_delay(
                            &self.config.retry_schedule,
                            attempts,
                            schedule::jitter(),
                        )
                    });
                    match delay {
                        Some(delay) => {
                            let at =
                                Utc::now() + Duration::from_std(delay).unwrap_or(Duration::zero());
                            deliveries::settle_row(
                                &self.db,
                                &s.row,
                                "pending",
                                true,
                                Some(at),
                                Some(error.clone()),
                            )
                            .await?;
                        }
                        None => self.give_up(&s.row, true, error).await?,
                    }
                }
            }
        }
        self.mark_cases_delivered(&forwarded).await
    }

    /// Attempt rows, metrics, and the successes that move no case settled in
    /// one statement.
    async fn record(&self, sent: &[Sent]) -> crate::error::Result<()> {
        let mut attempts = Vec::with_capacity(sent.len());
        let mut delivered = Vec::new();
        for s in sent {
            let (status_code, error, label) = match &s.outcome {
                Outcome::Delivered(code) => (Some(*code), None, "delivered"),
                Outcome::Gone => (Some(410), Some("410 Gone".to_string()), "gone"),
                Outcome::Failed { status, error, .. } => (*status, Some(error.clone()), "failed"),
            };
            self.metrics.deliveries.with_label_values(&[label]).inc();
            self.metrics
                .attempt_seconds
                .with_label_values(&[s.row.target_kind.as_str()])
                .observe(s.elapsed.as_secs_f64());
            // A delivered forward is settled with its case's move (see
            // `settle_forwards`); other events have no effect on the case.
            if label == "delivered" && s.row.event_type != queue::FORWARDED {
                delivered.push(s.row.id);
            }
            attempts.push(deliveries::Attempt {
                row: &s.row,
                at: s.at,
                status_code,
                latency_ms: s.elapsed.as_millis() as i64,
                error,
            });
        }
        deliveries::record_attempts(&self.db, attempts).await?;
        deliveries::settle_delivered(&self.db, &delivered).await
    }

    /// Retries are used up (or the endpoint is gone): the row is dead, and a
    /// complaint whose forward never arrived goes to its station, in the same
    /// transaction.
    async fn give_up(
        &self,
        row: &OutboxRow,
        attempted: bool,
        error: &str,
    ) -> crate::error::Result<()> {
        let settle = Settle::Dead {
            row,
            attempted,
            error,
        };
        if row.event_type != queue::FORWARDED {
            return settle.write(&self.db).await;
        }
        let escalate = Action::Escalate(EscalationReason::DeliveryFailed);
        let payload = |_: &OutboxRow| json!({ "webhook_id": row.webhook_id, "error": error });
        self.settle_forward(&settle, row, escalate, payload).await
    }

    /// A 2xx for `complaint.forwarded` is the delivery of a routed case: the
    /// batch's rows are settled and their cases moved in one transaction; if
    /// that cannot be done for all of them, each row on its own.
    async fn mark_cases_delivered(&self, rows: &[&OutboxRow]) -> crate::error::Result<()> {
        if rows.is_empty() {
            return Ok(());
        }
        let ids = rows.iter().map(|r| r.id).collect();
        let payload = |row: &OutboxRow| json!({ "via": "webhook", "webhook_id": row.webhook_id });
        match self
            .settle_forwards(&Settle::Delivered(ids), rows, Action::Deliver, payload)
            .await
        {
            Err(err) if !err.is_transient() => {}
            done => return done,
        }
        for row in rows {
            let settle = Settle::Delivered(vec![row.id]);
            self.settle_forward(&settle, row, Action::Deliver, payload)
                .await?;
        }
        Ok(())
    }

    /// [`Self::settle_forwards`] for one row; when its case cannot take
    /// `action` (it moved on meanwhile), the row is settled alone.
    async fn settle_forward(
        &self,
        settle: &Settle<'_>,
        row: &OutboxRow,
        action: Action,
        payload: impl Fn(&OutboxRow) -> serde_json::Value,
    ) -> crate::error::Result<()> {
        match self.settle_forwards(settle, &[row], action, payload).await {
            Err(err) if !err.is_transient() => {
                tracing::info!(complaint = %row.complaint_id, action = ?action, error = %err, "outbox row settled without moving its case");
                settle.write(&self.db).await
            }
            done => done,
        }
    }

    /// Settles forward `rows` and applies `action` to those of their cases
    /// still routed, in one transaction: a lost connection leaves both undone
    /// (the rows go out again when their lease runs out), never a row settled
    /// with its case left behind. Cases moved meanwhile are read again.
    async fn settle_forwards(
        &self,
        settle: &Settle<'_>,
        rows: &[&OutboxRow],
        action: Action,
        payload: impl Fn(&OutboxRow) -> serde_json::Value,
    ) -> crate::error::Result<()> {
        let mut attempt = 0;
        loop {
            let ids = rows.iter().map(|r| r.complaint_id.clone()).collect();
            let cases: HashMap<String, Complaint> = complaints::find_many(&self.db, ids)
                .await?
                .into_iter()
                .filter(|c| c.status == Status::Routed.as_str())
                .map(|c| (c.id.clone(), c))
                .collect();
            let routed = rows
                .iter()
                .filter_map(|row| Some((cases.get(&row.complaint_id)?, payload(row))))
                .collect();
            match self.settle_moving(settle, routed, action).await {
                Err(crate::error::Error::Concurrent)
                    if attempt < complaints::CONCURRENT_RETRIES =>
                {
                    attempt += 1
                }
                done => return done,
            }
        }
    }

    /// One try of [`Self::settle_forwards`] with the cases as read.
    async fn settle_moving(
        &self,
        settle: &Settle<'_>,
        cases: Vec<(&Complaint, serde_json::Value)>,
        action: Action,
    ) -> crate::error::Result<()> {
        let wake = deliveries::settle_moving(&self.db, self.now(), settle, cases, action).await?;
        if wake {
            self.ready.wake();
        }
        Ok(())
    }

    /// The SSRF guard for a literal address; a name is checked by the
    /// client's resolver ([`target::GuardedResolver`]) when it connects.
    fn allowed(&self, url: &reqwest::Url) -> Result<(), String> {
        if self.config.allow_private_targets {
            return Ok(());
        }
        let literal = match url.host() {
            Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip),
            Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip),
            Some(url::Host::Domain(_)) => return Ok(()),
            None => return Err("the URL has no host".into()),
        };
        match target::refusal(&literal.to_string(), literal) {
            Some(refused) => Err(refused),
            None => Ok(()),
        }
    }

    async fn send(&self, row: &OutboxRow, dest: &Destination) -> Outcome {
        let failed = |status: Option<u16>, error: String| Outcome::Failed {
            status,
            error,
            retry_after: None,
        };
        let url = match reqwest::Url::parse(&dest.url) {
            Ok(url) if matches!(url.scheme(), "http" | "https") => url,
            _ => return failed(None, "the endpoint URL is not http(s)".into()),
        };
        if let Err(refused) = self.allowed(&url) {
            return failed(None, refused);
        }
        let body = row.payload.to_string();
        let timestamp = Utc::now().timestamp();
        let secrets: Vec<&str> = dest.secrets.iter().map(String::as_str).collect();
        let signature =
            match signature::header(&secrets, &row.webhook_id, timestamp, body.as_bytes()) {
                Ok(sig) => sig,
                Err(err) => return failed(None, err.to_string()),
            };
        let response = self
            .client
            .post(url)
            .header("content-type", "application/json")
            .header("webhook-id", &row.webhook_id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signature)
            .body(body)
            .send()
            .await;
        let mut response = match response {
            Ok(r) => r,
            Err(err) if err.is_timeout() => return failed(None, "timed out".into()),
            Err(err) => return failed(None, format!("request failed: {}", causes(&err))),
        };
        let status = response.status().as_u16();
        let retry_after = (status == 429 || status == 503)
            .then(|| {
                response
                    .headers()
                    .get("retry-after")?
                    .to_str()
                    .ok()
                    .map(str::to_string)
            })
            .flatten()
            .and_then(|v| schedule::retry_after(&v, Utc::now()));
        // Read a little of the answer, never all of it.
        let mut read = 0;
        while read < RESPONSE_BODY_LIMIT {
            match response.chunk().await {
                Ok(Some(chunk)) => read += chunk.len(),
                _ => break,
            }
        }
        match status {
            200..=299 => Outcome::Delivered(status),
            410 => Outcome::Gone,
            _ => Outcome::Failed {
                status: Some(status),
                error: format!("HTTP {status}"),
                retry_after,
            },
        }
    }
}
