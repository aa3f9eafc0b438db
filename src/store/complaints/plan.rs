//! Working out a transition before it is written: the lifecycle table gives
//! the new status, [`effects`] what the action does to the case row (each
//! action's effect written here, once), the clocks and the report's facts
//! follow, and the case file gets the step's events.

use chrono::{DateTime, Utc};
use entity::{complaint, event, extension};
use sea_orm::{ActiveValue::Set, DatabaseTransaction, IntoActiveModel, TryIntoModel};
use serde_json::{Value, json};

use super::clocks::keep_deadlines;
use super::queries::{deadlines_of, position_of, status_of};
use super::transition::{Deferred, Guard, Record, Transition};
use crate::clock::Now;
use crate::domain::deadlines::{self, Deadlines};
use crate::domain::lifecycle::{self, Action, Status};
use crate::error::{Error, Result};
use crate::store::events::{self, Actor, NewEvent};
use crate::store::{facts, negotiation, outbox};

/// A transition worked out and not yet written: the case row's new values
/// (only the changed columns set) and its case-file rows.
pub(super) struct Planned {
    pub(super) id: String,
    /// The version the change was worked out from.
    pub(super) version: i32,
    pub(super) model: complaint::ActiveModel,
    from: Status,
    to: Status,
    action: Action,
    detail: Value,
    now: DateTime<Utc>,
    events: Vec<event::ActiveModel>,
    lapsing: Option<extension::Model>,
}

/// Works out `request` against `case` (the request's case, or a fresher read
/// of it): fails when its guard or the lifecycle table refuses.
pub(super) async fn plan<G: Guard>(
    db: &DatabaseTransaction,
    now: Now<'_>,
    case: &complaint::Model,
    request: &Transition<'_, G>,
) -> Result<Planned> {
    (request.guard)(case)?;
    let action = request.action;
    let from = status_of(case)?;
    let to = lifecycle::next(position_of(case, now.at)?, action)?;
    let mut model = case.clone().into_active_model();
    model.status = Set(to.as_str().into());
    model.version = Set(case.version + 1);
    model.updated_at = Set(now.at);
    let mut clocks = deadlines_of(case)?;
    let mut records = request.records.clone();
    records.extend(effects(&mut model, &mut clocks, case, request, to, now)?);
    let lapsing = lapsing(db, case, from, to).await?;
    records.extend(lapsing.as_ref().map(|extension| lapsed(extension, to)));
    let deadlines = keep_deadlines(&mut model, now, Some(from), to, Some(action), clocks)?;
    let calendar = now.policy.calendar();
    facts::keep(&mut model, &deadlines, from, to, action, now.at, calendar);
    let detail = detail_of(case, request);
    let own = NewEvent {
        complaint_id: &case.id,
        at: now.at,
        actor: request.actor,
        kind: action.name(),
        from: Some(from),
        to: Some(to),
        payload: event_payload(&detail, action, to),
    };
    let events = append(&mut model, case, request.actor, own, records);
    Ok(Planned {
        id: case.id.clone(),
        version: case.version,
        model,
        from,
        to,
        action,
        detail,
        now: now.at,
        events,
        lapsing,
    })
}

/// What `request`'s action does to the case row and its clocks besides
/// moving it to `to`. Answers the event the effect records, if any.
fn effects<G>(
    model: &mut complaint::ActiveModel,
    clocks: &mut Deadlines,
    case: &complaint::Model,
    request: &Transition<'_, G>,
    to: Status,
    now: Now<'_>,
) -> Result<Option<Record>> {
    let (action, at) = (request.action, now.at);
    // Escalated, or reopened by a dissatisfied follow-up: either way in the
    // station's queue now, for the reason the action gives.
    if matches!(to, Status::Escalated | Status::Reopened)
        && let Some(reason) = action.escalation_reason()
    {
        model.escalation_reason = Set(Some(reason.as_str().into()));
        model.assignee_id = Set(None);
        if case.escalated_at.is_none() {
            model.escalated_at = Set(Some(at));
        }
    }
    match action {
        Action::Deliver => model.received_at = Set(Some(at)),
        Action::Acknowledge if case.phone_disclosed_at.is_none() => {
            model.phone_disclosed_at = Set(Some(at));
            return Ok(Some(disclosure(case)));
        }
        Action::Claim => model.assignee_id = Set(request.actor.id.clone()),
        Action::Release => model.assignee_id = Set(None),
        Action::InitialFeedback => model.initial_feedback_at = Set(Some(at)),
        Action::ReportSettlement | Action::ConsumerAccept => {
            let settlement = carried(&request.outcome, action, "outcome")?;
            model.outcome = Set(Some(settlement.clone()));
        }
        Action::Accept | Action::NotAccept | Action::Close => {
            let part = carried(&request.outcome, action, "outcome")?;
            model.outcome = Set(Some(station_outcome(case, part)));
        }
        // Open again; what it ended with stays in the case file (see [`detail_of`]).
        Action::Reopen => model.outcome = Set(None),
        Action::ApproveExtension => {
            let days = *carried(&request.extension_days, action, "working days")?;
            now.policy.extend(clocks, days).map_err(Error::conflict)?;
        }
        Action::WarnDeadline => {
            let clock = *carried(&request.warned, action, "clock")?;
            deadlines::mark_warned(clocks, clock, at);
        }
        _ => {}
    }
    Ok(None)
}

/// What the request carries for `action`; a request without it is a bug.
fn carried<'v, T>(value: &'v Option<T>, action: Action, what: &str) -> Result<&'v T> {
    value.as_ref().ok_or_else(|| {
        Error::unexpected(format!(
            "a {} transition was asked without its {what}",
            action.name()
        ))
    })
}

/// The station's part of the outcome, merged into what it recorded before.
fn station_outcome(case: &complaint::Model, part: &Value) -> Value {
    let mut outcome = match &case.outcome {
        Some(Value::Object(map)) if map.get("kind").and_then(Value::as_str) == Some("station") => {
            Value::Object(map.clone())
        }
        _ => json!({ "kind": "station" }),
    };
    if let (Value::Object(target), Value::Object(source)) = (&mut outcome, part) {
        target.extend(source.clone());
    }
    outcome
}

/// The first acknowledgement discloses the consumer's phone to the handler,
/// and the case file records that disclosure.
fn disclosure(case: &complaint::Model) -> Record {
    Record {
        kind: "contact_disclosed",
        payload: json!({
            "recipient": {"kind": "handler", "id": case.handler_id},
            "fields": ["consumer.phone"],
            "purpose": "the handler acknowledged the complaint and must contact the consumer",
        }),
    }
}

/// A case leaving the handler's hands takes its undecided extension request
/// with it, recorded in the same case-file write.
async fn lapsing(
    db: &DatabaseTransaction,
    case: &complaint::Model,
    from: Status,
    to: Status,
) -> Result<Option<extension::Model>> {
    if from.is_worked_by_handler() && !to.is_worked_by_handler() {
        negotiation::pending_extension(db, &case.id).await
    } else {
        Ok(None)
    }
}

fn lapsed(extension: &extension::Model, to: Status) -> Record {
    Record {
        kind: "extension_lapsed",
        payload: json!({
            "extension_id": extension.id,
            "working_days": extension.working_days,
            "reason": format!("the complaint became {to} before staff decided the request"),
        }),
    }
}

/// The step's payload with what its action adds: a reopened case keeps the
/// outcome it ended with in the case file, as the row forgets it.
fn detail_of<G>(case: &complaint::Model, request: &Transition<'_, G>) -> Value {
    let mut detail = request.payload.clone();
    if request.action == Action::Reopen
        && let Value::Object(map) = &mut detail
    {
        let previous = case.outcome.clone().unwrap_or(Value::Null);
        map.insert("previous_outcome".into(), previous);
    }
    detail
}

/// The payload of the step's own event: its detail, naming the reason of an
/// escalation.
fn event_payload(detail: &Value, action: Action, to: Status) -> Value {
    let mut payload = detail.clone();
    if let (Some(reason), Value::Object(map)) = (
        action
            .escalation_reason()
            .filter(|_| to == Status::Escalated),
        &mut payload,
    ) {
        map.insert("escalation_reason".into(), json!(reason));
    }
    payload
}

/// The step's own event and the records after it, chained onto the case
/// file; the case row's numbering and head move with them, under its version
/// check.
fn append(
    model: &mut complaint::ActiveModel,
    case: &complaint::Model,
    actor: &Actor,
    own: NewEvent<'_>,
    records: Vec<Record>,
) -> Vec<event::ActiveModel> {
    let at = own.at;
    let mut entries = vec![own];
    entries.extend(records.into_iter().map(|record| NewEvent {
        complaint_id: &case.id,
        at,
        actor,
        kind: record.kind,
        from: None,
        to: None,
        payload: record.payload,
    }));
    model.event_count = Set(case.event_count + entries.len() as i32);
    let (events, head) = events::chained(entries, case.event_count + 1, case.event_hash.as_deref());
    model.event_hash = Set(Some(head));
    events
}

/// What follows a planned transition's update: its case-file rows, the lapse
/// of an extension it ends, and its outbox rows.
pub(super) async fn finish(
    db: &DatabaseTransaction,
    planned: Planned,
    deferred: &mut Deferred,
) -> Result<complaint::Model> {
    deferred.events.extend(planned.events);
    if let Some(extension) = &planned.lapsing {
        negotiation::lapse_extension(db, &extension.id, planned.now).await?;
    }
    let updated = planned.model.try_into_model()?;
    let change = outbox::Change {
        case: &updated,
        from: Some(planned.from),
        to: planned.to,
        action: Some(planned.action),
        detail: &planned.detail,
        at: planned.now,
    };
    deferred
        .outbox
        .extend(outbox::rows_of_change(db, change).await?);
    Ok(updated)
}
