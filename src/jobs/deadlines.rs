//! The deadline job (SPEC §5): a pass of the [`Timekeeper`] at start (catching
//! up after downtime) and every few seconds, acting on each case whose next
//! deadline action is due and drawing the follow-up sample of a month the
//! clock has passed. Every process sharing a database runs it; the case's
//! version check makes each action happen once.

use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinHandle;

use crate::store::timekeeping::Timekeeper;

pub struct DeadlineJob {
    timekeeper: Arc<Timekeeper>,
    every: Duration,
}

impl DeadlineJob {
    pub fn new(timekeeper: Arc<Timekeeper>, every: Duration) -> DeadlineJob {
        DeadlineJob { timekeeper, every }
    }

    pub fn spawn(self) -> JoinHandle<()> {
        tokio::spawn(async move {
            match self.timekeeper.recount_provisional().await {
                Ok(0) => {}
                Ok(recounted) => tracing::info!(
                    cases = recounted,
                    "provisional deadlines counted again with the loaded calendar"
                ),
                Err(err) => {
                    tracing::warn!(error = %err, "recounting provisional deadlines failed")
                }
            }
            loop {
                match self.timekeeper.pass().await {
                    Ok(passed) if passed.deadline_actions > 0 => {
                        tracing::info!(actions = passed.deadline_actions, "deadline actions taken")
                    }
                    Ok(_) => {}
                    Err(err) => tracing::warn!(error = %err, "deadline pass failed; trying again"),
                }
                tokio::time::sleep(self.every).await;
            }
        })
    }
}
