//! Partner platforms: enrolment with a quota, quota changes, removal. Each use
//! case is one function that owns its transaction and its audit entry.

use chrono::{DateTime, Utc};
use entity::partner;
use sea_orm::{ActiveModelTrait, ActiveValue::Set, IntoActiveModel, TransactionTrait};
use serde_json::{Value, json};

use super::audit::{self, Change};
use super::directory::{self, Credentials};
use super::events::Actor;
use super::{Db, new_id};
use crate::auth::secrets::{self, Sealer};
use crate::error::Result;

const ACTIVE: &str = "active";
const DELETED: &str = "deleted";

pub struct NewPartner {
    pub name: String,
    pub rate_per_second: i32,
    pub burst: i32,
    pub callback_url: Option<String>,
}

/// A new partner with its secrets, which exist only in this value.
pub struct EnrolledPartner {
    pub partner: partner::Model,
    pub credentials: Credentials,
    /// Signs the status callbacks, when it gave a callback URL.
    pub webhook_secret: Option<String>,
}

/// Creates a partner with its quota, its client credentials and its audit
/// entry, in one transaction.
pub async fn enrol(
    db: &Db,
    sealer: &Sealer,
    actor: Actor,
    new: NewPartner,
    now: DateTime<Utc>,
) -> Result<EnrolledPartner> {
    let id = new_id();
    let webhook_secret = match new.callback_url {
        Some(_) => Some(secrets::generate_webhook_secret()?),
        None => None,
    };
    let txn = db.begin().await?;
    let partner = partner::ActiveModel {
        id: Set(id.clone()),
        name: Set(new.name),
        rate_per_second: Set(new.rate_per_second),
        burst: Set(new.burst),
        callback_url: Set(new.callback_url),
        status: Set(ACTIVE.into()),
        webhook_secret: Set(webhook_secret
            .as_deref()
            .map(|s| sealer.seal(s))
            .transpose()?),
        created_at: Set(now),
    }
    .insert(&txn)
    .await?;
    let credentials = directory::issue_credentials(&txn, "partner", &id, now).await?;
    let change = Change {
        action: "partner.created",
        target_kind: "partner",
        target_id: &partner.id,
        detail: json!({
            "name": partner.name, "quota": quota(&partner), "callback_url": partner.callback_url,
        }),
    };
    audit::record(&txn, &actor, change).await?;
    txn.commit().await?;
    Ok(EnrolledPartner {
        partner,
        credentials,
        webhook_secret,
    })
}

/// A partner that has not been removed.
pub async fn find_active(db: &Db, id: &str) -> Result<Option<partner::Model>> {
    Ok(directory::partner(db, id)
        .await?
        .filter(|p| p.status == ACTIVE))
}

/// What an update changes; `None` leaves a setting as it is.
#[derive(Default)]
pub struct PartnerChanges {
    pub name: Option<String>,
    pub rate_per_second: Option<i32>,
    pub burst: Option<i32>,
}

/// Renames a partner or changes its quota, with the audit entry (a quota
/// change is recorded as such).
pub async fn update(
    db: &Db,
    actor: Actor,
    current: partner::Model,
    changes: PartnerChanges,
) -> Result<partner::Model> {
    let mut model = current.clone().into_active_model();
    if let Some(name) = changes.name {
        model.name = Set(name);
    }
    if let Some(rate) = changes.rate_per_second {
        model.rate_per_second = Set(rate);
    }
    if let Some(burst) = changes.burst {
        model.burst = Set(burst);
    }
    let txn = db.begin().await?;
    let updated = model.update(&txn).await?;
    let quota_changed = quota(&current) != quota(&updated);
    let change = Change {
        action: if quota_changed {
            "partner.quota_changed"
        } else {
            "partner.updated"
        },
        target_kind: "partner",
        target_id: &updated.id,
        detail: json!({
            "before": { "name": current.name, "quota": quota(&current) },
            "after": { "name": updated.name, "quota": quota(&updated) },
        }),
    };
    audit::record(&txn, &actor, change).await?;
    txn.commit().await?;
    Ok(updated)
}

/// Removes a partner, with the audit entry: it can get no new tokens, and the
/// guard refuses the ones it holds. Its complaints stay (case files are never
/// deleted).
pub async fn remove(db: &Db, actor: Actor, current: partner::Model) -> Result<partner::Model> {
    let mut model = current.into_active_model();
    model.status = Set(DELETED.into());
    let txn = db.begin().await?;
    let removed = model.update(&txn).await?;
    let change = Change {
        action: "partner.deleted",
        target_kind: "partner",
        target_id: &removed.id,
        detail: json!({ "name": removed.name }),
    };
    audit::record(&txn, &actor, change).await?;
    txn.commit().await?;
    Ok(removed)
}

fn quota(p: &partner::Model) -> Value {
    json!({ "rate_per_second": p.rate_per_second, "burst": p.burst })
}
