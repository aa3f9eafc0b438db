//! The partner's API: intake, its own submissions, consumer responses and
//! withdrawals; and the case file for every role in scope.

use actix_web::http::Method;
use actix_web::{HttpMessage, HttpRequest, HttpResponse, web};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::extract::{Auth, JsonBody, Query, page, state};
use super::guard::Callers;
use super::guard::{Admitted, HeldKey};
use super::input::{Input, Optional, Required};
use super::{Route, route};
use crate::auth::Principal;
use crate::domain::credit_code::CreditCode;
use crate::domain::lifecycle::{Action, Status};
use crate::domain::phone::{Phone, mask_phone};
use crate::domain::vocabulary::{Category, ConsumerDecision, Problem};
use crate::error::{Error, Result};
use crate::store::complaints::{self, NewComplaint, Transition};
use crate::store::events::Actor;
use crate::store::scope::CaseFilter;
use crate::store::{self, Complaint, idempotency, negotiation, scope};
use crate::views;

pub fn routes() -> Vec<Route> {
    vec![
        route(Method::POST, "/v1/complaints", Callers::PARTNER, intake),
        route(
            Method::GET,
            "/v1/complaints",
            Callers::PARTNER_OR_ADMIN,
            list,
        ),
        route(
            Method::GET,
            "/v1/complaints/{id}",
            Callers::PARTNER_OR_ADMIN,
            get,
        ),
        route(
            Method::POST,
            "/v1/complaints/{id}/consumer-response",
            Callers::PARTNER,
            consumer_response,
        ),
        route(
            Method::POST,
            "/v1/complaints/{id}/withdraw",
            Callers::PARTNER,
            withdraw,
        ),
        route(
            Method::GET,
            "/v1/complaints/{id}/events",
            Callers::ANY_ROLE,
            events,
        ),
    ]
}

const DESCRIPTION_MAX: usize = 2000;
const DEMAND_MAX: usize = 500;
const NOTE_MAX: usize = 1000;

/// Reads and checks an intake body (SPEC §13) without touching anything.
fn read_intake(body: &Value) -> Result<NewComplaint> {
    let mut input = Input::new(body)?;
    let external_ref = input.text("external_ref", Required, 64);
    let channel = input.text("channel", Required, 32);
    if let Some(channel) = &channel
        && !channel
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        input.error("channel", "may contain only letters, digits, '_' and '-'");
    }
    let consumer = input.object("consumer", Required, &[], |c| {
        let name = c.text("name", Required, 50);
        let phone = c.parse_with("phone", Required, Phone::parse);
        Some((name?, phone?))
    });
    let merchant = input.object("merchant", Required, &[], |m| {
        let code = m.parse_with("credit_code", Required, CreditCode::parse);
        let name = m.text("name", Required, 100);
        Some((code?, name?))
    });
    let category = input.parse::<Category>("category", Required);
    let problem = input.parse::<Problem>("problem", Required);
    let description = input.text("description", Required, DESCRIPTION_MAX);
    let demand = input.text("demand", Required, DEMAND_MAX);
    let amount_cents = input.cents("amount_cents", Required);
    let occurred_at = input.time("occurred_at", Required);
    let dispatched_at = input.time("dispatched_at", Optional);
    let station_code = input.text("station_code", Optional, 32);
    let consents = input
        .object("consents", Optional, &[], |c| {
            Some((
                c.boolean("odr", Optional).unwrap_or(true),
                c.boolean("publish", Optional).unwrap_or(false),
                c.boolean("mediation", Optional).unwrap_or(false),
            ))
        })
        .unwrap_or((true, false, false));
    if let (Some(occurred), Some(dispatched)) = (occurred_at, dispatched_at)
        && occurred > dispatched
    {
        input.error("occurred_at", "must not be later than dispatched_at");
    }
    input.finish()?;
    let (consumer_name, phone) = Input::got(consumer, "consumer")?;
    let (code, merchant_name) = Input::got(merchant, "merchant")?;
    Ok(NewComplaint {
        external_ref: Input::got(external_ref, "external_ref")?,
        channel: Input::got(channel, "channel")?,
        consumer_name,
        consumer_phone: phone.as_str().to_string(),
        merchant_credit_code: code.as_str().to_string(),
        merchant_name,
        category: Input::got(category, "category")?.as_str().into(),
        problem: Input::got(problem, "problem")?.as_str().into(),
        description: Input::got(description, "description")?,
        demand: Input::got(demand, "demand")?,
        amount_cents: Input::got(amount_cents, "amount_cents")?,
        occurred_at: Input::got(occurred_at, "occurred_at")?,
        dispatched_at,
        station_code,
        odr_consent: consents.0,
        consents: json!({"odr": consents.0, "publish": consents.1, "mediation": consents.2}),
    })
}

/// `Idempotency-Key`: 1–255 visible ASCII characters.
fn idempotency_key(req: &HttpRequest) -> Result<Option<String>> {
    let Some(value) = req.headers().get("Idempotency-Key") else {
        return Ok(None);
    };
    match value.to_str() {
        Ok(key)
            if !key.is_empty() && key.len() <= 255 && key.bytes().all(|b| b.is_ascii_graphic()) =>
        {
            Ok(Some(key.to_string()))
        }
        _ => Err(Error::field(
            "Idempotency-Key",
            "must be 1 to 255 visible ASCII characters",
        )),
    }
}

async fn intake(req: HttpRequest, Auth(p): Auth, body: JsonBody) -> Result<HttpResponse> {
    let partner_id = p.partner_id()?.to_string();
    let state = state(&req)?;
    let key = idempotency_key(&req)?;
    let new = read_intake(&body.value)?;
    if let Some(key) = &key {
        // serde_json maps keep keys sorted, so the fingerprint ignores layout.
        let hash = hex(&Sha256::digest(body.value.to_string().as_bytes()));
        if let idempotency::Claim::Replay { status, body } = idempotency::claim(
            &state.db,
            &partner_id,
            key,
            &hash,
            Admitted::at(&req),
            chrono::Duration::seconds(
                i64::try_from(state.config.request_timeout_seconds).map_err(Error::internal)?,
            ),
        )
        .await?
        {
            return Ok(HttpResponse::build(
                actix_web::http::StatusCode::from_u16(status).map_err(Error::internal)?,
            )
            .content_type("application/json")
            .insert_header(("Idempotent-Replayed", "true"))
            .body(body));
        }
        // Freed by the guard if the request times out before it answers.
        req.extensions_mut().insert(HeldKey {
            partner_id: partner_id.clone(),
            key: key.clone(),
        });
    }
    let render = |case: &Complaint| views::complaint(case, &p).to_string();
    let result = complaints::intake(
        &state.db,
        &state.intake,
        &partner_id,
        new,
        state.config.default_station.as_deref(),
        state.now(),
        key.as_deref()
            .map(|key| complaints::Keyed { key, body: &render }),
    )
    .await;
    match (result, &key) {
        (Ok((case, stored)), _) => {
            // Enough for an operator to find the case a consumer calls about,
            // never the number itself (SPEC: phone numbers are masked in logs).
            tracing::info!(
                complaint_id = %case.id,
                partner_id = %partner_id,
                consumer_phone = %mask_phone(&case.consumer_phone),
                status = %case.status,
                "complaint taken in"
            );
            // A keyed answer was committed with the case.
            req.extensions_mut().remove::<HeldKey>();
            let body = stored.unwrap_or_else(|| render(&case));
            Ok(HttpResponse::Created()
                .content_type("application/json")
                .insert_header(("Location", format!("/v1/complaints/{}", case.id)))
                .body(body))
        }
        (Err(err), Some(key)) => {
            idempotency::release(&state.db, &partner_id, key).await?;
            req.extensions_mut().remove::<HeldKey>();
            Err(err)
        }
        (Err(err), None) => Err(err),
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn partner_or_admin(p: &Principal) -> Result<()> {
    match p {
        Principal::Partner { .. } | Principal::Admin { .. } => Ok(()),
        _ => Err(Error::Forbidden("this route is for partner clients")),
    }
}

async fn list(req: HttpRequest, Auth(p): Auth) -> Result<HttpResponse> {
    partner_or_admin(&p)?;
    let state = state(&req)?;
    let q = Query::parse(&req, &["status", "external_ref"])?;
    let external_ref = q.params.get("external_ref");
    if external_ref.is_some_and(|r| r.chars().count() > 64) {
        return Err(Error::field(
            "external_ref",
            "must be at most 64 characters",
        ));
    }
    let filter = CaseFilter {
        status: q.filter::<Status>("status")?,
        external_ref: external_ref.cloned(),
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
    partner_or_admin(&p)?;
    let state = state(&req)?;
    let case = scope::find(&state.db, &p, &id).await?;
    Ok(HttpResponse::Ok().json(views::complaint(&case, &p)))
}

async fn consumer_response(
    req: HttpRequest,
    Auth(p): Auth,
    id: web::Path<String>,
    body: JsonBody,
) -> Result<HttpResponse> {
    p.partner_id()?;
    let state = state(&req)?;
    let case = scope::find(&state.db, &p, &id).await?;
    let mut input = Input::new(&body.value)?;
    let decision = input.parse::<ConsumerDecision>("decision", Required);
    let proposal_id = input.text("proposal_id", Optional, 64);
    let comment = input.text("comment", Optional, NOTE_MAX);
    input.finish()?;
    let decision = Input::got(decision, "decision")?;
    let now = state.now();
    let actor = Actor::from(&p);
    let payload = json!({ "decision": decision, "proposal_id": proposal_id, "comment": comment });
    let updated = match decision {
        ConsumerDecision::Accept | ConsumerDecision::Reject => {
            negotiation::answer_proposal(
                &state.db,
                now,
                &actor,
                &case,
                decision == ConsumerDecision::Accept,
                proposal_id.as_deref(),
                payload,
            )
            .await?
        }
        ConsumerDecision::Object => {
            // Only a settlement the handler reported, inside its objection
            // window: the lifecycle table decides (store::complaints::position_of).
            let request = Transition::new(&actor, &case, Action::ConsumerObject).payload(payload);
            complaints::transition(&state.db, now, request).await?
        }
        ConsumerDecision::Escalate => {
            let request = Transition::new(&actor, &case, Action::ConsumerEscalate).payload(payload);
            complaints::transition(&state.db, now, request).await?
        }
    };
    Ok(HttpResponse::Ok().json(views::complaint(&updated, &p)))
}

async fn withdraw(
    req: HttpRequest,
    Auth(p): Auth,
    id: web::Path<String>,
    body: JsonBody,
) -> Result<HttpResponse> {
    p.partner_id()?;
    let state = state(&req)?;
    let case = scope::find(&state.db, &p, &id).await?;
    let mut input = Input::new(&body.value)?;
    let reason = input.text("reason", Optional, NOTE_MAX);
    input.finish()?;
    let actor = Actor::from(&p);
    let request =
        Transition::new(&actor, &case, Action::Withdraw).payload(json!({ "reason": reason }));
    let updated = complaints::transition(&state.db, state.now(), request).await?;
    Ok(HttpResponse::Ok().json(views::complaint(&updated, &p)))
}

async fn events(req: HttpRequest, Auth(p): Auth, id: web::Path<String>) -> Result<HttpResponse> {
    let state = state(&req)?;
    let q = Query::parse(&req, &[])?;
    let case = scope::find(&state.db, &p, &id).await?;
    let after = q.after_number::<i32>()?.unwrap_or(0);
    let rows = store::events::page(&state.db, &case.id, after, q.limit + 1).await?;
    Ok(HttpResponse::Ok().json(page(rows, q.limit, |e| e.seq.to_string(), views::event)))
}
