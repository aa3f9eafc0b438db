//! The one way a case's status changes after intake: [`transition`] (its own
//! transaction, retried on a race) and its variants inside the caller's
//! transaction. How a transition is worked out is in `plan.rs`.

use entity::complaint;
use sea_orm::{DatabaseConnection, DatabaseTransaction, TransactionTrait};
use serde_json::Value;

use super::plan::{finish, plan};
use super::queries::find;
use super::versioned::update_versioned;
use crate::clock::Now;
use crate::domain::lifecycle::Action;
use crate::error::{Error, Result};
use crate::store::deadlines::caught_up;
use crate::store::events::{self, Actor};
use crate::store::outbox;

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
    pub(super) events: Vec<entity::event::ActiveModel>,
    pub(super) outbox: Vec<entity::outbox::ActiveModel>,
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
