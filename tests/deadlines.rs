//! Deadlines over HTTP with the manual clock: warnings, overdue escalations
//! across the 2026 holidays and their make-up working days, extensions, the
//! objection window, station overdue marks and the rule sets by date.

mod common;

use std::time::Duration;

use common::receiver::Receiver;
use common::{TestApp, acknowledged, delivered, eventually, id, intake, world};
use odr_gateway::config::Config;
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(20);

fn starting(at: &'static str) -> impl FnOnce(&mut Config) {
    move |c: &mut Config| c.clock_start = Some(common::at(at))
}

async fn read(app: &TestApp, token: &str, case: &str) -> Value {
    app.get(&format!("/v1/complaints/{case}"), token)
        .await
        .expect(200)
}

fn count(kinds: &[String], kind: &str) -> usize {
    kinds.iter().filter(|k| *k == kind).count()
}

on_both_databases!(
    ack_overdue_escalates_after_one_working_day_before_national_day,
    config = starting("2026-09-29T10:00:00+08:00"),
    |app: TestApp| async move {
        let w = world(&app).await;
        let case = delivered(&app, &w).await;
        let c = read(&app, &w.partner, &case).await;
        let ack = &c["deadlines"]["ack_by"];
        assert_eq!(ack["due"], "2026-10-01T00:00:00+08:00");
        assert_eq!(ack["last_day"], "2026-09-30");
        assert_eq!(ack["state"], "pending");
        assert_eq!(ack["rule_set"], "samr-2026");
        // Ten working days run over the National Day week to 10-19.
        assert_eq!(c["deadlines"]["resolve_by"]["last_day"], "2026-10-19");

        assert_eq!(
            app.set_clock("2026-09-30T00:00:00+08:00").await,
            1,
            "the warning"
        );
        assert_eq!(app.set_clock("2026-09-30T23:59:59+08:00").await, 0);
        assert_eq!(read(&app, &w.partner, &case).await["status"], "delivered");
        assert_eq!(app.set_clock("2026-10-01T00:00:00+08:00").await, 1);
        let c = read(&app, &w.partner, &case).await;
        assert_eq!(c["status"], "escalated");
        assert_eq!(c["escalation_reason"], "ack_overdue");
        assert_eq!(c["deadlines"]["ack_by"]["state"], "missed");
        assert_eq!(c["deadlines"]["ack_by"]["ended_by"], "escalate:ack_overdue");
        // Stopped in time, but by the escalation, not by a resolution.
        assert_eq!(c["deadlines"]["resolve_by"]["state"], "met");
        assert_eq!(
            c["deadlines"]["resolve_by"]["ended_by"],
            "escalate:ack_overdue"
        );
        // The station's decision clock starts on the holiday: Oct 8, 9, 10
        // (make-up Saturday), 12, 13, 14, 15.
        assert_eq!(c["deadlines"]["decision_by"]["last_day"], "2026-10-15");
        assert_eq!(app.set_clock("2026-10-02T00:00:00+08:00").await, 0);
        let kinds = app.event_kinds(&case, &app.admin).await;
        assert_eq!(count(&kinds, "deadline_warning"), 1);
        assert_eq!(count(&kinds, "escalate_ack_overdue"), 1);
    }
);

on_both_databases!(
    resolve_overdue_runs_across_the_national_day_holiday,
    config = starting("2026-09-29T10:00:00+08:00"),
    |app: TestApp| async move {
        let w = world(&app).await;
        let case = acknowledged(&app, &w).await;
        let c = read(&app, &w.partner, &case).await;
        assert_eq!(c["deadlines"]["ack_by"]["state"], "met");
        assert_eq!(c["deadlines"]["ack_by"]["ended_by"], "acknowledge");
        assert!(c["deadlines"]["resolve_by"].get("ended_by").is_none());
        assert_eq!(app.set_clock("2026-10-08T12:00:00+08:00").await, 0);
        assert_eq!(
            app.set_clock("2026-10-19T00:00:00+08:00").await,
            1,
            "the warning"
        );
        assert_eq!(app.set_clock("2026-10-19T23:59:59+08:00").await, 0);
        assert_eq!(
            read(&app, &w.partner, &case).await["status"],
            "acknowledged"
        );
        assert_eq!(app.set_clock("2026-10-20T00:00:00+08:00").await, 1);
        let c = read(&app, &w.partner, &case).await;
        assert_eq!(c["status"], "escalated");
        assert_eq!(c["escalation_reason"], "resolve_overdue");
        assert_eq!(c["deadlines"]["resolve_by"]["state"], "missed");
        assert_eq!(
            c["deadlines"]["resolve_by"]["ended_by"],
            "escalate:resolve_overdue"
        );
    }
);

on_both_databases!(
    the_spring_festival_and_its_make_up_saturdays_count,
    config = starting("2026-02-13T15:00:00+08:00"),
    |app: TestApp| async move {
        let w = world(&app).await;
        let case = delivered(&app, &w).await;
        let c = read(&app, &w.partner, &case).await;
        // Friday's complaint must be acknowledged by the make-up Saturday.
        assert_eq!(c["deadlines"]["ack_by"]["last_day"], "2026-02-14");
        // Feb 14, then after the holiday Feb 24–27, the make-up Saturday
        // Feb 28, Mar 2–5.
        assert_eq!(c["deadlines"]["resolve_by"]["last_day"], "2026-03-05");
        assert_eq!(
            app.set_clock("2026-02-14T10:00:00+08:00").await,
            1,
            "the warning"
        );
        app.post(
            &format!("/v1/inbox/{case}/acknowledge"),
            &w.merchant,
            json!({}),
        )
        .await
        .expect(200);
        assert_eq!(
            app.set_clock("2026-03-05T23:00:00+08:00").await,
            1,
            "the warning"
        );
        assert_eq!(
            read(&app, &w.partner, &case).await["status"],
            "acknowledged"
        );
        assert_eq!(app.set_clock("2026-03-06T00:00:00+08:00").await, 1);
        let c = read(&app, &w.partner, &case).await;
        assert_eq!(c["escalation_reason"], "resolve_overdue");
    }
);

on_both_databases!(
    an_approved_extension_moves_resolve_by_and_a_rejected_one_does_not,
    |app: TestApp| async move {
        let w = world(&app).await;
        // Delivered Monday 2026-03-02: resolve_by is the end of 03-16.
        let granted = acknowledged(&app, &w).await;
        let refused = acknowledged(&app, &w).await;
        let c = read(&app, &w.partner, &granted).await;
        assert_eq!(c["deadlines"]["resolve_by"]["last_day"], "2026-03-16");

        let too_long = app
            .post(
                &format!("/v1/inbox/{granted}/extension"),
                &w.merchant,
                json!({"working_days": 8, "reason": "需要厂家检测"}),
            )
            .await;
        assert_eq!(too_long.status, 422);
        assert_eq!(too_long.fields(), ["working_days"]);
        let ask = |case: String, days: u32| {
            let app = &app;
            let token = w.merchant.clone();
            async move {
                app.post(
                    &format!("/v1/inbox/{case}/extension"),
                    &token,
                    json!({"working_days": days, "reason": "需要厂家检测"}),
                )
                .await
            }
        };
        let grant = ask(granted.clone(), 5).await.expect(201);
        assert_eq!(grant["status"], "pending");
        assert_eq!(ask(granted.clone(), 2).await.status, 409, "once per case");
        let refuse = ask(refused.clone(), 3).await.expect(201);

        let pending = app
            .get("/v1/extensions?status=pending", &w.dc_staff)
            .await
            .expect(200);
        assert_eq!(pending["items"].as_array().unwrap().len(), 2);
        let sibling = app.get("/v1/extensions", &w.yl_staff).await.expect(200);
        assert!(sibling["items"].as_array().unwrap().is_empty());
        assert_eq!(
            app.set_clock("2026-03-16T00:00:00+08:00").await,
            2,
            "both warned"
        );
        let approve = format!("/v1/extensions/{}/approve", id(&grant));
        assert_eq!(app.post(&approve, &w.yl_staff, json!({})).await.status, 404);
        assert_eq!(app.post(&approve, &w.merchant, json!({})).await.status, 403);
        assert_eq!(
            app.post(&approve, &w.dc_staff, json!({"remark": "x"}))
                .await
                .status,
            422
        );

        let decided = app
            .post(&approve, &w.dc_staff, json!({"note": "同意延期"}))
            .await
            .expect(200);
        assert_eq!(decided["extension"]["status"], "approved");
        assert_eq!(decided["extension"]["note"], "同意延期");
        let resolve = &decided["complaint"]["deadlines"]["resolve_by"];
        assert_eq!(resolve["last_day"], "2026-03-23", "five working days later");
        assert_eq!(resolve["extended_by"], 5);
        assert_eq!(app.post(&approve, &w.dc_staff, json!({})).await.status, 409);
        let rejected = app
            .post(
                &format!("/v1/extensions/{}/reject", id(&refuse)),
                &w.dc_staff,
                json!({}),
            )
            .await
            .expect(200);
        assert_eq!(rejected["extension"]["status"], "rejected");
        assert_eq!(
            rejected["complaint"]["deadlines"]["resolve_by"]["last_day"],
            "2026-03-16"
        );
        let pending = app
            .get("/v1/extensions?status=pending", &w.dc_staff)
            .await
            .expect(200);
        assert!(pending["items"].as_array().unwrap().is_empty());
        assert_eq!(
            app.get("/v1/extensions?status=maybe", &w.dc_staff)
                .await
                .status,
            422
        );

        // The handler sees the new deadline on its own case.
        let own = app
            .get(&format!("/v1/inbox/{granted}"), &w.merchant)
            .await
            .expect(200);
        assert_eq!(own["deadlines"]["resolve_by"]["last_day"], "2026-03-23");

        app.set_clock("2026-03-17T00:00:00+08:00").await;
        assert_eq!(
            read(&app, &w.partner, &granted).await["status"],
            "acknowledged"
        );
        assert_eq!(
            read(&app, &w.partner, &refused).await["escalation_reason"],
            "resolve_overdue"
        );
        assert_eq!(
            app.set_clock("2026-03-23T00:00:00+08:00").await,
            1,
            "warned again"
        );
        app.set_clock("2026-03-24T00:00:00+08:00").await;
        assert_eq!(
            read(&app, &w.partner, &granted).await["escalation_reason"],
            "resolve_overdue"
        );
        let kinds = app.event_kinds(&granted, &app.admin).await;
        assert_eq!(count(&kinds, "approve_extension"), 1);
        // Warned before the first end and again before the extended one.
        assert_eq!(count(&kinds, "deadline_warning"), 2);
    }
);

on_both_databases!(
    a_reported_settlement_can_be_objected_to_only_inside_its_window,
    |app: TestApp| async move {
        let w = world(&app).await;
        let settle = json!({"remedy": "refund", "recovered_cents": 120000});
        let objected = acknowledged(&app, &w).await;
        let standing = acknowledged(&app, &w).await;
        for case in [&objected, &standing] {
            app.post(
                &format!("/v1/inbox/{case}/settle"),
                &w.merchant,
                settle.clone(),
            )
            .await
            .expect(200);
        }
        let c = read(&app, &w.partner, &standing).await;
        // Settled Monday 03-02: three working days to object, to the end of 03-05.
        assert_eq!(
            c["deadlines"]["objection_until"]["due"],
            "2026-03-06T00:00:00+08:00"
        );
        assert_eq!(c["deadlines"]["resolve_by"]["state"], "met");
        assert_eq!(c["deadlines"]["resolve_by"]["ended_by"], "settle");

        assert_eq!(app.set_clock("2026-03-05T12:00:00+08:00").await, 0);
        let object = json!({"decision": "object", "comment": "没有收到退款"});
        let path = |case: &str| format!("/v1/complaints/{case}/consumer-response");
        let answer = app
            .post(&path(&objected), &w.partner, object.clone())
            .await
            .expect(200);
        assert_eq!(answer["status"], "escalated");
        assert_eq!(answer["escalation_reason"], "consumer_rejected");
        assert_eq!(
            answer["deadlines"]["objection_until"]["ended_by"],
            "escalate:consumer_rejected"
        );

        assert_eq!(app.set_clock("2026-03-06T00:00:00+08:00").await, 1);
        let late = app.post(&path(&standing), &w.partner, object).await;
        assert_eq!(late.status, 409);
        let c = read(&app, &w.partner, &standing).await;
        assert_eq!(c["status"], "settled");
        assert_eq!(c["deadlines"]["objection_until"]["state"], "met");
        assert_eq!(
            c["deadlines"]["objection_until"]["ended_by"],
            "settlement_final"
        );
        let kinds = app.event_kinds(&standing, &app.admin).await;
        assert_eq!(count(&kinds, "settlement_final"), 1);
    }
);

on_both_databases!(
    station_deadlines_that_run_out_are_marked_overdue_in_the_queue,
    |app: TestApp| async move {
        let w = world(&app).await;
        // Not enrolled: straight to QJ-DC's queue on Monday 03-02.
        let case = app
            .post("/v1/complaints", &w.partner, intake(&w.unenrolled_code))
            .await
            .expect(201);
        let case = id(&case);
        let item = app
            .get(&format!("/v1/queue/{case}"), &w.dc_staff)
            .await
            .expect(200);
        assert_eq!(
            item["station_deadline"],
            json!({"name": "decision_by", "due": "2026-03-12T00:00:00+08:00", "state": "pending"})
        );
        assert_eq!(item["overdue"], false);
        let overdue = || async {
            let page = app
                .get("/v1/queue?overdue=true", &w.dc_staff)
                .await
                .expect(200);
            page["items"].as_array().unwrap().clone()
        };
        assert!(overdue().await.is_empty());
        assert_eq!(
            app.get("/v1/queue?overdue=maybe", &w.dc_staff).await.status,
            422
        );

        assert_eq!(app.set_clock("2026-03-12T00:00:00+08:00").await, 1);
        let marked = overdue().await;
        assert_eq!(marked.len(), 1);
        assert_eq!(marked[0]["station_deadline"]["state"], "missed");
        assert_eq!(marked[0]["overdue"], true);
        let on_time = app
            .get("/v1/queue?overdue=false", &w.dc_staff)
            .await
            .expect(200);
        assert!(on_time["items"].as_array().unwrap().is_empty());
        assert_eq!(
            app.set_clock("2026-03-13T09:00:00+08:00").await,
            0,
            "marked once"
        );

        // Accepted late: the next station clocks start, under the 2019 rules
        // (the case reached the station before 2026-04-15).
        app.post(&format!("/v1/queue/{case}/claim"), &w.dc_staff, json!({}))
            .await
            .expect(200);
        let accepted = app
            .post(
                &format!("/v1/queue/{case}/decision"),
                &w.dc_staff,
                json!({"accept": true}),
            )
            .await
            .expect(200);
        let d = &accepted["deadlines"];
        assert_eq!(d["decision_by"]["state"], "missed");
        assert_eq!(d["decision_by"]["ended_by"], "deadline_missed");
        assert_eq!(d["initial_feedback_by"]["last_day"], "2026-03-27");
        assert_eq!(d["mediation_by"]["length"], "45 working days");
        assert_eq!(d["mediation_by"]["rule_set"], "samr-2019");
        let fed = app
            .post(
                &format!("/v1/queue/{case}/feedback"),
                &w.dc_staff,
                json!({"kind": "initial", "note": "已联系双方"}),
            )
            .await
            .expect(200);
        assert_eq!(fed["deadlines"]["initial_feedback_by"]["state"], "met");
        assert_eq!(
            fed["deadlines"]["initial_feedback_by"]["ended_by"],
            "feedback"
        );
        let kinds = app.event_kinds(&case, &app.admin).await;
        assert_eq!(count(&kinds, "deadline_missed"), 1);
    }
);

on_both_databases!(
    the_mediation_limit_follows_the_rules_in_force_when_the_case_reached_the_station,
    config = starting("2026-04-14T10:00:00+08:00"),
    |app: TestApp| async move {
        let w = world(&app).await;
        let submit = || async {
            let case = app
                .post("/v1/complaints", &w.partner, intake(&w.unenrolled_code))
                .await
                .expect(201);
            id(&case)
        };
        let before = submit().await;
        app.set_clock("2026-04-15T10:00:00+08:00").await;
        let after = submit().await;
        let mut mediation = Vec::new();
        for case in [&before, &after] {
            app.post(&format!("/v1/queue/{case}/claim"), &w.dc_staff, json!({}))
                .await
                .expect(200);
            let c = app
                .post(
                    &format!("/v1/queue/{case}/decision"),
                    &w.dc_staff,
                    json!({"accept": true}),
                )
                .await
                .expect(200);
            mediation.push(c["deadlines"]["mediation_by"].clone());
        }
        assert_eq!(mediation[0]["rule_set"], "samr-2019");
        assert_eq!(mediation[0]["length"], "45 working days");
        assert_eq!(mediation[1]["rule_set"], "samr-2026");
        assert_eq!(mediation[1]["length"], "60 calendar days");
        assert_eq!(mediation[1]["last_day"], "2026-06-14");
    }
);

on_both_databases!(
    a_push_handler_is_warned_once_per_deadline_and_told_of_extension_decisions,
    |app: TestApp| async move {
        let w = world(&app).await;
        let receiver = Receiver::start();
        app.call(
            reqwest::Method::PATCH,
            &format!("/v1/handlers/{}", w.merchant_id),
            Some(&app.admin),
            Some(json!({"delivery": "push", "webhook_url": receiver.url})),
        )
        .await
        .expect(200);
        let case = app
            .post("/v1/complaints", &w.partner, intake(&w.merchant_code))
            .await
            .expect(201);
        let case = id(&case);
        eventually(WAIT, || async {
            (read(&app, &w.partner, &case).await["status"] == "delivered").then_some(())
        })
        .await;
        // ack_by ends with 03-03: warned from its start, once however often
        // the clock moves before it.
        for to in [
            "2026-03-03T00:00:00+08:00",
            "2026-03-03T12:00:00+08:00",
            "2026-03-03T18:00:00+08:00",
        ] {
            app.set_clock(to).await;
        }
        app.post(
            &format!("/v1/inbox/{case}/acknowledge"),
            &w.merchant,
            json!({}),
        )
        .await
        .expect(200);
        app.set_clock("2026-03-16T00:00:00+08:00").await;
        app.set_clock("2026-03-16T08:00:00+08:00").await;
        let ext = app
            .post(
                &format!("/v1/inbox/{case}/extension"),
                &w.merchant,
                json!({"working_days": 2, "reason": "等待检测报告"}),
            )
            .await
            .expect(201);
        app.post(
            &format!("/v1/extensions/{}/approve", id(&ext)),
            &w.dc_staff,
            json!({}),
        )
        .await
        .expect(200);
        // In order per complaint: once the decision has arrived, every
        // warning before it has too.
        let got = receiver.wait_for(4, WAIT).await;
        let bodies: Vec<Value> = got.iter().map(|r| r.json()).collect();
        let types: Vec<&str> = bodies.iter().map(|b| b["type"].as_str().unwrap()).collect();
        assert_eq!(
            types,
            [
                "complaint.forwarded",
                "complaint.deadline_approaching",
                "complaint.deadline_approaching",
                "complaint.extension_decided"
            ]
        );
        assert_eq!(bodies[1]["data"]["deadline"]["name"], "ack_by");
        assert_eq!(
            bodies[1]["data"]["deadline"]["due"],
            "2026-03-04T00:00:00+08:00"
        );
        assert_eq!(bodies[2]["data"]["deadline"]["name"], "resolve_by");
        let decision = &bodies[3]["data"];
        assert_eq!(decision["extension"]["status"], "approved");
        assert_eq!(decision["extension"]["working_days"], 2);
        assert_eq!(
            decision["complaint"]["deadlines"]["resolve_by"]["last_day"],
            "2026-03-18"
        );
    }
);

/// Reopens a closed case as a dissatisfied follow-up will (no HTTP route for
/// follow-ups yet): through the store's one transition function.
async fn reopen(app: &TestApp, case: &str, at: &str) {
    use odr_gateway::clock::Now;
    use odr_gateway::domain::lifecycle::Action;
    use odr_gateway::store::complaints::{self, Transition};
    use odr_gateway::store::events::Actor;
    let db = sea_orm::Database::connect(&app.database_url)
        .await
        .expect("connect");
    let policy = Config::default().deadline_policy().expect("policy");
    let now = Now {
        at: common::at(at),
        policy: &policy,
    };
    let closed = complaints::find(&db, case).await.unwrap().expect("case");
    let system = Actor::system();
    let request = Transition::new(&system, &closed, Action::Reopen)
        .payload(json!({"satisfaction": "dissatisfied"}));
    let reopened = complaints::transition(&db, now, request)
        .await
        .expect("reopens");
    assert_eq!(reopened.status, "reopened");
}

on_both_databases!(
    a_reopened_case_accepted_again_keeps_its_initial_feedback_met,
    |app: TestApp| async move {
        let w = world(&app).await;
        let q = |case: &str, step: &str| format!("/v1/queue/{case}/{step}");
        let submit = || async {
            let case = app
                .post("/v1/complaints", &w.partner, intake(&w.unenrolled_code))
                .await
                .expect(201);
            id(&case)
        };
        let feedback = json!({"kind": "initial", "note": "已联系双方"});
        // One case accepted, given feedback and closed; one not accepted and
        // given feedback. Both come back and are accepted.
        let mediated = submit().await;
        let refused = submit().await;
        for (case, accept) in [(&mediated, true), (&refused, false)] {
            app.post(&q(case, "claim"), &w.dc_staff, json!({}))
                .await
                .expect(200);
            let decision = json!({"accept": accept, "grounds": "不属于受理范围"});
            app.post(&q(case, "decision"), &w.dc_staff, decision)
                .await
                .expect(200);
            app.post(&q(case, "feedback"), &w.dc_staff, feedback.clone())
                .await
                .expect(200);
        }
        app.post(
            &q(&mediated, "close"),
            &w.dc_staff,
            json!({"result": "mediated", "note": "调解成功"}),
        )
        .await
        .expect(200);
        app.set_clock("2026-03-03T09:00:00+08:00").await;
        for case in [&mediated, &refused] {
            reopen(&app, case, "2026-03-03T09:00:00+08:00").await;
            app.post(&q(case, "claim"), &w.dc_staff, json!({}))
                .await
                .expect(200);
            let again = app
                .post(&q(case, "decision"), &w.dc_staff, json!({"accept": true}))
                .await
                .expect(200);
            assert_eq!(again["deadlines"]["mediation_by"]["state"], "pending");
            // Feedback is given once per case, so it is never owed again.
            assert_eq!(
                app.post(&q(case, "feedback"), &w.dc_staff, feedback.clone())
                    .await
                    .status,
                409
            );
        }
        let c = read(&app, &app.admin, &mediated).await;
        let initial = &c["deadlines"]["initial_feedback_by"];
        assert_eq!(initial["state"], "met");
        assert_eq!(initial["ended_by"], "feedback");
        assert_eq!(initial["started_at"], "2026-03-02T09:00:00+08:00");
        let c = read(&app, &app.admin, &refused).await;
        assert!(c["deadlines"].get("initial_feedback_by").is_none());
        // Well past ten working days after the second acceptance: nothing is overdue.
        assert_eq!(app.set_clock("2026-04-01T00:00:00+08:00").await, 0);
        for case in [&mediated, &refused] {
            let kinds = app.event_kinds(case, &app.admin).await;
            assert_eq!(count(&kinds, "deadline_missed"), 0, "{kinds:?}");
        }
    }
);

on_both_databases!(
    a_pending_extension_lapses_when_the_case_leaves_the_handler,
    |app: TestApp| async move {
        let w = world(&app).await;
        let overdue = acknowledged(&app, &w).await;
        let withdrawn = acknowledged(&app, &w).await;
        let settled = acknowledged(&app, &w).await;
        let mut requests = Vec::new();
        for case in [&overdue, &withdrawn, &settled] {
            let ext = app
                .post(
                    &format!("/v1/inbox/{case}/extension"),
                    &w.merchant,
                    json!({"working_days": 3, "reason": "需要厂家检测"}),
                )
                .await
                .expect(201);
            requests.push(id(&ext));
        }
        let withdrawal = app
            .post(
                &format!("/v1/complaints/{withdrawn}/withdraw"),
                &w.partner,
                json!({"reason": "已与商家和解"}),
            )
            .await
            .expect(200);
        // Withdrawal stops every clock, none of them by reaching its goal.
        for clock in ["ack_by", "resolve_by"] {
            let deadline = &withdrawal["deadlines"][clock];
            let expected = if clock == "ack_by" {
                "acknowledge"
            } else {
                "withdraw"
            };
            assert_eq!(deadline["ended_by"], expected, "{clock}");
        }
        app.post(
            &format!("/v1/inbox/{settled}/settle"),
            &w.merchant,
            json!({"remedy": "refund", "recovered_cents": 1000}),
        )
        .await
        .expect(200);
        // resolve_by of the first case ends with 03-16: escalated resolve_overdue.
        app.set_clock("2026-03-17T00:00:00+08:00").await;
        assert_eq!(
            read(&app, &w.partner, &overdue).await["escalation_reason"],
            "resolve_overdue"
        );

        let listed = |status: &'static str| {
            let app = &app;
            let token = w.dc_staff.clone();
            async move {
                let page = app
                    .get(&format!("/v1/extensions?status={status}"), &token)
                    .await
                    .expect(200);
                page["items"].as_array().unwrap().clone()
            }
        };
        assert!(listed("pending").await.is_empty());
        let lapsed = listed("lapsed").await;
        assert_eq!(lapsed.len(), 3);
        assert!(lapsed.iter().all(|e| e["status"] == "lapsed"));
        for (case, request) in [&overdue, &withdrawn, &settled].iter().zip(&requests) {
            for decision in ["approve", "reject"] {
                let answer = app
                    .post(
                        &format!("/v1/extensions/{request}/{decision}"),
                        &w.dc_staff,
                        json!({}),
                    )
                    .await;
                assert_eq!(answer.status, 409, "{decision} {case}");
                assert!(answer.body["detail"].as_str().unwrap().contains("lapsed"));
            }
            let kinds = app.event_kinds(case, &app.admin).await;
            assert_eq!(count(&kinds, "extension_lapsed"), 1, "{kinds:?}");
        }
    }
);

/// Two gateway processes on one database, each with its own manual clock.
async fn the_shared_manual_clock_never_moves_back(database_url: String) {
    use odr_gateway::config::ClockMode;
    use odr_gateway::state::AppState;
    use odr_gateway::store::timekeeping::saved_clock;
    let config = Config {
        database_url,
        clock: ClockMode::Manual,
        clock_start: Some(common::at("2026-03-02T09:00:00+08:00")),
        ..Config::default()
    };
    let ahead = AppState::start(config.clone()).await.expect("starts");
    let behind = AppState::start(config).await.expect("starts");
    let later = common::at("2026-03-09T09:00:00+08:00");
    ahead.clock.set(later).expect("manual").expect("forward");
    assert_eq!(ahead.timekeeper.save_clock().await.unwrap(), later);
    // The other process still reads Monday; saving it must not undo the move.
    assert_eq!(behind.clock.now(), common::at("2026-03-02T09:00:00+08:00"));
    assert_eq!(
        behind.timekeeper.save_clock().await.unwrap(),
        later,
        "adopts the later time"
    );
    assert_eq!(behind.clock.now(), later);
    assert_eq!(saved_clock(&behind.db).await.unwrap(), Some(later));
    // Moving forward from there is saved, to the second.
    let next = later + chrono::Duration::milliseconds(1500);
    behind.clock.set(next).expect("manual").expect("forward");
    assert_eq!(behind.timekeeper.save_clock().await.unwrap(), next);
    assert_eq!(saved_clock(&ahead.db).await.unwrap(), Some(next));
    assert_eq!(ahead.timekeeper.save_clock().await.unwrap(), next);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_shared_manual_clock_never_moves_back_on_sqlite() {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("gw.db").display());
    the_shared_manual_clock_never_moves_back(url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_shared_manual_clock_never_moves_back_on_postgres() {
    if let Some(url) = common::postgres_database().await {
        the_shared_manual_clock_never_moves_back(url).await;
    }
}

on_both_databases!(
    a_step_after_a_deadline_ran_out_finds_the_case_as_the_job_would_have_left_it,
    |app: TestApp| async move {
        let w = world(&app).await;
        // On Monday 03-02 (this process's clock, which never moves): ack_by
        // ends with 03-03, resolve_by with 03-16, the objection window with 03-05.
        let unanswered = delivered(&app, &w).await;
        let contacted = acknowledged(&app, &w).await;
        let extended = acknowledged(&app, &w).await;
        let offered = acknowledged(&app, &w).await;
        let settled = acknowledged(&app, &w).await;
        let ext = app
            .post(
                &format!("/v1/inbox/{extended}/extension"),
                &w.merchant,
                json!({"working_days": 3, "reason": "需要厂家检测"}),
            )
            .await
            .expect(201);
        let proposal = app
            .post(
                &format!("/v1/inbox/{offered}/proposals"),
                &w.merchant,
                json!({"remedy": "refund", "amount_cents": 1000}),
            )
            .await
            .expect(201);
        app.post(
            &format!("/v1/inbox/{settled}/settle"),
            &w.merchant,
            json!({"remedy": "refund", "recovered_cents": 1000}),
        )
        .await
        .expect(200);
        // A second process whose clock reads 03-17 and that runs no deadline
        // job: whatever was due happens only because a step arrives.
        let late = common::spawn_beside(&app, starting("2026-03-17T09:00:00+08:00"), false).await;
        let refused = |answer: common::Answer, case: &str| {
            assert_eq!(answer.status, 409, "{case}: {}", answer.body);
            assert_eq!(answer.body["current_status"], "escalated", "{case}");
            assert!(
                answer.body["allowed"]
                    .as_array()
                    .unwrap()
                    .contains(&json!("claim"))
            );
        };
        let acknowledge = format!("/v1/inbox/{unanswered}/acknowledge");
        for _ in 0..2 {
            refused(
                late.post(&acknowledge, &w.merchant, json!({})).await,
                &unanswered,
            );
        }
        let contact = json!({"method": "phone", "note": "已电话联系"});
        let path = format!("/v1/inbox/{contacted}/contacts");
        refused(late.post(&path, &w.merchant, contact).await, &contacted);
        let approve = format!("/v1/extensions/{}/approve", id(&ext));
        let answer = late.post(&approve, &w.dc_staff, json!({})).await;
        assert_eq!(answer.status, 409);
        assert!(answer.body["detail"].as_str().unwrap().contains("lapsed"));
        let accept = json!({"decision": "accept", "proposal_id": id(&proposal)});
        let path = format!("/v1/complaints/{offered}/consumer-response");
        refused(late.post(&path, &w.partner, accept).await, &offered);
        let object = json!({"decision": "object", "comment": "没有收到退款"});
        let path = format!("/v1/complaints/{settled}/consumer-response");
        let answer = late.post(&path, &w.partner, object).await;
        assert_eq!(answer.status, 409);
        assert!(answer.body["detail"].as_str().unwrap().contains("stands"));

        let c = read(&late, &w.partner, &unanswered).await;
        assert_eq!(c["status"], "escalated");
        assert_eq!(c["escalation_reason"], "ack_overdue");
        assert_eq!(c["escalated_at"], "2026-03-17T09:00:00+08:00");
        assert_eq!(c["deadlines"]["ack_by"]["state"], "missed");
        assert_eq!(c["deadlines"]["ack_by"]["ended_by"], "escalate:ack_overdue");
        let kinds = late.event_kinds(&unanswered, &late.admin).await;
        assert_eq!(count(&kinds, "escalate_ack_overdue"), 1, "{kinds:?}");
        assert_eq!(count(&kinds, "acknowledge"), 0);
        assert_eq!(
            kinds.iter().filter(|k| k.starts_with("escalate")).count(),
            1
        );
        for case in [&contacted, &extended, &offered] {
            let c = read(&late, &w.partner, case).await;
            assert_eq!(c["escalation_reason"], "resolve_overdue", "{case}");
            assert_eq!(c["deadlines"]["resolve_by"]["state"], "missed");
            let kinds = late.event_kinds(case, &late.admin).await;
            assert_eq!(count(&kinds, "escalate_resolve_overdue"), 1, "{kinds:?}");
            assert_eq!(
                kinds.iter().filter(|k| k.starts_with("escalate")).count(),
                1
            );
        }
        let kinds = late.event_kinds(&extended, &late.admin).await;
        assert_eq!(count(&kinds, "extension_lapsed"), 1);
        assert_eq!(count(&kinds, "approve_extension"), 0);
        let c = read(&late, &w.partner, &settled).await;
        assert_eq!(c["status"], "settled", "the settlement stands");
        assert_eq!(
            c["deadlines"]["objection_until"]["ended_by"],
            "settlement_final"
        );
        let kinds = late.event_kinds(&settled, &late.admin).await;
        assert_eq!(count(&kinds, "settlement_final"), 1);
        assert_eq!(count(&kinds, "consumer_object"), 0);
    }
);
