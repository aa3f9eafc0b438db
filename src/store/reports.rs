//! The monthly report (SPEC §8) as SQL aggregates over the case facts that
//! [`super::facts`] keeps: a few grouped counts per station and per handler,
//! never the cases themselves. The same statements run on SQLite and
//! PostgreSQL (`CAST(… AS BIGINT)` so sums read back as integers on both).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use entity::{complaint, followup, handler, station};
use sea_orm::sea_query::{Alias, Expr, Query};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, FromQueryResult, QueryFilter, QueryOrder,
    QuerySelect, QueryTrait, Select, StatementBuilder,
};

use super::bulk::one_of;
use crate::domain::lifecycle::{CloseResult, EscalationReason};
use crate::domain::report::{
    HandlerRow, Month, MonthlyReport, ReceiveDelay, SatisfactionCounts, StationCounts, StationRow,
};
use crate::error::{Error, Result};

/// `SUM(CASE WHEN <condition> THEN 1 ELSE 0 END)` as an integer on both databases.
fn count_if(condition: &str) -> Expr {
    Expr::cust(format!(
        "CAST(COALESCE(SUM(CASE WHEN {condition} THEN 1 ELSE 0 END), 0) AS BIGINT)"
    ))
}

fn sum_if(condition: &str, column: &str) -> Expr {
    Expr::cust(format!(
        "CAST(COALESCE(SUM(CASE WHEN {condition} THEN {column} ELSE 0 END), 0) AS BIGINT)"
    ))
}

fn closed_with_feedback() -> String {
    let results = [
        CloseResult::Mediated,
        CloseResult::MediationTerminated,
        CloseResult::ReferredForInvestigation,
    ]
    .map(|r| format!("'{}'", r.as_str()))
    .join(", ");
    format!("close_result IN ({results})")
}

/// Complaints of the stations in `codes` with `column` in `month`.
fn cohort<C: ConnectionTrait>(
    db: &C,
    codes: &[String],
    column: complaint::Column,
    month: Month,
) -> Select<complaint::Entity> {
    complaint::Entity::find()
        .filter(one_of(
            db.get_database_backend(),
            complaint::Column::StationCode,
            codes.to_vec(),
        ))
        .filter(column.gte(month.start()))
        .filter(column.lt(month.end()))
}

#[derive(Debug, FromQueryResult)]
struct StationTally {
    station_code: String,
    received: i64,
    accepted: i64,
    not_accepted: i64,
    initial_feedback: i64,
    closing_feedback: i64,
    decided_on_time: i64,
    completed_on_time: i64,
    mediated: i64,
    decision_overdue: i64,
    initial_feedback_overdue: i64,
    closing_overdue: i64,
    recovered_cents: i64,
}

fn n(value: i64) -> u64 {
    u64::try_from(value).unwrap_or(0)
}

impl From<&StationTally> for StationCounts {
    fn from(t: &StationTally) -> StationCounts {
        StationCounts {
            received: n(t.received),
            accepted: n(t.accepted),
            not_accepted: n(t.not_accepted),
            initial_feedback: n(t.initial_feedback),
            closing_feedback: n(t.closing_feedback),
            decided_on_time: n(t.decided_on_time),
            completed_on_time: n(t.completed_on_time),
            mediated: n(t.mediated),
            decision_overdue: n(t.decision_overdue),
            initial_feedback_overdue: n(t.initial_feedback_overdue),
            closing_overdue: n(t.closing_overdue),
            recovered_cents: t.recovered_cents,
        }
    }
}

/// The station table's counters: the complaints that reached each station's
/// queue in the month, and how they stand now.
async fn station_counts<C: ConnectionTrait>(
    db: &C,
    codes: &[String],
    month: Month,
) -> Result<BTreeMap<String, StationCounts>> {
    let closed = closed_with_feedback();
    let not_accepted = "decision = 'not_accepted'";
    let completed = format!("({closed} OR {not_accepted})");
    let tallies = cohort(db, codes, complaint::Column::EscalatedAt, month)
        .select_only()
        .column(complaint::Column::StationCode)
        .expr_as(Expr::cust("COUNT(*)"), "received")
        .expr_as(count_if("decision = 'accepted'"), "accepted")
        .expr_as(count_if(not_accepted), "not_accepted")
        .expr_as(
            count_if("initial_feedback_at IS NOT NULL"),
            "initial_feedback",
        )
        .expr_as(count_if(&closed), "closing_feedback")
        .expr_as(
            count_if("decision IS NOT NULL AND decision_on_time"),
            "decided_on_time",
        )
        .expr_as(
            count_if(&format!("{completed} AND completed_on_time")),
            "completed_on_time",
        )
        .expr_as(count_if("close_result = 'mediated'"), "mediated")
        .expr_as(count_if("decision_overdue"), "decision_overdue")
        .expr_as(count_if("feedback_overdue"), "initial_feedback_overdue")
        .expr_as(count_if("closing_overdue"), "closing_overdue")
        .expr_as(sum_if(&closed, "closed_cents"), "recovered_cents")
        .group_by(complaint::Column::StationCode)
        .into_model::<StationTally>()
        .all(db)
        .await?;
    Ok(tallies
        .iter()
        .map(|t| (t.station_code.clone(), StationCounts::from(t)))
        .collect())
}

#[derive(Debug, FromQueryResult)]
struct HandlerTally {
    handler_id: String,
    forwarded: i64,
    acknowledged_on_time: i64,
    settled: i64,
    recovered_cents: i64,
}

#[derive(Debug, FromQueryResult)]
struct ReasonTally {
    handler_id: String,
    escalation_reason: String,
    escalated: i64,
}

#[derive(Debug, FromQueryResult)]
struct MedianTally {
    handler_id: String,
    median_seconds: f64,
}

/// Per handler, the complaints routed to it in the month (by the station of
/// the case, which is its handler's station) and how they stand now.
async fn handler_counts<C: ConnectionTrait>(
    db: &C,
    codes: &[String],
    month: Month,
) -> Result<BTreeMap<String, HandlerRow>> {
    let routed = || {
        cohort(db, codes, complaint::Column::CreatedAt, month)
            .filter(complaint::Column::HandlerId.is_not_null())
    };
    let tallies = routed()
        .select_only()
        .column(complaint::Column::HandlerId)
        .expr_as(Expr::cust("COUNT(*)"), "forwarded")
        .expr_as(count_if("ack_on_time"), "acknowledged_on_time")
        .expr_as(count_if("settled_at IS NOT NULL"), "settled")
        .expr_as(
            sum_if("settled_at IS NOT NULL", "settled_cents"),
            "recovered_cents",
        )
        .group_by(complaint::Column::HandlerId)
        .into_model::<HandlerTally>()
        .all(db)
        .await?;
    let mut rows: BTreeMap<String, HandlerRow> = tallies
        .into_iter()
        .map(|t| {
            let row = HandlerRow {
                id: t.handler_id.clone(),
                name: String::new(),
                kind: String::new(),
                station_code: String::new(),
                forwarded: n(t.forwarded),
                acknowledged_on_time: n(t.acknowledged_on_time),
                settled: n(t.settled),
                escalated: BTreeMap::new(),
                median_hours_to_settle: None,
                recovered_cents: t.recovered_cents,
            };
            (t.handler_id, row)
        })
        .collect();
    let reasons = routed()
        .filter(complaint::Column::EscalatedAt.is_not_null())
        .filter(complaint::Column::EscalationReason.is_not_null())
        .select_only()
        .column(complaint::Column::HandlerId)
        .column(complaint::Column::EscalationReason)
        .expr_as(Expr::cust("COUNT(*)"), "escalated")
        .group_by(complaint::Column::HandlerId)
        .group_by(complaint::Column::EscalationReason)
        .into_model::<ReasonTally>()
        .all(db)
        .await?;
    for t in reasons {
        if let (Some(row), Ok(reason)) = (
            rows.get_mut(&t.handler_id),
            t.escalation_reason.parse::<EscalationReason>(),
        ) {
            row.escalated.insert(reason, n(t.escalated));
        }
    }
    for m in median_seconds_to_settle(db, routed()).await? {
        if let Some(row) = rows.get_mut(&m.handler_id) {
            row.median_hours_to_settle = Some((m.median_seconds / 36.0).round() / 100.0);
        }
    }
    Ok(rows)
}

/// The median working time to settle per handler, by window functions: the
/// middle row (or the mean of the two middle rows) of each handler's settled
/// cases ordered by their time.
async fn median_seconds_to_settle<C: ConnectionTrait>(
    db: &C,
    routed: Select<complaint::Entity>,
) -> Result<Vec<MedianTally>> {
    let ranked = routed
        .filter(complaint::Column::SettledAt.is_not_null())
        .filter(complaint::Column::SettleWorkingSeconds.is_not_null())
        .select_only()
        .column(complaint::Column::HandlerId)
        .column_as(complaint::Column::SettleWorkingSeconds, "seconds")
        .expr_as(
            Expr::cust(
                "ROW_NUMBER() OVER (PARTITION BY handler_id ORDER BY settle_working_seconds)",
            ),
            "position",
        )
        .expr_as(
            Expr::cust("COUNT(*) OVER (PARTITION BY handler_id)"),
            "settled",
        )
        .into_query();
    let middle = Query::select()
        .column(Alias::new("handler_id"))
        .expr_as(
            Expr::cust("CAST(AVG(seconds) AS DOUBLE PRECISION)"),
            Alias::new("median_seconds"),
        )
        .from_subquery(ranked, Alias::new("ranked"))
        .and_where(Expr::cust(
            "position IN ((settled + 1) / 2, (settled + 2) / 2)",
        ))
        .group_by_col(Alias::new("handler_id"))
        .to_owned();
    let statement = StatementBuilder::build(&middle, &db.get_database_backend());
    let rows = db.query_all_raw(statement).await?;
    rows.iter()
        .map(|row| MedianTally::from_query_result(row, "").map_err(Error::from))
        .collect()
}

#[derive(Debug, FromQueryResult)]
struct DelayRow {
    id: String,
    handler_id: Option<String>,
    dispatched_at: DateTime<Utc>,
    received_at: Option<DateTime<Utc>>,
}

/// Complaints received in the month on a later Beijing day than dispatched.
async fn receive_delays<C: ConnectionTrait>(
    db: &C,
    codes: &[String],
    month: Month,
) -> Result<Vec<DelayRow>> {
    Ok(cohort(db, codes, complaint::Column::ReceivedAt, month)
        .filter(complaint::Column::ReceiveDelayed.eq(true))
        .select_only()
        .column(complaint::Column::Id)
        .column(complaint::Column::HandlerId)
        .column(complaint::Column::DispatchedAt)
        .column(complaint::Column::ReceivedAt)
        .order_by_asc(complaint::Column::ReceivedAt)
        .order_by_asc(complaint::Column::Id)
        .into_model::<DelayRow>()
        .all(db)
        .await?)
}

#[derive(Debug, FromQueryResult)]
struct AnswerTally {
    status: String,
    satisfaction: Option<String>,
    followups: i64,
}

/// The follow-ups of the month's sample in the subtree, by answer.
async fn satisfaction<C: ConnectionTrait>(
    db: &C,
    codes: &[String],
    month: Month,
) -> Result<SatisfactionCounts> {
    let tallies = followup::Entity::find()
        .filter(one_of(
            db.get_database_backend(),
            followup::Column::StationCode,
            codes.to_vec(),
        ))
        .filter(followup::Column::Month.eq(month.to_string()))
        .select_only()
        .column(followup::Column::Status)
        .column(followup::Column::Satisfaction)
        .expr_as(Expr::cust("COUNT(*)"), "followups")
        .group_by(followup::Column::Status)
        .group_by(followup::Column::Satisfaction)
        .into_model::<AnswerTally>()
        .all(db)
        .await?;
    let mut counts = SatisfactionCounts::default();
    for t in tallies {
        match t.satisfaction.as_deref().map(str::parse) {
            Some(Ok(answer)) if t.status == "answered" => counts.count(answer, n(t.followups)),
            _ => counts.pending += n(t.followups),
        }
    }
    Ok(counts)
}

/// `root` and the stations below it, depth first with children by code,
/// each with its depth.
fn tree_order(all: &[station::Model], root: &station::Model) -> Vec<(station::Model, usize)> {
    let mut ordered = Vec::new();
    let mut stack = vec![(root.clone(), 0)];
    while let Some((station, depth)) = stack.pop() {
        let mut children: Vec<&station::Model> = all
            .iter()
            .filter(|s| s.parent_code.as_deref() == Some(station.code.as_str()))
            .collect();
        // Pushed in reverse so the smallest code is taken first.
        children.sort_by(|a, b| b.code.cmp(&a.code));
        stack.extend(children.into_iter().map(|c| (c.clone(), depth + 1)));
        ordered.push((station, depth));
    }
    ordered
}

/// The report of `station_code`'s subtree for `month`; `None` when there is
/// no such station. Scope (who may ask for which station) is the caller's.
pub async fn monthly<C: ConnectionTrait>(
    db: &C,
    station_code: &str,
    month: Month,
) -> Result<Option<MonthlyReport>> {
    let all = station::Entity::find()
        .order_by_asc(station::Column::Code)
        .all(db)
        .await?;
    let Some(root) = all.iter().find(|s| s.code == station_code) else {
        return Ok(None);
    };
    let tree = tree_order(&all, root);
    let codes: Vec<String> = tree.iter().map(|(s, _)| s.code.clone()).collect();
    let mut counts = station_counts(db, &codes, month).await?;
    let stations = tree
        .iter()
        .map(|(s, depth)| StationRow {
            code: s.code.clone(),
            name: s.name.clone(),
            depth: *depth,
            counts: counts.remove(&s.code).unwrap_or_default(),
        })
        .collect();
    let mut tallies = handler_counts(db, &codes, month).await?;
    let enrolled = handler::Entity::find()
        .filter(one_of(
            db.get_database_backend(),
            handler::Column::StationCode,
            codes.clone(),
        ))
        .all(db)
        .await?;
    let position = |code: &str| codes.iter().position(|c| c == code).unwrap_or(usize::MAX);
    let mut handlers: Vec<HandlerRow> = enrolled
        .iter()
        .map(|h| {
            let mut row = tallies.remove(&h.id).unwrap_or_else(|| HandlerRow {
                id: h.id.clone(),
                name: String::new(),
                kind: String::new(),
                station_code: String::new(),
                forwarded: 0,
                acknowledged_on_time: 0,
                settled: 0,
                escalated: BTreeMap::new(),
                median_hours_to_settle: None,
                recovered_cents: 0,
            });
            row.name = h.name.clone();
            row.kind = h.kind.clone();
            row.station_code = h.station_code.clone();
            row
        })
        .collect();
    handlers.sort_by(|a, b| {
        (position(&a.station_code), &a.name, &a.id).cmp(&(
            position(&b.station_code),
            &b.name,
            &b.id,
        ))
    });
    let names: BTreeMap<&str, &str> = enrolled
        .iter()
        .map(|h| (h.id.as_str(), h.name.as_str()))
        .collect();
    let receive_delays = receive_delays(db, &codes, month)
        .await?
        .into_iter()
        .filter_map(|d| {
            let handler_id = d.handler_id?;
            Some(ReceiveDelay {
                complaint_id: d.id,
                unit: names.get(handler_id.as_str()).unwrap_or(&"").to_string(),
                handler_id,
                dispatched_at: d.dispatched_at,
                received_at: d.received_at?,
            })
        })
        .collect();
    Ok(Some(MonthlyReport {
        month,
        station_code: root.code.clone(),
        station_name: root.name.clone(),
        stations,
        handlers,
        receive_delays,
        satisfaction: satisfaction(db, &codes, month).await?,
    }))
}
