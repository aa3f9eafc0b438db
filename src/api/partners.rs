//! Partner platforms (admin): enrolment with a quota, quota changes that apply
//! without a restart, and removal that stops the partner's tokens at once.

use actix_web::http::Method;
use actix_web::{HttpRequest, HttpResponse, web};
use sea_orm::{ActiveValue::Set, IntoActiveModel, TransactionTrait};
use serde_json::{Value, json};

use super::admin::NAME_MAX;
use super::extract::{Auth, JsonBody, NoFields, Query, page, state};
use super::guard::Callers;
use super::input::{Input, Optional, Required};
use super::{Route, route};
use crate::app::AppState;
use crate::auth::standing::partner_key;
use crate::error::{Error, Result};
use crate::store::audit::{self, Change};
use crate::store::directory::{self, NewPartner};
use crate::store::events::Actor;
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

fn quota(p: &entity::partner::Model) -> Value {
    json!({ "rate_per_second": p.rate_per_second, "burst": p.burst })
}

async fn create(req: HttpRequest, Auth(p): Auth, body: JsonBody) -> Result<HttpResponse> {
    p.require_admin()?;
    let partner = enrol_partner(&*state(&req)?, &Actor::from(&p), &body.value).await?;
    Ok(HttpResponse::Created()
        .insert_header(("Cache-Control", "no-store"))
        .json(partner))
}

/// Validates a partner's body, creates it with its quota and records the audit
/// entry: the one way a partner is made, from the API and from the command line.
/// The answer holds its secrets, shown only here.
pub async fn enrol_partner(state: &AppState, actor: &Actor, body: &Value) -> Result<Value> {
    let mut input = Input::new(body)?;
    let name = input.text("name", Required, NAME_MAX);
    let rate = input.integer("rate_per_second", Required, 1, RATE_MAX);
    let burst = input.integer("burst", Required, 1, BURST_MAX);
    let callback_url = input.url("callback_url", Optional);
    input.finish()?;
    let txn = state.db.begin().await?;
    let (partner, credentials, webhook_secret) = directory::create_partner(
        &txn,
        &state.sealer,
        NewPartner {
            name: Input::got(name, "name")?,
            rate_per_second: i32::try_from(Input::got(rate, "rate_per_second")?)
                .map_err(Error::internal)?,
            burst: i32::try_from(Input::got(burst, "burst")?).map_err(Error::internal)?,
            callback_url,
        },
        state.clock.now(),
    )
    .await?;
    let change = Change {
        action: "partner.created",
        target_kind: "partner",
        target_id: &partner.id,
        detail: json!({ "name": partner.name, "quota": quota(&partner), "callback_url": partner.callback_url }),
    };
    audit::record(&txn, actor, change).await?;
    txn.commit().await?;
    let mut answer = views::partner(&partner);
    answer["client_id"] = json!(credentials.client_id);
    answer["client_secret"] = json!(credentials.client_secret);
    if let Some(secret) = webhook_secret {
        answer["webhook_secret"] = json!(secret);
    }
    Ok(answer)
}

async fn list(req: HttpRequest, Auth(p): Auth) -> Result<HttpResponse> {
    p.require_admin()?;
    let state = state(&req)?;
    let q = Query::parse(&req, &[])?;
    let rows = directory::partners(&state.db, q.after.as_deref(), q.limit + 1).await?;
    Ok(HttpResponse::Ok().json(page(rows, q.limit, |p| p.id.clone(), views::partner)))
}

/// A partner that has not been removed, or 404.
async fn existing(req: &HttpRequest, id: &str) -> Result<entity::partner::Model> {
    directory::partner(&state(req)?.db, id)
        .await?
        .filter(|p| p.status == "active")
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
    let current = existing(&req, &id).await?;
    let mut model = current.clone().into_active_model();
    if let Some(name) = name {
        model.name = Set(name);
    }
    if let Some(rate) = rate {
        model.rate_per_second = Set(i32::try_from(rate).map_err(Error::internal)?);
    }
    if let Some(burst) = burst {
        model.burst = Set(i32::try_from(burst).map_err(Error::internal)?);
    }
    let txn = state.db.begin().await?;
    let updated = directory::save_partner(&txn, model).await?;
    let quota_changed = quota(&current) != quota(&updated);
    let change = Change {
        action: if quota_changed {
            "partner.quota_changed"
        } else {
            "partner.updated"
        },
        target_kind: "partner",
        target_id: &updated.id,
        detail: json!({
            "before": { "name": current.name, "quota": quota(&current) },
            "after": { "name": updated.name, "quota": quota(&updated) },
        }),
    };
    audit::record(&txn, &Actor::from(&p), change).await?;
    txn.commit().await?;
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
    let mut model = current.into_active_model();
    model.status = Set("deleted".into());
    let txn = state.db.begin().await?;
    let removed = directory::save_partner(&txn, model).await?;
    let change = Change {
        action: "partner.deleted",
        target_kind: "partner",
        target_id: &removed.id,
        detail: json!({ "name": removed.name }),
    };
    audit::record(&txn, &Actor::from(&p), change).await?;
    txn.commit().await?;
    state.standings.forget(&partner_key(&removed.id));
    Ok(HttpResponse::NoContent().finish())
}
