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

use chrono::SecondsFormat;
use sea_orm::sea_query::{Expr, ExprTrait, SimpleExpr, extension::postgres::PgFunc};
use sea_orm::{
    ActiveModelTrait, ActiveValue, ConnectionTrait, DatabaseBackend, EntityName, EntityTrait,
    IdenStatic, Iterable, QueryResult, Statement, Value,
};
use serde_json::{Map, Value as Json};

use crate::error::{Error, Result};

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

/// Inserts `rows` in one statement.
pub async fn insert<A, C>(db: &C, rows: Vec<A>) -> Result<()>
where
    A: ActiveModelTrait + Send,
    C: ConnectionTrait,
{
    if rows.is_empty() {
        return Ok(());
    }
    match as_json(&rows, Only::Given)? {
        Some(packed) if db.get_database_backend() == DatabaseBackend::Postgres => {
            db.execute_raw(insert_statement::<A>(packed, "")).await?;
        }
        _ => {
            A::Entity::insert_many(rows)
                .exec_without_returning(db)
                .await?;
        }
    }
    Ok(())
}

/// Inserts `rows` in one statement and answers `returning` of each inserted
/// row (in no particular order).
pub async fn insert_returning<A, C>(
    db: &C,
    rows: Vec<A>,
    returning: &[<A::Entity as EntityTrait>::Column],
) -> Result<Vec<QueryResult>>
where
    A: ActiveModelTrait + Send,
    C: ConnectionTrait,
{
    use sea_orm::{QueryTrait, sea_query::Query};
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let backend = db.get_database_backend();
    let statement = match as_json(&rows, Only::Given)? {
        Some(packed) if backend == DatabaseBackend::Postgres => {
            let names: Vec<String> = returning.iter().map(|c| quoted(c.as_str())).collect();
            insert_statement::<A>(packed, &format!(" RETURNING {}", names.join(", ")))
        }
        _ => {
            let mut insert = A::Entity::insert_many(rows);
            insert
                .query()
                .returning(Query::returning().columns(returning.iter().copied()));
            insert.build(backend)
        }
    };
    Ok(db.query_all_raw(statement).await?)
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Only {
    Set,
    Given,
}

/// `rows` as one JSON array of objects keyed by column name, with the columns
/// set in them (the same in every row). `None` when the rows cannot travel
/// that way: they set different columns, or a JSON column holds `null`, which
/// `json_populate_record` would store as SQL NULL.
pub struct Packed {
    pub columns: Vec<&'static str>,
    pub json: String,
}

/// With `Only::Set`, unchanged values are left out (an update's packing);
/// with `Only::Given`, set and unchanged are written alike, as `insert_many`
/// writes them.
pub fn as_json<A: ActiveModelTrait>(rows: &[A], only: Only) -> Result<Option<Packed>> {
    let value = |row: &A, column| match (row.get(column), only) {
        (ActiveValue::Set(v), _) | (ActiveValue::Unchanged(v), Only::Given) => Some(v),
        _ => None,
    };
    let columns: Vec<&'static str> = <A::Entity as EntityTrait>::Column::iter()
        .filter(|c| value(&rows[0], *c).is_some())
        .map(|c| c.as_str())
        .collect();
    let mut objects = Vec::with_capacity(rows.len());
    for row in rows {
        let mut object = Map::with_capacity(columns.len());
        for column in <A::Entity as EntityTrait>::Column::iter() {
            match (value(row, column), columns.contains(&column.as_str())) {
                (Some(v), true) => match json_of(v)? {
                    Some(json) => {
                        object.insert(column.as_str().to_string(), json);
                    }
                    None => return Ok(None),
                },
                (None, false) => {}
                _ => return Ok(None),
            }
        }
        objects.push(Json::Object(object));
    }
    let json = serde_json::to_string(&objects).map_err(Error::internal)?;
    Ok(Some(Packed { columns, json }))
}

/// A column value as `json_populate_record` reads it back; `None` for a JSON
/// `null` (see [`as_json`]).
fn json_of(value: Value) -> Result<Option<Json>> {
    Ok(Some(match value {
        Value::Bool(Some(b)) => Json::Bool(b),
        Value::Int(Some(n)) => n.into(),
        Value::BigInt(Some(n)) => n.into(),
        Value::SmallInt(Some(n)) => n.into(),
        Value::String(Some(s)) => Json::String(s),
        Value::ChronoDateTimeUtc(Some(t)) => {
            Json::String(t.to_rfc3339_opts(SecondsFormat::AutoSi, true))
        }
        Value::Json(Some(j)) if Json::is_null(&j) => return Ok(None),
        Value::Json(Some(j)) => *j,
        Value::Bool(None)
        | Value::Int(None)
        | Value::BigInt(None)
        | Value::SmallInt(None)
        | Value::String(None)
        | Value::ChronoDateTimeUtc(None)
        | Value::Json(None) => Json::Null,
        other => {
            return Err(Error::internal(std::io::Error::other(format!(
                "no JSON form for the column value {other:?}"
            ))));
        }
    }))
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

fn insert_statement<A: ActiveModelTrait>(packed: Packed, tail: &str) -> Statement {
    let table = A::Entity::default().table_name().to_string();
    let columns: Vec<String> = packed.columns.iter().map(|c| quoted(c)).collect();
    let picked: Vec<String> = columns.iter().map(|c| format!("r.{c}")).collect();
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
