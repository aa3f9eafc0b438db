//! The case lifecycle of SPEC §4 as one table of allowed transitions.
//!
//! Every status change anywhere in the gateway — an API call, the delivery
//! worker, the deadline job — asks [`next`] first; nothing sets a status by hand.

use std::fmt;
use std::str::FromStr;

use super::routing::Route;

macro_rules! string_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name { $($variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = UnknownValue;
            fn from_str(s: &str) -> Result<Self, UnknownValue> {
                match s {
                    $($text => Ok($name::$variant),)+
                    _ => Err(UnknownValue {
                        allowed: vec![$($text),+],
                    }),
                }
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let text = String::deserialize(d)?;
                text.parse().map_err(|e: UnknownValue| serde::de::Error::custom(e))
            }
        }
    };
}
pub(crate) use string_enum;

/// A string that is not one of an enumeration's values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownValue {
    pub allowed: Vec<&'static str>,
}

impl fmt::Display for UnknownValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "must be one of: {}", self.allowed.join(", "))
    }
}

impl std::error::Error for UnknownValue {}

string_enum!(
    /// Where a case stands.
    Status {
        Routed => "routed",
        Delivered => "delivered",
        Acknowledged => "acknowledged",
        Negotiating => "negotiating",
        Settled => "settled",
        Escalated => "escalated",
        Claimed => "claimed",
        Accepted => "accepted",
        Closed => "closed",
        Withdrawn => "withdrawn",
        Reopened => "reopened",
    }
);

impl Status {
    /// The states in which the case is in the handler's hands, from routing
    /// to the end of negotiation.
    pub const HANDLER_STAGE: [Status; 4] = [
        Status::Routed,
        Status::Delivered,
        Status::Acknowledged,
        Status::Negotiating,
    ];

    /// One of [`Status::HANDLER_STAGE`]: the handler's clocks run.
    pub fn is_handler_stage(self) -> bool {
        Status::HANDLER_STAGE.contains(&self)
    }

    /// The handler is working the case (acknowledged or negotiating): the
    /// only states in which it negotiates and an extension can be decided.
    pub fn is_worked_by_handler(self) -> bool {
        matches!(self, Status::Acknowledged | Status::Negotiating)
    }
}

string_enum!(
    /// Why a case reached the station's queue.
    EscalationReason {
        NotEnrolled => "not_enrolled",
        OdrDeclined => "odr_declined",
        HandlerSuspended => "handler_suspended",
        DeliveryFailed => "delivery_failed",
        Declined => "declined",
        NegotiationFailed => "negotiation_failed",
        ConsumerRejected => "consumer_rejected",
        AckOverdue => "ack_overdue",
        ResolveOverdue => "resolve_overdue",
        ConsumerRequested => "consumer_requested",
        ConsumerDissatisfied => "consumer_dissatisfied",
    }
);

string_enum!(
    /// How the station closed a case.
    CloseResult {
        NotAccepted => "not_accepted",
        Mediated => "mediated",
        MediationTerminated => "mediation_terminated",
        ReferredForInvestigation => "referred_for_investigation",
    }
);

/// Something that happens to a case. Each is a row group of the table in [`next`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// The handler got the case (webhook 2xx or first read through the inbox).
    Deliver,
    Acknowledge,
    Decline,
    RecordContact,
    Propose,
    /// The handler reports a settlement agreed offline.
    ReportSettlement,
    Fail,
    RequestExtension,
    ConsumerAccept,
    ConsumerReject,
    ConsumerObject,
    ConsumerEscalate,
    Withdraw,
    /// The gateway itself escalates (suspended handler, failed delivery, overdue).
    Escalate(EscalationReason),
    Claim,
    Release,
    Accept,
    NotAccept,
    InitialFeedback,
    Close,
    /// A dissatisfied follow-up sends a closed or settled case back to the station.
    Reopen,
    /// A follow-up answer that reopens nothing, recorded in the case file.
    RecordFollowup,
    /// Staff grant or refuse the handler's extension request.
    ApproveExtension,
    RejectExtension,
    /// The deadline job: a handler deadline is one working day away.
    WarnDeadline,
    /// The deadline job: a clock ran out that escalates nothing (station clocks).
    MarkOverdue,
    /// The deadline job: the objection window of a reported settlement closed.
    FinalizeSettlement,
    /// Deadlines counted on a guessed calendar year are counted again.
    RecomputeDeadlines,
}

impl Action {
    pub fn name(self) -> &'static str {
        match self {
            Action::Deliver => "deliver",
            Action::Acknowledge => "acknowledge",
            Action::Decline => "decline",
            Action::RecordContact => "contact",
            Action::Propose => "propose",
            Action::ReportSettlement => "settle",
            Action::Fail => "fail",
            Action::RequestExtension => "extension",
            Action::ConsumerAccept => "consumer_accept",
            Action::ConsumerReject => "consumer_reject",
            Action::ConsumerObject => "consumer_object",
            Action::ConsumerEscalate => "consumer_escalate",
            Action::Withdraw => "withdraw",
            Action::Escalate(EscalationReason::HandlerSuspended) => "escalate_handler_suspended",
            Action::Escalate(EscalationReason::DeliveryFailed) => "escalate_delivery_failed",
            Action::Escalate(EscalationReason::AckOverdue) => "escalate_ack_overdue",
            Action::Escalate(EscalationReason::ResolveOverdue) => "escalate_resolve_overdue",
            Action::Escalate(_) => "escalate",
            Action::Claim => "claim",
            Action::Release => "release",
            Action::Accept => "accept",
            Action::NotAccept => "not_accept",
            Action::InitialFeedback => "feedback",
            Action::Close => "close",
            Action::Reopen => "reopen",
            Action::RecordFollowup => "followup",
            Action::ApproveExtension => "approve_extension",
            Action::RejectExtension => "reject_extension",
            Action::WarnDeadline => "deadline_warning",
            Action::MarkOverdue => "deadline_missed",
            Action::FinalizeSettlement => "settlement_final",
            Action::RecomputeDeadlines => "deadlines_recomputed",
        }
    }

    /// The gateway's own bookkeeping on a case: never asked for by a client,
    /// so never offered in a refusal's list of allowed actions.
    pub fn is_bookkeeping(self) -> bool {
        matches!(
            self,
            Action::WarnDeadline
                | Action::MarkOverdue
                | Action::FinalizeSettlement
                | Action::RecomputeDeadlines
                | Action::RecordFollowup
        )
    }

    /// The reason recorded when this action sends a case to the station.
    pub fn escalation_reason(self) -> Option<EscalationReason> {
        match self {
            Action::Decline => Some(EscalationReason::Declined),
            Action::Fail => Some(EscalationReason::NegotiationFailed),
            Action::ConsumerObject => Some(EscalationReason::ConsumerRejected),
            Action::ConsumerEscalate => Some(EscalationReason::ConsumerRequested),
            Action::Escalate(reason) => Some(reason),
            Action::Reopen => Some(EscalationReason::ConsumerDissatisfied),
            _ => None,
        }
    }

    /// Every action, for listing what a status allows.
    pub fn all() -> Vec<Action> {
        let mut all = vec![
            Action::Deliver,
            Action::Acknowledge,
            Action::Decline,
            Action::RecordContact,
            Action::Propose,
            Action::ReportSettlement,
            Action::Fail,
            Action::RequestExtension,
            Action::ConsumerAccept,
            Action::ConsumerReject,
            Action::ConsumerObject,
            Action::ConsumerEscalate,
            Action::Withdraw,
        ];
        all.extend(EscalationReason::ALL.iter().map(|r| Action::Escalate(*r)));
        all.extend([
            Action::Claim,
            Action::Release,
            Action::Accept,
            Action::NotAccept,
            Action::InitialFeedback,
            Action::Close,
            Action::Reopen,
            Action::RecordFollowup,
            Action::ApproveExtension,
            Action::RejectExtension,
            Action::WarnDeadline,
            Action::MarkOverdue,
            Action::FinalizeSettlement,
            Action::RecomputeDeadlines,
        ]);
        all
    }
}

/// A transition the table does not have.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    pub from: Status,
    pub action: &'static str,
    /// Names of the actions the current status does allow.
    pub allowed: Vec<&'static str>,
    /// Why, where the status alone does not say it.
    pub because: Option<&'static str>,
}

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "'{}' is not allowed while the complaint is {}",
            self.action, self.from
        )?;
        if let Some(because) = self.because {
            write!(f, " ({because})")?;
        }
        write!(
            f,
            "; allowed: {}",
            if self.allowed.is_empty() {
                "nothing (final state)".to_string()
            } else {
                self.allowed.join(", ")
            }
        )
    }
}

impl std::error::Error for Refused {}

/// Where a case stands in the lifecycle: its status, refined where the status
/// alone does not decide what may happen next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    pub status: Status,
    /// A `settled` case whose settlement stands: the consumer accepted it, or
    /// the objection window of one the handler reported has closed. It is
    /// final for the reports, so it can be neither objected to nor withdrawn;
    /// a follow-up may still reopen it.
    pub settlement_stands: bool,
}

impl From<Status> for Position {
    fn from(status: Status) -> Self {
        Position {
            status,
            settlement_stands: false,
        }
    }
}

impl Position {
    /// A settled case whose settlement is or is not final yet.
    pub fn settled(stands: bool) -> Position {
        Position {
            status: Status::Settled,
            settlement_stands: stands,
        }
    }

    fn stands(self) -> bool {
        self.status == Status::Settled && self.settlement_stands
    }
}

const SETTLEMENT_STANDS: &str =
    "its settlement stands: the consumer accepted it or the objection window has closed";

/// The table's first row, where a case enters it: intake puts a case that
/// routing gave to a handler in `routed`, and one that routing sent straight
/// to a station's queue in `escalated` with routing's reason (`not_enrolled`,
/// `odr_declined`, `handler_suspended`: reasons no later action can give).
pub fn initial(route: &Route) -> (Status, Option<EscalationReason>) {
    match route {
        Route::Handler { .. } => (Status::Routed, None),
        Route::Station { reason, .. } => (Status::Escalated, Some(*reason)),
    }
}

/// The whole lifecycle: the status after `action`, or `None` where it is not drawn.
fn table(at: Position, action: Action) -> Option<Status> {
    use Action as A;
    use EscalationReason as R;
    use Status as S;
    let from = at.status;
    let open_settlement = !at.stands();
    let handler_stage = matches!(
        from,
        S::Routed | S::Delivered | S::Acknowledged | S::Negotiating
    );
    let working = from.is_worked_by_handler();
    match (from, action) {
        (S::Routed, A::Deliver) => Some(S::Delivered),
        (S::Delivered, A::Acknowledge) => Some(S::Acknowledged),
        (S::Delivered, A::Decline) => Some(S::Escalated),
        (_, A::RecordContact | A::RequestExtension) if working => Some(from),
        (_, A::Propose) if working => Some(S::Negotiating),
        (_, A::ReportSettlement) if working => Some(S::Settled),
        (_, A::Fail) if working => Some(S::Escalated),
        (S::Negotiating, A::ConsumerAccept) => Some(S::Settled),
        (S::Negotiating, A::ConsumerReject) => Some(S::Negotiating),
        (_, A::ConsumerEscalate) if handler_stage => Some(S::Escalated),
        (S::Settled, A::ConsumerObject) if open_settlement => Some(S::Escalated),
        (_, A::Escalate(R::HandlerSuspended)) if handler_stage => Some(S::Escalated),
        (S::Routed, A::Escalate(R::DeliveryFailed)) => Some(S::Escalated),
        (S::Delivered, A::Escalate(R::AckOverdue)) => Some(S::Escalated),
        (S::Delivered | S::Acknowledged | S::Negotiating, A::Escalate(R::ResolveOverdue)) => {
            Some(S::Escalated)
        }
        (S::Escalated | S::Reopened, A::Claim) => Some(S::Claimed),
        (S::Claimed, A::Release) => Some(S::Escalated),
        (S::Claimed, A::Accept) => Some(S::Accepted),
        (S::Claimed, A::NotAccept) => Some(S::Closed),
        (S::Accepted | S::Closed, A::InitialFeedback) => Some(from),
        (S::Accepted, A::Close) => Some(S::Closed),
        (S::Closed | S::Settled, A::Reopen) => Some(S::Reopened),
        (_, A::ApproveExtension | A::RejectExtension) if working => Some(from),
        (S::Delivered, A::WarnDeadline) => Some(from),
        (_, A::WarnDeadline) if working => Some(from),
        (S::Escalated | S::Claimed | S::Accepted | S::Closed | S::Reopened, A::MarkOverdue) => {
            Some(from)
        }
        (S::Settled, A::FinalizeSettlement) => Some(S::Settled),
        (_, A::RecomputeDeadlines | A::RecordFollowup) => Some(from),
        (S::Closed | S::Withdrawn, A::Withdraw) => None,
        (_, A::Withdraw) if open_settlement => Some(S::Withdrawn),
        _ => None,
    }
}

/// The status `action` leads to from `from` (a [`Status`], or a
/// [`Position`] where the status alone does not decide), or why it may not happen.
pub fn next(from: impl Into<Position>, action: Action) -> Result<Status, Refused> {
    let at = from.into();
    table(at, action).ok_or_else(|| Refused {
        from: at.status,
        action: action.name(),
        allowed: allowed_actions(at),
        because: (at.stands() && table(at.status.into(), action).is_some())
            .then_some(SETTLEMENT_STANDS),
    })
}

/// Names of the actions allowed in `from`, in table order, without repeats.
pub fn allowed_actions(from: impl Into<Position>) -> Vec<&'static str> {
    let at = from.into();
    let mut names: Vec<&'static str> = Vec::new();
    for action in Action::all() {
        if table(at, action).is_some()
            && !action.is_bookkeeping()
            && !names.contains(&action.name())
        {
            names.push(action.name());
        }
    }
    names
}

/// True once a case can no longer change (closed cases may still be reopened
/// by a follow-up, but nothing else happens to them).
pub fn is_terminal(status: Status) -> bool {
    matches!(status, Status::Closed | Status::Withdrawn)
}

#[cfg(test)]
mod tests {
    use super::*;
    use Action as A;
    use EscalationReason as R;
    use Status as S;

    /// The full expected table, written out independently of `table`'s match arms.
    fn expected() -> Vec<(Status, Action, Status)> {
        let mut rows = vec![
            (S::Routed, A::Deliver, S::Delivered),
            (S::Delivered, A::Acknowledge, S::Acknowledged),
            (S::Delivered, A::Decline, S::Escalated),
            (S::Negotiating, A::ConsumerAccept, S::Settled),
            (S::Negotiating, A::ConsumerReject, S::Negotiating),
            (S::Settled, A::ConsumerObject, S::Escalated),
            (S::Routed, A::Escalate(R::DeliveryFailed), S::Escalated),
            (S::Delivered, A::Escalate(R::AckOverdue), S::Escalated),
            (S::Escalated, A::Claim, S::Claimed),
            (S::Reopened, A::Claim, S::Claimed),
            (S::Claimed, A::Release, S::Escalated),
            (S::Claimed, A::Accept, S::Accepted),
            (S::Claimed, A::NotAccept, S::Closed),
            (S::Accepted, A::InitialFeedback, S::Accepted),
            (S::Closed, A::InitialFeedback, S::Closed),
            (S::Accepted, A::Close, S::Closed),
            (S::Closed, A::Reopen, S::Reopened),
            (S::Settled, A::Reopen, S::Reopened),
        ];
        for from in [S::Acknowledged, S::Negotiating] {
            rows.extend([
                (from, A::ApproveExtension, from),
                (from, A::RejectExtension, from),
                (from, A::RecordContact, from),
                (from, A::RequestExtension, from),
                (from, A::Propose, S::Negotiating),
                (from, A::ReportSettlement, S::Settled),
                (from, A::Fail, S::Escalated),
            ]);
        }
        for from in [
            S::Escalated,
            S::Claimed,
            S::Accepted,
            S::Closed,
            S::Reopened,
        ] {
            rows.push((from, A::MarkOverdue, from));
        }
        rows.push((S::Settled, A::FinalizeSettlement, S::Settled));
        for from in S::ALL {
            rows.push((*from, A::RecomputeDeadlines, *from));
            rows.push((*from, A::RecordFollowup, *from));
        }
        for from in [S::Delivered, S::Acknowledged, S::Negotiating] {
            rows.push((from, A::WarnDeadline, from));
            rows.push((from, A::Escalate(R::ResolveOverdue), S::Escalated));
        }
        for from in [S::Routed, S::Delivered, S::Acknowledged, S::Negotiating] {
            rows.push((from, A::ConsumerEscalate, S::Escalated));
            rows.push((from, A::Escalate(R::HandlerSuspended), S::Escalated));
        }
        for from in S::ALL {
            if !matches!(from, S::Closed | S::Withdrawn) {
                rows.push((*from, A::Withdraw, S::Withdrawn));
            }
        }
        rows
    }

    #[test]
    fn every_cell_of_the_table_matches_the_drawn_lifecycle() {
        let expected = expected();
        for from in S::ALL {
            for action in Action::all() {
                let want = expected
                    .iter()
                    .find(|(f, a, _)| f == from && *a == action)
                    .map(|(_, _, to)| *to);
                assert_eq!(
                    next(*from, action).ok(),
                    want,
                    "{from} --{}-->",
                    action.name()
                );
            }
        }
    }

    #[test]
    fn intake_routes_to_a_handler_or_escalates_with_routings_reason() {
        let handler = Route::Handler {
            handler_id: "h".into(),
            station_code: "QJ-DC".into(),
        };
        assert_eq!(initial(&handler), (S::Routed, None));
        for reason in [R::NotEnrolled, R::OdrDeclined, R::HandlerSuspended] {
            for station_code in [Some("QJ".to_string()), None] {
                let route = Route::Station {
                    reason,
                    station_code,
                };
                assert_eq!(initial(&route), (S::Escalated, Some(reason)));
            }
        }
    }

    #[test]
    fn a_settlement_that_stands_can_no_longer_be_objected_to_or_withdrawn() {
        let open = Position::settled(false);
        let stands = Position::settled(true);
        assert_eq!(next(open, A::Withdraw), Ok(S::Withdrawn));
        assert_eq!(next(open, A::ConsumerObject), Ok(S::Escalated));
        for action in [A::Withdraw, A::ConsumerObject] {
            let refused = next(stands, action).unwrap_err();
            assert_eq!(refused.from, S::Settled);
            assert_eq!(refused.allowed, vec!["reopen"]);
            assert_eq!(refused.because, Some(SETTLEMENT_STANDS));
            assert!(refused.to_string().contains("settlement stands"));
        }
        // Everything else is as for any settled case.
        for action in Action::all() {
            if !matches!(action, A::Withdraw | A::ConsumerObject) {
                assert_eq!(
                    next(stands, action).ok(),
                    next(open, action).ok(),
                    "{}",
                    action.name()
                );
            }
        }
        assert_eq!(next(stands, A::FinalizeSettlement), Ok(S::Settled));
        assert_eq!(next(stands, A::Reopen), Ok(S::Reopened));
        assert_eq!(next(S::Settled, A::Withdraw), next(open, A::Withdraw));
    }

    #[test]
    fn only_a_settled_case_has_a_settlement_that_stands() {
        for from in S::ALL {
            if *from == S::Settled {
                continue;
            }
            let claimed = Position {
                status: *from,
                settlement_stands: true,
            };
            for action in Action::all() {
                assert_eq!(next(claimed, action), next(*from, action));
            }
        }
    }

    #[test]
    fn refusal_names_the_allowed_actions() {
        let refused = next(S::Routed, A::Acknowledge).unwrap_err();
        assert_eq!(refused.from, S::Routed);
        assert_eq!(refused.action, "acknowledge");
        assert_eq!(
            refused.allowed,
            vec![
                "deliver",
                "consumer_escalate",
                "withdraw",
                "escalate_handler_suspended",
                "escalate_delivery_failed"
            ]
        );
        assert!(refused.to_string().contains("allowed: deliver"));
        assert_eq!(refused.because, None);
    }

    #[test]
    fn bookkeeping_is_never_offered_to_a_client() {
        for from in S::ALL {
            for name in allowed_actions(*from) {
                assert!(
                    !Action::all()
                        .iter()
                        .any(|a| a.name() == name && a.is_bookkeeping()),
                    "{from} offers {name}"
                );
            }
        }
        assert_eq!(next(S::Settled, A::FinalizeSettlement), Ok(S::Settled));
    }

    #[test]
    fn final_states_allow_nothing_but_reopen() {
        assert!(allowed_actions(S::Withdrawn).is_empty());
        assert_eq!(allowed_actions(S::Closed), vec!["feedback", "reopen"]);
        assert!(is_terminal(S::Closed) && is_terminal(S::Withdrawn));
        assert!(!is_terminal(S::Settled));
    }

    #[test]
    fn intake_and_gateway_reasons_cannot_be_forced_onto_a_live_case() {
        for from in S::ALL {
            for reason in [
                R::NotEnrolled,
                R::OdrDeclined,
                R::Declined,
                R::NegotiationFailed,
                R::ConsumerRejected,
                R::ConsumerRequested,
                R::ConsumerDissatisfied,
            ] {
                assert!(next(*from, A::Escalate(reason)).is_err());
            }
        }
    }

    #[test]
    fn escalating_actions_carry_their_reason() {
        assert_eq!(A::Decline.escalation_reason(), Some(R::Declined));
        assert_eq!(A::Fail.escalation_reason(), Some(R::NegotiationFailed));
        assert_eq!(
            A::ConsumerObject.escalation_reason(),
            Some(R::ConsumerRejected)
        );
        assert_eq!(
            A::ConsumerEscalate.escalation_reason(),
            Some(R::ConsumerRequested)
        );
        assert_eq!(
            A::Escalate(R::AckOverdue).escalation_reason(),
            Some(R::AckOverdue)
        );
        assert_eq!(A::Reopen.escalation_reason(), Some(R::ConsumerDissatisfied));
        assert_eq!(A::Acknowledge.escalation_reason(), None);
    }

    #[test]
    fn every_action_that_escalates_records_a_reason() {
        for from in S::ALL {
            for action in Action::all() {
                if next(*from, action) == Ok(S::Escalated)
                    && !matches!(from, S::Claimed | S::Escalated)
                {
                    assert!(action.escalation_reason().is_some(), "{}", action.name());
                }
            }
        }
    }

    #[test]
    fn status_strings_round_trip() {
        for status in S::ALL {
            assert_eq!(status.as_str().parse::<Status>(), Ok(*status));
        }
        for reason in R::ALL {
            assert_eq!(reason.as_str().parse::<EscalationReason>(), Ok(*reason));
        }
        let err = "nope".parse::<Status>().unwrap_err();
        assert!(err.to_string().starts_with("must be one of: routed"));
    }
}
