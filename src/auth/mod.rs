//! Who is calling: access tokens, credentials, and the principal they prove.

pub mod secrets;
pub mod standing;
pub mod tokens;

use crate::domain::vocabulary::Role;
use crate::error::Error;

/// The authenticated caller. Scope rules key off this and nothing else.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    Admin {
        user_id: String,
    },
    Staff {
        user_id: String,
        station_code: String,
    },
    Partner {
        partner_id: String,
    },
    Handler {
        handler_id: String,
    },
}

impl Principal {
    pub fn role(&self) -> Role {
        match self {
            Principal::Admin { .. } => Role::Admin,
            Principal::Staff { .. } => Role::Staff,
            Principal::Partner { .. } => Role::Partner,
            Principal::Handler { .. } => Role::Handler,
        }
    }

    /// The id of the user, partner or handler behind the token.
    pub fn subject(&self) -> &str {
        match self {
            Principal::Admin { user_id } | Principal::Staff { user_id, .. } => user_id,
            Principal::Partner { partner_id } => partner_id,
            Principal::Handler { handler_id } => handler_id,
        }
    }

    pub fn partner_id(&self) -> Result<&str, Error> {
        match self {
            Principal::Partner { partner_id } => Ok(partner_id),
            _ => Err(Error::Forbidden("this route is for partner clients")),
        }
    }

    pub fn handler_id(&self) -> Result<&str, Error> {
        match self {
            Principal::Handler { handler_id } => Ok(handler_id),
            _ => Err(Error::Forbidden("this route is for handler clients")),
        }
    }

    /// Staff member's user id and station.
    pub fn staff(&self) -> Result<(&str, &str), Error> {
        match self {
            Principal::Staff {
                user_id,
                station_code,
            } => Ok((user_id, station_code)),
            _ => Err(Error::Forbidden("this route is for station staff")),
        }
    }

    pub fn require_admin(&self) -> Result<(), Error> {
        match self {
            Principal::Admin { .. } => Ok(()),
            _ => Err(Error::Forbidden("this route is for administrators")),
        }
    }

    /// The principal a signed-in account acts as, from its stored id, role
    /// and station; `None` for an account that cannot sign in (a staff
    /// account without a station).
    pub fn of_account(
        user_id: String,
        role: &str,
        station_code: Option<String>,
    ) -> Option<Principal> {
        match (role.parse::<Role>(), station_code) {
            (Ok(Role::Admin), _) => Some(Principal::Admin { user_id }),
            (Ok(Role::Staff), Some(station_code)) => Some(Principal::Staff {
                user_id,
                station_code,
            }),
            _ => None,
        }
    }
}
