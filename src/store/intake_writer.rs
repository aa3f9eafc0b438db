//! Group commit for intake: complaints arriving together are written together.
//!
//! Each intake is a new case row, its first case-file event, its outbox
//! rows and, when it carries an `Idempotency-Key`, the answer to replay.
//! Under load, partners send many at once; writing each in its own
//! transaction costs five round trips and a WAL flush apiece. One writer task
//! takes whatever intakes are waiting, inserts each table's rows in one
//! statement and commits once, then answers every request. A request is
//! answered only after its commit, so nothing acknowledged is lost. When a
//! batch fails (a duplicate `external_ref`, say), its intakes are written again
//! one by one, so only the offending one fails.

use std::collections::HashSet;
use std::sync::{Arc, Mutex, OnceLock};

use entity::{complaint, event, outbox};
use sea_orm::{DatabaseConnection, TransactionTrait};
use tokio::sync::{mpsc, oneshot};

use super::routing_reader::RoutingReader;
use super::{bulk, directory, events, idempotency, outbox as queue};
use crate::error::{Error, Result};

/// The most intakes written in one transaction (PostgreSQL allows 65,535
/// bind parameters per statement; a case row takes about forty).
const BATCH_MAX: usize = 256;

/// What one intake writes.
pub struct IntakeRows {
    pub complaint: complaint::ActiveModel,
    pub events: Vec<event::ActiveModel>,
    pub outbox: Vec<outbox::ActiveModel>,
    /// The answer its `Idempotency-Key` replays, committed with the intake:
    /// a retry after a lost answer gets the 201, never a second case.
    pub answer: Option<KeyedAnswer>,
}

#[derive(Debug, Clone)]
pub struct KeyedAnswer {
    pub partner_id: String,
    pub key: String,
    pub status: u16,
    pub body: String,
}

struct Job {
    rows: IntakeRows,
    done: oneshot::Sender<Result<()>>,
}

/// Where commits hand their outbox rows: this process's delivery workers,
/// which hold them under a lease of `lease` and deliver them without a claim.
#[derive(Clone)]
pub struct HandOff {
    pub rows: mpsc::Sender<outbox::Model>,
    pub lease: chrono::Duration,
}

pub struct IntakeWriter {
    jobs: mpsc::Sender<Job>,
    /// Routes intakes arriving together with one read of the directory.
    pub routing: RoutingReader,
    hand_off: Arc<OnceLock<HandOff>>,
    /// Station codes seen to exist. Stations are never removed or renamed, so
    /// a code once found stays valid; an unknown one is always looked up.
    stations: Mutex<HashSet<String>>,
}

impl IntakeWriter {
    /// Starts the writer task on the current runtime; `ready` hears of each
    /// commit that wrote outbox rows.
    pub fn start(db: DatabaseConnection, ready: queue::Ready) -> IntakeWriter {
        let (jobs, queue) = mpsc::channel(BATCH_MAX * 4);
        let hand_off = Arc::new(OnceLock::new());
        let routing = RoutingReader::start(db.clone());
        tokio::spawn(run(db, queue, ready, hand_off.clone()));
        IntakeWriter {
            jobs,
            routing,
            hand_off,
            stations: Mutex::default(),
        }
    }

    /// From now on commits lease their outbox rows to `to` (the delivery
    /// workers, once they run) instead of leaving them to be claimed.
    pub fn hand_off_to(&self, to: HandOff) {
        let _ = self.hand_off.set(to);
    }

    /// Writes one intake's rows and returns once they are committed.
    pub async fn write(&self, rows: IntakeRows) -> Result<()> {
        let (done, answer) = oneshot::channel();
        self.jobs
            .send(Job { rows, done })
            .await
            .map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }

    pub async fn station_exists(&self, db: &DatabaseConnection, code: &str) -> Result<bool> {
        let known = |s: &Mutex<HashSet<String>>| {
            s.lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .contains(code)
        };
        if known(&self.stations) {
            return Ok(true);
        }
        let exists = directory::station_exists(db, code).await?;
        if exists {
            self.stations
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .insert(code.to_string());
        }
        Ok(exists)
    }
}

fn stopped() -> Error {
    Error::unexpected("the intake writer has stopped")
}

async fn run(
    db: DatabaseConnection,
    mut queue: mpsc::Receiver<Job>,
    ready: queue::Ready,
    hand_off: Arc<OnceLock<HandOff>>,
) {
    let mut jobs = Vec::with_capacity(BATCH_MAX);
    while queue.recv_many(&mut jobs, BATCH_MAX).await > 0 {
        // A request that gave up (its timeout answered 503) is not written.
        jobs.retain(|job| !job.done.is_closed());
        let (rows, answers): (Vec<_>, Vec<_>) = jobs.drain(..).map(|j| (j.rows, j.done)).unzip();
        let gave_up = |i: usize| answers[i].is_closed();
        let results = commit_together(&db, &rows, gave_up, hand_off.get()).await;
        if results.iter().any(|r| matches!(r, Ok(Written::ForClaim))) {
            ready.wake();
        }
        for (result, done) in results.into_iter().zip(answers) {
            let _ = done.send(result.map(|_| ()));
        }
    }
}

/// How an intake's outbox rows were committed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Written {
    /// Leased to the hand-off and sent there (or there were none).
    HandedOff,
    /// Left for a worker to claim: no hand-off, or its queue was full.
    ForClaim,
}

/// Writes `intakes` in one transaction; when that fails, each in its own, so
/// one bad intake (a duplicate) fails alone. One result per intake, in order.
/// `gave_up(i)` says that intake `i`'s request has been answered already (it
/// timed out while the write waited, say): its rows are not committed, as a
/// request's own transaction would have been rolled back.
pub async fn commit_together(
    db: &DatabaseConnection,
    intakes: &[IntakeRows],
    gave_up: impl Fn(usize) -> bool,
    hand_off: Option<&HandOff>,
) -> Vec<Result<Written>> {
    let all = 0..intakes.len();
    if intakes.len() > 1 {
        let together = write_all(db, intakes, || all.clone().any(&gave_up), hand_off).await;
        if let Ok(written) = together {
            return intakes.iter().map(|_| Ok(written)).collect();
        }
    }
    let mut results = Vec::with_capacity(intakes.len());
    for (i, intake) in intakes.iter().enumerate() {
        let one = std::slice::from_ref(intake);
        results.push(write_all(db, one, || gave_up(i), hand_off).await);
    }
    results
}

async fn write_all(
    db: &DatabaseConnection,
    intakes: &[IntakeRows],
    gave_up: impl Fn() -> bool,
    hand_off: Option<&HandOff>,
) -> Result<Written> {
    let outbox: Vec<outbox::ActiveModel> = intakes.iter().flat_map(|i| i.outbox.clone()).collect();
    // Room in the hand-off queue is taken before writing: rows are leased
    // only when they can be handed off, else they wait for a claim.
    let permits = hand_off
        .filter(|_| !outbox.is_empty())
        .and_then(|h| Some((h.rows.try_reserve_many(outbox.len()).ok()?, h.lease)));
    let txn = db.begin().await?;
    let cases: Vec<&complaint::ActiveModel> = intakes.iter().map(|i| &i.complaint).collect();
    bulk::insert::<complaint::ActiveModel, _, _>(&txn, &cases).await?;
    let events: Vec<&event::ActiveModel> = intakes.iter().flat_map(|i| &i.events).collect();
    events::insert_all(&txn, &events).await?;
    let (leased, written) = match &permits {
        Some((_, lease)) => {
            let until = chrono::Utc::now() + *lease;
            let rows = queue::insert_leased(&txn, outbox, until).await?;
            (rows, Written::HandedOff)
        }
        None if outbox.is_empty() => (Vec::new(), Written::HandedOff),
        None => {
            queue::insert_all(&txn, &outbox).await?;
            (Vec::new(), Written::ForClaim)
        }
    };
    for answer in intakes.iter().filter_map(|i| i.answer.as_ref()) {
        idempotency::finish(
            &txn,
            &answer.partner_id,
            &answer.key,
            answer.status,
            &answer.body,
        )
        .await?;
    }
    if gave_up() {
        txn.rollback().await?;
        return Err(stopped_waiting());
    }
    txn.commit().await?;
    if let Some((permits, _)) = permits {
        for (permit, row) in permits.zip(leased) {
            permit.send(row);
        }
    }
    Ok(written)
}

fn stopped_waiting() -> Error {
    Error::unexpected("the request stopped waiting for its intake to be written")
}
