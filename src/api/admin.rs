//! The operator's API: stations, handlers, partners, staff, the manual clock.

use actix_web::http::Method;
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::Duration;
use sea_orm::{ActiveValue::Set, IntoActiveModel, TransactionTrait};
use serde_json::{Value, json};

use super::extract::{Auth, JsonBody, NoFields, Query, page, state};
use super::guard::Callers;
use super::input::{Input, Optional, Required};
use super::{Route, route};
use crate::app::{self, AppState};
use crate::auth::Principal;
use crate::auth::standing::handler_key;
use crate::domain::credit_code::CreditCode;
use crate::domain::lifecycle::{Action, EscalationReason};
use crate::domain::vocabulary::{DeliveryMode, HandlerKind, HandlerStatus, Role};
use crate::error::{Error, Result};
use crate::store::audit::{self, Change};
use crate::store::complaints::{self, Transition};
use crate::store::directory::{self, NewHandler};
use crate::store::events::Actor;
use crate::views;

pub fn routes() -> Vec<Route> {
    vec![
        route(Method::POST, "/v1/stations", Callers::ADMIN, create_station),
        route(
            Method::GET,
            "/v1/stations",
            Callers::ADMIN_OR_STAFF,
            list_stations,
        ),
        route(
            Method::POST,
            "/v1/handlers",
            Callers::ADMIN_OR_STAFF,
            create_handler,
        ),
        route(
            Method::GET,
            "/v1/handlers",
            Callers::ADMIN_OR_STAFF,
            list_handlers,
        ),
        route(
            Method::GET,
            "/v1/handlers/{id}",
            Callers::ADMIN_OR_STAFF,
            get_handler,
        ),
        route(
            Method::PATCH,
            "/v1/handlers/{id}",
            Callers::ADMIN_OR_STAFF,
            update_handler,
        ),
        route(
            Method::POST,
            "/v1/handlers/{id}/rotate-secret",
            Callers::ADMIN,
            rotate_secret,
        ),
        route(Method::POST, "/v1/staff", Callers::ADMIN, create_staff),
        route(Method::POST, "/v1/admin/clock", Callers::ADMIN, move_clock),
        route(Method::GET, "/v1/admin/audit", Callers::ADMIN, audit_log),
    ]
}

const CODE_MAX: usize = 32;
pub(super) const NAME_MAX: usize = 100;
const COVERS_MAX: usize = 1000;

async fn create_station(req: HttpRequest, Auth(p): Auth, body: JsonBody) -> Result<HttpResponse> {
    p.require_admin()?;
    let station = enrol_station(&*state(&req)?, &Actor::from(&p), &body.value).await?;
    Ok(HttpResponse::Created().json(station))
}

/// Validates a station's body, creates it and records the audit entry: the one
/// way a station is made, from the API and from the command line.
pub async fn enrol_station(state: &AppState, actor: &Actor, body: &Value) -> Result<Value> {
    let mut input = Input::new(body)?;
    let code = input.text("code", Required, CODE_MAX);
    if let Some(code) = &code
        && !code
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        input.error("code", "may contain only letters, digits, '-' and '_'");
    }
    let name = input.text("name", Required, NAME_MAX);
    let parent = input.text("parent_code", Optional, CODE_MAX);
    input.finish()?;
    let txn = state.db.begin().await?;
    let station = directory::create_station(
        &txn,
        &Input::got(code, "code")?,
        &Input::got(name, "name")?,
        parent.as_deref(),
        state.clock.now(),
    )
    .await?;
    let change = Change {
        action: "station.created",
        target_kind: "station",
        target_id: &station.code,
        detail: json!({ "name": station.name, "parent_code": station.parent_code }),
    };
    audit::record(&txn, actor, change).await?;
    txn.commit().await?;
    Ok(views::station(&station))
}

async fn list_stations(req: HttpRequest, Auth(p): Auth) -> Result<HttpResponse> {
    let state = state(&req)?;
    let all = directory::stations(&state.db).await?;
    let visible = match &p {
        Principal::Admin { .. } => all,
        Principal::Staff { station_code, .. } => {
            let subtree = directory::subtree(&state.db, station_code).await?;
            all.into_iter()
                .filter(|s| subtree.contains(&s.code))
                .collect()
        }
        _ => {
            return Err(Error::Forbidden(
                "this route is for administrators and staff",
            ));
        }
    };
    Ok(HttpResponse::Ok().json(views::station_tree(&visible)))
}

/// The stations whose handlers `p` manages: all for admins, the subtree for staff.
async fn managed_stations(req: &HttpRequest, p: &Principal) -> Result<Option<Vec<String>>> {
    match p {
        Principal::Admin { .. } => Ok(None),
        Principal::Staff { station_code, .. } => Ok(Some(
            directory::subtree(&state(req)?.db, station_code).await?,
        )),
        _ => Err(Error::Forbidden(
            "this route is for administrators and staff",
        )),
    }
}

fn read_covers(input: &mut Input<'_>) -> Option<Vec<String>> {
    let covers = input.texts("covers", Optional, COVERS_MAX, 32)?;
    let mut out = Vec::new();
    for (i, code) in covers.iter().enumerate() {
        match CreditCode::parse(code) {
            Ok(c) => out.push(c.as_str().to_string()),
            Err(e) => input.error(&format!("covers[{i}]"), e.to_string()),
        }
    }
    Some(out)
}

async fn create_handler(req: HttpRequest, Auth(p): Auth, body: JsonBody) -> Result<HttpResponse> {
    let managed = managed_stations(&req, &p).await?;
    let enrolled = enrol_handler(
        &*state(&req)?,
        &Actor::from(&p),
        managed.as_deref(),
        &body.value,
    )
    .await?;
    Ok(HttpResponse::Created()
        .insert_header(("Cache-Control", "no-store"))
        .json(enrolled))
}

/// Validates a handler's body, enrolls it at a station in `managed` (any when
/// `None`) and records the audit entry: the one way a handler is made, from the
/// API and from the command line. The answer holds its secrets, shown only here.
pub async fn enrol_handler(
    state: &AppState,
    actor: &Actor,
    managed: Option<&[String]>,
    body: &Value,
) -> Result<Value> {
    let mut input = Input::new(body)?;
    let kind = input.parse::<HandlerKind>("kind", Required);
    let name = input.text("name", Required, NAME_MAX);
    let credit_code = input
        .parse_with("credit_code", Optional, CreditCode::parse)
        .map(|c| c.as_str().to_string());
    let station_code = input.text("station_code", Required, CODE_MAX);
    let delivery = input.parse::<DeliveryMode>("delivery", Required);
    let webhook_url = input.url("webhook_url", Optional);
    let rate = input.integer("delivery_rate_per_second", Optional, 1, 10_000);
    let covers = read_covers(&mut input).unwrap_or_default();
    if kind == Some(HandlerKind::Merchant) && credit_code.is_none() && !input.failed("credit_code")
    {
        input.error("credit_code", "is required for a merchant");
    }
    if kind == Some(HandlerKind::RightsStation) && covers.is_empty() && !input.failed("covers") {
        input.error(
            "covers",
            "a rights station must cover at least one credit code",
        );
    }
    if kind == Some(HandlerKind::Merchant) && !covers.is_empty() {
        input.error("covers", "a merchant covers only its own credit code");
    }
    if delivery == Some(DeliveryMode::Push) && webhook_url.is_none() && !input.failed("webhook_url")
    {
        input.error("webhook_url", "is required for push delivery");
    }
    input.finish()?;
    let station_code = Input::got(station_code, "station_code")?;
    if let Some(managed) = managed
        && !managed.contains(&station_code)
    {
        return Err(Error::field(
            "station_code",
            "is outside your station's jurisdiction",
        ));
    }
    let txn = state.db.begin().await?;
    let enrolled = directory::enroll_handler(
        &txn,
        &state.sealer,
        NewHandler {
            kind: Input::got(kind, "kind")?,
            name: Input::got(name, "name")?,
            credit_code,
            station_code,
            delivery: Input::got(delivery, "delivery")?,
            webhook_url,
            covers,
            delivery_rate_per_second: rate.and_then(|r| i32::try_from(r).ok()),
        },
        state.clock.now(),
    )
    .await?;
    let h = &enrolled.handler;
    let change = Change {
        action: "handler.enrolled",
        target_kind: "handler",
        target_id: &h.id,
        detail: json!({
            "kind": h.kind, "name": h.name, "credit_code": h.credit_code,
            "station_code": h.station_code, "delivery": h.delivery, "covers": h.covers,
        }),
    };
    audit::record(&txn, actor, change).await?;
    txn.commit().await?;
    let mut answer = views::handler(&enrolled.handler);
    answer["client_id"] = json!(enrolled.credentials.client_id);
    answer["client_secret"] = json!(enrolled.credentials.client_secret);
    answer["webhook_secret"] = json!(enrolled.webhook_secret);
    Ok(answer)
}

async fn list_handlers(req: HttpRequest, Auth(p): Auth) -> Result<HttpResponse> {
    let managed = managed_stations(&req, &p).await?;
    let state = state(&req)?;
    let q = Query::parse(&req, &[])?;
    let rows = directory::handlers(
        &state.db,
        managed.as_deref(),
        q.after.as_deref(),
        q.limit + 1,
    )
    .await?;
    Ok(HttpResponse::Ok().json(page(rows, q.limit, |h| h.id.clone(), views::handler)))
}

/// A handler the caller manages, or 404.
async fn managed_handler(
    req: &HttpRequest,
    p: &Principal,
    id: &str,
) -> Result<entity::handler::Model> {
    let managed = managed_stations(req, p).await?;
    let handler = directory::handler(&state(req)?.db, id)
        .await?
        .ok_or(Error::NotFound)?;
    match managed {
        Some(stations) if !stations.contains(&handler.station_code) => Err(Error::NotFound),
        _ => Ok(handler),
    }
}

async fn get_handler(
    req: HttpRequest,
    Auth(p): Auth,
    id: web::Path<String>,
) -> Result<HttpResponse> {
    let handler = managed_handler(&req, &p, &id).await?;
    Ok(HttpResponse::Ok().json(views::handler(&handler)))
}

async fn update_handler(
    req: HttpRequest,
    Auth(p): Auth,
    id: web::Path<String>,
    body: JsonBody,
) -> Result<HttpResponse> {
    let current = managed_handler(&req, &p, &id).await?;
    let state = state(&req)?;
    let mut input = Input::new(&body.value)?;
    let name = input.text("name", Optional, NAME_MAX);
    let delivery = input.parse::<DeliveryMode>("delivery", Optional);
    let webhook_url = input.url("webhook_url", Optional);
    let covers = read_covers(&mut input);
    let rate = input.integer("delivery_rate_per_second", Optional, 1, 10_000);
    let status = input.parse::<HandlerStatus>("status", Optional);
    let kind: HandlerKind = current.kind.parse().map_err(Error::internal)?;
    if covers.is_some() && kind == HandlerKind::Merchant {
        input.error("covers", "a merchant covers only its own credit code");
    }
    if covers.as_ref().is_some_and(Vec::is_empty) {
        input.error(
            "covers",
            "a rights station must cover at least one credit code",
        );
    }
    let push_after = delivery.map_or(current.delivery == "push", |d| d == DeliveryMode::Push);
    if push_after && webhook_url.is_none() && current.webhook_url.is_none() {
        input.error("webhook_url", "is required for push delivery");
    }
    input.finish()?;
    let now = state.now();
    let suspending = matches!(
        status,
        Some(HandlerStatus::Suspended | HandlerStatus::Withdrawn)
    ) && current.status == HandlerStatus::Active.as_str();
    let mut model = current.clone().into_active_model();
    if let Some(name) = name {
        model.name = Set(name);
    }
    if let Some(delivery) = delivery {
        model.delivery = Set(delivery.as_str().into());
    }
    if let Some(url) = webhook_url {
        model.webhook_url = Set(Some(url));
    }
    if let Some(covers) = covers {
        model.covers = Set(json!(covers));
    }
    if let Some(status) = status {
        model.status = Set(status.as_str().into());
    }
    if let Some(rate) = rate {
        model.delivery_rate_per_second = Set(i32::try_from(rate).ok());
    }
    model.updated_at = Set(now.at);
    // The status change and the escalation of the handler's open cases commit together.
    let txn = state.db.begin().await?;
    let updated = directory::save_handler(&txn, model).await?;
    let action = match (current.status == updated.status, updated.status.as_str()) {
        (true, _) => "handler.updated",
        (false, "suspended") => "handler.suspended",
        (false, "withdrawn") => "handler.withdrawn",
        (false, _) => "handler.reinstated",
    };
    let change = Change {
        action,
        target_kind: "handler",
        target_id: &updated.id,
        detail: json!({ "before": handler_settings(&current), "after": handler_settings(&updated) }),
    };
    audit::record(&txn, &Actor::from(&p), change).await?;
    if suspending {
        let actor = Actor::from(&p);
        for case in complaints::open_at_handler(&txn, &updated.id).await? {
            let escalate = Action::Escalate(EscalationReason::HandlerSuspended);
            let request = Transition::new(&actor, &case, escalate)
                .payload(json!({ "handler_status": updated.status }));
            complaints::transition_in(&txn, now, request).await?;
        }
    }
    txn.commit().await?;
    // Its tokens follow its status at once in this process.
    state.standings.forget(&handler_key(&updated.id));
    Ok(HttpResponse::Ok().json(views::handler(&updated)))
}

/// What an admin may change on a handler, for the audit log.
fn handler_settings(h: &entity::handler::Model) -> serde_json::Value {
    json!({
        "name": h.name, "delivery": h.delivery, "webhook_url": h.webhook_url,
        "covers": h.covers, "status": h.status,
        "delivery_rate_per_second": h.delivery_rate_per_second,
    })
}

async fn rotate_secret(
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
    let overlap = Duration::seconds(state.config.delivery.secret_overlap_seconds as i64);
    let txn = state.db.begin().await?;
    let (handler, secret) = directory::rotate_webhook_secret(
        &txn,
        &state.sealer,
        handler,
        state.clock.now(),
        chrono::Utc::now() + overlap,
    )
    .await?;
    let change = Change {
        action: "handler.secret_rotated",
        target_kind: "handler",
        target_id: &handler.id,
        detail: json!({ "previous_secret_valid_until": handler.previous_secret_until }),
    };
    audit::record(&txn, &Actor::from(&p), change).await?;
    txn.commit().await?;
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(json!({
            "id": handler.id,
            "webhook_secret": secret,
            "previous_secret_valid_until": handler.previous_secret_until.as_ref().map(views::time),
        })))
}

pub const PASSWORD_MIN: usize = 10;

async fn create_staff(req: HttpRequest, Auth(p): Auth, body: JsonBody) -> Result<HttpResponse> {
    p.require_admin()?;
    let state = state(&req)?;
    let mut input = Input::new(&body.value)?;
    let username = input.text("username", Required, 64);
    let password = input.text("password", Required, 256);
    if password
        .as_ref()
        .is_some_and(|p| p.chars().count() < PASSWORD_MIN)
    {
        input.error(
            "password",
            format!("must be at least {PASSWORD_MIN} characters"),
        );
    }
    let station = input.text("station_code", Required, CODE_MAX);
    input.finish()?;
    let txn = state.db.begin().await?;
    let user = directory::create_user(
        &txn,
        &Input::got(username, "username")?,
        &Input::got(password, "password")?,
        Role::Staff,
        Some(&Input::got(station, "station_code")?),
        state.clock.now(),
    )
    .await?;
    let change = Change {
        action: "staff.created",
        target_kind: "user",
        target_id: &user.id,
        detail: json!({ "username": user.username, "station_code": user.station_code }),
    };
    audit::record(&txn, &Actor::from(&p), change).await?;
    txn.commit().await?;
    Ok(HttpResponse::Created().json(views::user(&user)))
}

async fn move_clock(req: HttpRequest, Auth(p): Auth, body: JsonBody) -> Result<HttpResponse> {
    let state = state(&req)?;
    if !state.clock.is_manual() {
        return Err(Error::NotFound);
    }
    p.require_admin()?;
    let mut input = Input::new(&body.value)?;
    let advance = input.integer("advance_seconds", Optional, 0, 10 * 366 * 86_400);
    let set = input.time("set", Optional);
    if advance.is_some() == set.is_some() {
        input.error(
            "advance_seconds",
            "give exactly one of advance_seconds and set",
        );
    }
    input.finish()?;
    // Moving the clock and acting on the new time is one turn: the background
    // job cannot take the new time first, so the count answered is exact.
    let _turn = state.deadline_pass.lock().await;
    // Start from where the clock stands across processes, not where this one lags.
    app::follow_saved_clock(&state.db, &state.clock).await?;
    let moved = match (advance, set) {
        (Some(seconds), _) => state.clock.advance(Duration::seconds(seconds)),
        (_, Some(to)) => state.clock.set(to),
        _ => None,
    };
    match moved {
        Some(Ok(_)) => {
            // Another process may have saved a later time meanwhile: adopted.
            let now = state.save_clock().await?;
            let change = Change {
                action: "clock.moved",
                target_kind: "clock",
                target_id: "business",
                detail: json!({ "now": views::time(&now) }),
            };
            audit::record(&state.db, &Actor::from(&p), change).await?;
            // SPEC §11: the deadline job runs at once for the new time.
            let actions = crate::jobs::deadlines::run_due(
                &state.db,
                state.now(),
                state.config.deadlines.batch_size,
                &state.metrics,
            )
            .await?;
            // And the follow-up sample of a month the clock has passed.
            let followups = crate::jobs::followups::draw_due(
                &state.db,
                state.now(),
                state.config.followups.share,
            )
            .await?;
            Ok(HttpResponse::Ok().json(json!({
                "now": views::time(&now),
                "deadline_actions": actions,
                "followups_drawn": followups,
            })))
        }
        Some(Err(current)) => Err(Error::field(
            "set",
            format!(
                "the clock only moves forward; it is at {}",
                views::time(&current)
            ),
        )),
        None => Err(Error::NotFound),
    }
}

async fn audit_log(req: HttpRequest, Auth(p): Auth) -> Result<HttpResponse> {
    p.require_admin()?;
    let state = state(&req)?;
    let q = Query::parse(&req, &["target_id"])?;
    let after = q.after_number::<i64>()?;
    let target = q.params.get("target_id").map(String::as_str);
    let rows = audit::page(&state.db, target, after, q.limit + 1).await?;
    Ok(HttpResponse::Ok().json(page(
        rows,
        q.limit,
        |e| e.id.to_string(),
        views::audit_entry,
    )))
}
