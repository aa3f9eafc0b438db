//! The real binary under crashes and beside a second instance: nothing accepted
//! is lost, and nothing is delivered twice without a failed attempt to explain it.

mod common;

use std::collections::HashMap;
use std::time::Duration;

use common::process::Gateway;
use common::receiver::{Receiver, Reply};
use common::{eventually, intake};
use odr_gateway::demo::credit_code;
use serde_json::{Value, json};

fn env(database_url: &str) -> Vec<(String, String)> {
    [
        ("ODR_DATABASE_URL", database_url),
        ("ODR_DELIVERY__ALLOW_PRIVATE_TARGETS", "true"),
        (
            "ODR_DELIVERY__RETRY_SCHEDULE",
            "0,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1",
        ),
        ("ODR_DELIVERY__LEASE_SECONDS", "5"),
        ("ODR_DELIVERY__TIMEOUT_SECONDS", "2"),
        ("ODR_DELIVERY__BREAKER_FAILURES", "1000"),
        ("ODR_DELIVERY__POLL_INTERVAL_MS", "20"),
        ("ODR_LOG", "warn"),
        // These tests drive far more requests per client than a person would.
        ("ODR_LIMITS__CLIENT_RATE_PER_SECOND", "100000"),
        ("ODR_LIMITS__CLIENT_BURST", "100000"),
        ("ODR_LIMITS__LOGIN_RATE_PER_SECOND", "100000"),
        ("ODR_LIMITS__LOGIN_BURST", "100000"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

struct Client {
    http: reqwest::Client,
    base: String,
    admin: String,
}

impl Client {
    async fn post(&self, path: &str, token: &str, body: Value) -> Value {
        let res = self
            .http
            .post(format!("{}{path}", self.base))
            .bearer_auth(token)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert!(res.status().is_success(), "{path}: {}", res.status());
        res.json().await.unwrap()
    }

    async fn get(&self, path: &str, token: &str) -> Value {
        self.http
            .get(format!("{}{path}", self.base))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    async fn connect(base: String) -> Client {
        odr_gateway::delivery::install_crypto_provider();
        let http = reqwest::Client::new();
        let login: Value = http
            .post(format!("{base}/v1/auth/login"))
            .json(&json!({"username": "admin", "password": "admin-password-1"}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        Client {
            admin: login["access_token"].as_str().unwrap().to_string(),
            http,
            base,
        }
    }

    /// A station, a push merchant at `url`, and a partner token.
    async fn push_world(&self, url: &str) -> (String, String) {
        self.post(
            "/v1/stations",
            &self.admin,
            json!({"code": "QJ", "name": "指挥中心"}),
        )
        .await;
        let code = credit_code("91429005MA4900001").unwrap();
        self.post("/v1/handlers", &self.admin, json!({"kind": "merchant", "name": "商户", "credit_code": code, "station_code": "QJ", "delivery": "push", "webhook_url": url})).await;
        let p = self
            .post(
                "/v1/partners",
                &self.admin,
                json!({"name": "12315", "rate_per_second": 1000, "burst": 1000}),
            )
            .await;
        (code, self.token(&p).await)
    }

    async fn token(&self, created: &Value) -> String {
        let token: Value = self
            .http
            .post(format!("{}/v1/oauth/token", self.base))
            .form(&[
                ("grant_type", "client_credentials"),
                ("client_id", created["client_id"].as_str().unwrap()),
                ("client_secret", created["client_secret"].as_str().unwrap()),
            ])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        token["access_token"].as_str().unwrap().to_string()
    }

    /// A station, a pull merchant and a partner: (credit code, partner token, merchant token).
    async fn pull_world(&self) -> (String, String, String) {
        self.post(
            "/v1/stations",
            &self.admin,
            json!({"code": "QJ", "name": "指挥中心"}),
        )
        .await;
        let code = credit_code("91429005MA4900001").unwrap();
        let h = self.post("/v1/handlers", &self.admin, json!({"kind": "merchant", "name": "商户", "credit_code": code, "station_code": "QJ", "delivery": "pull"})).await;
        let p = self
            .post(
                "/v1/partners",
                &self.admin,
                json!({"name": "12315", "rate_per_second": 1000, "burst": 1000}),
            )
            .await;
        (code, self.token(&p).await, self.token(&h).await)
    }

    /// Submits `n` complaints and has the pull merchant read (receive) them all.
    async fn delivered(&self, n: usize, code: &str, partner: &str, merchant: &str) {
        let intakes = (0..n).map(|_| {
            let mut body = intake(code);
            body["station_code"] = json!("QJ");
            self.post("/v1/complaints", partner, body)
        });
        futures_util::stream::iter(intakes)
            .buffer_unordered(16)
            .collect::<Vec<_>>()
            .await;
        let mut path = "/v1/inbox?limit=200".to_string();
        loop {
            let page = self.get(&path, merchant).await;
            assert!(
                page["items"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .all(|c| c["status"] == "delivered")
            );
            match page["next_cursor"].as_str() {
                Some(c) => path = format!("/v1/inbox?limit=200&cursor={c}"),
                None => return,
            }
        }
    }

    /// Every complaint of the partner, all pages.
    async fn complaints(&self, partner: &str) -> Vec<Value> {
        let mut all = Vec::new();
        let mut path = "/v1/complaints?limit=200".to_string();
        loop {
            let page = self.get(&path, partner).await;
            all.extend(page["items"].as_array().unwrap().iter().cloned());
            match page["next_cursor"].as_str() {
                Some(c) => path = format!("/v1/complaints?limit=200&cursor={c}"),
                None => return all,
            }
        }
    }
}

fn bootstrap(dir: &std::path::Path, env: &[(String, String)]) {
    Gateway::run(
        dir,
        env,
        &[
            "admin",
            "create-user",
            "--username",
            "admin",
            "--password",
            "admin-password-1",
            "--role",
            "admin",
        ],
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_gateway_loses_no_complaint() {
    let dir = tempfile::tempdir().unwrap();
    let env = env("sqlite://crash.db?mode=rwc");
    bootstrap(dir.path(), &env);
    let mut gateway = Gateway::serve(dir.path(), &env);
    let receiver = Receiver::start();
    receiver.answer_always(Reply::Status(500));
    let client = Client::connect(gateway.base()).await;
    let (code, partner) = client.push_world(&receiver.url).await;
    for _ in 0..50 {
        let mut body = intake(&code);
        body["station_code"] = json!("QJ");
        client.post("/v1/complaints", &partner, body).await;
    }
    receiver.wait_for(60, Duration::from_secs(30)).await;
    gateway.kill();
    receiver.answer_always(Reply::Status(200));
    gateway.restart();
    let client = Client::connect(gateway.base()).await;
    let settled = eventually(Duration::from_secs(60), || async {
        let all = client.complaints(&partner).await;
        all.iter()
            .all(|c| c["status"] == "delivered" || c["status"] == "escalated")
            .then_some(all)
    })
    .await;
    assert_eq!(settled.len(), 50, "every accepted complaint is still there");
    let delivered_ids = receiver.complaints_answered_ok();
    for c in &settled {
        if c["status"] == "delivered" {
            assert!(delivered_ids.contains(c["id"].as_str().unwrap()));
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_gateways_on_one_postgresql_deliver_each_event_once() {
    let Some(database_url) = common::postgres_database().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let env = env(&database_url);
    bootstrap(dir.path(), &env);
    let first = Gateway::serve(dir.path(), &env);
    let second = Gateway::serve(dir.path(), &env);
    let receiver = Receiver::start();
    receiver.fail_randomly(10, 42);
    let client = Client::connect(first.base()).await;
    let (code, partner) = client.push_world(&receiver.url).await;
    let intakes = (0..500).map(|_| {
        let mut body = intake(&code);
        body["station_code"] = json!("QJ");
        client.post("/v1/complaints", &partner, body)
    });
    futures_util::stream::iter(intakes)
        .buffer_unordered(16)
        .collect::<Vec<_>>()
        .await;
    let got = eventually(Duration::from_secs(120), || async {
        let got = receiver.received();
        let ok: std::collections::BTreeSet<_> = got
            .iter()
            .filter(|r| r.status == 200)
            .map(|r| r.headers["webhook-id"].clone())
            .collect();
        (ok.len() >= 500).then_some(got)
    })
    .await;
    let mut by_id: HashMap<String, Vec<u16>> = HashMap::new();
    for r in &got {
        by_id
            .entry(r.headers["webhook-id"].clone())
            .or_default()
            .push(r.status);
    }
    assert_eq!(by_id.len(), 500, "one webhook-id per forwarded complaint");
    for (id, statuses) in &by_id {
        let successes = statuses.iter().filter(|s| **s == 200).count();
        assert_eq!(
            successes, 1,
            "{id} answered 2xx {successes} times: {statuses:?}"
        );
        assert_eq!(
            statuses.last(),
            Some(&200),
            "{id}: retried after success: {statuses:?}"
        );
    }
    for gateway in [&first, &second] {
        let metrics = reqwest::get(format!("{}/metrics", gateway.base()))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let delivered = metrics
            .lines()
            .find(|l| l.starts_with("odr_deliveries_total{outcome=\"delivered\"}"))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|n| n.parse::<u64>().ok())
            .unwrap_or(0);
        assert!(delivered > 0, "both processes deliver");
    }
}

use futures_util::StreamExt;

/// The manual clock from the Tuesday before the 2026 National Day holiday.
fn manual_clock(mut env: Vec<(String, String)>) -> Vec<(String, String)> {
    env.push(("ODR_CLOCK".into(), "manual".into()));
    env.push(("ODR_CLOCK_START".into(), "2026-09-29T10:00:00+08:00".into()));
    env
}

fn metric(text: &str, prefix: &str) -> u64 {
    text.lines()
        .filter(|l| l.starts_with(prefix))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_gateways_escalate_each_overdue_case_exactly_once() {
    let Some(database_url) = common::postgres_database().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let env = manual_clock(env(&database_url));
    bootstrap(dir.path(), &env);
    let first = Gateway::serve(dir.path(), &env);
    let second = Gateway::serve(dir.path(), &env);
    let client = Client::connect(first.base()).await;
    let (code, partner, merchant) = client.pull_world().await;
    client.delivered(200, &code, &partner, &merchant).await;
    // Both processes move past every ack_by at once and race over the same 200 cases.
    let other = Client::connect(second.base()).await;
    let after_the_holiday = json!({"set": "2026-10-09T09:00:00+08:00"});
    let (a, b) = tokio::join!(
        client.post("/v1/admin/clock", &client.admin, after_the_holiday.clone()),
        other.post("/v1/admin/clock", &other.admin, after_the_holiday),
    );
    assert!(
        a["deadline_actions"].as_u64().unwrap() + b["deadline_actions"].as_u64().unwrap() <= 200
    );
    let all = client.complaints(&partner).await;
    assert_eq!(all.len(), 200);
    for case in &all {
        assert_eq!(case["status"], "escalated");
        assert_eq!(case["escalation_reason"], "ack_overdue");
        let events = client
            .get(
                &format!(
                    "/v1/complaints/{}/events?limit=200",
                    case["id"].as_str().unwrap()
                ),
                &client.admin,
            )
            .await;
        let escalations = events["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["kind"].as_str().unwrap().starts_with("escalate"))
            .count();
        assert_eq!(escalations, 1, "{}", case["id"]);
    }
    let mut actions = 0;
    for gateway in [&first, &second] {
        let text = reqwest::get(format!("{}/metrics", gateway.base()))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        actions += metric(&text, "odr_deadline_actions_total{");
    }
    assert_eq!(actions, 200, "one action per case across both processes");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gateway_stopped_over_the_holiday_week_catches_up_when_it_returns() {
    let dir = tempfile::tempdir().unwrap();
    let env = manual_clock(env("sqlite://downtime.db?mode=rwc"));
    bootstrap(dir.path(), &env);
    let mut gateway = Gateway::serve(dir.path(), &env);
    let client = Client::connect(gateway.base()).await;
    let (code, partner, merchant) = client.pull_world().await;
    client.delivered(20, &code, &partner, &merchant).await;
    gateway.kill();
    // Down from Tuesday 09-29 until the Friday after the holiday; nobody
    // moves the clock: the job at start-up escalates everything due.
    gateway.set_env("ODR_CLOCK_START", "2026-10-09T09:00:00+08:00");
    gateway.restart();
    let client = Client::connect(gateway.base()).await;
    let all = eventually(Duration::from_secs(30), || async {
        let all = client.complaints(&partner).await;
        all.iter()
            .all(|c| c["status"] == "escalated")
            .then_some(all)
    })
    .await;
    assert_eq!(all.len(), 20);
    for case in &all {
        assert_eq!(case["escalation_reason"], "ack_overdue");
        assert_eq!(case["escalated_at"], "2026-10-09T09:00:00+08:00");
        assert_eq!(case["deadlines"]["ack_by"]["state"], "missed");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn provisional_deadlines_are_counted_again_once_their_year_is_loaded() {
    let dir = tempfile::tempdir().unwrap();
    let mut env = env("sqlite://provisional.db?mode=rwc");
    env.push(("ODR_CLOCK".into(), "manual".into()));
    env.push(("ODR_CLOCK_START".into(), "2026-12-28T10:00:00+08:00".into()));
    bootstrap(dir.path(), &env);
    let mut gateway = Gateway::serve(dir.path(), &env);
    let client = Client::connect(gateway.base()).await;
    let (code, partner, merchant) = client.pull_world().await;
    client.delivered(1, &code, &partner, &merchant).await;
    let case = client.complaints(&partner).await.remove(0);
    let resolve = &case["deadlines"]["resolve_by"];
    // 2027 is not shipped: counted Monday–Friday, New Year's Day included.
    assert_eq!(resolve["state"], "provisional");
    assert_eq!(resolve["last_day"], "2027-01-11");
    gateway.kill();
    let calendar = dir.path().join("holidays-2027.toml");
    std::fs::write(
        &calendar,
        "[[years]]\nyear = 2027\nholidays = [{ name = \"元旦\", from = \"2027-01-01\", to = \"2027-01-03\" }]\n",
    )
    .unwrap();
    gateway.set_env("ODR_DEADLINES__CALENDAR_FILE", calendar.to_str().unwrap());
    gateway.restart();
    let client = Client::connect(gateway.base()).await;
    let id = case["id"].as_str().unwrap().to_string();
    let recounted = eventually(Duration::from_secs(30), || async {
        let c = client.get(&format!("/v1/complaints/{id}"), &partner).await;
        (c["deadlines"]["resolve_by"]["state"] == "pending").then_some(c)
    })
    .await;
    assert_eq!(
        recounted["deadlines"]["resolve_by"]["last_day"],
        "2027-01-12"
    );
    let events = client
        .get(&format!("/v1/complaints/{id}/events"), &client.admin)
        .await;
    let kinds: Vec<&str> = events["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds
            .iter()
            .filter(|k| **k == "deadlines_recomputed")
            .count(),
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_or_phone_number_reaches_the_logs() {
    let dir = tempfile::tempdir().unwrap();
    let mut env = env("sqlite://logs.db?mode=rwc");
    for (key, value) in env.iter_mut() {
        if key == "ODR_LOG" {
            *value = "debug".into();
        }
    }
    bootstrap(dir.path(), &env);
    let log = dir.path().join("gateway.log");
    let mut gateway = Gateway::serve_logged(dir.path(), &env, Some(log.clone()));
    let receiver = Receiver::start();
    let client = Client::connect(gateway.base()).await;
    client
        .post(
            "/v1/stations",
            &client.admin,
            json!({"code": "QJ", "name": "指挥中心"}),
        )
        .await;
    let code = credit_code("91429005MA4900001").unwrap();
    let handler = client.post("/v1/handlers", &client.admin, json!({"kind": "merchant", "name": "商户", "credit_code": code, "station_code": "QJ", "delivery": "push", "webhook_url": receiver.url})).await;
    let partner = client
        .post("/v1/partners", &client.admin, json!({"name": "12315", "rate_per_second": 100, "burst": 100, "callback_url": receiver.url}))
        .await;
    let staff_password = "staff-password-secret-1";
    client
        .post(
            "/v1/staff",
            &client.admin,
            json!({"username": "dc", "password": staff_password, "station_code": "QJ"}),
        )
        .await;
    let partner_token = client.token(&partner).await;
    let handler_token = client.token(&handler).await;
    let phone = "13912345678";
    let mut body = intake(&code);
    body["station_code"] = json!("QJ");
    body["consumer"]["phone"] = json!(phone);
    let case = client.post("/v1/complaints", &partner_token, body).await;
    let id = case["id"].as_str().unwrap().to_string();
    eventually(Duration::from_secs(30), || async {
        let c = client
            .get(&format!("/v1/complaints/{id}"), &partner_token)
            .await;
        (c["status"] == "delivered").then_some(())
    })
    .await;
    client
        .post(
            &format!("/v1/inbox/{id}/acknowledge"),
            &handler_token,
            json!({}),
        )
        .await;
    let rotated = client
        .post(
            &format!(
                "/v1/handlers/{}/rotate-secret",
                handler["id"].as_str().unwrap()
            ),
            &client.admin,
            json!({}),
        )
        .await;
    // A failed sign-in and a bad token are logged too; their secrets must not be.
    let _ = client
        .http
        .post(format!("{}/v1/auth/login", client.base))
        .json(&json!({"username": "dc", "password": "wrong-guess-secret"}))
        .send()
        .await;
    receiver.wait_for(4, Duration::from_secs(30)).await;
    gateway.kill();
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(
        text.contains("odr-gateway listening"),
        "the log was captured:\n{text}"
    );
    assert!(
        text.contains("/v1/complaints"),
        "requests are logged:\n{text}"
    );
    let secrets = [
        handler["client_secret"].as_str().unwrap(),
        handler["webhook_secret"].as_str().unwrap(),
        &handler["webhook_secret"].as_str().unwrap()["whsec_".len()..],
        rotated["webhook_secret"].as_str().unwrap(),
        partner["client_secret"].as_str().unwrap(),
        partner["webhook_secret"].as_str().unwrap(),
        "admin-password-1",
        staff_password,
        "wrong-guess-secret",
        &partner_token,
        &handler_token,
        &client.admin,
        phone,
    ];
    for secret in secrets {
        assert!(!text.contains(secret), "{secret} appears in the log");
    }
}
