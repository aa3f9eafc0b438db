//! The case lifecycle of SPEC §4 over HTTP: each edge, on SQLite and PostgreSQL.

mod common;

use common::{TestApp, World, id, intake, world};
use serde_json::{Value, json};

async fn submit(app: &TestApp, w: &World, code: &str) -> Value {
    app.post("/v1/complaints", &w.partner, intake(code))
        .await
        .expect(201)
}

/// Intake, inbox read (delivery), acknowledge: the case the negotiation starts from.
async fn acknowledged(app: &TestApp, w: &World) -> String {
    let case = id(&submit(app, w, &w.merchant_code).await);
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
    case
}

async fn event_kinds(app: &TestApp, token: &str, case: &str) -> Vec<String> {
    let events = app
        .get(&format!("/v1/complaints/{case}/events"), token)
        .await
        .expect(200);
    events["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap().to_string())
        .collect()
}

on_both_databases!(
    intake_routes_to_the_merchant_and_a_pull_read_delivers_it,
    |app: TestApp| async move {
        let w = world(&app).await;
        let created = submit(&app, &w, &w.merchant_code).await;
        assert_eq!(created["status"], "routed");
        assert_eq!(created["handler_id"], w.merchant_id.as_str());
        assert_eq!(created["station_code"], "QJ-DC");
        assert!(created["received_at"].is_null());
        assert!(created["deadlines"].is_object() && created["created_at"].is_string());
        let case = id(&created);
        // The list is the first read: it delivers, and shows no phone before acknowledgement.
        let inbox = app.get("/v1/inbox", &w.merchant).await.expect(200);
        let item = &inbox["items"][0];
        assert_eq!(item["id"], case.as_str());
        assert_eq!(item["status"], "delivered");
        assert!(item["received_at"].is_string());
        assert!(item["consumer"]["phone"].is_null());
        assert_eq!(item["consumer"]["name"], "孙先生");
        let acked = app
            .post(
                &format!("/v1/inbox/{case}/acknowledge"),
                &w.merchant,
                json!({}),
            )
            .await
            .expect(200);
        assert_eq!(acked["status"], "acknowledged");
        assert_eq!(acked["consumer"]["phone"], "13800138000");
        let kinds = event_kinds(&app, &w.merchant, &case).await;
        assert_eq!(
            kinds,
            ["intake", "deliver", "acknowledge", "contact_disclosed"]
        );
    }
);

on_both_databases!(
    a_proposal_accepted_by_the_consumer_settles_with_its_amount,
    |app: TestApp| async move {
        let w = world(&app).await;
        let case = acknowledged(&app, &w).await;
        let contact = json!({"method": "phone", "note": "电话联系消费者，约定上门查看"});
        app.post(&format!("/v1/inbox/{case}/contacts"), &w.merchant, contact)
            .await
            .expect(201);
        let first = app
            .post(
                &format!("/v1/inbox/{case}/proposals"),
                &w.merchant,
                json!({"remedy": "repair", "amount_cents": 20000}),
            )
            .await
            .expect(201);
        let rejected = app
            .post(
                &format!("/v1/complaints/{case}/consumer-response"),
                &w.partner,
                json!({"decision": "reject", "comment": "不够"}),
            )
            .await
            .expect(200);
        assert_eq!(rejected["status"], "negotiating");
        let second = app
            .post(
                &format!("/v1/inbox/{case}/proposals"),
                &w.merchant,
                json!({"remedy": "replace", "amount_cents": 120000, "note": "更换柜门"}),
            )
            .await
            .expect(201);
        assert_ne!(first["id"], second["id"]);
        // The rejected proposal can no longer be accepted.
        let stale = app
            .post(
                &format!("/v1/complaints/{case}/consumer-response"),
                &w.partner,
                json!({"decision": "accept", "proposal_id": first["id"]}),
            )
            .await;
        assert_eq!(stale.status, 422);
        let settled = app
            .post(
                &format!("/v1/complaints/{case}/consumer-response"),
                &w.partner,
                json!({"decision": "accept", "proposal_id": second["id"]}),
            )
            .await
            .expect(200);
        assert_eq!(settled["status"], "settled");
        assert_eq!(settled["outcome"]["recovered_cents"], 120000);
        assert_eq!(settled["outcome"]["reported_by"], "consumer");
        // A consumer-accepted settlement cannot be objected to.
        let object = app
            .post(
                &format!("/v1/complaints/{case}/consumer-response"),
                &w.partner,
                json!({"decision": "object"}),
            )
            .await;
        assert_eq!(object.status, 409);
        let kinds = event_kinds(&app, &w.partner, &case).await;
        assert!(
            kinds.ends_with(
                &[
                    "contact",
                    "propose",
                    "consumer_reject",
                    "propose",
                    "consumer_accept"
                ]
                .map(String::from)
            )
        );
    }
);

on_both_databases!(
    a_handler_reported_settlement_stands_unless_the_consumer_objects,
    |app: TestApp| async move {
        let w = world(&app).await;
        let case = acknowledged(&app, &w).await;
        let settled = app
            .post(
                &format!("/v1/inbox/{case}/settle"),
                &w.merchant,
                json!({"remedy": "refund", "recovered_cents": 350000, "note": "线下退款"}),
            )
            .await
            .expect(200);
        assert_eq!(settled["status"], "settled");
        assert_eq!(settled["outcome"]["reported_by"], "handler");
        let objected = app
            .post(
                &format!("/v1/complaints/{case}/consumer-response"),
                &w.partner,
                json!({"decision": "object", "comment": "并未退款"}),
            )
            .await
            .expect(200);
        assert_eq!(objected["status"], "escalated");
        assert_eq!(objected["escalation_reason"], "consumer_rejected");
    }
);

on_both_databases!(
    decline_fail_and_consumer_escalation_reach_the_station_queue,
    |app: TestApp| async move {
        let w = world(&app).await;
        let declined = id(&submit(&app, &w, &w.merchant_code).await);
        app.get(&format!("/v1/inbox/{declined}"), &w.merchant)
            .await
            .expect(200);
        let body = app
            .post(
                &format!("/v1/inbox/{declined}/decline"),
                &w.merchant,
                json!({"reason": "非本公司商品"}),
            )
            .await
            .expect(200);
        assert_eq!(
            (body["status"].as_str(), body["escalation_reason"].as_str()),
            (Some("escalated"), Some("declined"))
        );
        let failed = acknowledged(&app, &w).await;
        let body = app
            .post(
                &format!("/v1/inbox/{failed}/fail"),
                &w.merchant,
                json!({"note": "协商不成"}),
            )
            .await
            .expect(200);
        assert_eq!(body["escalation_reason"], "negotiation_failed");
        let asked = acknowledged(&app, &w).await;
        let body = app
            .post(
                &format!("/v1/complaints/{asked}/consumer-response"),
                &w.partner,
                json!({"decision": "escalate"}),
            )
            .await
            .expect(200);
        assert_eq!(body["escalation_reason"], "consumer_requested");
        // All three are in QJ-DC's queue, and in its parent's, filterable by reason.
        let queue = app
            .get("/v1/queue?status=escalated", &w.dc_staff)
            .await
            .expect(200);
        assert_eq!(queue["items"].as_array().unwrap().len(), 3);
        let root = app
            .get("/v1/queue?reason=declined", &w.root_staff)
            .await
            .expect(200);
        assert_eq!(root["items"].as_array().unwrap().len(), 1);
        assert_eq!(root["items"][0]["id"], declined.as_str());
        // The handler keeps read access to what it handled; the phone stays hidden
        // from a handler that never acknowledged.
        let seen = app
            .get(&format!("/v1/inbox/{declined}"), &w.merchant)
            .await
            .expect(200);
        assert!(seen["consumer"]["phone"].is_null());
    }
);

on_both_databases!(
    the_station_accepts_gives_feedback_and_closes,
    |app: TestApp| async move {
        let w = world(&app).await;
        let case = id(&submit(&app, &w, &w.unenrolled_code).await);
        let q = |a: &str| format!("/v1/queue/{case}/{a}");
        let claimed = app
            .post(&q("claim"), &w.dc_staff, json!({}))
            .await
            .expect(200);
        assert_eq!(claimed["status"], "claimed");
        // Another staff member cannot decide a case someone else claimed.
        let other = app
            .post(&q("decision"), &w.dc_staff_2, json!({"accept": true}))
            .await;
        assert_eq!(other.status, 409);
        // Released and claimed again.
        app.post(&q("release"), &w.dc_staff, json!({}))
            .await
            .expect(200);
        app.post(&q("claim"), &w.dc_staff_2, json!({}))
            .await
            .expect(200);
        let accepted = app
            .post(&q("decision"), &w.dc_staff_2, json!({"accept": true}))
            .await
            .expect(200);
        assert_eq!(accepted["status"], "accepted");
        let fed = app
            .post(
                &q("feedback"),
                &w.dc_staff_2,
                json!({"kind": "initial", "note": "已联系双方"}),
            )
            .await
            .expect(200);
        assert_eq!(fed["status"], "accepted");
        let again = app
            .post(
                &q("feedback"),
                &w.dc_staff_2,
                json!({"kind": "initial", "note": "again"}),
            )
            .await;
        assert_eq!(again.status, 409);
        let closed = app
        .post(&q("close"), &w.dc_staff_2, json!({"result": "mediated", "recovered_cents": 50000, "note": "调解成功，退款五百元"}))
        .await
        .expect(200);
        assert_eq!(closed["status"], "closed");
        assert_eq!(closed["outcome"]["result"], "mediated");
        assert_eq!(closed["outcome"]["recovered_cents"], 50000);
        assert_eq!(closed["outcome"]["decision"], "accepted");
        let kinds = event_kinds(&app, &w.dc_staff, &case).await;
        assert_eq!(
            kinds,
            [
                "intake", "claim", "release", "claim", "accept", "feedback", "close"
            ]
        );
    }
);

on_both_databases!(
    not_accepting_closes_at_once_and_still_takes_initial_feedback,
    |app: TestApp| async move {
        let w = world(&app).await;
        let case = id(&submit(&app, &w, &w.unenrolled_code).await);
        let q = |a: &str| format!("/v1/queue/{case}/{a}");
        app.post(&q("claim"), &w.dc_staff, json!({}))
            .await
            .expect(200);
        let missing = app
            .post(&q("decision"), &w.dc_staff, json!({"accept": false}))
            .await;
        assert_eq!(
            (missing.status.as_u16(), missing.fields()),
            (422, vec!["grounds".to_string()])
        );
        let closed = app
            .post(
                &q("decision"),
                &w.dc_staff,
                json!({"accept": false, "grounds": "不属于市场监管职责"}),
            )
            .await
            .expect(200);
        assert_eq!(closed["status"], "closed");
        assert_eq!(closed["outcome"]["result"], "not_accepted");
        let fed = app
            .post(
                &q("feedback"),
                &w.dc_staff,
                json!({"kind": "initial", "note": "已告知消费者"}),
            )
            .await
            .expect(200);
        assert_eq!(fed["status"], "closed");
        let close = app
            .post(
                &q("close"),
                &w.dc_staff,
                json!({"result": "mediated", "note": "x"}),
            )
            .await;
        assert_eq!(close.status, 409);
        assert_eq!(close.body["allowed"], json!(["feedback", "reopen"]));
    }
);

on_both_databases!(
    routing_follows_enrolment_consent_and_station,
    |app: TestApp| async move {
        let w = world(&app).await;
        let covered = submit(&app, &w, &w.covered_code).await;
        assert_eq!(covered["handler_id"], w.rights_station_id.as_str());
        let unenrolled = submit(&app, &w, &w.unenrolled_code).await;
        assert_eq!(
            (
                unenrolled["status"].as_str(),
                unenrolled["escalation_reason"].as_str()
            ),
            (Some("escalated"), Some("not_enrolled"))
        );
        assert_eq!(unenrolled["station_code"], "QJ-DC");
        let mut no_station = intake(&w.unenrolled_code);
        no_station.as_object_mut().unwrap().remove("station_code");
        let placed = app
            .post("/v1/complaints", &w.partner, no_station)
            .await
            .expect(201);
        assert_eq!(
            placed["station_code"], "QJ",
            "the sole root station takes unplaced cases"
        );
        let mut declined = intake(&w.merchant_code);
        declined["consents"]["odr"] = json!(false);
        let body = app
            .post("/v1/complaints", &w.partner, declined)
            .await
            .expect(201);
        assert_eq!(
            (
                body["escalation_reason"].as_str(),
                body["handler_id"].as_str()
            ),
            (Some("odr_declined"), None)
        );
        let inbox = app.get("/v1/inbox", &w.merchant).await.expect(200);
        assert_eq!(
            inbox["items"].as_array().unwrap().len(),
            0,
            "never forwarded"
        );
    }
);

on_both_databases!(
    suspending_a_handler_escalates_its_open_cases_and_reroutes_new_ones,
    |app: TestApp| async move {
        let w = world(&app).await;
        let open = acknowledged(&app, &w).await;
        let patched = app
            .call(
                reqwest::Method::PATCH,
                &format!("/v1/handlers/{}", w.merchant_id),
                Some(&app.admin),
                Some(json!({"status": "suspended"})),
            )
            .await
            .expect(200);
        assert_eq!(patched["status"], "suspended");
        let case = app
            .get(&format!("/v1/complaints/{open}"), &w.partner)
            .await
            .expect(200);
        assert_eq!(
            (case["status"].as_str(), case["escalation_reason"].as_str()),
            (Some("escalated"), Some("handler_suspended"))
        );
        let new = submit(&app, &w, &w.merchant_code).await;
        assert_eq!(new["escalation_reason"], "handler_suspended");
        assert_eq!(new["station_code"], "QJ-DC");
    }
);

on_both_databases!(
    the_consumer_withdraws_and_nothing_follows,
    |app: TestApp| async move {
        let w = world(&app).await;
        let case = acknowledged(&app, &w).await;
        let body = app
            .post(
                &format!("/v1/complaints/{case}/withdraw"),
                &w.partner,
                json!({"reason": "已自行解决"}),
            )
            .await
            .expect(200);
        assert_eq!(body["status"], "withdrawn");
        let refused = app
            .post(
                &format!("/v1/inbox/{case}/proposals"),
                &w.merchant,
                json!({"remedy": "refund"}),
            )
            .await;
        assert_eq!(refused.status, 409);
        assert_eq!(refused.body["allowed"], json!([]));
        let again = app
            .post(
                &format!("/v1/complaints/{case}/withdraw"),
                &w.partner,
                json!({}),
            )
            .await;
        assert_eq!(again.status, 409);
    }
);

on_both_databases!(an_extension_is_asked_once, |app: TestApp| async move {
    let w = world(&app).await;
    let case = acknowledged(&app, &w).await;
    let too_long = app
        .post(
            &format!("/v1/inbox/{case}/extension"),
            &w.merchant,
            json!({"working_days": 8, "reason": "x"}),
        )
        .await;
    assert_eq!(
        (too_long.status.as_u16(), too_long.fields()),
        (422, vec!["working_days".to_string()])
    );
    let ext = app
        .post(
            &format!("/v1/inbox/{case}/extension"),
            &w.merchant,
            json!({"working_days": 5, "reason": "等待厂家检测报告"}),
        )
        .await
        .expect(201);
    assert_eq!(ext["status"], "pending");
    let twice = app
        .post(
            &format!("/v1/inbox/{case}/extension"),
            &w.merchant,
            json!({"working_days": 2, "reason": "again"}),
        )
        .await;
    assert_eq!(twice.status, 409);
    assert_eq!(twice.body["existing_id"], ext["id"]);
});

/// A case of `w.partner` brought over HTTP to `status` (one the partner can
/// reach: everything but `reopened`, which only a follow-up makes).
async fn case_at(app: &TestApp, w: &World, status: &str) -> String {
    let queue = |case: String, steps: &'static [(&'static str, &'static str)]| async move {
        for (action, body) in steps {
            let body: Value = serde_json::from_str(body).unwrap();
            app.post(&format!("/v1/queue/{case}/{action}"), &w.dc_staff, body)
                .await
                .expect(200);
        }
        case
    };
    let inbox = |case: String, action: &'static str, body: Value| async move {
        app.post(&format!("/v1/inbox/{case}/{action}"), &w.merchant, body)
            .await
            .expect(if action == "proposals" { 201 } else { 200 });
        case
    };
    let escalated = || async { id(&submit(app, w, &w.unenrolled_code).await) };
    let case = match status {
        "routed" => id(&submit(app, w, &w.merchant_code).await),
        "delivered" => common::delivered(app, w).await,
        "acknowledged" => acknowledged(app, w).await,
        "negotiating" => {
            let body = json!({"remedy": "refund", "amount_cents": 1000});
            inbox(acknowledged(app, w).await, "proposals", body).await
        }
        "settled" => {
            let body = json!({"remedy": "refund", "recovered_cents": 1000});
            inbox(acknowledged(app, w).await, "settle", body).await
        }
        "escalated" => id(&submit(app, w, &w.unenrolled_code).await),
        "claimed" => queue(escalated().await, &[("claim", "{}")]).await,
        "accepted" => {
            let steps = &[("claim", "{}"), ("decision", r#"{"accept": true}"#)];
            queue(escalated().await, steps).await
        }
        "closed" => {
            let steps = &[
                ("claim", "{}"),
                ("decision", r#"{"accept": true}"#),
                ("close", r#"{"result": "mediated", "note": "调解成功"}"#),
            ];
            queue(escalated().await, steps).await
        }
        "withdrawn" => {
            let case = id(&submit(app, w, &w.merchant_code).await);
            withdraw(app, w, &case).await.expect(200);
            case
        }
        other => panic!("no way to {other}"),
    };
    let now = app
        .get(&format!("/v1/complaints/{case}"), &w.partner)
        .await
        .expect(200);
    assert_eq!(now["status"], status);
    case
}

async fn withdraw(app: &TestApp, w: &World, case: &str) -> common::Answer {
    app.post(
        &format!("/v1/complaints/{case}/withdraw"),
        &w.partner,
        json!({"reason": "消费者撤回"}),
    )
    .await
}

on_both_databases!(
    the_consumer_withdraws_from_every_open_status_and_from_no_final_one,
    |app: TestApp| async move {
        let w = world(&app).await;
        for status in [
            "routed",
            "delivered",
            "acknowledged",
            "negotiating",
            "settled",
            "escalated",
            "claimed",
            "accepted",
        ] {
            let case = case_at(&app, &w, status).await;
            let answer = withdraw(&app, &w, &case).await;
            assert_eq!(answer.status, 200, "from {status}: {}", answer.body);
            assert_eq!(answer.body["status"], "withdrawn", "from {status}");
            let kinds = event_kinds(&app, &w.partner, &case).await;
            assert_eq!(kinds.last().map(String::as_str), Some("withdraw"));
        }
        for status in ["closed", "withdrawn"] {
            let case = case_at(&app, &w, status).await;
            let before = event_kinds(&app, &w.partner, &case).await;
            let answer = withdraw(&app, &w, &case).await;
            assert_eq!(answer.status, 409, "from {status}: {}", answer.body);
            assert_eq!(answer.body["current_status"], status);
            assert!(
                !answer.body["allowed"]
                    .as_array()
                    .unwrap()
                    .contains(&json!("withdraw"))
            );
            assert_eq!(event_kinds(&app, &w.partner, &case).await, before);
        }
    }
);

on_both_databases!(
    a_settlement_withdrawable_in_its_objection_window_stands_after_it,
    |app: TestApp| async move {
        let w = world(&app).await;
        // Reported by the handler on Monday 03-02: the window ends at 03-06 00:00.
        let inside = case_at(&app, &w, "settled").await;
        let standing = case_at(&app, &w, "settled").await;
        withdraw(&app, &w, &inside).await.expect(200);
        // One the consumer accepted stands at once.
        let accepted = case_at(&app, &w, "negotiating").await;
        app.post(
            &format!("/v1/complaints/{accepted}/consumer-response"),
            &w.partner,
            json!({"decision": "accept"}),
        )
        .await
        .expect(200);
        app.set_clock("2026-03-06T00:00:00+08:00").await;
        let kinds = event_kinds(&app, &w.partner, &standing).await;
        assert_eq!(kinds.last().map(String::as_str), Some("settlement_final"));
        for case in [&standing, &accepted] {
            let refused = withdraw(&app, &w, case).await;
            assert_eq!(refused.status, 409, "{}", refused.body);
            assert_eq!(refused.body["current_status"], "settled");
            assert_eq!(refused.body["allowed"], json!(["reopen"]));
            assert!(
                refused.body["detail"]
                    .as_str()
                    .unwrap()
                    .contains("settlement stands"),
                "{}",
                refused.body
            );
            let now = app
                .get(&format!("/v1/complaints/{case}"), &w.partner)
                .await
                .expect(200);
            assert_eq!(now["status"], "settled");
        }
    }
);

on_both_databases!(
    each_closing_result_keeps_its_amount_and_note_in_the_case_file,
    |app: TestApp| async move {
        let w = world(&app).await;
        for (result, recovered) in [
            ("mediated", 80000),
            ("mediation_terminated", 0),
            ("referred_for_investigation", 12000),
        ] {
            let case = case_at(&app, &w, "accepted").await;
            let note = format!("结案反馈：{result}");
            let closed = app
                .post(
                    &format!("/v1/queue/{case}/close"),
                    &w.dc_staff,
                    json!({"result": result, "recovered_cents": recovered, "note": note}),
                )
                .await
                .expect(200);
            assert_eq!(closed["status"], "closed");
            assert_eq!(closed["outcome"]["result"], result);
            assert_eq!(closed["outcome"]["recovered_cents"], recovered);
            assert_eq!(closed["outcome"]["closing_note"], note.as_str());
            let file = app
                .get(&format!("/v1/complaints/{case}/events"), &w.dc_staff)
                .await
                .expect(200);
            let events = file["items"].as_array().unwrap();
            let close = events.iter().position(|e| e["kind"] == "close").unwrap();
            let payload = &events[close]["payload"];
            assert_eq!(payload["result"], result);
            assert_eq!(payload["recovered_cents"], recovered);
            assert_eq!(payload["closing_note"], note.as_str());
            let after: Vec<&Value> = events[close + 1..].iter().collect();
            if result == "mediation_terminated" {
                assert_eq!(after.len(), 1, "{file}");
                assert_eq!(after[0]["kind"], "termination_notice");
                assert_eq!(after[0]["payload"]["notice"], note.as_str());
                assert_eq!(after[0]["actor"]["kind"], "staff");
            } else {
                assert!(after.is_empty(), "{file}");
            }
        }
    }
);
