//! Prometheus metrics. Counters and histograms are updated where things happen;
//! gauges about the outbox are read from the database when scraped, so every
//! process sharing a database reports the same queue.

use crate::store::deadlines as due_cases;
use crate::store::{Db, deliveries, followups};
use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry,
    TextEncoder,
};

pub struct Metrics {
    registry: Registry,
    pub deliveries: IntCounterVec,
    pub attempt_seconds: HistogramVec,
    pub http_requests: IntCounterVec,
    pub deadline_actions: IntCounterVec,
    outbox_pending: IntGauge,
    outbox_oldest_seconds: IntGauge,
    endpoints_paused: IntGauge,
    queue_open: IntGauge,
    queue_overdue: IntGauge,
    followups_pending: IntGaugeVec,
}

impl Metrics {
    pub fn new() -> Result<Metrics, prometheus::Error> {
        let registry = Registry::new();
        let deliveries = IntCounterVec::new(
            Opts::new(
                "odr_deliveries_total",
                "Webhook delivery attempts by outcome",
            ),
            &["outcome"],
        )?;
        let attempt_seconds = HistogramVec::new(
            HistogramOpts::new("odr_delivery_attempt_seconds", "Webhook attempt latency").buckets(
                vec![
                    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 15.0,
                ],
            ),
            &["target_kind"],
        )?;
        let http_requests = IntCounterVec::new(
            Opts::new(
                "odr_http_requests_total",
                "HTTP requests answered, by status class",
            ),
            &["class"],
        )?;
        let deadline_actions = IntCounterVec::new(
            Opts::new(
                "odr_deadline_actions_total",
                "Actions the deadline job took: warnings, overdue escalations and marks, final settlements",
            ),
            &["action"],
        )?;
        let outbox_pending =
            IntGauge::new("odr_outbox_pending", "Outbox events waiting for delivery")?;
        let outbox_oldest_seconds = IntGauge::new(
            "odr_outbox_oldest_pending_seconds",
            "Age of the oldest outbox event waiting for delivery",
        )?;
        let endpoints_paused = IntGauge::new(
            "odr_endpoints_paused",
            "Endpoints paused by the circuit breaker or disabled by 410",
        )?;
        let queue_open = IntGauge::new(
            "odr_queue_open_cases",
            "Cases at the stations not yet closed (escalated, claimed, accepted, reopened)",
        )?;
        let queue_overdue = IntGauge::new(
            "odr_queue_overdue_cases",
            "Open station cases with a missed station deadline (超期)",
        )?;
        let followups_pending = IntGaugeVec::new(
            Opts::new(
                "odr_followups_pending",
                "Follow-up visits (回访) drawn and not answered yet, by station",
            ),
            &["station"],
        )?;
        registry.register(Box::new(followups_pending.clone()))?;
        registry.register(Box::new(queue_open.clone()))?;
        registry.register(Box::new(queue_overdue.clone()))?;
        registry.register(Box::new(deliveries.clone()))?;
        registry.register(Box::new(attempt_seconds.clone()))?;
        registry.register(Box::new(http_requests.clone()))?;
        registry.register(Box::new(deadline_actions.clone()))?;
        registry.register(Box::new(outbox_pending.clone()))?;
        registry.register(Box::new(outbox_oldest_seconds.clone()))?;
        registry.register(Box::new(endpoints_paused.clone()))?;
        Ok(Metrics {
            registry,
            deliveries,
            attempt_seconds,
            http_requests,
            deadline_actions,
            outbox_pending,
            outbox_oldest_seconds,
            endpoints_paused,
            queue_open,
            queue_overdue,
            followups_pending,
        })
    }

    /// The text exposition, with the database gauges read now.
    pub async fn render(&self, db: &Db) -> crate::error::Result<String> {
        let gauges = deliveries::gauges(db).await?;
        self.outbox_pending.set(gauges.pending);
        self.outbox_oldest_seconds
            .set(gauges.oldest_pending_seconds);
        self.endpoints_paused.set(gauges.endpoints_paused);
        let queue = due_cases::queue_gauges(db).await?;
        self.queue_open.set(queue.open);
        self.queue_overdue.set(queue.overdue);
        // Stations whose last pending follow-up was answered drop out.
        self.followups_pending.reset();
        for (station, pending) in followups::pending_by_station(db).await? {
            self.followups_pending
                .with_label_values(&[station.as_str()])
                .set(pending);
        }
        let mut out = Vec::new();
        TextEncoder::new()
            .encode(&self.registry.gather(), &mut out)
            .map_err(crate::error::Error::internal)?;
        String::from_utf8(out).map_err(crate::error::Error::internal)
    }
}
