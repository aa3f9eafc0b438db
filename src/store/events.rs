//! The append-only case file (一案一档). Rows are only ever inserted.

use chrono::{DateTime, Utc};
use entity::event;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect,
};
use serde_json::Value;

use crate::auth::Principal;
use crate::domain::case_file::{self, Break, Entry};
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

/// The rows for `events`, numbered from `first_seq` and hash-chained after
/// `prev` (the complaint's current chain head), and the new head. The caller
/// takes the numbers and the head from the complaint row it updates under its
/// version check (`event_count`, `event_hash`), so two writers never share a
/// number or fork the chain.
pub fn chained(
    events: Vec<NewEvent<'_>>,
    first_seq: i32,
    prev: Option<&str>,
) -> (Vec<event::ActiveModel>, String) {
    let mut head = prev.unwrap_or(case_file::GENESIS).to_string();
    let mut rows = Vec::with_capacity(events.len());
    for (i, e) in events.into_iter().enumerate() {
        let seq = first_seq + i as i32;
        let at = case_file::stored_time(e.at);
        let from = e.from.map(Status::as_str);
        let to = e.to.map(Status::as_str);
        let hash = case_file::link(
            &head,
            &Entry {
                complaint_id: e.complaint_id,
                seq,
                at,
                actor_kind: e.actor.kind,
                actor_id: e.actor.id.as_deref(),
                kind: e.kind,
                from_status: from,
                to_status: to,
                payload: &e.payload,
            },
        );
        rows.push(event::ActiveModel {
            complaint_id: Set(e.complaint_id.to_string()),
            seq: Set(seq),
            at: Set(at),
            actor_kind: Set(e.actor.kind.to_string()),
            actor_id: Set(e.actor.id.clone()),
            kind: Set(e.kind.to_string()),
            from_status: Set(from.map(str::to_string)),
            to_status: Set(to.map(str::to_string)),
            payload: Set(e.payload),
            prev_hash: Set(Some(head.clone())),
            hash: Set(Some(hash.clone())),
            ..Default::default()
        });
        head = hash;
    }
    (rows, head)
}

/// Appends rows made by [`chained`] in one statement.
pub async fn insert_all<C, R>(db: &C, rows: &[R]) -> Result<()>
where
    C: ConnectionTrait,
    R: std::borrow::Borrow<event::ActiveModel>,
{
    super::bulk::insert::<event::ActiveModel, _, _>(db, rows).await
}

/// Where the stored case files break, complaint by complaint in id order:
/// the first complaint whose chain does not verify, with the event.
pub async fn verify_all<C: ConnectionTrait>(db: &C) -> Result<Verified> {
    let mut checked = 0;
    let mut after: Option<String> = None;
    loop {
        let mut ids = entity::complaint::Entity::find()
            .select_only()
            .column(entity::complaint::Column::Id)
            .column(entity::complaint::Column::EventHash)
            .order_by_asc(entity::complaint::Column::Id)
            .limit(500);
        if let Some(after) = &after {
            ids = ids.filter(entity::complaint::Column::Id.gt(after.as_str()));
        }
        let ids: Vec<(String, Option<String>)> = ids.into_tuple().all(db).await?;
        let Some((last, _)) = ids.last().cloned() else {
            return Ok(Verified {
                complaints: checked,
                broken: None,
            });
        };
        for (id, head) in ids {
            let events = event::Entity::find()
                .filter(event::Column::ComplaintId.eq(id.as_str()))
                .order_by_asc(event::Column::Seq)
                .all(db)
                .await?;
            let result = case_file::verify(events.iter().map(|e| {
                (
                    Entry {
                        complaint_id: &e.complaint_id,
                        seq: e.seq,
                        at: e.at,
                        actor_kind: &e.actor_kind,
                        actor_id: e.actor_id.as_deref(),
                        kind: &e.kind,
                        from_status: e.from_status.as_deref(),
                        to_status: e.to_status.as_deref(),
                        payload: &e.payload,
                    },
                    e.prev_hash.as_deref(),
                    e.hash.as_deref(),
                )
            }));
            let broken = match result {
                Err(at) => Some(at),
                // The complaint row names the head: events cut off the end show here.
                Ok(found) if found != head => Some(Break {
                    seq: events.len() as i32 + 1,
                    why: "the case file ends before the complaint's last recorded event",
                }),
                Ok(_) => None,
            };
            if let Some(link) = broken {
                return Ok(Verified {
                    complaints: checked,
                    broken: Some((id, link)),
                });
            }
            checked += 1;
        }
        after = Some(last);
    }
}

/// What [`verify_all`] found.
pub struct Verified {
    pub complaints: usize,
    pub broken: Option<(String, Break)>,
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
