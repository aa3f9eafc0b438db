//! What the delivery workers record: attempt results, row outcomes, and each
//! endpoint's circuit-breaker state.

use chrono::{DateTime, Utc};
use entity::{delivery_attempt, endpoint, outbox};
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, TransactionTrait,
};

use super::complaints::{self, Deferred, Transition};
use super::events::Actor;
use super::{Complaint, Db};
use crate::clock::Now;
use crate::domain::lifecycle::Action;
use crate::error::Result;

/// How a batch's outbox rows end, written with the cases they move.
pub enum Settle<'a> {
    Delivered(Vec<i64>),
    Dead {
        row: &'a outbox::Model,
        attempted: bool,
        error: &'a str,
    },
}

impl Settle<'_> {
    pub async fn write<C: ConnectionTrait>(&self, db: &C) -> Result<()> {
        match self {
            Settle::Delivered(ids) => settle_delivered(db, ids).await,
            Settle::Dead {
                row,
                attempted,
                error,
            } => settle_row(db, row, "dead", *attempted, None, Some(error.to_string())).await,
        }
    }
}

/// Ends a batch's outbox rows and moves their cases by `action` (each with
/// its payload) in one transaction, so a delivery and the case's status
/// change commit together. Answers whether new outbox rows were written (a
/// partner's status callback), which a worker should be woken for.
pub async fn settle_moving(
    db: &Db,
    now: Now<'_>,
    settle: &Settle<'_>,
    cases: Vec<(&Complaint, serde_json::Value)>,
    action: Action,
) -> Result<bool> {
    let txn = db.begin().await?;
    settle.write(&txn).await?;
    let mut rows = Deferred::default();
    if !cases.is_empty() {
        let system = Actor::system();
        let requests = cases
            .into_iter()
            .map(|(case, payload)| Transition::new(&system, case, action).payload(payload))
            .collect();
        complaints::transition_deferring(&txn, now, requests, &mut rows).await?;
    }
    let wake = rows.writes_outbox();
    rows.write(&txn).await?;
    txn.commit().await?;
    Ok(wake)
}

pub struct Attempt<'a> {
    pub row: &'a outbox::Model,
    pub at: DateTime<Utc>,
    pub status_code: Option<u16>,
    pub latency_ms: i64,
    pub error: Option<String>,
}

/// Records a batch of attempts in one statement.
pub async fn record_attempts<C: ConnectionTrait>(db: &C, attempts: Vec<Attempt<'_>>) -> Result<()> {
    let rows: Vec<delivery_attempt::ActiveModel> = attempts
        .into_iter()
        .map(|a| delivery_attempt::ActiveModel {
            outbox_id: Set(a.row.id),
            complaint_id: Set(a.row.complaint_id.clone()),
            target_kind: Set(a.row.target_kind.clone()),
            target_id: Set(a.row.target_id.clone()),
            attempted_at: Set(a.at),
            status_code: Set(a.status_code.map(i32::from)),
            latency_ms: Set(a.latency_ms),
            error: Set(a.error),
            ..Default::default()
        })
        .collect();
    super::bulk::insert(db, &rows).await
}

/// Marks a batch of rows delivered in one statement.
pub async fn settle_delivered<C: ConnectionTrait>(db: &C, ids: &[i64]) -> Result<()> {
    if ids.is_empty() {
        return Ok(());
    }
    outbox::Entity::update_many()
        .col_expr(outbox::Column::Status, Expr::value("delivered"))
        .col_expr(
            outbox::Column::Attempts,
            Expr::col(outbox::Column::Attempts).add(1),
        )
        .col_expr(
            outbox::Column::LockedUntil,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .col_expr(
            outbox::Column::LastError,
            Expr::value(Option::<String>::None),
        )
        .col_expr(outbox::Column::DeliveredAt, Expr::value(Some(Utc::now())))
        .filter(super::bulk::one_of(
            db.get_database_backend(),
            outbox::Column::Id,
            ids.to_vec(),
        ))
        .exec(db)
        .await?;
    Ok(())
}

/// Breaker states of several endpoints at once.
pub async fn endpoints<C: ConnectionTrait>(
    db: &C,
    targets: Vec<String>,
) -> Result<Vec<endpoint::Model>> {
    Ok(endpoint::Entity::find()
        .filter(super::bulk::one_of(
            db.get_database_backend(),
            endpoint::Column::Target,
            targets,
        ))
        .all(db)
        .await?)
}

/// Settles a row: `delivered`, `dead`, `skipped`, or back to `pending` at `next`.
pub async fn settle_row<C: ConnectionTrait>(
    db: &C,
    row: &outbox::Model,
    status: &str,
    attempted: bool,
    next: Option<DateTime<Utc>>,
    error: Option<String>,
) -> Result<()> {
    let now = Utc::now();
    let mut update = outbox::Entity::update_many()
        .col_expr(outbox::Column::Status, Expr::value(status))
        .col_expr(
            outbox::Column::LockedUntil,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .col_expr(outbox::Column::LastError, Expr::value(error))
        .filter(outbox::Column::Id.eq(row.id));
    if attempted {
        update = update.col_expr(outbox::Column::Attempts, Expr::value(row.attempts + 1));
    }
    if let Some(next) = next {
        update = update.col_expr(outbox::Column::NextAttemptAt, Expr::value(next));
    }
    if status == "delivered" {
        update = update.col_expr(outbox::Column::DeliveredAt, Expr::value(Some(now)));
    }
    update.exec(db).await?;
    Ok(())
}

pub async fn endpoint<C: ConnectionTrait>(db: &C, target: &str) -> Result<Option<endpoint::Model>> {
    Ok(endpoint::Entity::find_by_id(target.to_string())
        .one(db)
        .await?)
}

pub async fn save_endpoint<C: ConnectionTrait>(
    db: &C,
    target: &str,
    state: &str,
    failures: i32,
    paused_until: Option<DateTime<Utc>>,
) -> Result<()> {
    endpoint::Entity::insert(endpoint::ActiveModel {
        target: Set(target.to_string()),
        state: Set(state.to_string()),
        consecutive_failures: Set(failures),
        paused_until: Set(paused_until),
        updated_at: Set(Utc::now()),
    })
    .on_conflict(
        OnConflict::column(endpoint::Column::Target)
            .update_columns([
                endpoint::Column::State,
                endpoint::Column::ConsecutiveFailures,
                endpoint::Column::PausedUntil,
                endpoint::Column::UpdatedAt,
            ])
            .to_owned(),
    )
    .exec_without_returning(db)
    .await?;
    Ok(())
}

pub struct Gauges {
    pub pending: i64,
    pub oldest_pending_seconds: i64,
    pub endpoints_paused: i64,
}

pub async fn gauges<C: ConnectionTrait>(db: &C) -> Result<Gauges> {
    let pending = outbox::Entity::find()
        .filter(outbox::Column::Status.eq("pending"))
        .count(db)
        .await?;
    let oldest = outbox::Entity::find()
        .filter(outbox::Column::Status.eq("pending"))
        .order_by_asc(outbox::Column::Id)
        .one(db)
        .await?;
    let paused = endpoint::Entity::find()
        .filter(endpoint::Column::State.ne("closed"))
        .count(db)
        .await?;
    Ok(Gauges {
        pending: i64::try_from(pending).unwrap_or(i64::MAX),
        oldest_pending_seconds: oldest.map_or(0, |o| {
            std::cmp::max((Utc::now() - o.created_at).num_seconds(), 0)
        }),
        endpoints_paused: i64::try_from(paused).unwrap_or(i64::MAX),
    })
}

/// Outbox events, newest last, filtered by complaint, target and status.
pub async fn events<C: ConnectionTrait>(
    db: &C,
    complaint_id: Option<&str>,
    handler_id: Option<&str>,
    status: Option<&str>,
    after: Option<i64>,
    limit: u64,
) -> Result<Vec<outbox::Model>> {
    use sea_orm::QuerySelect;
    let mut q = outbox::Entity::find().order_by_asc(outbox::Column::Id);
    if let Some(id) = complaint_id {
        q = q.filter(outbox::Column::ComplaintId.eq(id));
    }
    if let Some(id) = handler_id {
        q = q
            .filter(outbox::Column::TargetKind.eq("handler"))
            .filter(outbox::Column::TargetId.eq(id));
    }
    if let Some(status) = status {
        q = q.filter(outbox::Column::Status.eq(status));
    }
    if let Some(after) = after {
        q = q.filter(outbox::Column::Id.gt(after));
    }
    Ok(q.limit(limit).all(db).await?)
}

pub async fn attempts<C: ConnectionTrait>(
    db: &C,
    complaint_id: Option<&str>,
    handler_id: Option<&str>,
    after: Option<i64>,
    limit: u64,
) -> Result<Vec<delivery_attempt::Model>> {
    use sea_orm::QuerySelect;
    let mut q = delivery_attempt::Entity::find().order_by_asc(delivery_attempt::Column::Id);
    if let Some(id) = complaint_id {
        q = q.filter(delivery_attempt::Column::ComplaintId.eq(id));
    }
    if let Some(id) = handler_id {
        q = q
            .filter(delivery_attempt::Column::TargetKind.eq("handler"))
            .filter(delivery_attempt::Column::TargetId.eq(id));
    }
    if let Some(after) = after {
        q = q.filter(delivery_attempt::Column::Id.gt(after));
    }
    Ok(q.limit(limit).all(db).await?)
}

/// An update that puts events back in line: pending, due now, attempts from zero.
fn requeue() -> sea_orm::UpdateMany<outbox::Entity> {
    outbox::Entity::update_many()
        .col_expr(outbox::Column::Status, Expr::value("pending"))
        .col_expr(outbox::Column::Attempts, Expr::value(0))
        .col_expr(outbox::Column::NextAttemptAt, Expr::value(Utc::now()))
        .col_expr(
            outbox::Column::LockedUntil,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
}

/// Puts one event back in line with a fresh schedule.
pub async fn redeliver<C: ConnectionTrait>(
    db: &C,
    webhook_id: &str,
) -> Result<Option<outbox::Model>> {
    // A row a worker holds right now is left to that worker.
    let now = Utc::now();
    requeue()
        .filter(outbox::Column::WebhookId.eq(webhook_id))
        .filter(
            sea_orm::Condition::any()
                .add(outbox::Column::LockedUntil.is_null())
                .add(outbox::Column::LockedUntil.lt(now)),
        )
        .exec(db)
        .await?;
    Ok(outbox::Entity::find()
        .filter(outbox::Column::WebhookId.eq(webhook_id))
        .one(db)
        .await?)
}

/// Puts a handler's dead events created in `[from, to)` back in line.
pub async fn replay<C: ConnectionTrait>(
    db: &C,
    handler_id: &str,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<u64> {
    let reset = requeue()
        .filter(outbox::Column::TargetKind.eq("handler"))
        .filter(outbox::Column::TargetId.eq(handler_id))
        .filter(outbox::Column::Status.eq("dead"))
        .filter(outbox::Column::CreatedAt.gte(from))
        .filter(outbox::Column::CreatedAt.lt(to))
        .exec(db)
        .await?;
    Ok(reset.rows_affected)
}

/// After an endpoint is resumed, the rows that waited for it are due now.
pub async fn wake_target<C: ConnectionTrait>(
    db: &C,
    target_kind: &str,
    target_id: &str,
) -> Result<u64> {
    let now = Utc::now();
    let woken = outbox::Entity::update_many()
        .col_expr(outbox::Column::NextAttemptAt, Expr::value(now))
        .filter(outbox::Column::TargetKind.eq(target_kind))
        .filter(outbox::Column::TargetId.eq(target_id))
        .filter(outbox::Column::Status.eq("pending"))
        .filter(outbox::Column::NextAttemptAt.gt(now))
        .exec(db)
        .await?;
    Ok(woken.rows_affected)
}
