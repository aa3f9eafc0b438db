//! Finding cases, and reading what is stored on them.

use chrono::{DateTime, Utc};
use entity::complaint;
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Select,
};
use serde_json::Value;

use crate::domain::deadlines::{self, Deadlines};
use crate::domain::lifecycle::{Position, Status};
use crate::error::{Error, Result};

pub async fn by_external_ref<C: ConnectionTrait>(
    db: &C,
    partner_id: &str,
    external_ref: &str,
) -> Result<Option<complaint::Model>> {
    Ok(complaint::Entity::find()
        .filter(complaint::Column::PartnerId.eq(partner_id))
        .filter(complaint::Column::ExternalRef.eq(external_ref))
        .one(db)
        .await?)
}

/// Several complaints by id, whoever asks: for the gateway's own workers only.
pub async fn find_many<C: ConnectionTrait>(
    db: &C,
    ids: Vec<String>,
) -> Result<Vec<complaint::Model>> {
    Ok(complaint::Entity::find()
        .filter(crate::store::bulk::one_of(
            db.get_database_backend(),
            complaint::Column::Id,
            ids,
        ))
        .all(db)
        .await?)
}

/// A complaint by id, whoever asks: for the gateway's own workers only.
pub async fn find<C: ConnectionTrait>(db: &C, id: &str) -> Result<Option<complaint::Model>> {
    Ok(complaint::Entity::find_by_id(id.to_string())
        .one(db)
        .await?)
}

/// One page of `select`, ordered by id, after the cursor id.
pub async fn page<C: ConnectionTrait>(
    db: &C,
    select: Select<complaint::Entity>,
    after: Option<&str>,
    limit: u64,
) -> Result<Vec<complaint::Model>> {
    let mut q = select.order_by_asc(complaint::Column::Id);
    if let Some(after) = after {
        q = q.filter(complaint::Column::Id.gt(after));
    }
    Ok(q.limit(limit).all(db).await?)
}

/// Cases at a handler that are still in its hands (for suspension).
pub async fn open_at_handler<C: ConnectionTrait>(
    db: &C,
    handler_id: &str,
) -> Result<Vec<complaint::Model>> {
    Ok(complaint::Entity::find()
        .filter(complaint::Column::HandlerId.eq(handler_id))
        .filter(complaint::Column::Status.is_in(Status::HANDLER_STAGE.map(Status::as_str)))
        .all(db)
        .await?)
}

pub fn status_of(case: &complaint::Model) -> Result<Status> {
    case.status.parse().map_err(|_| {
        Error::unexpected(format!(
            "complaint {} has an unknown status {}",
            case.id, case.status
        ))
    })
}

/// Where `case` stands in the lifecycle at business time `now`: a settled
/// case's settlement stands unless the handler reported it and the
/// consumer's objection window is still open.
pub fn position_of(case: &complaint::Model, now: DateTime<Utc>) -> Result<Position> {
    let status = status_of(case)?;
    if status != Status::Settled {
        return Ok(status.into());
    }
    let reported_by_handler = case
        .outcome
        .as_ref()
        .and_then(|o| o.get("reported_by"))
        .and_then(Value::as_str)
        == Some("handler");
    let open = reported_by_handler && deadlines::objection_open(&deadlines_of(case)?, now);
    Ok(Position::settled(!open))
}

/// The deadlines stored on `case` (none yet: an empty set).
pub fn deadlines_of(case: &complaint::Model) -> Result<Deadlines> {
    serde_json::from_value(case.deadlines.clone()).map_err(|e| {
        Error::unexpected(format!(
            "complaint {} has unreadable deadlines: {e}",
            case.id
        ))
    })
}
