//! Intake throughput: N complaints posted over HTTP with C in flight, against the
//! real server on SQLite and (with DATABASE_URL) PostgreSQL.
//!
//! `cargo bench --bench intake` (N=2000, C=32; override with INTAKE_N / INTAKE_C).

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::Instant;

use futures_util::StreamExt;
use futures_util::stream;

async fn run(backend: common::Backend, label: &str, n: usize, concurrency: usize) {
    // The serving defaults, not the test harness's fast polling.
    let defaults = |c: &mut odr_gateway::config::Config| {
        let d = odr_gateway::config::Config::default().delivery;
        c.delivery.poll_interval_ms = d.poll_interval_ms;
        c.delivery.workers = d.workers;
    };
    let Some(app) = common::spawn(backend, defaults).await else {
        println!("{label}: skipped (DATABASE_URL not set)");
        return;
    };
    let w = common::world(&app).await;
    let started = Instant::now();
    let mut latencies: Vec<f64> = stream::iter(0..n)
        .map(|_| {
            let req = app
                .client
                .post(format!("{}/v1/complaints", app.base))
                .bearer_auth(&w.partner)
                .json(&common::intake(&w.merchant_code));
            async move {
                let t = Instant::now();
                let res = req.send().await.expect("intake sent");
                assert_eq!(res.status(), 201);
                t.elapsed().as_secs_f64() * 1000.0
            }
        })
        .buffer_unordered(concurrency)
        .collect()
        .await;
    let elapsed = started.elapsed().as_secs_f64();
    latencies.sort_by(f64::total_cmp);
    let pct = |p: f64| latencies[((latencies.len() as f64 - 1.0) * p) as usize];
    println!(
        "{label}: {n} intakes, {concurrency} in flight: {:.0}/s, p50 {:.1} ms, p99 {:.1} ms",
        n as f64 / elapsed,
        pct(0.5),
        pct(0.99)
    );
}

fn main() {
    let n = std::env::var("INTAKE_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2000);
    let c = std::env::var("INTAKE_C")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(32);
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        run(common::Backend::Sqlite, "sqlite", n, c).await;
        run(common::Backend::Postgres, "postgres", n, c).await;
    });
}
