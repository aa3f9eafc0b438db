//! The tamper-evident case file: events come back with their hash chain, and
//! `odr-gateway verify` finds a row edited in the database.

mod common;

use std::process::Command;

use common::{TestApp, id, intake, world};
use sea_orm::{ConnectionTrait, Database};
use serde_json::json;

fn verify(app: &TestApp) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_odr-gateway"))
        .arg("verify")
        .env_remove("ODR_CONFIG")
        .env_remove("DATABASE_URL")
        .env("ODR_DATABASE_URL", &app.database_url)
        .env("ODR_LOG", "warn")
        .output()
        .expect("run odr-gateway verify");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

on_both_databases!(
    an_edited_event_breaks_the_chain_and_verify_names_it,
    |app: TestApp| async move {
        let w = world(&app).await;
        let case = app
            .post("/v1/complaints", &w.partner, intake(&w.merchant_code))
            .await
            .expect(201);
        let case = id(&case);
        app.get(&format!("/v1/inbox/{case}"), &w.merchant)
            .await
            .expect(200);
        app.post(
            &format!("/v1/inbox/{case}/acknowledge"),
            &w.merchant,
            json!({}),
        )
        .await
        .expect(200);
        let events = app
            .get(&format!("/v1/complaints/{case}/events"), &w.partner)
            .await
            .expect(200);
        let items = events["items"].as_array().unwrap();
        assert_eq!(
            items.len(),
            4,
            "intake, deliver, acknowledge, contact_disclosed"
        );
        assert_eq!(items[0]["prev_hash"], "");
        for pair in items.windows(2) {
            assert_eq!(pair[1]["prev_hash"], pair[0]["hash"]);
            assert_eq!(pair[1]["hash"].as_str().unwrap().len(), 64);
        }

        let (status, out) = verify(&app);
        assert_eq!(status, 0, "{out}");
        assert!(out.starts_with("ok:"), "{out}");

        // Someone with database access rewrites what the handler did.
        let db = Database::connect(&app.database_url).await.unwrap();
        db.execute_unprepared(&format!(
            "UPDATE events SET kind = 'decline' WHERE complaint_id = '{case}' AND seq = 3"
        ))
        .await
        .unwrap();
        let (status, out) = verify(&app);
        assert_eq!(status, 2, "{out}");
        assert!(out.contains(&format!("complaint {case}, event 3")), "{out}");

        // Deleting the last event is caught by the complaint's recorded head.
        db.execute_unprepared(&format!(
            "UPDATE events SET kind = 'acknowledge' WHERE complaint_id = '{case}' AND seq = 3"
        ))
        .await
        .unwrap();
        assert_eq!(verify(&app).0, 0);
        db.execute_unprepared(&format!(
            "DELETE FROM events WHERE complaint_id = '{case}' AND seq = 4"
        ))
        .await
        .unwrap();
        let (status, out) = verify(&app);
        assert_eq!(status, 2, "{out}");
        assert!(out.contains("event 4"), "{out}");
    }
);

on_both_databases!(
    cases_moved_together_change_and_chain_as_if_moved_one_by_one,
    |app: TestApp| async move {
        use odr_gateway::clock::Now;
        use odr_gateway::config::Config;
        use odr_gateway::domain::lifecycle::Action;
        use odr_gateway::store::complaints::{self, Deferred, Transition};
        use odr_gateway::store::events::Actor;
        use sea_orm::TransactionTrait;

        let w = world(&app).await;
        let cases = common::submitted(&app, &w, 3).await;
        assert!(cases.iter().all(|case| case["status"] == "routed"));
        let ids: Vec<String> = cases.iter().map(id).collect();
        let db = odr_gateway::store::connect(&app.database_url)
            .await
            .expect("connect");
        let policy = Config::default().deadline_policy().expect("policy");
        let now = Now {
            // To the microsecond, as stored, so the returned cases compare with the stored.
            at: odr_gateway::domain::case_file::stored_time(chrono::Utc::now()),
            policy: &policy,
        };
        let read = || async {
            let mut cases = Vec::new();
            for id in &ids {
                cases.push(complaints::find(&db, id).await.unwrap().expect("case"));
            }
            cases
        };
        let deliver = |cases: Vec<entity::complaint::Model>| {
            let db = &db;
            async move {
                let txn = db.begin().await.unwrap();
                let mut rows = Deferred::default();
                let system = Actor::system();
                let requests = cases
                    .iter()
                    .map(|c| {
                        Transition::new(&system, c, Action::Deliver)
                            .payload(json!({"via": "webhook", "webhook_id": c.id}))
                    })
                    .collect();
                let moved = complaints::transition_deferring(&txn, now, requests, &mut rows).await;
                if moved.is_ok() {
                    rows.write(&txn).await.unwrap();
                    txn.commit().await.unwrap();
                }
                moved
            }
        };

        // One of them moved since it was read: nothing of the batch is written.
        let stale = read().await;
        let mut first = stale[0].clone();
        first.version += 1;
        let fresh = [vec![first], stale[1..].to_vec()].concat();
        assert!(matches!(
            deliver(fresh).await,
            Err(odr_gateway::error::Error::Concurrent)
        ));
        for (before, after) in stale.iter().zip(read().await) {
            assert_eq!(
                (after.version, &after.status),
                (before.version, &before.status)
            );
        }

        // All of them as read: each is delivered, one version on, with its event.
        let moved = deliver(stale.clone()).await.expect("moved together");
        for ((before, returned), stored) in stale.iter().zip(&moved).zip(read().await) {
            assert_eq!(returned, &stored);
            assert_eq!(stored.status, "delivered");
            assert_eq!(stored.version, before.version + 1);
            assert_eq!(stored.event_count, before.event_count + 1);
            assert!(stored.received_at.is_some());
            assert_ne!(stored.deadlines, before.deadlines);
            let events = app
                .get(&format!("/v1/complaints/{}/events", stored.id), &app.admin)
                .await
                .expect(200);
            let last = events["items"].as_array().unwrap().last().unwrap().clone();
            assert_eq!(last["kind"], "deliver");
            assert_eq!(last["payload"]["webhook_id"], stored.id.as_str());
        }
        let (code, out) = verify(&app);
        assert_eq!(code, 0, "{out}");
        assert!(out.contains("every hash chain intact"), "{out}");
    }
);
