//! Statements over many rows whose text does not depend on how many rows
//! they carry.
//!
//! A multi-row `VALUES` list or an `IN (…)` list is a new statement for every
//! batch size: PostgreSQL parses and plans it afresh, and the driver asks for
//! its parameter types first, a round trip more, so batching paid for most of
//! what it saved. On PostgreSQL the rows travel instead as one JSON parameter
//! unpacked by `json_populate_record` into the table's own row type, and a
//! list of keys as one array parameter (`= ANY($1)`): each statement is
//! prepared once per connection, whatever the batch. SQLite, embedded and
//! without a planner worth the saving, keeps the multi-row forms.

use std::borrow::Borrow;

use chrono::{SecondsFormat, SubsecRound};
use sea_orm::sea_query::{Expr, ExprTrait, SimpleExpr, extension::postgres::PgFunc};
use sea_orm::{
    ActiveModelTrait, ActiveValue, ConnectionTrait, DatabaseBackend, EntityName, EntityTrait,
    IdenStatic, Iterable, QueryResult, Statement, Value,
};

use crate::error::Result;

/// `column` is one of `keys`: `= ANY($1)` on PostgreSQL, `IN (…)` elsewhere.
pub fn one_of<C, V>(backend: DatabaseBackend, column: C, keys: Vec<V>) -> SimpleExpr
where
    C: sea_orm::ColumnTrait,
    V: Into<Value>
        + sea_orm::sea_query::ValueType
        + sea_orm::sea_query::value::postgres_array::NotU8,
{
    match backend {
        DatabaseBackend::Postgres => Expr::col(column).eq(PgFunc::any(Expr::val(keys))),
        _ => column.is_in(keys),
    }
}

/// Inserts `rows` (models or references to them) in one statement.
pub async fn insert<A, R, C>(db: &C, rows: &[R]) -> Result<()>
where
    A: ActiveModelTrait + Send,
    R: Borrow<A>,
    C: ConnectionTrait,
{
    if !rows.is_empty() {
        db.execute_raw(insert_statement::<A, R>(
            db.get_database_backend(),
            rows,
            &[],
        ))
        .await?;
    }
    Ok(())
}

/// Inserts `rows` in one statement and answers `returning` of each inserted
/// row (in no particular order).
pub async fn insert_returning<A, R, C>(
    db: &C,
    rows: &[R],
    returning: &[<A::Entity as EntityTrait>::Column],
) -> Result<Vec<QueryResult>>
where
    A: ActiveModelTrait + Send,
    R: Borrow<A>,
    C: ConnectionTrait,
{
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let statement = insert_statement::<A, R>(db.get_database_backend(), rows, returning);
    Ok(db.query_all_raw(statement).await?)
}

/// The insert of `rows` (not empty): packed on PostgreSQL when they can be,
/// else a multi-row `VALUES` list.
fn insert_statement<A: ActiveModelTrait, R: Borrow<A>>(
    backend: DatabaseBackend,
    rows: &[R],
    returning: &[<A::Entity as EntityTrait>::Column],
) -> Statement {
    use sea_orm::{QueryTrait, sea_query::Query};
    let packed = (backend == DatabaseBackend::Postgres)
        .then(|| as_json(rows, Only::Given))
        .flatten();
    let Some(packed) = packed else {
        let mut insert = A::Entity::insert_many(rows.iter().map(|r| r.borrow().clone()));
        if !returning.is_empty() {
            insert
                .query()
                .returning(Query::returning().columns(returning.iter().copied()));
        }
        return insert.build(backend);
    };
    let table = A::Entity::default().table_name().to_string();
    let columns: Vec<String> = packed.columns.iter().map(|c| quoted(c)).collect();
    let picked: Vec<String> = columns.iter().map(|c| format!("r.{c}")).collect();
    let tail = match returning {
        [] => String::new(),
        _ => {
            let names: Vec<String> = returning.iter().map(|c| quoted(c.as_str())).collect();
            format!(" RETURNING {}", names.join(", "))
        }
    };
    // Rows are inserted in the order given, so identity columns follow it.
    let sql = format!(
        "INSERT INTO {t} ({cols}) SELECT {picked} FROM {from} ORDER BY r_n{tail}",
        t = quoted(&table),
        cols = columns.join(", "),
        picked = picked.join(", "),
        from = rows_from(&table, 1, "r"),
    );
    Statement::from_sql_and_values(
        DatabaseBackend::Postgres,
        sql,
        [Value::String(Some(packed.json))],
    )
}

/// `rows` as one JSON array of objects keyed by column name, with the columns
/// given in them (the same in every row).
pub struct Packed {
    pub columns: Vec<&'static str>,
    pub json: String,
}

/// Which values of a row are packed.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Only {
    /// Set ones: an update's changes.
    Set,
    /// Set and unchanged alike, as `insert_many` writes them.
    Given,
}

/// Packs `rows`; `None` when they cannot travel that way: they give different
/// columns, a value has no JSON form here, or a JSON column holds `null`,
/// which `json_populate_record` would store as SQL NULL.
pub fn as_json<A: ActiveModelTrait, R: Borrow<A>>(rows: &[R], only: Only) -> Option<Packed> {
    use std::io::Write;
    let value = |row: &A, column| match (row.get(column), only) {
        (ActiveValue::Set(v), _) | (ActiveValue::Unchanged(v), Only::Given) => Some(v),
        _ => None,
    };
    let all: Vec<_> = <A::Entity as EntityTrait>::Column::iter().collect();
    let given: Vec<bool> = all
        .iter()
        .map(|c| value(rows[0].borrow(), *c).is_some())
        .collect();
    let mut out: Vec<u8> = Vec::with_capacity(rows.len() * 512);
    out.push(b'[');
    for (n, row) in rows.iter().enumerate() {
        out.extend_from_slice(if n == 0 { b"{" } else { b",{" });
        let mut first = true;
        for (column, given) in all.iter().zip(&given) {
            match (value(row.borrow(), *column), given) {
                (Some(v), true) => {
                    let comma = if first { "" } else { "," };
                    write!(out, "{comma}\"{}\":", column.as_str()).ok()?;
                    write_json(&mut out, v)?;
                    first = false;
                }
                (None, false) => {}
                _ => return None,
            }
        }
        out.push(b'}');
    }
    out.push(b']');
    let columns = all
        .iter()
        .zip(&given)
        .filter(|(_, given)| **given)
        .map(|(c, _)| c.as_str())
        .collect();
    Some(Packed {
        columns,
        json: String::from_utf8(out).ok()?,
    })
}

/// Writes a column value as `json_populate_record` reads it back; `None` for
/// a value it would not (see [`as_json`]).
fn write_json(out: &mut Vec<u8>, value: Value) -> Option<()> {
    use std::io::Write;
    match value {
        Value::Bool(Some(b)) => write!(out, "{b}").ok(),
        Value::SmallInt(Some(n)) => write!(out, "{n}").ok(),
        Value::Int(Some(n)) => write!(out, "{n}").ok(),
        Value::BigInt(Some(n)) => write!(out, "{n}").ok(),
        Value::String(Some(s)) => serde_json::to_writer(out, &s).ok(),
        // To the microsecond, cut rather than rounded, as a bound parameter
        // is stored (and as `case_file::stored_time` reads it back).
        Value::ChronoDateTimeUtc(Some(t)) => {
            let t = t
                .trunc_subsecs(6)
                .to_rfc3339_opts(SecondsFormat::Micros, true);
            write!(out, "\"{t}\"").ok()
        }
        Value::Json(Some(j)) if serde_json::Value::is_null(&j) => None,
        Value::Json(Some(j)) => serde_json::to_writer(out, &j).ok(),
        Value::Bool(None)
        | Value::SmallInt(None)
        | Value::Int(None)
        | Value::BigInt(None)
        | Value::String(None)
        | Value::ChronoDateTimeUtc(None)
        | Value::Json(None) => write!(out, "null").ok(),
        _ => None,
    }
}

pub fn quoted(name: &str) -> String {
    format!("\"{name}\"")
}

/// The elements of the JSON array parameter `$n`, each filled into `table`'s
/// row type as `alias`, with its position as `{alias}_n`: what a statement
/// over packed rows reads them `FROM`.
pub fn rows_from(table: &str, n: usize, alias: &str) -> String {
    format!(
        "json_array_elements(${n}::json) WITH ORDINALITY AS {alias}_e({alias}_json, {alias}_n), \
         LATERAL json_populate_record(NULL::{table}, {alias}_json) AS {alias}",
        table = quoted(table),
    )
}
