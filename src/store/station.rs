//! The station's handling of a case (SPEC §4): claim, release, decision,
//! initial-check feedback and closing. The API and the demo both come here,
//! so the outcome a station leaves on a case has one shape.

use entity::complaint;
use sea_orm::{ActiveValue::Set, DatabaseConnection};
use serde_json::{Value, json};

use super::complaints::{self, Record};
use super::events::Actor;
use crate::clock::Now;
use crate::clock::beijing;
use crate::domain::lifecycle::{Action, CloseResult};
use crate::error::{Error, Result};

pub enum Step {
    Claim {
        user_id: String,
    },
    Release,
    Decide {
        accept: bool,
        grounds: Option<String>,
    },
    InitialFeedback {
        note: String,
    },
    Close {
        result: CloseResult,
        recovered_cents: i64,
        note: String,
    },
}

/// The station's part of the outcome, merged into what is already there.
fn merged(case: &complaint::Model, fields: &Value) -> Value {
    let mut outcome = match &case.outcome {
        Some(Value::Object(map)) if map.get("kind").and_then(Value::as_str) == Some("station") => {
            Value::Object(map.clone())
        }
        _ => json!({ "kind": "station" }),
    };
    if let (Value::Object(target), Value::Object(source)) = (&mut outcome, fields) {
        target.extend(source.clone());
    }
    outcome
}

fn decided(case: &complaint::Model) -> bool {
    case.outcome
        .as_ref()
        .and_then(|o| o.get("decision"))
        .is_some()
}

/// Only the staff member who claimed a case acts on it.
fn held_by(actor: &Actor) -> impl Fn(&complaint::Model) -> Result<()> + '_ {
    move |case| match (&case.assignee_id, &actor.id) {
        (Some(assignee), Some(me)) if assignee != me => Err(Error::Conflict {
            detail: "another staff member has claimed this complaint".into(),
            extra: json!({ "assignee_id": assignee }),
        }),
        _ => Ok(()),
    }
}

/// Initial-check feedback: once, on a case the station has decided.
fn awaits_initial_feedback(case: &complaint::Model) -> Result<()> {
    if case.initial_feedback_at.is_some() {
        return Err(Error::conflict(
            "initial-check feedback was already given for this complaint",
        ));
    }
    if !decided(case) {
        return Err(Error::conflict(
            "the station has not decided this complaint yet",
        ));
    }
    Ok(())
}

/// Runs one station step on `case` as `actor` (a staff member's id in
/// `actor.id`). Every check is a guard of the transition, so it holds for the
/// case as it stands when the step is written, not only as it was first read.
pub async fn act(
    db: &DatabaseConnection,
    now: Now<'_>,
    actor: &Actor,
    case: &complaint::Model,
    step: Step,
) -> Result<complaint::Model> {
    let at = beijing(&now.at);
    let by = actor.id.clone();
    let held = held_by(actor);
    match step {
        Step::Claim { user_id } => {
            let edit = move |m: &mut complaint::ActiveModel, _: &complaint::Model| {
                m.assignee_id = Set(Some(user_id.clone()))
            };
            complaints::transition(
                db,
                now,
                actor,
                case,
                Action::Claim,
                json!({}),
                complaints::unguarded,
                edit,
            )
            .await
        }
        Step::Release => {
            let edit =
                |m: &mut complaint::ActiveModel, _: &complaint::Model| m.assignee_id = Set(None);
            complaints::transition(db, now, actor, case, Action::Release, json!({}), held, edit)
                .await
        }
        Step::Decide { accept, grounds } => {
            let (action, fields) = if accept {
                (
                    Action::Accept,
                    json!({ "decision": "accepted", "decided_at": at, "decided_by": by }),
                )
            } else {
                let fields = json!({
                    "decision": "not_accepted",
                    "grounds": grounds,
                    "result": CloseResult::NotAccepted,
                    "recovered_cents": 0,
                    "decided_at": at,
                    "decided_by": by,
                    "closed_at": at,
                });
                (Action::NotAccept, fields)
            };
            let edit = |m: &mut complaint::ActiveModel, current: &complaint::Model| {
                m.outcome = Set(Some(merged(current, &fields)))
            };
            complaints::transition(db, now, actor, case, action, fields.clone(), held, edit).await
        }
        Step::InitialFeedback { note } => {
            let payload = json!({ "kind": "initial", "note": note });
            let guard = |current: &complaint::Model| {
                held(current)?;
                awaits_initial_feedback(current)
            };
            let edit = |m: &mut complaint::ActiveModel, _: &complaint::Model| {
                m.initial_feedback_at = Set(Some(now.at))
            };
            complaints::transition(
                db,
                now,
                actor,
                case,
                Action::InitialFeedback,
                payload,
                guard,
                edit,
            )
            .await
        }
        Step::Close {
            result,
            recovered_cents,
            note,
        } => {
            let fields = json!({
                "result": result,
                "recovered_cents": recovered_cents,
                "closing_note": note,
                "closed_at": at,
                "closed_by": by,
            });
            // SPEC §4: a terminated mediation leaves its notice in the case file.
            let notice = (result == CloseResult::MediationTerminated).then(|| Record {
                kind: "termination_notice",
                payload: json!({ "notice": note }),
            });
            let edit = |m: &mut complaint::ActiveModel, current: &complaint::Model| {
                m.outcome = Set(Some(merged(current, &fields)))
            };
            complaints::transition_recording(
                db,
                now,
                actor,
                case,
                Action::Close,
                fields.clone(),
                notice.into_iter().collect(),
                held,
                edit,
            )
            .await
        }
    }
}
