//! Deadlines on a case (SPEC §5): which clocks run, when each ends, and what
//! the deadline job must do next. Pure: the store calls [`Policy::advance`] on
//! every transition and keeps the result on the case, so nothing counts down
//! in memory and any process can act on what is due.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Days, FixedOffset, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use super::calendar::{BEIJING, Calendar, beijing_date, end_of_day, start_of_day};
use super::lifecycle::{Action, EscalationReason, Status, UnknownValue, string_enum};

string_enum!(
    /// The clocks a case can have running.
    Clock {
        AckBy => "ack_by",
        ResolveBy => "resolve_by",
        ObjectionUntil => "objection_until",
        DecisionBy => "decision_by",
        InitialFeedbackBy => "initial_feedback_by",
        MediationBy => "mediation_by",
    }
);

impl Clock {
    /// The station's own clocks (超期 marks), as opposed to the handler's.
    pub fn is_station(self) -> bool {
        matches!(
            self,
            Clock::DecisionBy | Clock::InitialFeedbackBy | Clock::MediationBy
        )
    }

    /// The handler is warned one working day before these end.
    fn warns(self) -> bool {
        matches!(self, Clock::AckBy | Clock::ResolveBy)
    }
}

string_enum!(
    /// Where a deadline stands. `provisional` is pending, counted on a year
    /// whose holiday schedule is not known yet (Monday–Friday).
    State {
        Pending => "pending",
        Provisional => "provisional",
        Met => "met",
        Missed => "missed",
    }
);

impl State {
    pub fn is_open(self) -> bool {
        matches!(self, State::Pending | State::Provisional)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    WorkingDays,
    CalendarDays,
}

/// A clock's length: "10 working days", "60 calendar days".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    pub days: u32,
    pub unit: Unit,
}

impl Span {
    pub fn working(days: u32) -> Span {
        Span {
            days,
            unit: Unit::WorkingDays,
        }
    }

    pub fn calendar(days: u32) -> Span {
        Span {
            days,
            unit: Unit::CalendarDays,
        }
    }
}

impl fmt::Display for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.unit {
            Unit::WorkingDays => "working",
            Unit::CalendarDays => "calendar",
        };
        let plural = if self.days == 1 { "day" } else { "days" };
        write!(f, "{} {kind} {plural}", self.days)
    }
}

impl FromStr for Span {
    type Err = String;
    fn from_str(text: &str) -> Result<Span, String> {
        let bad = || format!("'{text}' is not like \"10 working days\" or \"60 calendar days\"");
        let words: Vec<&str> = text.split_whitespace().collect();
        let [days, kind, unit] = words.as_slice() else {
            return Err(bad());
        };
        let days: u32 = days.parse().map_err(|_| bad())?;
        if !matches!(*unit, "day" | "days") {
            return Err(bad());
        }
        let unit = match *kind {
            "working" => Unit::WorkingDays,
            "calendar" => Unit::CalendarDays,
            _ => return Err(bad()),
        };
        if !(1..=365).contains(&days) {
            return Err(format!("'{text}': between 1 and 365 days"));
        }
        Ok(Span { days, unit })
    }
}

impl Serialize for Span {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Span {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Span, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

/// The deadline rules in force from a date (SPEC §5: the 2019 interim
/// measures, then the measures in force from 2026-04-15).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleSet {
    pub name: String,
    pub effective_from: NaiveDate,
    pub ack: Span,
    pub resolve: Span,
    pub objection: Span,
    pub decision: Span,
    pub initial_feedback: Span,
    pub mediation: Span,
    /// The longest extension a handler may ask for (working days).
    pub max_extension_working_days: u32,
}

impl RuleSet {
    fn span(&self, clock: Clock) -> Span {
        match clock {
            Clock::AckBy => self.ack,
            Clock::ResolveBy => self.resolve,
            Clock::ObjectionUntil => self.objection,
            Clock::DecisionBy => self.decision,
            Clock::InitialFeedbackBy => self.initial_feedback,
            Clock::MediationBy => self.mediation,
        }
    }

    /// The two rule sets SPEC §5 ships.
    pub fn defaults() -> Vec<RuleSet> {
        let day = |s: &str| NaiveDate::from_str(s).expect("a valid built-in date");
        let samr_2019 = RuleSet {
            name: "samr-2019".into(),
            effective_from: day("2019-11-30"),
            ack: Span::working(1),
            resolve: Span::working(10),
            objection: Span::working(3),
            decision: Span::working(7),
            initial_feedback: Span::working(10),
            mediation: Span::working(45),
            max_extension_working_days: 7,
        };
        let samr_2026 = RuleSet {
            name: "samr-2026".into(),
            effective_from: day("2026-04-15"),
            mediation: Span::calendar(60),
            ..samr_2019.clone()
        };
        vec![samr_2019, samr_2026]
    }
}

/// One running or finished clock, as stored on the case and read back.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Deadline {
    /// 24:00 Beijing time of `last_day`.
    pub due: DateTime<FixedOffset>,
    pub last_day: NaiveDate,
    pub state: State,
    pub rule_set: String,
    pub started_at: DateTime<FixedOffset>,
    pub length: Span,
    /// Working days added by an approved extension.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub extended_by: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warned_at: Option<DateTime<FixedOffset>>,
    /// When it was met or missed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended_at: Option<DateTime<FixedOffset>>,
    /// What stopped it (see [`stopped_by`]): `met` says only that it stopped
    /// in time; this says whether by reaching its goal or by something else.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended_by: Option<String>,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

fn shown(at: DateTime<Utc>) -> DateTime<FixedOffset> {
    at.with_timezone(&BEIJING)
}

impl Deadline {
    pub fn due_utc(&self) -> DateTime<Utc> {
        self.due.with_timezone(&Utc)
    }

    /// When the handler is warned: the start of the last day.
    fn warn_at(&self) -> DateTime<Utc> {
        start_of_day(self.last_day)
    }

    /// Stops the clock at `at` by `by`: met if in time, missed if not.
    fn end(&mut self, at: DateTime<Utc>, by: &str) {
        if self.state.is_open() {
            self.state = if at < self.due_utc() {
                State::Met
            } else {
                State::Missed
            };
            self.ended_at = Some(shown(at));
            self.ended_by = Some(by.to_string());
        }
    }
}

/// How `ended_by` names the change that stopped a clock: the action's name in
/// the case file (`acknowledge`, `settle`, `withdraw`, `feedback`, …), or
/// `escalate:<escalation_reason>` when the change sent the case to the station.
pub fn stopped_by(action: Option<Action>, to: Status) -> String {
    match action {
        Some(action) => match action.escalation_reason() {
            Some(reason) if to == Status::Escalated => format!("escalate:{reason}"),
            _ => action.name().to_string(),
        },
        None => "intake".to_string(),
    }
}

/// Every clock of one case.
pub type Deadlines = BTreeMap<Clock, Deadline>;

/// Something the deadline job must do to a case, and for which clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Due {
    pub action: Action,
    pub clock: Clock,
    pub at: DateTime<Utc>,
}

/// The calendar and the rule sets: everything a deadline is computed from.
#[derive(Debug, Clone)]
pub struct Policy {
    calendar: Calendar,
    /// Sorted by `effective_from`, never empty.
    rule_sets: Vec<RuleSet>,
}

impl Policy {
    pub fn new(calendar: Calendar, mut rule_sets: Vec<RuleSet>) -> Result<Policy, String> {
        if rule_sets.is_empty() {
            return Err("at least one rule set is needed".into());
        }
        rule_sets.sort_by_key(|r| r.effective_from);
        for pair in rule_sets.windows(2) {
            if pair[0].effective_from == pair[1].effective_from {
                return Err(format!(
                    "{} and {} take effect on the same day",
                    pair[0].name, pair[1].name
                ));
            }
        }
        Ok(Policy {
            calendar,
            rule_sets,
        })
    }

    pub fn calendar(&self) -> &Calendar {
        &self.calendar
    }

    /// The rule set in force on the Beijing date of `at` (the earliest one
    /// for anything older than all of them).
    pub fn rules_at(&self, at: DateTime<Utc>) -> &RuleSet {
        let day = beijing_date(at);
        self.rule_sets
            .iter()
            .rev()
            .find(|r| r.effective_from <= day)
            .unwrap_or(&self.rule_sets[0])
    }

    fn rules_named(&self, name: &str) -> Option<&RuleSet> {
        self.rule_sets.iter().find(|r| r.name == name)
    }

    /// The last day of a clock of `length` (plus `extended_by` working days)
    /// started at `started`, and whether it was counted on a guessed year.
    fn last_day(
        &self,
        started: DateTime<Utc>,
        length: Span,
        extended_by: u32,
    ) -> (NaiveDate, bool) {
        let from = beijing_date(started);
        let (mut day, mut provisional) = match length.unit {
            Unit::WorkingDays => {
                let counted = self.calendar.add_working_days(from, length.days);
                (counted.day, counted.provisional)
            }
            Unit::CalendarDays => (from + Days::new(u64::from(length.days)), false),
        };
        if extended_by > 0 {
            let counted = self.calendar.add_working_days(day, extended_by);
            day = counted.day;
            provisional |= counted.provisional;
        }
        (day, provisional)
    }

    fn start(&self, clock: Clock, at: DateTime<Utc>, rules: &RuleSet) -> Deadline {
        let length = rules.span(clock);
        let (last_day, provisional) = self.last_day(at, length, 0);
        Deadline {
            due: shown(end_of_day(last_day)),
            last_day,
            state: if provisional {
                State::Provisional
            } else {
                State::Pending
            },
            rule_set: rules.name.clone(),
            started_at: shown(at),
            length,
            extended_by: 0,
            warned_at: None,
            ended_at: None,
            ended_by: None,
        }
    }

    /// Counts an open deadline again (after an extension, or once the year it
    /// runs into is known).
    fn recount(&self, deadline: &mut Deadline) {
        if !deadline.state.is_open() {
            return;
        }
        let (last_day, provisional) = self.last_day(
            deadline.started_at.with_timezone(&Utc),
            deadline.length,
            deadline.extended_by,
        );
        deadline.last_day = last_day;
        deadline.due = shown(end_of_day(last_day));
        deadline.state = if provisional {
            State::Provisional
        } else {
            State::Pending
        };
    }

    /// Adds an approved extension to `resolve_by`; the handler is warned again
    /// before the new end.
    pub fn extend(&self, deadlines: &mut Deadlines, working_days: u32) -> Result<(), &'static str> {
        let deadline = deadlines
            .get_mut(&Clock::ResolveBy)
            .filter(|d| d.state.is_open())
            .ok_or("the complaint has no running resolve_by deadline")?;
        deadline.extended_by += working_days;
        deadline.warned_at = None;
        self.recount(deadline);
        Ok(())
    }

    /// The longest extension the rules of this case's resolve clock allow.
    pub fn max_extension(&self, deadlines: &Deadlines, at: DateTime<Utc>) -> u32 {
        deadlines
            .get(&Clock::ResolveBy)
            .and_then(|d| self.rules_named(&d.rule_set))
            .unwrap_or_else(|| self.rules_at(at))
            .max_extension_working_days
    }

    /// The clocks after `action` moved a case from `from` to `to` at `at`.
    /// Every transition comes through here, intake included (`from` = None).
    /// `feedback_given`: the case's initial-check feedback was already given
    /// (it is given once per case, so a re-accepted case never owes it again).
    pub fn advance(
        &self,
        deadlines: &mut Deadlines,
        from: Option<Status>,
        to: Status,
        action: Option<Action>,
        at: DateTime<Utc>,
        feedback_given: bool,
    ) {
        use Clock as C;
        let by = stopped_by(action, to);
        let end = |d: &mut Deadlines, clock: Clock| {
            if let Some(deadline) = d.get_mut(&clock) {
                deadline.end(at, &by);
            }
        };
        if from == Some(Status::Routed) && to == Status::Delivered {
            let rules = self.rules_at(at);
            for clock in [C::AckBy, C::ResolveBy] {
                deadlines.insert(clock, self.start(clock, at, rules));
            }
        }
        match action {
            Some(Action::Acknowledge | Action::Decline) => end(deadlines, C::AckBy),
            // The job's own actions end the clock that ran out (as missed). Any
            // other change leaves a run-out clock open, so the job still acts on it.
            Some(Action::Escalate(EscalationReason::AckOverdue)) => end(deadlines, C::AckBy),
            Some(Action::Escalate(EscalationReason::ResolveOverdue)) => {
                end(deadlines, C::ResolveBy)
            }
            Some(Action::MarkOverdue) => {
                for (clock, deadline) in deadlines.iter_mut() {
                    if clock.is_station() && deadline.state.is_open() && deadline.due_utc() <= at {
                        deadline.end(at, &by);
                    }
                }
            }
            Some(Action::ReportSettlement) => {
                let rules = self.rules_at(at);
                deadlines.insert(C::ObjectionUntil, self.start(C::ObjectionUntil, at, rules));
            }
            Some(Action::FinalizeSettlement) => close_window(deadlines, at, &by),
            Some(Action::Accept) => {
                end(deadlines, C::DecisionBy);
                // The station's clocks follow the rules in force when the case
                // reached the station, which is when its decision clock started.
                let reached = deadlines
                    .get(&C::DecisionBy)
                    .map_or(at, |d| d.started_at.with_timezone(&Utc));
                let rules = self.rules_at(reached);
                deadlines.insert(C::MediationBy, self.start(C::MediationBy, at, rules));
                // A reopened case accepted again keeps its initial feedback:
                // a fresh clock could never be met, as feedback is given once.
                if !feedback_given {
                    let clock = self.start(C::InitialFeedbackBy, at, rules);
                    deadlines.insert(C::InitialFeedbackBy, clock);
                }
            }
            Some(Action::NotAccept) => end(deadlines, C::DecisionBy),
            Some(Action::InitialFeedback) => end(deadlines, C::InitialFeedbackBy),
            Some(Action::Close) => end(deadlines, C::MediationBy),
            Some(Action::Reopen) => {
                let rules = self.rules_at(at);
                deadlines.insert(C::DecisionBy, self.start(C::DecisionBy, at, rules));
            }
            _ => {}
        }
        if from.is_some_and(Status::is_handler_stage) && !to.is_handler_stage() {
            end(deadlines, C::AckBy);
            end(deadlines, C::ResolveBy);
        }
        if from == Some(Status::Settled) && to != Status::Settled {
            close_window(deadlines, at, &by);
        }
        if to == Status::Escalated && !deadlines.contains_key(&C::DecisionBy) {
            let rules = self.rules_at(at);
            deadlines.insert(C::DecisionBy, self.start(C::DecisionBy, at, rules));
        }
        if to == Status::Withdrawn {
            close_window(deadlines, at, &by);
            for deadline in deadlines.values_mut() {
                deadline.end(at, &by);
            }
        }
        for deadline in deadlines.values_mut() {
            if deadline.state == State::Provisional {
                self.recount(deadline);
            }
        }
    }
}

/// The objection window closes: by an objection, or by running out (the
/// settlement stands). Either way it was kept, never missed.
fn close_window(deadlines: &mut Deadlines, at: DateTime<Utc>, by: &str) {
    if let Some(window) = deadlines
        .get_mut(&Clock::ObjectionUntil)
        .filter(|w| w.state.is_open())
    {
        window.state = State::Met;
        window.ended_at = Some(shown(at));
        window.ended_by = Some(by.to_string());
    }
}

/// Records that the handler was warned about `clock`.
pub fn mark_warned(deadlines: &mut Deadlines, clock: Clock, at: DateTime<Utc>) {
    if let Some(deadline) = deadlines.get_mut(&clock) {
        deadline.warned_at = Some(shown(at));
    }
}

/// The next thing the deadline job must do to a case in `status`, and when;
/// the earliest first. Everything the job does is one of these, and the case's
/// `next_action_at` is the first one's time, so the two cannot disagree.
pub fn agenda(status: Status, deadlines: &Deadlines) -> Vec<Due> {
    use Status as S;
    let mut due = Vec::new();
    for (clock, deadline) in deadlines {
        if !deadline.state.is_open() {
            continue;
        }
        let expiry = match (clock, status) {
            (Clock::AckBy, S::Delivered) => Some(Action::Escalate(EscalationReason::AckOverdue)),
            (Clock::ResolveBy, S::Delivered | S::Acknowledged | S::Negotiating) => {
                Some(Action::Escalate(EscalationReason::ResolveOverdue))
            }
            (Clock::ObjectionUntil, S::Settled) => Some(Action::FinalizeSettlement),
            (c, S::Escalated | S::Claimed | S::Accepted | S::Closed | S::Reopened)
                if c.is_station() =>
            {
                Some(Action::MarkOverdue)
            }
            _ => None,
        };
        if let Some(action) = expiry {
            due.push(Due {
                action,
                clock: *clock,
                at: deadline.due_utc(),
            });
        }
        let warn_at = deadline.warn_at();
        if clock.warns()
            && deadline.warned_at.is_none()
            && expiry.is_some()
            && warn_at < deadline.due_utc()
        {
            due.push(Due {
                action: Action::WarnDeadline,
                clock: *clock,
                at: warn_at,
            });
        }
    }
    // Escalations before warnings at the same instant: a warning for a
    // deadline that has already passed is never sent.
    due.sort_by_key(|d| (d.at, d.action == Action::WarnDeadline));
    due
}

/// What is due at `now`: the first item of the agenda that has come. A
/// warning whose deadline has also passed gives way to the expiry.
pub fn due_now(status: Status, deadlines: &Deadlines, now: DateTime<Utc>) -> Option<Due> {
    let items = agenda(status, deadlines);
    let expired = items
        .iter()
        .find(|d| d.at <= now && d.action != Action::WarnDeadline);
    expired
        .or_else(|| items.iter().find(|d| d.at <= now))
        .copied()
}

/// When the deadline job must next look at a case.
pub fn next_action_at(status: Status, deadlines: &Deadlines) -> Option<DateTime<Utc>> {
    agenda(status, deadlines).first().map(|d| d.at)
}

/// Whether a station clock ran out (the queue's `overdue` filter).
pub fn station_overdue(deadlines: &Deadlines) -> bool {
    deadlines
        .iter()
        .any(|(clock, d)| clock.is_station() && d.state == State::Missed)
}

/// The station clock a queue item shows: the first missed one, else the
/// next one to end.
pub fn station_focus(deadlines: &Deadlines) -> Option<(Clock, &Deadline)> {
    let station = || deadlines.iter().filter(|(c, _)| c.is_station());
    station()
        .find(|(_, d)| d.state == State::Missed)
        .or_else(|| {
            station()
                .filter(|(_, d)| d.state.is_open())
                .min_by_key(|(_, d)| d.due)
        })
        .map(|(c, d)| (*c, d))
}

/// Whether any open deadline was counted on a guessed year.
pub fn provisional(deadlines: &Deadlines) -> bool {
    deadlines.values().any(|d| d.state == State::Provisional)
}

/// Whether the objection window of a reported settlement is still open at `now`.
pub fn objection_open(deadlines: &Deadlines, now: DateTime<Utc>) -> bool {
    deadlines
        .get(&Clock::ObjectionUntil)
        .is_some_and(|d| d.state.is_open() && now < d.due_utc())
}

#[cfg(test)]
mod tests;
