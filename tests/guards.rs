//! Checks beyond the lifecycle table (initial feedback only once, only the
//! claimant acts) hold for the case as it stands when a step is written, not
//! only as the request first read it: a case that changes in between is read
//! again and the checks run again.

mod common;

use std::cell::Cell;

use common::{TestApp, World, at, id, intake, world};
use odr_gateway::clock::Now;
use odr_gateway::config::Config;
use odr_gateway::domain::deadlines::Policy;
use odr_gateway::domain::lifecycle::Action;
use odr_gateway::error::Error;
use odr_gateway::store;
use odr_gateway::store::complaints::{self, Transition};
use odr_gateway::store::events::Actor;
use odr_gateway::store::station::{self, Step};
use serde_json::json;

/// The store beside the running gateway, and its business time.
struct Store {
    db: store::Db,
    policy: Policy,
}

impl Store {
    async fn open(app: &TestApp) -> Store {
        Store {
            db: store::connect(&app.database_url).await.expect("connect"),
            policy: Config::default().deadline_policy().expect("policy"),
        }
    }

    fn now(&self) -> Now<'_> {
        Now {
            at: at("2026-03-02T10:00:00+08:00"),
            policy: &self.policy,
        }
    }

    /// The case as a request would have read it, before what happens next.
    async fn read(&self, case: &str) -> entity::complaint::Model {
        complaints::find(&self.db, case)
            .await
            .expect("read")
            .expect("case")
    }
}

/// A not-enrolled case in QJ-DC's queue, claimed by `staff`; its claimant's id.
async fn claimed(app: &TestApp, w: &World, staff: &str) -> (String, String) {
    let case = id(&app
        .post("/v1/complaints", &w.partner, intake(&w.unenrolled_code))
        .await
        .expect(201));
    let body = app
        .post(&format!("/v1/queue/{case}/claim"), staff, json!({}))
        .await
        .expect(200);
    (case, body["assignee_id"].as_str().unwrap().to_string())
}

/// [`claimed`], then accepted by the same staff member.
async fn accepted(app: &TestApp, w: &World, staff: &str) -> (String, String) {
    let (case, me) = claimed(app, w, staff).await;
    app.post(
        &format!("/v1/queue/{case}/decision"),
        staff,
        json!({"accept": true}),
    )
    .await
    .expect(200);
    (case, me)
}

fn staff(user_id: &str) -> Actor {
    Actor {
        kind: "staff",
        id: Some(user_id.to_string()),
    }
}

fn count(kinds: &[String], kind: &str) -> usize {
    kinds.iter().filter(|k| *k == kind).count()
}

on_both_databases!(
    a_retried_transition_runs_its_guard_again_on_the_case_as_it_now_stands,
    |app: TestApp| async move {
        let w = world(&app).await;
        let store = Store::open(&app).await;
        let case = id(&app
            .post("/v1/complaints", &w.partner, intake(&w.unenrolled_code))
            .await
            .expect(201));
        let stale = store.read(&case).await;
        app.post(&format!("/v1/queue/{case}/claim"), &w.dc_staff, json!({}))
            .await
            .expect(200);
        // The step is allowed in any status; only its guard can refuse it.
        let calls = Cell::new(0);
        let unclaimed = |c: &entity::complaint::Model| {
            calls.set(calls.get() + 1);
            match &c.assignee_id {
                None => Ok(()),
                Some(_) => Err(Error::conflict("claimed meanwhile")),
            }
        };
        let system = Actor::system();
        let request = Transition::new(&system, &stale, Action::RecomputeDeadlines).guard(unclaimed);
        let result = complaints::transition(&store.db, store.now(), request).await;
        assert!(
            matches!(&result, Err(Error::Conflict { detail, .. }) if detail == "claimed meanwhile"),
            "{result:?}"
        );
        assert_eq!(calls.get(), 2, "once on the stale read, once on the fresh");
        let kinds = app.event_kinds(&case, &app.admin).await;
        assert_eq!(kinds, ["intake", "claim"]);
    }
);

on_both_databases!(
    initial_feedback_given_meanwhile_refuses_a_second_one,
    |app: TestApp| async move {
        let w = world(&app).await;
        let store = Store::open(&app).await;
        let (case, me) = accepted(&app, &w, &w.dc_staff).await;
        let stale = store.read(&case).await;
        app.post(
            &format!("/v1/queue/{case}/feedback"),
            &w.dc_staff,
            json!({"kind": "initial", "note": "第一次"}),
        )
        .await
        .expect(200);
        let step = Step::InitialFeedback {
            note: "第二次".into(),
        };
        let second = station::act(&store.db, store.now(), &staff(&me), &stale, step).await;
        assert!(
            matches!(&second, Err(Error::Conflict { detail, .. }) if detail.contains("already given")),
            "{second:?}"
        );
        let kinds = app.event_kinds(&case, &app.admin).await;
        assert_eq!(count(&kinds, "feedback"), 1, "{kinds:?}");
    }
);

on_both_databases!(
    a_decision_by_staff_whose_claim_was_taken_over_is_refused,
    |app: TestApp| async move {
        let w = world(&app).await;
        let store = Store::open(&app).await;
        let (case, first) = claimed(&app, &w, &w.dc_staff).await;
        let stale = store.read(&case).await;
        // A releases, B claims: A's decision, prepared on the old read, must not land.
        app.post(&format!("/v1/queue/{case}/release"), &w.dc_staff, json!({}))
            .await
            .expect(200);
        let taken = app
            .post(&format!("/v1/queue/{case}/claim"), &w.dc_staff_2, json!({}))
            .await
            .expect(200);
        let step = Step::Decide {
            accept: true,
            grounds: None,
        };
        let late = station::act(&store.db, store.now(), &staff(&first), &stale, step).await;
        match &late {
            Err(Error::Conflict { extra, .. }) => {
                assert_eq!(extra["assignee_id"], taken["assignee_id"]);
            }
            other => panic!("expected a conflict, got {other:?}"),
        }
        let now = app
            .get(&format!("/v1/queue/{case}"), &w.dc_staff_2)
            .await
            .expect(200);
        assert_eq!(now["status"], "claimed");
        assert_eq!(now["assignee_id"], taken["assignee_id"]);
    }
);

on_both_databases!(
    two_initial_feedbacks_sent_together_record_one,
    |app: TestApp| async move {
        let w = world(&app).await;
        for _ in 0..3 {
            let (case, _) = accepted(&app, &w, &w.dc_staff).await;
            let path = format!("/v1/queue/{case}/feedback");
            let send = |note: &'static str| {
                app.post(&path, &w.dc_staff, json!({"kind": "initial", "note": note}))
            };
            let (a, b) = tokio::join!(send("一"), send("二"));
            let mut statuses = [a.status.as_u16(), b.status.as_u16()];
            statuses.sort();
            assert_eq!(statuses, [200, 409], "{} / {}", a.body, b.body);
            let kinds = app.event_kinds(&case, &app.admin).await;
            assert_eq!(count(&kinds, "feedback"), 1, "{kinds:?}");
        }
    }
);
