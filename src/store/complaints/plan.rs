//! Working out a transition before it is written: the lifecycle table gives
//! the new status, the clocks and the report's facts follow, and the case
//! file gets the step's events.

use chrono::{DateTime, Utc};
use entity::complaint;
use sea_orm::{ActiveValue::Set, DatabaseTransaction, IntoActiveModel, TryIntoModel};
use serde_json::{Value, json};

use super::clocks::keep_deadlines;
use super::queries::{position_of, status_of};
use super::transition::{Deferred, Record};
use crate::clock::Now;
use crate::domain::lifecycle::{self, Action, EscalationReason, Status};
use crate::error::Result;
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
    events: Vec<entity::event::ActiveModel>,
    lapsing: Option<entity::extension::Model>,
}

#[allow(clippy::too_many_arguments)]
pub(super) async fn plan(
    db: &DatabaseTransaction,
    now: Now<'_>,
    actor: &Actor,
    case: &complaint::Model,
    action: Action,
    payload: Value,
    records: Vec<Record>,
    edit: impl FnOnce(&mut complaint::ActiveModel),
) -> Result<Planned> {
    let from = status_of(case)?;
    let to = lifecycle::next(position_of(case, now.at)?, action)?;
    let clock = now;
    let now = clock.at;
    // A case leaving the handler's hands takes its undecided extension
    // request with it, recorded in the same case-file write.
    let lapsing = if from.is_worked_by_handler() && !to.is_worked_by_handler() {
        negotiation::pending_extension(db, &case.id).await?
    } else {
        None
    };
    let mut records = records;
    if let Some(extension) = &lapsing {
        records.push(Record {
            kind: "extension_lapsed",
            payload: json!({
                "extension_id": extension.id,
                "working_days": extension.working_days,
                "reason": format!("the complaint became {to} before staff decided the request"),
            }),
        });
    }
    let mut model = case.clone().into_active_model();
    model.status = Set(to.as_str().into());
    model.version = Set(case.version + 1);
    // The case file's numbering moves with the case row, under its version check.
    let seq = case.event_count + 1;
    model.event_count = Set(case.event_count + 1 + records.len() as i32);
    model.updated_at = Set(now);
    let reason: Option<EscalationReason> = action.escalation_reason();
    // Escalated, or reopened by a dissatisfied follow-up: either way in the
    // station's queue now, for the reason the action gives.
    if matches!(to, Status::Escalated | Status::Reopened)
        && let Some(reason) = reason
    {
        model.escalation_reason = Set(Some(reason.as_str().into()));
        model.assignee_id = Set(None);
        if case.escalated_at.is_none() {
            model.escalated_at = Set(Some(now));
        }
    }
    edit(&mut model);
    let deadlines = keep_deadlines(&mut model, clock, Some(from), to, Some(action))?;
    facts::keep(
        &mut model,
        &deadlines,
        from,
        to,
        action,
        now,
        clock.policy.calendar(),
    );
    let detail = payload.clone();
    let mut payload = payload;
    if let (Some(reason), Value::Object(map)) =
        (reason.filter(|_| to == Status::Escalated), &mut payload)
    {
        map.insert("escalation_reason".into(), json!(reason));
    }
    let mut entries = vec![NewEvent {
        complaint_id: &case.id,
        at: now,
        actor,
        kind: action.name(),
        from: Some(from),
        to: Some(to),
        payload,
    }];
    entries.extend(records.into_iter().map(|record| NewEvent {
        complaint_id: &case.id,
        at: now,
        actor,
        kind: record.kind,
        from: None,
        to: None,
        payload: record.payload,
    }));
    let (events, head) = events::chained(entries, seq, case.event_hash.as_deref());
    model.event_hash = Set(Some(head));
    Ok(Planned {
        id: case.id.clone(),
        version: case.version,
        model,
        from,
        to,
        action,
        detail,
        now,
        events,
        lapsing,
    })
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
