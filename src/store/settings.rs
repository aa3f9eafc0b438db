//! Small key-value settings the gateway keeps for itself.

use entity::setting;
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict};
use sea_orm::{ActiveValue::Set, ConnectionTrait, EntityTrait};

use crate::error::Result;

pub async fn get<C: ConnectionTrait>(db: &C, key: &str) -> Result<Option<String>> {
    Ok(setting::Entity::find_by_id(key.to_string())
        .one(db)
        .await?
        .map(|s| s.value))
}

pub async fn put<C: ConnectionTrait>(db: &C, key: &str, value: &str) -> Result<()> {
    setting::Entity::insert(setting::ActiveModel {
        key: Set(key.to_string()),
        value: Set(value.to_string()),
    })
    .on_conflict(
        OnConflict::column(setting::Column::Key)
            .update_column(setting::Column::Value)
            .to_owned(),
    )
    .exec(db)
    .await?;
    Ok(())
}

/// Stores `value` under `key` unless the stored value sorts after it: a
/// setting that only moves forward. The comparison is part of the one
/// statement, so of two processes writing at once the later value stays.
/// Values must sort as text in the order they mean (fixed-width).
pub async fn put_if_later<C: ConnectionTrait>(db: &C, key: &str, value: &str) -> Result<()> {
    setting::Entity::insert(setting::ActiveModel {
        key: Set(key.to_string()),
        value: Set(value.to_string()),
    })
    .on_conflict(
        OnConflict::column(setting::Column::Key)
            .update_column(setting::Column::Value)
            .action_and_where(Expr::col((setting::Entity, setting::Column::Value)).lt(value))
            .to_owned(),
    )
    .exec_without_returning(db)
    .await?;
    Ok(())
}

/// The stored value for `key`, created by `make` on first use. Several
/// processes starting at once all end up with the first one written.
pub async fn get_or_create<C: ConnectionTrait>(
    db: &C,
    key: &str,
    make: impl FnOnce() -> Result<String>,
) -> Result<String> {
    if let Some(value) = get(db, key).await? {
        return Ok(value);
    }
    let _ = setting::Entity::insert(setting::ActiveModel {
        key: Set(key.to_string()),
        value: Set(make()?),
    })
    .on_conflict(
        OnConflict::column(setting::Column::Key)
            .do_nothing()
            .to_owned(),
    )
    .exec_without_returning(db)
    .await?;
    get(db, key)
        .await?
        .ok_or_else(|| crate::error::Error::unexpected("setting vanished"))
}
