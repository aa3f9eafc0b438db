//! Operations endpoints, the manual clock, and openapi.yaml kept in step with
//! the routes the server mounts.

mod common;

use std::collections::BTreeSet;

use common::{TestApp, world};
use reqwest::Method;
use serde_json::json;

/// (METHOD, path) pairs that openapi.yaml documents, read from its `paths`.
fn documented() -> BTreeSet<(String, String)> {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/openapi.yaml"))
        .expect("openapi.yaml");
    let mut found = BTreeSet::new();
    let mut in_paths = false;
    let mut path = None;
    for line in text.lines() {
        if !line.starts_with(' ') && !line.trim().is_empty() {
            in_paths = line.trim_end() == "paths:";
            continue;
        }
        if !in_paths {
            continue;
        }
        if let Some(p) = line.strip_prefix("  ").filter(|l| !l.starts_with(' ')) {
            path = Some(
                p.trim_end()
                    .trim_end_matches(':')
                    .trim_matches(|c| c == '\'' || c == '"')
                    .to_string(),
            );
        } else if let (Some(m), Some(p)) = (
            line.strip_prefix("    ").filter(|l| !l.starts_with(' ')),
            &path,
        ) {
            let method = m.trim_end().trim_end_matches(':');
            if ["get", "post", "put", "patch", "delete"].contains(&method) {
                found.insert((method.to_uppercase(), p.clone()));
            }
        }
    }
    found
}

#[test]
fn openapi_documents_exactly_the_mounted_routes() {
    let mounted: BTreeSet<(String, String)> = odr_gateway::api::routes()
        .iter()
        .map(|r| (r.method.to_string(), r.path.to_string()))
        .collect();
    let documented = documented();
    let undocumented: Vec<_> = mounted.difference(&documented).collect();
    let unserved: Vec<_> = documented.difference(&mounted).collect();
    assert!(
        undocumented.is_empty(),
        "routes missing from openapi.yaml: {undocumented:?}"
    );
    assert!(
        unserved.is_empty(),
        "openapi.yaml paths the server lacks: {unserved:?}"
    );
    assert!(mounted.len() > 40);
}

on_both_databases!(
    health_readiness_and_the_spec_are_served,
    |app: TestApp| async move {
        let health = app
            .call(Method::GET, "/healthz", None, None)
            .await
            .expect(200);
        assert_eq!(health["status"], "ok");
        let ready = app
            .call(Method::GET, "/readyz", None, None)
            .await
            .expect(200);
        assert_eq!(ready["database"], "ok");
        let spec = app.call(Method::GET, "/openapi.yaml", None, None).await;
        assert_eq!(spec.status, 200);
        assert!(spec.body.as_str().unwrap().starts_with("openapi: 3.1"));
        let missing = app.call(Method::GET, "/v1/nothing-here", None, None).await;
        assert_eq!(missing.status, 404);
        assert_eq!(missing.headers["content-type"], "application/problem+json");
    }
);

on_both_databases!(
    the_manual_clock_stamps_business_time,
    |app: TestApp| async move {
        let w = world(&app).await;
        let before = app
            .post(
                "/v1/complaints",
                &w.partner,
                common::intake(&w.merchant_code),
            )
            .await
            .expect(201);
        assert_eq!(before["created_at"], "2026-03-02T09:00:00+08:00");
        let moved = app
            .post(
                "/v1/admin/clock",
                &app.admin,
                json!({"advance_seconds": 86400}),
            )
            .await
            .expect(200);
        assert_eq!(moved["now"], "2026-03-03T09:00:00+08:00");
        let case = before["id"].as_str().unwrap();
        let read = app
            .get(&format!("/v1/inbox/{case}"), &w.merchant)
            .await
            .expect(200);
        assert_eq!(read["received_at"], "2026-03-03T09:00:00+08:00");
        let set = app
            .post(
                "/v1/admin/clock",
                &app.admin,
                json!({"set": "2026-04-01T08:00:00+08:00"}),
            )
            .await
            .expect(200);
        assert_eq!(set["now"], "2026-04-01T08:00:00+08:00");
        let back = app
            .post(
                "/v1/admin/clock",
                &app.admin,
                json!({"set": "2026-01-01T00:00:00+08:00"}),
            )
            .await;
        assert_eq!(
            (back.status.as_u16(), back.fields()),
            (422, vec!["set".to_string()])
        );
        let both = app
            .post(
                "/v1/admin/clock",
                &app.admin,
                json!({"set": "2026-05-01T00:00:00+08:00", "advance_seconds": 1}),
            )
            .await;
        assert_eq!(both.status, 422);
        assert_eq!(
            app.post(
                "/v1/admin/clock",
                &w.dc_staff,
                json!({"advance_seconds": 1})
            )
            .await
            .status,
            403
        );
    }
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_clock_endpoint_is_absent_on_the_system_clock() {
    let app = common::spawn(common::Backend::Sqlite, |c| {
        c.clock = odr_gateway::config::ClockMode::System
    })
    .await
    .expect("app");
    let answer = app
        .post(
            "/v1/admin/clock",
            &app.admin,
            json!({"advance_seconds": 60}),
        )
        .await;
    assert_eq!(answer.status, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_generated_signing_key_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("gw.db").display());
    let config = || odr_gateway::config::Config {
        database_url: url.clone(),
        ..Default::default()
    };
    let first = odr_gateway::state::AppState::start(config()).await.unwrap();
    let principal = odr_gateway::auth::Principal::Partner {
        partner_id: "p".into(),
    };
    let token = first.tokens.issue(&principal).unwrap().access_token;
    drop(first);
    let second = odr_gateway::state::AppState::start(config()).await.unwrap();
    assert_eq!(second.tokens.verify(&token).unwrap(), principal);
}
