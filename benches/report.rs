//! The monthly report (SPEC §8) over a month of complaints written straight
//! into a fresh database, on SQLite and (with DATABASE_URL) PostgreSQL:
//! `store::reports::monthly` timed against the ceilings of 1 s on PostgreSQL
//! and 3 s on SQLite.
//!
//! `cargo bench --bench report` (REPORT_N=100000, REPORT_RUNS=5, REPORT_DB=sqlite|postgres).
//! * REPORT_N complaints created in March 2026 in one station tree (a root, four
//!   child stations, one grandchild, 20 handlers), routed to handlers or sent
//!   straight to a station, then settled, escalated, decided and closed in a
//!   realistic mix; around them, the second half of February in the same tree
//!   (some of it escalated in March) and March in another tree, and the
//!   follow-ups of March's sample (one in 33 of the cases that ended in it).
//! * The rows go in as bulk inserts (`store::bulk::insert`), not through intake.

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::Instant;

use chrono::{DateTime, TimeDelta, Utc};
use entity::{complaint, followup, handler, station};
use futures_util::StreamExt;
use futures_util::stream;
use odr_gateway::domain::calendar::beijing_date;
use odr_gateway::domain::report::{Month, MonthlyReport};
use odr_gateway::store::{self, bulk, reports};
use sea_orm::{ActiveModelTrait, ConnectionTrait, IntoActiveModel, TransactionTrait};
use serde_json::{Value, json};

const ROOT: &str = "QJ";
/// The report's tree, root first, each with its parent.
const TREE: [(&str, &str, Option<&str>); 6] = [
    ("QJ", "钱江区消费者权益保护委员会", None),
    ("QJ-DC", "东城分会", Some("QJ")),
    ("QJ-XC", "西城分会", Some("QJ")),
    ("QJ-NH", "南湖分会", Some("QJ")),
    ("QJ-BS", "北山分会", Some("QJ")),
    ("QJ-DC-BH", "滨河工作站", Some("QJ-DC")),
];
/// Another tree, whose complaints the report must leave out.
const OTHER: [(&str, &str, Option<&str>); 2] = [
    ("XH", "西湖区消费者权益保护委员会", None),
    ("XH-LY", "灵隐分会", Some("XH")),
];
const HANDLERS: usize = 20;

/// splitmix64: the same data on every run, without a dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// In `lo..hi`.
    fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + (self.next() % (hi - lo) as u64) as i64
    }

    fn chance(&mut self, p: f64) -> bool {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64 <= p
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.next() as usize % items.len()]
    }

    /// A time `lo..hi` seconds after `at`.
    fn after(&mut self, at: DateTime<Utc>, lo: i64, hi: i64) -> DateTime<Utc> {
        at + TimeDelta::seconds(self.range(lo, hi))
    }
}

const HOUR: i64 = 3600;
const DAY: i64 = 24 * HOUR;

#[derive(Clone)]
struct Handler {
    id: String,
    station_code: String,
    /// The merchant's, or for a rights station one of the merchants it covers.
    credit_code: String,
}

/// What the report must count, tallied as the rows are made.
#[derive(Default)]
struct Expected {
    /// Reached a station of the tree's queue in the month.
    received: u64,
    /// Routed to a handler of the tree in the month.
    forwarded: u64,
    /// Received late in the month, by a handler of the tree.
    receive_delays: u64,
    followups: u64,
    /// All complaints written, the tree's and the others.
    total: u64,
    /// The tree's complaints, in the month and before it.
    rows: u64,
}

/// Where a complaint goes: the tree and month it is counted in, if any.
struct Cohort<'a> {
    handlers: &'a [Handler],
    /// Cumulative weights: a few large merchants take most of the cases.
    weights: Vec<u64>,
    stations: Vec<&'static str>,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    counted: bool,
}

impl<'a> Cohort<'a> {
    fn new(
        handlers: &'a [Handler],
        tree: &[(&'static str, &str, Option<&str>)],
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        counted: bool,
    ) -> Cohort<'a> {
        let mut total = 0;
        let weights = (0..handlers.len() as u64)
            .map(|i| {
                total += 1000 / (i + 2);
                total
            })
            .collect();
        Cohort {
            handlers,
            weights,
            stations: tree.iter().map(|(code, _, _)| *code).collect(),
            from,
            to,
            counted,
        }
    }

    fn handler(&self, rng: &mut Rng) -> &Handler {
        let roll = rng.next() % self.weights.last().copied().unwrap_or(1);
        let i = self.weights.partition_point(|w| *w <= roll);
        &self.handlers[i]
    }
}

const DESCRIPTIONS: [(&str, &str, &str, &str); 4] = [
    (
        "goods",
        "quality",
        "定制柜门存在质量问题，安装时损坏榻榻米垫子",
        "更换柜门并赔偿",
    ),
    (
        "services",
        "refund",
        "预付健身卡门店停业，剩余课时无法使用，商家拒绝退款",
        "退还剩余课时费用",
    ),
    (
        "goods",
        "false_advertising",
        "直播间宣称纯棉，收到后标签显示含涤纶百分之六十",
        "退一赔三",
    ),
    (
        "services",
        "contract",
        "网购机票改签被收取高额手续费，未事先告知",
        "退还改签手续费",
    ),
];

const HANDLER_REASONS: [&str; 8] = [
    "declined",
    "negotiation_failed",
    "consumer_rejected",
    "ack_overdue",
    "resolve_overdue",
    "consumer_requested",
    "odr_declined",
    "delivery_failed",
];

fn clock(due: DateTime<Utc>, state: &str, started: DateTime<Utc>, length: &str) -> Value {
    let beijing = chrono::FixedOffset::east_opt(8 * 3600).expect("UTC+8");
    json!({
        "due": due.with_timezone(&beijing).to_rfc3339(),
        "last_day": beijing_date(due - TimeDelta::seconds(1)).to_string(),
        "state": state,
        "rule_set": "2026",
        "started_at": started.with_timezone(&beijing).to_rfc3339(),
        "length": length,
    })
}

/// One complaint created at `created`, and what of it the report counts.
fn complaint(
    rng: &mut Rng,
    n: u64,
    created: DateTime<Utc>,
    cohort: &Cohort,
    month: Month,
    expected: &mut Expected,
) -> complaint::Model {
    let (category, problem, description, demand) = *rng.pick(&DESCRIPTIONS);
    let dispatched = rng.after(created, -2 * HOUR, -60);
    let amount = rng.range(1_000, 2_000_000);
    let mut c = complaint::Model {
        id: store::new_id(),
        partner_id: "partner-12315".into(),
        external_ref: format!("12315-2026-{n:09}"),
        channel: "12315_web".into(),
        consumer_name: "孙先生".into(),
        consumer_phone: format!("138{:08}", rng.range(0, 100_000_000)),
        merchant_credit_code: String::new(),
        merchant_name: "某家具定制有限公司".into(),
        category: category.into(),
        problem: problem.into(),
        description: description.into(),
        demand: demand.into(),
        amount_cents: amount,
        occurred_at: rng.after(dispatched, -30 * DAY, -HOUR),
        dispatched_at: dispatched,
        received_at: None,
        status: "routed".into(),
        handler_id: None,
        station_code: String::new(),
        consents: json!({"odr": true, "publish": false, "mediation": true}),
        deadlines: json!({}),
        escalation_reason: None,
        escalated_at: None,
        assignee_id: None,
        phone_disclosed_at: None,
        initial_feedback_at: None,
        outcome: None,
        version: 1,
        event_count: 1,
        event_hash: Some(format!("{:016x}{:016x}", rng.next(), rng.next())),
        next_action_at: None,
        station_overdue: false,
        deadlines_provisional: false,
        receive_delayed: false,
        ack_on_time: None,
        settled_at: None,
        settled_cents: None,
        settle_working_seconds: None,
        decision: None,
        decision_on_time: None,
        closed_at: None,
        close_result: None,
        closed_cents: None,
        completed_on_time: None,
        decision_overdue: false,
        feedback_overdue: false,
        closing_overdue: false,
        created_at: created,
        updated_at: created,
    };
    let mut deadlines = serde_json::Map::new();
    let mut to_station = None;
    if rng.chance(0.82) {
        // Routed to an enrolled handler, at the handler's station.
        let h = cohort.handler(rng);
        c.handler_id = Some(h.id.clone());
        c.station_code = h.station_code.clone();
        c.merchant_credit_code = h.credit_code.clone();
        let ack_due = rng.after(created, DAY, 3 * DAY);
        if rng.chance(0.03) {
            // Not delivered yet.
            deadlines.insert(
                "ack_by".into(),
                clock(ack_due, "pending", created, "1 working day"),
            );
        } else {
            let received = if rng.chance(0.03) {
                rng.after(created, 14 * HOUR, 40 * HOUR)
            } else {
                rng.after(created, 30, HOUR)
            };
            c.received_at = Some(received);
            c.receive_delayed = beijing_date(received) > beijing_date(dispatched);
            c.status = "delivered".into();
            c.ack_on_time = match rng.range(0, 100) {
                0..88 => Some(true),
                88..97 => Some(false),
                _ => None,
            };
            let ack_state = match c.ack_on_time {
                Some(true) => "met",
                Some(false) => "missed",
                None => "pending",
            };
            deadlines.insert(
                "ack_by".into(),
                clock(ack_due, ack_state, received, "1 working day"),
            );
            if c.ack_on_time.is_some() {
                c.status = "acknowledged".into();
                c.phone_disclosed_at = Some(rng.after(received, 60, 6 * HOUR));
            }
            let resolve_due = rng.after(received, 12 * DAY, 16 * DAY);
            match rng.range(0, 100) {
                0..52 if c.ack_on_time.is_some() => {
                    let settled = rng.after(received, HOUR, 10 * DAY);
                    let cents = rng.range(0, amount + 1);
                    c.status = "settled".into();
                    c.settled_at = Some(settled);
                    c.settled_cents = Some(cents);
                    c.settle_working_seconds = Some(rng.range(HOUR, 60 * HOUR));
                    c.outcome = Some(json!({"result": "settled", "recovered_cents": cents}));
                    deadlines.insert(
                        "resolve_by".into(),
                        clock(resolve_due, "met", received, "10 working days"),
                    );
                    c.updated_at = settled;
                }
                0..80 => {
                    let reason = *rng.pick(&HANDLER_REASONS);
                    to_station = Some((rng.after(received, DAY, 12 * DAY), reason));
                    deadlines.insert(
                        "resolve_by".into(),
                        clock(resolve_due, "met", received, "10 working days"),
                    );
                }
                _ => {
                    if c.ack_on_time.is_some() {
                        c.status = "negotiating".into();
                    }
                    c.next_action_at = Some(resolve_due);
                    deadlines.insert(
                        "resolve_by".into(),
                        clock(resolve_due, "pending", received, "10 working days"),
                    );
                }
            }
        }
    } else {
        // The merchant is not enrolled: straight to a station of the tree.
        c.station_code = rng.pick(&cohort.stations).to_string();
        c.merchant_credit_code = format!("91330100MB3{:07}", rng.range(0, 10_000_000));
        to_station = Some((created, "not_enrolled"));
    }
    if let Some((escalated, reason)) = to_station {
        station_part(rng, &mut c, escalated, reason, &mut deadlines);
    }
    c.deadlines = Value::Object(deadlines);
    c.event_count = 1 + rng.range(0, 3) as i32 + 3 * i32::from(c.received_at.is_some());
    c.version = c.event_count;

    expected.total += 1;
    if cohort.counted {
        let in_month = |at: Option<DateTime<Utc>>| at.is_some_and(|at| month.contains(at));
        expected.rows += 1;
        expected.received += u64::from(in_month(c.escalated_at));
        expected.forwarded += u64::from(c.handler_id.is_some() && month.contains(created));
        expected.receive_delays +=
            u64::from(c.handler_id.is_some() && c.receive_delayed && in_month(c.received_at));
    }
    debug_assert!(cohort.from <= created && created < cohort.to);
    c
}

/// The station's part of a case that reached its queue at `escalated`.
fn station_part(
    rng: &mut Rng,
    c: &mut complaint::Model,
    escalated: DateTime<Utc>,
    reason: &str,
    deadlines: &mut serde_json::Map<String, Value>,
) {
    c.status = "escalated".into();
    c.escalated_at = Some(escalated);
    c.escalation_reason = Some(reason.into());
    c.updated_at = escalated;
    let decision_due = rng.after(escalated, 9 * DAY, 11 * DAY);
    let roll = rng.range(0, 100);
    if roll < 12 {
        // Not decided yet: some of these ran out of time.
        c.decision_overdue = rng.chance(0.3);
        c.station_overdue = c.decision_overdue;
        if rng.chance(0.5) {
            c.status = "claimed".into();
            c.assignee_id = Some(format!("staff-{}", rng.range(0, 40)));
        }
        let state = if c.decision_overdue {
            "missed"
        } else {
            "pending"
        };
        deadlines.insert(
            "decision_by".into(),
            clock(decision_due, state, escalated, "7 working days"),
        );
        c.next_action_at = Some(decision_due);
        return;
    }
    let decided = rng.after(escalated, 2 * HOUR, 8 * DAY);
    let on_time = rng.chance(0.92);
    c.assignee_id = Some(format!("staff-{}", rng.range(0, 40)));
    c.decision_on_time = Some(on_time);
    c.decision_overdue = !on_time;
    let state = if on_time { "met" } else { "missed" };
    deadlines.insert(
        "decision_by".into(),
        clock(decision_due, state, escalated, "7 working days"),
    );
    c.updated_at = decided;
    if roll < 27 {
        c.status = "closed".into();
        c.decision = Some("not_accepted".into());
        c.closed_at = Some(decided);
        c.close_result = Some("not_accepted".into());
        c.closed_cents = Some(0);
        c.completed_on_time = Some(on_time);
        c.outcome = Some(json!({"result": "not_accepted", "recovered_cents": 0}));
        c.station_overdue = !on_time;
        return;
    }
    c.status = "accepted".into();
    c.decision = Some("accepted".into());
    let feedback_due = rng.after(decided, 13 * DAY, 15 * DAY);
    if rng.chance(0.85) {
        c.initial_feedback_at = Some(rng.after(decided, DAY, 5 * DAY));
        c.feedback_overdue = rng.chance(0.04);
    } else {
        c.feedback_overdue = rng.chance(0.4);
    }
    let state = if c.feedback_overdue { "missed" } else { "met" };
    deadlines.insert(
        "initial_feedback_by".into(),
        clock(feedback_due, state, decided, "10 working days"),
    );
    let mediation_due = rng.after(decided, 60 * DAY, 64 * DAY);
    if rng.chance(0.65) {
        let closed = rng.after(decided, 3 * DAY, 30 * DAY);
        let (result, cents) = match rng.range(0, 10) {
            0..6 => ("mediated", rng.range(0, c.amount_cents + 1)),
            6..9 => ("mediation_terminated", 0),
            _ => ("referred_for_investigation", 0),
        };
        let in_time = rng.chance(0.9);
        c.status = "closed".into();
        c.closed_at = Some(closed);
        c.close_result = Some(result.into());
        c.closed_cents = Some(cents);
        c.completed_on_time = Some(in_time);
        c.closing_overdue = !in_time;
        c.outcome = Some(json!({"result": result, "recovered_cents": cents}));
        c.updated_at = closed;
    } else {
        c.closing_overdue = rng.chance(0.08);
        c.next_action_at = Some(mediation_due);
    }
    let state = match (c.closed_at, c.closing_overdue) {
        (_, true) => "missed",
        (Some(_), false) => "met",
        (None, false) => "pending",
    };
    deadlines.insert(
        "mediation_by".into(),
        clock(mediation_due, state, decided, "45 working days"),
    );
    c.station_overdue = c.decision_overdue || c.feedback_overdue || c.closing_overdue;
}

fn stations(now: DateTime<Utc>) -> Vec<station::ActiveModel> {
    TREE.iter()
        .chain(OTHER.iter())
        .map(|(code, name, parent)| {
            station::Model {
                code: code.to_string(),
                name: name.to_string(),
                parent_code: parent.map(str::to_string),
                created_at: now,
            }
            .into_active_model()
            .reset_all()
        })
        .collect()
}

/// `n` handlers spread over the non-root stations of `tree`.
fn handlers(
    tree: &[(&'static str, &str, Option<&str>)],
    n: usize,
    now: DateTime<Utc>,
) -> (Vec<Handler>, Vec<handler::ActiveModel>) {
    let mut out = Vec::new();
    let mut rows = Vec::new();
    for i in 0..n {
        let station = tree[1 + i % (tree.len() - 1)].0;
        let merchant = i < n * 4 / 5;
        let id = store::new_id();
        let (kind, name, credit_code, delivery, url) = if merchant {
            (
                "merchant",
                format!("{station} 商户{i:02}"),
                Some(format!("91330100MA2{i:06}X")),
                if i % 3 == 0 { "pull" } else { "push" },
                (i % 3 != 0).then(|| format!("https://merchant{i}.example.com/odr")),
            )
        } else {
            (
                "rights_station",
                format!("{station} 维权站{i:02}"),
                None,
                "pull",
                None,
            )
        };
        rows.push(
            handler::Model {
                id: id.clone(),
                kind: kind.into(),
                name,
                credit_code: credit_code.clone(),
                station_code: station.into(),
                delivery: delivery.into(),
                webhook_url: url,
                covers: json!([]),
                status: "active".into(),
                webhook_secret: "sealed:bench".into(),
                previous_webhook_secret: None,
                previous_secret_until: None,
                delivery_rate_per_second: None,
                created_at: now,
                updated_at: now,
            }
            .into_active_model()
            .reset_all(),
        );
        out.push(Handler {
            id,
            station_code: station.into(),
            credit_code: credit_code.unwrap_or_else(|| format!("91330100MC4{i:06}X")),
        });
    }
    (out, rows)
}

/// Writes the month: directory, complaints in batches of `batch` rows with
/// `concurrency` statements in flight, and follow-ups.
async fn generate<C: ConnectionTrait>(
    db: &C,
    month: Month,
    n: u64,
    batch: usize,
    concurrency: usize,
) -> Expected {
    let now = month.end() + TimeDelta::days(9);
    bulk::insert(db, &stations(now)).await.expect("stations");
    let (tree_handlers, mut rows) = handlers(&TREE, HANDLERS, now);
    let (other_handlers, other_rows) = handlers(&OTHER, 3, now);
    rows.extend(other_rows);
    bulk::insert(db, &rows).await.expect("handlers");

    let (start, end) = (month.start(), month.end());
    let late_february = start - TimeDelta::days(14);
    // (cohort, complaints): the month, the end of the one before, another tree.
    let parts = [
        (Cohort::new(&tree_handlers, &TREE, start, end, true), n),
        (
            Cohort::new(&tree_handlers, &TREE, late_february, start, true),
            n / 5,
        ),
        (
            Cohort::new(&other_handlers, &OTHER, start, end, false),
            n / 10,
        ),
    ];
    let mut rng = Rng(0x12315);
    let mut expected = Expected::default();
    let mut ended = Vec::new();
    let mut serial = 0;
    let batches = parts.iter().flat_map(|(cohort, count)| {
        (0..*count)
            .step_by(batch)
            .map(move |first| (cohort, *count, first..(first + batch as u64).min(*count)))
    });
    stream::iter(batches)
        .map(|(cohort, count, range)| {
            let days = (cohort.to - cohort.from).num_days() as u64;
            let rows: Vec<complaint::ActiveModel> = range
                .map(|i| {
                    // Evenly over the days of the period, mostly in office hours
                    // (Beijing time: `from` is a Beijing midnight).
                    let day = TimeDelta::days((days * i / count) as i64);
                    let second = if rng.chance(0.9) {
                        rng.range(8 * HOUR, 20 * HOUR)
                    } else {
                        rng.range(0, DAY)
                    };
                    let at = cohort.from + day + TimeDelta::seconds(second);
                    serial += 1;
                    let c = complaint(&mut rng, serial, at, cohort, month, &mut expected);
                    let ended_in_month = c.closed_at.is_some_and(|t| month.contains(t))
                        || c.settled_at.is_some_and(|t| month.contains(t));
                    if cohort.counted && ended_in_month {
                        ended.push((c.id.clone(), c.station_code.clone()));
                    }
                    c.into_active_model().reset_all()
                })
                .collect();
            async move { bulk::insert(db, &rows).await.expect("complaints") }
        })
        .buffer_unordered(concurrency)
        .collect::<Vec<()>>()
        .await;

    // The month's follow-up sample: one in 33 of what ended, mostly answered.
    let answers = ["very_satisfied", "satisfied", "neutral", "dissatisfied"];
    let followups: Vec<followup::ActiveModel> = ended
        .iter()
        .step_by(33)
        .map(|(complaint_id, station_code)| {
            let answered = rng.chance(0.8);
            followup::Model {
                id: store::new_id(),
                complaint_id: complaint_id.clone(),
                month: month.to_string(),
                station_code: station_code.clone(),
                status: if answered { "answered" } else { "pending" }.into(),
                satisfaction: answered
                    .then(|| answers[[0, 0, 1, 1, 1, 1, 2, 3][rng.range(0, 8) as usize]].into()),
                note: answered.then(|| "满意处理结果".into()),
                answered_at: answered.then(|| rng.after(end, HOUR, 8 * DAY)),
                answered_by: answered.then(|| format!("staff-{}", rng.range(0, 40))),
                created_at: end + TimeDelta::hours(1),
            }
            .into_active_model()
            .reset_all()
        })
        .collect();
    for chunk in followups.chunks(batch) {
        bulk::insert(db, chunk).await.expect("followups");
    }
    expected.followups = followups.len() as u64;
    expected
}

fn check(report: &MonthlyReport, expected: &Expected) {
    assert_eq!(report.stations.len(), TREE.len(), "stations of the tree");
    assert_eq!(report.handlers.len(), HANDLERS, "handlers of the tree");
    assert_eq!(report.total().received, expected.received, "received");
    assert_eq!(
        report.handlers.iter().map(|h| h.forwarded).sum::<u64>(),
        expected.forwarded,
        "forwarded"
    );
    assert_eq!(
        report.receive_delays.len() as u64,
        expected.receive_delays,
        "receive delays"
    );
    let s = &report.satisfaction;
    assert_eq!(s.answered() + s.pending, expected.followups, "follow-ups");
    assert!(report.total().closing_feedback > 0 && report.handlers_recovered_cents() > 0);
}

async fn run(backend: common::Backend, label: &str, ceiling: f64) {
    let n = env("REPORT_N", 100_000);
    let runs = env("REPORT_RUNS", 5) as usize;
    let month = Month::new(2026, 3).expect("a month");
    let _dir;
    let url = match backend {
        common::Backend::Sqlite => {
            let tmp = tempfile::tempdir().expect("temp dir");
            let url = format!("sqlite://{}?mode=rwc", tmp.path().join("gw.db").display());
            _dir = tmp;
            url
        }
        common::Backend::Postgres => {
            let Some(url) = common::postgres_database().await else {
                println!("{label}: skipped (DATABASE_URL not set)");
                return;
            };
            url
        }
    };
    let db = store::connect(&url).await.expect("connect");
    store::migrate(&db).await.expect("migrate");

    let started = Instant::now();
    let expected = match backend {
        // One writer: one transaction, and at most 32766 parameters a statement.
        common::Backend::Sqlite => {
            let txn = db.begin().await.expect("begin");
            let expected = generate(&txn, month, n, 500, 1).await;
            txn.commit().await.expect("commit");
            expected
        }
        common::Backend::Postgres => {
            let expected = generate(&db, month, n, 1000, 4).await;
            // As autovacuum would after a load like this.
            db.execute_unprepared("ANALYZE").await.expect("analyze");
            expected
        }
    };
    println!(
        "{label}: generated {} complaints ({n} of {month} in the {ROOT} tree, the rest before it or elsewhere) and {} follow-ups in {:.1} s",
        expected.total,
        expected.followups,
        started.elapsed().as_secs_f64()
    );

    let mut times = Vec::with_capacity(runs);
    let mut last = None;
    for _ in 0..runs {
        let t = Instant::now();
        let report = reports::monthly(&db, ROOT, month)
            .await
            .expect("report")
            .expect("the root station");
        times.push(t.elapsed().as_secs_f64());
        last = Some(report);
    }
    let report = last.expect("at least one run");
    check(&report, &expected);
    times.sort_by(f64::total_cmp);
    let median = times[times.len() / 2];
    println!(
        "{label}: monthly({ROOT}, {month}) over {} stations, {} handlers: {} received at stations, {} forwarded, {} receive delays, {} follow-ups",
        report.stations.len(),
        report.handlers.len(),
        expected.received,
        expected.forwarded,
        expected.receive_delays,
        expected.followups,
    );
    println!(
        "{label}: median {median:.3} s, min {:.3} s of {runs} runs: {median:.3} s of {ceiling} s ceiling ({:.0}%) {}",
        times[0],
        100.0 * median / ceiling,
        if median <= ceiling { "ok" } else { "MISSED" }
    );
    if let common::Backend::Postgres = backend {
        // A few hundred MB a run: not left behind like the tests' small ones.
        db.close().await.expect("close");
        let admin = std::env::var("DATABASE_URL").expect("DATABASE_URL");
        let name = url.rsplit('/').next().expect("a database name");
        let admin = store::connect(&admin)
            .await
            .expect("connect to DATABASE_URL");
        admin
            .execute_unprepared(&format!("DROP DATABASE {name}"))
            .await
            .expect("drop the bench database");
    }
}

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    // REPORT_DB=sqlite or postgres runs one of them.
    let only = std::env::var("REPORT_DB").unwrap_or_default();
    rt.block_on(async {
        if only != "postgres" {
            run(common::Backend::Sqlite, "sqlite", 3.0).await;
        }
        if only != "sqlite" {
            run(common::Backend::Postgres, "postgres", 1.0).await;
        }
    });
}
