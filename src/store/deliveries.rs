//! What the delivery workers record: attempt results, row outcomes, and each
//! endpoint's circuit-breaker state.

use chrono::{DateTime, Utc};
use entity::{delivery_attempt, endpoint, outbox};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};

use crate::error::Result;

pub struct Attempt<'a> {
    pub row: &'a outbox::Model,
    pub at: DateTime<Utc>,
    pub status_code: Option<u16>,
    pub latency_ms: i64,
    pub error: Option<String>,
}

pub async fn record_attempt<C: ConnectionTrait>(db: &C, a: Attempt<'_>) -> Result<()> {
    delivery_attempt::Entity::insert(delivery_attempt::ActiveModel {
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
    .exec_without_returning(db)
    .await?;
    Ok(())
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
