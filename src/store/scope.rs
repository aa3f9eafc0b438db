//! Tenancy in one place: every read of a complaint goes through these finders,
//! so no route can forget whose complaint it is. Out of scope reads as absent.

use entity::{complaint, extension};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, QueryTrait,
    Select,
};

use super::{complaints, directory};
use crate::auth::Principal;
use crate::domain::lifecycle::{EscalationReason, Status};
use crate::domain::vocabulary::ExtensionStatus;
use crate::error::{Error, Result};

/// What a list of complaints is narrowed to; `None` matches any.
#[derive(Debug, Clone, Default)]
pub struct CaseFilter {
    /// Only the cases in the staff member's station queue (for staff only).
    pub in_queue: bool,
    pub status: Option<Status>,
    pub external_ref: Option<String>,
    pub escalation_reason: Option<EscalationReason>,
    pub station_overdue: Option<bool>,
}

impl CaseFilter {
    fn narrow(&self, mut q: Select<complaint::Entity>) -> Select<complaint::Entity> {
        if let Some(status) = self.status {
            q = q.filter(complaint::Column::Status.eq(status.as_str()));
        }
        if let Some(external_ref) = &self.external_ref {
            q = q.filter(complaint::Column::ExternalRef.eq(external_ref.as_str()));
        }
        if let Some(reason) = self.escalation_reason {
            q = q.filter(complaint::Column::EscalationReason.eq(reason.as_str()));
        }
        if let Some(overdue) = self.station_overdue {
            q = q.filter(complaint::Column::StationOverdue.eq(overdue));
        }
        q
    }
}

/// One page of the complaints the principal may see that match `filter`,
/// by id after the cursor id.
pub async fn complaints_page<C: ConnectionTrait>(
    db: &C,
    p: &Principal,
    filter: &CaseFilter,
    after: Option<&str>,
    limit: u64,
) -> Result<Vec<complaint::Model>> {
    let scoped = if filter.in_queue {
        queue(db, p).await?
    } else {
        visible(db, p).await?
    };
    complaints::page(db, filter.narrow(scoped), after, limit).await
}

/// One page of the extension requests the principal may see, by id after
/// the cursor id, optionally in one status.
pub async fn extensions_page<C: ConnectionTrait>(
    db: &C,
    p: &Principal,
    status: Option<ExtensionStatus>,
    after: Option<&str>,
    limit: u64,
) -> Result<Vec<extension::Model>> {
    let mut q = extensions(db, p).await?;
    if let Some(status) = status {
        q = q.filter(extension::Column::Status.eq(status.as_str()));
    }
    if let Some(after) = after {
        q = q.filter(extension::Column::Id.gt(after));
    }
    Ok(q.order_by_asc(extension::Column::Id)
        .limit(limit)
        .all(db)
        .await?)
}

/// Complaints the principal may see.
async fn visible<C: ConnectionTrait>(db: &C, p: &Principal) -> Result<Select<complaint::Entity>> {
    let q = complaint::Entity::find();
    Ok(match p {
        Principal::Admin { .. } => q,
        Principal::Partner { partner_id } => {
            q.filter(complaint::Column::PartnerId.eq(partner_id.as_str()))
        }
        Principal::Handler { handler_id } => {
            q.filter(complaint::Column::HandlerId.eq(handler_id.as_str()))
        }
        Principal::Staff { station_code, .. } => {
            let stations = directory::subtree(db, station_code).await?;
            q.filter(complaint::Column::StationCode.is_in(stations))
        }
    })
}

/// Cases that reached the staff member's station subtree.
async fn queue<C: ConnectionTrait>(db: &C, p: &Principal) -> Result<Select<complaint::Entity>> {
    p.staff()?;
    Ok(visible(db, p)
        .await?
        .filter(complaint::Column::EscalatedAt.is_not_null()))
}

pub async fn find<C: ConnectionTrait>(db: &C, p: &Principal, id: &str) -> Result<complaint::Model> {
    visible(db, p)
        .await?
        .filter(complaint::Column::Id.eq(id))
        .one(db)
        .await?
        .ok_or(Error::NotFound)
}

pub async fn find_in_queue<C: ConnectionTrait>(
    db: &C,
    p: &Principal,
    id: &str,
) -> Result<complaint::Model> {
    queue(db, p)
        .await?
        .filter(complaint::Column::Id.eq(id))
        .one(db)
        .await?
        .ok_or(Error::NotFound)
}

/// Extension requests on complaints the principal may see.
async fn extensions<C: ConnectionTrait>(
    db: &C,
    p: &Principal,
) -> Result<Select<extension::Entity>> {
    let q = extension::Entity::find();
    Ok(match p {
        Principal::Admin { .. } => q,
        _ => {
            let cases = visible(db, p)
                .await?
                .select_only()
                .column(complaint::Column::Id)
                .into_query();
            q.filter(extension::Column::ComplaintId.in_subquery(cases))
        }
    })
}

/// An extension request and its complaint, if the principal may see them.
pub async fn find_extension<C: ConnectionTrait>(
    db: &C,
    p: &Principal,
    id: &str,
) -> Result<(extension::Model, complaint::Model)> {
    let extension = extension::Entity::find_by_id(id.to_string())
        .one(db)
        .await?
        .ok_or(Error::NotFound)?;
    let case = find(db, p, &extension.complaint_id).await?;
    Ok((extension, case))
}
