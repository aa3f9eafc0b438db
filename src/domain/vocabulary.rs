//! The closed vocabularies of SPEC §3 and §13.

use std::fmt;
use std::str::FromStr;

use super::lifecycle::{UnknownValue, string_enum};

string_enum!(
    /// JWT `role` claim.
    Role {
        Admin => "admin",
        Partner => "partner",
        Handler => "handler",
        Staff => "staff",
    }
);

string_enum!(
    HandlerKind {
        Merchant => "merchant",
        RightsStation => "rights_station",
    }
);

string_enum!(
    DeliveryMode {
        Push => "push",
        Pull => "pull",
    }
);

string_enum!(
    HandlerStatus {
        Active => "active",
        Suspended => "suspended",
        Withdrawn => "withdrawn",
    }
);

string_enum!(
    Category {
        Goods => "goods",
        Service => "service",
    }
);

string_enum!(
    Problem {
        Quality => "quality",
        Safety => "safety",
        FoodSafety => "food_safety",
        Price => "price",
        Measurement => "measurement",
        Contract => "contract",
        AfterSales => "after_sales",
        Advertising => "advertising",
        FalseAdvertising => "false_advertising",
        Counterfeit => "counterfeit",
        Trademark => "trademark",
        Certification => "certification",
        UnfairCompetition => "unfair_competition",
        PersonalRights => "personal_rights",
        Dignity => "dignity",
        PersonalInfo => "personal_info",
        Other => "other",
    }
);

string_enum!(
    Remedy {
        Refund => "refund",
        Replace => "replace",
        Repair => "repair",
        Compensate => "compensate",
        Apologize => "apologize",
        Other => "other",
    }
);

string_enum!(
    ContactMethod {
        Phone => "phone",
        Online => "online",
        InPerson => "in_person",
        Other => "other",
    }
);

string_enum!(
    /// Where a handler's request for more working days stands (SPEC §5).
    ExtensionStatus {
        Pending => "pending",
        Approved => "approved",
        Rejected => "rejected",
        Lapsed => "lapsed",
    }
);

string_enum!(
    ConsumerDecision {
        Accept => "accept",
        Reject => "reject",
        Object => "object",
        Escalate => "escalate",
    }
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn problems_are_exactly_the_seventeen_of_the_spec() {
        assert_eq!(Problem::ALL.len(), 17);
        assert_eq!("food_safety".parse::<Problem>(), Ok(Problem::FoodSafety));
        assert!("Food_Safety".parse::<Problem>().is_err());
    }

    #[test]
    fn values_serialise_as_their_wire_strings() {
        assert_eq!(
            serde_json::to_string(&HandlerKind::RightsStation).unwrap(),
            "\"rights_station\""
        );
        let remedy: Remedy = serde_json::from_str("\"apologize\"").unwrap();
        assert_eq!(remedy, Remedy::Apologize);
        assert_eq!(Role::Staff.to_string(), "staff");
        assert_eq!(ContactMethod::InPerson.to_string(), "in_person");
        assert!(ConsumerDecision::from_str("maybe").is_err());
    }
}
