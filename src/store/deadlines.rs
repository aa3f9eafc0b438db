//! What the deadline job reads: cases due for it, by the indexed `next_action_at`.

use chrono::{DateTime, Utc};
use entity::complaint;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, TransactionTrait,
};
use serde_json::json;

use super::complaints::{self, Transition};
use super::events::Actor;
use crate::clock::Now;
use crate::domain::deadlines::{self, Deadlines};
use crate::domain::lifecycle::{Action, Status};
use crate::error::{Error, Result};

/// Ids of up to `limit` cases whose next deadline action is due at `now`, oldest first.
pub async fn due<C: ConnectionTrait>(
    db: &C,
    now: DateTime<Utc>,
    limit: u64,
) -> Result<Vec<String>> {
    Ok(complaint::Entity::find()
        .select_only()
        .column(complaint::Column::Id)
        .filter(complaint::Column::NextActionAt.lte(now))
        .order_by_asc(complaint::Column::NextActionAt)
        .order_by_asc(complaint::Column::Id)
        .limit(limit)
        .into_tuple()
        .all(db)
        .await?)
}

/// Ids of cases with a deadline counted on a guessed year, after `after`.
pub async fn provisional<C: ConnectionTrait>(
    db: &C,
    after: Option<&str>,
    limit: u64,
) -> Result<Vec<String>> {
    let mut q = complaint::Entity::find()
        .select_only()
        .column(complaint::Column::Id)
        .filter(complaint::Column::DeadlinesProvisional.eq(true))
        .order_by_asc(complaint::Column::Id);
    if let Some(after) = after {
        q = q.filter(complaint::Column::Id.gt(after));
    }
    Ok(q.limit(limit).into_tuple().all(db).await?)
}

/// Does whatever the deadlines of case `id` call for at `now`, one step at a
/// time through the lifecycle table, until nothing more is due. Each step is
/// its own transaction under the case's version check; when another process
/// moved the case first, the case is read again and what is due is decided
/// again, so two processes never act twice on one deadline. Answers the
/// actions taken.
pub async fn act_on(db: &DatabaseConnection, now: Now<'_>, id: &str) -> Result<Vec<Action>> {
    let mut taken = Vec::new();
    // A case has at most a handful of clocks; the bound only guards a bug.
    for _ in 0..16 {
        let Some(case) = complaints::find(db, id).await? else {
            break;
        };
        let status = complaints::status_of(&case)?;
        let clocks = complaints::deadlines_of(&case)?;
        let Some(due) = deadlines::due_now(status, &clocks, now.at) else {
            fix_stale_schedule(db, &case, status, &clocks).await?;
            break;
        };
        let payload = json!({ "deadline": {
            "name": due.clock,
            "due": clocks.get(&due.clock).map(|d| d.due),
        }});
        let system = Actor::system();
        let mut request = Transition::new(&system, &case, due.action).payload(payload);
        if due.action == Action::WarnDeadline {
            request = request.warning(due.clock);
        }
        let txn = db.begin().await?;
        let result = complaints::transition_in(&txn, now, request).await;
        match result {
            Ok(_) => {
                txn.commit().await?;
                taken.push(due.action);
            }
            // Someone else changed the case: look again at what is due now.
            Err(Error::Concurrent) => continue,
            Err(err) => return Err(err),
        }
    }
    Ok(taken)
}

/// The case as the deadline job would have left it at `now`. A client's step
/// that arrives after a deadline ran out, but before the job's next pass, must
/// not slip past it: whatever is due (an overdue escalation, the end of an
/// objection window, an overdue mark, a warning) is done first by the job's
/// own [`act_on`], each action in its own transaction with its events and
/// outbox rows, and the step is then judged against the case as it stands.
/// With nothing due the case comes back as given, without a query.
pub async fn caught_up(
    db: &DatabaseConnection,
    now: Now<'_>,
    case: &complaint::Model,
) -> Result<complaint::Model> {
    let status = complaints::status_of(case)?;
    if deadlines::due_now(status, &complaints::deadlines_of(case)?, now.at).is_none() {
        return Ok(case.clone());
    }
    let taken = act_on(db, now, &case.id).await?;
    if !taken.is_empty() {
        tracing::info!(
            complaint = %case.id,
            actions = taken.len(),
            "deadline actions taken before a step on the case"
        );
    }
    complaints::find(db, &case.id).await?.ok_or(Error::NotFound)
}

/// A case listed as due that has nothing due (its schedule was written by
/// older rules): store the schedule its deadlines give today.
async fn fix_stale_schedule(
    db: &DatabaseConnection,
    case: &complaint::Model,
    status: Status,
    clocks: &Deadlines,
) -> Result<()> {
    let next = deadlines::next_action_at(status, clocks);
    if next == case.next_action_at {
        return Ok(());
    }
    complaint::Entity::update_many()
        .col_expr(complaint::Column::NextActionAt, Expr::value(next))
        .filter(complaint::Column::Id.eq(case.id.as_str()))
        .filter(complaint::Column::Version.eq(case.version))
        .exec(db)
        .await?;
    Ok(())
}

/// Counts the open deadlines of case `id` again if the calendar now knows
/// the years they were guessed for; answers whether anything changed.
pub async fn recount(db: &DatabaseConnection, now: Now<'_>, id: &str) -> Result<bool> {
    let Some(case) = complaints::find(db, id).await? else {
        return Ok(false);
    };
    let status = complaints::status_of(&case)?;
    let before = complaints::deadlines_of(&case)?;
    let mut after = before.clone();
    now.policy.advance(
        &mut after,
        Some(status),
        status,
        Some(Action::RecomputeDeadlines),
        now.at,
        case.initial_feedback_at.is_some(),
    );
    if after == before {
        return Ok(false);
    }
    let txn = db.begin().await?;
    let system = Actor::system();
    let request = Transition::new(&system, &case, Action::RecomputeDeadlines)
        .payload(json!({ "reason": "the holiday schedule of a year they run into was loaded" }));
    let result = complaints::transition_in(&txn, now, request).await;
    match result {
        Ok(_) => {
            txn.commit().await?;
            Ok(true)
        }
        // Another change recounted them on its way (every transition does).
        Err(Error::Concurrent) => Ok(false),
        Err(err) => Err(err),
    }
}

/// Cases open at the stations, and how many of them have missed a station deadline.
pub struct QueueGauges {
    pub open: i64,
    pub overdue: i64,
}

pub async fn queue_gauges<C: ConnectionTrait>(db: &C) -> Result<QueueGauges> {
    use sea_orm::PaginatorTrait;
    let open_statuses = [
        Status::Escalated,
        Status::Claimed,
        Status::Accepted,
        Status::Reopened,
    ]
    .map(Status::as_str);
    let open = complaint::Entity::find()
        .filter(complaint::Column::Status.is_in(open_statuses))
        .count(db)
        .await?;
    let overdue = complaint::Entity::find()
        .filter(complaint::Column::Status.is_in(open_statuses))
        .filter(complaint::Column::StationOverdue.eq(true))
        .count(db)
        .await?;
    Ok(QueueGauges {
        open: i64::try_from(open).unwrap_or(i64::MAX),
        overdue: i64::try_from(overdue).unwrap_or(i64::MAX),
    })
}
