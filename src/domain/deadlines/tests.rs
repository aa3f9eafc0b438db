use super::*;
use crate::domain::lifecycle::Status as S;
use proptest::prelude::*;

fn policy() -> Policy {
    Policy::new(Calendar::shipped(), RuleSet::defaults()).expect("valid")
}

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s)
        .expect("test time")
        .with_timezone(&Utc)
}

fn day(s: &str) -> NaiveDate {
    s.parse().expect("test date")
}

/// A case delivered at `when`, as the store would hold it.
fn delivered(policy: &Policy, when: &str) -> Deadlines {
    let mut d = Deadlines::new();
    policy.advance(
        &mut d,
        Some(S::Routed),
        S::Delivered,
        Some(Action::Deliver),
        at(when),
        false,
    );
    d
}

/// A case that reached the station at `reached` and was accepted at `accepted`.
fn accepted(policy: &Policy, reached: &str, accepted: &str) -> Deadlines {
    let mut d = Deadlines::new();
    policy.advance(&mut d, None, S::Escalated, None, at(reached), false);
    policy.advance(
        &mut d,
        Some(S::Escalated),
        S::Claimed,
        Some(Action::Claim),
        at(reached),
        false,
    );
    policy.advance(
        &mut d,
        Some(S::Claimed),
        S::Accepted,
        Some(Action::Accept),
        at(accepted),
        false,
    );
    d
}

#[test]
fn delivery_starts_the_handler_clocks_on_working_days() {
    let d = delivered(&policy(), "2026-09-29T10:00:00+08:00");
    let ack = &d[&Clock::AckBy];
    assert_eq!(ack.last_day, day("2026-09-30"));
    assert_eq!(ack.due.to_rfc3339(), "2026-10-01T00:00:00+08:00");
    assert_eq!(ack.state, State::Pending);
    assert_eq!(ack.rule_set, "samr-2026");
    assert_eq!(d[&Clock::ResolveBy].last_day, day("2026-10-19"));
    assert_eq!(d.len(), 2);
}

#[test]
fn a_clock_counts_from_the_beijing_date_not_the_utc_date() {
    // 20:00 UTC on 09-29 is already 04:00 on 09-30 in Beijing: the one working
    // day runs from 09-30, over the National Day holiday, to the end of 10-08.
    let d = delivered(&policy(), "2026-09-29T20:00:00Z");
    let ack = &d[&Clock::AckBy];
    assert_eq!(ack.started_at.to_rfc3339(), "2026-09-30T04:00:00+08:00");
    assert_eq!(ack.last_day, day("2026-10-08"));
    assert_eq!(ack.due.to_rfc3339(), "2026-10-09T00:00:00+08:00");
    // Counted from the UTC date (09-29) it would have ended with 09-30.
    assert_ne!(ack.last_day, day("2026-09-30"));
}

#[test]
fn the_agenda_warns_one_working_day_before_and_then_escalates() {
    let d = delivered(&policy(), "2026-09-29T10:00:00+08:00");
    let agenda = agenda(S::Delivered, &d);
    let first = agenda[0];
    assert_eq!(
        (first.action, first.clock, first.at),
        (
            Action::WarnDeadline,
            Clock::AckBy,
            at("2026-09-30T00:00:00+08:00")
        )
    );
    assert_eq!(
        (agenda[1].action, agenda[1].at),
        (
            Action::Escalate(EscalationReason::AckOverdue),
            at("2026-10-01T00:00:00+08:00")
        )
    );
    assert_eq!(next_action_at(S::Delivered, &d), Some(first.at));
    assert_eq!(
        due_now(S::Delivered, &d, at("2026-09-29T23:59:59+08:00")),
        None
    );
    // After a long downtime the escalation comes first; the stale warning is not sent.
    let late = due_now(S::Delivered, &d, at("2026-10-09T12:00:00+08:00")).expect("due");
    assert_eq!(late.action, Action::Escalate(EscalationReason::AckOverdue));
}

#[test]
fn a_warning_is_recorded_once_and_leaves_the_agenda() {
    let policy = policy();
    let mut d = delivered(&policy, "2026-09-29T10:00:00+08:00");
    let now = at("2026-09-30T08:00:00+08:00");
    let due = due_now(S::Delivered, &d, now).expect("warning due");
    mark_warned(&mut d, due.clock, now);
    policy.advance(
        &mut d,
        Some(S::Delivered),
        S::Delivered,
        Some(Action::WarnDeadline),
        now,
        false,
    );
    let next = due_now(S::Delivered, &d, now);
    assert_eq!(next, None, "nothing more until the deadline itself");
    assert!(d[&Clock::AckBy].warned_at.is_some());
}

#[test]
fn acknowledging_meets_ack_by_and_an_ack_overdue_escalation_misses_it() {
    let policy = policy();
    let mut d = delivered(&policy, "2026-09-29T10:00:00+08:00");
    policy.advance(
        &mut d,
        Some(S::Delivered),
        S::Acknowledged,
        Some(Action::Acknowledge),
        at("2026-09-30T09:00:00+08:00"),
        false,
    );
    assert_eq!(d[&Clock::AckBy].state, State::Met);
    assert_eq!(d[&Clock::AckBy].ended_by.as_deref(), Some("acknowledge"));
    assert_eq!(d[&Clock::ResolveBy].state, State::Pending);
    assert_eq!(d[&Clock::ResolveBy].ended_by, None);
    assert!(
        agenda(S::Acknowledged, &d)
            .iter()
            .all(|x| x.clock == Clock::ResolveBy)
    );

    let mut late = delivered(&policy, "2026-09-29T10:00:00+08:00");
    let escalated_at = at("2026-10-01T00:00:00+08:00");
    policy.advance(
        &mut late,
        Some(S::Delivered),
        S::Escalated,
        Some(Action::Escalate(EscalationReason::AckOverdue)),
        escalated_at,
        false,
    );
    assert_eq!(late[&Clock::AckBy].state, State::Missed);
    assert_eq!(late[&Clock::ResolveBy].state, State::Met, "stopped in time");
    // ...but not by a resolution: both name the escalation that stopped them.
    for clock in [Clock::AckBy, Clock::ResolveBy] {
        assert_eq!(
            late[&clock].ended_by.as_deref(),
            Some("escalate:ack_overdue")
        );
    }
    let decision = &late[&Clock::DecisionBy];
    // Oct 8, 9, 10 (make-up Saturday), 12, 13, 14, 15.
    assert_eq!(
        decision.last_day,
        day("2026-10-15"),
        "7 working days from 10-01"
    );
}

#[test]
fn the_objection_window_runs_three_working_days_and_then_the_settlement_stands() {
    let policy = policy();
    let mut d = delivered(&policy, "2026-02-10T10:00:00+08:00");
    policy.advance(
        &mut d,
        Some(S::Delivered),
        S::Acknowledged,
        Some(Action::Acknowledge),
        at("2026-02-10T11:00:00+08:00"),
        false,
    );
    let settled_at = at("2026-02-13T16:00:00+08:00");
    policy.advance(
        &mut d,
        Some(S::Acknowledged),
        S::Settled,
        Some(Action::ReportSettlement),
        settled_at,
        false,
    );
    let window = d[&Clock::ObjectionUntil].clone();
    // Feb 14 (make-up Saturday), Feb 24, Feb 25.
    assert_eq!(window.last_day, day("2026-02-25"));
    assert_eq!(d[&Clock::ResolveBy].state, State::Met);
    assert_eq!(d[&Clock::ResolveBy].ended_by.as_deref(), Some("settle"));
    assert!(objection_open(&d, at("2026-02-25T23:00:00+08:00")));
    assert!(!objection_open(&d, window.due_utc()));
    let due = due_now(S::Settled, &d, window.due_utc()).expect("due");
    assert_eq!(due.action, Action::FinalizeSettlement);
    policy.advance(
        &mut d,
        Some(S::Settled),
        S::Settled,
        Some(Action::FinalizeSettlement),
        window.due_utc(),
        false,
    );
    assert_eq!(d[&Clock::ObjectionUntil].state, State::Met);
    assert_eq!(
        d[&Clock::ObjectionUntil].ended_by.as_deref(),
        Some("settlement_final")
    );
    assert_eq!(next_action_at(S::Settled, &d), None);
}

#[test]
fn rule_sets_follow_the_day_the_case_reached_the_station() {
    let policy = policy();
    let before = accepted(
        &policy,
        "2026-04-14T10:00:00+08:00",
        "2026-04-16T10:00:00+08:00",
    );
    let mediation = &before[&Clock::MediationBy];
    assert_eq!(mediation.rule_set, "samr-2019");
    assert_eq!(mediation.length, Span::working(45));
    let after = accepted(
        &policy,
        "2026-04-15T10:00:00+08:00",
        "2026-04-16T10:00:00+08:00",
    );
    let mediation = &after[&Clock::MediationBy];
    assert_eq!(mediation.rule_set, "samr-2026");
    assert_eq!(mediation.length, Span::calendar(60));
    assert_eq!(
        mediation.last_day,
        day("2026-06-15"),
        "60 calendar days from 04-16"
    );
    let initial = &after[&Clock::InitialFeedbackBy];
    assert_eq!(initial.length, Span::working(10));
    assert_eq!(after[&Clock::DecisionBy].state, State::Met);
    assert_eq!(
        after[&Clock::DecisionBy].ended_by.as_deref(),
        Some("accept")
    );
}

#[test]
fn a_reopened_case_accepted_again_does_not_owe_its_initial_feedback_again() {
    let policy = policy();
    let mut d = accepted(
        &policy,
        "2026-03-02T10:00:00+08:00",
        "2026-03-03T10:00:00+08:00",
    );
    let steps = [
        (S::Accepted, S::Accepted, Action::InitialFeedback, false),
        (S::Accepted, S::Closed, Action::Close, true),
        (S::Closed, S::Reopened, Action::Reopen, true),
        (S::Reopened, S::Claimed, Action::Claim, true),
    ];
    for (from, to, action, given) in steps {
        policy.advance(
            &mut d,
            Some(from),
            to,
            Some(action),
            at("2026-03-04T10:00:00+08:00"),
            given,
        );
    }
    let mut again = d.clone();
    let accept = |d: &mut Deadlines, given| {
        policy.advance(
            d,
            Some(S::Claimed),
            S::Accepted,
            Some(Action::Accept),
            at("2026-04-01T10:00:00+08:00"),
            given,
        );
    };
    accept(&mut again, true);
    let initial = &again[&Clock::InitialFeedbackBy];
    assert_eq!(initial.state, State::Met, "stays met");
    assert_eq!(initial.ended_by.as_deref(), Some("feedback"));
    assert_eq!(initial.started_at.to_rfc3339(), "2026-03-03T10:00:00+08:00");
    assert_eq!(
        again[&Clock::MediationBy].state,
        State::Pending,
        "restarted"
    );
    assert!(
        agenda(S::Accepted, &again)
            .iter()
            .all(|due| due.clock != Clock::InitialFeedbackBy)
    );
    // Without feedback given, acceptance starts the clock afresh.
    accept(&mut d, false);
    assert_eq!(d[&Clock::InitialFeedbackBy].state, State::Pending);

    // Feedback given on a not-accepted case: no clock to keep, none started.
    let mut refused = Deadlines::new();
    let at_ = at("2026-03-02T10:00:00+08:00");
    policy.advance(&mut refused, None, S::Escalated, None, at_, false);
    let steps = [
        (S::Claimed, S::Closed, Action::NotAccept, false),
        (S::Closed, S::Closed, Action::InitialFeedback, false),
        (S::Closed, S::Reopened, Action::Reopen, true),
        (S::Claimed, S::Accepted, Action::Accept, true),
    ];
    for (from, to, action, given) in steps {
        policy.advance(&mut refused, Some(from), to, Some(action), at_, given);
    }
    assert!(!refused.contains_key(&Clock::InitialFeedbackBy));
    assert!(refused.contains_key(&Clock::MediationBy));
}

#[test]
fn station_clocks_that_run_out_are_marked_and_shown_first() {
    let policy = policy();
    let mut d = Deadlines::new();
    let reached = at("2026-09-29T10:00:00+08:00");
    policy.advance(&mut d, None, S::Escalated, None, reached, false);
    let due = d[&Clock::DecisionBy].due_utc();
    assert_eq!(d[&Clock::DecisionBy].last_day, day("2026-10-14"));
    let item = due_now(S::Escalated, &d, due).expect("due");
    assert_eq!(item.action, Action::MarkOverdue);
    assert!(!station_overdue(&d));
    policy.advance(
        &mut d,
        Some(S::Escalated),
        S::Escalated,
        Some(Action::MarkOverdue),
        due,
        false,
    );
    assert!(station_overdue(&d));
    let (clock, focus) = station_focus(&d).expect("focus");
    assert_eq!((clock, focus.state), (Clock::DecisionBy, State::Missed));
    assert_eq!(focus.ended_by.as_deref(), Some("deadline_missed"));
    assert_eq!(next_action_at(S::Escalated, &d), None);
}

#[test]
fn an_extension_moves_resolve_by_and_rearms_the_warning() {
    let policy = policy();
    let mut d = delivered(&policy, "2026-09-29T10:00:00+08:00");
    mark_warned(&mut d, Clock::ResolveBy, at("2026-10-19T00:00:00+08:00"));
    policy.extend(&mut d, 3).expect("extends");
    let resolve = &d[&Clock::ResolveBy];
    assert_eq!(resolve.last_day, day("2026-10-22"));
    assert_eq!(resolve.extended_by, 3);
    assert!(resolve.warned_at.is_none());
    assert_eq!(policy.max_extension(&d, at("2026-09-29T10:00:00+08:00")), 7);
    d.get_mut(&Clock::ResolveBy).expect("there").state = State::Missed;
    assert!(policy.extend(&mut d, 3).is_err());
}

#[test]
fn a_deadline_in_an_unknown_year_is_provisional_until_the_year_is_loaded() {
    let mut d = delivered(&policy(), "2026-12-28T10:00:00+08:00");
    let resolve = d[&Clock::ResolveBy].clone();
    assert_eq!(resolve.state, State::Provisional);
    assert_eq!(resolve.last_day, day("2027-01-11"), "Monday–Friday guess");
    assert!(provisional(&d));
    let mut calendar = Calendar::shipped();
    let year = r#"
        [[years]]
        year = 2027
        holidays = [{ name = "元旦", from = "2027-01-01", to = "2027-01-03" }]
    "#;
    calendar.extend(Calendar::parse(year).expect("parses"));
    let informed = Policy::new(calendar, RuleSet::defaults()).expect("valid");
    informed.advance(
        &mut d,
        Some(S::Delivered),
        S::Delivered,
        Some(Action::RecomputeDeadlines),
        at("2026-12-29T09:00:00+08:00"),
        false,
    );
    let resolve = &d[&Clock::ResolveBy];
    assert_eq!(resolve.state, State::Pending);
    assert_eq!(resolve.last_day, day("2027-01-12"), "01-01 is a holiday");
    assert!(!provisional(&d));
}

#[test]
fn withdrawal_stops_every_clock() {
    let policy = policy();
    let mut d = delivered(&policy, "2026-09-29T10:00:00+08:00");
    policy.advance(
        &mut d,
        Some(S::Delivered),
        S::Withdrawn,
        Some(Action::Withdraw),
        at("2026-09-29T12:00:00+08:00"),
        false,
    );
    assert!(d.values().all(|x| x.state == State::Met));
    assert!(
        d.values()
            .all(|x| x.ended_by.as_deref() == Some("withdraw"))
    );
    assert_eq!(next_action_at(S::Withdrawn, &d), None);
}

#[test]
fn a_clock_stopped_by_leaving_the_handler_names_the_escalation() {
    let policy = policy();
    let escalations = [
        (Action::Decline, S::Delivered, "escalate:declined"),
        (Action::Fail, S::Acknowledged, "escalate:negotiation_failed"),
        (
            Action::ConsumerEscalate,
            S::Acknowledged,
            "escalate:consumer_requested",
        ),
        (
            Action::Escalate(EscalationReason::HandlerSuspended),
            S::Negotiating,
            "escalate:handler_suspended",
        ),
    ];
    for (action, from, by) in escalations {
        let mut d = delivered(&policy, "2026-09-29T10:00:00+08:00");
        policy.advance(
            &mut d,
            Some(from),
            S::Escalated,
            Some(action),
            at("2026-09-29T12:00:00+08:00"),
            false,
        );
        let resolve = &d[&Clock::ResolveBy];
        assert_eq!(resolve.state, State::Met, "{by}");
        assert_eq!(resolve.ended_by.as_deref(), Some(by));
    }
    assert_eq!(stopped_by(Some(Action::Release), S::Escalated), "release");
}

#[test]
fn deadlines_survive_a_round_trip_through_json() {
    let d = delivered(&policy(), "2026-12-28T10:00:00+08:00");
    let json = serde_json::to_value(&d).expect("serialises");
    assert_eq!(json["resolve_by"]["state"], "provisional");
    assert_eq!(json["ack_by"]["due"], "2026-12-30T00:00:00+08:00");
    assert_eq!(json["ack_by"]["length"], "1 working day");
    let back: Deadlines = serde_json::from_value(json).expect("parses");
    assert_eq!(back, d);
}

#[test]
fn spans_read_and_write_as_words() {
    assert_eq!("10 working days".parse::<Span>(), Ok(Span::working(10)));
    assert_eq!("1 working day".parse::<Span>(), Ok(Span::working(1)));
    assert_eq!("60 calendar days".parse::<Span>(), Ok(Span::calendar(60)));
    assert_eq!(Span::calendar(60).to_string(), "60 calendar days");
    for bad in [
        "10 days",
        "ten working days",
        "0 working days",
        "10 working weeks",
        "",
    ] {
        assert!(bad.parse::<Span>().is_err(), "{bad}");
    }
}

#[test]
fn rule_sets_must_be_distinct_in_time() {
    assert!(Policy::new(Calendar::shipped(), Vec::new()).is_err());
    let mut twins = RuleSet::defaults();
    twins[1].effective_from = twins[0].effective_from;
    assert!(Policy::new(Calendar::shipped(), twins).is_err());
    let policy = policy();
    assert_eq!(
        policy.rules_at(at("2010-01-01T00:00:00+08:00")).name,
        "samr-2019"
    );
    assert_eq!(
        policy.rules_at(at("2026-04-14T23:59:59+08:00")).name,
        "samr-2019"
    );
    assert_eq!(
        policy.rules_at(at("2026-04-15T00:00:00+08:00")).name,
        "samr-2026"
    );
}

#[test]
fn a_change_after_a_deadline_ran_out_leaves_the_escalation_to_the_job() {
    let policy = policy();
    let mut d = delivered(&policy, "2026-09-29T10:00:00+08:00");
    policy.advance(
        &mut d,
        Some(S::Delivered),
        S::Acknowledged,
        Some(Action::Acknowledge),
        at("2026-09-29T11:00:00+08:00"),
        false,
    );
    // The handler records a contact a minute after resolve_by ended, before the job ran.
    let late = at("2026-10-20T00:01:00+08:00");
    policy.advance(
        &mut d,
        Some(S::Acknowledged),
        S::Acknowledged,
        Some(Action::RecordContact),
        late,
        false,
    );
    let due = due_now(S::Acknowledged, &d, late).expect("still due");
    assert_eq!(
        due.action,
        Action::Escalate(EscalationReason::ResolveOverdue)
    );
    policy.advance(
        &mut d,
        Some(S::Acknowledged),
        S::Escalated,
        Some(due.action),
        late,
        false,
    );
    assert_eq!(d[&Clock::ResolveBy].state, State::Missed);
}

fn any_instant() -> impl Strategy<Value = DateTime<Utc>> {
    // 2024-12-01 .. 2027-01-31 to the second: both known years and beyond.
    let first = at("2024-12-01T00:00:00Z");
    (0i64..792 * 86_400).prop_map(move |s| first + chrono::Duration::seconds(s))
}

fn any_span() -> impl Strategy<Value = Span> {
    prop_oneof![
        (1u32..60).prop_map(Span::working),
        (1u32..90).prop_map(Span::calendar)
    ]
}

proptest! {
    #[test]
    fn a_later_delivery_never_gives_an_earlier_handler_deadline(
        a in any_instant(),
        b in any_instant(),
    ) {
        let policy = policy();
        let (early, late) = if a <= b { (a, b) } else { (b, a) };
        let deliver = |when: DateTime<Utc>| {
            let mut d = Deadlines::new();
            policy.advance(&mut d, Some(S::Routed), S::Delivered, Some(Action::Deliver), when, false);
            d
        };
        let (first, second) = (deliver(early), deliver(late));
        for clock in [Clock::AckBy, Clock::ResolveBy] {
            prop_assert!(first[&clock].due <= second[&clock].due, "{clock}");
            prop_assert!(first[&clock].due_utc() > early, "{clock} ends after it starts");
        }
    }

    #[test]
    fn a_later_start_never_gives_an_earlier_deadline_of_the_same_length(
        a in any_instant(),
        b in any_instant(),
        span in any_span(),
    ) {
        let policy = policy();
        let (early, late) = if a <= b { (a, b) } else { (b, a) };
        let (first, _) = policy.last_day(early, span, 0);
        let (second, _) = policy.last_day(late, span, 0);
        prop_assert!(first <= second);
        prop_assert!(end_of_day(first) > early);
        prop_assert!(first > beijing_date(early), "the start day itself never counts");
    }
}
