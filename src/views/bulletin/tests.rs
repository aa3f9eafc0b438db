use std::collections::BTreeMap;
use std::io::Cursor;

use calamine::{Data, Reader, Xlsx, open_workbook_from_rs};

use super::*;
use crate::domain::lifecycle::EscalationReason;
use crate::domain::report::{Month, SatisfactionCounts, StationRow};

fn counts(received: u64, accepted: u64, not_accepted: u64, closing: u64) -> StationCounts {
    StationCounts {
        received,
        accepted,
        not_accepted,
        initial_feedback: accepted,
        closing_feedback: closing,
        decided_on_time: accepted + not_accepted,
        completed_on_time: closing + not_accepted,
        mediated: closing,
        decision_overdue: 0,
        initial_feedback_overdue: 1,
        closing_overdue: received - accepted - not_accepted,
        recovered_cents: 12_345,
    }
}

/// A root with two stations: 东城 received 3 (2 accepted, 1 not, 1 closed),
/// 西城 nothing; one merchant; one late receipt; three follow-ups answered.
fn report() -> MonthlyReport {
    MonthlyReport {
        month: "2026-10".parse::<Month>().unwrap(),
        station_code: "QJ".into(),
        station_name: "青江区市场监管局".into(),
        stations: vec![
            StationRow {
                code: "QJ".into(),
                name: "青江区市场监管局".into(),
                depth: 0,
                counts: StationCounts::default(),
            },
            StationRow {
                code: "QJ-DC".into(),
                name: "东城市场监管所".into(),
                depth: 1,
                counts: counts(3, 2, 1, 1),
            },
        ],
        handlers: vec![HandlerRow {
            id: "h-1".into(),
            name: "星河电器, \"旗舰店\"".into(),
            kind: "merchant".into(),
            station_code: "QJ-DC".into(),
            forwarded: 4,
            acknowledged_on_time: 3,
            settled: 1,
            escalated: BTreeMap::from([
                (EscalationReason::NegotiationFailed, 2),
                (EscalationReason::AckOverdue, 1),
            ]),
            median_hours_to_settle: Some(5.5),
            recovered_cents: 9_900,
        }],
        receive_delays: vec![ReceiveDelay {
            complaint_id: "c-9".into(),
            handler_id: "h-1".into(),
            unit: "星河电器".into(),
            dispatched_at: "2026-10-08T15:30:00Z".parse().unwrap(),
            received_at: "2026-10-09T01:00:00Z".parse().unwrap(),
        }],
        satisfaction: SatisfactionCounts {
            very_satisfied: 1,
            satisfied: 1,
            neutral: 0,
            dissatisfied: 1,
            pending: 2,
        },
    }
}

const CSV: &str = "\u{feff}\
青江区市场监管局（QJ）2026-10 投诉处理情况\r\n\
单位,接收量,受理量,不受理量,初查反馈量,结案反馈量,办结量,办结率\r\n\
青江区市场监管局,0,0,0,0,0,0,\r\n\
东城市场监管所,3,2,1,2,1,2,66.67%\r\n\
合计,3,2,1,2,1,2,66.67%\r\n\
\r\n\
青江区市场监管局（QJ）2026-10 主要指标\r\n\
指标,数值\r\n\
按时初查率,100.00%\r\n\
按期办结率,100.00%\r\n\
调解成功率,50.00%\r\n\
满意率,66.67%\r\n\
\r\n\
青江区市场监管局（QJ）2026-10 ODR单位处理情况\r\n\
单位,类型,所属站,转办量,按时确认量,按时确认率,和解量,和解率,上转量,上转原因,和解用时中位数（工作小时）,挽回经济损失（元）\r\n\
\"星河电器, \"\"旗舰店\"\"\",ODR企业,QJ-DC,4,3,75.00%,1,25.00%,3,协商不成 2；受理超时 1,5.50,99.00\r\n\
\r\n\
青江区市场监管局（QJ）2026-10 当日接收延迟\r\n\
单位,投诉编号,转送时间,接收时间\r\n\
星河电器,c-9,2026-10-08 23:30:00,2026-10-09 09:00:00\r\n\
\r\n\
青江区市场监管局（QJ）2026-10 超期情况\r\n\
单位,受理超期,初查反馈超期,结案反馈超期\r\n\
青江区市场监管局,0,0,0\r\n\
东城市场监管所,0,1,0\r\n\
合计,0,1,0\r\n\
\r\n\
青江区市场监管局（QJ）2026-10 回访满意度\r\n\
抽样量,已回访,非常满意,满意,一般,不满意,满意率\r\n\
5,3,1,1,0,1,66.67%\r\n\
\r\n\
青江区市场监管局（QJ）2026-10 挽回经济损失\r\n\
来源,金额（元）\r\n\
监管站调解,123.45\r\n\
ODR单位和解,99.00\r\n\
合计,222.45\r\n";

#[test]
fn the_csv_is_the_bulletin_with_a_bom_and_crlf() {
    let bytes = csv::csv(&report()).unwrap();
    assert_eq!(&bytes[..3], b"\xEF\xBB\xBF", "starts with the UTF-8 BOM");
    let text = String::from_utf8(bytes).unwrap();
    for (line, (got, want)) in text.split("\r\n").zip(CSV.split("\r\n")).enumerate() {
        assert_eq!(got, want, "line {}", line + 1);
    }
    assert_eq!(text, CSV);
}

fn sheet(workbook: &mut Xlsx<Cursor<Vec<u8>>>, name: &str) -> calamine::Range<Data> {
    workbook.worksheet_range(name).unwrap()
}

fn text(s: &str) -> Data {
    Data::String(s.to_string())
}

#[test]
fn the_xlsx_has_a_sheet_per_table_with_typed_cells() {
    let report = report();
    let bytes = xlsx::xlsx(&report).unwrap();
    let mut workbook: Xlsx<_> = open_workbook_from_rs(Cursor::new(bytes)).unwrap();
    let names: Vec<String> = tables::tables(&report)
        .iter()
        .map(|t| t.sheet.to_string())
        .collect();
    assert_eq!(workbook.sheet_names(), names);

    let stations = sheet(&mut workbook, "投诉处理情况");
    assert_eq!(
        stations.get_value((0, 0)),
        Some(&text("青江区市场监管局（QJ）2026-10 投诉处理情况"))
    );
    let header: Vec<Data> = (0..8)
        .map(|c| stations.get_value((1, c)).unwrap().clone())
        .collect();
    let want: Vec<Data> = tables::STATION_HEADER.iter().map(|h| text(h)).collect();
    assert_eq!(header, want);
    let row = |r: u32| -> Vec<Data> {
        (0..8)
            .map(|c| stations.get_value((r, c)).cloned().unwrap_or(Data::Empty))
            .collect()
    };
    let n = |x: f64| Data::Float(x);
    assert_eq!(
        row(2),
        vec![
            text("青江区市场监管局"),
            n(0.0),
            n(0.0),
            n(0.0),
            n(0.0),
            n(0.0),
            n(0.0),
            Data::Empty
        ]
    );
    let dc = row(3);
    assert_eq!(
        dc[..7],
        [
            text("东城市场监管所"),
            n(3.0),
            n(2.0),
            n(1.0),
            n(2.0),
            n(1.0),
            n(2.0)
        ]
    );
    match &dc[7] {
        Data::Float(rate) => assert_eq!(*rate, 0.6667),
        other => panic!("the rate is a number, got {other:?}"),
    }
    assert_eq!(row(4)[0], text("合计"));
    assert_eq!(row(4)[1], n(3.0));

    let handlers = sheet(&mut workbook, "ODR单位处理情况");
    assert_eq!(
        handlers.get_value((2, 0)),
        Some(&text("星河电器, \"旗舰店\""))
    );
    assert_eq!(handlers.get_value((2, 3)), Some(&n(4.0)));
    assert_eq!(handlers.get_value((2, 5)), Some(&n(0.75)));
    assert_eq!(
        handlers.get_value((2, 9)),
        Some(&text("协商不成 2；受理超时 1"))
    );
    assert_eq!(handlers.get_value((2, 10)), Some(&n(5.5)));
    assert_eq!(handlers.get_value((2, 11)), Some(&n(99.0)));

    let delays = sheet(&mut workbook, "当日接收延迟");
    assert_eq!(delays.get_value((2, 2)), Some(&text("2026-10-08 23:30:00")));
    assert_eq!(delays.get_value((2, 3)), Some(&text("2026-10-09 09:00:00")));

    let money = sheet(&mut workbook, "挽回经济损失");
    assert_eq!(money.get_value((4, 0)), Some(&text("合计")));
    assert_eq!(money.get_value((4, 1)), Some(&n(222.45)));
}

#[test]
fn every_export_cell_matches_its_csv_text() {
    // The CSV and the workbook are written from the same tables: each
    // workbook cell, printed the way the CSV prints it, reads the same.
    let report = report();
    let bytes = xlsx::xlsx(&report).unwrap();
    let mut workbook: Xlsx<_> = open_workbook_from_rs(Cursor::new(bytes)).unwrap();
    for table in tables::tables(&report) {
        let range = sheet(&mut workbook, table.sheet);
        for (r, row) in table.rows.iter().enumerate() {
            for (c, cell) in row.iter().enumerate() {
                let got = range
                    .get_value((r as u32 + 2, c as u32))
                    .cloned()
                    .unwrap_or(Data::Empty);
                let printed = match (&got, cell) {
                    (Data::Float(x), tables::Cell::Rate(_)) => format!("{:.2}%", x * 100.0),
                    (Data::Float(x), tables::Cell::Money(_) | tables::Cell::Hours(_)) => {
                        format!("{x:.2}")
                    }
                    (Data::Float(x), _) => format!("{x}"),
                    (Data::String(s), _) => s.clone(),
                    (Data::Empty, _) => String::new(),
                    (other, _) => panic!("unexpected cell {other:?}"),
                };
                assert_eq!(printed, cell.text(), "{} row {r} column {c}", table.sheet);
            }
        }
    }
}
