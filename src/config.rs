//! Configuration in layers: defaults → TOML file (`--config` / `ODR_CONFIG`) →
//! `ODR_*` environment variables (`__` separates nested keys). Plain
//! `DATABASE_URL` is honoured too, below `ODR_DATABASE_URL`.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::str::FromStr;

use chrono::{DateTime, Utc};
use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Deserializer, Serialize};

use crate::domain::calendar::Calendar;
use crate::domain::deadlines::{Policy, RuleSet};

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
    /// AES-256 key (base64 of 32 bytes) that encrypts webhook signing secrets
    /// at rest. When unset, one is generated and kept in the database, which
    /// protects nothing against a copy of the database: set it in production.
    pub secrets_key: Option<String>,
    pub token_ttl_seconds: u64,
    pub token_issuer: String,
    pub clock: ClockMode,
    /// Where the manual clock starts (RFC 3339); now when unset.
    pub clock_start: Option<DateTime<Utc>>,
    /// Station that receives not-enrolled cases whose intake names none.
    pub default_station: Option<String>,
    pub max_body_bytes: usize,
    /// A request still unanswered after this many seconds is answered 503.
    pub request_timeout_seconds: u64,
    /// Reverse proxies (addresses or CIDR blocks) whose `X-Forwarded-For` is
    /// believed for the client's address; "10.0.0.0/8,::1" in the environment.
    /// Empty: the connection's peer is the client.
    #[serde(deserialize_with = "cidr_list")]
    pub trusted_proxies: Vec<Cidr>,
    pub limits: LimitsConfig,
    pub delivery: DeliveryConfig,
    pub deadlines: DeadlineConfig,
    pub followups: FollowupConfig,
}

/// The monthly follow-up sample (SPEC §8).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FollowupConfig {
    /// Share of the complaints that ended in a month drawn for a follow-up
    /// visit, per station tree (0.3 = 30 %).
    pub share: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DeliveryConfig {
    /// Seconds to wait before each attempt; "0,5,300" in the environment.
    #[serde(deserialize_with = "seconds_list")]
    pub retry_schedule: Vec<u64>,
    pub allow_private_targets: bool,
    /// Delivery workers in each gateway process: batches delivered at once
    /// from claims, and as many tasks delivering the forwards intakes hand off.
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

/// Inbound rate limits, per gateway process (partners' quotas are on their records).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LimitsConfig {
    /// Handlers, staff and admins: requests per second and burst, per client.
    pub client_rate_per_second: u32,
    pub client_burst: u32,
    /// `/v1/oauth/token` and `/v1/auth/login`, per client IP (brute-force guard).
    pub login_rate_per_second: u32,
    pub login_burst: u32,
    /// How long a client's standing (suspended, deleted, its quota) is cached.
    pub standing_cache_seconds: u64,
}

/// Deadline rules (SPEC §5) and the deadline job.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DeadlineConfig {
    /// Rule sets by effective date; a case uses the one in force when its
    /// clock started. The default ships the 2019 and the 2026 rules.
    pub rule_sets: Vec<RuleSet>,
    /// More years of holiday schedules (the shape of `cn-holidays.toml`);
    /// a year in it replaces the shipped one.
    pub calendar_file: Option<PathBuf>,
    /// How often (real seconds) the deadline job looks for due cases.
    pub scan_interval_seconds: u64,
    /// Cases the job takes at a time.
    pub batch_size: u64,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            database_url: "sqlite://odr-gateway.db?mode=rwc".into(),
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            jwt_secret: None,
            secrets_key: None,
            token_ttl_seconds: 3600,
            token_issuer: "odr-gateway".into(),
            clock: ClockMode::System,
            clock_start: None,
            default_station: None,
            max_body_bytes: 64 * 1024,
            request_timeout_seconds: 30,
            trusted_proxies: Vec::new(),
            limits: LimitsConfig {
                client_rate_per_second: 20,
                client_burst: 50,
                login_rate_per_second: 1,
                login_burst: 10,
                standing_cache_seconds: 5,
            },
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
                rule_sets: RuleSet::defaults(),
                calendar_file: None,
                scan_interval_seconds: 5,
                batch_size: 100,
            },
            followups: FollowupConfig { share: 0.3 },
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
        if let Some(key) = &self.secrets_key
            && let Err(why) = crate::auth::secrets::Sealer::from_key(key)
        {
            return bad("secrets_key", &why);
        }
        if !(60..=86_400).contains(&self.token_ttl_seconds) {
            return bad("token_ttl_seconds", "must be between 60 and 86400");
        }
        if self.max_body_bytes < 1024 {
            return bad("max_body_bytes", "must be at least 1024");
        }
        let l = &self.limits;
        for (key, value, range) in [
            (
                "request_timeout_seconds",
                self.request_timeout_seconds,
                1..=600,
            ),
            (
                "limits.client_rate_per_second",
                u64::from(l.client_rate_per_second),
                1..=100_000,
            ),
            (
                "limits.client_burst",
                u64::from(l.client_burst),
                1..=100_000,
            ),
            (
                "limits.login_rate_per_second",
                u64::from(l.login_rate_per_second),
                1..=100_000,
            ),
            ("limits.login_burst", u64::from(l.login_burst), 1..=100_000),
            (
                "limits.standing_cache_seconds",
                l.standing_cache_seconds,
                0..=300,
            ),
        ] {
            if !range.contains(&value) {
                return bad(
                    key,
                    &format!("must be between {} and {}", range.start(), range.end()),
                );
            }
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
        if !(1..=3600).contains(&d.scan_interval_seconds) {
            return bad(
                "deadlines.scan_interval_seconds",
                "must be between 1 and 3600",
            );
        }
        if !(1..=10_000).contains(&d.batch_size) {
            return bad("deadlines.batch_size", "must be between 1 and 10000");
        }
        for (i, rules) in d.rule_sets.iter().enumerate() {
            let key = format!("deadlines.rule_sets[{i}]");
            if rules.name.trim().is_empty() {
                return bad(&format!("{key}.name"), "must not be empty");
            }
            if d.rule_sets[..i].iter().any(|r| r.name == rules.name) {
                return bad(&format!("{key}.name"), "is used by another rule set");
            }
            if !(1..=365).contains(&rules.max_extension_working_days) {
                return bad(
                    &format!("{key}.max_extension_working_days"),
                    "must be between 1 and 365",
                );
            }
        }
        if !(self.followups.share > 0.0 && self.followups.share <= 1.0) {
            return bad("followups.share", "must be more than 0 and at most 1");
        }
        self.deadline_policy()?;
        Ok(())
    }

    /// The calendar (shipped years plus `deadlines.calendar_file`) and the rule sets.
    pub fn deadline_policy(&self) -> Result<Policy, ConfigError> {
        let mut calendar = Calendar::shipped();
        if let Some(path) = &self.deadlines.calendar_file {
            let text = std::fs::read_to_string(path).map_err(|e| {
                ConfigError(format!(
                    "deadlines.calendar_file: cannot read {}: {e}",
                    path.display()
                ))
            })?;
            let more = Calendar::parse(&text).map_err(|e| {
                ConfigError(format!("deadlines.calendar_file: {}: {e}", path.display()))
            })?;
            calendar.extend(more);
        }
        Policy::new(calendar, self.deadlines.rule_sets.clone())
            .map_err(|e| ConfigError(format!("deadlines.rule_sets: {e}")))
    }

    pub fn is_sqlite(&self) -> bool {
        self.database_url.starts_with("sqlite:")
    }
}

/// An IP address block: `10.0.0.0/8`, `2001:db8::/32`, or one address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    network: IpAddr,
    prefix: u8,
}

impl Cidr {
    /// Whether `ip` lies in the block (an IPv4-mapped IPv6 address counts as IPv4).
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        ip.is_ipv4() == self.network.is_ipv4() && truncate(ip, self.prefix) == self.network
    }
}

/// `ip` with every bit after the first `prefix` cleared.
pub fn truncate(ip: IpAddr, prefix: u8) -> IpAddr {
    match ip {
        IpAddr::V4(v4) => {
            let mask = u32::MAX
                .checked_shl(32 - u32::from(prefix).min(32))
                .unwrap_or(0);
            IpAddr::V4(Ipv4Addr::from(u32::from(v4) & mask))
        }
        IpAddr::V6(v6) => {
            let mask = u128::MAX
                .checked_shl(128 - u32::from(prefix).min(128))
                .unwrap_or(0);
            IpAddr::V6(Ipv6Addr::from(u128::from(v6) & mask))
        }
    }
}

impl FromStr for Cidr {
    type Err = String;

    fn from_str(text: &str) -> Result<Cidr, String> {
        let text = text.trim();
        let (address, prefix) = match text.split_once('/') {
            Some((address, prefix)) => (address, Some(prefix)),
            None => (text, None),
        };
        let network = address
            .parse::<IpAddr>()
            .map_err(|_| format!("{text:?} is not an IP address or CIDR block"))?
            .to_canonical();
        let bits = if network.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => bits,
            Some(p) => p
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= bits)
                .ok_or_else(|| format!("{text:?} has a prefix length outside 0..={bits}"))?,
        };
        if truncate(network, prefix) != network {
            return Err(format!(
                "{text:?} has address bits set beyond its /{prefix} prefix"
            ));
        }
        Ok(Cidr { network, prefix })
    }
}

impl std::fmt::Display for Cidr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.network, self.prefix)
    }
}

impl Serialize for Cidr {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// Accepts `["10.0.0.0/8", "::1"]` (TOML) or `"10.0.0.0/8,::1"` (environment).
fn cidr_list<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Cidr>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        List(Vec<String>),
        Text(String),
    }
    let parts: Vec<String> = match Raw::deserialize(d)? {
        Raw::List(list) => list,
        Raw::Text(text) => text
            .split(',')
            .filter(|p| !p.trim().is_empty())
            .map(str::to_string)
            .collect(),
    };
    parts
        .iter()
        .map(|p| p.parse::<Cidr>())
        .collect::<Result<_, _>>()
        .map_err(|why| serde::de::Error::custom(format!("trusted_proxies: {why}")))
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
            jail.set_env("ODR_DEADLINES__CALENDAR_FILE", "missing.toml");
            let err = Config::load(None).unwrap_err().to_string();
            assert!(err.contains("deadlines.calendar_file"), "{err}");
            jail.create_file("bad.toml", "[[years]]\nyear = 2027\n")?;
            jail.set_env("ODR_DEADLINES__CALENDAR_FILE", "bad.toml");
            let err = Config::load(None).unwrap_err().to_string();
            assert!(
                err.contains("deadlines.calendar_file") && err.contains("holidays"),
                "{err}"
            );
            jail.clear_env();
            jail.set_env(
                "ODR_DEADLINES__RULE_SETS",
                r#"[{name="a", effective_from="2020-01-01", ack="1 working day", resolve="10 working weeks", objection="3 working days", decision="7 working days", initial_feedback="10 working days", mediation="60 calendar days", max_extension_working_days=7}]"#,
            );
            let err = Config::load(None).unwrap_err().to_string();
            assert!(err.contains("working weeks"), "{err}");
            jail.clear_env();
            jail.set_env("ODR_JWT_SECRET", "short");
            let err = Config::load(None).unwrap_err().to_string();
            assert!(err.contains("jwt_secret"), "{err}");
            jail.clear_env();
            for share in ["0", "1.5", "-0.1"] {
                jail.set_env("ODR_FOLLOWUPS__SHARE", share);
                let err = Config::load(None).unwrap_err().to_string();
                assert!(err.contains("followups.share"), "{share}: {err}");
            }
            jail.set_env("ODR_FOLLOWUPS__SHARE", "0.5");
            assert_eq!(Config::load(None).expect("loads").followups.share, 0.5);
            Ok(())
        });
    }

    #[test]
    fn trusted_proxies_parse_from_a_file_or_the_environment_and_bad_ones_stop_start_up() {
        Jail::expect_with(|jail| {
            jail.clear_env();
            assert!(
                Config::load(None)
                    .expect("loads")
                    .trusted_proxies
                    .is_empty()
            );
            jail.create_file("gw.toml", "trusted_proxies = [\"10.0.0.0/8\", \"::1\"]\n")?;
            let config = Config::load(Some(Path::new("gw.toml"))).expect("loads");
            let shown: Vec<String> = config
                .trusted_proxies
                .iter()
                .map(|c| c.to_string())
                .collect();
            assert_eq!(shown, ["10.0.0.0/8", "::1/128"]);
            jail.set_env("ODR_TRUSTED_PROXIES", "192.168.1.1, 2001:db8::/32");
            let config = Config::load(Some(Path::new("gw.toml"))).expect("loads");
            let shown: Vec<String> = config
                .trusted_proxies
                .iter()
                .map(|c| c.to_string())
                .collect();
            assert_eq!(shown, ["192.168.1.1/32", "2001:db8::/32"]);
            for bad in ["10.0.0.0/33", "proxy.example", "10.0.0.1/8", "10.0.0.0/x"] {
                jail.set_env("ODR_TRUSTED_PROXIES", bad);
                let err = Config::load(None).unwrap_err().to_string();
                assert!(
                    err.contains("trusted_proxies") && err.contains(bad),
                    "{bad}: {err}"
                );
            }
            Ok(())
        });
    }

    #[test]
    fn cidr_blocks_contain_their_addresses() {
        let net: Cidr = "10.0.0.0/8".parse().unwrap();
        assert!(net.contains("10.255.0.1".parse().unwrap()));
        assert!(net.contains("::ffff:10.1.1.1".parse().unwrap()));
        assert!(!net.contains("11.0.0.1".parse().unwrap()));
        assert!(!net.contains("::a00:1".parse().unwrap()));
        let all: Cidr = "0.0.0.0/0".parse().unwrap();
        assert!(all.contains("203.0.113.1".parse().unwrap()));
        let v6: Cidr = "2001:db8::/32".parse().unwrap();
        assert!(v6.contains("2001:db8:ffff::1".parse().unwrap()));
        assert!(!v6.contains("2001:db9::1".parse().unwrap()));
        let one: Cidr = "::1".parse().unwrap();
        assert!(one.contains("::1".parse().unwrap()) && !one.contains("::2".parse().unwrap()));
    }

    #[test]
    fn defaults_are_the_embedded_setup() {
        Jail::expect_with(|jail| {
            jail.clear_env();
            let config = Config::load(None).expect("loads");
            assert!(config.is_sqlite());
            assert_eq!(config.listen.to_string(), "127.0.0.1:8080");
            assert_eq!(config.clock, ClockMode::System);
            let names: Vec<_> = config
                .deadlines
                .rule_sets
                .iter()
                .map(|r| r.name.as_str())
                .collect();
            assert_eq!(names, ["samr-2019", "samr-2026"]);
            assert_eq!(config.followups.share, 0.3);
            Ok(())
        });
    }
}
