//! `Idempotency-Key` records for intake: a replay answers the first answer.

use chrono::{DateTime, Utc};
use entity::idempotency_key as key;
use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};

use crate::error::{Error, Result};

pub enum Claim {
    /// This request owns the key; record its answer with [`finish`].
    Fresh,
    /// The key was used before with the same body: answer this again.
    Replay { status: u16, body: String },
}

/// Claims `(partner, key)` for a request body with hash `request_hash`, for
/// a request that started at `started_at` (real time: an operational timer,
/// not business time). No request runs longer than `request_timeout`, so an
/// unanswered claim made by one that started at least that long before this
/// one was abandoned (the gateway answered it 503, or died) and is taken over.
pub async fn claim<C: ConnectionTrait>(
    db: &C,
    partner_id: &str,
    idem_key: &str,
    request_hash: &str,
    started_at: DateTime<Utc>,
    request_timeout: chrono::Duration,
) -> Result<Claim> {
    let now = started_at;
    let inserted = key::Entity::insert(key::ActiveModel {
        partner_id: Set(partner_id.to_string()),
        key: Set(idem_key.to_string()),
        request_hash: Set(request_hash.to_string()),
        response_status: Set(None),
        response_body: Set(None),
        created_at: Set(now),
    })
    .on_conflict(
        OnConflict::columns([key::Column::PartnerId, key::Column::Key])
            .do_nothing()
            .to_owned(),
    )
    .exec_without_returning(db)
    .await?;
    if inserted == 1 {
        return Ok(Claim::Fresh);
    }
    let existing = key::Entity::find_by_id((partner_id.to_string(), idem_key.to_string()))
        .one(db)
        .await?
        .ok_or(Error::IdempotencyInFlight)?;
    if existing.request_hash != request_hash {
        return Err(Error::IdempotencyMismatch);
    }
    if existing.response_status.is_none() && now - existing.created_at >= request_timeout {
        // The first request died without answering; this one takes the key over.
        let taken = key::Entity::update_many()
            .col_expr(key::Column::CreatedAt, now.into())
            .filter(key::Column::PartnerId.eq(partner_id))
            .filter(key::Column::Key.eq(idem_key))
            .filter(key::Column::CreatedAt.eq(existing.created_at))
            .filter(key::Column::ResponseStatus.is_null())
            .exec(db)
            .await?;
        if taken.rows_affected == 1 {
            return Ok(Claim::Fresh);
        }
    }
    match (existing.response_status, existing.response_body) {
        (Some(status), Some(body)) => Ok(Claim::Replay {
            status: u16::try_from(status).unwrap_or(500),
            body,
        }),
        _ => Err(Error::IdempotencyInFlight),
    }
}

pub async fn finish<C: ConnectionTrait>(
    db: &C,
    partner_id: &str,
    idem_key: &str,
    status: u16,
    body: &str,
) -> Result<()> {
    key::Entity::update_many()
        .col_expr(key::Column::ResponseStatus, i32::from(status).into())
        .col_expr(key::Column::ResponseBody, body.into())
        .filter(key::Column::PartnerId.eq(partner_id))
        .filter(key::Column::Key.eq(idem_key))
        .exec(db)
        .await?;
    Ok(())
}

/// Frees the key after a refused request, so a corrected retry may use it.
pub async fn release<C: ConnectionTrait>(db: &C, partner_id: &str, idem_key: &str) -> Result<()> {
    key::Entity::delete_many()
        .filter(key::Column::PartnerId.eq(partner_id))
        .filter(key::Column::Key.eq(idem_key))
        .filter(key::Column::ResponseStatus.is_null())
        .exec(db)
        .await?;
    Ok(())
}
