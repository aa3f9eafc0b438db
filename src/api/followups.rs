//! Follow-up visits (回访, SPEC §8): the month's sample in the staff member's
//! station subtree, and the consumer's answer.

use actix_web::http::Method;
use actix_web::{HttpRequest, HttpResponse, web};

use super::extract::{Auth, JsonBody, Query, page, state};
use super::guard::Callers;
use super::input::{Input, Optional, Required};
use super::{Route, route};
use crate::domain::report::{FollowupStatus, Month, Satisfaction};
use crate::error::Result;
use crate::store::followups::{self, Answer};
use crate::views;

pub fn routes() -> Vec<Route> {
    vec![
        route(Method::GET, "/v1/followups", Callers::STAFF, list),
        route(Method::GET, "/v1/followups/{id}", Callers::STAFF, get),
        route(Method::POST, "/v1/followups/{id}", Callers::STAFF, answer),
    ]
}

const NOTE_MAX: usize = 2000;

async fn list(req: HttpRequest, Auth(p): Auth) -> Result<HttpResponse> {
    let state = state(&req)?;
    let q = Query::parse(&req, &["month", "status"])?;
    let month = q.filter::<Month>("month")?;
    let status = q.filter::<FollowupStatus>("status")?;
    let rows = followups::page(
        &state.db,
        &p,
        month,
        status,
        q.after.as_deref(),
        q.limit + 1,
    )
    .await?;
    Ok(HttpResponse::Ok().json(page(
        rows,
        q.limit,
        |(f, _)| f.id.clone(),
        |(f, case)| views::followup(f, case.as_ref(), &p),
    )))
}

async fn get(req: HttpRequest, Auth(p): Auth, id: web::Path<String>) -> Result<HttpResponse> {
    let (found, case) = followups::find(&state(&req)?.db, &p, &id).await?;
    Ok(HttpResponse::Ok().json(views::followup(&found, case.as_ref(), &p)))
}

async fn answer(
    req: HttpRequest,
    Auth(p): Auth,
    id: web::Path<String>,
    body: JsonBody,
) -> Result<HttpResponse> {
    let state = state(&req)?;
    // In scope before the body is read: out of scope is 404 whatever the body.
    followups::find(&state.db, &p, &id).await?;
    let mut input = Input::new(&body.value)?;
    let satisfaction = input.parse::<Satisfaction>("satisfaction", Required);
    let note = input.text("note", Optional, NOTE_MAX);
    input.finish()?;
    let answer = Answer {
        satisfaction: Input::got(satisfaction, "satisfaction")?,
        note,
    };
    let (answered, case) = followups::answer(&state.db, state.now(), &p, &id, answer).await?;
    Ok(HttpResponse::Ok().json(views::followup(&answered, Some(&case), &p)))
}
