//! Intake (SPEC §13): a new complaint is routed and written as a case with its
//! first event and its outbox rows.

use chrono::{DateTime, Utc};
use entity::{complaint, handler};
use sea_orm::{ActiveValue::Set, DatabaseConnection, TryIntoModel};
use serde_json::{Value, json};

use super::clocks::keep_deadlines;
use super::queries::by_external_ref;
use crate::clock::Now;
use crate::domain::case_file;
use crate::domain::deadlines::Deadlines;
use crate::domain::lifecycle::{self, EscalationReason, Status};
use crate::domain::routing::{self, Route};
use crate::error::{Error, Result};
use crate::store::events::{self, Actor, NewEvent};
use crate::store::intake_writer::{IntakeRows, IntakeWriter, KeyedAnswer};
use crate::store::{directory, new_id, outbox};

/// A validated intake (SPEC §13).
#[derive(Debug, Clone)]
pub struct NewComplaint {
    pub external_ref: String,
    pub channel: String,
    pub consumer_name: String,
    pub consumer_phone: String,
    pub merchant_credit_code: String,
    pub merchant_name: String,
    pub category: String,
    pub problem: String,
    pub description: String,
    pub demand: String,
    pub amount_cents: i64,
    pub occurred_at: DateTime<Utc>,
    pub dispatched_at: Option<DateTime<Utc>>,
    pub station_code: Option<String>,
    pub consents: Value,
    pub odr_consent: bool,
}

fn duplicate(existing: &complaint::Model) -> Error {
    Error::Conflict {
        detail: format!(
            "external_ref {} was already submitted as complaint {}",
            existing.external_ref, existing.id
        ),
        extra: json!({ "existing_id": existing.id }),
    }
}

/// An intake's `Idempotency-Key`, and its 201 body as made from the case.
pub struct Keyed<'a> {
    pub key: &'a str,
    pub body: &'a (dyn Fn(&complaint::Model) -> String + Sync),
}

/// Accepts a complaint: routes it and writes the case with its first event
/// and its outbox rows, committed (with whatever other intakes arrived at the
/// same moment) before this returns. With `keyed`, the key's answer is
/// committed with them and returned.
pub async fn intake(
    db: &DatabaseConnection,
    writer: &IntakeWriter,
    partner_id: &str,
    new: NewComplaint,
    default_station: Option<&str>,
    clock: Now<'_>,
    keyed: Option<Keyed<'_>>,
) -> Result<(complaint::Model, Option<String>)> {
    let (case, mut rows) =
        prepare_intake(db, writer, partner_id, new, default_station, clock).await?;
    rows.answer = keyed.map(|k| KeyedAnswer {
        partner_id: partner_id.to_string(),
        key: k.key.to_string(),
        status: 201,
        body: (k.body)(&case),
    });
    let body = rows.answer.as_ref().map(|a| a.body.clone());
    if let Err(err) = writer.write(rows).await {
        // The same external_ref was taken in already: name that complaint.
        if let Some(existing) = by_external_ref(db, partner_id, &case.external_ref).await? {
            return Err(duplicate(&existing));
        }
        return Err(err);
    }
    Ok((case, body))
}

/// Routes an intake and makes the rows it writes, without writing them.
pub async fn prepare_intake(
    db: &DatabaseConnection,
    writer: &IntakeWriter,
    partner_id: &str,
    new: NewComplaint,
    default_station: Option<&str>,
    clock: Now<'_>,
) -> Result<(complaint::Model, IntakeRows)> {
    // A duplicate external_ref is caught by the unique index when inserting.
    let placed = place(db, writer, &new, default_station).await?;
    // Stored to the microsecond, as read back.
    let now = case_file::stored_time(clock.at);
    let id = new_id();
    let actor = Actor {
        kind: "partner",
        id: Some(partner_id.to_string()),
    };
    let first = NewEvent {
        complaint_id: &id,
        at: now,
        actor: &actor,
        kind: "intake",
        from: None,
        to: Some(placed.status),
        payload: json!({
            "external_ref": new.external_ref,
            "handler_id": placed.handler_id,
            "station_code": placed.station_code,
            "escalation_reason": placed.reason,
        }),
    };
    let (events, head) = events::chained(vec![first], 1, None);
    let mut model = new_case(id.clone(), partner_id, new, &placed, now);
    model.event_hash = Set(Some(head));
    keep_deadlines(
        &mut model,
        clock,
        None,
        placed.status,
        None,
        Deadlines::new(),
    )?;
    let case = model.clone().try_into_model()?;
    let handler = placed
        .handlers
        .iter()
        .find(|h| Some(&h.id) == case.handler_id.as_ref());
    let change = outbox::Change {
        case: &case,
        from: None,
        to: placed.status,
        action: None,
        detail: &Value::Null,
        at: now,
    };
    let outbox = outbox::rows_for(db, change, handler).await?;
    let rows = IntakeRows {
        complaint: model,
        events,
        outbox,
        answer: None,
    };
    Ok((case, rows))
}

/// Where a new complaint goes: its handler or its station, and the status it
/// starts in there.
struct Placed {
    status: Status,
    reason: Option<EscalationReason>,
    handler_id: Option<String>,
    station_code: String,
    /// The routing candidates' handler rows (the outbox tells the chosen one).
    handlers: Vec<handler::Model>,
}

async fn place(
    db: &DatabaseConnection,
    writer: &IntakeWriter,
    new: &NewComplaint,
    default_station: Option<&str>,
) -> Result<Placed> {
    if let Some(code) = &new.station_code
        && !writer.station_exists(db, code).await?
    {
        return Err(Error::field("station_code", "no station has this code"));
    }
    let (candidates, handlers) = writer.routing.candidates(&new.merchant_credit_code).await?;
    let mut route = routing::route(
        &new.merchant_credit_code,
        new.odr_consent,
        &candidates,
        new.station_code.as_deref(),
        default_station,
    );
    // Nobody placed the case: the sole root station takes it, if there is one.
    if let Route::Station {
        station_code: station @ None,
        ..
    } = &mut route
    {
        *station = directory::sole_root_station(db).await?;
    }
    let (status, reason) = lifecycle::initial(&route);
    let (handler_id, station_code) = match route {
        Route::Handler {
            handler_id,
            station_code,
        } => (Some(handler_id), station_code),
        Route::Station {
            station_code: Some(code),
            ..
        } => (None, code),
        Route::Station {
            station_code: None, ..
        } => {
            return Err(Error::field(
                "station_code",
                "the merchant is not enrolled and no station is configured to take the case; name one",
            ));
        }
    };
    Ok(Placed {
        status,
        reason,
        handler_id,
        station_code,
        handlers,
    })
}

/// The case row of a new complaint placed as `placed`, taken in at `now`.
fn new_case(
    id: String,
    partner_id: &str,
    new: NewComplaint,
    placed: &Placed,
    now: DateTime<Utc>,
) -> complaint::ActiveModel {
    complaint::ActiveModel {
        id: Set(id),
        partner_id: Set(partner_id.to_string()),
        external_ref: Set(new.external_ref),
        channel: Set(new.channel),
        consumer_name: Set(new.consumer_name),
        consumer_phone: Set(new.consumer_phone),
        merchant_credit_code: Set(new.merchant_credit_code),
        merchant_name: Set(new.merchant_name),
        category: Set(new.category),
        problem: Set(new.problem),
        description: Set(new.description),
        demand: Set(new.demand),
        amount_cents: Set(new.amount_cents),
        occurred_at: Set(case_file::stored_time(new.occurred_at)),
        dispatched_at: Set(case_file::stored_time(new.dispatched_at.unwrap_or(now))),
        received_at: Set(None),
        status: Set(placed.status.as_str().into()),
        handler_id: Set(placed.handler_id.clone()),
        station_code: Set(placed.station_code.clone()),
        consents: Set(new.consents),
        deadlines: Set(json!({})),
        next_action_at: Set(None),
        station_overdue: Set(false),
        deadlines_provisional: Set(false),
        receive_delayed: Set(false),
        ack_on_time: Set(None),
        settled_at: Set(None),
        settled_cents: Set(None),
        settle_working_seconds: Set(None),
        decision: Set(None),
        decision_on_time: Set(None),
        closed_at: Set(None),
        close_result: Set(None),
        closed_cents: Set(None),
        completed_on_time: Set(None),
        decision_overdue: Set(false),
        feedback_overdue: Set(false),
        closing_overdue: Set(false),
        escalation_reason: Set(placed.reason.map(|r| r.as_str().to_string())),
        escalated_at: Set(placed.reason.map(|_| now)),
        assignee_id: Set(None),
        phone_disclosed_at: Set(None),
        initial_feedback_at: Set(None),
        outcome: Set(None),
        version: Set(1),
        event_count: Set(1),
        event_hash: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    }
}
