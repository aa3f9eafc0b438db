//! Extension requests (SPEC §5): a handler asks through its inbox; staff of
//! the case's station list, approve or reject them here.

use actix_web::http::Method;
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::json;

use super::extract::{Auth, JsonBody, Query, page, state};
use super::guard::Callers;
use super::input::{Input, Optional};
use super::{Route, route};
use crate::auth::Principal;
use crate::domain::vocabulary::ExtensionStatus;
use crate::error::Result;
use crate::store::events::Actor;
use crate::store::{negotiation, scope};
use crate::views;

pub fn routes() -> Vec<Route> {
    vec![
        route(Method::GET, "/v1/extensions", Callers::ADMIN_OR_STAFF, list),
        route(
            Method::POST,
            "/v1/extensions/{id}/approve",
            Callers::STAFF,
            approve,
        ),
        route(
            Method::POST,
            "/v1/extensions/{id}/reject",
            Callers::STAFF,
            reject,
        ),
    ]
}

async fn list(req: HttpRequest, Auth(p): Auth) -> Result<HttpResponse> {
    if !matches!(p, Principal::Admin { .. }) {
        p.staff()?;
    }
    let state = state(&req)?;
    let q = Query::parse(&req, &["status"])?;
    let status = q.filter::<ExtensionStatus>("status")?;
    let rows =
        scope::extensions_page(&state.db, &p, status, q.after.as_deref(), q.limit + 1).await?;
    Ok(HttpResponse::Ok().json(page(rows, q.limit, |e| e.id.clone(), views::extension)))
}

async fn approve(
    req: HttpRequest,
    Auth(p): Auth,
    id: web::Path<String>,
    body: JsonBody,
) -> Result<HttpResponse> {
    decide(&req, &p, &id, &body, true).await
}

async fn reject(
    req: HttpRequest,
    Auth(p): Auth,
    id: web::Path<String>,
    body: JsonBody,
) -> Result<HttpResponse> {
    decide(&req, &p, &id, &body, false).await
}

async fn decide(
    req: &HttpRequest,
    p: &Principal,
    id: &str,
    body: &JsonBody,
    approve: bool,
) -> Result<HttpResponse> {
    p.staff()?;
    let state = state(req)?;
    let mut input = Input::new(&body.value)?;
    let note = input.text("note", Optional, 2000);
    input.finish()?;
    let (extension, case) = scope::find_extension(&state.db, p, id).await?;
    let (updated, extension) = negotiation::decide_extension(
        &state.db,
        state.now(),
        &Actor::from(p),
        &case,
        extension,
        approve,
        note,
    )
    .await?;
    Ok(HttpResponse::Ok().json(json!({
        "extension": views::extension(&extension),
        "complaint": views::complaint(&updated, p),
    })))
}
