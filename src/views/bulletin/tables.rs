//! The bulletin's tables, laid out once for both exports: a CSV section or
//! an XLSX sheet per table, with cells that keep their kind (a count, a
//! rate, an amount) so each writer can print it the way its readers expect.

use chrono::{DateTime, Utc};

use crate::domain::calendar::beijing_time;
use crate::domain::report::{MonthlyReport, StationCounts, reason_label};

/// One cell of a table.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Text(String),
    Count(u64),
    /// A percentage with two decimals (91.46), empty when it has no base.
    Rate(Option<f64>),
    /// Money in cents, printed in yuan.
    Money(i64),
    /// Working hours, empty when there is nothing to measure.
    Hours(Option<f64>),
    /// An instant, printed in Beijing time.
    Time(DateTime<Utc>),
}

impl Cell {
    /// How the cell reads as text: `100.00%`, `1234.50`, `2026-10-08 17:30:00`.
    pub fn text(&self) -> String {
        match self {
            Cell::Text(text) => text.clone(),
            Cell::Count(n) => n.to_string(),
            Cell::Rate(rate) => rate.map(|r| format!("{r:.2}%")).unwrap_or_default(),
            Cell::Money(cents) => yuan(*cents),
            Cell::Hours(hours) => hours.map(|h| format!("{h:.2}")).unwrap_or_default(),
            Cell::Time(at) => beijing_time(*at).format("%Y-%m-%d %H:%M:%S").to_string(),
        }
    }
}

/// Cents as yuan with two decimals, exactly (no floating point).
pub fn yuan(cents: i64) -> String {
    let sign = if cents < 0 { "-" } else { "" };
    let abs = cents.unsigned_abs();
    format!("{sign}{}.{:02}", abs / 100, abs % 100)
}

/// One table of the bulletin.
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    /// The sheet's name in the workbook (at most 31 characters).
    pub sheet: &'static str,
    /// The line above the table.
    pub title: String,
    pub header: Vec<&'static str>,
    pub rows: Vec<Vec<Cell>>,
    /// The last row is a total (合计) and is set off from the rest.
    pub total_row: bool,
}

/// The headers of the station table, as the monthly bulletin prints them.
pub const STATION_HEADER: [&str; 8] = [
    "单位",
    "接收量",
    "受理量",
    "不受理量",
    "初查反馈量",
    "结案反馈量",
    "办结量",
    "办结率",
];

const TOTAL: &str = "合计";

fn station_cells(unit: &str, c: &StationCounts) -> Vec<Cell> {
    vec![
        Cell::Text(unit.to_string()),
        Cell::Count(c.received),
        Cell::Count(c.accepted),
        Cell::Count(c.not_accepted),
        Cell::Count(c.initial_feedback),
        Cell::Count(c.closing_feedback),
        Cell::Count(c.completed()),
        Cell::Rate(c.completion_rate()),
    ]
}

fn overdue_cells(unit: &str, c: &StationCounts) -> Vec<Cell> {
    vec![
        Cell::Text(unit.to_string()),
        Cell::Count(c.decision_overdue),
        Cell::Count(c.initial_feedback_overdue),
        Cell::Count(c.closing_overdue),
    ]
}

fn handler_kind(kind: &str) -> String {
    match kind {
        "merchant" => "ODR企业".to_string(),
        "rights_station" => "维权服务站".to_string(),
        other => other.to_string(),
    }
}

/// Every table of the report, in the order the bulletin prints them.
pub fn tables(report: &MonthlyReport) -> Vec<Table> {
    let total = report.total();
    let heading = |what: &str| {
        format!(
            "{}（{}）{} {what}",
            report.station_name, report.station_code, report.month
        )
    };

    let mut stations: Vec<Vec<Cell>> = report
        .stations
        .iter()
        .map(|row| station_cells(&row.name, &row.counts))
        .collect();
    stations.push(station_cells(TOTAL, &total));

    let rates = report.rates();
    let indicators = vec![
        ("按时初查率", rates.on_time_initial_check_rate),
        ("按期办结率", rates.on_time_completion_rate),
        ("调解成功率", rates.mediation_success_rate),
        ("满意率", rates.satisfaction_rate),
    ]
    .into_iter()
    .map(|(name, rate)| vec![Cell::Text(name.to_string()), Cell::Rate(rate)])
    .collect();

    let handlers = report
        .handlers
        .iter()
        .map(|h| {
            let reasons: Vec<String> = h
                .escalated
                .iter()
                .map(|(reason, n)| format!("{} {n}", reason_label(*reason)))
                .collect();
            vec![
                Cell::Text(h.name.clone()),
                Cell::Text(handler_kind(&h.kind)),
                Cell::Text(h.station_code.clone()),
                Cell::Count(h.forwarded),
                Cell::Count(h.acknowledged_on_time),
                Cell::Rate(h.ack_on_time_rate()),
                Cell::Count(h.settled),
                Cell::Rate(h.settlement_rate()),
                Cell::Count(h.escalated_total()),
                Cell::Text(reasons.join("；")),
                Cell::Hours(h.median_hours_to_settle),
                Cell::Money(h.recovered_cents),
            ]
        })
        .collect();

    let delays = report
        .receive_delays
        .iter()
        .map(|d| {
            vec![
                Cell::Text(d.unit.clone()),
                Cell::Text(d.complaint_id.clone()),
                Cell::Time(d.dispatched_at),
                Cell::Time(d.received_at),
            ]
        })
        .collect();

    let mut overdue: Vec<Vec<Cell>> = report
        .stations
        .iter()
        .map(|row| overdue_cells(&row.name, &row.counts))
        .collect();
    overdue.push(overdue_cells(TOTAL, &total));

    let s = &report.satisfaction;
    let satisfaction = vec![vec![
        Cell::Count(s.answered() + s.pending),
        Cell::Count(s.answered()),
        Cell::Count(s.very_satisfied),
        Cell::Count(s.satisfied),
        Cell::Count(s.neutral),
        Cell::Count(s.dissatisfied),
        Cell::Rate(s.rate()),
    ]];

    let by_handlers = report.handlers_recovered_cents();
    let recovered = vec![
        vec![
            Cell::Text("监管站调解".to_string()),
            Cell::Money(total.recovered_cents),
        ],
        vec![
            Cell::Text("ODR单位和解".to_string()),
            Cell::Money(by_handlers),
        ],
        vec![
            Cell::Text(TOTAL.to_string()),
            Cell::Money(total.recovered_cents + by_handlers),
        ],
    ];

    vec![
        Table {
            sheet: "投诉处理情况",
            title: heading("投诉处理情况"),
            header: STATION_HEADER.to_vec(),
            rows: stations,
            total_row: true,
        },
        Table {
            sheet: "主要指标",
            title: heading("主要指标"),
            header: vec!["指标", "数值"],
            rows: indicators,
            total_row: false,
        },
        Table {
            sheet: "ODR单位处理情况",
            title: heading("ODR单位处理情况"),
            header: vec![
                "单位",
                "类型",
                "所属站",
                "转办量",
                "按时确认量",
                "按时确认率",
                "和解量",
                "和解率",
                "上转量",
                "上转原因",
                "和解用时中位数（工作小时）",
                "挽回经济损失（元）",
            ],
            rows: handlers,
            total_row: false,
        },
        Table {
            sheet: "当日接收延迟",
            title: heading("当日接收延迟"),
            header: vec!["单位", "投诉编号", "转送时间", "接收时间"],
            rows: delays,
            total_row: false,
        },
        Table {
            sheet: "超期情况",
            title: heading("超期情况"),
            header: vec!["单位", "受理超期", "初查反馈超期", "结案反馈超期"],
            rows: overdue,
            total_row: true,
        },
        Table {
            sheet: "回访满意度",
            title: heading("回访满意度"),
            header: vec![
                "抽样量",
                "已回访",
                "非常满意",
                "满意",
                "一般",
                "不满意",
                "满意率",
            ],
            rows: satisfaction,
            total_row: false,
        },
        Table {
            sheet: "挽回经济损失",
            title: heading("挽回经济损失"),
            header: vec!["来源", "金额（元）"],
            rows: recovered,
            total_row: true,
        },
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_read_as_the_bulletin_prints_them() {
        assert_eq!(Cell::Rate(Some(91.46)).text(), "91.46%");
        assert_eq!(Cell::Rate(Some(100.0)).text(), "100.00%");
        assert_eq!(Cell::Rate(None).text(), "");
        assert_eq!(Cell::Money(123_450).text(), "1234.50");
        assert_eq!(Cell::Money(-5).text(), "-0.05");
        assert_eq!(Cell::Hours(Some(2.5)).text(), "2.50");
        let at = "2026-10-08T09:30:00Z".parse().unwrap();
        assert_eq!(Cell::Time(at).text(), "2026-10-08 17:30:00");
    }
}
