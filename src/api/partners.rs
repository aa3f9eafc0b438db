//! Partner platforms (admin): enrolment with a quota, quota changes that apply
//! without a restart, and removal that stops the partner's tokens at once.

use actix_web::http::Method;
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::{Value, json};

use super::admin::NAME_MAX;
use super::extract::{Auth, JsonBody, NoFields, Query, page, state};
use super::guard::Callers;
use super::input::{Input, Optional, Required};
use super::{Route, route};
use crate::auth::standing::partner_key;
use crate::error::{Error, Result};
use crate::store::Partner;
use crate::store::directory;
use crate::store::events::Actor;
use crate::store::partners::{self, EnrolledPartner, NewPartner, PartnerChanges};
use crate::views;

pub fn routes() -> Vec<Route> {
    vec![
        route(Method::POST, "/v1/partners", Callers::ADMIN, create),
        route(Method::GET, "/v1/partners", Callers::ADMIN, list),
        route(Method::GET, "/v1/partners/{id}", Callers::ADMIN, get),
        route(Method::PATCH, "/v1/partners/{id}", Callers::ADMIN, update),
        route(Method::DELETE, "/v1/partners/{id}", Callers::ADMIN, remove),
    ]
}

const RATE_MAX: i64 = 10_000;
const BURST_MAX: i64 = 100_000;

async fn create(req: HttpRequest, Auth(p): Auth, body: JsonBody) -> Result<HttpResponse> {
    p.require_admin()?;
    let new = read_partner(&body.value)?;
    let state = state(&req)?;
    let enrolled = partners::enrol(
        &state.db,
        &state.sealer,
        Actor::from(&p),
        new,
        state.clock.now(),
    )
    .await?;
    Ok(HttpResponse::Created()
        .insert_header(("Cache-Control", "no-store"))
        .json(enrolled_partner(&enrolled)))
}

/// Reads a partner's body; the command line reads its flags through here too.
pub fn read_partner(body: &Value) -> Result<NewPartner> {
    let mut input = Input::new(body)?;
    let name = input.text("name", Required, NAME_MAX);
    let rate = input.integer("rate_per_second", Required, 1, RATE_MAX);
    let burst = input.integer("burst", Required, 1, BURST_MAX);
    let callback_url = input.url("callback_url", Optional);
    input.finish()?;
    Ok(NewPartner {
        name: Input::got(name, "name")?,
        rate_per_second: quota(Input::got(rate, "rate_per_second")?)?,
        burst: quota(Input::got(burst, "burst")?)?,
        callback_url,
    })
}

/// A quota figure, already checked against its maximum.
fn quota(n: i64) -> Result<i32> {
    i32::try_from(n).map_err(Error::internal)
}

/// A new partner as answered: with its secrets, shown only this once.
pub fn enrolled_partner(enrolled: &EnrolledPartner) -> Value {
    let mut answer = views::partner(&enrolled.partner);
    answer["client_id"] = json!(enrolled.credentials.client_id);
    answer["client_secret"] = json!(enrolled.credentials.client_secret);
    if let Some(secret) = &enrolled.webhook_secret {
        answer["webhook_secret"] = json!(secret);
    }
    answer
}

async fn list(req: HttpRequest, Auth(p): Auth) -> Result<HttpResponse> {
    p.require_admin()?;
    let state = state(&req)?;
    let q = Query::parse(&req, &[])?;
    let rows = directory::partners(&state.db, q.after.as_deref(), q.limit + 1).await?;
    Ok(HttpResponse::Ok().json(page(rows, q.limit, |p| p.id.clone(), views::partner)))
}

/// A partner that has not been removed, or 404.
async fn existing(req: &HttpRequest, id: &str) -> Result<Partner> {
    partners::find_active(&state(req)?.db, id)
        .await?
        .ok_or(Error::NotFound)
}

async fn get(req: HttpRequest, Auth(p): Auth, id: web::Path<String>) -> Result<HttpResponse> {
    p.require_admin()?;
    Ok(HttpResponse::Ok().json(views::partner(&existing(&req, &id).await?)))
}

async fn update(
    req: HttpRequest,
    Auth(p): Auth,
    id: web::Path<String>,
    body: JsonBody,
) -> Result<HttpResponse> {
    p.require_admin()?;
    let state = state(&req)?;
    let mut input = Input::new(&body.value)?;
    let name = input.text("name", Optional, NAME_MAX);
    let rate = input.integer("rate_per_second", Optional, 1, RATE_MAX);
    let burst = input.integer("burst", Optional, 1, BURST_MAX);
    input.finish()?;
    let changes = PartnerChanges {
        name,
        rate_per_second: rate.map(quota).transpose()?,
        burst: burst.map(quota).transpose()?,
    };
    let current = existing(&req, &id).await?;
    let updated = partners::update(&state.db, Actor::from(&p), current, changes).await?;
    state.standings.forget(&partner_key(&updated.id));
    Ok(HttpResponse::Ok().json(views::partner(&updated)))
}

/// Removes a partner: its tokens stop working and it can get no new ones.
/// Its complaints stay (the case files are never deleted).
async fn remove(
    req: HttpRequest,
    Auth(p): Auth,
    id: web::Path<String>,
    _: NoFields,
) -> Result<HttpResponse> {
    p.require_admin()?;
    let state = state(&req)?;
    let current = existing(&req, &id).await?;
    let removed = partners::remove(&state.db, Actor::from(&p), current).await?;
    state.standings.forget(&partner_key(&removed.id));
    Ok(HttpResponse::NoContent().finish())
}
