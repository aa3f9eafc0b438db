//! Complaints: intake, and the one function through which every status changes.

use chrono::{DateTime, Utc};
use entity::complaint;
use sea_orm::TryIntoModel;
use sea_orm::{
    ActiveValue, ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection,
    DatabaseTransaction, EntityTrait, IntoActiveModel, QueryFilter, QueryOrder, QuerySelect,
    Select, TransactionTrait,
};
use serde_json::{Value, json};

use super::deadlines::caught_up;
use super::events::{self, Actor, NewEvent};
use super::intake_writer::{IntakeRows, IntakeWriter, KeyedAnswer};
use super::{directory, facts, negotiation, new_id, outbox};
use crate::clock::Now;
use crate::domain::case_file;
use crate::domain::deadlines::{self, Deadlines};
use crate::domain::lifecycle::{self, Action, EscalationReason, Position, Status};
use crate::domain::routing::{self, Route};
use crate::error::{Error, Result};

/// A validated intake (SPEC §13).
#[derive(Debug, Clone)]
pub struct NewComplaint {
    pub external_ref: String,
    pub channel: String,
    pub consumer_name: String,
    pub consumer_phone: String,
    pub merchant_credit_code: String,
    pub merchant_name: String,
    pub category: String,
    pub problem: String,
    pub description: String,
    pub demand: String,
    pub amount_cents: i64,
    pub occurred_at: DateTime<Utc>,
    pub dispatched_at: Option<DateTime<Utc>>,
    pub station_code: Option<String>,
    pub consents: Value,
    pub odr_consent: bool,
}

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

fn duplicate(existing: &complaint::Model) -> Error {
    Error::Conflict {
        detail: format!(
            "external_ref {} was already submitted as complaint {}",
            existing.external_ref, existing.id
        ),
        extra: json!({ "existing_id": existing.id }),
    }
}

/// An intake's `Idempotency-Key`, and its 201 body as made from the case.
pub struct Keyed<'a> {
    pub key: &'a str,
    pub body: &'a (dyn Fn(&complaint::Model) -> String + Sync),
}

/// Accepts a complaint: routes it and writes the case with its first event
/// and its outbox rows, committed (with whatever other intakes arrived at the
/// same moment) before this returns. With `keyed`, the key's answer is
/// committed with them and returned.
pub async fn intake(
    db: &sea_orm::DatabaseConnection,
    writer: &IntakeWriter,
    partner_id: &str,
    new: NewComplaint,
    default_station: Option<&str>,
    clock: Now<'_>,
    keyed: Option<Keyed<'_>>,
) -> Result<(complaint::Model, Option<String>)> {
    let (case, mut rows) =
        prepare_intake(db, writer, partner_id, new, default_station, clock).await?;
    rows.answer = keyed.map(|k| KeyedAnswer {
        partner_id: partner_id.to_string(),
        key: k.key.to_string(),
        status: 201,
        body: (k.body)(&case),
    });
    let body = rows.answer.as_ref().map(|a| a.body.clone());
    if let Err(err) = writer.write(rows).await {
        // The same external_ref was taken in already: name that complaint.
        if let Some(existing) = by_external_ref(db, partner_id, &case.external_ref).await? {
            return Err(duplicate(&existing));
        }
        return Err(err);
    }
    Ok((case, body))
}

/// Routes an intake and makes the rows it writes, without writing them.
pub async fn prepare_intake(
    db: &sea_orm::DatabaseConnection,
    writer: &IntakeWriter,
    partner_id: &str,
    new: NewComplaint,
    default_station: Option<&str>,
    clock: Now<'_>,
) -> Result<(complaint::Model, IntakeRows)> {
    let now = clock.at;
    // A duplicate external_ref is caught by the unique index when inserting.
    if let Some(code) = &new.station_code
        && !writer.station_exists(db, code).await?
    {
        return Err(Error::field("station_code", "no station has this code"));
    }
    let (candidates, handlers) = writer.routing.candidates(&new.merchant_credit_code).await?;
    let mut route = routing::route(
        &new.merchant_credit_code,
        new.odr_consent,
        &candidates,
        new.station_code.as_deref(),
        default_station,
    );
    // Nobody placed the case: the sole root station takes it, if there is one.
    if let Route::Station {
        station_code: station @ None,
        ..
    } = &mut route
    {
        *station = directory::sole_root_station(db).await?;
    }
    let (status, reason) = lifecycle::initial(&route);
    let (handler_id, station_code) = match route {
        Route::Handler {
            handler_id,
            station_code,
        } => (Some(handler_id), station_code),
        Route::Station {
            station_code: Some(code),
            ..
        } => (None, code),
        Route::Station {
            station_code: None, ..
        } => {
            return Err(Error::field(
                "station_code",
                "the merchant is not enrolled and no station is configured to take the case; name one",
            ));
        }
    };
    let id = new_id();
    // Stored to the microsecond, as read back.
    let now = case_file::stored_time(now);
    let model = complaint::ActiveModel {
        id: Set(id.clone()),
        partner_id: Set(partner_id.to_string()),
        external_ref: Set(new.external_ref.clone()),
        channel: Set(new.channel),
        consumer_name: Set(new.consumer_name),
        consumer_phone: Set(new.consumer_phone),
        merchant_credit_code: Set(new.merchant_credit_code),
        merchant_name: Set(new.merchant_name),
        category: Set(new.category),
        problem: Set(new.problem),
        description: Set(new.description),
        demand: Set(new.demand),
        amount_cents: Set(new.amount_cents),
        occurred_at: Set(case_file::stored_time(new.occurred_at)),
        dispatched_at: Set(case_file::stored_time(new.dispatched_at.unwrap_or(now))),
        received_at: Set(None),
        status: Set(status.as_str().into()),
        handler_id: Set(handler_id.clone()),
        station_code: Set(station_code.clone()),
        consents: Set(new.consents),
        deadlines: Set(json!({})),
        next_action_at: Set(None),
        station_overdue: Set(false),
        deadlines_provisional: Set(false),
        receive_delayed: Set(false),
        ack_on_time: Set(None),
        settled_at: Set(None),
        settled_cents: Set(None),
        settle_working_seconds: Set(None),
        decision: Set(None),
        decision_on_time: Set(None),
        closed_at: Set(None),
        close_result: Set(None),
        closed_cents: Set(None),
        completed_on_time: Set(None),
        decision_overdue: Set(false),
        feedback_overdue: Set(false),
        closing_overdue: Set(false),
        escalation_reason: Set(reason.map(|r| r.as_str().to_string())),
        escalated_at: Set(reason.map(|_| now)),
        assignee_id: Set(None),
        phone_disclosed_at: Set(None),
        initial_feedback_at: Set(None),
        outcome: Set(None),
        version: Set(1),
        event_count: Set(1),
        event_hash: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    };
    let actor = Actor {
        kind: "partner",
        id: Some(partner_id.to_string()),
    };
    let first = NewEvent {
        complaint_id: &id,
        at: now,
        actor: &actor,
        kind: "intake",
        from: None,
        to: Some(status),
        payload: json!({
            "external_ref": new.external_ref,
            "handler_id": handler_id,
            "station_code": station_code,
            "escalation_reason": reason,
        }),
    };
    let (rows, head) = events::chained(vec![first], 1, None);
    let mut model = model;
    model.event_hash = Set(Some(head));
    keep_deadlines(&mut model, clock, None, status, None)?;
    let case = model.clone().try_into_model()?;
    let handler = handlers
        .iter()
        .find(|h| Some(&h.id) == case.handler_id.as_ref());
    let change = outbox::Change {
        case: &case,
        from: None,
        to: status,
        action: None,
        detail: &Value::Null,
        at: now,
    };
    let outbox = outbox::rows_for(db, change, handler).await?;
    let rows = IntakeRows {
        complaint: model,
        events: rows,
        outbox,
        answer: None,
    };
    Ok((case, rows))
}

/// Several complaints by id, whoever asks: for the gateway's own workers only.
pub async fn find_many<C: ConnectionTrait>(
    db: &C,
    ids: Vec<String>,
) -> Result<Vec<complaint::Model>> {
    Ok(complaint::Entity::find()
        .filter(super::bulk::one_of(
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

pub fn status_of(case: &complaint::Model) -> Result<Status> {
    case.status.parse().map_err(|_| {
        Error::internal(std::io::Error::other(format!(
            "complaint {} has an unknown status {}",
            case.id, case.status
        )))
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

/// How often [`transition`] (and a delivery worker) re-reads a case that changed under it.
pub const CONCURRENT_RETRIES: usize = 3;

/// A check beyond the lifecycle table that a step makes on the case as it
/// stands (initial feedback only once, only the claimant acts, …).
/// [`transition`] runs it against every fresh read of the case, so a change
/// that lands between the read and the write cannot slip past it.
pub trait Guard: Fn(&complaint::Model) -> Result<()> {}
impl<F: Fn(&complaint::Model) -> Result<()>> Guard for F {}

/// The guard of a step that the lifecycle table alone decides.
pub fn unguarded(_: &complaint::Model) -> Result<()> {
    Ok(())
}

/// Runs `action` on `case` through `guard` and the lifecycle table in its own
/// transaction. Whatever the deadline job would have done to the case by `now`
/// is done first ([`caught_up`]), so the action is judged against the case as
/// it stands at that time. When the case changed meanwhile (a worker delivered it,
/// another request moved it), it is read again and the guard and the table
/// asked again, a few times, so a request that is still valid does not fail
/// for a race and one that no longer is fails as if it came second. `edit`
/// gets the case as it stands. See [`transition_in`].
#[allow(clippy::too_many_arguments)]
pub async fn transition(
    db: &DatabaseConnection,
    now: Now<'_>,
    actor: &Actor,
    case: &complaint::Model,
    action: Action,
    payload: Value,
    guard: impl Guard,
    edit: impl Fn(&mut complaint::ActiveModel, &complaint::Model),
) -> Result<complaint::Model> {
    transition_recording(
        db,
        now,
        actor,
        case,
        action,
        payload,
        Vec::new(),
        guard,
        edit,
    )
    .await
}

/// [`transition`], appending `records` after the transition's own event.
#[allow(clippy::too_many_arguments)]
pub async fn transition_recording(
    db: &DatabaseConnection,
    now: Now<'_>,
    actor: &Actor,
    case: &complaint::Model,
    action: Action,
    payload: Value,
    records: Vec<Record>,
    guard: impl Guard,
    edit: impl Fn(&mut complaint::ActiveModel, &complaint::Model),
) -> Result<complaint::Model> {
    let mut current = caught_up(db, now, case).await?;
    for attempt in 0.. {
        guard(&current)?;
        let txn = db.begin().await?;
        let result = transition_with_records(
            &txn,
            now,
            actor,
            &current,
            action,
            payload.clone(),
            records.clone(),
            |m| edit(m, &current),
        )
        .await;
        match result {
            Ok(updated) => {
                txn.commit().await?;
                return Ok(updated);
            }
            Err(Error::Concurrent) if attempt < CONCURRENT_RETRIES => {
                drop(txn);
                let fresh = find(db, &case.id).await?.ok_or(Error::NotFound)?;
                current = caught_up(db, now, &fresh).await?;
            }
            Err(err) => return Err(err),
        }
    }
    Err(Error::Concurrent)
}

/// Runs `action` on `case` through the lifecycle table inside `txn`: updates the
/// case (with `edit` for the action's own fields) and appends its event, so
/// they commit together with whatever else the caller writes in `txn`. Fails
/// with 409 when the table refuses or when the case changed since `case` was read.
pub async fn transition_in(
    db: &DatabaseTransaction,
    now: Now<'_>,
    actor: &Actor,
    case: &complaint::Model,
    action: Action,
    payload: Value,
    edit: impl FnOnce(&mut complaint::ActiveModel),
) -> Result<complaint::Model> {
    transition_with_records(db, now, actor, case, action, payload, Vec::new(), edit).await
}

/// An event recorded beside a transition, in the same case-file write
/// (the disclosure of contact details that comes with an acknowledgement,
/// the notice that comes with terminating a mediation).
#[derive(Debug, Clone)]
pub struct Record {
    pub kind: &'static str,
    pub payload: Value,
}

/// [`transition_in`], appending `records` after the transition's own event.
#[allow(clippy::too_many_arguments)]
pub async fn transition_with_records(
    db: &DatabaseTransaction,
    now: Now<'_>,
    actor: &Actor,
    case: &complaint::Model,
    action: Action,
    payload: Value,
    records: Vec<Record>,
    edit: impl FnOnce(&mut complaint::ActiveModel),
) -> Result<complaint::Model> {
    let mut rows = Deferred::default();
    let updated = transition_deferring(
        db, now, actor, case, action, payload, records, edit, &mut rows,
    )
    .await?;
    rows.write(db).await?;
    Ok(updated)
}

/// The case-file and outbox rows of transitions made in one transaction, kept
/// back so that the caller writes them all in two statements (a delivery
/// batch moves many cases at once). Written in the order the transitions
/// made them, so each complaint's events stay in sequence.
#[derive(Default)]
pub struct Deferred {
    events: Vec<entity::event::ActiveModel>,
    outbox: Vec<entity::outbox::ActiveModel>,
}

impl Deferred {
    pub fn writes_outbox(&self) -> bool {
        !self.outbox.is_empty()
    }

    pub async fn write(self, txn: &DatabaseTransaction) -> Result<()> {
        events::insert_all(txn, &self.events).await?;
        outbox::insert_all(txn, &self.outbox).await
    }
}

/// [`transition_with_records`], leaving its case-file and outbox rows in
/// `deferred` for the caller to write before committing `db`.
#[allow(clippy::too_many_arguments)]
pub async fn transition_deferring(
    db: &DatabaseTransaction,
    now: Now<'_>,
    actor: &Actor,
    case: &complaint::Model,
    action: Action,
    payload: Value,
    records: Vec<Record>,
    edit: impl FnOnce(&mut complaint::ActiveModel),
    deferred: &mut Deferred,
) -> Result<complaint::Model> {
    let planned = plan(db, now, actor, case, action, payload, records, edit).await?;
    update_versioned(db, std::slice::from_ref(&planned)).await?;
    finish(db, planned, deferred).await
}

/// One `action` on each of `cases`, in `db`, as [`transition_deferring`] would
/// make them one by one; on PostgreSQL the cases are updated in one statement.
/// Fails with 409 when any case changed since it was read (and then nothing
/// of it should be committed).
pub async fn transition_many_deferring(
    db: &DatabaseTransaction,
    now: Now<'_>,
    actor: &Actor,
    cases: Vec<(&complaint::Model, Value)>,
    action: Action,
    edit: impl Fn(&mut complaint::ActiveModel),
    deferred: &mut Deferred,
) -> Result<Vec<complaint::Model>> {
    let mut plans = Vec::with_capacity(cases.len());
    for (case, payload) in cases {
        plans.push(plan(db, now, actor, case, action, payload, Vec::new(), &edit).await?);
    }
    update_versioned(db, &plans).await?;
    let mut updated = Vec::with_capacity(plans.len());
    for planned in plans {
        updated.push(finish(db, planned, deferred).await?);
    }
    Ok(updated)
}

/// A transition worked out and not yet written: the case row's new values
/// (only the changed columns set) and its case-file rows.
struct Planned {
    id: String,
    /// The version the change was worked out from.
    version: i32,
    model: complaint::ActiveModel,
    from: Status,
    to: Status,
    action: Action,
    detail: Value,
    now: DateTime<Utc>,
    events: Vec<entity::event::ActiveModel>,
    lapsing: Option<entity::extension::Model>,
}

#[allow(clippy::too_many_arguments)]
async fn plan(
    db: &DatabaseTransaction,
    now: Now<'_>,
    actor: &Actor,
    case: &complaint::Model,
    action: Action,
    payload: Value,
    records: Vec<Record>,
    edit: impl FnOnce(&mut complaint::ActiveModel),
) -> Result<Planned> {
    let from = status_of(case)?;
    let to = lifecycle::next(position_of(case, now.at)?, action)?;
    let clock = now;
    let now = clock.at;
    // A case leaving the handler's hands takes its undecided extension
    // request with it, recorded in the same case-file write.
    let lapsing = if from.is_worked_by_handler() && !to.is_worked_by_handler() {
        negotiation::pending_extension(db, &case.id).await?
    } else {
        None
    };
    let mut records = records;
    if let Some(extension) = &lapsing {
        records.push(Record {
            kind: "extension_lapsed",
            payload: json!({
                "extension_id": extension.id,
                "working_days": extension.working_days,
                "reason": format!("the complaint became {to} before staff decided the request"),
            }),
        });
    }
    let mut model = case.clone().into_active_model();
    model.status = Set(to.as_str().into());
    model.version = Set(case.version + 1);
    // The case file's numbering moves with the case row, under its version check.
    let seq = case.event_count + 1;
    model.event_count = Set(case.event_count + 1 + records.len() as i32);
    model.updated_at = Set(now);
    let reason: Option<EscalationReason> = action.escalation_reason();
    // Escalated, or reopened by a dissatisfied follow-up: either way in the
    // station's queue now, for the reason the action gives.
    if matches!(to, Status::Escalated | Status::Reopened)
        && let Some(reason) = reason
    {
        model.escalation_reason = Set(Some(reason.as_str().into()));
        model.assignee_id = Set(None);
        if case.escalated_at.is_none() {
            model.escalated_at = Set(Some(now));
        }
    }
    edit(&mut model);
    let deadlines = keep_deadlines(&mut model, clock, Some(from), to, Some(action))?;
    facts::keep(
        &mut model,
        &deadlines,
        from,
        to,
        action,
        now,
        clock.policy.calendar(),
    );
    let detail = payload.clone();
    let mut payload = payload;
    if let (Some(reason), Value::Object(map)) =
        (reason.filter(|_| to == Status::Escalated), &mut payload)
    {
        map.insert("escalation_reason".into(), json!(reason));
    }
    let mut entries = vec![NewEvent {
        complaint_id: &case.id,
        at: now,
        actor,
        kind: action.name(),
        from: Some(from),
        to: Some(to),
        payload,
    }];
    entries.extend(records.into_iter().map(|record| NewEvent {
        complaint_id: &case.id,
        at: now,
        actor,
        kind: record.kind,
        from: None,
        to: None,
        payload: record.payload,
    }));
    let (events, head) = events::chained(entries, seq, case.event_hash.as_deref());
    model.event_hash = Set(Some(head));
    Ok(Planned {
        id: case.id.clone(),
        version: case.version,
        model,
        from,
        to,
        action,
        detail,
        now,
        events,
        lapsing,
    })
}

/// What follows a planned transition's update: its case-file rows, the lapse
/// of an extension it ends, and its outbox rows.
async fn finish(
    db: &DatabaseTransaction,
    planned: Planned,
    deferred: &mut Deferred,
) -> Result<complaint::Model> {
    deferred.events.extend(planned.events);
    if let Some(extension) = &planned.lapsing {
        negotiation::lapse_extension(db, &extension.id, planned.now).await?;
    }
    let updated = planned.model.try_into_model()?;
    let change = outbox::Change {
        case: &updated,
        from: Some(planned.from),
        to: planned.to,
        action: Some(planned.action),
        detail: &planned.detail,
        at: planned.now,
    };
    deferred
        .outbox
        .extend(outbox::rows_of_change(db, change).await?);
    Ok(updated)
}

/// Writes planned case rows under their version checks, all or none: on
/// PostgreSQL in one `UPDATE … FROM` over the packed rows (see
/// [`super::bulk`]) when they change the same columns, otherwise one by one.
/// Fails with 409 when any case has moved.
async fn update_versioned(db: &DatabaseTransaction, plans: &[Planned]) -> Result<()> {
    use sea_orm::{DatabaseBackend, Statement};
    let packed = match plans {
        [_, _, ..] if db.get_database_backend() == DatabaseBackend::Postgres => {
            let models: Vec<_> = plans
                .iter()
                .map(|p| {
                    let mut model = p.model.clone();
                    model.id = Set(p.id.clone());
                    model
                })
                .collect();
            super::bulk::as_json(&models, super::bulk::Only::Set)
        }
        _ => None,
    };
    let Some(packed) = packed else {
        for p in plans {
            let updated = complaint::Entity::update_many()
                .set(p.model.clone())
                .filter(complaint::Column::Id.eq(p.id.as_str()))
                .filter(complaint::Column::Version.eq(p.version))
                .exec(db)
                .await?;
            if updated.rows_affected == 0 {
                return Err(Error::Concurrent);
            }
        }
        return Ok(());
    };
    let sets: Vec<String> = packed
        .columns
        .iter()
        .filter(|c| **c != "id")
        .map(|c| format!("{c} = v.{c}", c = super::bulk::quoted(c)))
        .collect();
    // The versions the changes were worked out from, in the same order.
    let versions: Vec<i32> = plans.iter().map(|p| p.version).collect();
    let sql = format!(
        "UPDATE complaints AS c SET {sets} \
         FROM {rows}, unnest($2::int[]) WITH ORDINALITY AS w(version, n) \
         WHERE w.n = v_n AND c.id = v.id AND c.version = w.version",
        sets = sets.join(", "),
        rows = super::bulk::rows_from("complaints", 1, "v"),
    );
    let done = db
        .execute_raw(Statement::from_sql_and_values(
            DatabaseBackend::Postgres,
            sql,
            [packed.json.into(), versions.into()],
        ))
        .await?;
    if done.rows_affected() != plans.len() as u64 {
        return Err(Error::Concurrent);
    }
    Ok(())
}

/// The deadlines stored on `case` (none yet: an empty set).
pub fn deadlines_of(case: &complaint::Model) -> Result<Deadlines> {
    parse_deadlines(&case.id, &case.deadlines)
}

fn parse_deadlines(id: &str, json: &Value) -> Result<Deadlines> {
    serde_json::from_value(json.clone()).map_err(|e| {
        Error::internal(std::io::Error::other(format!(
            "complaint {id} has unreadable deadlines: {e}"
        )))
    })
}

/// Moves the case's clocks along with a change and stores them with what the
/// deadline job finds them by (`next_action_at`, `station_overdue`) and what
/// the report counts of them; answers them as they now stand.
fn keep_deadlines(
    model: &mut complaint::ActiveModel,
    clock: Now<'_>,
    from: Option<Status>,
    to: Status,
    action: Option<Action>,
) -> Result<Deadlines> {
    let id = match &model.id {
        ActiveValue::Set(id) | ActiveValue::Unchanged(id) => id.clone(),
        ActiveValue::NotSet => String::new(),
    };
    let mut deadlines = match &model.deadlines {
        ActiveValue::Set(json) | ActiveValue::Unchanged(json) => parse_deadlines(&id, json)?,
        ActiveValue::NotSet => Deadlines::new(),
    };
    let feedback_given = matches!(
        &model.initial_feedback_at,
        ActiveValue::Set(Some(_)) | ActiveValue::Unchanged(Some(_))
    );
    clock
        .policy
        .advance(&mut deadlines, from, to, action, clock.at, feedback_given);
    let provisional = deadlines::provisional(&deadlines);
    if provisional {
        warn_provisional_once(&id);
    }
    model.next_action_at = Set(deadlines::next_action_at(to, &deadlines));
    model.station_overdue = Set(deadlines::station_overdue(&deadlines));
    model.deadlines_provisional = Set(provisional);
    facts::keep_overdue(model, &deadlines);
    model.deadlines = Set(serde_json::to_value(&deadlines).map_err(Error::internal)?);
    Ok(deadlines)
}

/// SPEC calendar.md: a deadline counted on a year without its holiday
/// schedule is logged once, so the operator loads the year.
fn warn_provisional_once(complaint_id: &str) {
    static WARNED: std::sync::Once = std::sync::Once::new();
    WARNED.call_once(|| {
        tracing::warn!(
            complaint = %complaint_id,
            "a deadline runs into a year whose holiday schedule is not loaded; it is counted \
             Monday–Friday and marked provisional until deadlines.calendar_file has that year"
        );
    });
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
        .filter(complaint::Column::Status.is_in([
            Status::Routed.as_str(),
            Status::Delivered.as_str(),
            Status::Acknowledged.as_str(),
            Status::Negotiating.as_str(),
        ]))
        .all(db)
        .await?)
}
