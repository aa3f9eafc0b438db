//! The business clock across processes, and acting on each new time.
//!
//! The manual clock's position is kept in the settings, so every process on
//! one database reads the same time; it only moves forward. A pass acts on
//! every deadline due at the clock's time, then draws the follow-up sample of
//! any month the clock has passed (SPEC §5, §8). The deadline job runs a pass
//! every few seconds; `POST /v1/admin/clock` moves the clock and runs one at
//! once for the new time (SPEC §11). Both go through the one [`Timekeeper`],
//! which the application state holds.

use std::collections::HashSet;
use std::sync::Arc;

use chrono::{DateTime, SecondsFormat, Utc};
use sea_orm::{ConnectionTrait, TransactionTrait};
use serde_json::json;

use super::audit::{self, Change};
use super::deadlines as due_cases;
use super::events::Actor;
use super::{Db, followups, settings};
use crate::clock::{BusinessClock, Move, Now, beijing};
use crate::domain::deadlines::Policy;
use crate::domain::lifecycle::Action;
use crate::error::{Error, Result};

const MANUAL_CLOCK_KEY: &str = "manual_clock";

pub struct Timekeeper {
    db: Db,
    clock: BusinessClock,
    policy: Arc<Policy>,
    /// Held while reading the business clock and acting on it, by the job's
    /// passes and by a move (which moves the clock under it): a pass never
    /// acts on a time a move has set but not yet acted on itself, so the
    /// move's answer counts its own actions.
    turn: tokio::sync::Mutex<()>,
    batch: u64,
    followup_share: f64,
    /// Told of every deadline action taken (the metrics count them).
    on_action: Box<dyn Fn(Action) + Send + Sync>,
}

/// What a pass did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Passed {
    pub deadline_actions: usize,
    pub followups_drawn: usize,
}

impl Timekeeper {
    /// Acts on up to `batch` due cases at a time, and samples `followup_share`
    /// of a month's closed cases for follow-up visits.
    pub fn new(
        db: Db,
        clock: BusinessClock,
        policy: Arc<Policy>,
        batch: u64,
        followup_share: f64,
        on_action: impl Fn(Action) + Send + Sync + 'static,
    ) -> Timekeeper {
        Timekeeper {
            db,
            clock,
            policy,
            turn: tokio::sync::Mutex::new(()),
            batch,
            followup_share,
            on_action: Box::new(on_action),
        }
    }

    fn now(&self) -> Now<'_> {
        Now {
            at: self.clock.now(),
            policy: &self.policy,
        }
    }

    /// The deadline job's pass: catches up with the shared clock (another
    /// process may have moved it), then acts on what is due.
    pub async fn pass(&self) -> Result<Passed> {
        let _turn = self.turn.lock().await;
        follow_saved_clock(&self.db, &self.clock).await?;
        self.act().await
    }

    /// Moves the manual clock, saves and audits the move in one transaction,
    /// and acts at once on what is due at the new time. Answers the time, and
    /// what the pass did. 404 on the system clock; a move back is refused.
    pub async fn move_clock(&self, actor: Actor, how: Move) -> Result<(DateTime<Utc>, Passed)> {
        // Moving the clock and acting on the new time is one turn: the
        // background job cannot take the new time first, so the count
        // answered is exact.
        let _turn = self.turn.lock().await;
        // Start from where the clock stands across processes, not where this one lags.
        follow_saved_clock(&self.db, &self.clock).await?;
        match self.clock.shift(how) {
            None => return Err(Error::NotFound),
            Some(Err(current)) => {
                return Err(Error::field(
                    "set",
                    format!(
                        "the clock only moves forward; it is at {}",
                        beijing(&current)
                    ),
                ));
            }
            Some(Ok(_)) => {}
        }
        let txn = self.db.begin().await?;
        // Another process may have saved a later time meanwhile: adopted.
        let now = self.save_clock_in(&txn).await?;
        let change = Change {
            action: "clock.moved",
            target_kind: "clock",
            target_id: "business",
            detail: json!({ "now": beijing(&now) }),
        };
        audit::record(&txn, &actor, change).await?;
        txn.commit().await?;
        Ok((now, self.act().await?))
    }

    /// Keeps the manual clock's position across restarts and processes. The
    /// stored time only moves forward: a process whose clock lags another's
    /// does not write its earlier time, it adopts the stored one. Answers the
    /// clock's time afterwards.
    pub async fn save_clock(&self) -> Result<DateTime<Utc>> {
        self.save_clock_in(&self.db).await
    }

    async fn save_clock_in<C: ConnectionTrait>(&self, db: &C) -> Result<DateTime<Utc>> {
        if self.clock.is_manual() {
            let now = self.clock.now().to_rfc3339_opts(SecondsFormat::Nanos, true);
            settings::put_if_later(db, MANUAL_CLOCK_KEY, &now).await?;
            follow_saved_clock(db, &self.clock).await?;
        }
        Ok(self.clock.now())
    }

    async fn act(&self) -> Result<Passed> {
        let deadline_actions = self.run_due().await?;
        // After the deadlines, so a month's last closures are in its sample.
        let followups_drawn = self.draw_due().await?;
        Ok(Passed {
            deadline_actions,
            followups_drawn,
        })
    }

    /// Acts on every case due now; answers how many actions were taken.
    async fn run_due(&self) -> Result<usize> {
        let now = self.now();
        let mut acted = 0;
        // Cases still listed after their turn (another process acted first, or a
        // case that cannot move): skipped for the rest of this pass.
        let mut passed: HashSet<String> = HashSet::new();
        loop {
            let listed = due_cases::due(&self.db, now.at, self.batch + passed.len() as u64).await?;
            let fresh: Vec<String> = listed
                .into_iter()
                .filter(|id| !passed.contains(id))
                .collect();
            if fresh.is_empty() {
                return Ok(acted);
            }
            for id in fresh {
                match due_cases::act_on(&self.db, now, &id).await {
                    Ok(actions) if !actions.is_empty() => {
                        actions.iter().for_each(|action| (self.on_action)(*action));
                        acted += actions.len();
                    }
                    Ok(_) => {
                        passed.insert(id);
                    }
                    Err(err) => {
                        tracing::warn!(complaint = %id, error = %err, "deadline action failed; retried on the next pass");
                        passed.insert(id);
                    }
                }
            }
        }
    }

    /// Draws every month now due; answers how many follow-ups were made.
    async fn draw_due(&self) -> Result<usize> {
        let drawn = followups::draw_due(&self.db, self.now().at, self.followup_share).await?;
        for (month, made) in &drawn {
            tracing::info!(month = %month, followups = made, "follow-up sample drawn");
        }
        Ok(drawn.iter().map(|(_, made)| made).sum())
    }

    /// Deadlines guessed Monday–Friday for a year not known at the time are
    /// counted again once the calendar has that year (SPEC calendar.md).
    /// Answers how many cases changed.
    pub async fn recount_provisional(&self) -> Result<usize> {
        let mut after: Option<String> = None;
        let mut recounted = 0;
        loop {
            let ids = due_cases::provisional(&self.db, after.as_deref(), 500).await?;
            let Some(last) = ids.last().cloned() else {
                break;
            };
            for id in ids {
                recounted += usize::from(due_cases::recount(&self.db, self.now(), &id).await?);
            }
            after = Some(last);
        }
        Ok(recounted)
    }
}

/// Where the shared manual clock stands: the latest time any process saved.
pub async fn saved_clock<C: ConnectionTrait>(db: &C) -> Result<Option<DateTime<Utc>>> {
    Ok(settings::get(db, MANUAL_CLOCK_KEY)
        .await?
        .and_then(|t| DateTime::parse_from_rfc3339(&t).ok())
        .map(|t| t.with_timezone(&Utc)))
}

/// Moves this process's manual clock up to the saved one if another process
/// moved it further (it never moves back).
async fn follow_saved_clock<C: ConnectionTrait>(db: &C, clock: &BusinessClock) -> Result<()> {
    if clock.is_manual()
        && let Some(saved) = saved_clock(db).await?
    {
        clock.follow(saved);
    }
    Ok(())
}
