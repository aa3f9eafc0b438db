//! The supervisors' numbers (SPEC §8): the monthly bulletin's tables, its
//! rates, and the follow-up sample. Pure: the store counts rows with SQL
//! aggregates and hands the counts here; everything derived from counts
//! (completed, rates, totals) is computed in this one place.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::calendar::{beijing_date, start_of_day};
use super::lifecycle::{EscalationReason, UnknownValue, string_enum};

/// A Beijing-time calendar month (`2026-10`), the period a report counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Month {
    year: i32,
    month: u32,
}

impl Month {
    pub fn new(year: i32, month: u32) -> Option<Month> {
        ((1..=12).contains(&month) && (2000..=2100).contains(&year))
            .then_some(Month { year, month })
    }

    /// The month of `at` in Beijing time.
    pub fn of(at: DateTime<Utc>) -> Month {
        let day = beijing_date(at);
        Month {
            year: day.year(),
            month: day.month(),
        }
    }

    fn first_day(self) -> NaiveDate {
        NaiveDate::from_ymd_opt(self.year, self.month, 1).expect("a month has a first day")
    }

    /// 00:00 Beijing time on the first day.
    pub fn start(self) -> DateTime<Utc> {
        start_of_day(self.first_day())
    }

    /// 00:00 Beijing time on the first day of the next month (exclusive).
    pub fn end(self) -> DateTime<Utc> {
        self.next().start()
    }

    pub fn next(self) -> Month {
        if self.month == 12 {
            Month {
                year: self.year + 1,
                month: 1,
            }
        } else {
            Month {
                year: self.year,
                month: self.month + 1,
            }
        }
    }

    pub fn previous(self) -> Month {
        if self.month == 1 {
            Month {
                year: self.year - 1,
                month: 12,
            }
        } else {
            Month {
                year: self.year,
                month: self.month - 1,
            }
        }
    }

    pub fn contains(self, at: DateTime<Utc>) -> bool {
        self.start() <= at && at < self.end()
    }
}

impl fmt::Display for Month {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}", self.year, self.month)
    }
}

impl FromStr for Month {
    type Err = String;
    fn from_str(text: &str) -> Result<Month, String> {
        let bad = || "must be a month like 2026-10 (YYYY-MM, from 2000 to 2100)".to_string();
        let (year, month) = text.split_once('-').ok_or_else(bad)?;
        if year.len() != 4
            || month.len() != 2
            || !(year.bytes().chain(month.bytes())).all(|b| b.is_ascii_digit())
        {
            return Err(bad());
        }
        Month::new(
            year.parse().map_err(|_| bad())?,
            month.parse().map_err(|_| bad())?,
        )
        .ok_or_else(bad)
    }
}

impl Serialize for Month {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// `part / whole` as a percentage rounded half up to two decimals (91.46),
/// `None` when `whole` is zero. Integer arithmetic, so 2/3 is 66.67 exactly.
pub fn percent(part: u64, whole: u64) -> Option<f64> {
    if whole == 0 {
        return None;
    }
    let basis_points = (u128::from(part) * 20_000 + u128::from(whole)) / (2 * u128::from(whole));
    Some(basis_points as f64 / 100.0)
}

/// One station's row of the bulletin table, and what its rates and overdue
/// marks are counted from. The cohort is the complaints that reached the
/// station's queue in the month; the other counters are how those stand now.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StationCounts {
    /// 接收量
    pub received: u64,
    /// 受理量
    pub accepted: u64,
    /// 不受理量
    pub not_accepted: u64,
    /// 初查反馈量
    pub initial_feedback: u64,
    /// 结案反馈量: closed after acceptance, with the closing note.
    pub closing_feedback: u64,
    /// Decisions (accepted or not) made within the decision deadline.
    pub decided_on_time: u64,
    /// Completed (closed with feedback, or not accepted) within their deadline.
    pub completed_on_time: u64,
    /// Closed with result `mediated`.
    pub mediated: u64,
    /// Decision deadline missed (受理超期).
    pub decision_overdue: u64,
    /// Initial-check feedback deadline missed (初查反馈超期).
    pub initial_feedback_overdue: u64,
    /// Mediation (closing) deadline missed (结案反馈超期).
    pub closing_overdue: u64,
    /// Money recovered for consumers by the station's closures (挽回经济损失).
    pub recovered_cents: i64,
}

impl StationCounts {
    /// 办结量 = 结案反馈量 + 不受理量.
    pub fn completed(&self) -> u64 {
        self.closing_feedback + self.not_accepted
    }

    /// 办结率, null when nothing was received.
    pub fn completion_rate(&self) -> Option<f64> {
        percent(self.completed(), self.received)
    }

    pub fn decided(&self) -> u64 {
        self.accepted + self.not_accepted
    }

    pub fn add(&mut self, other: &StationCounts) {
        self.received += other.received;
        self.accepted += other.accepted;
        self.not_accepted += other.not_accepted;
        self.initial_feedback += other.initial_feedback;
        self.closing_feedback += other.closing_feedback;
        self.decided_on_time += other.decided_on_time;
        self.completed_on_time += other.completed_on_time;
        self.mediated += other.mediated;
        self.decision_overdue += other.decision_overdue;
        self.initial_feedback_overdue += other.initial_feedback_overdue;
        self.closing_overdue += other.closing_overdue;
        self.recovered_cents += other.recovered_cents;
    }
}

/// A station of the subtree, in tree order, with its counts.
#[derive(Debug, Clone, PartialEq)]
pub struct StationRow {
    pub code: String,
    pub name: String,
    /// 0 for the subtree's root, 1 for its children, …
    pub depth: usize,
    pub counts: StationCounts,
}

/// The follow-up answers of the month's sample in the subtree.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SatisfactionCounts {
    pub very_satisfied: u64,
    pub satisfied: u64,
    pub neutral: u64,
    pub dissatisfied: u64,
    /// Sampled but not answered yet.
    pub pending: u64,
}

impl SatisfactionCounts {
    pub fn answered(&self) -> u64 {
        self.very_satisfied + self.satisfied + self.neutral + self.dissatisfied
    }

    /// 满意率: (very satisfied + satisfied) ÷ answered.
    pub fn rate(&self) -> Option<f64> {
        percent(self.very_satisfied + self.satisfied, self.answered())
    }

    pub fn count(&mut self, satisfaction: Satisfaction, n: u64) {
        match satisfaction {
            Satisfaction::VerySatisfied => self.very_satisfied += n,
            Satisfaction::Satisfied => self.satisfied += n,
            Satisfaction::Neutral => self.neutral += n,
            Satisfaction::Dissatisfied => self.dissatisfied += n,
        }
    }
}

/// The bulletin's rates over the whole subtree.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Rates {
    /// 按时初查率: decisions made within their deadline ÷ decisions.
    pub on_time_initial_check_rate: Option<f64>,
    /// 按期办结率: completed within deadline ÷ completed.
    pub on_time_completion_rate: Option<f64>,
    /// 调解成功率: closed as mediated ÷ completed.
    pub mediation_success_rate: Option<f64>,
    /// 满意率: very satisfied + satisfied ÷ follow-ups answered.
    pub satisfaction_rate: Option<f64>,
}

impl Rates {
    pub fn of(total: &StationCounts, satisfaction: &SatisfactionCounts) -> Rates {
        Rates {
            on_time_initial_check_rate: percent(total.decided_on_time, total.decided()),
            on_time_completion_rate: percent(total.completed_on_time, total.completed()),
            mediation_success_rate: percent(total.mediated, total.completed()),
            satisfaction_rate: satisfaction.rate(),
        }
    }
}

/// One handler of the subtree and the complaints routed to it in the month.
#[derive(Debug, Clone, PartialEq)]
pub struct HandlerRow {
    pub id: String,
    pub name: String,
    pub kind: String,
    pub station_code: String,
    /// Routed to the handler in the month (转办量).
    pub forwarded: u64,
    /// Of those, acknowledged before the acknowledgement deadline.
    pub acknowledged_on_time: u64,
    /// Of those, settled (by the consumer's acceptance or a settlement that was not objected to).
    pub settled: u64,
    /// Of those, escalated to the station, by the reason they carry now.
    pub escalated: BTreeMap<EscalationReason, u64>,
    /// Median working hours from receipt to settlement of the settled ones.
    pub median_hours_to_settle: Option<f64>,
    /// Money recovered for consumers by the settlements.
    pub recovered_cents: i64,
}

impl HandlerRow {
    pub fn settlement_rate(&self) -> Option<f64> {
        percent(self.settled, self.forwarded)
    }

    pub fn ack_on_time_rate(&self) -> Option<f64> {
        percent(self.acknowledged_on_time, self.forwarded)
    }

    pub fn escalated_total(&self) -> u64 {
        self.escalated.values().sum()
    }
}

/// A complaint received on a later Beijing calendar day than it was
/// dispatched (当日接收延迟).
#[derive(Debug, Clone, PartialEq)]
pub struct ReceiveDelay {
    pub complaint_id: String,
    pub handler_id: String,
    /// The unit that received it late (the handler's name).
    pub unit: String,
    pub dispatched_at: DateTime<Utc>,
    pub received_at: DateTime<Utc>,
}

/// The monthly report of one station subtree (SPEC §8).
#[derive(Debug, Clone, PartialEq)]
pub struct MonthlyReport {
    pub month: Month,
    pub station_code: String,
    pub station_name: String,
    /// In tree order: the station asked for, then its descendants depth first.
    pub stations: Vec<StationRow>,
    pub handlers: Vec<HandlerRow>,
    pub receive_delays: Vec<ReceiveDelay>,
    pub satisfaction: SatisfactionCounts,
}

impl MonthlyReport {
    /// The 合计 row.
    pub fn total(&self) -> StationCounts {
        let mut total = StationCounts::default();
        for row in &self.stations {
            total.add(&row.counts);
        }
        total
    }

    pub fn rates(&self) -> Rates {
        Rates::of(&self.total(), &self.satisfaction)
    }

    /// Money recovered by handlers' settlements.
    pub fn handlers_recovered_cents(&self) -> i64 {
        self.handlers.iter().map(|h| h.recovered_cents).sum()
    }

    /// The file name of an export, like `12315-QJ-2026-10.xlsx`.
    pub fn file_name(&self, extension: &str) -> String {
        let safe: String = self
            .station_code
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        format!("12315-{safe}-{}.{extension}", self.month)
    }
}

/// The Chinese name of an escalation reason, as the bulletins' tables say it.
pub fn reason_label(reason: EscalationReason) -> &'static str {
    use EscalationReason as R;
    match reason {
        R::NotEnrolled => "未入驻",
        R::OdrDeclined => "消费者未同意和解",
        R::HandlerSuspended => "处理单位暂停",
        R::DeliveryFailed => "转送失败",
        R::Declined => "处理单位拒收",
        R::NegotiationFailed => "协商不成",
        R::ConsumerRejected => "消费者异议",
        R::AckOverdue => "受理超时",
        R::ResolveOverdue => "处理超时",
        R::ConsumerRequested => "消费者申请",
        R::ConsumerDissatisfied => "回访不满意",
    }
}

string_enum!(
    /// How a report is written out: JSON for programs, CSV and XLSX for people.
    Format {
        Json => "json",
        Csv => "csv",
        Xlsx => "xlsx",
    }
);

string_enum!(
    /// A consumer's answer at the follow-up visit (回访).
    Satisfaction {
        VerySatisfied => "very_satisfied",
        Satisfied => "satisfied",
        Neutral => "neutral",
        Dissatisfied => "dissatisfied",
    }
);

string_enum!(
    /// Where a follow-up stands.
    FollowupStatus {
        Pending => "pending",
        Answered => "answered",
    }
);

/// A complaint that ended in the month (closed by a station, or settled),
/// with the station whose follow-up list it joins and that station's tree root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ended {
    pub complaint_id: String,
    pub station_code: String,
    pub root_code: String,
}

/// The sort key of a complaint in a month's draw: SHA-256 of `month ‖ id`.
pub fn draw_key(month: Month, complaint_id: &str) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(month.to_string().as_bytes());
    hasher.update(complaint_id.as_bytes());
    hasher.finalize().into()
}

/// The follow-up sample of `month` (SPEC §8): for each station subtree root,
/// the ceil(share × n) of its n ended complaints with the smallest
/// [`draw_key`]. The same complaints always give the same sample, in any order.
pub fn sample(month: Month, share: f64, ended: Vec<Ended>) -> Vec<Ended> {
    let mut by_root: BTreeMap<String, Vec<([u8; 32], Ended)>> = BTreeMap::new();
    for case in ended {
        by_root
            .entry(case.root_code.clone())
            .or_default()
            .push((draw_key(month, &case.complaint_id), case));
    }
    let mut drawn = Vec::new();
    for (_, mut cases) in by_root {
        cases.sort_by(|a, b| {
            a.0.cmp(&b.0)
                .then_with(|| a.1.complaint_id.cmp(&b.1.complaint_id))
        });
        cases.dedup_by(|a, b| a.1.complaint_id == b.1.complaint_id);
        let take = sample_size(share, cases.len());
        drawn.extend(cases.into_iter().take(take).map(|(_, case)| case));
    }
    drawn
}

/// ceil(share × n), exact for shares given with up to six decimals (0.3 × 10
/// is 3, not 4 as the float product 3.0000000000000004 would make it).
pub fn sample_size(share: f64, n: usize) -> usize {
    let millionths = (share.clamp(0.0, 1.0) * 1_000_000.0).round() as u128;
    let n = n as u128;
    (millionths * n).div_ceil(1_000_000) as usize
}

#[cfg(test)]
mod tests;
