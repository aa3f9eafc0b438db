//! Rate limits with their IETF header fields, tokens that stop working when
//! their owner is suspended or removed, and the admin audit log.

mod common;

use common::{Answer, TestApp, world};
use odr_gateway::config::Config;
use serde_json::{Value, json};

fn header(answer: &Answer, name: &str) -> String {
    answer
        .headers
        .get(name)
        .unwrap_or_else(|| panic!("{name} missing"))
        .to_str()
        .unwrap()
        .to_string()
}

/// A partner with a small quota and its token.
async fn partner(app: &TestApp, rate: u32, burst: u32) -> (String, String) {
    let p = app
        .post(
            "/v1/partners",
            &app.admin,
            json!({"name": "限流平台", "rate_per_second": rate, "burst": burst}),
        )
        .await
        .expect(201);
    let token = app
        .client_token(
            p["client_id"].as_str().unwrap(),
            p["client_secret"].as_str().unwrap(),
        )
        .await;
    (p["id"].as_str().unwrap().to_string(), token)
}

on_both_databases!(
    a_partner_gets_its_burst_then_429_with_headers_and_others_are_not_slowed,
    |app: TestApp| async move {
        let (id, limited) = partner(&app, 1, 3).await;
        let (_, other) = partner(&app, 1, 3).await;
        for left in [2, 1, 0] {
            let ok = app.get("/v1/complaints", &limited).await;
            assert_eq!(ok.status, 200);
            assert_eq!(header(&ok, "ratelimit-policy"), "\"partner\";q=3;w=3");
            assert!(header(&ok, "ratelimit").starts_with(&format!("\"partner\";r={left};t=")));
        }
        let refused = app.get("/v1/complaints", &limited).await;
        assert_eq!(refused.status, 429);
        assert_eq!(header(&refused, "content-type"), "application/problem+json");
        assert_eq!(
            refused.body["type"],
            "urn:odr-gateway:problem:quota-exceeded"
        );
        assert_eq!(refused.body["policy"], "partner");
        let retry: u64 = header(&refused, "retry-after").parse().unwrap();
        assert!((1..=1).contains(&retry), "{retry}");
        assert!(header(&refused, "ratelimit").starts_with("\"partner\";r=0;t="));
        assert_eq!(header(&refused, "ratelimit-policy"), "\"partner\";q=3;w=3");
        // A refused write writes nothing.
        let intake = app
            .post(
                "/v1/complaints",
                &limited,
                common::intake("91429005MA49000010"),
            )
            .await;
        assert_eq!(intake.status, 429);

        // Another partner is not held back.
        assert_eq!(app.get("/v1/complaints", &other).await.status, 200);

        // A raised quota applies at once, without a restart.
        app.call(
            reqwest::Method::PATCH,
            &format!("/v1/partners/{id}"),
            Some(&app.admin),
            Some(json!({"burst": 10})),
        )
        .await
        .expect(200);
        let again = app.get("/v1/complaints", &limited).await;
        assert_eq!(again.status, 200);
        assert_eq!(header(&again, "ratelimit-policy"), "\"partner\";q=10;w=10");
    }
);

on_both_databases!(
    the_token_endpoints_are_limited_per_client_ip,
    config = |c: &mut Config| {
        c.limits.login_rate_per_second = 1;
        c.limits.login_burst = 3;
    },
    |app: TestApp| async move {
        // The harness signed the admin in once already: two attempts are left.
        let login = json!({"username": "admin", "password": "wrong-password"});
        for _ in 0..2 {
            let answer = app
                .call(
                    reqwest::Method::POST,
                    "/v1/auth/login",
                    None,
                    Some(login.clone()),
                )
                .await;
            assert_eq!(answer.status, 401);
            assert_eq!(header(&answer, "ratelimit-policy"), "\"token\";q=3;w=3");
        }
        // The right password does not help once the address is over its limit.
        let right = json!({"username": "admin", "password": common::ADMIN_PASSWORD});
        let refused = app
            .call(reqwest::Method::POST, "/v1/auth/login", None, Some(right))
            .await;
        assert_eq!(refused.status, 429);
        assert_eq!(refused.body["policy"], "token");
        let grant = app.call(reqwest::Method::POST, "/v1/oauth/token", None, Some(json!({"grant_type": "client_credentials", "client_id": "x", "client_secret": "y"}))).await;
        assert_eq!(
            grant.status, 429,
            "both token endpoints share the address's bucket"
        );
        // Authenticated routes are not part of that bucket.
        assert_eq!(app.get("/v1/stations", &app.admin).await.status, 200);
    }
);

/// A failed sign-in, as sent through a proxy that says it came from `forwarded_for`.
async fn login_via(app: &TestApp, forwarded_for: Option<&str>) -> u16 {
    let mut req = app
        .client
        .post(format!("{}/v1/auth/login", app.base))
        .json(&json!({"username": "admin", "password": "wrong-password"}));
    if let Some(hops) = forwarded_for {
        req = req.header("x-forwarded-for", hops);
    }
    req.send().await.unwrap().status().as_u16()
}

on_both_databases!(
    a_forwarded_for_header_is_ignored_unless_the_peer_is_a_trusted_proxy,
    config = |c: &mut Config| {
        c.limits.login_rate_per_second = 1;
        c.limits.login_burst = 3;
    },
    |app: TestApp| async move {
        // The harness's own sign-in took one; each new header must not buy more.
        assert_eq!(login_via(&app, Some("203.0.113.1")).await, 401);
        assert_eq!(login_via(&app, Some("203.0.113.2")).await, 401);
        assert_eq!(login_via(&app, Some("203.0.113.3")).await, 429);
        assert_eq!(login_via(&app, None).await, 429);
    }
);

on_both_databases!(
    behind_a_trusted_proxy_each_forwarded_client_has_its_own_bucket,
    config = |c: &mut Config| {
        c.limits.login_rate_per_second = 1;
        c.limits.login_burst = 2;
        c.trusted_proxies = vec!["127.0.0.1".parse().unwrap(), "10.0.0.0/8".parse().unwrap()];
    },
    |app: TestApp| async move {
        for _ in 0..2 {
            assert_eq!(login_via(&app, Some("203.0.113.5")).await, 401);
        }
        assert_eq!(login_via(&app, Some("203.0.113.5")).await, 429);
        // A client writing its own hop to the left is still keyed by the hop
        // the proxy saw; trusted hops to the right are skipped.
        assert_eq!(
            login_via(&app, Some("198.51.100.1, 203.0.113.5")).await,
            429
        );
        assert_eq!(login_via(&app, Some("203.0.113.5, 10.0.0.7")).await, 429);
        // Another client behind the same proxy is not slowed.
        assert_eq!(login_via(&app, Some("203.0.113.6")).await, 401);
        assert_eq!(login_via(&app, Some("203.0.113.6, 10.0.0.7")).await, 401);
        assert_eq!(login_via(&app, Some("203.0.113.6")).await, 429);
        // IPv6 clients are keyed by their /64.
        for _ in 0..2 {
            assert_eq!(login_via(&app, Some("2001:db8:1:2::1")).await, 401);
        }
        assert_eq!(login_via(&app, Some("2001:db8:1:2::beef")).await, 429);
        assert_eq!(login_via(&app, Some("2001:db8:1:3::1")).await, 401);
    }
);

on_both_databases!(
    handlers_staff_and_admins_share_the_configured_client_limit,
    config = |c: &mut Config| {
        c.limits.client_rate_per_second = 1;
        c.limits.client_burst = 2;
    },
    |app: TestApp| async move {
        for _ in 0..2 {
            let ok = app.get("/v1/stations", &app.admin).await;
            assert_eq!(header(&ok, "ratelimit-policy"), "\"client\";q=2;w=2");
        }
        let refused = app.get("/v1/stations", &app.admin).await;
        assert_eq!(refused.status, 429);
        assert_eq!(refused.body["policy"], "client");
    }
);

on_both_databases!(
    a_suspended_handler_and_a_removed_partner_lose_their_tokens_at_once,
    |app: TestApp| async move {
        let w = world(&app).await;
        assert_eq!(app.get("/v1/inbox", &w.merchant).await.status, 200);
        let handler = format!("/v1/handlers/{}", w.merchant_id);
        app.call(
            reqwest::Method::PATCH,
            &handler,
            Some(&app.admin),
            Some(json!({"status": "suspended"})),
        )
        .await
        .expect(200);
        let refused = app.get("/v1/inbox", &w.merchant).await;
        assert_eq!(refused.status, 401);
        assert_eq!(refused.body["type"], "urn:odr-gateway:problem:unauthorized");
        app.call(
            reqwest::Method::PATCH,
            &handler,
            Some(&app.admin),
            Some(json!({"status": "active"})),
        )
        .await
        .expect(200);
        assert_eq!(app.get("/v1/inbox", &w.merchant).await.status, 200);

        let p = app
            .post(
                "/v1/partners",
                &app.admin,
                json!({"name": "将删除", "rate_per_second": 10, "burst": 10}),
            )
            .await
            .expect(201);
        let (client_id, secret) = (
            p["client_id"].as_str().unwrap(),
            p["client_secret"].as_str().unwrap(),
        );
        let token = app.client_token(client_id, secret).await;
        assert_eq!(app.get("/v1/complaints", &token).await.status, 200);
        let path = format!("/v1/partners/{}", p["id"].as_str().unwrap());
        let deleted = app
            .call(reqwest::Method::DELETE, &path, Some(&app.admin), None)
            .await;
        assert_eq!(deleted.status, 204);
        assert_eq!(app.get("/v1/complaints", &token).await.status, 401);
        let grant = app
            .call(reqwest::Method::POST, "/v1/oauth/token", None, Some(json!({"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret})))
            .await;
        assert_eq!(grant.status, 401);
        assert_eq!(app.get(&path, &app.admin).await.status, 404);
    }
);

on_both_databases!(
    administrative_changes_are_audited_with_the_acting_user,
    |app: TestApp| async move {
        let w = world(&app).await;
        let handler = format!("/v1/handlers/{}", w.merchant_id);
        app.call(
            reqwest::Method::PATCH,
            &handler,
            Some(&app.admin),
            Some(json!({"status": "suspended"})),
        )
        .await
        .expect(200);
        app.post(&format!("{handler}/rotate-secret"), &app.admin, json!({}))
            .await
            .expect(200);
        let (partner_id, _) = partner(&app, 5, 5).await;
        app.call(
            reqwest::Method::PATCH,
            &format!("/v1/partners/{partner_id}"),
            Some(&app.admin),
            Some(json!({"rate_per_second": 7})),
        )
        .await
        .expect(200);
        let entries: Vec<Value> = app
            .get("/v1/admin/audit?limit=200", &app.admin)
            .await
            .expect(200)["items"]
            .as_array()
            .unwrap()
            .clone();
        let actions: Vec<&str> = entries
            .iter()
            .map(|e| e["action"].as_str().unwrap())
            .collect();
        for expected in [
            "station.created",
            "handler.enrolled",
            "partner.created",
            "staff.created",
            "handler.suspended",
            "handler.secret_rotated",
            "partner.quota_changed",
        ] {
            assert!(actions.contains(&expected), "{expected} in {actions:?}");
        }
        let admin_id = app
            .get("/v1/admin/audit?limit=1", &app.admin)
            .await
            .expect(200)["items"][0]["actor"]["id"]
            .clone();
        assert!(
            entries
                .iter()
                .all(|e| e["actor"]["kind"] == "admin" && e["actor"]["id"] == admin_id)
        );
        let quota = entries
            .iter()
            .find(|e| e["action"] == "partner.quota_changed")
            .unwrap();
        assert_eq!(quota["detail"]["before"]["quota"]["rate_per_second"], 5);
        assert_eq!(quota["detail"]["after"]["quota"]["rate_per_second"], 7);
        let rotation = entries
            .iter()
            .find(|e| e["action"] == "handler.secret_rotated")
            .unwrap();
        assert!(
            !rotation.to_string().contains("whsec_"),
            "no secret in the audit log"
        );
        let about = app
            .get(
                &format!("/v1/admin/audit?target_id={}", w.merchant_id),
                &app.admin,
            )
            .await
            .expect(200);
        assert_eq!(
            about["items"].as_array().unwrap().len(),
            3,
            "enrolled, suspended, rotated"
        );
        assert_eq!(app.get("/v1/admin/audit", &w.dc_staff).await.status, 403);
    }
);

on_both_databases!(
    webhook_secrets_are_encrypted_at_rest,
    |app: TestApp| async move {
        use sea_orm::{ConnectionTrait, Database, Statement};
        app.post(
            "/v1/stations",
            &app.admin,
            json!({"code": "QJ", "name": "指挥中心"}),
        )
        .await
        .expect(201);
        let code = odr_gateway::demo::credit_code("91429005MA4900001").unwrap();
        let h = app
            .post("/v1/handlers", &app.admin, json!({"kind": "merchant", "name": "商户", "credit_code": code, "station_code": "QJ", "delivery": "push", "webhook_url": "http://127.0.0.1:9/hook"}))
            .await
            .expect(201);
        let shown = h["webhook_secret"].as_str().unwrap();
        assert!(shown.starts_with("whsec_"));
        let db = Database::connect(&app.database_url).await.unwrap();
        let backend = db.get_database_backend();
        let row = db
            .query_one_raw(Statement::from_string(
                backend,
                format!(
                    "SELECT webhook_secret FROM handlers WHERE id = '{}'",
                    h["id"].as_str().unwrap()
                ),
            ))
            .await
            .unwrap()
            .unwrap();
        let stored: String = row.try_get("", "webhook_secret").unwrap();
        assert!(stored.starts_with("v1:"), "{stored}");
        assert!(!stored.contains(&shown["whsec_".len()..]));
        let listed = app
            .get("/v1/handlers", &app.admin)
            .await
            .expect(200)
            .to_string();
        assert!(!listed.contains("whsec_") && !listed.contains(&stored));
    }
);

/// Everything the gateway logs in this test binary, for the access-log check.
fn captured_logs() -> std::sync::Arc<std::sync::Mutex<Vec<u8>>> {
    use std::sync::{Arc, Mutex, OnceLock};
    static LOGS: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    LOGS.get_or_init(|| {
        struct Sink(Arc<Mutex<Vec<u8>>>);
        impl std::io::Write for Sink {
            fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(buf);
                Ok(buf.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let logs = Arc::new(Mutex::new(Vec::new()));
        let sink = logs.clone();
        let _ = tracing_subscriber::fmt()
            .with_writer(move || Sink(sink.clone()))
            .with_ansi(false)
            .with_max_level(tracing::Level::INFO)
            .try_init();
        logs
    })
    .clone()
}

async fn server_errors(app: &TestApp) -> u64 {
    let text = app
        .client
        .get(format!("{}/metrics", app.base))
        .send()
        .await
        .unwrap();
    let text = text.text().await.unwrap();
    text.lines()
        .filter(|l| l.starts_with("odr_http_requests_total{class=\"5xx\"}"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
        .sum()
}

/// The rows of `idempotency_keys`: (key, response_status).
async fn idempotency_rows(db: &sea_orm::DatabaseConnection) -> Vec<(String, Option<i32>)> {
    use sea_orm::{ConnectionTrait, Statement};
    let rows = db
        .query_all_raw(Statement::from_string(
            db.get_database_backend(),
            "SELECT key, response_status FROM idempotency_keys",
        ))
        .await
        .unwrap();
    rows.iter()
        .map(|r| {
            (
                r.try_get("", "key").unwrap(),
                r.try_get("", "response_status").unwrap(),
            )
        })
        .collect()
}

/// An intake POST with an `Idempotency-Key`.
/// SQLite only: another connection holding the write lock makes the
/// gateway's writes wait longer than the request may take. The 503 is an
/// answer like any other (RateLimit headers, request id, metrics, access
/// log), and the idempotency key it held is free for the retry.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_that_outlives_its_timeout_answers_503_and_writes_nothing() {
    use sea_orm::{ConnectionTrait, Database, TransactionTrait};
    let logs = captured_logs();
    let app = common::spawn(common::Backend::Sqlite, |c: &mut Config| {
        c.request_timeout_seconds = 1;
    })
    .await
    .expect("sqlite app");
    let w = world(&app).await;
    let errors_before = server_errors(&app).await;
    let db = Database::connect(&app.database_url).await.unwrap();
    let lock = db.begin().await.unwrap();
    lock.execute_unprepared("UPDATE stations SET name = name")
        .await
        .unwrap();
    let body = common::intake(&w.merchant_code);
    let external_ref = body["external_ref"].as_str().unwrap().to_string();
    let answer = app.keyed_intake(&w.partner, "slow-1", &body).await;
    assert_eq!(answer.status, 503, "{}", answer.body);
    assert_eq!(
        answer.body["type"],
        "urn:odr-gateway:problem:request-timeout"
    );
    assert_eq!(header(&answer, "retry-after"), "1");
    assert_eq!(
        header(&answer, "ratelimit-policy"),
        "\"partner\";q=100000;w=10"
    );
    assert!(header(&answer, "ratelimit").starts_with("\"partner\";r="));
    let request_id = header(&answer, "x-request-id");
    lock.rollback().await.unwrap();
    assert_eq!(server_errors(&app).await, errors_before + 1);
    let logged = String::from_utf8_lossy(&logs.lock().unwrap()).into_owned();
    assert!(
        logged
            .lines()
            .any(|l| l.contains(&request_id) && l.contains("answered") && l.contains("status=503")),
        "no access log line for {request_id}"
    );
    let found = app
        .get(
            &format!("/v1/complaints?external_ref={external_ref}"),
            &w.partner,
        )
        .await
        .expect(200);
    assert!(found["items"].as_array().unwrap().is_empty(), "{found}");
    // The retry with the same key is taken in, not refused as in flight.
    let retry = app.keyed_intake(&w.partner, "slow-1", &body).await;
    assert_eq!(retry.status, 201, "{}", retry.body);
    assert!(retry.headers.get("idempotent-replayed").is_none());
    assert_eq!(
        idempotency_rows(&db).await,
        vec![("slow-1".to_string(), Some(201))],
        "no unanswered claim is left"
    );
}

/// PostgreSQL only (skipped without DATABASE_URL): the key is claimed, then
/// the complaint's insert waits on a table lock past the timeout. The 503
/// frees the key before it is sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_intake_that_times_out_after_claiming_its_key_frees_it() {
    use sea_orm::{ConnectionTrait, Database, TransactionTrait};
    let Some(app) = common::spawn(common::Backend::Postgres, |c: &mut Config| {
        c.request_timeout_seconds = 1;
    })
    .await
    else {
        return;
    };
    let w = world(&app).await;
    let db = Database::connect(&app.database_url).await.unwrap();
    let lock = db.begin().await.unwrap();
    lock.execute_unprepared("LOCK TABLE complaints IN EXCLUSIVE MODE")
        .await
        .unwrap();
    let body = common::intake(&w.merchant_code);
    let answer = app.keyed_intake(&w.partner, "slow-2", &body).await;
    assert_eq!(answer.status, 503, "{}", answer.body);
    assert!(idempotency_rows(&db).await.is_empty(), "the key was freed");
    lock.rollback().await.unwrap();
    let retry = app.keyed_intake(&w.partner, "slow-2", &body).await;
    assert_eq!(retry.status, 201, "{}", retry.body);
    assert!(retry.headers.get("idempotent-replayed").is_none());
}

/// The intake's log line names the case and the consumer's phone masked;
/// the number itself is in no log line.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_intake_log_masks_the_consumers_phone() {
    let logs = captured_logs();
    let app = common::spawn(common::Backend::Sqlite, |_| {})
        .await
        .expect("sqlite app");
    let w = world(&app).await;
    let mut body = common::intake(&w.merchant_code);
    body["consumer"]["phone"] = serde_json::json!("13912345678");
    let case = app
        .post("/v1/complaints", &w.partner, body)
        .await
        .expect(201);
    let id = case["id"].as_str().unwrap();
    let logged = String::from_utf8_lossy(&logs.lock().unwrap()).into_owned();
    let line = logged
        .lines()
        .find(|l| l.contains("complaint taken in") && l.contains(id))
        .unwrap_or_else(|| panic!("no intake log line for {id}"));
    assert!(line.contains("consumer_phone=139****5678"), "{line}");
    assert!(!logged.contains("13912345678"), "the number is logged");
}
