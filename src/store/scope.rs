//! Tenancy in one place: every read of a complaint goes through these finders,
//! so no route can forget whose complaint it is. Out of scope reads as absent.

use entity::{complaint, extension};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect, QueryTrait, Select,
};

use super::directory;
use crate::auth::Principal;
use crate::error::{Error, Result};

/// Complaints the principal may see.
pub async fn visible<C: ConnectionTrait>(
    db: &C,
    p: &Principal,
) -> Result<Select<complaint::Entity>> {
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
pub async fn queue<C: ConnectionTrait>(db: &C, p: &Principal) -> Result<Select<complaint::Entity>> {
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
pub async fn extensions<C: ConnectionTrait>(
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
