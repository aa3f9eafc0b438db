//! The deadline job (SPEC §5): finds the cases whose next deadline action is
//! due and acts on each through the lifecycle table. Every process sharing a
//! database runs it; the case's version check makes each action happen once.
//! It runs at start (catching up after downtime), every few seconds, and at
//! once when an admin moves the manual clock.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use sea_orm::DatabaseConnection;

use crate::app::{self, AppState};
use crate::clock::{BusinessClock, Now};
use crate::config::DeadlineConfig;
use crate::domain::deadlines::Policy;
use crate::error::Result;
use crate::metrics::Metrics;
use crate::store::deadlines as due_cases;

pub struct DeadlineJob {
    db: DatabaseConnection,
    clock: BusinessClock,
    /// Shared with the clock endpoint (see `AppState::deadline_pass`).
    turn: Arc<tokio::sync::Mutex<()>>,
    policy: Arc<Policy>,
    config: DeadlineConfig,
    followup_share: f64,
    metrics: Arc<Metrics>,
}

/// Acts on every case due at `now`; answers how many actions were taken.
pub async fn run_due(
    db: &DatabaseConnection,
    now: Now<'_>,
    batch: u64,
    metrics: &Metrics,
) -> Result<usize> {
    let mut acted = 0;
    // Cases still listed after their turn (another process acted first, or a
    // case that cannot move): skipped for the rest of this pass.
    let mut passed: HashSet<String> = HashSet::new();
    loop {
        let listed = due_cases::due(db, now.at, batch + passed.len() as u64).await?;
        let fresh: Vec<String> = listed
            .into_iter()
            .filter(|id| !passed.contains(id))
            .collect();
        if fresh.is_empty() {
            return Ok(acted);
        }
        for id in fresh {
            match due_cases::act_on(db, now, &id).await {
                Ok(actions) if !actions.is_empty() => {
                    for action in &actions {
                        metrics
                            .deadline_actions
                            .with_label_values(&[action.name()])
                            .inc();
                    }
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

impl DeadlineJob {
    pub fn new(state: &AppState) -> Arc<DeadlineJob> {
        Arc::new(DeadlineJob {
            db: state.db.clone(),
            clock: state.clock.clone(),
            turn: state.deadline_pass.clone(),
            policy: state.policy.clone(),
            config: state.config.deadlines.clone(),
            followup_share: state.config.followups.share,
            metrics: state.metrics.clone(),
        })
    }

    fn now(&self) -> Now<'_> {
        Now {
            at: self.clock.now(),
            policy: &self.policy,
        }
    }

    pub fn spawn(self: Arc<Self>) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            if let Err(err) = self.recount_provisional().await {
                tracing::warn!(error = %err, "recounting provisional deadlines failed");
            }
            let every = Duration::from_secs(self.config.scan_interval_seconds);
            loop {
                if let Err(err) = self.pass().await {
                    tracing::warn!(error = %err, "deadline pass failed; trying again");
                }
                tokio::time::sleep(every).await;
            }
        })
    }

    async fn pass(&self) -> Result<()> {
        // The clock is read under the turn, so a time the clock endpoint has
        // set is acted on by the endpoint's own pass, never by this one.
        let _turn = self.turn.lock().await;
        // Another process may have moved the shared manual clock.
        app::follow_saved_clock(&self.db, &self.clock).await?;
        let acted = run_due(&self.db, self.now(), self.config.batch_size, &self.metrics).await?;
        if acted > 0 {
            tracing::info!(actions = acted, "deadline actions taken");
        }
        // After the deadlines, so a month's last closures are in its sample.
        super::followups::draw_due(&self.db, self.now(), self.followup_share).await?;
        Ok(())
    }

    /// Deadlines guessed Monday–Friday for a year not known at the time are
    /// counted again once the calendar has that year (SPEC calendar.md).
    async fn recount_provisional(&self) -> Result<()> {
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
        if recounted > 0 {
            tracing::info!(
                cases = recounted,
                "provisional deadlines counted again with the loaded calendar"
            );
        }
        Ok(())
    }
}
