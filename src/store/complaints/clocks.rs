//! The case's clocks as a change (intake or transition) leaves them, stored
//! on the case row with what is found and counted by them.

use entity::complaint;
use sea_orm::ActiveValue::{self, Set};

use super::queries::parse_deadlines;
use crate::clock::Now;
use crate::domain::deadlines::{self, Deadlines};
use crate::domain::lifecycle::{Action, Status};
use crate::error::{Error, Result};
use crate::store::facts;

/// Moves the case's clocks along with a change and stores them with what the
/// deadline job finds them by (`next_action_at`, `station_overdue`) and what
/// the report counts of them; answers them as they now stand.
pub(super) fn keep_deadlines(
    model: &mut complaint::ActiveModel,
    clock: Now<'_>,
    from: Option<Status>,
    to: Status,
    action: Option<Action>,
) -> Result<Deadlines> {
    let id = match &model.id {
        ActiveValue::Set(id) | ActiveValue::Unchanged(id) => id.clone(),
        ActiveValue::NotSet => String::new(),
    };
    let mut deadlines = match &model.deadlines {
        ActiveValue::Set(json) | ActiveValue::Unchanged(json) => parse_deadlines(&id, json)?,
        ActiveValue::NotSet => Deadlines::new(),
    };
    let feedback_given = matches!(
        &model.initial_feedback_at,
        ActiveValue::Set(Some(_)) | ActiveValue::Unchanged(Some(_))
    );
    clock
        .policy
        .advance(&mut deadlines, from, to, action, clock.at, feedback_given);
    let provisional = deadlines::provisional(&deadlines);
    if provisional {
        warn_provisional_once(&id);
    }
    model.next_action_at = Set(deadlines::next_action_at(to, &deadlines));
    model.station_overdue = Set(deadlines::station_overdue(&deadlines));
    model.deadlines_provisional = Set(provisional);
    facts::keep_overdue(model, &deadlines);
    model.deadlines = Set(serde_json::to_value(&deadlines).map_err(Error::internal)?);
    Ok(deadlines)
}

/// SPEC calendar.md: a deadline counted on a year without its holiday
/// schedule is logged once, so the operator loads the year.
fn warn_provisional_once(complaint_id: &str) {
    static WARNED: std::sync::Once = std::sync::Once::new();
    WARNED.call_once(|| {
        tracing::warn!(
            complaint = %complaint_id,
            "a deadline runs into a year whose holiday schedule is not loaded; it is counted \
             Monday–Friday and marked provisional until deadlines.calendar_file has that year"
        );
    });
}
