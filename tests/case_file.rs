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
