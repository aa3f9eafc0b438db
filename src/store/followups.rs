//! Follow-ups (回访, SPEC §8): each month's sample of the complaints that
//! ended, drawn once whoever draws it, and the answers staff record — a
//! dissatisfied one sends the case back to the station's queue.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use entity::{complaint, followup, setting, station};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait,
    FromQueryResult, QueryFilter, QueryOrder, QuerySelect, TransactionTrait,
};
use serde_json::json;

use super::bulk::one_of;
use super::complaints::{self, Transition};
use super::deadlines::caught_up;
use super::directory;
use super::events::Actor;
use super::new_id;
use crate::auth::Principal;
use crate::clock::Now;
use crate::domain::lifecycle::{Action, Status};
use crate::domain::report::{self, Ended, FollowupStatus, Month, Satisfaction};
use crate::error::{Error, Result};

/// The last month whose sample has been drawn (`2026-10`).
const DRAWN_THROUGH: &str = "followups_drawn_through";

#[derive(Debug, FromQueryResult)]
struct EndedRow {
    id: String,
    station_code: String,
}

/// The complaints that ended in `month`: closed by a station (also by not
/// accepting them) or settled, and not withdrawn since.
async fn ended_in<C: ConnectionTrait>(db: &C, month: Month) -> Result<Vec<EndedRow>> {
    let mut found = Vec::new();
    for column in [complaint::Column::ClosedAt, complaint::Column::SettledAt] {
        let rows = complaint::Entity::find()
            .filter(column.gte(month.start()))
            .filter(column.lt(month.end()))
            .filter(complaint::Column::Status.ne(Status::Withdrawn.as_str()))
            .select_only()
            .column(complaint::Column::Id)
            .column(complaint::Column::StationCode)
            .into_model::<EndedRow>()
            .all(db)
            .await?;
        found.extend(rows);
    }
    Ok(found)
}

/// Each station's tree root.
fn roots(stations: &[station::Model]) -> BTreeMap<String, String> {
    let parent: BTreeMap<&str, Option<&str>> = stations
        .iter()
        .map(|s| (s.code.as_str(), s.parent_code.as_deref()))
        .collect();
    stations
        .iter()
        .map(|s| {
            let mut code = s.code.as_str();
            // Bounded by the number of stations, should the tree hold a cycle.
            for _ in 0..stations.len() {
                match parent.get(code).copied().flatten() {
                    Some(up) if parent.contains_key(up) => code = up,
                    _ => break,
                }
            }
            (s.code.clone(), code.to_string())
        })
        .collect()
}

/// Moves the drawn-through mark from `from` to `to` inside `txn`: false when
/// another process moved it first (its draw stands, this one is dropped).
async fn move_mark<C: ConnectionTrait>(db: &C, from: Option<Month>, to: Month) -> Result<bool> {
    let moved = match from {
        None => {
            setting::Entity::insert(setting::ActiveModel {
                key: Set(DRAWN_THROUGH.into()),
                value: Set(to.to_string()),
            })
            .on_conflict(
                OnConflict::column(setting::Column::Key)
                    .do_nothing()
                    .to_owned(),
            )
            .exec_without_returning(db)
            .await?
        }
        Some(from) => {
            setting::Entity::update_many()
                .col_expr(setting::Column::Value, Expr::value(to.to_string()))
                .filter(setting::Column::Key.eq(DRAWN_THROUGH))
                .filter(setting::Column::Value.eq(from.to_string()))
                .exec(db)
                .await?
                .rows_affected
        }
    };
    Ok(moved == 1)
}

/// Draws the sample of `month` and moves the mark to it, in one transaction;
/// answers how many follow-ups it made, or `None` when another process drew it.
async fn draw_month(
    db: &DatabaseConnection,
    month: Month,
    mark: Option<Month>,
    share: f64,
    now: DateTime<Utc>,
) -> Result<Option<usize>> {
    let stations = directory::stations(db).await?;
    let root_of = roots(&stations);
    let ended = ended_in(db, month)
        .await?
        .into_iter()
        .map(|row| Ended {
            root_code: root_of
                .get(&row.station_code)
                .cloned()
                .unwrap_or_else(|| row.station_code.clone()),
            station_code: row.station_code,
            complaint_id: row.id,
        })
        .collect();
    let drawn = report::sample(month, share, ended);
    let txn = db.begin().await?;
    if !move_mark(&txn, mark, month).await? {
        return Ok(None);
    }
    let rows: Vec<followup::ActiveModel> = drawn
        .iter()
        .map(|case| followup::ActiveModel {
            id: Set(new_id()),
            complaint_id: Set(case.complaint_id.clone()),
            month: Set(month.to_string()),
            station_code: Set(case.station_code.clone()),
            status: Set(FollowupStatus::Pending.as_str().into()),
            satisfaction: Set(None),
            note: Set(None),
            answered_at: Set(None),
            answered_by: Set(None),
            created_at: Set(now),
        })
        .collect();
    for chunk in rows.chunks(500) {
        super::bulk::insert(&txn, chunk).await?;
    }
    txn.commit().await?;
    Ok(Some(rows.len()))
}

/// The month of the first complaint that ever ended, if any.
async fn first_ended<C: ConnectionTrait>(db: &C) -> Result<Option<Month>> {
    let mut first: Option<DateTime<Utc>> = None;
    for column in [complaint::Column::ClosedAt, complaint::Column::SettledAt] {
        let earliest: Option<DateTime<Utc>> = complaint::Entity::find()
            .filter(column.is_not_null())
            .select_only()
            .column(column)
            .order_by_asc(column)
            .limit(1)
            .into_tuple()
            .one(db)
            .await?;
        first = match (first, earliest) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
    }
    Ok(first.map(Month::of))
}

/// Draws every month's sample that is due at `now` and not drawn yet: each
/// month before the current one since the last drawn (after downtime, all of
/// them, in order). On a database that never drew one, the first is the month
/// the first complaint ended in. Answers the months drawn here, with their sizes.
pub async fn draw_due(
    db: &DatabaseConnection,
    now: DateTime<Utc>,
    share: f64,
) -> Result<Vec<(Month, usize)>> {
    let last_due = Month::of(now).previous();
    let mut drawn = Vec::new();
    loop {
        let mark: Option<Month> = super::settings::get(db, DRAWN_THROUGH)
            .await?
            .and_then(|m| m.parse().ok());
        let next = match mark {
            Some(mark) => mark.next(),
            None => first_ended(db).await?.unwrap_or(last_due).min(last_due),
        };
        if next > last_due {
            return Ok(drawn);
        }
        match draw_month(db, next, mark, share, now).await {
            Ok(Some(n)) => drawn.push((next, n)),
            // Another process drew it first, or is drawing it now (its rows
            // conflict with ours): read the mark again.
            Ok(None) | Err(Error::Conflict { .. }) => {}
            Err(err) => return Err(err),
        }
    }
}

/// Follow-ups of the stations the principal (staff) works for.
async fn visible<C: ConnectionTrait>(
    db: &C,
    p: &Principal,
) -> Result<sea_orm::Select<followup::Entity>> {
    let (_, station_code) = p.staff()?;
    let codes = directory::subtree(db, station_code).await?;
    Ok(followup::Entity::find().filter(one_of(
        db.get_database_backend(),
        followup::Column::StationCode,
        codes,
    )))
}

/// A page of the principal's follow-ups, by id after `after`.
pub async fn page<C: ConnectionTrait>(
    db: &C,
    p: &Principal,
    month: Option<Month>,
    status: Option<FollowupStatus>,
    after: Option<&str>,
    limit: u64,
) -> Result<Vec<(followup::Model, Option<complaint::Model>)>> {
    let mut q = visible(db, p).await?.order_by_asc(followup::Column::Id);
    if let Some(month) = month {
        q = q.filter(followup::Column::Month.eq(month.to_string()));
    }
    if let Some(status) = status {
        q = q.filter(followup::Column::Status.eq(status.as_str()));
    }
    if let Some(after) = after {
        q = q.filter(followup::Column::Id.gt(after));
    }
    let rows = q.limit(limit).all(db).await?;
    let ids: Vec<String> = rows.iter().map(|f| f.complaint_id.clone()).collect();
    let mut cases: BTreeMap<String, complaint::Model> = complaints::find_many(db, ids)
        .await?
        .into_iter()
        .map(|c| (c.id.clone(), c))
        .collect();
    Ok(rows
        .into_iter()
        .map(|f| {
            let case = cases.remove(&f.complaint_id);
            (f, case)
        })
        .collect())
}

/// One follow-up in the principal's scope, with its complaint.
pub async fn find<C: ConnectionTrait>(
    db: &C,
    p: &Principal,
    id: &str,
) -> Result<(followup::Model, Option<complaint::Model>)> {
    let found = visible(db, p)
        .await?
        .filter(followup::Column::Id.eq(id))
        .one(db)
        .await?
        .ok_or(Error::NotFound)?;
    let case = complaints::find(db, &found.complaint_id).await?;
    Ok((found, case))
}

/// A consumer's answer at the follow-up visit.
pub struct Answer {
    pub satisfaction: Satisfaction,
    pub note: Option<String>,
}

/// Records the answer to a pending follow-up (once: a second is 409) with its
/// case-file event; a dissatisfied answer on a closed or settled case reopens
/// it into the queue of its station, with reason `consumer_dissatisfied`.
pub async fn answer(
    db: &DatabaseConnection,
    now: Now<'_>,
    p: &Principal,
    id: &str,
    answer: Answer,
) -> Result<(followup::Model, complaint::Model)> {
    let (found, case) = find(db, p, id).await?;
    let case = case.ok_or(Error::NotFound)?;
    if found.status != FollowupStatus::Pending.as_str() {
        return Err(already_answered(&found));
    }
    let case = caught_up(db, now, &case).await?;
    let status = complaints::status_of(&case)?;
    let reopens = answer.satisfaction == Satisfaction::Dissatisfied
        && matches!(status, Status::Closed | Status::Settled);
    let payload = json!({
        "followup_id": found.id,
        "month": found.month,
        "satisfaction": answer.satisfaction,
        "note": answer.note,
    });
    let actor = Actor::from(p);
    let txn = db.begin().await?;
    // A reopened case's outcome is cleared, and kept in its case file.
    let action = if reopens {
        Action::Reopen
    } else {
        Action::RecordFollowup
    };
    let request = Transition::new(&actor, &case, action).payload(payload);
    let updated = complaints::transition_in(&txn, now, request).await?;
    let recorded = followup::Entity::update_many()
        .col_expr(
            followup::Column::Status,
            Expr::value(FollowupStatus::Answered.as_str()),
        )
        .col_expr(
            followup::Column::Satisfaction,
            Expr::value(answer.satisfaction.as_str()),
        )
        .col_expr(followup::Column::Note, Expr::value(answer.note.clone()))
        .col_expr(followup::Column::AnsweredAt, Expr::value(now.at))
        .col_expr(
            followup::Column::AnsweredBy,
            Expr::value(p.subject().to_string()),
        )
        .filter(followup::Column::Id.eq(found.id.as_str()))
        .filter(followup::Column::Status.eq(FollowupStatus::Pending.as_str()))
        .exec(&txn)
        .await?;
    if recorded.rows_affected != 1 {
        return Err(already_answered(&found));
    }
    txn.commit().await?;
    let (answered, _) = find(db, p, id).await?;
    Ok((answered, updated))
}

fn already_answered(found: &followup::Model) -> Error {
    Error::Conflict {
        detail: format!("follow-up {} was already answered", found.id),
        extra: json!({ "followup_id": found.id }),
    }
}

/// Pending follow-ups per station, for the metrics.
pub async fn pending_by_station<C: ConnectionTrait>(db: &C) -> Result<Vec<(String, i64)>> {
    Ok(followup::Entity::find()
        .filter(followup::Column::Status.eq(FollowupStatus::Pending.as_str()))
        .select_only()
        .column(followup::Column::StationCode)
        .expr(Expr::cust("COUNT(*)"))
        .group_by(followup::Column::StationCode)
        .into_tuple()
        .all(db)
        .await?)
}
