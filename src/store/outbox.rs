//! The transactional outbox: each state change writes its outbound webhook
//! events in the same transaction, and delivery workers claim them from here.

use chrono::{DateTime, Duration, Utc};
use std::collections::HashMap;

use entity::{complaint, handler, outbox, partner};
use sea_orm::{
    ActiveValue::Set, ConnectionTrait, DatabaseBackend, DatabaseConnection, DatabaseTransaction,
    EntityTrait, FromQueryResult, Statement, TransactionTrait, TryIntoModel,
};
use serde_json::{Value, json};

use crate::auth::Principal;
use crate::domain::case_file::stored_time;
use crate::domain::lifecycle::{Action, EscalationReason, Status};
use crate::error::Result;
use crate::views;

/// Tells this process's delivery workers that outbox rows were committed, so
/// they claim them at once rather than at their next poll. Rows written by
/// other processes are found by polling.
#[derive(Clone, Default)]
pub struct Ready(std::sync::Arc<tokio::sync::Notify>);

impl Ready {
    /// Wakes one waiting worker (or the next one to wait).
    pub fn wake(&self) {
        self.0.notify_one();
    }

    /// Waits for a wake-up, at most `poll`.
    pub async fn wait(&self, poll: std::time::Duration) {
        let _ = tokio::time::timeout(poll, self.0.notified()).await;
    }
}

pub const FORWARDED: &str = "complaint.forwarded";
pub const CONSUMER_RESPONDED: &str = "complaint.consumer_responded";
pub const ESCALATED: &str = "complaint.escalated";
pub const WITHDRAWN: &str = "complaint.withdrawn";
pub const STATUS_CHANGED: &str = "complaint.status_changed";
pub const DEADLINE_APPROACHING: &str = "complaint.deadline_approaching";
pub const EXTENSION_DECIDED: &str = "complaint.extension_decided";

/// Which webhook events a change of `case` (now in its new state) produces for
/// its handler. Pure, so the list is tested without a database.
pub fn handler_events(
    from: Option<Status>,
    to: Status,
    action: Option<Action>,
) -> Vec<&'static str> {
    let mut events = Vec::new();
    if from.is_none() && to == Status::Routed {
        events.push(FORWARDED);
    }
    if matches!(
        action,
        Some(
            Action::ConsumerAccept
                | Action::ConsumerReject
                | Action::ConsumerObject
                | Action::ConsumerEscalate
        )
    ) {
        events.push(CONSUMER_RESPONDED);
    }
    // A handler whose endpoint failed the forward is not told of the escalation.
    let delivery_failed = action == Some(Action::Escalate(EscalationReason::DeliveryFailed));
    let escalates = action.is_some_and(|a| a.escalation_reason().is_some());
    if to == Status::Escalated && escalates && !delivery_failed {
        events.push(ESCALATED);
    }
    if to == Status::Withdrawn && from.is_some_and(|f| f != Status::Withdrawn) {
        events.push(WITHDRAWN);
    }
    match action {
        Some(Action::WarnDeadline) => events.push(DEADLINE_APPROACHING),
        Some(Action::ApproveExtension | Action::RejectExtension) => events.push(EXTENSION_DECIDED),
        _ => {}
    }
    events
}

fn body(event_type: &str, at: DateTime<Utc>, data: Value) -> Value {
    json!({ "type": event_type, "timestamp": views::time(&at), "data": data })
}

fn row(
    case: &complaint::Model,
    target_kind: &str,
    target_id: &str,
    event_type: &str,
    payload: Value,
) -> outbox::ActiveModel {
    // Stored to the microsecond, as read back (a leased row is handed on as written).
    let now = stored_time(Utc::now());
    outbox::ActiveModel {
        webhook_id: Set(format!("msg_{}", uuid::Uuid::now_v7().simple())),
        complaint_id: Set(case.id.clone()),
        target_kind: Set(target_kind.into()),
        target_id: Set(target_id.into()),
        event_type: Set(event_type.into()),
        payload: Set(payload),
        status: Set("pending".into()),
        attempts: Set(0),
        next_attempt_at: Set(now),
        locked_until: Set(None),
        last_error: Set(None),
        created_at: Set(now),
        delivered_at: Set(None),
        ..Default::default()
    }
}

/// Writes outbox rows (of one change or of many) in one statement; in order,
/// so their ids keep each complaint's events in sequence.
pub async fn insert_all<C: ConnectionTrait>(db: &C, rows: &[outbox::ActiveModel]) -> Result<()> {
    super::bulk::insert(db, rows).await
}

/// Writes outbox rows already leased until `until` to the caller, which
/// delivers them itself instead of leaving them for a claim; answers them as
/// stored. Should the caller not get to them (a crash), the lease runs out
/// and any worker claims them.
pub async fn insert_leased<C: ConnectionTrait>(
    db: &C,
    rows: Vec<outbox::ActiveModel>,
    until: DateTime<Utc>,
) -> Result<Vec<outbox::Model>> {
    use sea_orm::ActiveValue;
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let until = stored_time(until);
    let mut rows = rows;
    for row in &mut rows {
        row.locked_until = Set(Some(until));
    }
    let returning = [outbox::Column::Id, outbox::Column::WebhookId];
    let ids: HashMap<String, i64> = super::bulk::insert_returning(db, &rows, &returning)
        .await?
        .into_iter()
        .map(|r| Ok((r.try_get("", "webhook_id")?, r.try_get("", "id")?)))
        .collect::<std::result::Result<_, sea_orm::DbErr>>()?;
    rows.into_iter()
        .map(|mut row| {
            let id = match &row.webhook_id {
                ActiveValue::Set(webhook_id) => ids.get(webhook_id).copied(),
                _ => None,
            };
            let id = id.ok_or_else(|| {
                crate::error::Error::unexpected(format!(
                    "outbox row {:?} was not returned by its insert",
                    row.webhook_id
                ))
            })?;
            row.id = Set(id);
            Ok(row.try_into_model()?)
        })
        .collect()
}

/// Whether a partner registered a callback URL. Asked on every status change,
/// so the answer is kept for a few seconds; a callback cannot be changed
/// through the API after a partner is created, only set then.
async fn has_callback<C: ConnectionTrait>(db: &C, partner_id: &str) -> Result<bool> {
    use std::sync::{LazyLock, Mutex};
    use std::time::{Duration as StdDuration, Instant};
    static KNOWN: LazyLock<Mutex<HashMap<String, (bool, Instant)>>> =
        LazyLock::new(Default::default);
    const FRESH: StdDuration = StdDuration::from_secs(10);
    if let Some((known, at)) = KNOWN
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .get(partner_id)
        && at.elapsed() < FRESH
    {
        return Ok(*known);
    }
    let known = partner::Entity::find_by_id(partner_id.to_string())
        .one(db)
        .await?
        .is_some_and(|p| p.callback_url.is_some());
    KNOWN
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .insert(partner_id.to_string(), (known, Instant::now()));
    Ok(known)
}

/// One change of a case, as its outbound events tell of it.
pub struct Change<'a> {
    /// The case as the change leaves it.
    pub case: &'a complaint::Model,
    /// None at intake.
    pub from: Option<Status>,
    pub to: Status,
    /// None at intake.
    pub action: Option<Action>,
    /// The change's case-file payload; the events about a deadline or an
    /// extension carry that part of it beside the complaint.
    pub detail: &'a Value,
    /// Business time: the events' `timestamp` (scheduling runs on real time).
    pub at: DateTime<Utc>,
}

impl Change<'_> {
    fn handler_events(&self) -> Vec<&'static str> {
        handler_events(self.from, self.to, self.action)
    }
}

/// The outbound events of one change, for its transaction to write.
pub async fn rows_of_change(
    txn: &DatabaseTransaction,
    change: Change<'_>,
) -> Result<Vec<outbox::ActiveModel>> {
    // Read the handler only when it has something to be told.
    let handler = match &change.case.handler_id {
        Some(id) if !change.handler_events().is_empty() => {
            handler::Entity::find_by_id(id.clone()).one(txn).await?
        }
        _ => None,
    };
    rows_for(txn, change, handler.as_ref()).await
}

/// The outbox rows one change produces, for the caller to write in the
/// change's transaction, `handler` being the case's handler if it is to be
/// told. Reads nothing but whether the partner has a callback (cached).
pub async fn rows_for<C: ConnectionTrait>(
    db: &C,
    change: Change<'_>,
    handler: Option<&handler::Model>,
) -> Result<Vec<outbox::ActiveModel>> {
    let for_handler = change.handler_events();
    let Change {
        case,
        from,
        to,
        detail,
        at,
        ..
    } = change;
    let mut rows = Vec::new();
    if let Some(h) = handler.filter(|h| case.handler_id.as_deref() == Some(h.id.as_str()))
        && !for_handler.is_empty()
        && h.delivery == "push"
        && h.webhook_url.is_some()
        && h.status != "withdrawn"
    {
        let viewer = Principal::Handler {
            handler_id: h.id.clone(),
        };
        for event_type in for_handler {
            let mut data = json!({ "complaint": views::complaint(case, &viewer) });
            for key in ["deadline", "extension"] {
                if let Some(value) = detail.get(key) {
                    data[key] = value.clone();
                }
            }
            rows.push(row(
                case,
                "handler",
                &h.id,
                event_type,
                body(event_type, at, data),
            ));
        }
    }
    if from != Some(to) && has_callback(db, &case.partner_id).await? {
        let viewer = Principal::Partner {
            partner_id: case.partner_id.clone(),
        };
        let data = json!({
            "complaint": views::complaint(case, &viewer),
            "previous_status": from,
        });
        rows.push(row(
            case,
            "partner",
            &case.partner_id,
            STATUS_CHANGED,
            body(STATUS_CHANGED, at, data),
        ));
    }
    Ok(rows)
}

/// Claims up to `limit` due rows for `lease`: pending, due, not held by a live
/// lease, and first in line for their complaint and target (in-order delivery).
/// On PostgreSQL `FOR UPDATE SKIP LOCKED` lets several processes claim at once.
/// Both scans run on the partial indexes over pending rows, so the query's
/// plan does not depend on its parameters and is prepared once per connection.
///
/// On PostgreSQL the scans are kept to plain index scans: a delivered row
/// leaves its entry in the pending index until the table is vacuumed, and only
/// a plain index scan marks such entries dead as it passes them, so the next
/// claim skips them without visiting the table. A bitmap scan (the planner's
/// choice for a few pending rows) visits every one of them on every claim, a
/// cost that grows with each row delivered since the last vacuum.
pub async fn claim(
    db: &DatabaseConnection,
    lease: Duration,
    limit: u64,
) -> Result<Vec<outbox::Model>> {
    if db.get_database_backend() != DatabaseBackend::Postgres {
        return claim_in(db, lease, limit).await;
    }
    let txn = db.begin().await?;
    txn.execute_unprepared("SET LOCAL enable_bitmapscan = off")
        .await?;
    let rows = claim_in(&txn, lease, limit).await?;
    txn.commit().await?;
    Ok(rows)
}

async fn claim_in<C: ConnectionTrait>(
    db: &C,
    lease: Duration,
    limit: u64,
) -> Result<Vec<outbox::Model>> {
    let now = Utc::now();
    let backend = db.get_database_backend();
    let (p, skip_locked) = match backend {
        DatabaseBackend::Postgres => (["$1", "$2", "$3"], "FOR UPDATE SKIP LOCKED"),
        _ => (["?", "?", "?"], ""),
    };
    let sql = format!(
        "UPDATE outbox SET locked_until = {lease_until} \
         WHERE id IN (SELECT o.id FROM outbox o \
            WHERE o.status = 'pending' AND o.next_attempt_at <= {now} \
              AND (o.locked_until IS NULL OR o.locked_until < {now2}) \
              AND NOT EXISTS (SELECT 1 FROM outbox e WHERE e.status = 'pending' \
                  AND e.complaint_id = o.complaint_id AND e.target_id = o.target_id \
                  AND e.id < o.id) \
            ORDER BY o.id LIMIT {limit} {skip_locked}) \
         RETURNING *",
        lease_until = p[0],
        now = p[1],
        now2 = p[2],
    );
    let stmt = Statement::from_sql_and_values(
        backend,
        sql,
        [(now + lease).into(), now.into(), now.into()],
    );
    Ok(outbox::Model::find_by_statement(stmt).all(db).await?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use Status as S;

    #[test]
    fn each_change_tells_the_handler_what_the_spec_lists() {
        assert_eq!(handler_events(None, S::Routed, None), [FORWARDED]);
        assert!(handler_events(None, S::Escalated, None).is_empty());
        assert_eq!(
            handler_events(
                Some(S::Negotiating),
                S::Settled,
                Some(Action::ConsumerAccept)
            ),
            [CONSUMER_RESPONDED]
        );
        assert_eq!(
            handler_events(
                Some(S::Acknowledged),
                S::Escalated,
                Some(Action::ConsumerEscalate)
            ),
            [CONSUMER_RESPONDED, ESCALATED]
        );
        assert_eq!(
            handler_events(Some(S::Delivered), S::Escalated, Some(Action::Decline)),
            [ESCALATED]
        );
        assert!(
            handler_events(
                Some(S::Routed),
                S::Escalated,
                Some(Action::Escalate(EscalationReason::DeliveryFailed))
            )
            .is_empty()
        );
        assert_eq!(
            handler_events(Some(S::Delivered), S::Withdrawn, Some(Action::Withdraw)),
            [WITHDRAWN]
        );
        assert!(handler_events(Some(S::Routed), S::Delivered, Some(Action::Deliver)).is_empty());
        assert!(handler_events(Some(S::Claimed), S::Escalated, Some(Action::Release)).is_empty());
    }
}
