//! Follow-ups (回访, SPEC §8): the monthly sample drawn by itself when the
//! business clock passes into the next month, exactly as the spec computes
//! it, once whoever draws it; answers recorded once; a dissatisfied consumer's
//! case reopened into its station's queue.

mod common;

use std::collections::BTreeSet;

use common::{TestApp, World, id, intake, spawn_beside, world};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// A not-enrolled complaint at `station` that the station does not accept on
/// the spot: it ends (closed) now.
async fn closed_at_station(app: &TestApp, w: &World, station: &str, staff: &str) -> String {
    let mut body = intake(&w.unenrolled_code);
    body["station_code"] = json!(station);
    let case = id(&app
        .post("/v1/complaints", &w.partner, body)
        .await
        .expect(201));
    for (step, body) in [
        ("claim", json!({})),
        ("decision", json!({"accept": false, "grounds": "重复投诉"})),
    ] {
        app.post(&format!("/v1/queue/{case}/{step}"), staff, body)
            .await
            .expect(200);
    }
    case
}

/// The sample SPEC §8 defines, computed here on its own: the ceil(30 %) of
/// `ids` with the smallest SHA-256 of month ‖ id.
fn expected_sample(month: &str, ids: &[String]) -> BTreeSet<String> {
    let mut keyed: Vec<(Vec<u8>, &String)> = ids
        .iter()
        .map(|id| (Sha256::digest(format!("{month}{id}")).to_vec(), id))
        .collect();
    keyed.sort();
    let take = (ids.len() * 3).div_ceil(10);
    keyed
        .into_iter()
        .take(take)
        .map(|(_, id)| id.clone())
        .collect()
}

async fn sample_of(app: &TestApp, token: &str, month: &str) -> Vec<Value> {
    let mut items = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/v1/followups?month={month}&limit=7&cursor={c}"),
            None => format!("/v1/followups?month={month}&limit=7"),
        };
        let page = app.get(&path, token).await.expect(200);
        items.extend(page["items"].as_array().unwrap().iter().cloned());
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_string()),
            None => return items,
        }
    }
}

fn complaint_ids(items: &[Value]) -> BTreeSet<String> {
    items
        .iter()
        .map(|f| f["complaint_id"].as_str().unwrap().to_string())
        .collect()
}

on_both_databases!(
    the_month_is_sampled_when_the_clock_passes_into_the_next,
    |app: TestApp| async move {
        let w = world(&app).await;
        let mut ended = Vec::new();
        for _ in 0..8 {
            ended.push(closed_at_station(&app, &w, "QJ-DC", &w.dc_staff).await);
        }
        for _ in 0..5 {
            ended.push(closed_at_station(&app, &w, "QJ-YL", &w.yl_staff).await);
        }
        // Still open at the end of March: not sampled.
        let open = id(&app
            .post("/v1/complaints", &w.partner, intake(&w.unenrolled_code))
            .await
            .expect(201));
        // Nothing is drawn while March lasts.
        app.set_clock("2026-03-31T23:59:00+08:00").await;
        assert!(sample_of(&app, &w.root_staff, "2026-03").await.is_empty());
        let moved = app
            .post(
                "/v1/admin/clock",
                &app.admin,
                json!({"set": "2026-04-01T00:00:00+08:00"}),
            )
            .await
            .expect(200);
        // One station tree (QJ): ceil(0.3 × 13) = 4.
        assert_eq!(moved["followups_drawn"], 4);
        let drawn = sample_of(&app, &w.root_staff, "2026-03").await;
        assert_eq!(complaint_ids(&drawn), expected_sample("2026-03", &ended));
        assert!(!complaint_ids(&drawn).contains(&open));
        for f in &drawn {
            assert_eq!(f["month"], "2026-03");
            assert_eq!(f["status"], "pending");
            assert_eq!(f["satisfaction"], Value::Null);
            let case = &f["complaint"];
            assert_eq!(case["id"], f["complaint_id"]);
            assert_eq!(
                case["consumer"]["phone"], "13800138000",
                "the visit needs the number"
            );
            assert_eq!(f["station_code"], case["station_code"]);
        }
        // Each station's staff see their own part of the sample.
        let dc = sample_of(&app, &w.dc_staff, "2026-03").await;
        let yl = sample_of(&app, &w.yl_staff, "2026-03").await;
        assert_eq!(dc.len() + yl.len(), 4);
        assert!(dc.iter().all(|f| f["station_code"] == "QJ-DC"));
        assert!(yl.iter().all(|f| f["station_code"] == "QJ-YL"));
        // Moving on draws April (empty) and never March again.
        let later = app
            .post(
                "/v1/admin/clock",
                &app.admin,
                json!({"set": "2026-05-02T10:00:00+08:00"}),
            )
            .await
            .expect(200);
        assert_eq!(later["followups_drawn"], 0);
        assert_eq!(
            complaint_ids(&sample_of(&app, &w.root_staff, "2026-03").await),
            complaint_ids(&drawn)
        );
        let pending = app
            .get("/v1/followups?status=pending&limit=200", &w.root_staff)
            .await
            .expect(200);
        assert_eq!(pending["items"].as_array().unwrap().len(), 4);
        // The gauge counts them per station.
        let metrics = app.call(reqwest::Method::GET, "/metrics", None, None).await;
        let text = metrics.body.as_str().unwrap().to_string();
        let gauge = |station: &str| -> usize {
            let prefix = format!("odr_followups_pending{{station=\"{station}\"}} ");
            text.lines()
                .find_map(|l| l.strip_prefix(prefix.as_str()))
                .map_or(0, |v| v.parse().unwrap())
        };
        assert_eq!(gauge("QJ-DC"), dc.len());
        assert_eq!(gauge("QJ-YL"), yl.len());
    }
);

/// Two gateway processes on one database (without background workers, so
/// the only draws are theirs) both move the clock into April at once.
async fn two_processes_draw_a_month_once(backend: common::Backend) {
    let Some(app) = common::spawn_with(backend, |_| {}, false).await else {
        return;
    };
    let w = world(&app).await;
    let mut ended = Vec::new();
    for _ in 0..10 {
        ended.push(closed_at_station(&app, &w, "QJ-DC", &w.dc_staff).await);
    }
    let second = spawn_beside(&app, |_| {}, false).await;
    let second_admin = second.login("admin", common::ADMIN_PASSWORD).await;
    let to = json!({"set": "2026-04-01T09:00:00+08:00"});
    let (one, two) = tokio::join!(
        app.post("/v1/admin/clock", &app.admin, to.clone()),
        second.post("/v1/admin/clock", &second_admin, to.clone()),
    );
    let (one, two) = (one.expect(200), two.expect(200));
    let made = one["followups_drawn"].as_u64().unwrap() + two["followups_drawn"].as_u64().unwrap();
    assert_eq!(made, 3, "drawn by one of them: {one} {two}");
    let drawn = sample_of(&app, &w.root_staff, "2026-03").await;
    assert_eq!(drawn.len(), 3);
    assert_eq!(complaint_ids(&drawn), expected_sample("2026-03", &ended));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_draw_a_month_once_on_sqlite() {
    two_processes_draw_a_month_once(common::Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_draw_a_month_once_on_postgres() {
    two_processes_draw_a_month_once(common::Backend::Postgres).await;
}

on_both_databases!(
    a_dissatisfied_consumer_sends_the_case_back_to_the_queue,
    config = |c: &mut odr_gateway::config::Config| c.followups.share = 1.0,
    |app: TestApp| async move {
        let w = world(&app).await;
        // Closed at the station after acceptance, and settled at the merchant.
        let mut body = intake(&w.unenrolled_code);
        body["station_code"] = json!("QJ-DC");
        let closed = id(&app
            .post("/v1/complaints", &w.partner, body)
            .await
            .expect(201));
        for (step, body) in [
            ("claim", json!({})),
            ("decision", json!({"accept": true})),
            (
                "close",
                json!({"result": "mediated", "recovered_cents": 800, "note": "调解成功"}),
            ),
        ] {
            app.post(&format!("/v1/queue/{closed}/{step}"), &w.dc_staff, body)
                .await
                .expect(200);
        }
        let settled = common::acknowledged(&app, &w).await;
        app.post(
            &format!("/v1/inbox/{settled}/settle"),
            &w.merchant,
            json!({"remedy": "refund", "recovered_cents": 300}),
        )
        .await
        .expect(200);
        app.set_clock("2026-04-01T09:00:00+08:00").await;
        let drawn = sample_of(&app, &w.dc_staff, "2026-03").await;
        assert_eq!(drawn.len(), 2, "share 1.0 draws both");
        let followup_of = |case: &str| {
            drawn
                .iter()
                .find(|f| f["complaint_id"] == case)
                .map(id)
                .expect("sampled")
        };

        // A sibling station's staff cannot see or answer it.
        let f_closed = followup_of(&closed);
        assert_eq!(
            app.get(&format!("/v1/followups/{f_closed}"), &w.yl_staff)
                .await
                .status,
            404
        );
        let sibling = app
            .post(
                &format!("/v1/followups/{f_closed}"),
                &w.yl_staff,
                json!({"satisfaction": "dissatisfied"}),
            )
            .await;
        assert_eq!(sibling.status, 404);
        assert!(sample_of(&app, &w.yl_staff, "2026-03").await.is_empty());
        // An unknown answer names the allowed ones and changes nothing.
        let bad = app
            .post(
                &format!("/v1/followups/{f_closed}"),
                &w.dc_staff,
                json!({"satisfaction": "meh"}),
            )
            .await;
        assert_eq!(bad.status, 422);
        assert_eq!(bad.fields(), ["satisfaction"]);
        assert!(
            bad.body
                .to_string()
                .contains("very_satisfied, satisfied, neutral, dissatisfied")
        );

        let answered = app
            .post(
                &format!("/v1/followups/{f_closed}"),
                &w.dc_staff,
                json!({"satisfaction": "dissatisfied", "note": "调解结果未履行"}),
            )
            .await
            .expect(200);
        assert_eq!(answered["status"], "answered");
        assert_eq!(answered["satisfaction"], "dissatisfied");
        assert_eq!(answered["note"], "调解结果未履行");
        assert_eq!(answered["answered_at"], "2026-04-01T09:00:00+08:00");
        assert!(answered["answered_by"].is_string());
        assert_eq!(answered["complaint"]["status"], "reopened");
        // A second answer is refused.
        let again = app
            .post(
                &format!("/v1/followups/{f_closed}"),
                &w.dc_staff,
                json!({"satisfaction": "satisfied"}),
            )
            .await;
        assert_eq!(again.status, 409);

        // Back in the queue of the station that handled it, for the reason.
        let case = app
            .get(&format!("/v1/queue/{closed}"), &w.dc_staff)
            .await
            .expect(200);
        assert_eq!(case["status"], "reopened");
        assert_eq!(case["escalation_reason"], "consumer_dissatisfied");
        assert_eq!(case["station_code"], "QJ-DC");
        assert_eq!(case["outcome"], Value::Null);
        let queue = app
            .get("/v1/queue?reason=consumer_dissatisfied", &w.dc_staff)
            .await
            .expect(200);
        assert_eq!(complaint_ids_of(&queue), BTreeSet::from([closed.clone()]));
        let kinds = app.event_kinds(&closed, &w.dc_staff).await;
        assert_eq!(kinds.last().map(String::as_str), Some("reopen"));
        let events = app
            .get(
                &format!("/v1/complaints/{closed}/events?limit=200"),
                &w.dc_staff,
            )
            .await
            .expect(200);
        let reopen = events["items"].as_array().unwrap().last().unwrap().clone();
        assert_eq!(reopen["from_status"], "closed");
        assert_eq!(reopen["to_status"], "reopened");
        assert_eq!(reopen["payload"]["followup_id"], f_closed.as_str());
        assert_eq!(reopen["payload"]["previous_outcome"]["result"], "mediated");
        // The station handles it as an escalated case.
        for (step, body) in [
            ("claim", json!({})),
            ("decision", json!({"accept": true})),
            (
                "close",
                json!({"result": "referred_for_investigation", "note": "诉转案"}),
            ),
        ] {
            app.post(&format!("/v1/queue/{closed}/{step}"), &w.dc_staff_2, body)
                .await
                .expect(200);
        }

        // A settled case goes to its handler's station, and first reaches the queue now.
        let f_settled = followup_of(&settled);
        app.post(
            &format!("/v1/followups/{f_settled}"),
            &w.dc_staff,
            json!({"satisfaction": "dissatisfied"}),
        )
        .await
        .expect(200);
        let case = app
            .get(&format!("/v1/queue/{settled}"), &w.dc_staff)
            .await
            .expect(200);
        assert_eq!(case["status"], "reopened");
        assert_eq!(case["escalation_reason"], "consumer_dissatisfied");
        assert_eq!(case["escalated_at"], "2026-04-01T09:00:00+08:00");
        // The April report counts it as received at QJ-DC.
        let april = app
            .get("/v1/reports/monthly?month=2026-04", &w.dc_staff)
            .await
            .expect(200);
        assert_eq!(april["total"]["received"], 1);
        // March's satisfaction: both answered dissatisfied.
        let march = app
            .get("/v1/reports/monthly?month=2026-03", &w.dc_staff)
            .await
            .expect(200);
        assert_eq!(march["rates"]["satisfaction_rate"], 0.0);
        assert_eq!(march["followups"]["dissatisfied"], 2);
    }
);

on_both_databases!(
    a_satisfied_answer_is_recorded_in_the_case_file_and_reopens_nothing,
    config = |c: &mut odr_gateway::config::Config| c.followups.share = 1.0,
    |app: TestApp| async move {
        let w = world(&app).await;
        let case = closed_at_station(&app, &w, "QJ-DC", &w.dc_staff).await;
        app.set_clock("2026-04-01T09:00:00+08:00").await;
        let drawn = sample_of(&app, &w.dc_staff, "2026-03").await;
        let f = id(&drawn[0]);
        let got = app
            .get(&format!("/v1/followups/{f}"), &w.dc_staff)
            .await
            .expect(200);
        assert_eq!(got["complaint_id"], case.as_str());
        let answered = app
            .post(
                &format!("/v1/followups/{f}"),
                &w.dc_staff,
                json!({"satisfaction": "very_satisfied"}),
            )
            .await
            .expect(200);
        assert_eq!(answered["complaint"]["status"], "closed");
        let kinds = app.event_kinds(&case, &w.dc_staff).await;
        assert_eq!(kinds.last().map(String::as_str), Some("followup"));
        let answered_list = app
            .get("/v1/followups?month=2026-03&status=answered", &w.dc_staff)
            .await
            .expect(200);
        assert_eq!(answered_list["items"].as_array().unwrap().len(), 1);
        let pending = app
            .get("/v1/followups?month=2026-03&status=pending", &w.dc_staff)
            .await
            .expect(200);
        assert!(pending["items"].as_array().unwrap().is_empty());
        let bad = app.get("/v1/followups?status=done", &w.dc_staff).await;
        assert_eq!(bad.status, 422);
        assert_eq!(bad.fields(), ["status"]);
    }
);

fn complaint_ids_of(page: &Value) -> BTreeSet<String> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_string())
        .collect()
}
