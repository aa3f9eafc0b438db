//! The handler's inbox: complaints routed to it, and the negotiation.

use actix_web::http::Method;
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::json;

use super::extract::{Auth, JsonBody, NoFields, Query, page, state};
use super::guard::Callers;
use super::input::{Input, Optional, Required};
use super::{Route, route};
use crate::auth::Principal;
use crate::domain::lifecycle::{Action, Status};
use crate::domain::vocabulary::{ContactMethod, Remedy};
use crate::error::{Error, Result};
use crate::state::AppState;
use crate::store::Complaint;
use crate::store::complaints::{self, Transition};
use crate::store::events::Actor;
use crate::store::negotiation::{self, NewProposal, ReportedSettlement};
use crate::store::scope::{self, CaseFilter};
use crate::views;

pub fn routes() -> Vec<Route> {
    vec![
        route(Method::GET, "/v1/inbox", Callers::HANDLER, list),
        route(Method::GET, "/v1/inbox/{id}", Callers::HANDLER, get),
        route(
            Method::POST,
            "/v1/inbox/{id}/acknowledge",
            Callers::HANDLER,
            acknowledge,
        ),
        route(
            Method::POST,
            "/v1/inbox/{id}/decline",
            Callers::HANDLER,
            decline,
        ),
        route(
            Method::POST,
            "/v1/inbox/{id}/contacts",
            Callers::HANDLER,
            contact,
        ),
        route(
            Method::POST,
            "/v1/inbox/{id}/proposals",
            Callers::HANDLER,
            propose,
        ),
        route(
            Method::POST,
            "/v1/inbox/{id}/settle",
            Callers::HANDLER,
            settle,
        ),
        route(Method::POST, "/v1/inbox/{id}/fail", Callers::HANDLER, fail),
        route(
            Method::POST,
            "/v1/inbox/{id}/extension",
            Callers::HANDLER,
            extension,
        ),
    ]
}

const NOTE_MAX: usize = 1000;

/// The first time a handler is shown a routed complaint is its delivery.
async fn deliver_on_read(state: &AppState, p: &Principal, case: Complaint) -> Result<Complaint> {
    if case.status != Status::Routed.as_str() {
        return Ok(case);
    }
    let actor = Actor::from(p);
    let request =
        Transition::new(&actor, &case, Action::Deliver).payload(json!({ "via": "inbox" }));
    let delivered = complaints::transition(&state.db, state.now(), request).await;
    match delivered {
        Ok(case) => Ok(case),
        // A concurrent read delivered it first; show the case as it now is.
        Err(Error::Concurrent | Error::Transition(_)) => scope::find(&state.db, p, &case.id).await,
        Err(err) => Err(err),
    }
}

async fn list(req: HttpRequest, Auth(p): Auth) -> Result<HttpResponse> {
    p.handler_id()?;
    let state = state(&req)?;
    let q = Query::parse(&req, &["status"])?;
    let filter = CaseFilter {
        status: q.filter::<Status>("status")?,
        ..CaseFilter::default()
    };
    let rows =
        scope::complaints_page(&state.db, &p, &filter, q.after.as_deref(), q.limit + 1).await?;
    let mut shown = Vec::with_capacity(rows.len());
    for (i, case) in rows.into_iter().enumerate() {
        // The look-ahead row is not shown, so it is not delivered either.
        shown.push(if (i as u64) < q.limit {
            deliver_on_read(&state, &p, case).await?
        } else {
            case
        });
    }
    Ok(HttpResponse::Ok().json(page(
        shown,
        q.limit,
        |c| c.id.clone(),
        |c| views::complaint(c, &p),
    )))
}

async fn get(req: HttpRequest, Auth(p): Auth, id: web::Path<String>) -> Result<HttpResponse> {
    p.handler_id()?;
    let state = state(&req)?;
    let case = scope::find(&state.db, &p, &id).await?;
    let case = deliver_on_read(&state, &p, case).await?;
    Ok(HttpResponse::Ok().json(views::complaint(&case, &p)))
}

/// The handler's case by id; 404 unless it is the handler's.
async fn own_case(req: &HttpRequest, p: &Principal, id: &str) -> Result<Complaint> {
    p.handler_id()?;
    scope::find(&state(req)?.db, p, id).await
}

async fn acknowledge(
    req: HttpRequest,
    Auth(p): Auth,
    id: web::Path<String>,
    _: NoFields,
) -> Result<HttpResponse> {
    let case = own_case(&req, &p, &id).await?;
    let state = state(&req)?;
    let updated = negotiation::acknowledge(&state.db, state.now(), &Actor::from(&p), &case).await?;
    Ok(HttpResponse::Ok().json(views::complaint(&updated, &p)))
}

/// A plain transition whose body is one required or optional note field.
async fn noted(
    req: &HttpRequest,
    p: &Principal,
    id: &str,
    body: &JsonBody,
    action: Action,
    field: &'static str,
) -> Result<HttpResponse> {
    let case = own_case(req, p, id).await?;
    let mut input = Input::new(&body.value)?;
    let note = input.text(field, Required, NOTE_MAX);
    input.finish()?;
    let state = state(req)?;
    let actor = Actor::from(p);
    let request = Transition::new(&actor, &case, action).payload(json!({ field: note }));
    let updated = complaints::transition(&state.db, state.now(), request).await?;
    Ok(HttpResponse::Ok().json(views::complaint(&updated, p)))
}

async fn decline(
    req: HttpRequest,
    Auth(p): Auth,
    id: web::Path<String>,
    body: JsonBody,
) -> Result<HttpResponse> {
    noted(&req, &p, &id, &body, Action::Decline, "reason").await
}

async fn fail(
    req: HttpRequest,
    Auth(p): Auth,
    id: web::Path<String>,
    body: JsonBody,
) -> Result<HttpResponse> {
    noted(&req, &p, &id, &body, Action::Fail, "note").await
}

async fn contact(
    req: HttpRequest,
    Auth(p): Auth,
    id: web::Path<String>,
    body: JsonBody,
) -> Result<HttpResponse> {
    let state = state(&req)?;
    let case = own_case(&req, &p, &id).await?;
    let mut input = Input::new(&body.value)?;
    let method = input.parse::<ContactMethod>("method", Required);
    let note = input.text("note", Required, NOTE_MAX);
    let at = input.time("at", Optional);
    input.finish()?;
    let now = state.now();
    if at.is_some_and(|at| at > now.at) {
        return Err(Error::field("at", "must not be in the future"));
    }
    let actor = Actor::from(&p);
    let request = Transition::new(&actor, &case, Action::RecordContact).payload(json!({
        "method": method,
        "note": note,
        "at": views::time(&at.unwrap_or(now.at)),
    }));
    let updated = complaints::transition(&state.db, now, request).await?;
    Ok(HttpResponse::Created().json(views::complaint(&updated, &p)))
}

async fn propose(
    req: HttpRequest,
    Auth(p): Auth,
    id: web::Path<String>,
    body: JsonBody,
) -> Result<HttpResponse> {
    let state = state(&req)?;
    let case = own_case(&req, &p, &id).await?;
    let mut input = Input::new(&body.value)?;
    let remedy = input.parse::<Remedy>("remedy", Required);
    let amount_cents = input.cents("amount_cents", Optional);
    let note = input.text("note", Optional, NOTE_MAX);
    input.finish()?;
    let (_, proposal) = negotiation::propose(
        &state.db,
        state.now(),
        &Actor::from(&p),
        &case,
        NewProposal {
            remedy: Input::got(remedy, "remedy")?,
            amount_cents,
            note,
        },
    )
    .await?;
    Ok(HttpResponse::Created().json(views::proposal(&proposal)))
}

async fn settle(
    req: HttpRequest,
    Auth(p): Auth,
    id: web::Path<String>,
    body: JsonBody,
) -> Result<HttpResponse> {
    let state = state(&req)?;
    let case = own_case(&req, &p, &id).await?;
    let mut input = Input::new(&body.value)?;
    let remedy = input.parse::<Remedy>("remedy", Required);
    let recovered = input.cents("recovered_cents", Required);
    let note = input.text("note", Optional, NOTE_MAX);
    input.finish()?;
    let updated = negotiation::report_settlement(
        &state.db,
        state.now(),
        &Actor::from(&p),
        &case,
        ReportedSettlement {
            remedy: Input::got(remedy, "remedy")?,
            recovered_cents: Input::got(recovered, "recovered_cents")?,
            note,
        },
    )
    .await?;
    Ok(HttpResponse::Ok().json(views::complaint(&updated, &p)))
}

async fn extension(
    req: HttpRequest,
    Auth(p): Auth,
    id: web::Path<String>,
    body: JsonBody,
) -> Result<HttpResponse> {
    let state = state(&req)?;
    let case = own_case(&req, &p, &id).await?;
    let mut input = Input::new(&body.value)?;
    let days = input.integer("working_days", Required, 1, 365);
    let reason = input.text("reason", Required, NOTE_MAX);
    input.finish()?;
    let days = Input::got(days, "working_days")?;
    let now = state.now();
    // The rules the case's resolve clock runs under say how long it may grow.
    let max = state
        .policy
        .max_extension(&complaints::deadlines_of(&case)?, now.at);
    if days > i64::from(max) {
        return Err(Error::field(
            "working_days",
            format!("must be at most {max} under the case's deadline rules"),
        ));
    }
    let (_, extension) = negotiation::request_extension(
        &state.db,
        now,
        &Actor::from(&p),
        &case,
        i32::try_from(days).map_err(Error::internal)?,
        Input::got(reason, "reason")?,
    )
    .await?;
    Ok(HttpResponse::Created().json(views::extension(&extension)))
}
