//! Wiring: configuration, database, clock and tokens into a running server.

use std::net::TcpListener;
use std::sync::Arc;

use actix_web::HttpMessage;
use actix_web::dev::Server;
use actix_web::dev::Service;
use actix_web::{App, HttpServer, web};
use chrono::{DateTime, SecondsFormat, Utc};
use sea_orm::DatabaseConnection;
use tracing_actix_web::{RequestId, TracingLogger};

use crate::api::ratelimit::RateLimits;
use crate::auth::secrets::{self, Sealer};
use crate::auth::standing::Standings;
use crate::auth::tokens::TokenService;
use crate::clock::{BusinessClock, Now};
use crate::config::{ClockMode, Config};
use crate::domain::deadlines::Policy;
use crate::error::{Error, Result};
use crate::metrics::Metrics;
use crate::store::intake_writer::{HandOff, IntakeWriter};
use crate::store::{self, directory, outbox, settings};

/// What every request handler can reach.
pub struct AppState {
    pub db: DatabaseConnection,
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
    /// Held while reading the business clock and running a deadline pass, by
    /// the background job and by `POST /v1/admin/clock` (which moves the clock
    /// under it): a pass never acts on a time the endpoint has set but not
    /// yet acted on itself, so the endpoint's answer counts its own actions.
    pub deadline_pass: Arc<tokio::sync::Mutex<()>>,
}

const JWT_SECRET_KEY: &str = "jwt_secret";
const SECRETS_KEY: &str = "secrets_key";
const MANUAL_CLOCK_KEY: &str = "manual_clock";

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
                let saved = saved_clock(&db).await?;
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
        Ok(AppState {
            intake: IntakeWriter::start(db.clone(), outbox_ready.clone()),
            outbox_ready,
            sealer,
            deadline_pass: Arc::default(),
            limits: RateLimits::default(),
            standings,
            db,
            policy: Arc::new(policy),
            config: Arc::new(config),
            clock,
            tokens,
            metrics: Arc::new(Metrics::new().map_err(Error::internal)?),
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

    /// Keeps the manual clock's position across restarts and processes. The
    /// stored time only moves forward: a process whose clock lags another's
    /// does not write its earlier time, it adopts the stored one. Answers the
    /// clock's time afterwards.
    pub async fn save_clock(&self) -> Result<DateTime<Utc>> {
        if self.clock.is_manual() {
            let now = self.clock.now().to_rfc3339_opts(SecondsFormat::Nanos, true);
            settings::put_if_later(&self.db, MANUAL_CLOCK_KEY, &now).await?;
            follow_saved_clock(&self.db, &self.clock).await?;
        }
        Ok(self.clock.now())
    }
}

/// The configured secrets key, or one generated once and kept in the database.
async fn sealer(db: &DatabaseConnection, config: &Config) -> Result<Sealer> {
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
    Sealer::from_key(&key)
        .map_err(|why| Error::internal(std::io::Error::other(format!("secrets_key: {why}"))))
}

/// Where the shared manual clock stands: the latest time any process saved.
pub async fn saved_clock(db: &DatabaseConnection) -> Result<Option<DateTime<Utc>>> {
    Ok(settings::get(db, MANUAL_CLOCK_KEY)
        .await?
        .and_then(|t| DateTime::parse_from_rfc3339(&t).ok())
        .map(|t| t.with_timezone(&Utc)))
}

/// Moves this process's manual clock up to the saved one if another process
/// moved it further (it never moves back).
pub async fn follow_saved_clock(db: &DatabaseConnection, clock: &BusinessClock) -> Result<()> {
    if clock.is_manual()
        && let Some(saved) = saved_clock(db).await?
        && saved > clock.now()
    {
        let _ = clock.set(saved);
    }
    Ok(())
}

/// Starts the background workers that run beside the HTTP server.
pub fn start_workers(state: &AppState) -> Result<()> {
    let deliverer = crate::delivery::Deliverer::new(
        state.db.clone(),
        state.clock.clone(),
        state.policy.clone(),
        state.sealer.clone(),
        state.config.delivery.clone(),
        state.metrics.clone(),
        state.outbox_ready.clone(),
    )
    .map_err(Error::internal)?;
    let (rows, handed) = tokio::sync::mpsc::channel(deliverer.hand_off_capacity());
    state.intake.hand_off_to(HandOff {
        rows,
        lease: chrono::Duration::seconds(state.config.delivery.lease_seconds as i64),
    });
    deliverer.spawn(handed);
    crate::jobs::deadlines::DeadlineJob::new(state).spawn();
    Ok(())
}

/// Builds the HTTP server on an already bound listener (tests bind port 0).
pub fn server(state: AppState, listener: TcpListener) -> std::io::Result<Server> {
    let state = web::Data::new(state);
    let server = HttpServer::new(move || {
        let metrics = state.metrics.clone();
        App::new()
            // Innermost: the metrics below count what the guard refuses too.
            .wrap(actix_web::middleware::from_fn(crate::api::guard::guard))
            .wrap_fn(move |req, srv| {
                let metrics = metrics.clone();
                let request_id = req.extensions().get::<RequestId>().map(|id| id.to_string());
                let started = std::time::Instant::now();
                let answer = srv.call(req);
                async move {
                    let mut res = answer.await?;
                    let status = res.status().as_u16();
                    let class = format!("{}xx", status / 100);
                    metrics
                        .http_requests
                        .with_label_values(&[class.as_str()])
                        .inc();
                    // The access log line: inside the request's span, so it
                    // carries the method, route and request id; never a body.
                    tracing::info!(
                        status,
                        elapsed_ms = started.elapsed().as_millis() as u64,
                        "answered"
                    );
                    if let Some(id) = request_id
                        && let Ok(value) = actix_web::http::header::HeaderValue::from_str(&id)
                    {
                        res.headers_mut().insert(
                            actix_web::http::header::HeaderName::from_static("x-request-id"),
                            value,
                        );
                    }
                    Ok(res)
                }
            })
            .wrap(TracingLogger::default())
            .app_data(state.clone())
            .configure(crate::api::configure)
            .configure(crate::console::configure)
    })
    .listen(listener)?
    .run();
    Ok(server)
}
