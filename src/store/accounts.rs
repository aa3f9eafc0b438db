//! Staff and admin accounts. A password reaches the store only as a
//! [`Password`], so the API and the command line keep one rule for it.

use chrono::{DateTime, Utc};
use entity::user;
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ConnectionTrait, TransactionTrait};
use serde_json::{Value, json};

use super::audit::{self, Change};
use super::events::Actor;
use super::{Db, directory, new_id};
use crate::auth::secrets;
use crate::domain::password::Password;
use crate::domain::vocabulary::Role;
use crate::error::{Error, Result};

pub struct NewUser {
    pub username: String,
    pub password: Password,
    pub role: Role,
    /// Required for staff: the station whose subtree they work on.
    pub station_code: Option<String>,
}

/// An administrator adds a staff member at a station (`POST /v1/staff`), with
/// the audit entry, in one transaction.
pub async fn add_staff(
    db: &Db,
    actor: Actor,
    username: String,
    password: Password,
    station_code: String,
    now: DateTime<Utc>,
) -> Result<user::Model> {
    let new = NewUser {
        username,
        password,
        role: Role::Staff,
        station_code: Some(station_code),
    };
    create(db, actor, new, now, |user| {
        let detail = json!({ "username": user.username, "station_code": user.station_code });
        ("staff.created", detail)
    })
    .await
}

/// An account of either role made at the command line (`admin create-user`)
/// or by the demo, with the audit entry, in one transaction.
pub async fn create_account(
    db: &Db,
    actor: Actor,
    new: NewUser,
    now: DateTime<Utc>,
) -> Result<user::Model> {
    create(db, actor, new, now, |user| {
        let detail = json!({
            "username": user.username, "role": user.role, "station_code": user.station_code,
        });
        ("user.created", detail)
    })
    .await
}

async fn create(
    db: &Db,
    actor: Actor,
    new: NewUser,
    now: DateTime<Utc>,
    audited: impl FnOnce(&user::Model) -> (&'static str, Value),
) -> Result<user::Model> {
    let txn = db.begin().await?;
    let user = insert(&txn, new, now).await?;
    let (action, detail) = audited(&user);
    let change = Change {
        action,
        target_kind: "user",
        target_id: &user.id,
        detail,
    };
    audit::record(&txn, &actor, change).await?;
    txn.commit().await?;
    Ok(user)
}

/// The account row alone, without an audit entry: what the use cases above
/// write inside their transaction, and how tests seed their first admin.
pub async fn insert<C: ConnectionTrait>(
    db: &C,
    new: NewUser,
    now: DateTime<Utc>,
) -> Result<user::Model> {
    match (&new.station_code, new.role) {
        (Some(code), _) if !directory::station_exists(db, code).await? => {
            return Err(Error::field("station_code", "no station has this code"));
        }
        (None, Role::Staff) => {
            return Err(Error::field(
                "station_code",
                "is required for a staff account",
            ));
        }
        _ => {}
    }
    if directory::user_by_name(db, &new.username).await?.is_some() {
        return Err(Error::conflict(format!(
            "user {} already exists",
            new.username
        )));
    }
    Ok(user::ActiveModel {
        id: Set(new_id()),
        password_hash: Set(secrets::hash(new.password.as_str())?),
        username: Set(new.username),
        role: Set(new.role.as_str().into()),
        station_code: Set(new.station_code),
        created_at: Set(now),
    }
    .insert(db)
    .await?)
}
