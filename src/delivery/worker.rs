//! Delivery workers: claim due outbox rows, sign and POST them, record the
//! attempt, and settle the row (delivered, retried later, or given up).

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::{Duration as StdDuration, Instant};

use chrono::{Duration, Utc};
use entity::outbox;
use governor::clock::DefaultClock;
use governor::state::keyed::HashMapStateStore;
use governor::{Quota, RateLimiter};
use sea_orm::{ActiveValue::Set, DatabaseConnection};
use serde_json::json;
use tokio::task::JoinHandle;

use super::breaker::{self, Endpoint, Gate};
use super::{schedule, signature, target};
use crate::clock::BusinessClock;
use crate::config::DeliveryConfig;
use crate::domain::lifecycle::{Action, EscalationReason, Status};
use crate::metrics::Metrics;
use crate::store::events::Actor;
use crate::store::{complaints, deliveries, directory, outbox as queue};

/// Where a row goes and with which secrets.
struct Destination {
    url: String,
    secrets: Vec<String>,
}

type Limiter = RateLimiter<String, HashMapStateStore<String>, DefaultClock>;

pub struct Deliverer {
    db: DatabaseConnection,
    clock: BusinessClock,
    config: DeliveryConfig,
    client: reqwest::Client,
    limiter: Limiter,
    metrics: Arc<Metrics>,
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

const RESPONSE_BODY_LIMIT: usize = 4096;

impl Deliverer {
    pub fn new(
        db: DatabaseConnection,
        clock: BusinessClock,
        config: DeliveryConfig,
        metrics: Arc<Metrics>,
    ) -> Result<Arc<Self>, reqwest::Error> {
        super::install_crypto_provider();
        let client = reqwest::Client::builder()
            .connect_timeout(StdDuration::from_secs(config.connect_timeout_seconds))
            .timeout(StdDuration::from_secs(config.timeout_seconds))
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("odr-gateway/", env!("CARGO_PKG_VERSION")))
            .build()?;
        let rate = NonZeroU32::new(config.rate_per_second).unwrap_or(NonZeroU32::MIN);
        let burst = NonZeroU32::new(config.burst).unwrap_or(NonZeroU32::MIN);
        let limiter = RateLimiter::keyed(Quota::per_second(rate).allow_burst(burst));
        Ok(Arc::new(Deliverer {
            db,
            clock,
            config,
            client,
            limiter,
            metrics,
        }))
    }

    /// Starts the configured number of workers.
    pub fn spawn(self: &Arc<Self>) -> Vec<JoinHandle<()>> {
        (0..self.config.workers)
            .map(|_| {
                let me = Arc::clone(self);
                tokio::spawn(async move { me.run().await })
            })
            .collect()
    }

    async fn run(&self) {
        let lease = Duration::seconds(self.config.lease_seconds as i64);
        let idle = StdDuration::from_millis(self.config.poll_interval_ms);
        loop {
            match queue::claim(&self.db, lease, self.config.batch_size).await {
                Ok(rows) if !rows.is_empty() => {
                    let full = rows.len() as u64 == self.config.batch_size;
                    futures_util::future::join_all(rows.into_iter().map(|row| self.deliver(row)))
                        .await;
                    if !full {
                        tokio::time::sleep(idle).await;
                    }
                }
                Ok(_) => tokio::time::sleep(idle).await,
                Err(err) => {
                    tracing::warn!(error = %err, "claiming outbox rows failed");
                    tokio::time::sleep(StdDuration::from_secs(1)).await;
                }
            }
        }
    }

    /// Delivers one claimed row. Errors are logged: the lease then expires and
    /// the row is tried again, so nothing is lost.
    async fn deliver(&self, row: outbox::Model) {
        if let Err(err) = self.try_deliver(&row).await {
            tracing::warn!(webhook_id = %row.webhook_id, error = %err, "delivery bookkeeping failed");
        }
    }

    async fn destination(&self, row: &outbox::Model) -> crate::error::Result<Option<Destination>> {
        Ok(match row.target_kind.as_str() {
            "handler" => directory::handler(&self.db, &row.target_id)
                .await?
                .and_then(|h| {
                    let mut secrets = vec![h.webhook_secret.clone()];
                    if let (Some(previous), Some(until)) =
                        (h.previous_webhook_secret, h.previous_secret_until)
                        && until > Utc::now()
                    {
                        secrets.push(previous);
                    }
                    h.webhook_url
                        .filter(|_| h.status != "withdrawn")
                        .map(|url| Destination { url, secrets })
                }),
            _ => directory::partner(&self.db, &row.target_id)
                .await?
                .and_then(|p| {
                    Some(Destination {
                        url: p.callback_url?,
                        secrets: vec![p.webhook_secret?],
                    })
                }),
        })
    }

    async fn try_deliver(&self, row: &outbox::Model) -> crate::error::Result<()> {
        let Some(dest) = self.destination(row).await? else {
            return deliveries::settle_row(
                &self.db,
                row,
                "skipped",
                false,
                None,
                Some("no endpoint".into()),
            )
            .await;
        };
        let endpoint_key = format!("{}:{}", row.target_kind, row.target_id);
        let endpoint = deliveries::endpoint(&self.db, &endpoint_key)
            .await?
            .map(|e| Endpoint {
                state: e.state,
                failures: e.consecutive_failures,
                paused_until: e.paused_until,
            })
            .unwrap_or_else(Endpoint::healthy);
        let now = Utc::now();
        let pause = Duration::seconds(self.config.breaker_pause_seconds as i64);
        match breaker::gate(&endpoint, now) {
            Gate::Disabled => {
                return self
                    .give_up(row, None, "the endpoint answered 410 Gone earlier")
                    .await;
            }
            Gate::WaitUntil(until) => {
                return deliveries::settle_row(
                    &self.db,
                    row,
                    "pending",
                    false,
                    Some(until),
                    row.last_error.clone(),
                )
                .await;
            }
            Gate::Send => {}
        }
        if let Some(probe) = breaker::probing(&endpoint, now, pause) {
            deliveries::save_endpoint(
                &self.db,
                &endpoint_key,
                &probe.state,
                probe.failures,
                probe.paused_until,
            )
            .await?;
        }
        self.limiter.until_key_ready(&endpoint_key).await;
        let started = Instant::now();
        let outcome = self.send(row, &dest).await;
        let elapsed = started.elapsed();
        let latency_ms = elapsed.as_millis() as i64;
        self.metrics
            .attempt_seconds
            .with_label_values(&[row.target_kind.as_str()])
            .observe(elapsed.as_secs_f64());
        let label = match &outcome {
            Outcome::Delivered(_) => "delivered",
            Outcome::Gone => "gone",
            Outcome::Failed { .. } => "failed",
        };
        self.metrics.deliveries.with_label_values(&[label]).inc();
        let (status_code, error) = match &outcome {
            Outcome::Delivered(code) => (Some(*code), None),
            Outcome::Gone => (Some(410), Some("410 Gone".to_string())),
            Outcome::Failed { status, error, .. } => (*status, Some(error.clone())),
        };
        deliveries::record_attempt(
            &self.db,
            deliveries::Attempt {
                row,
                at: now,
                status_code,
                latency_ms,
                error: error.clone(),
            },
        )
        .await?;
        match outcome {
            Outcome::Delivered(_) => {
                deliveries::save_endpoint(&self.db, &endpoint_key, "closed", 0, None).await?;
                deliveries::settle_row(&self.db, row, "delivered", true, None, None).await?;
                if row.event_type == queue::FORWARDED {
                    self.mark_case_delivered(row).await?;
                }
                Ok(())
            }
            Outcome::Gone => {
                let off = breaker::disabled();
                deliveries::save_endpoint(&self.db, &endpoint_key, &off.state, off.failures, None)
                    .await?;
                self.give_up(row, Some(true), "410 Gone: endpoint disabled")
                    .await
            }
            Outcome::Failed {
                error, retry_after, ..
            } => {
                let next = breaker::after_failure(
                    &endpoint,
                    self.config.breaker_failures,
                    pause,
                    Utc::now(),
                );
                deliveries::save_endpoint(
                    &self.db,
                    &endpoint_key,
                    &next.state,
                    next.failures,
                    next.paused_until,
                )
                .await?;
                let attempts = (row.attempts + 1) as usize;
                let delay = retry_after.or_else(|| {
                    schedule::next_delay(&self.config.retry_schedule, attempts, schedule::jitter())
                });
                match delay {
                    Some(delay) => {
                        let at = Utc::now() + Duration::from_std(delay).unwrap_or(Duration::zero());
                        deliveries::settle_row(
                            &self.db,
                            row,
                            "pending",
                            true,
                            Some(at),
                            Some(error),
                        )
                        .await
                    }
                    None => self.give_up(row, Some(true), &error).await,
                }
            }
        }
    }

    /// Retries are used up (or the endpoint is gone): the row is dead, and a
    /// complaint whose forward never arrived goes to its station.
    async fn give_up(
        &self,
        row: &outbox::Model,
        attempted: Option<bool>,
        error: &str,
    ) -> crate::error::Result<()> {
        deliveries::settle_row(
            &self.db,
            row,
            "dead",
            attempted.unwrap_or(false),
            None,
            Some(error.to_string()),
        )
        .await?;
        if row.event_type != queue::FORWARDED {
            return Ok(());
        }
        let Some(case) = complaints::find(&self.db, &row.complaint_id).await? else {
            return Ok(());
        };
        if case.status != Status::Routed.as_str() {
            return Ok(());
        }
        let result = complaints::transition(
            &self.db,
            self.clock.now(),
            &Actor::system(),
            &case,
            Action::Escalate(EscalationReason::DeliveryFailed),
            json!({ "webhook_id": row.webhook_id, "error": error }),
            |_| {},
        )
        .await;
        if let Err(err) = result {
            tracing::info!(complaint = %case.id, error = %err, "delivery_failed escalation not applied");
        }
        Ok(())
    }

    /// A 2xx for `complaint.forwarded` is the delivery of a routed case.
    async fn mark_case_delivered(&self, row: &outbox::Model) -> crate::error::Result<()> {
        let Some(case) = complaints::find(&self.db, &row.complaint_id).await? else {
            return Ok(());
        };
        if case.status != Status::Routed.as_str() {
            return Ok(());
        }
        let now = self.clock.now();
        let result = complaints::transition(
            &self.db,
            now,
            &Actor::system(),
            &case,
            Action::Deliver,
            json!({ "via": "webhook", "webhook_id": row.webhook_id }),
            |m| m.received_at = Set(Some(now)),
        )
        .await;
        if let Err(err) = result {
            tracing::info!(complaint = %case.id, error = %err, "webhook delivery not recorded on the case");
        }
        Ok(())
    }

    async fn allowed(&self, url: &reqwest::Url) -> Result<(), String> {
        if self.config.allow_private_targets {
            return Ok(());
        }
        let host = url.host_str().ok_or("the URL has no host")?;
        let port = url.port_or_known_default().unwrap_or(443);
        let addresses: Vec<IpAddr> = match host
            .trim_matches(|c| c == '[' || c == ']')
            .parse::<IpAddr>()
        {
            Ok(ip) => vec![ip],
            Err(_) => tokio::net::lookup_host((host, port))
                .await
                .map_err(|e| format!("cannot resolve {host}: {e}"))?
                .map(|a| a.ip())
                .collect(),
        };
        match addresses.iter().find(|ip| target::is_forbidden(**ip)) {
            Some(ip) => Err(format!(
                "refused: {host} resolves to the internal address {ip}"
            )),
            None if addresses.is_empty() => Err(format!("{host} resolves to no address")),
            None => Ok(()),
        }
    }

    async fn send(&self, row: &outbox::Model, dest: &Destination) -> Outcome {
        let failed = |status: Option<u16>, error: String| Outcome::Failed {
            status,
            error,
            retry_after: None,
        };
        let url = match reqwest::Url::parse(&dest.url) {
            Ok(url) if matches!(url.scheme(), "http" | "https") => url,
            _ => return failed(None, "the endpoint URL is not http(s)".into()),
        };
        if let Err(refused) = self.allowed(&url).await {
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
            Err(err) => return failed(None, format!("request failed: {err}")),
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
