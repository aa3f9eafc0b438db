//! End-to-end forwarding: complaints taken in over HTTP and pushed to a local
//! sink that answers 200, on SQLite and (with DATABASE_URL) PostgreSQL.
//!
//! `cargo bench --bench forwarding` (FORWARD_N=3000, FORWARD_C=64, FORWARD_DB=sqlite|postgres).
//! * live: intake and delivery at once; deliveries/s and intake→delivery latency.
//! * drain: N forwards already waiting when the workers start; deliveries/s.

#[path = "../tests/common/mod.rs"]
mod common;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use common::receiver::Receiver;
use futures_util::StreamExt;
use futures_util::stream;
use odr_gateway::app;
use odr_gateway::config::{ClockMode, Config};
use odr_gateway::state::AppState;
use serde_json::{Value, json};

fn tune(c: &mut Config) {
    // Workers poll as when serving, not at the tests' quick interval.
    c.delivery.poll_interval_ms = Config::default().delivery.poll_interval_ms;
    c.delivery.rate_per_second = 100_000;
    c.delivery.burst = 100_000;
    c.delivery.workers = std::env::var("FORWARD_WORKERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(4);
}

async fn push_world(app: &common::TestApp, sink: &Receiver) -> (String, String) {
    let (code, p) = common::push_merchant(app, &sink.url).await;
    let token = app
        .client_token(
            p["client_id"].as_str().unwrap(),
            p["client_secret"].as_str().unwrap(),
        )
        .await;
    (code, token)
}

async fn intake_all(
    app: &common::TestApp,
    code: &str,
    partner: &str,
    n: usize,
    c: usize,
) -> HashMap<String, Instant> {
    stream::iter(0..n)
        .map(|_| {
            let mut body = common::intake(code);
            body["station_code"] = json!("QJ");
            let req = app
                .client
                .post(format!("{}/v1/complaints", app.base))
                .bearer_auth(partner)
                .json(&body);
            async move {
                let res = req.send().await.expect("intake");
                assert_eq!(res.status(), 201);
                let v: Value = res.json().await.unwrap();
                (v["id"].as_str().unwrap().to_string(), Instant::now())
            }
        })
        .buffer_unordered(c)
        .collect()
        .await
}

fn pct(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() as f64 - 1.0) * p) as usize]
}

async fn live(backend: common::Backend, label: &str, n: usize, c: usize) {
    let Some(app) = common::spawn(backend, tune).await else {
        println!("{label}: skipped (DATABASE_URL not set)");
        return;
    };
    let sink = Receiver::start();
    let (code, partner) = push_world(&app, &sink).await;
    let started = Instant::now();
    let answered = intake_all(&app, &code, &partner, n, c).await;
    let arrivals = sink.wait_for(n, Duration::from_secs(600)).await;
    let elapsed = arrivals.iter().map(|r| r.at).max().unwrap() - started;
    let mut latencies: Vec<f64> = arrivals
        .iter()
        .filter_map(|r| {
            let id = r.json()["data"]["complaint"]["id"].as_str()?.to_string();
            Some(r.at.saturating_duration_since(answered[&id]).as_secs_f64() * 1000.0)
        })
        .collect();
    latencies.sort_by(f64::total_cmp);
    println!(
        "{label} live: {n} complaints, {c} intakes in flight: {:.0} deliveries/s end to end, intake→delivery p50 {:.0} ms, p99 {:.0} ms",
        n as f64 / elapsed.as_secs_f64(),
        pct(&latencies, 0.5),
        pct(&latencies, 0.99)
    );
}

async fn drain(backend: common::Backend, label: &str, n: usize, c: usize) {
    let Some(app) = common::spawn_with(backend, tune, false).await else {
        return;
    };
    let sink = Receiver::start();
    let (code, partner) = push_world(&app, &sink).await;
    intake_all(&app, &code, &partner, n, c).await;
    let mut config = Config {
        database_url: app.database_url.clone(),
        clock: ClockMode::Manual,
        ..Config::default()
    };
    config.delivery.allow_private_targets = true;
    tune(&mut config);
    let workers = AppState::start(config).await.expect("second instance");
    let started = Instant::now();
    app::start_workers(&workers).expect("workers");
    let arrivals = sink.wait_for(n, Duration::from_secs(600)).await;
    let elapsed = arrivals.iter().map(|r| r.at).max().unwrap() - started;
    println!(
        "{label} drain: {n} waiting forwards delivered at {:.0}/s",
        n as f64 / elapsed.as_secs_f64()
    );
}

fn main() {
    let n = std::env::var("FORWARD_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3000);
    let c = std::env::var("FORWARD_C")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(64);
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    // FORWARD_DB=sqlite or postgres runs one of them.
    let only = std::env::var("FORWARD_DB").unwrap_or_default();
    rt.block_on(async {
        if only != "postgres" {
            live(common::Backend::Sqlite, "sqlite", n, c).await;
            drain(common::Backend::Sqlite, "sqlite", n, c).await;
        }
        if only != "sqlite" {
            live(common::Backend::Postgres, "postgres", n, c).await;
            drain(common::Backend::Postgres, "postgres", n, c).await;
        }
    });
}
