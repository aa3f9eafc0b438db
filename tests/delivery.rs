//! Forwarding over real HTTP: signed pushes, retries, exhaustion, 410, SSRF,
//! redirects, Retry-After, partner callbacks and secret rotation.

mod common;

use std::collections::HashMap;
use std::time::Duration;

use common::receiver::{Closer, Receiver, Reply, verifies};
use common::{TestApp, eventually, id, intake};
use odr_gateway::config::Config;
use odr_gateway::demo::credit_code;
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(20);

struct Push {
    receiver: Receiver,
    handler_id: String,
    handler: String,
    webhook_secret: String,
    partner: String,
    code: String,
}

/// A station, a push merchant pointing at a fresh receiver, and a partner.
async fn push_world(app: &TestApp, partner_callback: Option<&str>) -> (Push, Value) {
    let a = &app.admin;
    app.post("/v1/stations", a, json!({"code": "QJ", "name": "指挥中心"}))
        .await
        .expect(201);
    let receiver = Receiver::start();
    let code = credit_code("91429005MA4900001").unwrap();
    let h = app
        .post("/v1/handlers", a, json!({"kind": "merchant", "name": "商户", "credit_code": code, "station_code": "QJ", "delivery": "push", "webhook_url": receiver.url}))
        .await
        .expect(201);
    let handler = app
        .client_token(
            h["client_id"].as_str().unwrap(),
            h["client_secret"].as_str().unwrap(),
        )
        .await;
    let p = app
        .post("/v1/partners", a, json!({"name": "12315", "rate_per_second": 10000, "burst": 100000, "callback_url": partner_callback}))
        .await
        .expect(201);
    let partner = app
        .client_token(
            p["client_id"].as_str().unwrap(),
            p["client_secret"].as_str().unwrap(),
        )
        .await;
    let push = Push {
        receiver,
        handler_id: id(&h),
        handler,
        webhook_secret: h["webhook_secret"].as_str().unwrap().to_string(),
        partner,
        code,
    };
    (push, p)
}

/// Takes in one complaint for `w`'s merchant; its id.
async fn submit(app: &TestApp, w: &Push) -> String {
    id(&app
        .post("/v1/complaints", &w.partner, submission(&w.code))
        .await
        .expect(201))
}

/// The delivery attempts made for a complaint, as an admin lists them.
async fn attempts_of(app: &TestApp, case: &str) -> Value {
    app.get(
        &format!("/v1/deliveries/attempts?complaint_id={case}"),
        &app.admin,
    )
    .await
    .expect(200)
}

/// An admin's PATCH of `w`'s handler.
async fn change_handler(app: &TestApp, w: &Push, change: Value) -> common::Answer {
    app.call(
        reqwest::Method::PATCH,
        &format!("/v1/handlers/{}", w.handler_id),
        Some(&app.admin),
        Some(change),
    )
    .await
}

fn submission(code: &str) -> Value {
    let mut body = intake(code);
    body["station_code"] = json!("QJ");
    body
}

async fn status_of(app: &TestApp, partner: &str, case: &str) -> Value {
    app.get(&format!("/v1/complaints/{case}"), partner)
        .await
        .expect(200)
}

async fn until_status(app: &TestApp, partner: &str, case: &str, status: &'static str) -> Value {
    eventually(WAIT, || async move {
        let c = status_of(app, partner, case).await;
        (c["status"] == status).then_some(c)
    })
    .await
}

/// Two failures in a row pause an endpoint for an hour.
fn quick_breaker(c: &mut Config) {
    c.delivery.retry_schedule = vec![0, 0, 0, 0, 0, 0];
    c.delivery.breaker_failures = 2;
    c.delivery.breaker_pause_seconds = 3600;
}

/// Waits for `w`'s endpoint to be paused (breaker open); its state.
async fn until_paused(app: &TestApp, w: &Push) -> Value {
    let endpoint = format!("/v1/handlers/{}/endpoint", w.handler_id);
    eventually(WAIT, || async {
        let e = app.get(&endpoint, &app.admin).await.expect(200);
        (e["state"] == "open").then_some(e)
    })
    .await
}

fn fast_retries(c: &mut Config) {
    c.delivery.retry_schedule = vec![0, 0, 0];
    c.delivery.breaker_failures = 100;
}

on_both_databases!(
    a_committed_intake_wakes_a_worker_before_its_next_poll,
    config = |c: &mut Config| {
        c.delivery.workers = 1;
        c.delivery.poll_interval_ms = 60_000;
    },
    |app: TestApp| async move {
        let (w, _) = push_world(&app, None).await;
        for n in 1..=2 {
            let case = submit(&app, &w).await;
            // Once the first has arrived the one worker has polled and waits
            // a minute: only the second intake's commit can bring it out.
            let got = w.receiver.wait_for(n, WAIT).await;
            assert_eq!(got[n - 1].json()["data"]["complaint"]["id"], case.as_str());
        }
    }
);

on_both_databases!(
    a_forward_is_signed_and_its_2xx_delivers_the_case,
    |app: TestApp| async move {
        let (w, _) = push_world(&app, None).await;
        let case = submit(&app, &w).await;
        let got = w.receiver.wait_for(1, WAIT).await;
        let hook = &got[0];
        assert!(
            verifies(&w.webhook_secret, hook),
            "signature must verify: {:?}",
            hook.headers
        );
        assert!(hook.headers["webhook-id"].starts_with("msg_"));
        let ts: i64 = hook.headers["webhook-timestamp"].parse().unwrap();
        assert!(
            (chrono::Utc::now().timestamp() - ts).abs() < 60,
            "real time, not the manual clock"
        );
        let body = hook.json();
        assert_eq!(body["type"], "complaint.forwarded");
        assert_eq!(body["data"]["complaint"]["id"], case.as_str());
        assert!(body["data"]["complaint"]["consumer"]["phone"].is_null());
        assert_eq!(
            body["timestamp"], "2026-03-02T09:00:00+08:00",
            "business time"
        );
        let delivered = until_status(&app, &w.partner, &case, "delivered").await;
        assert_eq!(delivered["received_at"], "2026-03-02T09:00:00+08:00");
        // Later events follow, in order.
        app.post(
            &format!("/v1/inbox/{case}/acknowledge"),
            &w.handler,
            json!({}),
        )
        .await
        .expect(200);
        app.post(
            &format!("/v1/complaints/{case}/consumer-response"),
            &w.partner,
            json!({"decision": "escalate"}),
        )
        .await
        .expect(200);
        let got = w.receiver.wait_for(3, WAIT).await;
        let types: Vec<Value> = got.iter().map(|r| r.json()["type"].clone()).collect();
        assert_eq!(
            types,
            [
                json!("complaint.forwarded"),
                json!("complaint.consumer_responded"),
                json!("complaint.escalated")
            ]
        );
        assert_eq!(
            got[2].json()["data"]["complaint"]["consumer"]["phone"],
            "13800138000"
        );
        let ids: std::collections::BTreeSet<_> = got
            .iter()
            .map(|r| r.headers["webhook-id"].clone())
            .collect();
        assert_eq!(ids.len(), 3);
    }
);

on_both_databases!(
    a_failed_attempt_is_retried_with_the_same_webhook_id,
    config = fast_retries,
    |app: TestApp| async move {
        let (w, _) = push_world(&app, None).await;
        w.receiver.script([Reply::Status(500), Reply::Status(503)]);
        let case = submit(&app, &w).await;
        let got = w.receiver.wait_for(3, WAIT).await;
        assert!(
            got.iter()
                .all(|r| r.headers["webhook-id"] == got[0].headers["webhook-id"])
        );
        assert!(got.iter().all(|r| verifies(&w.webhook_secret, r)));
        until_status(&app, &w.partner, &case, "delivered").await;
    }
);

on_both_databases!(
    exhausted_retries_escalate_the_case_as_delivery_failed,
    config = fast_retries,
    |app: TestApp| async move {
        let (w, _) = push_world(&app, None).await;
        w.receiver.answer_always(Reply::Status(500));
        let case = submit(&app, &w).await;
        let escalated = until_status(&app, &w.partner, &case, "escalated").await;
        assert_eq!(escalated["escalation_reason"], "delivery_failed");
        assert_eq!(
            w.receiver.received().len(),
            3,
            "one attempt per scheduled slot"
        );
    }
);

on_both_databases!(
    a_410_disables_the_endpoint,
    config = fast_retries,
    |app: TestApp| async move {
        let (w, _) = push_world(&app, None).await;
        w.receiver.script([Reply::Status(410)]);
        let first = submit(&app, &w).await;
        until_status(&app, &w.partner, &first, "escalated").await;
        let second = submit(&app, &w).await;
        let c = until_status(&app, &w.partner, &second, "escalated").await;
        assert_eq!(c["escalation_reason"], "delivery_failed");
        assert_eq!(
            w.receiver.received().len(),
            1,
            "a disabled endpoint is not called again"
        );
    }
);

on_both_databases!(
    internal_targets_are_refused_unless_allowed,
    config = |c: &mut Config| {
        fast_retries(c);
        c.delivery.allow_private_targets = false;
    },
    |app: TestApp| async move {
        let (w, _) = push_world(&app, None).await;
        // First the receiver's address itself, then "localhost", a name the
        // guard judges by what it resolves to.
        let by_name = w.receiver.url.replace("127.0.0.1", "localhost");
        for (target, url) in [("127.0.0.1", &w.receiver.url), ("localhost", &by_name)] {
            change_handler(&app, &w, json!({ "webhook_url": url }))
                .await
                .expect(200);
            let case = submit(&app, &w).await;
            let c = until_status(&app, &w.partner, &case, "escalated").await;
            assert_eq!(c["escalation_reason"], "delivery_failed");
            let attempts = attempts_of(&app, &case).await;
            let error = attempts["items"][0]["error"].as_str().unwrap();
            assert!(
                error.contains(&format!(
                    "refused: {target} resolves to the internal address"
                )),
                "{error}"
            );
        }
        assert!(
            w.receiver.received().is_empty(),
            "nothing may reach 127.0.0.1"
        );
    }
);

on_both_databases!(
    only_the_start_of_an_answer_is_read,
    config = |c: &mut Config| {
        fast_retries(c);
        c.delivery.timeout_seconds = 10;
    },
    |app: TestApp| async move {
        let (w, _) = push_world(&app, None).await;
        // A 2xx whose body never ends: the attempt stops reading after a few
        // KiB, long before the 10 s timeout would end it.
        w.receiver.answer_always(Reply::Endless);
        let case = submit(&app, &w).await;
        until_status(&app, &w.partner, &case, "delivered").await;
        let attempts = attempts_of(&app, &case).await;
        assert_eq!(attempts["items"].as_array().unwrap().len(), 1);
        let attempt = &attempts["items"][0];
        assert_eq!(attempt["status_code"], 200);
        let latency = attempt["latency_ms"].as_i64().unwrap();
        assert!(latency < 5_000, "the body was read for {latency} ms");
    }
);

on_both_databases!(
    a_connection_closed_without_an_answer_is_a_failed_attempt,
    config = fast_retries,
    |app: TestApp| async move {
        let (w, _) = push_world(&app, None).await;
        let closer = Closer::start();
        change_handler(&app, &w, json!({ "webhook_url": closer.url }))
            .await
            .expect(200);
        let case = submit(&app, &w).await;
        let c = until_status(&app, &w.partner, &case, "escalated").await;
        assert_eq!(c["escalation_reason"], "delivery_failed");
        let attempts = attempts_of(&app, &case).await;
        let items = attempts["items"].as_array().unwrap();
        assert_eq!(items.len(), 3, "one attempt per scheduled slot");
        for attempt in items {
            assert!(attempt["status_code"].is_null(), "{attempt}");
            assert!(
                attempt["error"]
                    .as_str()
                    .unwrap()
                    .starts_with("request failed"),
                "{attempt}"
            );
        }
        assert!(closer.accepted() >= 3);
    }
);

on_both_databases!(
    a_failing_complaint_does_not_hold_back_the_handlers_others,
    config = |c: &mut Config| {
        // After one failure the next try is an hour away.
        c.delivery.retry_schedule = vec![0, 3600];
        c.delivery.breaker_failures = 100;
    },
    |app: TestApp| async move {
        let (w, _) = push_world(&app, None).await;
        w.receiver.script([Reply::Status(500)]);
        let waiting = submit(&app, &w).await;
        w.receiver.wait_for(1, WAIT).await;
        let other = submit(&app, &w).await;
        until_status(&app, &w.partner, &other, "delivered").await;
        assert_eq!(
            status_of(&app, &w.partner, &waiting).await["status"],
            "routed"
        );
    }
);

on_both_databases!(
    redirects_are_not_followed,
    config = fast_retries,
    |app: TestApp| async move {
        let (w, _) = push_world(&app, None).await;
        let elsewhere = Receiver::start();
        w.receiver
            .answer_always(Reply::Redirect(elsewhere.url.clone()));
        let case = submit(&app, &w).await;
        until_status(&app, &w.partner, &case, "escalated").await;
        assert!(elsewhere.received().is_empty());
    }
);

on_both_databases!(
    retry_after_is_honoured,
    config = fast_retries,
    |app: TestApp| async move {
        let (w, _) = push_world(&app, None).await;
        w.receiver.script([Reply::RetryAfter(429, 2)]);
        let case = submit(&app, &w).await;
        let got = w.receiver.wait_for(2, WAIT).await;
        assert!(
            got[1].at - got[0].at >= Duration::from_secs(2),
            "waited {:?}",
            got[1].at - got[0].at
        );
        until_status(&app, &w.partner, &case, "delivered").await;
    }
);

on_both_databases!(
    a_hanging_endpoint_times_out_and_is_retried,
    config = |c: &mut Config| {
        fast_retries(c);
        c.delivery.timeout_seconds = 1;
    },
    |app: TestApp| async move {
        let (w, _) = push_world(&app, None).await;
        w.receiver.script([Reply::Hang]);
        let case = submit(&app, &w).await;
        until_status(&app, &w.partner, &case, "delivered").await;
        assert_eq!(w.receiver.received().len(), 2);
    }
);

on_both_databases!(
    partners_with_a_callback_get_signed_status_changes,
    |app: TestApp| async move {
        let callback = Receiver::start();
        let (w, p) = push_world(&app, Some(&callback.url)).await;
        let secret = p["webhook_secret"]
            .as_str()
            .expect("partner webhook secret shown once")
            .to_string();
        let case = submit(&app, &w).await;
        until_status(&app, &w.partner, &case, "delivered").await;
        let got = callback.wait_for(2, WAIT).await;
        assert!(got.iter().all(|r| verifies(&secret, r)));
        let changes: Vec<(Value, Value)> = got
            .iter()
            .map(|r| {
                (
                    r.json()["data"]["previous_status"].clone(),
                    r.json()["data"]["complaint"]["status"].clone(),
                )
            })
            .collect();
        assert_eq!(
            changes,
            [
                (Value::Null, json!("routed")),
                (json!("routed"), json!("delivered"))
            ]
        );
        assert!(
            got.iter()
                .all(|r| r.json()["type"] == "complaint.status_changed")
        );
    }
);

on_both_databases!(
    a_rotated_secret_signs_beside_the_old_one_during_the_overlap,
    |app: TestApp| async move {
        let (w, _) = push_world(&app, None).await;
        let rotated = app
            .post(
                &format!("/v1/handlers/{}/rotate-secret", w.handler_id),
                &app.admin,
                json!({}),
            )
            .await
            .expect(200);
        let new_secret = rotated["webhook_secret"].as_str().unwrap();
        app.post("/v1/complaints", &w.partner, submission(&w.code))
            .await
            .expect(201);
        let got = w.receiver.wait_for(1, WAIT).await;
        assert_eq!(got[0].headers["webhook-signature"].split(' ').count(), 2);
        assert!(verifies(new_secret, &got[0]));
        assert!(verifies(&w.webhook_secret, &got[0]));
    }
);

on_both_databases!(
    admins_see_attempts_and_redeliver_a_dead_event,
    config = fast_retries,
    |app: TestApp| async move {
        let (w, _) = push_world(&app, None).await;
        w.receiver
            .script([Reply::Status(500), Reply::Status(500), Reply::Status(502)]);
        let case = submit(&app, &w).await;
        until_status(&app, &w.partner, &case, "escalated").await;
        let attempts = attempts_of(&app, &case).await;
        let codes: Vec<Value> = attempts["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["status_code"].clone())
            .collect();
        assert_eq!(codes, [json!(500), json!(500), json!(502)]);
        assert!(attempts["items"][0]["latency_ms"].is_i64());
        let by_handler = app
            .get(
                &format!("/v1/deliveries/attempts?handler_id={}", w.handler_id),
                &app.admin,
            )
            .await
            .expect(200);
        assert_eq!(by_handler["items"].as_array().unwrap().len(), 3);
        let events = app
            .get(
                &format!("/v1/deliveries?complaint_id={case}&status=dead"),
                &app.admin,
            )
            .await
            .expect(200);
        let dead = &events["items"][0];
        assert_eq!(
            (dead["type"].as_str(), dead["attempts"].as_i64()),
            (Some("complaint.forwarded"), Some(3))
        );
        let webhook_id = dead["webhook_id"].as_str().unwrap();
        app.post(
            &format!("/v1/deliveries/{webhook_id}/redeliver"),
            &app.admin,
            json!({}),
        )
        .await
        .expect(202);
        let got = w.receiver.wait_for(4, WAIT).await;
        assert_eq!(
            got[3].headers["webhook-id"], webhook_id,
            "the same event, the same id"
        );
        eventually(WAIT, || async {
            let e = app
                .get(&format!("/v1/deliveries?complaint_id={case}"), &app.admin)
                .await
                .expect(200);
            (e["items"][0]["status"] == "delivered").then_some(())
        })
        .await;
        assert_eq!(
            app.post("/v1/deliveries/msg_nope/redeliver", &app.admin, json!({}))
                .await
                .status,
            404
        );
        assert_eq!(app.get("/v1/deliveries", &w.partner).await.status, 403);
        let metrics = app.call(reqwest::Method::GET, "/metrics", None, None).await;
        let text = metrics.body.as_str().unwrap().to_string();
        assert!(
            text.contains("odr_deliveries_total{outcome=\"failed\"} 3"),
            "{text}"
        );
        assert!(
            text.contains("odr_deliveries_total{outcome=\"delivered\"} 1"),
            "{text}"
        );
        assert!(text.contains("odr_outbox_pending 0"), "{text}");
        assert!(
            text.contains("odr_outbox_oldest_pending_seconds 0"),
            "{text}"
        );
        assert!(
            text.contains("odr_http_requests_total{class=\"2xx\"}"),
            "{text}"
        );
        assert!(
            text.contains("odr_delivery_attempt_seconds_count{target_kind=\"handler\"} 4"),
            "{text}"
        );
    }
);

on_both_databases!(
    a_failing_endpoint_is_paused_until_resumed,
    config = quick_breaker,
    |app: TestApp| async move {
        let (w, _) = push_world(&app, None).await;
        w.receiver.script([Reply::Status(500), Reply::Status(500)]);
        let case = submit(&app, &w).await;
        w.receiver.wait_for(2, WAIT).await;
        let paused = until_paused(&app, &w).await;
        assert!(paused["paused_until"].is_string());
        let endpoint = format!("/v1/handlers/{}/endpoint", w.handler_id);
        let metrics = app.call(reqwest::Method::GET, "/metrics", None, None).await;
        let text = metrics.body.as_str().unwrap();
        assert!(text.contains("odr_endpoints_paused 1"), "{text}");
        // The forward waits in the outbox, counted in its depth.
        assert!(text.contains("odr_outbox_pending 1"), "{text}");
        // Paused: the case still sits routed and the receiver hears nothing more.
        assert_eq!(status_of(&app, &w.partner, &case).await["status"], "routed");
        assert_eq!(w.receiver.received().len(), 2);
        let resumed = app
            .post(&format!("{endpoint}/resume"), &app.admin, json!({}))
            .await
            .expect(200);
        assert_eq!(resumed["state"], "closed");
        // Resuming puts the waiting event back in line at once.
        until_status(&app, &w.partner, &case, "delivered").await;
    }
);

on_both_databases!(
    a_paused_endpoint_does_not_stop_the_case_clocks,
    config = quick_breaker,
    |app: TestApp| async move {
        let (w, _) = push_world(&app, None).await;
        let case = submit(&app, &w).await;
        let delivered = until_status(&app, &w.partner, &case, "delivered").await;
        let due = delivered["deadlines"]["ack_by"]["due"]
            .as_str()
            .unwrap()
            .to_string();
        // Another forward fails twice: the handler's endpoint is paused.
        w.receiver.answer_always(Reply::Status(500));
        submit(&app, &w).await;
        until_paused(&app, &w).await;
        assert!(app.set_clock(&due).await >= 1);
        let c = status_of(&app, &w.partner, &case).await;
        assert_eq!(
            (c["status"].as_str(), c["escalation_reason"].as_str()),
            (Some("escalated"), Some("ack_overdue"))
        );
    }
);

on_both_databases!(
    a_handlers_dead_events_can_be_replayed,
    config = fast_retries,
    |app: TestApp| async move {
        let (w, _) = push_world(&app, None).await;
        let case = submit(&app, &w).await;
        until_status(&app, &w.partner, &case, "delivered").await;
        app.post(
            &format!("/v1/inbox/{case}/acknowledge"),
            &w.handler,
            json!({}),
        )
        .await
        .expect(200);
        w.receiver.answer_always(Reply::Status(500));
        app.post(
            &format!("/v1/complaints/{case}/withdraw"),
            &w.partner,
            json!({}),
        )
        .await
        .expect(200);
        eventually(WAIT, || async {
            let e = app
                .get(
                    &format!("/v1/deliveries?complaint_id={case}&status=dead"),
                    &app.admin,
                )
                .await
                .expect(200);
            (e["items"].as_array().unwrap().len() == 1).then_some(())
        })
        .await;
        w.receiver.answer_always(Reply::Status(200));
        let window = json!({"from": "2000-01-01T00:00:00Z", "to": "2100-01-01T00:00:00Z"});
        let replayed = app
            .post(
                &format!("/v1/handlers/{}/replay", w.handler_id),
                &app.admin,
                window,
            )
            .await
            .expect(202);
        assert_eq!(replayed["requeued"], 1);
        let got = eventually(WAIT, || async {
            let got = w.receiver.received();
            got.iter()
                .any(|r| {
                    r.json()["type"] == "complaint.withdrawn"
                        && r.headers.contains_key("webhook-id")
                })
                .then_some(got)
        })
        .await;
        assert_eq!(got.last().unwrap().json()["type"], "complaint.withdrawn");
        let bad = app
            .post(
                &format!("/v1/handlers/{}/replay", w.handler_id),
                &app.admin,
                json!({"from": "2100-01-01T00:00:00Z", "to": "2000-01-01T00:00:00Z"}),
            )
            .await;
        assert_eq!(
            (bad.status.as_u16(), bad.fields()),
            (422, vec!["to".to_string()])
        );
    }
);

on_both_databases!(
    each_complaints_events_arrive_in_order_despite_random_failures,
    config = |c: &mut Config| {
        c.delivery.retry_schedule = vec![0; 12];
        c.delivery.breaker_failures = 1000;
    },
    |app: TestApp| async move {
        let (w, _) = push_world(&app, None).await;
        w.receiver.fail_randomly(30, 0x5eed);
        let order = [
            "complaint.forwarded",
            "complaint.consumer_responded",
            "complaint.escalated",
            "complaint.withdrawn",
        ];
        let mut cases = Vec::new();
        for _ in 0..50 {
            let case = submit(&app, &w).await;
            app.post(
                &format!("/v1/complaints/{case}/consumer-response"),
                &w.partner,
                json!({"decision": "escalate"}),
            )
            .await
            .expect(200);
            app.post(
                &format!("/v1/complaints/{case}/withdraw"),
                &w.partner,
                json!({}),
            )
            .await
            .expect(200);
            cases.push(case);
        }
        let all = eventually(Duration::from_secs(60), || async {
            let got = w.receiver.received();
            let delivered = got.iter().filter(|r| r.status == 200).count();
            (delivered >= cases.len() * order.len()).then_some(got)
        })
        .await;
        assert!(
            all.iter().any(|r| r.status == 500),
            "failures were injected"
        );
        for case in &cases {
            let mine: Vec<_> = all
                .iter()
                .filter(|r| r.json()["data"]["complaint"]["id"] == case.as_str())
                .collect();
            // Arrivals move through the events in order; each event ends with a
            // 2xx before the next one is first sent.
            let mut position = 0;
            let mut done = false;
            for r in &mine {
                let kind = order.iter().position(|t| r.json()["type"] == *t).unwrap();
                if kind != position {
                    assert!(
                        done && kind == position + 1,
                        "{case}: {} arrived out of order",
                        order[kind]
                    );
                    position = kind;
                }
                done = r.status == 200;
            }
            assert!(
                done && position == order.len() - 1,
                "{case}: not all events delivered"
            );
        }
    }
);

on_both_databases!(
    a_handlers_own_rate_caps_its_deliveries,
    |app: TestApp| async move {
        let (w, _) = push_world(&app, None).await;
        let patched = change_handler(&app, &w, json!({"delivery_rate_per_second": 2}))
            .await
            .expect(200);
        assert_eq!(patched["delivery_rate_per_second"], 2);
        for _ in 0..6 {
            app.post("/v1/complaints", &w.partner, submission(&w.code))
                .await
                .expect(201);
        }
        let got = w.receiver.wait_for(6, WAIT).await;
        let spread = got[5].at - got[0].at;
        // A burst of 2, then 2 per second: the sixth cannot arrive before 2 s.
        assert!(
            spread >= Duration::from_millis(1900),
            "six deliveries took only {spread:?}"
        );
        let bad = change_handler(&app, &w, json!({"delivery_rate_per_second": 0})).await;
        assert_eq!(
            (bad.status.as_u16(), bad.fields()),
            (422, vec!["delivery_rate_per_second".to_string()])
        );
    }
);

on_both_databases!(
    a_lease_used_up_waiting_for_the_rate_cap_is_not_sent_twice,
    config = |c: &mut Config| {
        c.delivery.lease_seconds = 5;
        c.delivery.timeout_seconds = 1;
        c.delivery.workers = 2;
    },
    |app: TestApp| async move {
        let (w, _) = push_world(&app, None).await;
        change_handler(&app, &w, json!({"delivery_rate_per_second": 1}))
            .await
            .expect(200);
        // At one a second the batch outlasts its five-second lease: the rows
        // whose lease ran out while they waited are claimed again, and each
        // event still arrives exactly once.
        let n = 8;
        for _ in 0..n {
            app.post("/v1/complaints", &w.partner, submission(&w.code))
                .await
                .expect(201);
        }
        w.receiver.wait_for(n, WAIT).await;
        let mut arrivals: HashMap<String, usize> = HashMap::new();
        for r in w.receiver.received() {
            *arrivals.entry(r.headers["webhook-id"].clone()).or_default() += 1;
        }
        assert_eq!(arrivals.len(), n);
        assert!(
            arrivals.values().all(|&times| times == 1),
            "sent more than once: {arrivals:?}"
        );
    }
);

/// Ends every connection the gateway holds to its database, as a PostgreSQL
/// restart does; answers how many there were.
async fn cut_database_connections(database_url: &str) -> i64 {
    use sea_orm::{ConnectionTrait, Database, Statement};
    let (server, name) = database_url.rsplit_once('/').unwrap();
    let admin = Database::connect(format!("{server}/postgres"))
        .await
        .unwrap();
    let row = admin
        .query_one_raw(Statement::from_string(
            admin.get_database_backend(),
            format!(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = '{name}'"
            ),
        ))
        .await
        .unwrap()
        .unwrap();
    row.try_get_by_index(0).unwrap()
}

/// The database drops every connection three times while complaints come in
/// and go out: requests caught by it are refused with a retryable 503 and,
/// sent again with their `Idempotency-Key`, accepted once (a 201, replayed
/// when the first one's commit landed after all); every complaint accepted
/// reaches the merchant and its case is delivered (an outbox row is never
/// settled without its case's move).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accepted_complaints_are_delivered_across_lost_database_connections() {
    use futures_util::StreamExt;
    let Some(app) = common::spawn(common::Backend::Postgres, |c: &mut Config| {
        fast_retries(c);
        c.delivery.timeout_seconds = 2;
        c.delivery.lease_seconds = 5;
        // A key whose request died unanswered is taken over after this.
        c.request_timeout_seconds = 2;
    })
    .await
    else {
        return;
    };
    let (w, _) = push_world(&app, None).await;
    let (answered_tx, mut answered) = tokio::sync::watch::channel(0usize);
    let intakes = futures_util::stream::iter(0..60)
        .map(|n| {
            let (app, w, tx) = (&app, &w, &answered_tx);
            async move {
                let (key, body) = (format!("cut-{n}"), submission(&w.code));
                let answer = app.keyed_intake(&w.partner, &key, &body).await;
                tx.send_modify(|n| *n += 1);
                (key, body, answer)
            }
        })
        .buffer_unordered(8)
        .collect::<Vec<_>>();
    let cuts = async {
        let mut cut = 0;
        for after in [10, 25, 40] {
            answered.wait_for(|n| *n >= after).await.unwrap();
            cut += cut_database_connections(&app.database_url).await;
        }
        cut
    };
    let (results, cut) = tokio::join!(intakes, cuts);
    assert!(cut > 0, "the gateway held connections to cut");

    let mut accepted = std::collections::HashSet::new();
    for (key, body, answer) in results {
        let answer = match answer.status.as_u16() {
            201 => answer,
            refused => {
                assert_eq!(
                    refused, 503,
                    "a lost connection is a retryable refusal: {:?}",
                    answer.body
                );
                assert_eq!(
                    answer.headers["content-type"], "application/problem+json",
                    "{:?}",
                    answer.body
                );
                assert_eq!(answer.headers["retry-after"], "1");
                // Sent again as a partner would: while the first request's key
                // is still held, 409 in-flight says to wait.
                eventually(WAIT, || async {
                    let again = app.keyed_intake(&w.partner, &key, &body).await;
                    let in_flight =
                        again.body["type"] == "urn:odr-gateway:problem:idempotency-key-in-flight";
                    (!in_flight).then_some(again)
                })
                .await
            }
        };
        assert_eq!(answer.status, 201, "{:?}", answer.body);
        accepted.insert(id(&answer.body));
    }
    assert_eq!(accepted.len(), 60);

    // Every accepted complaint reaches the merchant and is delivered.
    let arrived = eventually(WAIT, || async {
        let got = w.receiver.complaints_answered_ok();
        accepted.iter().all(|id| got.contains(id)).then_some(got)
    })
    .await;
    assert_eq!(arrived.len(), 60, "no complaint the gateway did not accept");
    for case in &accepted {
        until_status(&app, &w.partner, case, "delivered").await;
    }
}
