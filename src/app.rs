//! Wiring: the application state into a running server and its background
//! workers.

use std::net::TcpListener;

use actix_web::HttpMessage;
use actix_web::dev::Server;
use actix_web::dev::Service;
use actix_web::{App, HttpServer, web};
use tracing_actix_web::{RequestId, TracingLogger};

use crate::error::{Error, Result};
use crate::jobs::deadlines::DeadlineJob;
use crate::state::AppState;
use crate::store::intake_writer::HandOff;

/// Starts the background workers that run beside the HTTP server.
pub fn start_workers(state: &AppState) -> Result<()> {
    let deliverer = crate::delivery::Deliverer::new(
        state.db.clone(),
        state.clock.clone(),
        state.policy.clone(),
        state.sealer.clone(),
        state.config.delivery.clone(),
        state.metrics.clone(),
        state.outbox_ready.clone(),
    )
    .map_err(Error::internal)?;
    let (rows, handed) = tokio::sync::mpsc::channel(deliverer.hand_off_capacity());
    state.intake.hand_off_to(HandOff {
        rows,
        lease: chrono::Duration::seconds(state.config.delivery.lease_seconds as i64),
    });
    deliverer.spawn(handed);
    let every = std::time::Duration::from_secs(state.config.deadlines.scan_interval_seconds);
    DeadlineJob::new(state.timekeeper.clone(), every).spawn();
    Ok(())
}

/// Builds the HTTP server on an already bound listener (tests bind port 0).
pub fn server(state: AppState, listener: TcpListener) -> std::io::Result<Server> {
    let state = web::Data::new(state);
    let server = HttpServer::new(move || {
        let metrics = state.metrics.clone();
        App::new()
            // Innermost: the metrics below count what the guard refuses too.
            .wrap(actix_web::middleware::from_fn(crate::api::guard::guard))
            .wrap_fn(move |req, srv| {
                let metrics = metrics.clone();
                let request_id = req.extensions().get::<RequestId>().map(|id| id.to_string());
                let started = std::time::Instant::now();
                let answer = srv.call(req);
                async move {
                    let mut res = answer.await?;
                    let status = res.status().as_u16();
                    let class = format!("{}xx", status / 100);
                    metrics
                        .http_requests
                        .with_label_values(&[class.as_str()])
                        .inc();
                    // The access log line: inside the request's span, so it
                    // carries the method, route and request id; never a body.
                    tracing::info!(
                        status,
                        elapsed_ms = started.elapsed().as_millis() as u64,
                        "answered"
                    );
                    if let Some(id) = request_id
                        && let Ok(value) = actix_web::http::header::HeaderValue::from_str(&id)
                    {
                        res.headers_mut().insert(
                            actix_web::http::header::HeaderName::from_static("x-request-id"),
                            value,
                        );
                    }
                    Ok(res)
                }
            })
            .wrap(TracingLogger::default())
            .app_data(state.clone())
            .configure(crate::api::configure)
            .configure(crate::console::configure)
    })
    .listen(listener)?
    .run();
    Ok(server)
}
