//! Configuration in layers: defaults → TOML file (`--config` / `ODR_CONFIG`) →
//! `ODR_*` environment variables (`__` separates nested keys). Plain
//! `DATABASE_URL` is honoured too, below `ODR_DATABASE_URL`.

use std::net::SocketAddr;
use std::path::Path;

use chrono::{DateTime, Utc};
use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Deserializer, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ClockMode {
    System,
    Manual,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Config {
    pub database_url: String,
    pub listen: SocketAddr,
    /// HMAC key for access tokens. When unset, one is generated once and kept
    /// in the database so restarts do not invalidate tokens.
    pub jwt_secret: Option<String>,
    pub token_ttl_seconds: u64,
    pub token_issuer: String,
    pub clock: ClockMode,
    /// Where the manual clock starts (RFC 3339); now when unset.
    pub clock_start: Option<DateTime<Utc>>,
    /// Station that receives not-enrolled cases whose intake names none.
    pub default_station: Option<String>,
    pub max_body_bytes: usize,
    pub delivery: DeliveryConfig,
    pub deadlines: DeadlineConfig,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DeliveryConfig {
    /// Seconds to wait before each attempt; "0,5,300" in the environment.
    #[serde(deserialize_with = "seconds_list")]
    pub retry_schedule: Vec<u64>,
    pub allow_private_targets: bool,
    /// Delivery workers (tokio tasks) in each gateway process.
    pub workers: usize,
    /// Rows one worker claims at a time.
    pub batch_size: u64,
    /// How long an idle worker waits before looking for due rows again.
    pub poll_interval_ms: u64,
    /// How long a claim holds a row; a crashed worker's rows are due again after it.
    pub lease_seconds: u64,
    pub connect_timeout_seconds: u64,
    pub timeout_seconds: u64,
    /// Consecutive failures after which an endpoint is paused.
    pub breaker_failures: u32,
    /// How long a paused endpoint waits before one probe.
    pub breaker_pause_seconds: u64,
    /// Deliveries per second to one endpoint (with `burst`).
    pub rate_per_second: u32,
    pub burst: u32,
    /// How long the previous webhook secret keeps signing after a rotation.
    pub secret_overlap_seconds: u64,
}

/// SPEC §5 defaults; the deadline job and calendar use them.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DeadlineConfig {
    pub ack_working_days: u32,
    pub resolve_working_days: u32,
    pub objection_working_days: u32,
    pub decision_working_days: u32,
    pub initial_feedback_working_days: u32,
    pub max_extension_working_days: u32,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            database_url: "sqlite://odr-gateway.db?mode=rwc".into(),
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            jwt_secret: None,
            token_ttl_seconds: 3600,
            token_issuer: "odr-gateway".into(),
            clock: ClockMode::System,
            clock_start: None,
            default_station: None,
            max_body_bytes: 64 * 1024,
            delivery: DeliveryConfig {
                retry_schedule: vec![0, 5, 300, 1800, 7200, 18000, 36000, 36000],
                allow_private_targets: false,
                workers: 4,
                batch_size: 64,
                poll_interval_ms: 100,
                lease_seconds: 60,
                connect_timeout_seconds: 5,
                timeout_seconds: 15,
                breaker_failures: 5,
                breaker_pause_seconds: 60,
                rate_per_second: 50,
                burst: 100,
                secret_overlap_seconds: 24 * 3600,
            },
            deadlines: DeadlineConfig {
                ack_working_days: 1,
                resolve_working_days: 10,
                objection_working_days: 3,
                decision_working_days: 7,
                initial_feedback_working_days: 10,
                max_extension_working_days: 7,
            },
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("configuration: {0}")]
pub struct ConfigError(String);

impl Config {
    /// Reads the layers; `file` wins over `ODR_CONFIG`.
    pub fn load(file: Option<&Path>) -> Result<Config, ConfigError> {
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        let file = file
            .map(Path::to_path_buf)
            .or_else(|| std::env::var_os("ODR_CONFIG").map(Into::into));
        if let Some(path) = file {
            if !path.exists() {
                return Err(ConfigError(format!(
                    "config file {} does not exist",
                    path.display()
                )));
            }
            figment = figment.merge(Toml::file(path));
        }
        figment = figment
            .merge(Env::raw().only(&["DATABASE_URL"]).lowercase(true))
            .merge(Env::prefixed("ODR_").ignore(&["CONFIG"]).split("__"));
        let config: Config = figment.extract().map_err(|e| ConfigError(e.to_string()))?;
        config.validate()?;
        Ok(config)
    }

    /// Fails at start-up with the name of the bad key.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let bad = |key: &str, why: &str| Err(ConfigError(format!("{key}: {why}")));
        if !(self.database_url.starts_with("sqlite:")
            || self.database_url.starts_with("postgres://")
            || self.database_url.starts_with("postgresql://"))
        {
            return bad("database_url", "must be a sqlite: or postgres:// URL");
        }
        if let Some(secret) = &self.jwt_secret
            && secret.len() < 32
        {
            return bad("jwt_secret", "must be at least 32 characters");
        }
        if !(60..=86_400).contains(&self.token_ttl_seconds) {
            return bad("token_ttl_seconds", "must be between 60 and 86400");
        }
        if self.max_body_bytes < 1024 {
            return bad("max_body_bytes", "must be at least 1024");
        }
        let dl = &self.delivery;
        if dl.retry_schedule.is_empty() {
            return bad("delivery.retry_schedule", "needs at least one attempt");
        }
        for (key, value, range) in [
            ("delivery.workers", dl.workers as u64, 1..=64),
            ("delivery.batch_size", dl.batch_size, 1..=1000),
            ("delivery.poll_interval_ms", dl.poll_interval_ms, 1..=60_000),
            ("delivery.lease_seconds", dl.lease_seconds, 5..=3600),
            (
                "delivery.connect_timeout_seconds",
                dl.connect_timeout_seconds,
                1..=60,
            ),
            ("delivery.timeout_seconds", dl.timeout_seconds, 1..=300),
            (
                "delivery.breaker_failures",
                u64::from(dl.breaker_failures),
                1..=1000,
            ),
            (
                "delivery.breaker_pause_seconds",
                dl.breaker_pause_seconds,
                1..=86_400,
            ),
            (
                "delivery.rate_per_second",
                u64::from(dl.rate_per_second),
                1..=100_000,
            ),
            ("delivery.burst", u64::from(dl.burst), 1..=100_000),
        ] {
            if !range.contains(&value) {
                return bad(
                    key,
                    &format!("must be between {} and {}", range.start(), range.end()),
                );
            }
        }
        if dl.timeout_seconds >= dl.lease_seconds {
            return bad(
                "delivery.lease_seconds",
                "must be longer than delivery.timeout_seconds",
            );
        }
        let d = &self.deadlines;
        for (key, value) in [
            ("deadlines.ack_working_days", d.ack_working_days),
            ("deadlines.resolve_working_days", d.resolve_working_days),
            ("deadlines.objection_working_days", d.objection_working_days),
            ("deadlines.decision_working_days", d.decision_working_days),
            (
                "deadlines.initial_feedback_working_days",
                d.initial_feedback_working_days,
            ),
            (
                "deadlines.max_extension_working_days",
                d.max_extension_working_days,
            ),
        ] {
            if !(1..=365).contains(&value) {
                return bad(key, "must be between 1 and 365");
            }
        }
        Ok(())
    }

    pub fn is_sqlite(&self) -> bool {
        self.database_url.starts_with("sqlite:")
    }
}

/// Accepts `[0, 5, 300]` (TOML) or `"0,5,300"` (environment).
fn seconds_list<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u64>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        List(Vec<u64>),
        Text(String),
        One(u64),
    }
    match Raw::deserialize(d)? {
        Raw::List(list) => Ok(list),
        Raw::One(n) => Ok(vec![n]),
        Raw::Text(text) => text
            .split(',')
            .map(|part| part.trim().parse::<u64>())
            .collect::<Result<_, _>>()
            .map_err(|_| serde::de::Error::custom("expected seconds separated by commas")),
    }
}

#[cfg(test)]
#[allow(clippy::result_large_err)] // figment's Jail closure signature
mod tests {
    use super::*;
    use figment::Jail;

    #[test]
    fn layers_apply_in_order_and_lists_parse_from_the_environment() {
        Jail::expect_with(|jail| {
            jail.clear_env();
            jail.create_file(
                "gw.toml",
                "listen = \"127.0.0.1:9000\"\nclock = \"manual\"\n",
            )?;
            jail.set_env("ODR_LISTEN", "127.0.0.1:9100");
            jail.set_env("ODR_DELIVERY__RETRY_SCHEDULE", "0, 5,60");
            jail.set_env("DATABASE_URL", "postgres://db/x");
            let config = Config::load(Some(Path::new("gw.toml"))).expect("loads");
            assert_eq!(config.listen.port(), 9100);
            assert_eq!(config.clock, ClockMode::Manual);
            assert_eq!(config.delivery.retry_schedule, vec![0, 5, 60]);
            assert_eq!(config.database_url, "postgres://db/x");
            jail.set_env("ODR_DATABASE_URL", "sqlite://x.db");
            let config = Config::load(Some(Path::new("gw.toml"))).expect("loads");
            assert_eq!(config.database_url, "sqlite://x.db");
            Ok(())
        });
    }

    #[test]
    fn a_bad_value_names_its_key() {
        Jail::expect_with(|jail| {
            jail.clear_env();
            jail.set_env("ODR_DEADLINES__ACK_WORKING_DAYS", "0");
            let err = Config::load(None).unwrap_err().to_string();
            assert!(err.contains("deadlines.ack_working_days"), "{err}");
            jail.set_env("ODR_DEADLINES__ACK_WORKING_DAYS", "1");
            jail.set_env("ODR_JWT_SECRET", "short");
            let err = Config::load(None).unwrap_err().to_string();
            assert!(err.contains("jwt_secret"), "{err}");
            Ok(())
        });
    }

    #[test]
    fn defaults_are_the_embedded_setup() {
        Jail::expect_with(|jail| {
            jail.clear_env();
            let config = Config::load(None).expect("loads");
            assert!(config.is_sqlite());
            assert_eq!(config.listen.to_string(), "127.0.0.1:8080");
            assert_eq!(config.clock, ClockMode::System);
            Ok(())
        });
    }
}
