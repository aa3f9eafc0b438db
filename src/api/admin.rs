//! The operator's API: stations, handlers, partners, staff, the manual clock.

use actix_web::http::Method;
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::Duration;
use serde_json::{Value, json};

use super::extract::{Auth, JsonBody, NoFields, Query, page, state};
use super::guard::Callers;
use super::input::{Input, Optional, Required};
use super::{Route, route};
use crate::auth::Principal;
use crate::auth::standing::handler_key;
use crate::clock::Move;
use crate::domain::credit_code::CreditCode;
use crate::domain::password::Password;
use crate::domain::vocabulary::{DeliveryMode, HandlerKind, HandlerStatus};
use crate::error::{Error, Result};
use crate::store::Handler;
use crate::store::accounts;
use crate::store::audit;
use crate::store::directory::{self, NewStation};
use crate::store::events::Actor;
use crate::store::handlers::{self, EnrolledHandler, HandlerChanges, NewHandler};
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
const RATE_MAX: i64 = 10_000;

async fn create_station(req: HttpRequest, Auth(p): Auth, body: JsonBody) -> Result<HttpResponse> {
    p.require_admin()?;
    let new = read_station(&body.value)?;
    let state = state(&req)?;
    let station =
        directory::create_station(&state.db, Actor::from(&p), new, state.clock.now()).await?;
    Ok(HttpResponse::Created().json(views::station(&station)))
}

/// Reads a station's body; the command line reads its flags through here too.
pub fn read_station(body: &Value) -> Result<NewStation> {
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
    let parent_code = input.text("parent_code", Optional, CODE_MAX);
    input.finish()?;
    Ok(NewStation {
        code: Input::got(code, "code")?,
        name: Input::got(name, "name")?,
        parent_code,
    })
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
    let new = read_handler(&body.value)?;
    if let Some(managed) = managed
        && !managed.contains(&new.station_code)
    {
        return Err(Error::field(
            "station_code",
            "is outside your station's jurisdiction",
        ));
    }
    let state = state(&req)?;
    let enrolled = handlers::enrol(
        &state.db,
        &state.sealer,
        Actor::from(&p),
        new,
        state.clock.now(),
    )
    .await?;
    Ok(HttpResponse::Created()
        .insert_header(("Cache-Control", "no-store"))
        .json(enrolled_handler(&enrolled)))
}

/// Reads a handler's body, with the rules that tie its fields together; the
/// command line reads its flags through here too.
pub fn read_handler(body: &Value) -> Result<NewHandler> {
    let mut input = Input::new(body)?;
    let kind = input.parse::<HandlerKind>("kind", Required);
    let name = input.text("name", Required, NAME_MAX);
    let credit_code = input
        .parse_with("credit_code", Optional, CreditCode::parse)
        .map(|c| c.as_str().to_string());
    let station_code = input.text("station_code", Required, CODE_MAX);
    let delivery = input.parse::<DeliveryMode>("delivery", Required);
    let webhook_url = input.url("webhook_url", Optional);
    let rate = input.integer("delivery_rate_per_second", Optional, 1, RATE_MAX);
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
    Ok(NewHandler {
        kind: Input::got(kind, "kind")?,
        name: Input::got(name, "name")?,
        credit_code,
        station_code: Input::got(station_code, "station_code")?,
        delivery: Input::got(delivery, "delivery")?,
        webhook_url,
        covers,
        delivery_rate_per_second: rate.and_then(|r| i32::try_from(r).ok()),
    })
}

/// A new handler as answered: with its secrets, shown only this once.
pub fn enrolled_handler(enrolled: &EnrolledHandler) -> Value {
    let mut answer = views::handler(&enrolled.handler);
    answer["client_id"] = json!(enrolled.credentials.client_id);
    answer["client_secret"] = json!(enrolled.credentials.client_secret);
    answer["webhook_secret"] = json!(enrolled.webhook_secret);
    answer
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
async fn managed_handler(req: &HttpRequest, p: &Principal, id: &str) -> Result<Handler> {
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
    let changes = read_handler_changes(&body.value, &current)?;
    let state = state(&req)?;
    let updated =
        handlers::update(&state.db, state.now(), Actor::from(&p), current, changes).await?;
    // Its tokens follow its status at once in this process.
    state.standings.forget(&handler_key(&updated.id));
    Ok(HttpResponse::Ok().json(views::handler(&updated)))
}

/// Reads a handler update, checked against the handler as it stands.
fn read_handler_changes(body: &Value, current: &Handler) -> Result<HandlerChanges> {
    let mut input = Input::new(body)?;
    let name = input.text("name", Optional, NAME_MAX);
    let delivery = input.parse::<DeliveryMode>("delivery", Optional);
    let webhook_url = input.url("webhook_url", Optional);
    let covers = read_covers(&mut input);
    let rate = input.integer("delivery_rate_per_second", Optional, 1, RATE_MAX);
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
    Ok(HandlerChanges {
        name,
        delivery,
        webhook_url,
        covers,
        status,
        delivery_rate_per_second: rate.and_then(|r| i32::try_from(r).ok()),
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
    let (handler, secret) = handlers::rotate_secret(
        &state.db,
        &state.sealer,
        Actor::from(&p),
        handler,
        state.clock.now(),
        chrono::Utc::now() + overlap,
    )
    .await?;
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(json!({
            "id": handler.id,
            "webhook_secret": secret,
            "previous_secret_valid_until": handler.previous_secret_until.as_ref().map(views::time),
        })))
}

async fn create_staff(req: HttpRequest, Auth(p): Auth, body: JsonBody) -> Result<HttpResponse> {
    p.require_admin()?;
    let state = state(&req)?;
    let mut input = Input::new(&body.value)?;
    let username = input.text("username", Required, 64);
    let password =
        input
            .text("password", Required, 256)
            .and_then(|text| match Password::parse(&text) {
                Ok(password) => Some(password),
                Err(why) => {
                    input.error("password", why.to_string());
                    None
                }
            });
    let station = input.text("station_code", Required, CODE_MAX);
    input.finish()?;
    let user = accounts::add_staff(
        &state.db,
        Actor::from(&p),
        Input::got(username, "username")?,
        Input::got(password, "password")?,
        Input::got(station, "station_code")?,
        state.clock.now(),
    )
    .await?;
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
    let how = match (advance, set) {
        (Some(seconds), _) => Move::By(Duration::seconds(seconds)),
        (_, Some(to)) => Move::To(to),
        _ => return Err(Error::NotFound),
    };
    let (now, passed) = state.timekeeper.move_clock(Actor::from(&p), how).await?;
    Ok(HttpResponse::Ok().json(json!({
        "now": views::time(&now),
        "deadline_actions": passed.deadline_actions,
        "followups_drawn": passed.followups_drawn,
    })))
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
