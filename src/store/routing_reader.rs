//! Routing look-ups for intakes arriving together, answered by one query.
//!
//! Every intake reads the handler directory to route its complaint. Under
//! load, many arrive at once; one task takes the look-ups waiting at that
//! moment and reads the handlers of all their credit codes in one query. Each
//! look-up is still answered by a read made after it was asked, as its own
//! query would have been, so sharing it changes nothing an intake sees.

use std::collections::BTreeSet;

use entity::handler;
use sea_orm::DatabaseConnection;
use tokio::sync::{mpsc, oneshot};

use super::directory;
use crate::domain::routing::Candidate;
use crate::error::{Error, Result};

/// The most look-ups answered by one query.
const BATCH_MAX: usize = 256;

type Found = Result<(Vec<Candidate>, Vec<handler::Model>)>;

struct Ask {
    credit_code: String,
    answer: oneshot::Sender<Found>,
}

pub struct RoutingReader {
    asks: mpsc::Sender<Ask>,
}

impl RoutingReader {
    /// Starts the reading task on the current runtime.
    pub fn start(db: DatabaseConnection) -> RoutingReader {
        let (asks, queue) = mpsc::channel(BATCH_MAX * 4);
        tokio::spawn(run(db, queue));
        RoutingReader { asks }
    }

    /// The handlers that might take a complaint about `credit_code`, as
    /// routing candidates, with their rows.
    pub async fn candidates(&self, credit_code: &str) -> Found {
        let (answer, found) = oneshot::channel();
        let ask = Ask {
            credit_code: credit_code.to_string(),
            answer,
        };
        self.asks.send(ask).await.map_err(|_| stopped())?;
        found.await.map_err(|_| stopped())?
    }
}

fn stopped() -> Error {
    Error::unexpected("the routing reader has stopped")
}

async fn run(db: DatabaseConnection, mut queue: mpsc::Receiver<Ask>) {
    let mut asks = Vec::with_capacity(BATCH_MAX);
    while queue.recv_many(&mut asks, BATCH_MAX).await > 0 {
        // A request that gave up is not looked up for.
        asks.retain(|ask| !ask.answer.is_closed());
        if asks.is_empty() {
            continue;
        }
        let codes: BTreeSet<String> = asks.iter().map(|a| a.credit_code.clone()).collect();
        let found = directory::routing_handlers(&db, codes.into_iter().collect()).await;
        for ask in asks.drain(..) {
            let answer = match &found {
                Ok(handlers) => directory::routing_candidates(handlers, &ask.credit_code),
                // Each look-up fails as its own query would have.
                Err(err) => Err(Error::from(err.clone())),
            };
            let _ = ask.answer.send(answer);
        }
    }
}
