//! The admin audit log: enrolments, suspensions, secret rotations, quota and
//! staff changes, each with who made it. Written in the change's transaction;
//! only ever appended to. Times are real (wall-clock) time.

use chrono::Utc;
use entity::audit_entry;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect,
};
use serde_json::Value;

use super::events::Actor;
use crate::error::Result;

/// One administrative change.
pub struct Change<'a> {
    pub action: &'a str,
    pub target_kind: &'a str,
    pub target_id: &'a str,
    /// What changed; never a secret.
    pub detail: Value,
}

pub async fn record<C: ConnectionTrait>(db: &C, actor: &Actor, change: Change<'_>) -> Result<()> {
    audit_entry::Entity::insert(audit_entry::ActiveModel {
        at: Set(Utc::now()),
        actor_kind: Set(actor.kind.to_string()),
        actor_id: Set(actor.id.clone()),
        action: Set(change.action.to_string()),
        target_kind: Set(change.target_kind.to_string()),
        target_id: Set(change.target_id.to_string()),
        detail: Set(change.detail),
        ..Default::default()
    })
    .exec_without_returning(db)
    .await?;
    Ok(())
}

/// Entries after `after` (oldest first), optionally about one record.
pub async fn page<C: ConnectionTrait>(
    db: &C,
    target_id: Option<&str>,
    after: Option<i64>,
    limit: u64,
) -> Result<Vec<audit_entry::Model>> {
    let mut q = audit_entry::Entity::find().order_by_asc(audit_entry::Column::Id);
    if let Some(target) = target_id {
        q = q.filter(audit_entry::Column::TargetId.eq(target));
    }
    if let Some(after) = after {
        q = q.filter(audit_entry::Column::Id.gt(after));
    }
    Ok(q.limit(limit).all(db).await?)
}
