use super::*;

fn instant(rfc3339: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(rfc3339)
        .expect("test instant")
        .with_timezone(&Utc)
}

#[test]
fn a_month_is_a_beijing_calendar_month() {
    let october: Month = "2026-10".parse().unwrap();
    assert_eq!(october.to_string(), "2026-10");
    assert_eq!(october.start(), instant("2026-10-01T00:00:00+08:00"));
    assert_eq!(october.end(), instant("2026-11-01T00:00:00+08:00"));
    // 2026-09-30T16:30Z is already October 1st in Beijing.
    assert_eq!(Month::of(instant("2026-09-30T16:30:00Z")), october);
    assert_eq!(
        Month::of(instant("2026-09-30T15:59:59Z")),
        october.previous()
    );
    assert!(october.contains(instant("2026-10-31T23:59:59+08:00")));
    assert!(!october.contains(instant("2026-11-01T00:00:00+08:00")));
    let december: Month = "2026-12".parse().unwrap();
    assert_eq!(december.next().to_string(), "2027-01");
    assert_eq!(december.next().previous(), december);
}

#[test]
fn a_month_must_be_written_yyyy_mm() {
    for bad in [
        "2026-13",
        "2026-00",
        "2026-1",
        "26-10",
        "2026/10",
        "2026-10-01",
        "",
        "1999-12",
        "２０２６-10",
    ] {
        assert!(bad.parse::<Month>().is_err(), "{bad}");
    }
}

#[test]
fn percentages_round_half_up_to_two_decimals() {
    assert_eq!(percent(75, 82), Some(91.46));
    assert_eq!(percent(2, 3), Some(66.67));
    assert_eq!(percent(1, 3), Some(33.33));
    assert_eq!(percent(1, 8), Some(12.5));
    assert_eq!(percent(1, 800), Some(0.13), "0.125 rounds up");
    assert_eq!(percent(0, 5), Some(0.0));
    assert_eq!(percent(5, 5), Some(100.0));
    assert_eq!(percent(0, 0), None);
}

#[test]
fn completed_is_closing_feedback_plus_not_accepted() {
    let counts = StationCounts {
        received: 82,
        accepted: 70,
        not_accepted: 7,
        closing_feedback: 68,
        ..Default::default()
    };
    assert_eq!(counts.completed(), 75);
    assert_eq!(counts.completion_rate(), Some(91.46));
    assert_eq!(StationCounts::default().completion_rate(), None);
}

#[test]
fn the_total_row_adds_the_stations_and_the_rates_divide_it() {
    let row = |code: &str, counts| StationRow {
        code: code.into(),
        name: code.into(),
        depth: 0,
        counts,
    };
    let report = MonthlyReport {
        month: "2026-10".parse().unwrap(),
        station_code: "QJ".into(),
        station_name: "潜江".into(),
        stations: vec![
            row(
                "QJ",
                StationCounts {
                    received: 4,
                    accepted: 2,
                    not_accepted: 1,
                    decided_on_time: 3,
                    closing_feedback: 2,
                    completed_on_time: 2,
                    mediated: 1,
                    recovered_cents: 500,
                    ..Default::default()
                },
            ),
            row(
                "QJ-DC",
                StationCounts {
                    received: 2,
                    accepted: 1,
                    decided_on_time: 0,
                    closing_feedback: 1,
                    completed_on_time: 1,
                    mediated: 1,
                    recovered_cents: 250,
                    ..Default::default()
                },
            ),
        ],
        handlers: vec![],
        receive_delays: vec![],
        satisfaction: SatisfactionCounts {
            very_satisfied: 1,
            satisfied: 1,
            dissatisfied: 1,
            pending: 4,
            ..Default::default()
        },
    };
    let total = report.total();
    assert_eq!(total.received, 6);
    assert_eq!(total.completed(), 4);
    assert_eq!(total.recovered_cents, 750);
    let rates = report.rates();
    assert_eq!(
        rates.on_time_initial_check_rate,
        Some(75.0),
        "3 of 4 decisions"
    );
    assert_eq!(
        rates.on_time_completion_rate,
        Some(75.0),
        "3 of 4 completed"
    );
    assert_eq!(rates.mediation_success_rate, Some(50.0), "2 of 4 completed");
    assert_eq!(rates.satisfaction_rate, Some(66.67), "2 of 3 answered");
    assert_eq!(report.file_name("xlsx"), "12315-QJ-2026-10.xlsx");
}

#[test]
fn the_sample_size_is_the_ceiling_of_the_share() {
    assert_eq!(sample_size(0.3, 10), 3);
    assert_eq!(sample_size(0.3, 11), 4);
    assert_eq!(sample_size(0.3, 1), 1);
    assert_eq!(sample_size(0.3, 0), 0);
    assert_eq!(sample_size(1.0, 7), 7);
    assert_eq!(sample_size(0.0, 7), 0);
    assert_eq!(sample_size(0.07, 100), 7);
}

fn ended(id: &str, root: &str) -> Ended {
    Ended {
        complaint_id: id.into(),
        station_code: format!("{root}-X"),
        root_code: root.into(),
    }
}

/// The expected draw written out independently: sort by the hex digest of
/// "month" followed by the id, take the first ceil(0.3 n).
fn by_digest(month: &str, ids: &[&str], take: usize) -> Vec<String> {
    let mut keyed: Vec<(String, String)> = ids
        .iter()
        .map(|id| {
            let digest = Sha256::digest(format!("{month}{id}").as_bytes());
            let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
            (hex, id.to_string())
        })
        .collect();
    keyed.sort();
    keyed.into_iter().take(take).map(|(_, id)| id).collect()
}

#[test]
fn the_sample_takes_the_smallest_digests_of_each_root() {
    let month: Month = "2026-10".parse().unwrap();
    let qj: Vec<String> = (0..10).map(|i| format!("qj-{i}")).collect();
    let xt: Vec<String> = (0..4).map(|i| format!("xt-{i}")).collect();
    let mut cases: Vec<Ended> = qj.iter().map(|id| ended(id, "QJ")).collect();
    cases.extend(xt.iter().map(|id| ended(id, "XT")));
    let drawn = sample(month, 0.3, cases.clone());
    let ids = |root: &str| -> Vec<String> {
        let mut found: Vec<String> = drawn
            .iter()
            .filter(|e| e.root_code == root)
            .map(|e| e.complaint_id.clone())
            .collect();
        found.sort();
        found
    };
    let mut want_qj = by_digest(
        "2026-10",
        &qj.iter().map(String::as_str).collect::<Vec<_>>(),
        3,
    );
    want_qj.sort();
    let mut want_xt = by_digest(
        "2026-10",
        &xt.iter().map(String::as_str).collect::<Vec<_>>(),
        2,
    );
    want_xt.sort();
    assert_eq!(ids("QJ"), want_qj);
    assert_eq!(ids("XT"), want_xt, "ceil(0.3 × 4) = 2");
    // The same complaints in another order give the same sample.
    cases.reverse();
    let mut again: Vec<String> = sample(month, 0.3, cases)
        .into_iter()
        .map(|e| e.complaint_id)
        .collect();
    let mut first: Vec<String> = drawn.iter().map(|e| e.complaint_id.clone()).collect();
    again.sort();
    first.sort();
    assert_eq!(again, first);
    // Another month draws another sample from the same complaints.
    let november: Vec<String> = by_digest(
        "2026-11",
        &qj.iter().map(String::as_str).collect::<Vec<_>>(),
        3,
    );
    assert_ne!(
        november,
        by_digest(
            "2026-10",
            &qj.iter().map(String::as_str).collect::<Vec<_>>(),
            3
        )
    );
}

#[test]
fn the_sample_of_a_large_month_is_about_the_share() {
    let month: Month = "2026-10".parse().unwrap();
    let cases: Vec<Ended> = (0..1000)
        .map(|i| ended(&format!("c-{i:04}"), "QJ"))
        .collect();
    let drawn = sample(month, 0.3, cases);
    assert_eq!(drawn.len(), 300);
    // Spread over the ids, not the first ones in any order.
    let low = drawn
        .iter()
        .filter(|e| e.complaint_id.as_str() < "c-0500")
        .count();
    assert!(
        (100..=200).contains(&low),
        "{low} of 300 from the first half"
    );
}

#[test]
fn every_escalation_reason_has_a_chinese_label() {
    for reason in EscalationReason::ALL {
        assert!(!reason_label(*reason).is_empty());
    }
}
