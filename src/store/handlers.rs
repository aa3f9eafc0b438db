//! Enrolling and changing handlers. Each use case is one function that owns
//! its transaction and its audit entry, called alike by the API, the command
//! line and the demo.

use chrono::{DateTime, Utc};
use entity::handler;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, IntoActiveModel, QueryFilter,
    TransactionTrait,
};
use serde_json::{Value, json};

use super::audit::{self, Change};
use super::complaints::Transition;
use super::directory::{self, Credentials};
use super::events::Actor;
use super::{Db, complaints, deliveries, new_id};
use crate::auth::secrets::{self, Sealer};
use crate::clock::Now;
use crate::domain::lifecycle::{Action, EscalationReason};
use crate::domain::vocabulary::{DeliveryMode, HandlerKind, HandlerStatus};
use crate::error::{Error, Result};

pub struct NewHandler {
    pub kind: HandlerKind,
    pub name: String,
    pub credit_code: Option<String>,
    pub station_code: String,
    pub delivery: DeliveryMode,
    pub webhook_url: Option<String>,
    pub covers: Vec<String>,
    pub delivery_rate_per_second: Option<i32>,
}

/// A new handler with its secrets, which exist only in this value.
pub struct EnrolledHandler {
    pub handler: handler::Model,
    pub credentials: Credentials,
    pub webhook_secret: String,
}

/// Enrols a handler at an existing station, with its client credentials, its
/// signing secret and its audit entry, in one transaction. A merchant whose
/// credit code is already enrolled (and not withdrawn) is a conflict.
pub async fn enrol(
    db: &Db,
    sealer: &Sealer,
    actor: Actor,
    new: NewHandler,
    now: DateTime<Utc>,
) -> Result<EnrolledHandler> {
    let txn = db.begin().await?;
    if !directory::station_exists(&txn, &new.station_code).await? {
        return Err(Error::field("station_code", "no station has this code"));
    }
    if let Some(code) = &new.credit_code
        && new.kind == HandlerKind::Merchant
        && let Some(existing) = handler::Entity::find()
            .filter(handler::Column::CreditCode.eq(code.as_str()))
            .filter(handler::Column::Kind.eq(HandlerKind::Merchant.as_str()))
            .filter(handler::Column::Status.ne(HandlerStatus::Withdrawn.as_str()))
            .one(&txn)
            .await?
    {
        return Err(Error::Conflict {
            detail: "a merchant handler with this credit code is already enrolled".into(),
            extra: json!({ "existing_id": existing.id }),
        });
    }
    let id = new_id();
    let webhook_secret = secrets::generate_webhook_secret()?;
    let handler = handler::ActiveModel {
        id: Set(id.clone()),
        kind: Set(new.kind.as_str().into()),
        name: Set(new.name),
        credit_code: Set(new.credit_code),
        station_code: Set(new.station_code),
        delivery: Set(new.delivery.as_str().into()),
        webhook_url: Set(new.webhook_url),
        covers: Set(json!(new.covers)),
        status: Set(HandlerStatus::Active.as_str().into()),
        webhook_secret: Set(sealer.seal(&webhook_secret)?),
        previous_webhook_secret: Set(None),
        previous_secret_until: Set(None),
        delivery_rate_per_second: Set(new.delivery_rate_per_second),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&txn)
    .await?;
    let credentials = directory::issue_credentials(&txn, "handler", &id, now).await?;
    let change = Change {
        action: "handler.enrolled",
        target_kind: "handler",
        target_id: &handler.id,
        detail: json!({
            "kind": handler.kind, "name": handler.name, "credit_code": handler.credit_code,
            "station_code": handler.station_code, "delivery": handler.delivery,
            "covers": handler.covers,
        }),
    };
    audit::record(&txn, &actor, change).await?;
    txn.commit().await?;
    Ok(EnrolledHandler {
        handler,
        credentials,
        webhook_secret,
    })
}

/// What an update changes; `None` leaves a setting as it is.
#[derive(Default)]
pub struct HandlerChanges {
    pub name: Option<String>,
    pub delivery: Option<DeliveryMode>,
    pub webhook_url: Option<String>,
    pub covers: Option<Vec<String>>,
    pub status: Option<HandlerStatus>,
    pub delivery_rate_per_second: Option<i32>,
}

/// Changes a handler's settings or status, with its audit entry. Suspending or
/// withdrawing an active handler escalates its open cases to their stations
/// (SPEC §4) in the same transaction, so no case is left with a handler that
/// can no longer act on it.
pub async fn update(
    db: &Db,
    now: Now<'_>,
    actor: Actor,
    current: handler::Model,
    changes: HandlerChanges,
) -> Result<handler::Model> {
    let suspending = matches!(
        changes.status,
        Some(HandlerStatus::Suspended | HandlerStatus::Withdrawn)
    ) && current.status == HandlerStatus::Active.as_str();
    let mut model = current.clone().into_active_model();
    if let Some(name) = changes.name {
        model.name = Set(name);
    }
    if let Some(delivery) = changes.delivery {
        model.delivery = Set(delivery.as_str().into());
    }
    if let Some(url) = changes.webhook_url {
        model.webhook_url = Set(Some(url));
    }
    if let Some(covers) = changes.covers {
        model.covers = Set(json!(covers));
    }
    if let Some(status) = changes.status {
        model.status = Set(status.as_str().into());
    }
    if let Some(rate) = changes.delivery_rate_per_second {
        model.delivery_rate_per_second = Set(Some(rate));
    }
    model.updated_at = Set(now.at);
    let txn = db.begin().await?;
    let updated = model.update(&txn).await?;
    let action = match (current.status == updated.status, updated.status.as_str()) {
        (true, _) => "handler.updated",
        (false, "suspended") => "handler.suspended",
        (false, "withdrawn") => "handler.withdrawn",
        (false, _) => "handler.reinstated",
    };
    let change = Change {
        action,
        target_kind: "handler",
        target_id: &updated.id,
        detail: json!({ "before": settings(&current), "after": settings(&updated) }),
    };
    audit::record(&txn, &actor, change).await?;
    if suspending {
        for case in complaints::open_at_handler(&txn, &updated.id).await? {
            let escalate = Action::Escalate(EscalationReason::HandlerSuspended);
            let request = Transition::new(&actor, &case, escalate)
                .payload(json!({ "handler_status": updated.status }));
            complaints::transition_in(&txn, now, request).await?;
        }
    }
    txn.commit().await?;
    Ok(updated)
}

/// What an admin may change on a handler, for the audit log.
fn settings(h: &handler::Model) -> Value {
    json!({
        "name": h.name, "delivery": h.delivery, "webhook_url": h.webhook_url,
        "covers": h.covers, "status": h.status,
        "delivery_rate_per_second": h.delivery_rate_per_second,
    })
}

/// Gives a handler a new signing secret, with its audit entry; the old one
/// keeps signing beside it until `overlap_until` (real time), so receivers can
/// switch without missing events. Answers the handler and the new secret.
pub async fn rotate_secret(
    db: &Db,
    sealer: &Sealer,
    actor: Actor,
    current: handler::Model,
    now: DateTime<Utc>,
    overlap_until: DateTime<Utc>,
) -> Result<(handler::Model, String)> {
    let secret = secrets::generate_webhook_secret()?;
    let previous = current.webhook_secret.clone();
    let mut model = current.into_active_model();
    model.webhook_secret = Set(sealer.seal(&secret)?);
    model.previous_webhook_secret = Set(Some(previous));
    model.previous_secret_until = Set(Some(overlap_until));
    model.updated_at = Set(now);
    let txn = db.begin().await?;
    let handler = model.update(&txn).await?;
    let change = Change {
        action: "handler.secret_rotated",
        target_kind: "handler",
        target_id: &handler.id,
        detail: json!({ "previous_secret_valid_until": handler.previous_secret_until }),
    };
    audit::record(&txn, &actor, change).await?;
    txn.commit().await?;
    Ok((handler, secret))
}

/// Closes the circuit breaker of a handler's endpoint by hand and sends its
/// waiting events at once, with the audit entry, in one transaction.
pub async fn resume_endpoint(db: &Db, actor: Actor, handler: &handler::Model) -> Result<()> {
    let txn = db.begin().await?;
    deliveries::save_endpoint(&txn, &endpoint_of(handler), "closed", 0, None).await?;
    deliveries::wake_target(&txn, "handler", &handler.id).await?;
    let change = Change {
        action: "handler.endpoint_resumed",
        target_kind: "handler",
        target_id: &handler.id,
        detail: json!({}),
    };
    audit::record(&txn, &actor, change).await?;
    txn.commit().await?;
    Ok(())
}

/// The breaker's key of a handler's endpoint.
pub fn endpoint_of(handler: &handler::Model) -> String {
    format!("handler:{}", handler.id)
}
