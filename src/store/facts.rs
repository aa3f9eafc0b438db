//! The facts the monthly report counts (SPEC §8), kept on the case row by the
//! one transition path as each change happens: when it was received late, was
//! acknowledged in time, settled, decided, closed, and which station clocks
//! ran out. The report is then SQL aggregates over these columns.

use chrono::{DateTime, Utc};
use entity::complaint;
use sea_orm::ActiveValue::{self, Set};
use serde_json::Value;

use crate::domain::calendar::{Calendar, beijing_date};
use crate::domain::deadlines::{Clock, Deadlines, State};
use crate::domain::lifecycle::{Action, CloseResult, Status};

fn current<T: Clone + Into<sea_orm::Value>>(value: &ActiveValue<T>) -> Option<T> {
    match value {
        ActiveValue::Set(v) | ActiveValue::Unchanged(v) => Some(v.clone()),
        ActiveValue::NotSet => None,
    }
}

fn recovered(outcome: &Option<Value>) -> i64 {
    outcome
        .as_ref()
        .and_then(|o| o.get("recovered_cents"))
        .and_then(Value::as_i64)
        .unwrap_or(0)
}

/// Whether a clock ended in time by its own goal (`Some(true)`), ran out
/// (`Some(false)`), or neither yet.
fn kept(deadlines: &Deadlines, clock: Clock, goal: &[&str]) -> Option<bool> {
    let deadline = deadlines.get(&clock)?;
    match deadline.state {
        State::Missed => Some(false),
        State::Met => deadline
            .ended_by
            .as_deref()
            .is_some_and(|by| goal.contains(&by))
            .then_some(true),
        State::Pending | State::Provisional => None,
    }
}

fn missed(deadlines: &Deadlines, clock: Clock) -> bool {
    deadlines
        .get(&clock)
        .is_some_and(|d| d.state == State::Missed)
}

/// The station clocks that ran out, from the case's deadlines as they now stand.
pub fn keep_overdue(model: &mut complaint::ActiveModel, deadlines: &Deadlines) {
    model.decision_overdue = Set(missed(deadlines, Clock::DecisionBy));
    model.feedback_overdue = Set(missed(deadlines, Clock::InitialFeedbackBy));
    model.closing_overdue = Set(missed(deadlines, Clock::MediationBy));
    if let Some(on_time) = kept(deadlines, Clock::AckBy, &["acknowledge"]) {
        model.ack_on_time = Set(Some(on_time));
    }
}

/// What `action` (from `from` to `to`, at `now`) adds to or takes from the
/// report's facts. Runs after the action's own effects and after its deadlines
/// moved, so it reads the case as the change leaves it.
pub fn keep(
    model: &mut complaint::ActiveModel,
    deadlines: &Deadlines,
    from: Status,
    to: Status,
    action: Action,
    now: DateTime<Utc>,
    calendar: &Calendar,
) {
    let outcome = current(&model.outcome).flatten();
    match action {
        Action::Deliver => {
            if let (Some(Some(received)), Some(dispatched)) =
                (current(&model.received_at), current(&model.dispatched_at))
            {
                model.receive_delayed = Set(beijing_date(received) > beijing_date(dispatched));
            }
        }
        Action::ReportSettlement | Action::ConsumerAccept if to == Status::Settled => {
            model.settled_at = Set(Some(now));
            model.settled_cents = Set(Some(recovered(&outcome)));
            let received = current(&model.received_at).flatten().unwrap_or(now);
            model.settle_working_seconds =
                Set(Some(calendar.working_seconds_between(received, now)));
        }
        // An objected settlement did not settle the case, nor did one the
        // consumer withdrew from while it could still be objected to.
        Action::ConsumerObject | Action::Withdraw if from == Status::Settled => {
            model.settled_at = Set(None);
            model.settled_cents = Set(None);
            model.settle_working_seconds = Set(None);
        }
        Action::Accept => {
            model.decision = Set(Some("accepted".into()));
            model.decision_on_time = Set(kept(deadlines, Clock::DecisionBy, &["accept"]));
        }
        Action::NotAccept => {
            let on_time = kept(deadlines, Clock::DecisionBy, &["not_accept"]);
            model.decision = Set(Some("not_accepted".into()));
            model.decision_on_time = Set(on_time);
            model.closed_at = Set(Some(now));
            model.close_result = Set(Some(CloseResult::NotAccepted.as_str().into()));
            model.closed_cents = Set(Some(0));
            model.completed_on_time = Set(on_time);
        }
        Action::Close => {
            let result = outcome
                .as_ref()
                .and_then(|o| o.get("result"))
                .and_then(Value::as_str)
                .map(str::to_string);
            model.closed_at = Set(Some(now));
            model.close_result = Set(result);
            model.closed_cents = Set(Some(recovered(&outcome)));
            model.completed_on_time = Set(kept(deadlines, Clock::MediationBy, &["close"]));
        }
        // Back at the station, undecided: the station's part starts over
        // (its earlier decision and closing stay in the case file).
        Action::Reopen => {
            model.decision = Set(None);
            model.decision_on_time = Set(None);
            model.closed_at = Set(None);
            model.close_result = Set(None);
            model.closed_cents = Set(None);
            model.completed_on_time = Set(None);
        }
        _ => {}
    }
}
