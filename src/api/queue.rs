//! The station's queue: escalated cases of the staff member's station subtree.

use actix_web::http::Method;
use actix_web::{HttpRequest, HttpResponse, web};

use super::extract::{Auth, JsonBody, NoFields, Query, page, state};
use super::guard::Callers;
use super::input::{Input, Optional, Required};
use super::{Route, route};
use crate::auth::Principal;
use crate::domain::lifecycle::{CloseResult, EscalationReason, Status};
use crate::error::Result;
use crate::store::Complaint;
use crate::store::events::Actor;
use crate::store::scope::{self, CaseFilter};
use crate::store::station::{self, Step};
use crate::views;

pub fn routes() -> Vec<Route> {
    vec![
        route(Method::GET, "/v1/queue", Callers::STAFF, list),
        route(Method::GET, "/v1/queue/{id}", Callers::STAFF, get),
        route(Method::POST, "/v1/queue/{id}/claim", Callers::STAFF, claim),
        route(
            Method::POST,
            "/v1/queue/{id}/release",
            Callers::STAFF,
            release,
        ),
        route(
            Method::POST,
            "/v1/queue/{id}/decision",
            Callers::STAFF,
            decision,
        ),
        route(
            Method::POST,
            "/v1/queue/{id}/feedback",
            Callers::STAFF,
            feedback,
        ),
        route(Method::POST, "/v1/queue/{id}/close", Callers::STAFF, close),
    ]
}

const NOTE_MAX: usize = 2000;

async fn list(req: HttpRequest, Auth(p): Auth) -> Result<HttpResponse> {
    let state = state(&req)?;
    let q = Query::parse(&req, &["status", "reason", "overdue"])?;
    let filter = CaseFilter {
        in_queue: true,
        status: q.filter::<Status>("status")?,
        escalation_reason: q.filter::<EscalationReason>("reason")?,
        station_overdue: q.filter::<bool>("overdue")?,
        ..CaseFilter::default()
    };
    let rows =
        scope::complaints_page(&state.db, &p, &filter, q.after.as_deref(), q.limit + 1).await?;
    Ok(HttpResponse::Ok().json(page(
        rows,
        q.limit,
        |c| c.id.clone(),
        |c| views::complaint(c, &p),
    )))
}

async fn get(req: HttpRequest, Auth(p): Auth, id: web::Path<String>) -> Result<HttpResponse> {
    let case = scope::find_in_queue(&state(&req)?.db, &p, &id).await?;
    Ok(HttpResponse::Ok().json(views::complaint(&case, &p)))
}

/// A case in the caller's queue (403 for other roles, 404 outside the
/// subtree), looked up before the body is read.
async fn queue_case(req: &HttpRequest, p: &Principal, id: &str) -> Result<Complaint> {
    scope::find_in_queue(&state(req)?.db, p, id).await
}

/// Runs a station step on a queue case and answers the case (the step checks
/// that only the staff member who claimed the case acts on it).
async fn act(
    req: &HttpRequest,
    p: &Principal,
    case: Complaint,
    step: Step,
) -> Result<HttpResponse> {
    let state = state(req)?;
    let updated = station::act(&state.db, state.now(), &Actor::from(p), &case, step).await?;
    Ok(HttpResponse::Ok().json(views::complaint(&updated, p)))
}

async fn claim(
    req: HttpRequest,
    Auth(p): Auth,
    id: web::Path<String>,
    _: NoFields,
) -> Result<HttpResponse> {
    let case = queue_case(&req, &p, &id).await?;
    act(&req, &p, case, Step::Claim).await
}

async fn release(
    req: HttpRequest,
    Auth(p): Auth,
    id: web::Path<String>,
    _: NoFields,
) -> Result<HttpResponse> {
    let case = queue_case(&req, &p, &id).await?;
    act(&req, &p, case, Step::Release).await
}

async fn decision(
    req: HttpRequest,
    Auth(p): Auth,
    id: web::Path<String>,
    body: JsonBody,
) -> Result<HttpResponse> {
    let case = queue_case(&req, &p, &id).await?;
    let mut input = Input::new(&body.value)?;
    let accept = input.boolean("accept", Required);
    let grounds = input.text("grounds", Optional, NOTE_MAX);
    if accept == Some(false) && grounds.is_none() {
        input.error("grounds", "is required when the complaint is not accepted");
    }
    input.finish()?;
    let accept = Input::got(accept, "accept")?;
    act(&req, &p, case, Step::Decide { accept, grounds }).await
}

async fn feedback(
    req: HttpRequest,
    Auth(p): Auth,
    id: web::Path<String>,
    body: JsonBody,
) -> Result<HttpResponse> {
    let case = queue_case(&req, &p, &id).await?;
    let mut input = Input::new(&body.value)?;
    let kind = input.text("kind", Required, 16);
    if kind.as_deref().is_some_and(|k| k != "initial") {
        input.error(
            "kind",
            "must be initial (closing feedback is the note given at close)",
        );
    }
    let note = input.text("note", Required, NOTE_MAX);
    input.finish()?;
    let note = Input::got(note, "note")?;
    act(&req, &p, case, Step::InitialFeedback { note }).await
}

async fn close(
    req: HttpRequest,
    Auth(p): Auth,
    id: web::Path<String>,
    body: JsonBody,
) -> Result<HttpResponse> {
    let case = queue_case(&req, &p, &id).await?;
    let mut input = Input::new(&body.value)?;
    let result = input.parse::<CloseResult>("result", Required);
    if result == Some(CloseResult::NotAccepted) {
        input.error("result", "not_accepted is given through /decision");
    }
    let recovered = input.cents("recovered_cents", Optional);
    let note = input.text("note", Required, NOTE_MAX);
    input.finish()?;
    let step = Step::Close {
        result: Input::got(result, "result")?,
        recovered_cents: recovered.unwrap_or(0),
        note: Input::got(note, "note")?,
    };
    act(&req, &p, case, step).await
}
