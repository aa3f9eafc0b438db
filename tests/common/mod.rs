//! Test harness: the real server on 127.0.0.1:0 with its own database, on
//! SQLite or PostgreSQL, and a client that speaks HTTP to it.
#![allow(dead_code)]

pub mod process;
pub mod receiver;

use std::net::TcpListener;
use std::sync::Once;

use odr_gateway::app;
use odr_gateway::config::{ClockMode, Config};
use odr_gateway::demo::credit_code;
use odr_gateway::domain::password::Password;
use odr_gateway::domain::vocabulary::Role;
use odr_gateway::state::AppState;
use odr_gateway::store;
use reqwest::{Method, StatusCode};
use sea_orm::{ConnectionTrait, Database};
use serde_json::{Value, json};

pub enum Backend {
    Sqlite,
    Postgres,
}

pub struct TestApp {
    pub base: String,
    pub database_url: String,
    pub client: reqwest::Client,
    pub admin: String,
    _dir: Option<tempfile::TempDir>,
}

static PG_SKIPPED: Once = Once::new();

/// A fresh PostgreSQL database on the server named by `DATABASE_URL`.
pub async fn postgres_database() -> Option<String> {
    let Ok(url) = std::env::var("DATABASE_URL") else {
        // Written past the test harness's output capture, so a local run says it.
        PG_SKIPPED.call_once(|| {
            use std::io::Write;
            let _ = writeln!(
                std::io::stderr(),
                "PostgreSQL skipped: DATABASE_URL is not set"
            );
        });
        return None;
    };
    let name = format!("odr_test_{}", uuid::Uuid::new_v4().simple());
    let admin = Database::connect(&url)
        .await
        .expect("connect to DATABASE_URL");
    admin
        .execute_unprepared(&format!("CREATE DATABASE {name}"))
        .await
        .expect("create test database");
    let base = url.rsplit_once('/').map(|(b, _)| b).unwrap_or(&url);
    Some(format!("{base}/{name}"))
}

pub const ADMIN_PASSWORD: &str = "admin-password-1";

pub async fn spawn(backend: Backend, tweak: impl FnOnce(&mut Config)) -> Option<TestApp> {
    spawn_with(backend, tweak, true).await
}

/// [`spawn`], optionally without the background workers.
pub async fn spawn_with(
    backend: Backend,
    tweak: impl FnOnce(&mut Config),
    workers: bool,
) -> Option<TestApp> {
    let mut dir = None;
    let database_url = match backend {
        Backend::Sqlite => {
            let tmp = tempfile::tempdir().expect("temp dir");
            let url = format!("sqlite://{}?mode=rwc", tmp.path().join("gw.db").display());
            dir = Some(tmp);
            url
        }
        Backend::Postgres => postgres_database().await?,
    };
    let mut app = start(database_url, tweak, workers, true).await;
    app._dir = dir;
    Some(app)
}

/// A second gateway process on the database of `first` (its own clock,
/// workers and rate limits; the same accounts, signing key and cases).
pub async fn spawn_beside(
    first: &TestApp,
    tweak: impl FnOnce(&mut Config),
    workers: bool,
) -> TestApp {
    start(first.database_url.clone(), tweak, workers, false).await
}

async fn start(
    database_url: String,
    tweak: impl FnOnce(&mut Config),
    workers: bool,
    fresh: bool,
) -> TestApp {
    let mut config = Config {
        database_url,
        clock: ClockMode::Manual,
        clock_start: Some(at("2026-03-02T09:00:00+08:00")),
        ..Config::default()
    };
    config.delivery.allow_private_targets = true;
    config.delivery.poll_interval_ms = 10;
    config.delivery.workers = 2;
    // Rate limits get their own tests; elsewhere they stay out of the way.
    config.limits.client_rate_per_second = 100_000;
    config.limits.client_burst = 100_000;
    config.limits.login_rate_per_second = 100_000;
    config.limits.login_burst = 100_000;
    tweak(&mut config);
    let state = AppState::start(config).await.expect("gateway starts");
    if fresh {
        let admin = store::accounts::NewUser {
            username: "admin".into(),
            password: Password::parse(ADMIN_PASSWORD).expect("a long enough password"),
            role: Role::Admin,
            station_code: None,
        };
        store::accounts::insert(&state.db, admin, chrono::Utc::now())
            .await
            .expect("admin user");
    }
    if workers {
        app::start_workers(&state).expect("workers");
    }
    let database_url = state.config.database_url.clone();
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("address"));
    let server = app::server(state, listener).expect("server");
    tokio::spawn(server);
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let mut app = TestApp {
        base,
        database_url,
        client,
        admin: String::new(),
        _dir: None,
    };
    app.admin = app.login("admin", ADMIN_PASSWORD).await;
    app
}

pub fn at(rfc3339: &str) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::parse_from_rfc3339(rfc3339)
        .expect("test timestamp")
        .with_timezone(&chrono::Utc)
}

/// Runs one test body on SQLite and on PostgreSQL (skipped without DATABASE_URL).
#[macro_export]
macro_rules! on_both_databases {
    ($name:ident, $body:expr) => {
        mod $name {
            use super::*;
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let app = common::spawn(common::Backend::Sqlite, |_| {})
                    .await
                    .expect("sqlite app");
                ($body)(app).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                if let Some(app) = common::spawn(common::Backend::Postgres, |_| {}).await {
                    ($body)(app).await;
                }
            }
        }
    };
    ($name:ident, config = $tweak:expr, $body:expr) => {
        mod $name {
            use super::*;
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let app = common::spawn(common::Backend::Sqlite, $tweak)
                    .await
                    .expect("sqlite app");
                ($body)(app).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                if let Some(app) = common::spawn(common::Backend::Postgres, $tweak).await {
                    ($body)(app).await;
                }
            }
        }
    };
}

/// Polls `check` until it returns `Some`, failing after `limit`: for effects
/// of background workers, observed through the API.
pub async fn eventually<T, F, Fut>(limit: std::time::Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = std::time::Instant::now() + limit;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "condition not reached in {limit:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

pub struct Answer {
    pub status: StatusCode,
    pub body: Value,
    pub headers: reqwest::header::HeaderMap,
}

impl Answer {
    /// The field names of a validation problem.
    pub fn fields(&self) -> Vec<String> {
        self.body["errors"]
            .as_array()
            .map(|e| {
                e.iter()
                    .filter_map(|x| x["field"].as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default()
    }

    pub async fn of(res: reqwest::Response) -> Answer {
        let status = res.status();
        let headers = res.headers().clone();
        let text = res.text().await.expect("body");
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        Answer {
            status,
            body,
            headers,
        }
    }

    pub fn expect(self, status: u16) -> Value {
        assert_eq!(
            self.status.as_u16(),
            status,
            "unexpected answer: {}",
            self.body
        );
        self.body
    }
}

impl TestApp {
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Answer {
        let mut req = self.client.request(method, format!("{}{path}", self.base));
        if let Some(token) = token {
            req = req.bearer_auth(token);
        }
        if let Some(body) = body {
            req = req.json(&body);
        }
        Answer::of(req.send().await.expect("request sent")).await
    }

    /// A GET whose answer is a file (CSV, XLSX): the status, headers and bytes.
    pub async fn download(
        &self,
        path: &str,
        token: &str,
    ) -> (StatusCode, reqwest::header::HeaderMap, Vec<u8>) {
        let res = self
            .client
            .get(format!("{}{path}", self.base))
            .bearer_auth(token)
            .send()
            .await
            .expect("request sent");
        let status = res.status();
        let headers = res.headers().clone();
        let bytes = res.bytes().await.expect("body").to_vec();
        (status, headers, bytes)
    }

    /// An intake sent with an `Idempotency-Key`.
    pub async fn keyed_intake(&self, token: &str, key: &str, body: &Value) -> Answer {
        let req = self
            .client
            .post(format!("{}/v1/complaints", self.base))
            .bearer_auth(token)
            .header("Idempotency-Key", key)
            .json(body);
        Answer::of(req.send().await.expect("request sent")).await
    }

    pub async fn get(&self, path: &str, token: &str) -> Answer {
        self.call(Method::GET, path, Some(token), None).await
    }

    pub async fn post(&self, path: &str, token: &str, body: Value) -> Answer {
        self.call(Method::POST, path, Some(token), Some(body)).await
    }

    pub async fn login(&self, username: &str, password: &str) -> String {
        let body = self
            .call(
                Method::POST,
                "/v1/auth/login",
                None,
                Some(json!({"username": username, "password": password})),
            )
            .await
            .expect(200);
        body["access_token"].as_str().expect("token").to_string()
    }

    pub async fn client_token(&self, client_id: &str, secret: &str) -> String {
        let res = self
            .client
            .post(format!("{}/v1/oauth/token", self.base))
            .form(&[
                ("grant_type", "client_credentials"),
                ("client_id", client_id),
                ("client_secret", secret),
            ])
            .send()
            .await
            .expect("token request");
        assert_eq!(res.status(), 200);
        let body: Value = res.json().await.expect("token json");
        body["access_token"].as_str().expect("token").to_string()
    }

    /// Sets the manual clock; answers how many deadline actions the job took.
    pub async fn set_clock(&self, to: &str) -> u64 {
        let answer = self
            .post("/v1/admin/clock", &self.admin, json!({"set": to}))
            .await
            .expect(200);
        answer["deadline_actions"]
            .as_u64()
            .expect("deadline_actions")
    }

    /// The kinds of a complaint's case-file events, in order.
    pub async fn event_kinds(&self, case: &str, token: &str) -> Vec<String> {
        let page = self
            .get(&format!("/v1/complaints/{case}/events?limit=200"), token)
            .await
            .expect(200);
        page["items"]
            .as_array()
            .expect("items")
            .iter()
            .map(|e| e["kind"].as_str().expect("kind").to_string())
            .collect()
    }

    pub async fn advance(&self, seconds: i64) {
        self.post(
            "/v1/admin/clock",
            &self.admin,
            json!({"advance_seconds": seconds}),
        )
        .await
        .expect(200);
    }
}

/// Stations, handlers, partners and staff most tests share.
pub struct World {
    pub merchant_code: String,
    pub other_merchant_code: String,
    pub covered_code: String,
    pub unenrolled_code: String,
    pub merchant_id: String,
    pub merchant: String,
    pub other_merchant: String,
    pub rights_station_id: String,
    pub rights_station: String,
    pub partner: String,
    pub other_partner: String,
    pub dc_staff: String,
    pub dc_staff_2: String,
    pub yl_staff: String,
    pub root_staff: String,
}

pub async fn world(app: &TestApp) -> World {
    let a = &app.admin;
    for (code, name, parent) in [
        ("QJ", "潜江市12315指挥中心", None),
        ("QJ-DC", "东城市场监管所", Some("QJ")),
        ("QJ-YL", "园林市场监管所", Some("QJ")),
    ] {
        app.post(
            "/v1/stations",
            a,
            json!({"code": code, "name": name, "parent_code": parent}),
        )
        .await
        .expect(201);
    }
    let merchant_code = credit_code("91429005MA4900001").expect("code");
    let other_merchant_code = credit_code("91429005MA4900002").expect("code");
    let covered_code = credit_code("92429005MA4900003").expect("code");
    let unenrolled_code = credit_code("91429005MA4900004").expect("code");
    let enroll = |body: Value| async move {
        let h = app.post("/v1/handlers", &app.admin, body).await.expect(201);
        let token = app
            .client_token(
                h["client_id"].as_str().unwrap(),
                h["client_secret"].as_str().unwrap(),
            )
            .await;
        (h["id"].as_str().unwrap().to_string(), token)
    };
    let (merchant_id, merchant) = enroll(json!({"kind": "merchant", "name": "家具公司", "credit_code": merchant_code, "station_code": "QJ-DC", "delivery": "pull"})).await;
    let (_, other_merchant) = enroll(json!({"kind": "merchant", "name": "商场", "credit_code": other_merchant_code, "station_code": "QJ-YL", "delivery": "pull"})).await;
    let (rights_station_id, rights_station) = enroll(json!({"kind": "rights_station", "name": "维权服务站", "station_code": "QJ-DC", "delivery": "pull", "covers": [covered_code]})).await;
    let partner_token = |name: &'static str| async move {
        let p = app
            .post(
                "/v1/partners",
                &app.admin,
                json!({"name": name, "rate_per_second": 10000, "burst": 100000}),
            )
            .await
            .expect(201);
        app.client_token(
            p["client_id"].as_str().unwrap(),
            p["client_secret"].as_str().unwrap(),
        )
        .await
    };
    let partner = partner_token("12315").await;
    let other_partner = partner_token("12345").await;
    let staff = |username: &'static str, station: &'static str| async move {
        app.post(
            "/v1/staff",
            &app.admin,
            json!({"username": username, "password": "staff-password-1", "station_code": station}),
        )
        .await
        .expect(201);
        app.login(username, "staff-password-1").await
    };
    World {
        merchant_code,
        other_merchant_code,
        covered_code,
        unenrolled_code,
        merchant_id,
        merchant,
        other_merchant,
        rights_station_id,
        rights_station,
        partner,
        other_partner,
        dc_staff: staff("dc1", "QJ-DC").await,
        dc_staff_2: staff("dc2", "QJ-DC").await,
        yl_staff: staff("yl1", "QJ-YL").await,
        root_staff: staff("qj1", "QJ").await,
    }
}

/// The SPEC §13 intake for `credit_code`, with a fresh external_ref.
pub fn intake(credit_code: &str) -> Value {
    json!({
        "external_ref": format!("12315-2026-{}", uuid::Uuid::new_v4().simple()),
        "channel": "12315_web",
        "consumer": {"name": "孙先生", "phone": "13800138000"},
        "merchant": {"credit_code": credit_code, "name": "某家具定制有限公司"},
        "category": "goods",
        "problem": "quality",
        "description": "定制柜门存在质量问题，安装时损坏榻榻米垫子",
        "demand": "更换柜门并赔偿",
        "amount_cents": 350000,
        "occurred_at": "2026-01-17T10:00:00+08:00",
        "dispatched_at": "2026-01-17T11:44:00+08:00",
        "station_code": "QJ-DC",
        "consents": {"odr": true, "publish": false, "mediation": true}
    })
}

/// The claims of an access token the gateway issued (read, not verified).
pub fn claims_of(token: &str) -> Value {
    use base64::Engine;
    let part = token.split('.').nth(1).expect("a JWT");
    let json = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(part)
        .expect("base64url claims");
    serde_json::from_slice(&json).expect("JSON claims")
}

pub fn id(v: &Value) -> String {
    v["id"].as_str().expect("id").to_string()
}

/// `n` complaints of `w.partner` for the pull merchant, as intake answered them.
pub async fn submitted(app: &TestApp, w: &World, n: usize) -> Vec<Value> {
    let mut cases = Vec::with_capacity(n);
    for _ in 0..n {
        let case = app
            .post("/v1/complaints", &w.partner, intake(&w.merchant_code))
            .await
            .expect(201);
        cases.push(case);
    }
    cases
}

/// A complaint of `w.partner` for the pull merchant, delivered by its first read.
pub async fn delivered(app: &TestApp, w: &World) -> String {
    let case = app
        .post("/v1/complaints", &w.partner, intake(&w.merchant_code))
        .await
        .expect(201);
    let read = app
        .get(&format!("/v1/inbox/{}", id(&case)), &w.merchant)
        .await
        .expect(200);
    assert_eq!(read["status"], "delivered");
    id(&case)
}

/// [`delivered`], then acknowledged by the merchant.
pub async fn acknowledged(app: &TestApp, w: &World) -> String {
    let case = delivered(app, w).await;
    app.post(
        &format!("/v1/inbox/{case}/acknowledge"),
        &w.merchant,
        json!({}),
    )
    .await
    .expect(200);
    case
}

/// The cases the access tests work on: an acknowledged case at the merchant
/// with a pending extension request (case, extension), and a not-enrolled case
/// in QJ-DC's queue.
pub async fn case_with_extension_and_queue_case(
    app: &TestApp,
    w: &World,
) -> (String, String, String) {
    let c1 = acknowledged(app, w).await;
    let ext = id(&app
        .post(
            &format!("/v1/inbox/{c1}/extension"),
            &w.merchant,
            json!({"working_days": 3, "reason": "检测"}),
        )
        .await
        .expect(201));
    let c2 = id(&app
        .post("/v1/complaints", &w.partner, intake(&w.unenrolled_code))
        .await
        .expect(201));
    (c1, ext, c2)
}

/// A station `QJ`, a merchant there that takes its complaints by webhook at
/// `webhook_url`, and a partner with a generous quota: the merchant's credit
/// code and the partner as created (its credentials shown once).
pub async fn push_merchant(app: &TestApp, webhook_url: &str) -> (String, Value) {
    app.post(
        "/v1/stations",
        &app.admin,
        json!({"code": "QJ", "name": "指挥中心"}),
    )
    .await
    .expect(201);
    let code = credit_code("91429005MA4900001").expect("code");
    app.post("/v1/handlers", &app.admin, json!({"kind": "merchant", "name": "商户", "credit_code": code, "station_code": "QJ", "delivery": "push", "webhook_url": webhook_url}))
        .await
        .expect(201);
    let partner = app
        .post(
            "/v1/partners",
            &app.admin,
            json!({"name": "12315", "rate_per_second": 10000, "burst": 10000}),
        )
        .await
        .expect(201);
    (code, partner)
}
