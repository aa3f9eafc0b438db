//! Writing planned case rows under their version checks.

use entity::complaint;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseBackend, DatabaseTransaction,
    EntityTrait, QueryFilter, Statement,
};

use super::plan::Planned;
use crate::error::{Error, Result};
use crate::store::bulk::{self, Only, Packed};

/// Writes planned case rows under their version checks, all or none: on
/// PostgreSQL several in one statement ([`packed_update`]) when they change
/// the same columns, otherwise one by one. Fails with 409 when any case has
/// moved.
pub(super) async fn update_versioned(db: &DatabaseTransaction, plans: &[Planned]) -> Result<()> {
    let packed = match plans {
        [_, _, ..] if db.get_database_backend() == DatabaseBackend::Postgres => packed(plans),
        _ => None,
    };
    if let Some(packed) = packed {
        // The versions the changes were worked out from, in the same order.
        let versions: Vec<i32> = plans.iter().map(|p| p.version).collect();
        let done = db
            .execute_raw(Statement::from_sql_and_values(
                DatabaseBackend::Postgres,
                packed_update(&packed.columns),
                [packed.json.into(), versions.into()],
            ))
            .await?;
        if done.rows_affected() != plans.len() as u64 {
            return Err(Error::Concurrent);
        }
        return Ok(());
    }
    for p in plans {
        let updated = complaint::Entity::update_many()
            .set(p.model.clone())
            .filter(complaint::Column::Id.eq(p.id.as_str()))
            .filter(complaint::Column::Version.eq(p.version))
            .exec(db)
            .await?;
        if updated.rows_affected == 0 {
            return Err(Error::Concurrent);
        }
    }
    Ok(())
}

/// The planned rows' changes, with their ids, packed as one JSON parameter
/// (see [`bulk`]); `None` when they change different columns.
fn packed(plans: &[Planned]) -> Option<Packed> {
    let rows: Vec<complaint::ActiveModel> = plans
        .iter()
        .map(|p| {
            let mut row = p.model.clone();
            row.id = Set(p.id.clone());
            row
        })
        .collect();
    bulk::as_json(&rows, Only::Set)
}

/// The update of the packed rows `$1` (changing `columns`) under the versions
/// `$2`, matched by position. Written out rather than built with sea-query:
/// it has no `WITH ORDINALITY`, no column aliases on a function in `FROM` and
/// no `LATERAL` function call. The form it can build,
/// `FROM json_populate_recordset(…)`, is planned (as a generic plan, once per
/// connection) as a hash join over a sequential scan of `complaints` while
/// the table has a few thousand rows; this one stays an index scan per row.
fn packed_update(columns: &[&str]) -> String {
    let sets: Vec<String> = columns
        .iter()
        .filter(|c| **c != "id")
        .map(|c| format!("{c} = v.{c}", c = bulk::quoted(c)))
        .collect();
    format!(
        "UPDATE complaints AS c SET {sets} \
         FROM {rows}, unnest($2::int[]) WITH ORDINALITY AS w(version, n) \
         WHERE w.n = v_n AND c.id = v.id AND c.version = w.version",
        sets = sets.join(", "),
        rows = bulk::rows_from("complaints", 1, "v"),
    )
}
