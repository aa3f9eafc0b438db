//! The case's clocks as a change (intake or transition) leaves them, stored
//! on the case row with what is found and counted by them.

use entity::complaint;
use sea_orm::ActiveValue::{self, Set};

use crate::clock::Now;
use crate::domain::deadlines::{self, Deadlines};
use crate::domain::lifecycle::{Action, Status};
use crate::error::{Error, Result};
use crate::store::facts;

/// Moves `deadlines` (the case's clocks before the change) along with a
/// change and stores them with what the deadline job finds them by
/// (`next_action_at`, `station_overdue`) and what the report counts of them;
/// answers them as they now stand.
pub(super) fn keep_deadlines(
    model: &mut complaint::ActiveModel,
    clock: Now<'_>,
    from: Option<Status>,
    to: Status,
    action: Option<Action>,
    mut deadlines: Deadlines,
) -> Result<Deadlines> {
    let feedback_given = matches!(
        &model.initial_feedback_at,
        ActiveValue::Set(Some(_)) | ActiveValue::Unchanged(Some(_))
    );
    clock
        .policy
        .advance(&mut deadlines, from, to, action, clock.at, feedback_given);
    let provisional = deadlines::provisional(&deadlines);
    if provisional {
        warn_provisional_once(model);
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
fn warn_provisional_once(model: &complaint::ActiveModel) {
    static WARNED: std::sync::Once = std::sync::Once::new();
    WARNED.call_once(|| {
        let id = match &model.id {
            ActiveValue::Set(id) | ActiveValue::Unchanged(id) => id.as_str(),
            ActiveValue::NotSet => "",
        };
        tracing::warn!(
            complaint = %id,
            "a deadline runs into a year whose holiday schedule is not loaded; it is counted \
             Monday–Friday and marked provisional until deadlines.calendar_file has that year"
        );
    });
}
