//! The monthly report (SPEC §8) of a month replayed through the API: every
//! cell of the station table, the rates, the handler table, the receive
//! delays, the overdue counts and the money recovered, in JSON, CSV and XLSX.

mod common;

use std::io::Cursor;

use calamine::{Data, Reader, Xlsx, open_workbook_from_rs};
use common::{TestApp, World, id, intake, world};
use serde_json::{Value, json};

/// An intake for `credit_code` dispatched at `dispatched_at`, to `station`.
fn dispatched(credit_code: &str, dispatched_at: &str, station: &str) -> Value {
    let mut body = intake(credit_code);
    body["dispatched_at"] = json!(dispatched_at);
    body["station_code"] = json!(station);
    body
}

const SAME_DAY: &str = "2026-03-02T08:00:00+08:00";

async fn submit(app: &TestApp, w: &World, credit_code: &str, station: &str) -> String {
    id(&app
        .post(
            "/v1/complaints",
            &w.partner,
            dispatched(credit_code, SAME_DAY, station),
        )
        .await
        .expect(201))
}

async fn inbox(app: &TestApp, token: &str, case: &str, step: &str, body: Value) -> Value {
    app.post(&format!("/v1/inbox/{case}/{step}"), token, body)
        .await
        .expect(200)
}

async fn station(app: &TestApp, token: &str, case: &str, step: &str, body: Value) {
    app.post(&format!("/v1/queue/{case}/{step}"), token, body)
        .await
        .expect(200);
}

/// Read by the merchant: delivered.
async fn read(app: &TestApp, token: &str, case: &str) {
    app.get(&format!("/v1/inbox/{case}"), token)
        .await
        .expect(200);
}

/// The cases of March, as the test's comment in each step says.
struct March {
    f_delayed: String,
}

async fn replay_march(app: &TestApp, w: &World) -> March {
    let dc = &w.dc_staff;
    // a: not enrolled, at QJ-DC: accepted, initial feedback, mediated with 1000.
    let a = submit(app, w, &w.unenrolled_code, "QJ-DC").await;
    station(app, dc, &a, "claim", json!({})).await;
    station(app, dc, &a, "decision", json!({"accept": true})).await;
    station(
        app,
        dc,
        &a,
        "feedback",
        json!({"kind": "initial", "note": "已联系双方"}),
    )
    .await;
    let close = json!({"result": "mediated", "recovered_cents": 1000, "note": "调解成功"});
    station(app, dc, &a, "close", close).await;
    // b: not accepted, then its initial feedback.
    let b = submit(app, w, &w.unenrolled_code, "QJ-DC").await;
    station(app, dc, &b, "claim", json!({})).await;
    station(
        app,
        dc,
        &b,
        "decision",
        json!({"accept": false, "grounds": "不属于受理范围"}),
    )
    .await;
    station(
        app,
        dc,
        &b,
        "feedback",
        json!({"kind": "initial", "note": "已告知"}),
    )
    .await;
    // c: accepted and closed as terminated, with no initial feedback.
    let c = submit(app, w, &w.unenrolled_code, "QJ-DC").await;
    station(app, dc, &c, "claim", json!({})).await;
    station(app, dc, &c, "decision", json!({"accept": true})).await;
    let close = json!({"result": "mediation_terminated", "note": "终止调解"});
    station(app, dc, &c, "close", close).await;
    // d: declined by the merchant, left undecided at QJ-DC.
    let d = submit(app, w, &w.merchant_code, "QJ-DC").await;
    read(app, &w.merchant, &d).await;
    inbox(
        app,
        &w.merchant,
        &d,
        "decline",
        json!({"reason": "非本公司订单"}),
    )
    .await;
    // e: acknowledged, a proposal of 2000 the consumer accepts on March 12.
    let e = submit(app, w, &w.merchant_code, "QJ-DC").await;
    read(app, &w.merchant, &e).await;
    inbox(app, &w.merchant, &e, "acknowledge", json!({})).await;
    let proposal = app
        .post(
            &format!("/v1/inbox/{e}/proposals"),
            &w.merchant,
            json!({"remedy": "refund", "amount_cents": 2000}),
        )
        .await
        .expect(201);
    // f: dispatched the evening before and received now (a receive delay);
    // never acknowledged, so it escalates ack_overdue.
    let f = id(&app
        .post(
            "/v1/complaints",
            &w.partner,
            dispatched(&w.merchant_code, "2026-03-01T20:00:00+08:00", "QJ-DC"),
        )
        .await
        .expect(201));
    read(app, &w.merchant, &f).await;
    // g: acknowledged, the merchant reports a settlement of 500 (it stands).
    let g = submit(app, w, &w.merchant_code, "QJ-DC").await;
    read(app, &w.merchant, &g).await;
    inbox(app, &w.merchant, &g, "acknowledge", json!({})).await;
    let settle = json!({"remedy": "refund", "recovered_cents": 500});
    inbox(app, &w.merchant, &g, "settle", settle).await;
    // h: routed to the merchant and never read.
    submit(app, w, &w.merchant_code, "QJ-DC").await;
    // i: acknowledged, then the negotiation failed.
    let i = submit(app, w, &w.merchant_code, "QJ-DC").await;
    read(app, &w.merchant, &i).await;
    inbox(app, &w.merchant, &i, "acknowledge", json!({})).await;
    inbox(app, &w.merchant, &i, "fail", json!({"note": "协商不成"})).await;
    // y: at QJ-YL, declined by its merchant.
    let y = submit(app, w, &w.other_merchant_code, "QJ-YL").await;
    read(app, &w.other_merchant, &y).await;
    inbox(
        app,
        &w.other_merchant,
        &y,
        "decline",
        json!({"reason": "非本商场"}),
    )
    .await;
    // r: not enrolled, at the root station QJ.
    submit(app, w, &w.unenrolled_code, "QJ").await;

    // March 12: the decision clocks of March 2 (7 working days) have run out.
    app.set_clock("2026-03-12T10:00:00+08:00").await;
    let accept = json!({"decision": "accept", "proposal_id": id(&proposal)});
    app.post(
        &format!("/v1/complaints/{e}/consumer-response"),
        &w.partner,
        accept,
    )
    .await
    .expect(200);
    // y is decided late.
    station(app, &w.yl_staff, &y, "claim", json!({})).await;
    station(app, &w.yl_staff, &y, "decision", json!({"accept": true})).await;
    // April 1: initial-feedback clocks of c (from March 2) and y (from March 12) ran out.
    app.set_clock("2026-04-01T10:00:00+08:00").await;
    // An April arrival is not March's.
    submit(app, w, &w.unenrolled_code, "QJ-DC").await;
    March { f_delayed: f }
}

fn row(report: &Value, code: &str) -> Value {
    report["stations"]
        .as_array()
        .expect("stations")
        .iter()
        .find(|s| s["code"] == code)
        .cloned()
        .unwrap_or_else(|| panic!("no row for {code}"))
}

fn counters(
    received: u64,
    accepted: u64,
    not_accepted: u64,
    initial: u64,
    closing: u64,
    rate: Value,
) -> Value {
    json!({
        "received": received,
        "accepted": accepted,
        "not_accepted": not_accepted,
        "initial_feedback": initial,
        "closing_feedback": closing,
        "completed": closing + not_accepted,
        "completion_rate": rate,
    })
}

fn without_names(mut row: Value) -> Value {
    if let Some(map) = row.as_object_mut() {
        map.remove("code");
        map.remove("name");
    }
    row
}

/// Answers March's follow-ups (drawn on April 1): one very satisfied, one neutral.
async fn answer_followups(app: &TestApp, w: &World) {
    let list = app
        .get("/v1/followups?month=2026-03", &w.root_staff)
        .await
        .expect(200);
    let items = list["items"].as_array().expect("items");
    assert_eq!(items.len(), 2, "ceil(30 % of 5 ended complaints)");
    for (item, satisfaction) in items.iter().zip(["very_satisfied", "neutral"]) {
        app.post(
            &format!("/v1/followups/{}", id(item)),
            &w.root_staff,
            json!({"satisfaction": satisfaction}),
        )
        .await
        .expect(200);
    }
}

on_both_databases!(
    a_replayed_month_gives_the_bulletin_to_the_digit,
    |app: TestApp| async move {
        let w = world(&app).await;
        let march = replay_march(&app, &w).await;
        answer_followups(&app, &w).await;
        let report = app
            .get(
                "/v1/reports/monthly?station=QJ&month=2026-03",
                &w.root_staff,
            )
            .await
            .expect(200);
        assert_eq!(report["month"], "2026-03");
        assert_eq!(report["station"], "QJ");
        let codes: Vec<&str> = report["stations"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["code"].as_str().unwrap())
            .collect();
        assert_eq!(codes, ["QJ", "QJ-DC", "QJ-YL"], "tree order, every station");
        assert_eq!(row(&report, "QJ")["name"], "潜江市12315指挥中心");
        assert_eq!(
            without_names(row(&report, "QJ")),
            counters(1, 0, 0, 0, 0, json!(0.0))
        );
        // a, b, c, d, i, and f escalated ack_overdue on March 12.
        assert_eq!(
            without_names(row(&report, "QJ-DC")),
            counters(6, 2, 1, 2, 2, json!(50.0))
        );
        assert_eq!(
            without_names(row(&report, "QJ-YL")),
            counters(1, 1, 0, 0, 0, json!(0.0))
        );
        assert_eq!(report["total"], counters(8, 3, 1, 2, 2, json!(37.5)));
        assert_eq!(
            report["rates"],
            json!({
                "on_time_initial_check_rate": 75.0,
                "on_time_completion_rate": 100.0,
                "mediation_success_rate": 33.33,
                "satisfaction_rate": 50.0,
            })
        );
        assert_eq!(report["overdue"]["decision"], 5, "r; d, i, f; y");
        assert_eq!(report["overdue"]["initial_feedback"], 2, "c and y");
        assert_eq!(report["overdue"]["closing_feedback"], 0);
        let dc_overdue = report["overdue"]["stations"]
            .as_array()
            .unwrap()
            .iter()
            .find(|o| o["code"] == "QJ-DC")
            .cloned()
            .unwrap();
        assert_eq!(
            dc_overdue,
            json!({"code": "QJ-DC", "decision": 3, "initial_feedback": 1, "closing_feedback": 0})
        );
        assert_eq!(
            report["recovered_cents"],
            json!({"stations": 1000, "handlers": 2500, "total": 3500})
        );
        assert_eq!(
            report["followups"],
            json!({"sampled": 2, "answered": 2, "very_satisfied": 1, "satisfied": 0, "neutral": 1, "dissatisfied": 0})
        );

        let handlers = report["handlers"].as_array().unwrap();
        let names: Vec<&str> = handlers
            .iter()
            .map(|h| h["name"].as_str().unwrap())
            .collect();
        assert_eq!(
            names,
            ["家具公司", "维权服务站", "商场"],
            "by station in tree order, then name"
        );
        let merchant = &handlers[0];
        assert_eq!(merchant["id"], w.merchant_id.as_str());
        assert_eq!(merchant["forwarded"], 6, "d, e, f, g, h, i");
        assert_eq!(merchant["acknowledged_on_time"], 3, "e, g, i");
        assert_eq!(merchant["ack_on_time_rate"], 50.0);
        assert_eq!(merchant["settled"], 2, "e, g");
        assert_eq!(merchant["settlement_rate"], 33.33);
        assert_eq!(
            merchant["escalated"],
            json!({"declined": 1, "negotiation_failed": 1, "ack_overdue": 1})
        );
        // g settled at once (0 h); e from March 2 09:00 to March 12 10:00:
        // 15 h + 7 working days + 10 h = 193 h. The median of the two: 96.5.
        assert_eq!(merchant["median_hours_to_settle"], 96.5);
        assert_eq!(merchant["recovered_cents"], 2500);
        let rights = &handlers[1];
        assert_eq!(rights["forwarded"], 0);
        assert_eq!(rights["settlement_rate"], Value::Null);
        assert_eq!(rights["median_hours_to_settle"], Value::Null);
        let mall = &handlers[2];
        assert_eq!(mall["forwarded"], 1);
        assert_eq!(mall["escalated"], json!({"declined": 1}));
        assert_eq!(mall["settlement_rate"], 0.0);

        assert_eq!(
            report["receive_delays"],
            json!([{
                "complaint_id": march.f_delayed,
                "unit": "家具公司",
                "handler_id": w.merchant_id,
                "dispatched_at": "2026-03-01T20:00:00+08:00",
                "received_at": "2026-03-02T09:00:00+08:00",
            }])
        );

        exports_match_the_bulletin(&app, &w, &march).await;

        // A station below: its own subtree only.
        let dc = app
            .get("/v1/reports/monthly?month=2026-03", &w.dc_staff)
            .await
            .expect(200);
        assert_eq!(dc["station"], "QJ-DC", "staff default to their own station");
        assert_eq!(dc["stations"].as_array().unwrap().len(), 1);
        assert_eq!(dc["total"], counters(6, 2, 1, 2, 2, json!(50.0)));
        // April has the one April arrival.
        let april = app
            .get("/v1/reports/monthly?station=QJ&month=2026-04", &app.admin)
            .await
            .expect(200);
        assert_eq!(april["total"], counters(1, 0, 0, 0, 0, json!(0.0)));
        assert_eq!(april["rates"]["satisfaction_rate"], Value::Null);
    }
);

/// March's bulletin as the CSV prints it, section by section.
fn march_csv(march: &March) -> String {
    let title = |what: &str| format!("潜江市12315指挥中心（QJ）2026-03 {what}");
    let lines = [
        title("投诉处理情况"),
        "单位,接收量,受理量,不受理量,初查反馈量,结案反馈量,办结量,办结率".into(),
        "潜江市12315指挥中心,1,0,0,0,0,0,0.00%".into(),
        "东城市场监管所,6,2,1,2,2,3,50.00%".into(),
        "园林市场监管所,1,1,0,0,0,0,0.00%".into(),
        "合计,8,3,1,2,2,3,37.50%".into(),
        String::new(),
        title("主要指标"),
        "指标,数值".into(),
        "按时初查率,75.00%".into(),
        "按期办结率,100.00%".into(),
        "调解成功率,33.33%".into(),
        "满意率,50.00%".into(),
        String::new(),
        title("ODR单位处理情况"),
        "单位,类型,所属站,转办量,按时确认量,按时确认率,和解量,和解率,上转量,上转原因,和解用时中位数（工作小时）,挽回经济损失（元）".into(),
        "家具公司,ODR企业,QJ-DC,6,3,50.00%,2,33.33%,3,处理单位拒收 1；协商不成 1；受理超时 1,96.50,25.00".into(),
        "维权服务站,维权服务站,QJ-DC,0,0,,0,,0,,,0.00".into(),
        "商场,ODR企业,QJ-YL,1,0,0.00%,0,0.00%,1,处理单位拒收 1,,0.00".into(),
        String::new(),
        title("当日接收延迟"),
        "单位,投诉编号,转送时间,接收时间".into(),
        format!("家具公司,{},2026-03-01 20:00:00,2026-03-02 09:00:00", march.f_delayed),
        String::new(),
        title("超期情况"),
        "单位,受理超期,初查反馈超期,结案反馈超期".into(),
        "潜江市12315指挥中心,1,0,0".into(),
        "东城市场监管所,3,1,0".into(),
        "园林市场监管所,1,1,0".into(),
        "合计,5,2,0".into(),
        String::new(),
        title("回访满意度"),
        "抽样量,已回访,非常满意,满意,一般,不满意,满意率".into(),
        "2,2,1,0,1,0,50.00%".into(),
        String::new(),
        title("挽回经济损失"),
        "来源,金额（元）".into(),
        "监管站调解,10.00".into(),
        "ODR单位和解,25.00".into(),
        "合计,35.00".into(),
    ];
    let mut text = String::from("\u{feff}");
    for line in lines {
        text.push_str(&line);
        text.push_str("\r\n");
    }
    text
}

/// The CSV byte for byte, and the XLSX re-read cell by cell against it.
async fn exports_match_the_bulletin(app: &TestApp, w: &World, march: &March) {
    let path = "/v1/reports/monthly?station=QJ&month=2026-03&format=";
    let (status, headers, csv) = app.download(&format!("{path}csv"), &w.root_staff).await;
    assert_eq!(status, 200);
    assert_eq!(headers["content-type"], "text/csv; charset=utf-8");
    assert_eq!(
        headers["content-disposition"],
        "attachment; filename=\"12315-QJ-2026-03.csv\""
    );
    assert!(csv.starts_with(b"\xEF\xBB\xBF"), "UTF-8 with BOM");
    let csv = String::from_utf8(csv).expect("UTF-8");
    let want = march_csv(march);
    for (n, (got, want)) in csv.split("\r\n").zip(want.split("\r\n")).enumerate() {
        assert_eq!(got, want, "CSV line {}", n + 1);
    }
    assert_eq!(csv, want);

    let (status, headers, xlsx) = app.download(&format!("{path}xlsx"), &w.root_staff).await;
    assert_eq!(status, 200);
    assert_eq!(
        headers["content-type"],
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    );
    assert_eq!(
        headers["content-disposition"],
        "attachment; filename=\"12315-QJ-2026-03.xlsx\""
    );
    let mut book: Xlsx<_> = open_workbook_from_rs(Cursor::new(xlsx)).expect("an XLSX workbook");
    let sheets = book.sheet_names();
    assert_eq!(
        sheets,
        [
            "投诉处理情况",
            "主要指标",
            "ODR单位处理情况",
            "当日接收延迟",
            "超期情况",
            "回访满意度",
            "挽回经济损失"
        ]
    );
    // Each CSV section is one sheet: title, header, rows, cell for cell.
    let sections: Vec<&str> = want
        .trim_start_matches('\u{feff}')
        .split("\r\n\r\n")
        .collect();
    assert_eq!(sections.len(), sheets.len());
    for (sheet, section) in sheets.iter().zip(sections) {
        let range = book.worksheet_range(sheet).expect("sheet");
        let lines: Vec<&str> = section.trim_end_matches("\r\n").split("\r\n").collect();
        assert_eq!(range.height(), lines.len(), "{sheet}: rows");
        for (r, line) in lines.iter().enumerate() {
            let cells: Vec<String> = if r == 0 {
                vec![line.to_string()]
            } else {
                line.split(',').map(String::from).collect()
            };
            for (c, want) in cells.iter().enumerate() {
                let got = range
                    .get_value((r as u32, c as u32))
                    .cloned()
                    .unwrap_or(Data::Empty);
                assert_eq!(
                    as_csv(&got, want),
                    *want,
                    "{sheet} row {} column {}",
                    r + 1,
                    c + 1
                );
            }
        }
    }
}

/// A workbook cell written as the CSV writes it: rates are fractions shown
/// as percentages, amounts and hours have two decimals.
fn as_csv(cell: &Data, csv: &str) -> String {
    match cell {
        Data::String(s) => s.clone(),
        Data::Empty => String::new(),
        Data::Float(x) if csv.ends_with('%') => format!("{:.2}%", x * 100.0),
        Data::Float(x) if csv.contains('.') => format!("{x:.2}"),
        Data::Float(x) => format!("{x}"),
        other => panic!("unexpected cell {other:?}"),
    }
}

on_both_databases!(
    staff_see_reports_of_their_subtree_only,
    |app: TestApp| async move {
        let w = world(&app).await;
        let sibling = app
            .get(
                "/v1/reports/monthly?station=QJ-DC&month=2026-03",
                &w.yl_staff,
            )
            .await;
        assert_eq!(sibling.status, 404);
        let above = app
            .get("/v1/reports/monthly?station=QJ&month=2026-03", &w.dc_staff)
            .await;
        assert_eq!(above.status, 404);
        let unknown = app
            .get("/v1/reports/monthly?station=NOPE&month=2026-03", &app.admin)
            .await;
        assert_eq!(unknown.status, 404);
        let partner = app
            .get("/v1/reports/monthly?station=QJ&month=2026-03", &w.partner)
            .await;
        assert_eq!(partner.status, 403);
        for (query, field) in [
            ("station=QJ", "month"),
            ("station=QJ&month=2026-3", "month"),
            ("station=QJ&month=2026-03&format=pdf", "format"),
            ("station=QJ&month=2026-03&colour=red", "colour"),
            ("month=2026-03", "station"),
        ] {
            let bad = app
                .get(&format!("/v1/reports/monthly?{query}"), &app.admin)
                .await;
            assert_eq!(bad.status, 422, "{query}");
            assert_eq!(bad.fields(), [field], "{query}");
        }
        // A month with nothing in it: every station, zeros, null rates.
        let empty = app
            .get("/v1/reports/monthly?station=QJ&month=2026-01", &app.admin)
            .await
            .expect(200);
        assert_eq!(empty["total"], counters(0, 0, 0, 0, 0, Value::Null));
        assert_eq!(empty["stations"].as_array().unwrap().len(), 3);
        assert_eq!(empty["rates"]["on_time_initial_check_rate"], Value::Null);
    }
);
