//! Proposals, consumer answers and extension requests: state changes that
//! write rows beside the case, each in one transaction with its transition.

use chrono::{DateTime, Utc};
use entity::{complaint, extension, proposal};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection,
    EntityTrait, QueryFilter, QueryOrder, TransactionTrait,
};
use serde_json::{Value, json};

use super::complaints::{self, Transition, transition_in};
use super::deadlines::caught_up;
use super::events::Actor;
use super::new_id;
use crate::clock::{Now, beijing};
use crate::domain::lifecycle::Action;
use crate::domain::vocabulary::Remedy;
use crate::error::{Error, Result};

/// The handler acknowledges (受理). The first acknowledgement discloses the
/// consumer's phone to it, and the case file records that disclosure.
pub async fn acknowledge(
    db: &DatabaseConnection,
    now: Now<'_>,
    actor: &Actor,
    case: &complaint::Model,
) -> Result<complaint::Model> {
    complaints::transition(db, now, Transition::new(actor, case, Action::Acknowledge)).await
}

pub struct NewProposal {
    pub remedy: Remedy,
    pub amount_cents: Option<i64>,
    pub note: Option<String>,
}

/// The handler proposes a remedy; earlier open proposals are superseded.
pub async fn propose(
    db: &DatabaseConnection,
    now: Now<'_>,
    actor: &Actor,
    case: &complaint::Model,
    new: NewProposal,
) -> Result<(complaint::Model, proposal::Model)> {
    let case = &caught_up(db, now, case).await?;
    let txn = db.begin().await?;
    let id = new_id();
    let payload = json!({
        "proposal_id": id,
        "remedy": new.remedy,
        "amount_cents": new.amount_cents,
        "note": new.note,
    });
    let request = Transition::new(actor, case, Action::Propose).payload(payload);
    let updated = transition_in(&txn, now, request).await?;
    proposal::Entity::update_many()
        .col_expr(proposal::Column::Status, "superseded".into())
        .filter(proposal::Column::ComplaintId.eq(case.id.as_str()))
        .filter(proposal::Column::Status.eq("open"))
        .exec(&txn)
        .await?;
    let proposal = proposal::ActiveModel {
        id: Set(id),
        complaint_id: Set(case.id.clone()),
        remedy: Set(new.remedy.as_str().into()),
        amount_cents: Set(new.amount_cents),
        note: Set(new.note),
        status: Set("open".into()),
        created_at: Set(now.at),
    }
    .insert(&txn)
    .await?;
    txn.commit().await?;
    Ok((updated, proposal))
}

/// A settlement the handler agreed with the consumer offline.
pub struct ReportedSettlement {
    pub remedy: Remedy,
    pub recovered_cents: i64,
    pub note: Option<String>,
}

/// The handler reports the case settled; it stands unless the consumer objects
/// within the objection window.
pub async fn report_settlement(
    db: &DatabaseConnection,
    now: Now<'_>,
    actor: &Actor,
    case: &complaint::Model,
    settlement: ReportedSettlement,
) -> Result<complaint::Model> {
    let outcome = json!({
        "kind": "settlement",
        "reported_by": "handler",
        "remedy": settlement.remedy,
        "recovered_cents": settlement.recovered_cents,
        "note": settlement.note,
        "settled_at": beijing(&now.at),
    });
    let request = Transition::new(actor, case, Action::ReportSettlement)
        .payload(outcome.clone())
        .outcome(outcome);
    complaints::transition(db, now, request).await
}

/// The consumer accepts (→ settled, recovering the proposal's amount) or
/// rejects the open proposal; `proposal_id` defaults to the latest one.
pub async fn answer_proposal(
    db: &DatabaseConnection,
    now: Now<'_>,
    actor: &Actor,
    case: &complaint::Model,
    accept: bool,
    proposal_id: Option<&str>,
    payload: Value,
) -> Result<complaint::Model> {
    let case = &caught_up(db, now, case).await?;
    let txn = db.begin().await?;
    let mut open = proposal::Entity::find()
        .filter(proposal::Column::ComplaintId.eq(case.id.as_str()))
        .filter(proposal::Column::Status.eq("open"))
        .order_by_desc(proposal::Column::Id);
    if let Some(id) = proposal_id {
        open = open.filter(proposal::Column::Id.eq(id));
    }
    let action = if accept {
        Action::ConsumerAccept
    } else {
        Action::ConsumerReject
    };
    // Ask the table first, so a case in the wrong state answers 409 naming
    // what is allowed rather than "no open proposal".
    crate::domain::lifecycle::next(super::complaints::status_of(case)?, action)?;
    let proposal = open.one(&txn).await?.ok_or_else(|| match proposal_id {
        Some(_) => Error::field("proposal_id", "is not an open proposal of this complaint"),
        None => Error::conflict("the complaint has no open proposal to answer"),
    })?;
    let mut payload = payload;
    payload["proposal_id"] = json!(proposal.id);
    let recovered = proposal.amount_cents.unwrap_or(0);
    let outcome = json!({
        "kind": "settlement",
        "reported_by": "consumer",
        "proposal_id": proposal.id,
        "remedy": proposal.remedy,
        "recovered_cents": recovered,
        "note": proposal.note,
        "settled_at": crate::clock::beijing(&now.at),
    });
    let mut request = Transition::new(actor, case, action).payload(payload);
    if accept {
        request = request.outcome(outcome);
    }
    let updated = transition_in(&txn, now, request).await?;
    let mut answered: proposal::ActiveModel = proposal.into();
    answered.status = Set(if accept { "accepted" } else { "rejected" }.into());
    answered.update(&txn).await?;
    txn.commit().await?;
    Ok(updated)
}

/// The handler asks, once per case, for more working days.
pub async fn request_extension(
    db: &DatabaseConnection,
    now: Now<'_>,
    actor: &Actor,
    case: &complaint::Model,
    working_days: i32,
    reason: String,
) -> Result<(complaint::Model, extension::Model)> {
    let case = &caught_up(db, now, case).await?;
    let txn = db.begin().await?;
    if let Some(existing) = extension::Entity::find()
        .filter(extension::Column::ComplaintId.eq(case.id.as_str()))
        .one(&txn)
        .await?
    {
        return Err(Error::Conflict {
            detail: "an extension was already requested for this complaint".into(),
            extra: json!({ "existing_id": existing.id }),
        });
    }
    let id = new_id();
    let payload = json!({ "extension_id": id, "working_days": working_days, "reason": reason });
    let request = Transition::new(actor, case, Action::RequestExtension).payload(payload);
    let updated = transition_in(&txn, now, request).await?;
    let extension = extension::ActiveModel {
        id: Set(id),
        complaint_id: Set(case.id.clone()),
        working_days: Set(working_days),
        reason: Set(reason),
        status: Set("pending".into()),
        requested_at: Set(now.at),
        decided_at: Set(None),
        decided_by: Set(None),
        decision_note: Set(None),
    }
    .insert(&txn)
    .await?;
    txn.commit().await?;
    Ok((updated, extension))
}

/// Staff grant or refuse a pending extension. Granting moves `resolve_by`
/// by the days asked; either way the handler is told (`complaint.extension_decided`).
pub async fn decide_extension(
    db: &DatabaseConnection,
    now: Now<'_>,
    actor: &Actor,
    case: &complaint::Model,
    extension: extension::Model,
    approve: bool,
    note: Option<String>,
) -> Result<(complaint::Model, extension::Model)> {
    let fresh = caught_up(db, now, case).await?;
    // The case may have just left the handler, and the request lapsed with it.
    let extension = if fresh.version == case.version {
        extension
    } else {
        extension::Entity::find_by_id(extension.id)
            .one(db)
            .await?
            .ok_or(Error::NotFound)?
    };
    let case = &fresh;
    match extension.status.as_str() {
        "pending" => {}
        "lapsed" => {
            return Err(Error::conflict(
                "this extension lapsed: the complaint left the handler before it was decided",
            ));
        }
        decided => {
            return Err(Error::conflict(format!(
                "this extension was already {decided}"
            )));
        }
    }
    let status = if approve { "approved" } else { "rejected" };
    let payload = json!({ "extension": {
        "id": extension.id,
        "status": status,
        "working_days": extension.working_days,
        "note": note,
    }});
    let request = if approve {
        let days = u32::try_from(extension.working_days).map_err(Error::internal)?;
        Transition::new(actor, case, Action::ApproveExtension).extension(days)
    } else {
        Transition::new(actor, case, Action::RejectExtension)
    };
    let txn = db.begin().await?;
    let updated = transition_in(&txn, now, request.payload(payload)).await?;
    let decided = extension::Entity::update_many()
        .col_expr(extension::Column::Status, Expr::value(status))
        .col_expr(extension::Column::DecidedAt, Expr::value(Some(now.at)))
        .col_expr(extension::Column::DecidedBy, Expr::value(actor.id.clone()))
        .col_expr(extension::Column::DecisionNote, Expr::value(note))
        .filter(extension::Column::Id.eq(extension.id.as_str()))
        .filter(extension::Column::Status.eq("pending"))
        .exec(&txn)
        .await?;
    if decided.rows_affected == 0 {
        return Err(Error::Concurrent);
    }
    let extension = extension::Entity::find_by_id(extension.id)
        .one(&txn)
        .await?
        .ok_or(Error::NotFound)?;
    txn.commit().await?;
    Ok((updated, extension))
}

/// The extension request of case `complaint_id` still waiting for staff, if any.
pub async fn pending_extension<C: ConnectionTrait>(
    db: &C,
    complaint_id: &str,
) -> Result<Option<extension::Model>> {
    Ok(extension::Entity::find()
        .filter(extension::Column::ComplaintId.eq(complaint_id))
        .filter(extension::Column::Status.eq("pending"))
        .one(db)
        .await?)
}

/// Closes a pending request whose case left the handler's hands: there is no
/// `resolve_by` left to move, so staff can no longer decide it.
pub async fn lapse_extension<C: ConnectionTrait>(
    db: &C,
    id: &str,
    at: DateTime<Utc>,
) -> Result<()> {
    extension::Entity::update_many()
        .col_expr(extension::Column::Status, Expr::value("lapsed"))
        .col_expr(extension::Column::DecidedAt, Expr::value(Some(at)))
        .filter(extension::Column::Id.eq(id))
        .filter(extension::Column::Status.eq("pending"))
        .exec(db)
        .await?;
    Ok(())
}
