//! The command line as a new user meets it, run as the real binary: the admin
//! bootstrap (`admin create-* …`, `admin token`), `migrate`, `--config FILE`
//! and `serve --demo`.

mod common;

use std::collections::HashMap;
use std::path::Path;

use common::process::{self, Gateway, Spawned, free_address, wait_until_listening};
use migration::{Migrator, MigratorTrait};
use odr_gateway::domain::lifecycle::Status;
use serde_json::{Value, json};

fn sqlite_env(file: &str) -> Vec<(String, String)> {
    vec![(
        "ODR_DATABASE_URL".to_string(),
        format!("sqlite://{file}?mode=rwc"),
    )]
}

/// Runs `odr-gateway args…`, which must succeed; its stdout.
fn run(dir: &Path, env: &[(String, String)], args: &[&str]) -> String {
    let out = process::output(dir, env, args);
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8 output")
}

/// Runs `odr-gateway args…`, which must fail; its stderr.
fn refused(dir: &Path, env: &[(String, String)], args: &[&str]) -> String {
    let out = process::output(dir, env, args);
    assert!(!out.status.success(), "{args:?} succeeded");
    String::from_utf8(out.stderr).expect("utf-8 output")
}

struct Http {
    client: reqwest::Client,
    base: String,
}

impl Http {
    fn new(base: String) -> Http {
        odr_gateway::delivery::install_crypto_provider();
        Http {
            client: reqwest::Client::new(),
            base,
        }
    }

    async fn get(&self, path: &str, token: &str) -> (u16, Value) {
        let res = self
            .client
            .get(format!("{}{path}", self.base))
            .bearer_auth(token)
            .send()
            .await
            .expect("request sent");
        (
            res.status().as_u16(),
            res.json().await.unwrap_or(Value::Null),
        )
    }

    async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        let res = self
            .client
            .post(format!("{}{path}", self.base))
            .json(&body)
            .send()
            .await
            .expect("request sent");
        (
            res.status().as_u16(),
            res.json().await.unwrap_or(Value::Null),
        )
    }

    /// An access token for a client, through the client-credentials grant.
    async fn client_token(&self, client_id: &str, client_secret: &str) -> String {
        let (status, body) = self
            .post(
                "/v1/oauth/token",
                json!({"grant_type": "client_credentials", "client_id": client_id, "client_secret": client_secret}),
            )
            .await;
        assert_eq!(status, 200, "{body}");
        body["access_token"].as_str().expect("token").to_string()
    }

    /// A token for the credentials an enrolment printed.
    async fn token_for(&self, enrolled: &Value) -> String {
        let field = |name: &str| enrolled[name].as_str().expect(name).to_string();
        self.client_token(&field("client_id"), &field("client_secret"))
            .await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_admin_bootstrap_makes_a_world_the_api_serves() {
    let dir = tempfile::tempdir().unwrap();
    let (dir, env) = (dir.path(), sqlite_env("cli.db"));
    let admin = ["admin", "create-user", "--username", "admin"];
    run(
        dir,
        &env,
        &[
            &admin[..],
            &["--password", "change-me-now", "--role", "admin"],
        ]
        .concat(),
    );
    let qj = run(
        dir,
        &env,
        &[
            "admin",
            "create-station",
            "--code",
            "QJ",
            "--name",
            "潜江市12315指挥中心",
        ],
    );
    assert_eq!(serde_json::from_str::<Value>(&qj).unwrap()["code"], "QJ");
    run(
        dir,
        &env,
        &[
            "admin",
            "create-station",
            "--code",
            "QJ-DC",
            "--name",
            "东城市场监管所",
            "--parent",
            "QJ",
        ],
    );
    // Refused as the API refuses, naming the flag, and writing nothing.
    let err = refused(
        dir,
        &env,
        &[
            "admin",
            "create-station",
            "--code",
            "QJ-X",
            "--name",
            "某所",
            "--parent",
            "NOPE",
        ],
    );
    assert!(err.contains("--parent: no station has this code"), "{err}");
    let err = refused(
        dir,
        &env,
        &["admin", "create-station", "--code", "Q J", "--name", " "],
    );
    assert!(err.contains("--code:") && err.contains("--name:"), "{err}");
    let err = refused(
        dir,
        &env,
        &[
            "admin",
            "create-handler",
            "--kind",
            "rights_station",
            "--name",
            "维权站",
            "--station",
            "QJ-DC",
        ],
    );
    assert!(
        err.contains("--covers: a rights station must cover"),
        "{err}"
    );
    let err = refused(
        dir,
        &env,
        &[
            "admin",
            "create-handler",
            "--kind",
            "merchant",
            "--name",
            "某公司",
            "--credit-code",
            "91420000177570439X",
            "--station",
            "QJ-DC",
        ],
    );
    assert!(err.contains("--credit-code:"), "{err}");
    let handler: Value = serde_json::from_str(&run(
        dir,
        &env,
        &[
            "admin",
            "create-handler",
            "--kind",
            "merchant",
            "--name",
            "某家具定制有限公司",
            "--credit-code",
            "91420000177570439L",
            "--station",
            "QJ-DC",
        ],
    ))
    .unwrap();
    assert_eq!(handler["delivery"], "pull");
    assert!(
        handler["webhook_secret"]
            .as_str()
            .unwrap()
            .starts_with("whsec_")
    );
    let partner: Value = serde_json::from_str(&run(
        dir,
        &env,
        &[
            "admin",
            "create-partner",
            "--name",
            "12315平台",
            "--rate-per-second",
            "20",
            "--burst",
            "40",
        ],
    ))
    .unwrap();
    assert_eq!(partner["rate_per_second"], 20);
    let err = refused(
        dir,
        &env,
        &[
            "admin",
            "create-partner",
            "--name",
            "x",
            "--rate-per-second",
            "0",
            "--burst",
            "40",
        ],
    );
    assert!(err.contains("--rate-per-second:"), "{err}");
    run(
        dir,
        &env,
        &[
            "admin",
            "create-user",
            "--username",
            "dc-staff",
            "--password",
            "staff-password-1",
            "--role",
            "staff",
            "--station",
            "QJ-DC",
        ],
    );
    let admin_token = run(dir, &env, &["admin", "token", "--username", "admin"])
        .trim()
        .to_string();
    let staff_token = run(dir, &env, &["admin", "token", "--username", "dc-staff"])
        .trim()
        .to_string();
    let err = refused(dir, &env, &["admin", "token", "--username", "nobody"]);
    assert!(err.contains("no user is named nobody"), "{err}");

    let gateway = Gateway::serve(dir, &env);
    let http = Http::new(gateway.base());
    // The printed tokens work, each for its role.
    let (status, tree) = http.get("/v1/stations", &admin_token).await;
    assert_eq!(status, 200, "{tree}");
    let codes: Vec<&str> = tree["items"]
        .as_array()
        .map(|roots| roots.iter().filter_map(|s| s["code"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(codes, ["QJ"], "{tree}");
    assert_eq!(tree["items"][0]["children"][0]["code"], "QJ-DC", "{tree}");
    assert_eq!(http.get("/v1/queue", &staff_token).await.0, 200);
    assert_eq!(http.get("/v1/stations", &staff_token).await.0, 200);
    assert_eq!(http.get("/v1/partners", &staff_token).await.0, 403);
    // The printed credentials work too.
    let handler_token = http.token_for(&handler).await;
    assert_eq!(http.get("/v1/inbox", &handler_token).await.0, 200);
    let partner_token = http.token_for(&partner).await;
    assert_eq!(http.get("/v1/complaints", &partner_token).await.0, 200);
    // Each change is in the audit log, made by the command line.
    let (status, audit) = http.get("/v1/admin/audit?limit=200", &admin_token).await;
    assert_eq!(status, 200, "{audit}");
    let entries: Vec<(String, String)> = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["actor"]["kind"].as_str().unwrap().to_string(),
                e["action"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let by_cli = |action: &str| {
        entries
            .iter()
            .filter(|(k, a)| k == "cli" && a == action)
            .count()
    };
    assert_eq!(by_cli("station.created"), 2, "{entries:?}");
    assert_eq!(by_cli("handler.enrolled"), 1, "{entries:?}");
    assert_eq!(by_cli("partner.created"), 1, "{entries:?}");
    assert_eq!(by_cli("user.created"), 2, "{entries:?}");
    assert_eq!(entries.len(), 6, "nothing else was written: {entries:?}");
}

async fn migrate_on(database_url: &str) {
    let dir = tempfile::tempdir().unwrap();
    let env = vec![("ODR_DATABASE_URL".to_string(), database_url.to_string())];
    let db = sea_orm::Database::connect(database_url).await.unwrap();
    assert!(
        !Migrator::get_pending_migrations(&db)
            .await
            .unwrap()
            .is_empty()
    );
    let out = run(dir.path(), &env, &["migrate"]);
    assert_eq!(out.trim(), "migrations applied");
    assert!(
        Migrator::get_pending_migrations(&db)
            .await
            .unwrap()
            .is_empty()
    );
    let applied = Migrator::get_applied_migrations(&db).await.unwrap();
    assert_eq!(applied.len(), Migrator::migrations().len());
    // Again: nothing left to do, and still fine.
    assert_eq!(
        run(dir.path(), &env, &["migrate"]).trim(),
        "migrations applied"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrate_applies_the_schema_and_exits_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("migrate.db");
    migrate_on(&format!("sqlite://{}?mode=rwc", file.display())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrate_applies_the_schema_and_exits_on_postgres() {
    if let Some(url) = common::postgres_database().await {
        migrate_on(&url).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_config_file_sets_the_address_and_the_database() {
    let dir = tempfile::tempdir().unwrap();
    let listen = free_address();
    let config = dir.path().join("odr.toml");
    std::fs::write(
        &config,
        format!("listen = \"{listen}\"\ndatabase_url = \"sqlite://from-file.db?mode=rwc\"\n"),
    )
    .unwrap();
    let config = config.to_str().unwrap();
    let _gateway = Spawned::start(dir.path(), &[], &["--config", config, "serve"]);
    wait_until_listening(&listen);
    let http = Http::new(format!("http://{listen}"));
    let (status, _) = http.get("/readyz", "").await;
    assert_eq!(status, 200);
    assert!(dir.path().join("from-file.db").exists());
    assert!(!dir.path().join("odr-gateway.db").exists());
}

/// What `serve --demo` printed: the tokens and credentials under each role.
struct DemoOutput {
    clock: String,
    tokens: HashMap<String, Vec<String>>,
    /// (role, login, secret)
    credentials: Vec<(String, String, String)>,
}

fn parse_demo(lines: &[String]) -> DemoOutput {
    let mut out = DemoOutput {
        clock: String::new(),
        tokens: HashMap::new(),
        credentials: Vec::new(),
    };
    let mut role = String::new();
    for line in lines {
        if let Some(clock) = line.strip_prefix("business clock: ") {
            out.clock = clock.split_whitespace().next().unwrap_or("").to_string();
        } else if let Some(token) = line.strip_prefix("  token: ") {
            out.tokens
                .entry(role.clone())
                .or_default()
                .push(token.to_string());
        } else if line.starts_with("  POST ") {
            let words: Vec<&str> = line.split_whitespace().collect();
            // POST <path> <login-kind>: <login> <secret-kind>: <secret>
            out.credentials
                .push((role.clone(), words[3].to_string(), words[5].to_string()));
        } else if let Some(first) = line.split_whitespace().next()
            && ["admin", "staff", "handler", "partner"].contains(&first)
            && !line.starts_with(' ')
        {
            role = first.to_string();
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_demo_fills_every_status_and_prints_working_tokens() {
    let dir = tempfile::tempdir().unwrap();
    let listen = free_address();
    let env = vec![
        ("ODR_LISTEN".to_string(), listen.clone()),
        ("ODR_LOG".to_string(), "warn".to_string()),
    ];
    let mut demo = Spawned::start(dir.path(), &env, &["serve", "--demo"]);
    let lines = demo.lines_until("tokens last");
    let printed = parse_demo(&lines);
    wait_until_listening(&listen);
    let http = Http::new(format!("http://{listen}"));
    assert_eq!(printed.clock, "2026-09-29T10:00:00+08:00");
    for role in ["admin", "staff", "handler", "partner"] {
        assert!(printed.tokens.contains_key(role), "no {role} token printed");
    }
    let admin = &printed.tokens["admin"][0];

    // A complaint in every status of the lifecycle.
    let mut seen = HashMap::new();
    for status in Status::ALL {
        let (code, page) = http
            .get(&format!("/v1/complaints?status={status}&limit=200"), admin)
            .await;
        assert_eq!(code, 200, "{page}");
        let items = page["items"].as_array().cloned().unwrap_or_default();
        assert!(!items.is_empty(), "no demo complaint is {status}");
        seen.insert(status.as_str(), items);
    }
    let has = |status: &str, check: &dyn Fn(&Value) -> bool| seen[status].iter().any(check);
    assert!(has("closed", &|c| c["outcome"]["result"] == "not_accepted"));
    assert!(has("closed", &|c| c["outcome"]["result"] == "mediated"));
    assert!(has("settled", &|c| c["outcome"]["reported_by"]
        == "handler"
        && c["deadlines"]["objection_until"]["state"] == "pending"));
    assert!(has("settled", &|c| c["outcome"]["reported_by"] == "consumer"));
    // Accepted, with and without the initial-check feedback.
    assert!(has("accepted", &|c| c["deadlines"]["initial_feedback_by"]
        ["state"]
        == "met"));
    assert!(has("accepted", &|c| c["deadlines"]["initial_feedback_by"]
        ["state"]
        == "pending"));
    for reason in [
        "odr_declined",
        "not_enrolled",
        "declined",
        "negotiation_failed",
    ] {
        assert!(
            has("escalated", &|c| c["escalation_reason"] == reason),
            "{reason}"
        );
    }

    // Every printed token works for its role, and only for it.
    for token in &printed.tokens["staff"] {
        let (code, queue) = http.get("/v1/queue", token).await;
        assert_eq!(code, 200, "{queue}");
        assert!(!queue["items"].as_array().unwrap().is_empty());
        assert_eq!(http.get("/v1/inbox", token).await.0, 403);
    }
    for token in &printed.tokens["handler"] {
        assert_eq!(http.get("/v1/inbox", token).await.0, 200);
        assert_eq!(http.get("/v1/queue", token).await.0, 403);
    }
    for token in &printed.tokens["partner"] {
        let (code, mine) = http.get("/v1/complaints?limit=200", token).await;
        assert_eq!(code, 200, "{mine}");
        assert!(!mine["items"].as_array().unwrap().is_empty());
        assert_eq!(http.get("/v1/stations", token).await.0, 403);
    }
    assert_eq!(http.get("/v1/partners", admin).await.0, 200);

    // Two months of history: July's follow-ups answered, August's due, and
    // both months in the report; the console's address is printed with the
    // staff sign-ins.
    let console_line = lines
        .iter()
        .find(|l| l.starts_with("console: "))
        .expect("the console line");
    assert!(
        console_line.contains(&format!("http://{listen}/console/"))
            && console_line.contains("dc-staff / demo-staff-pass"),
        "{console_line}"
    );
    let root_staff = &printed.tokens["staff"][0];
    for (month, status) in [("2026-07", "answered"), ("2026-08", "pending")] {
        let (code, page) = http
            .get(&format!("/v1/followups?month={month}"), root_staff)
            .await;
        assert_eq!(code, 200, "{page}");
        let items = page["items"].as_array().unwrap();
        assert!(!items.is_empty(), "no follow-ups of {month}");
        assert!(items.iter().all(|f| f["status"] == status), "{page}");
        let (code, report) = http
            .get(&format!("/v1/reports/monthly?month={month}"), root_staff)
            .await;
        assert_eq!(code, 200, "{report}");
        assert!(
            report["total"]["received"].as_u64().unwrap() > 0,
            "{report}"
        );
        assert!(
            report["total"]["completed"].as_u64().unwrap() > 0,
            "{report}"
        );
    }

    // And so do the printed credentials.
    assert_eq!(printed.credentials.len(), 6, "{:?}", printed.credentials);
    for (role, login, secret) in &printed.credentials {
        let (code, body) = match role.as_str() {
            "admin" | "staff" => {
                http.post(
                    "/v1/auth/login",
                    json!({"username": login, "password": secret}),
                )
                .await
            }
            _ => {
                let body = json!({"grant_type": "client_credentials", "client_id": login, "client_secret": secret});
                http.post("/v1/oauth/token", body).await
            }
        };
        assert_eq!(code, 200, "{role} {login}: {body}");
    }
}
