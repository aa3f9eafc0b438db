//! Group commit of intakes: intakes written together commit together, and a
//! bad one among them (a duplicate external_ref) fails alone.

mod common;

use common::{TestApp, claims_of, id, intake, world};
use odr_gateway::clock::Now;
use odr_gateway::config::Config;
use odr_gateway::domain::deadlines::Policy;
use odr_gateway::store::complaints::{self, NewComplaint};
use odr_gateway::store::intake_writer::{self, IntakeWriter};
use sea_orm::DatabaseConnection;
use serde_json::json;

fn new_complaint(external_ref: &str, credit_code: &str) -> NewComplaint {
    NewComplaint {
        external_ref: external_ref.into(),
        channel: "12315_web".into(),
        consumer_name: "孙先生".into(),
        consumer_phone: "13800138000".into(),
        merchant_credit_code: credit_code.into(),
        merchant_name: "某家具定制有限公司".into(),
        category: "goods".into(),
        problem: "quality".into(),
        description: "柜门质量问题".into(),
        demand: "更换".into(),
        amount_cents: 1000,
        occurred_at: common::at("2026-03-02T09:00:00+08:00"),
        dispatched_at: None,
        station_code: Some("QJ-DC".into()),
        consents: json!({"odr": true, "publish": false, "mediation": true}),
        odr_consent: true,
    }
}

/// An intake writer of the test's own on `app`'s database, and the deadline
/// rules intakes are prepared with.
async fn writer_on(app: &TestApp) -> (DatabaseConnection, IntakeWriter, Policy) {
    let db = odr_gateway::store::connect(&app.database_url)
        .await
        .expect("connect");
    let writer = IntakeWriter::start(db.clone(), Default::default());
    let policy = Config::default().deadline_policy().expect("policy");
    (db, writer, policy)
}

on_both_databases!(
    a_duplicate_in_a_batch_fails_alone_and_the_rest_commit,
    |app: TestApp| async move {
        let w = world(&app).await;
        // One complaint already in, through the API.
        let first = app
            .post("/v1/complaints", &w.partner, intake(&w.merchant_code))
            .await
            .expect(201);
        let taken = first["external_ref"].as_str().unwrap().to_string();
        let partner_id = claims_of(&w.partner)["sub"].as_str().unwrap().to_string();
        let (db, writer, policy) = writer_on(&app).await;
        let now = Now {
            at: common::at("2026-03-02T10:00:00+08:00"),
            policy: &policy,
        };
        // Five intakes to write as one batch; the third repeats a taken reference.
        let refs = ["batch-1", "batch-2", taken.as_str(), "batch-4", "batch-5"];
        let prepare = |refs: Vec<String>| {
            let (db, writer, partner_id, code) = (&db, &writer, &partner_id, &w.merchant_code);
            async move {
                let mut prepared = Vec::new();
                for r in refs {
                    let new = new_complaint(&r, code);
                    let one = complaints::prepare_intake(db, writer, partner_id, new, None, now);
                    prepared.push(one.await.expect("prepared"));
                }
                prepared.into_iter().unzip::<_, _, Vec<_>, Vec<_>>()
            }
        };
        let (cases, rows) = prepare(refs.iter().map(|r| r.to_string()).collect()).await;
        let results = intake_writer::commit_together(&db, &rows, |_| false, None).await;
        let failed: Vec<usize> = (0..results.len())
            .filter(|&i| results[i].is_err())
            .collect();
        assert_eq!(failed, [2], "only the duplicate fails");
        // The others are in, each with its first case-file event.
        let listed = app
            .get("/v1/complaints?limit=200", &w.partner)
            .await
            .expect(200);
        let mut ids: Vec<String> = listed["items"].as_array().unwrap().iter().map(id).collect();
        ids.sort();
        let mut expected: Vec<String> = [0, 1, 3, 4].iter().map(|&i| cases[i].id.clone()).collect();
        expected.push(id(&first));
        expected.sort();
        assert_eq!(ids, expected);
        for i in [0, 1, 3, 4] {
            let events = app
                .get(
                    &format!("/v1/complaints/{}/events", cases[i].id),
                    &w.partner,
                )
                .await
                .expect(200);
            let kinds: Vec<&str> = events["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["kind"].as_str().unwrap())
                .collect();
            assert_eq!(kinds, ["intake"]);
        }
        // An intake whose request stopped waiting is not committed; the rest are.
        let (_, rows) = prepare(vec!["late-1".into(), "late-2".into()]).await;
        let results = intake_writer::commit_together(&db, &rows, |i| i == 1, None).await;
        assert!(results[0].is_ok() && results[1].is_err());
        for (r, expected) in [("late-1", 1), ("late-2", 0)] {
            let found = app
                .get(&format!("/v1/complaints?external_ref={r}"), &w.partner)
                .await
                .expect(200);
            assert_eq!(found["items"].as_array().unwrap().len(), expected, "{r}");
        }
        // Through the API the duplicate is answered 409 naming the first.
        let mut body = intake(&w.merchant_code);
        body["external_ref"] = json!(taken);
        let again = app.post("/v1/complaints", &w.partner, body).await;
        assert_eq!(again.status, 409);
        assert_eq!(again.body["existing_id"], first["id"]);
    }
);

async fn commits_hand_their_rows_to_the_workers_when_there_is_room(app: TestApp) {
    use entity::outbox;
    use odr_gateway::store::intake_writer::{HandOff, Written};
    use odr_gateway::store::outbox as queue;
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

    // Delivery workers do not run on this app: only the test takes the rows.
    let (code, partner) = common::push_merchant(&app, "http://127.0.0.1:9/hook").await;
    let partner_id = id(&partner);
    let (db, writer, policy) = writer_on(&app).await;
    let now = Now {
        at: common::at("2026-03-02T10:00:00+08:00"),
        policy: &policy,
    };
    let prepare = |refs: &[&str]| {
        let (db, writer, partner_id, code) = (&db, &writer, &partner_id, &code);
        let refs: Vec<String> = refs.iter().map(|r| r.to_string()).collect();
        async move {
            let mut rows = Vec::new();
            for r in refs {
                let new = NewComplaint {
                    station_code: Some("QJ".into()),
                    ..new_complaint(&r, code)
                };
                let one = complaints::prepare_intake(db, writer, partner_id, new, None, now);
                rows.push(one.await.expect("prepared").1);
            }
            rows
        }
    };
    let lease = chrono::Duration::seconds(60);
    let stored = |webhook_id: String| {
        let db = &db;
        async move {
            outbox::Entity::find()
                .filter(outbox::Column::WebhookId.eq(webhook_id))
                .one(db)
                .await
                .unwrap()
                .expect("stored row")
        }
    };

    // Room for all three forwards: leased and handed over as stored.
    let (rows, mut handed) = tokio::sync::mpsc::channel(8);
    let hand_off = HandOff { rows, lease };
    let intakes = prepare(&["hand-1", "hand-2", "hand-3"]).await;
    let before = chrono::Utc::now();
    let results = intake_writer::commit_together(&db, &intakes, |_| false, Some(&hand_off)).await;
    assert!(results.iter().all(|r| matches!(r, Ok(Written::HandedOff))));
    let mut got = Vec::new();
    while let Ok(row) = handed.try_recv() {
        got.push(row);
    }
    assert_eq!(got.len(), 3);
    for row in &got {
        assert_eq!(&stored(row.webhook_id.clone()).await, row);
        let until = row.locked_until.expect("leased");
        assert!(until >= before + lease && until <= chrono::Utc::now() + lease);
        assert_eq!(row.event_type, "complaint.forwarded");
    }
    // Leased rows are not claimed by anyone else.
    let claimed = queue::claim(&db, lease, 64).await.expect("claim");
    assert!(claimed.is_empty(), "leased rows were claimed: {claimed:?}");

    // No room for two: left unleased, for a claim.
    let (rows, mut handed) = tokio::sync::mpsc::channel(1);
    let hand_off = HandOff { rows, lease };
    let intakes = prepare(&["claim-1", "claim-2"]).await;
    let results = intake_writer::commit_together(&db, &intakes, |_| false, Some(&hand_off)).await;
    assert!(results.iter().all(|r| matches!(r, Ok(Written::ForClaim))));
    assert!(handed.try_recv().is_err());
    let claimed = queue::claim(&db, lease, 64).await.expect("claim");
    let mut refs: Vec<String> = claimed
        .iter()
        .map(|r| {
            r.payload["data"]["complaint"]["external_ref"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    refs.sort();
    assert_eq!(refs, ["claim-1", "claim-2"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hand_off_sqlite() {
    let app = common::spawn_with(common::Backend::Sqlite, |_| {}, false)
        .await
        .expect("sqlite app");
    commits_hand_their_rows_to_the_workers_when_there_is_room(app).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hand_off_postgres() {
    if let Some(app) = common::spawn_with(common::Backend::Postgres, |_| {}, false).await {
        commits_hand_their_rows_to_the_workers_when_there_is_room(app).await;
    }
}

on_both_databases!(
    routing_look_ups_made_together_each_find_their_own_handlers,
    |app: TestApp| async move {
        use odr_gateway::store::routing_reader::RoutingReader;

        let w = world(&app).await;
        let db = odr_gateway::store::connect(&app.database_url)
            .await
            .expect("connect");
        let reader = RoutingReader::start(db);
        let ids = |found: &(Vec<_>, Vec<entity::handler::Model>)| {
            let mut ids: Vec<String> = found.1.iter().map(|h| h.id.clone()).collect();
            ids.sort();
            ids
        };
        let sorted = |mut v: Vec<String>| {
            v.sort();
            v
        };
        // Asked at once, so they share reads; each gets its merchant and the
        // rights stations, never another merchant.
        let codes = [
            &w.merchant_code,
            &w.other_merchant_code,
            &w.covered_code,
            &w.unenrolled_code,
        ];
        let asks = codes.iter().cycle().take(40).map(|c| reader.candidates(c));
        let answers = futures_util::future::join_all(asks).await;
        for (code, found) in codes.iter().cycle().zip(&answers) {
            let found = found.as_ref().expect("looked up");
            let merchants: Vec<&entity::handler::Model> =
                found.1.iter().filter(|h| h.kind == "merchant").collect();
            assert!(
                merchants
                    .iter()
                    .all(|h| h.credit_code.as_ref() == Some(*code)),
                "{code} got another merchant: {merchants:?}"
            );
            assert_eq!(found.0.len(), found.1.len());
            assert!(ids(found).contains(&w.rights_station_id));
        }
        assert_eq!(
            ids(answers[0].as_ref().unwrap()),
            sorted(vec![w.merchant_id.clone(), w.rights_station_id.clone()])
        );
        assert_eq!(
            ids(answers[3].as_ref().unwrap()),
            vec![w.rights_station_id.clone()]
        );

        // A merchant enrolled a moment ago is found by the next look-up.
        let enrolled = app
            .post("/v1/handlers", &app.admin, json!({"kind": "merchant", "name": "新商户", "credit_code": w.unenrolled_code, "station_code": "QJ-DC", "delivery": "pull"}))
            .await
            .expect(201);
        let found = reader
            .candidates(&w.unenrolled_code)
            .await
            .expect("looked up");
        assert_eq!(
            ids(&found),
            sorted(vec![id(&enrolled), w.rights_station_id.clone()])
        );
    }
);
