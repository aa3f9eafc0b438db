//! What every request handler, the background workers and the command line
//! reach: the database, configuration, clock, tokens and the process's shared
//! pieces, loaded once at start.

use std::sync::Arc;

use chrono::Utc;

use crate::api::ratelimit::RateLimits;
use crate::auth::secrets::{self, Sealer};
use crate::auth::standing::Standings;
use crate::auth::tokens::TokenService;
use crate::clock::{BusinessClock, Now};
use crate::config::{ClockMode, Config};
use crate::domain::deadlines::Policy;
use crate::error::{Error, Result};
use crate::metrics::Metrics;
use crate::store::intake_writer::IntakeWriter;
use crate::store::timekeeping::{self, Timekeeper};
use crate::store::{self, Db, directory, outbox, settings};

/// What every request handler can reach.
pub struct AppState {
    pub db: Db,
    pub config: Arc<Config>,
    pub clock: BusinessClock,
    pub tokens: TokenService,
    pub metrics: Arc<Metrics>,
    /// The working-day calendar and deadline rules.
    pub policy: Arc<Policy>,
    /// Inbound rate limits, per client (this process's share).
    pub limits: RateLimits,
    /// Whether tokens' owners are still active, and partners' quotas.
    pub standings: Standings,
    /// Encrypts and decrypts webhook signing secrets at rest.
    pub sealer: Arc<Sealer>,
    /// Writes intakes that arrive together in one transaction.
    pub intake: IntakeWriter,
    /// Wakes this process's delivery workers when outbox rows are committed.
    pub outbox_ready: outbox::Ready,
    /// Keeps the manual clock shared and acts on each new time: for the
    /// deadline job and for `POST /v1/admin/clock`.
    pub timekeeper: Arc<Timekeeper>,
}

const JWT_SECRET_KEY: &str = "jwt_secret";
const SECRETS_KEY: &str = "secrets_key";

impl AppState {
    /// Connects, migrates, and loads what the gateway keeps about itself.
    pub async fn start(config: Config) -> Result<AppState> {
        let db = store::connect(&config.database_url)
            .await
            .map_err(Error::Unavailable)?;
        store::migrate(&db).await?;
        let secret = match &config.jwt_secret {
            Some(secret) => secret.clone(),
            None => {
                settings::get_or_create(&db, JWT_SECRET_KEY, secrets::generate_signing_key).await?
            }
        };
        let tokens = TokenService::new(
            secret.as_bytes(),
            &config.token_issuer,
            config.token_ttl_seconds,
        );
        let clock = match config.clock {
            ClockMode::System => BusinessClock::System,
            ClockMode::Manual => {
                // The configured start is a floor: a restart with a later one
                // moves the clock forward (and the deadline job catches up).
                let saved = timekeeping::saved_clock(&db).await?;
                BusinessClock::manual(saved.max(config.clock_start).unwrap_or_else(Utc::now))
            }
        };
        let sealer = Arc::new(sealer(&db, &config).await?);
        directory::seal_stored_secrets(&db, &sealer).await?;
        let policy = config.deadline_policy().map_err(Error::internal)?;
        let standings = Standings::new(
            db.clone(),
            std::time::Duration::from_secs(config.limits.standing_cache_seconds),
        );
        let outbox_ready = outbox::Ready::default();
        let policy = Arc::new(policy);
        let metrics = Arc::new(Metrics::new().map_err(Error::internal)?);
        let counted = metrics.clone();
        let timekeeper = Timekeeper::new(
            db.clone(),
            clock.clone(),
            policy.clone(),
            config.deadlines.batch_size,
            config.followups.share,
            move |action| {
                counted
                    .deadline_actions
                    .with_label_values(&[action.name()])
                    .inc()
            },
        );
        Ok(AppState {
            intake: IntakeWriter::start(db.clone(), outbox_ready.clone()),
            outbox_ready,
            sealer,
            timekeeper: Arc::new(timekeeper),
            limits: RateLimits::default(),
            standings,
            db,
            policy,
            config: Arc::new(config),
            clock,
            tokens,
            metrics,
        })
    }

    /// The business time now, with the rules every state change recomputes
    /// deadlines by.
    pub fn now(&self) -> Now<'_> {
        Now {
            at: self.clock.now(),
            policy: &self.policy,
        }
    }
}

/// The configured secrets key, or one generated once and kept in the database.
async fn sealer(db: &Db, config: &Config) -> Result<Sealer> {
    let key = match &config.secrets_key {
        Some(key) => key.clone(),
        None => {
            tracing::warn!(
                "secrets_key is not set: webhook secrets are encrypted with a key kept in the \
                 database itself; set ODR_SECRETS_KEY in production"
            );
            settings::get_or_create(db, SECRETS_KEY, Sealer::generate_key).await?
        }
    };
    Sealer::from_key(&key).map_err(|why| Error::unexpected(format!("secrets_key: {why}")))
}
