//! The append-only case file (一案一档). Rows are only ever inserted.

use chrono::{DateTime, Utc};
use entity::event;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect,
};
use serde_json::Value;

use crate::auth::Principal;
use crate::domain::lifecycle::Status;
use crate::error::Result;

/// Who did something, as the case file records it.
#[derive(Debug, Clone)]
pub struct Actor {
    pub kind: &'static str,
    pub id: Option<String>,
}

impl Actor {
    pub fn system() -> Self {
        Actor {
            kind: "system",
            id: None,
        }
    }
}

impl From<&Principal> for Actor {
    fn from(p: &Principal) -> Self {
        Actor {
            kind: p.role().as_str(),
            id: Some(p.subject().to_string()),
        }
    }
}

pub struct NewEvent<'a> {
    pub complaint_id: &'a str,
    pub at: DateTime<Utc>,
    pub actor: &'a Actor,
    pub kind: &'a str,
    pub from: Option<Status>,
    pub to: Option<Status>,
    pub payload: Value,
}

/// Appends one event as number `seq` of its complaint's case file. The caller
/// takes the number from the complaint row it updates under its version check
/// (`event_count`), so two writers never share a number.
pub async fn insert<C: ConnectionTrait>(db: &C, e: NewEvent<'_>, seq: i32) -> Result<()> {
    event::Entity::insert(event::ActiveModel {
        complaint_id: Set(e.complaint_id.to_string()),
        seq: Set(seq),
        at: Set(e.at),
        actor_kind: Set(e.actor.kind.to_string()),
        actor_id: Set(e.actor.id.clone()),
        kind: Set(e.kind.to_string()),
        from_status: Set(e.from.map(|s| s.as_str().to_string())),
        to_status: Set(e.to.map(|s| s.as_str().to_string())),
        payload: Set(e.payload),
        ..Default::default()
    })
    .exec_without_returning(db)
    .await?;
    Ok(())
}

/// A page of a complaint's events after sequence number `after`.
pub async fn page<C: ConnectionTrait>(
    db: &C,
    complaint_id: &str,
    after: i32,
    limit: u64,
) -> Result<Vec<event::Model>> {
    Ok(event::Entity::find()
        .filter(event::Column::ComplaintId.eq(complaint_id))
        .filter(event::Column::Seq.gt(after))
        .order_by_asc(event::Column::Seq)
        .limit(limit)
        .all(db)
        .await?)
}
