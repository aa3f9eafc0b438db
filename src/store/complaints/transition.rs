//! The one way a case's status changes: a [`Transition`] request, run by
//! [`transition`] (its own transaction, retried on a race), [`transition_in`]
//! (inside the caller's transaction) or [`transition_deferring`] (many cases
//! in the caller's transaction, their case-file and outbox rows left to the
//! caller). What each action does to the case is worked out in `plan.rs`.

use entity::complaint;
use sea_orm::{DatabaseConnection, DatabaseTransaction, TransactionTrait};
use serde_json::{Value, json};

use super::plan::{finish, plan};
use super::queries::find;
use super::versioned::update_versioned;
use crate::clock::Now;
use crate::domain::deadlines::Clock;
use crate::domain::lifecycle::Action;
use crate::error::{Error, Result};
use crate::store::deadlines::caught_up;
use crate::store::events::{self, Actor};
use crate::store::outbox;

/// How often [`transition`] (and a delivery worker) re-reads a case that changed under it.
pub const CONCURRENT_RETRIES: usize = 3;

/// A check beyond the lifecycle table that a step makes on the case as it
/// stands (initial feedback only once, only the claimant acts, …). It runs
/// against every fresh read of the case, so a change that lands between the
/// read and the write cannot slip past it.
pub trait Guard: Fn(&complaint::Model) -> Result<()> {}
impl<F: Fn(&complaint::Model) -> Result<()>> Guard for F {}

/// The guard of a step that the lifecycle table alone decides.
pub type Unguarded = fn(&complaint::Model) -> Result<()>;

fn unguarded(_: &complaint::Model) -> Result<()> {
    Ok(())
}

/// An event recorded beside a transition, in the same case-file write
/// (the notice that comes with terminating a mediation).
#[derive(Debug, Clone)]
pub struct Record {
    pub kind: &'static str,
    pub payload: Value,
}

/// A request to move one case by one action: who asks, the case as they read
/// it, and what the step carries. What an action does to the case row
/// (`received_at` on delivery, the claimant on a claim, …) is not the
/// caller's to say: the plan knows it. The request carries only what varies
/// from one request to the next.
pub struct Transition<'a, G = Unguarded> {
    pub(super) actor: &'a Actor,
    pub(super) case: &'a complaint::Model,
    pub(super) action: Action,
    pub(super) payload: Value,
    pub(super) records: Vec<Record>,
    pub(super) guard: G,
    pub(super) outcome: Option<Value>,
    pub(super) extension_days: Option<u32>,
    pub(super) warned: Option<Clock>,
}

impl<'a> Transition<'a> {
    /// `action` on `case` by `actor`, with an empty payload and no guard.
    pub fn new(actor: &'a Actor, case: &'a complaint::Model, action: Action) -> Self {
        Transition {
            actor,
            case,
            action,
            payload: json!({}),
            records: Vec::new(),
            guard: unguarded,
            outcome: None,
            extension_days: None,
            warned: None,
        }
    }
}

impl<'a, G> Transition<'a, G> {
    /// The payload of the step's case-file event, and the detail its outbound
    /// events read (a deadline, an extension).
    pub fn payload(self, payload: Value) -> Self {
        Transition { payload, ..self }
    }

    /// Events recorded after the step's own, in the same case-file write.
    pub fn records(mut self, records: impl IntoIterator<Item = Record>) -> Self {
        self.records.extend(records);
        self
    }

    /// A [`Guard`] the step must pass.
    pub fn guard<H: Guard>(self, guard: H) -> Transition<'a, H> {
        Transition {
            actor: self.actor,
            case: self.case,
            action: self.action,
            payload: self.payload,
            records: self.records,
            guard,
            outcome: self.outcome,
            extension_days: self.extension_days,
            warned: self.warned,
        }
    }

    /// What the step ends the case with: the settlement of `ReportSettlement`
    /// and `ConsumerAccept` (replacing any earlier outcome), or the station's
    /// part of `Accept`, `NotAccept` and `Close` (merged into what the station
    /// recorded before). Those actions need one; others ignore it.
    pub fn outcome(self, outcome: Value) -> Self {
        Transition {
            outcome: Some(outcome),
            ..self
        }
    }

    /// `ApproveExtension`: the working days granted, by which `resolve_by` moves.
    pub fn extension(self, working_days: u32) -> Self {
        Transition {
            extension_days: Some(working_days),
            ..self
        }
    }

    /// `WarnDeadline`: the clock warned of, marked warned so the job warns once.
    pub fn warning(self, clock: Clock) -> Self {
        Transition {
            warned: Some(clock),
            ..self
        }
    }
}

/// Runs `request` in its own transaction. Whatever the deadline job would have
/// done to the case by `now` is done first ([`caught_up`]), so the action is
/// judged against the case as it stands at that time. When the case changed
/// meanwhile (a worker delivered it, another request moved it), it is read
/// again and the guard and the lifecycle table asked again, a few times, so a
/// request that is still valid does not fail for a race and one that no
/// longer is fails as if it came second.
pub async fn transition<G: Guard>(
    db: &DatabaseConnection,
    now: Now<'_>,
    request: Transition<'_, G>,
) -> Result<complaint::Model> {
    let mut current = caught_up(db, now, request.case).await?;
    for attempt in 0.. {
        let txn = db.begin().await?;
        match write_one(&txn, now, &current, &request).await {
            Ok(updated) => {
                txn.commit().await?;
                return Ok(updated);
            }
            Err(Error::Concurrent) if attempt < CONCURRENT_RETRIES => {
                drop(txn);
                let fresh = find(db, &current.id).await?.ok_or(Error::NotFound)?;
                current = caught_up(db, now, &fresh).await?;
            }
            Err(err) => return Err(err),
        }
    }
    Err(Error::Concurrent)
}

/// Runs `request` inside `txn`: updates the case and appends its events and
/// outbox rows, so they commit together with whatever else the caller writes
/// in `txn`. Fails with 409 when the guard or the table refuses, or when the
/// case changed since the request's case was read.
pub async fn transition_in<G: Guard>(
    txn: &DatabaseTransaction,
    now: Now<'_>,
    request: Transition<'_, G>,
) -> Result<complaint::Model> {
    write_one(txn, now, request.case, &request).await
}

/// `request` worked out against `case` and written in `txn`.
async fn write_one<G: Guard>(
    txn: &DatabaseTransaction,
    now: Now<'_>,
    case: &complaint::Model,
    request: &Transition<'_, G>,
) -> Result<complaint::Model> {
    let planned = plan(txn, now, case, request).await?;
    update_versioned(txn, std::slice::from_ref(&planned)).await?;
    let mut rows = Deferred::default();
    let updated = finish(txn, planned, &mut rows).await?;
    rows.write(txn).await?;
    Ok(updated)
}

/// Runs `requests` (each on its own case) inside `txn`, as [`transition_in`]
/// would one by one, but leaving their case-file and outbox rows in
/// `deferred` for the caller to write before committing; on PostgreSQL the
/// cases are updated in one statement. Fails with 409 when any case changed
/// since it was read (and then nothing of it should be committed).
pub async fn transition_deferring<G: Guard>(
    txn: &DatabaseTransaction,
    now: Now<'_>,
    requests: Vec<Transition<'_, G>>,
    deferred: &mut Deferred,
) -> Result<Vec<complaint::Model>> {
    let mut plans = Vec::with_capacity(requests.len());
    for request in &requests {
        plans.push(plan(txn, now, request.case, request).await?);
    }
    update_versioned(txn, &plans).await?;
    let mut updated = Vec::with_capacity(plans.len());
    for planned in plans {
        updated.push(finish(txn, planned, deferred).await?);
    }
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
