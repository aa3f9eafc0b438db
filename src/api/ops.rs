//! Operations: liveness, readiness and the API description.

use actix_web::http::Method;
use actix_web::{HttpRequest, HttpResponse};
use serde_json::json;

use super::extract::state;
use super::guard::Callers;
use super::{Route, route};
use crate::error::Result;
use crate::store;

pub const OPENAPI: &str = include_str!("../../openapi.yaml");

pub fn routes() -> Vec<Route> {
    vec![
        route(Method::GET, "/healthz", Callers::PUBLIC, healthz),
        route(Method::GET, "/readyz", Callers::PUBLIC, readyz),
        route(Method::GET, "/openapi.yaml", Callers::PUBLIC, openapi),
        route(Method::GET, "/metrics", Callers::PUBLIC, metrics),
    ]
}

async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({ "status": "ok" }))
}

async fn readyz(req: HttpRequest) -> Result<HttpResponse> {
    let state = state(&req)?;
    Ok(if store::ping(&state.db).await {
        HttpResponse::Ok().json(json!({ "status": "ready", "database": "ok" }))
    } else {
        HttpResponse::ServiceUnavailable()
            .json(json!({ "status": "unavailable", "database": "unreachable" }))
    })
}

async fn metrics(req: HttpRequest) -> Result<HttpResponse> {
    let state = state(&req)?;
    let text = state.metrics.render(&state.db).await?;
    Ok(HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(text))
}

async fn openapi() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/yaml")
        .body(OPENAPI)
}
