//! The station's queue: escalated cases of the staff member's station subtree.

use actix_web::http::Method;
use actix_web::{HttpRequest, HttpResponse, web};
use entity::complaint;
use sea_orm::{ActiveValue::Set, ColumnTrait, QueryFilter};
use serde_json::{Value, json};

use super::extract::{Auth, JsonBody, NoFields, Query, page, state};
use super::input::{Input, Optional, Required};
use super::{Route, route};
use crate::auth::Principal;
use crate::domain::lifecycle::{Action, CloseResult, EscalationReason, Status};
use crate::error::{Error, Result};
use crate::store::complaints;
use crate::store::events::Actor;
use crate::store::scope;
use crate::views;

pub fn routes() -> Vec<Route> {
    vec![
        route(Method::GET, "/v1/queue", list),
        route(Method::GET, "/v1/queue/{id}", get),
        route(Method::POST, "/v1/queue/{id}/claim", claim),
        route(Method::POST, "/v1/queue/{id}/release", release),
        route(Method::POST, "/v1/queue/{id}/decision", decision),
        route(Method::POST, "/v1/queue/{id}/feedback", feedback),
        route(Method::POST, "/v1/queue/{id}/close", close),
    ]
}

const NOTE_MAX: usize = 2000;

async fn list(req: HttpRequest, Auth(p): Auth) -> Result<HttpResponse> {
    let state = state(&req)?;
    let q = Query::parse(&req, &["status", "reason"])?;
    let mut select = scope::queue(&state.db, &p).await?;
    if let Some(status) = q.filter::<Status>("status")? {
        select = select.filter(complaint::Column::Status.eq(status.as_str()));
    }
    if let Some(reason) = q.filter::<EscalationReason>("reason")? {
        select = select.filter(complaint::Column::EscalationReason.eq(reason.as_str()));
    }
    let rows = complaints::page(&state.db, select, q.after.as_deref(), q.limit + 1).await?;
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

/// A queue case that the caller has claimed; 409 when someone else holds it.
fn require_assignee(p: &Principal, case: &complaint::Model) -> Result<()> {
    let (user_id, _) = p.staff()?;
    match &case.assignee_id {
        Some(assignee) if assignee != user_id => Err(Error::Conflict {
            detail: "another staff member has claimed this complaint".into(),
            extra: json!({ "assignee_id": assignee }),
        }),
        _ => Ok(()),
    }
}

/// Runs a station action on a queue case and answers the case.
async fn act(
    req: &HttpRequest,
    p: &Principal,
    id: &str,
    action: Action,
    payload: Value,
    edit: impl Fn(&mut complaint::ActiveModel, &complaint::Model),
) -> Result<HttpResponse> {
    let state = state(req)?;
    let case = scope::find_in_queue(&state.db, p, id).await?;
    if action != Action::Claim {
        require_assignee(p, &case)?;
    }
    let updated = complaints::transition(
        &state.db,
        state.clock.now(),
        &Actor::from(p),
        &case,
        action,
        payload,
        edit,
    )
    .await?;
    Ok(HttpResponse::Ok().json(views::complaint(&updated, p)))
}

async fn claim(
    req: HttpRequest,
    Auth(p): Auth,
    id: web::Path<String>,
    _: NoFields,
) -> Result<HttpResponse> {
    let (user_id, _) = p.staff()?;
    let user_id = user_id.to_string();
    act(&req, &p, &id, Action::Claim, json!({}), |m, _| {
        m.assignee_id = Set(Some(user_id.clone()))
    })
    .await
}

async fn release(
    req: HttpRequest,
    Auth(p): Auth,
    id: web::Path<String>,
    _: NoFields,
) -> Result<HttpResponse> {
    act(&req, &p, &id, Action::Release, json!({}), |m, _| {
        m.assignee_id = Set(None)
    })
    .await
}

/// The station's part of the outcome, merged into what is already there.
fn station_outcome(case: &complaint::Model, fields: Value) -> Value {
    let mut outcome = match &case.outcome {
        Some(Value::Object(map)) if map.get("kind").and_then(Value::as_str) == Some("station") => {
            Value::Object(map.clone())
        }
        _ => json!({ "kind": "station" }),
    };
    if let (Value::Object(target), Value::Object(source)) = (&mut outcome, fields) {
        target.extend(source);
    }
    outcome
}

async fn decision(
    req: HttpRequest,
    Auth(p): Auth,
    id: web::Path<String>,
    body: JsonBody,
) -> Result<HttpResponse> {
    let state = state(&req)?;
    let mut input = Input::new(&body.value)?;
    let accept = input.boolean("accept", Required);
    let grounds = input.text("grounds", Optional, NOTE_MAX);
    if accept == Some(false) && grounds.is_none() {
        input.error("grounds", "is required when the complaint is not accepted");
    }
    input.finish()?;
    let accept = Input::got(accept, "accept")?;
    let now = views::time(&state.clock.now());
    let (action, fields) = if accept {
        (
            Action::Accept,
            json!({ "decision": "accepted", "decided_at": now, "decided_by": p.subject() }),
        )
    } else {
        (
            Action::NotAccept,
            json!({
                "decision": "not_accepted",
                "grounds": grounds,
                "result": CloseResult::NotAccepted,
                "recovered_cents": 0,
                "decided_at": now,
                "decided_by": p.subject(),
                "closed_at": now,
            }),
        )
    };
    let payload = fields.clone();
    act(&req, &p, &id, action, payload, |m, case| {
        m.outcome = Set(Some(station_outcome(case, fields.clone())))
    })
    .await
}

async fn feedback(
    req: HttpRequest,
    Auth(p): Auth,
    id: web::Path<String>,
    body: JsonBody,
) -> Result<HttpResponse> {
    let state = state(&req)?;
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
    let case = scope::find_in_queue(&state.db, &p, &id).await?;
    if case.initial_feedback_at.is_some() {
        return Err(Error::conflict(
            "initial-check feedback was already given for this complaint",
        ));
    }
    let decided = case
        .outcome
        .as_ref()
        .and_then(|o| o.get("decision"))
        .is_some();
    if !decided {
        return Err(Error::conflict(
            "the station has not decided this complaint yet",
        ));
    }
    let now = state.clock.now();
    act(
        &req,
        &p,
        &id,
        Action::InitialFeedback,
        json!({ "kind": "initial", "note": note }),
        |m, _| m.initial_feedback_at = Set(Some(now)),
    )
    .await
}

async fn close(
    req: HttpRequest,
    Auth(p): Auth,
    id: web::Path<String>,
    body: JsonBody,
) -> Result<HttpResponse> {
    let state = state(&req)?;
    let mut input = Input::new(&body.value)?;
    let result = input.parse::<CloseResult>("result", Required);
    if result == Some(CloseResult::NotAccepted) {
        input.error("result", "not_accepted is given through /decision");
    }
    let recovered = input.cents("recovered_cents", Optional);
    let note = input.text("note", Required, NOTE_MAX);
    input.finish()?;
    let fields = json!({
        "result": result,
        "recovered_cents": recovered.unwrap_or(0),
        "closing_note": note,
        "closed_at": views::time(&state.clock.now()),
        "closed_by": p.subject(),
    });
    let payload = fields.clone();
    act(&req, &p, &id, Action::Close, payload, |m, case| {
        m.outcome = Set(Some(station_outcome(case, fields.clone())))
    })
    .await
}
