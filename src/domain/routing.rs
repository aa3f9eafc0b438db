//! Which handler gets a new complaint (SPEC §4 `routed`).

use super::lifecycle::EscalationReason;
use super::vocabulary::{HandlerKind, HandlerStatus};

/// What routing needs to know about an enrolled handler.
#[derive(Debug, Clone)]
pub struct Candidate {
    pub id: String,
    pub kind: HandlerKind,
    pub status: HandlerStatus,
    pub station_code: String,
    pub credit_code: Option<String>,
    pub covers: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// Forward to this handler; the case belongs to the handler's station.
    Handler {
        handler_id: String,
        station_code: String,
    },
    /// Straight into a station's queue. `station_code` is `None` when neither
    /// the intake nor the configuration names one.
    Station {
        reason: EscalationReason,
        station_code: Option<String>,
    },
}

/// Chooses where a complaint goes: an active merchant handler for the credit
/// code first, else an active rights station covering it, else the station.
pub fn route(
    credit_code: &str,
    odr_consent: bool,
    candidates: &[Candidate],
    intake_station: Option<&str>,
    default_station: Option<&str>,
) -> Route {
    let fallback = || intake_station.or(default_station).map(str::to_string);
    if !odr_consent {
        return Route::Station {
            reason: EscalationReason::OdrDeclined,
            station_code: fallback(),
        };
    }
    let is_merchant = |c: &&Candidate| {
        c.kind == HandlerKind::Merchant && c.credit_code.as_deref() == Some(credit_code)
    };
    let covers = |c: &&Candidate| {
        c.kind == HandlerKind::RightsStation && c.covers.iter().any(|x| x == credit_code)
    };
    let active = |c: &&Candidate| c.status == HandlerStatus::Active;
    let chosen = candidates
        .iter()
        .filter(is_merchant)
        .find(active)
        .or_else(|| candidates.iter().filter(covers).find(active));
    if let Some(handler) = chosen {
        return Route::Handler {
            handler_id: handler.id.clone(),
            station_code: handler.station_code.clone(),
        };
    }
    // A merchant whose own handler is suspended is still in that station's care.
    if let Some(suspended) = candidates
        .iter()
        .filter(|c| is_merchant(c) || covers(c))
        .find(|c| c.status == HandlerStatus::Suspended)
    {
        return Route::Station {
            reason: EscalationReason::HandlerSuspended,
            station_code: Some(suspended.station_code.clone()),
        };
    }
    Route::Station {
        reason: EscalationReason::NotEnrolled,
        station_code: fallback(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CODE: &str = "91420000177570439L";

    fn handler(id: &str, kind: HandlerKind, status: HandlerStatus, covers: &[&str]) -> Candidate {
        Candidate {
            id: id.into(),
            kind,
            status,
            station_code: format!("ST-{id}"),
            credit_code: (kind == HandlerKind::Merchant).then(|| CODE.to_string()),
            covers: covers.iter().map(|c| c.to_string()).collect(),
        }
    }

    fn to(id: &str) -> Route {
        Route::Handler {
            handler_id: id.into(),
            station_code: format!("ST-{id}"),
        }
    }

    #[test]
    fn an_active_merchant_comes_before_a_rights_station() {
        let all = [
            handler(
                "rs",
                HandlerKind::RightsStation,
                HandlerStatus::Active,
                &[CODE],
            ),
            handler("m", HandlerKind::Merchant, HandlerStatus::Active, &[]),
        ];
        assert_eq!(route(CODE, true, &all, Some("X"), None), to("m"));
    }

    #[test]
    fn a_rights_station_covering_the_code_takes_it_when_the_merchant_is_not_active() {
        let all = [
            handler("m", HandlerKind::Merchant, HandlerStatus::Suspended, &[]),
            handler(
                "other",
                HandlerKind::RightsStation,
                HandlerStatus::Active,
                &["x"],
            ),
            handler(
                "rs",
                HandlerKind::RightsStation,
                HandlerStatus::Active,
                &[CODE],
            ),
        ];
        assert_eq!(route(CODE, true, &all, None, None), to("rs"));
    }

    #[test]
    fn a_suspended_handler_sends_the_case_to_its_own_station() {
        let all = [handler(
            "m",
            HandlerKind::Merchant,
            HandlerStatus::Suspended,
            &[],
        )];
        assert_eq!(
            route(CODE, true, &all, Some("QJ-DC"), None),
            Route::Station {
                reason: EscalationReason::HandlerSuspended,
                station_code: Some("ST-m".into())
            }
        );
    }

    #[test]
    fn withdrawn_handlers_count_as_not_enrolled() {
        let all = [handler(
            "m",
            HandlerKind::Merchant,
            HandlerStatus::Withdrawn,
            &[],
        )];
        assert_eq!(
            route(CODE, true, &all, Some("QJ-DC"), Some("QJ")),
            Route::Station {
                reason: EscalationReason::NotEnrolled,
                station_code: Some("QJ-DC".into())
            }
        );
    }

    #[test]
    fn not_enrolled_falls_back_to_the_default_station() {
        assert_eq!(
            route(CODE, true, &[], None, Some("QJ")),
            Route::Station {
                reason: EscalationReason::NotEnrolled,
                station_code: Some("QJ".into())
            }
        );
        assert_eq!(
            route(CODE, true, &[], None, None),
            Route::Station {
                reason: EscalationReason::NotEnrolled,
                station_code: None
            }
        );
    }

    #[test]
    fn without_odr_consent_the_case_is_never_forwarded() {
        let all = [handler(
            "m",
            HandlerKind::Merchant,
            HandlerStatus::Active,
            &[],
        )];
        assert_eq!(
            route(CODE, false, &all, Some("QJ-DC"), None),
            Route::Station {
                reason: EscalationReason::OdrDeclined,
                station_code: Some("QJ-DC".into())
            }
        );
    }
}
