//! The operator's view of forwarding: events and attempts, redelivery, replay,
//! and each endpoint's breaker state.

use actix_web::http::Method;
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::json;

use super::extract::{Auth, JsonBody, NoFields, Query, page, state};
use super::guard::Callers;
use super::input::{Input, Required};
use super::{Route, route};
use crate::error::{Error, Result};
use crate::store::events::Actor;
use crate::store::{deliveries, directory, handlers};
use crate::views;

pub fn routes() -> Vec<Route> {
    vec![
        route(Method::GET, "/v1/deliveries", Callers::ADMIN, list_events),
        route(
            Method::GET,
            "/v1/deliveries/attempts",
            Callers::ADMIN,
            list_attempts,
        ),
        route(
            Method::POST,
            "/v1/deliveries/{webhook_id}/redeliver",
            Callers::ADMIN,
            redeliver,
        ),
        route(
            Method::POST,
            "/v1/handlers/{id}/replay",
            Callers::ADMIN,
            replay,
        ),
        route(
            Method::GET,
            "/v1/handlers/{id}/endpoint",
            Callers::ADMIN,
            endpoint,
        ),
        route(
            Method::POST,
            "/v1/handlers/{id}/endpoint/resume",
            Callers::ADMIN,
            resume,
        ),
    ]
}

async fn list_events(req: HttpRequest, Auth(p): Auth) -> Result<HttpResponse> {
    p.require_admin()?;
    let state = state(&req)?;
    let q = Query::parse(&req, &["complaint_id", "handler_id", "status"])?;
    let status = q.params.get("status").map(String::as_str);
    if status.is_some_and(|s| !["pending", "delivered", "dead", "skipped"].contains(&s)) {
        return Err(Error::field(
            "status",
            "must be one of: pending, delivered, dead, skipped",
        ));
    }
    let rows = deliveries::events(
        &state.db,
        q.params.get("complaint_id").map(String::as_str),
        q.params.get("handler_id").map(String::as_str),
        status,
        q.after_number::<i64>()?,
        q.limit + 1,
    )
    .await?;
    Ok(HttpResponse::Ok().json(page(
        rows,
        q.limit,
        |o| o.id.to_string(),
        views::delivery_event,
    )))
}

async fn list_attempts(req: HttpRequest, Auth(p): Auth) -> Result<HttpResponse> {
    p.require_admin()?;
    let state = state(&req)?;
    let q = Query::parse(&req, &["complaint_id", "handler_id"])?;
    let rows = deliveries::attempts(
        &state.db,
        q.params.get("complaint_id").map(String::as_str),
        q.params.get("handler_id").map(String::as_str),
        q.after_number::<i64>()?,
        q.limit + 1,
    )
    .await?;
    Ok(HttpResponse::Ok().json(page(
        rows,
        q.limit,
        |a| a.id.to_string(),
        views::delivery_attempt,
    )))
}

async fn redeliver(
    req: HttpRequest,
    Auth(p): Auth,
    webhook_id: web::Path<String>,
    _: NoFields,
) -> Result<HttpResponse> {
    p.require_admin()?;
    let state = state(&req)?;
    let row = deliveries::redeliver(&state.db, &webhook_id)
        .await?
        .ok_or(Error::NotFound)?;
    Ok(HttpResponse::Accepted().json(views::delivery_event(&row)))
}

async fn replay(
    req: HttpRequest,
    Auth(p): Auth,
    id: web::Path<String>,
    body: JsonBody,
) -> Result<HttpResponse> {
    p.require_admin()?;
    let state = state(&req)?;
    let mut input = Input::new(&body.value)?;
    let from = input.time("from", Required);
    let to = input.time("to", Required);
    if let (Some(f), Some(t)) = (from, to)
        && f >= t
    {
        input.error("to", "must be later than from");
    }
    input.finish()?;
    directory::handler(&state.db, &id)
        .await?
        .ok_or(Error::NotFound)?;
    let count = deliveries::replay(
        &state.db,
        &id,
        Input::got(from, "from")?,
        Input::got(to, "to")?,
    )
    .await?;
    Ok(HttpResponse::Accepted().json(json!({ "requeued": count })))
}

async fn endpoint(req: HttpRequest, Auth(p): Auth, id: web::Path<String>) -> Result<HttpResponse> {
    p.require_admin()?;
    let state = state(&req)?;
    let handler = directory::handler(&state.db, &id)
        .await?
        .ok_or(Error::NotFound)?;
    let e = deliveries::endpoint(&state.db, &handlers::endpoint_of(&handler)).await?;
    Ok(HttpResponse::Ok().json(json!({
        "handler_id": handler.id,
        "webhook_url": handler.webhook_url,
        "state": e.as_ref().map_or("closed", |e| e.state.as_str()),
        "consecutive_failures": e.as_ref().map_or(0, |e| e.consecutive_failures),
        "paused_until": e.as_ref().and_then(|e| e.paused_until.as_ref()).map(views::time),
    })))
}

async fn resume(
    req: HttpRequest,
    Auth(p): Auth,
    id: web::Path<String>,
    _: NoFields,
) -> Result<HttpResponse> {
    p.require_admin()?;
    let state = state(&req)?;
    let handler = directory::handler(&state.db, &id)
        .await?
        .ok_or(Error::NotFound)?;
    handlers::resume_endpoint(&state.db, Actor::from(&p), &handler).await?;
    endpoint(req, Auth(p), id).await
}
