//! The station's handling of a case (SPEC §4): claim, release, decision,
//! initial-check feedback and closing. The API and the demo both come here,
//! so the outcome a station leaves on a case has one shape.

use entity::complaint;
use sea_orm::DatabaseConnection;
use serde_json::{Value, json};

use super::complaints::{self, Record, Transition};
use super::events::Actor;
use crate::clock::Now;
use crate::clock::beijing;
use crate::domain::lifecycle::{Action, CloseResult};
use crate::error::{Error, Result};

pub enum Step {
    /// The staff member acting takes the case.
    Claim,
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

/// A decision's action, and the station's part of the outcome it records.
fn decision(accept: bool, grounds: Option<String>, at: &str, by: Option<&str>) -> (Action, Value) {
    if accept {
        let part = json!({ "decision": "accepted", "decided_at": at, "decided_by": by });
        return (Action::Accept, part);
    }
    let part = json!({
        "decision": "not_accepted",
        "grounds": grounds,
        "result": CloseResult::NotAccepted,
        "recovered_cents": 0,
        "decided_at": at,
        "decided_by": by,
        "closed_at": at,
    });
    (Action::NotAccept, part)
}

/// Runs one station step on `case` as `actor` (a staff member's id in
/// `actor.id`). Every check is a guard of the transition, so it holds for the
/// case as it stands when the step is written, not only as it was first read.
/// What a step records as the station's part of the outcome is also its
/// case-file payload.
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
    let step_on = |action| Transition::new(actor, case, action);
    match step {
        Step::Claim => complaints::transition(db, now, step_on(Action::Claim)).await,
        Step::Release => {
            let request = step_on(Action::Release).guard(held);
            complaints::transition(db, now, request).await
        }
        Step::Decide { accept, grounds } => {
            let (action, part) = decision(accept, grounds, &at, by.as_deref());
            let request = step_on(action).payload(part.clone()).outcome(part);
            complaints::transition(db, now, request.guard(held)).await
        }
        Step::InitialFeedback { note } => {
            let guard = |current: &complaint::Model| {
                held(current)?;
                awaits_initial_feedback(current)
            };
            let request = step_on(Action::InitialFeedback)
                .payload(json!({ "kind": "initial", "note": note }))
                .guard(guard);
            complaints::transition(db, now, request).await
        }
        Step::Close {
            result,
            recovered_cents,
            note,
        } => {
            let part = json!({
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
            let request = step_on(Action::Close)
                .payload(part.clone())
                .outcome(part)
                .records(notice);
            complaints::transition(db, now, request.guard(held)).await
        }
    }
}
