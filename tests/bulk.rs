//! Statements over many rows (`store::bulk`): rows written together read back
//! exactly as written, in the order given, whatever their nulls, JSON and
//! times; key lists select exactly their keys.

mod common;

use chrono::{DateTime, Duration, Utc};
use common::{TestApp, id, world};
use entity::{event, outbox};
use odr_gateway::store::{bulk, complaints};
use sea_orm::{
    ActiveValue::{NotSet, Set},
    ColumnTrait, DatabaseBackend, DatabaseConnection, EntityTrait, IntoActiveModel, QueryFilter,
    QueryOrder,
};
use serde_json::{Value, json};

/// `n` complaints, and a connection of the test's own to their database.
async fn complaints_in(app: &TestApp, n: usize) -> (DatabaseConnection, Vec<String>) {
    let w = world(app).await;
    let ids = common::submitted(app, &w, n).await.iter().map(id).collect();
    let db = odr_gateway::store::connect(&app.database_url)
        .await
        .expect("connect");
    (db, ids)
}

async fn a_complaint(app: &TestApp) -> (DatabaseConnection, String) {
    let (db, mut ids) = complaints_in(app, 1).await;
    (db, ids.remove(0))
}

/// A time with microseconds, as the databases store it.
fn micros(at: DateTime<Utc>) -> DateTime<Utc> {
    odr_gateway::domain::case_file::stored_time(at)
}

fn event_row(case: &str, seq: i32, payload: Value, actor_id: Option<&str>) -> event::Model {
    event::Model {
        id: 0,
        complaint_id: case.into(),
        seq,
        // .999 µs past a microsecond: PostgreSQL keeps microseconds, and a
        // packed time must be cut as a bound one is, not rounded up.
        at: micros(Utc::now() + Duration::microseconds(seq as i64 * 7))
            + Duration::nanoseconds(999),
        actor_kind: "system".into(),
        actor_id: actor_id.map(Into::into),
        kind: format!("test_{seq}"),
        from_status: None,
        to_status: Some("routed".into()),
        payload,
        prev_hash: Some(String::new()),
        hash: None,
    }
}

fn unsaved(row: &event::Model) -> event::ActiveModel {
    let mut active = row.clone().into_active_model();
    active.id = NotSet;
    active
}

async fn events_of(db: &DatabaseConnection, case: &str, from_seq: i32) -> Vec<event::Model> {
    event::Entity::find()
        .filter(event::Column::ComplaintId.eq(case))
        .filter(event::Column::Seq.gte(from_seq))
        .order_by_asc(event::Column::Id)
        .all(db)
        .await
        .expect("events")
}

on_both_databases!(
    rows_written_together_read_back_as_written_in_order,
    |app: TestApp| async move {
        let (db, case) = a_complaint(&app).await;
        let awkward = json!({
            "text": "柜门 \"quoted\" \\ back\nslash \u{1F600}",
            "nested": {"list": [1, 2.5, null, true], "empty": {}},
            "big": 9_007_199_254_740_993_i64,
        });
        // Seq runs backwards, so id order shows the order given, not seq order.
        let written: Vec<event::Model> = (0..5)
            .map(|i| {
                let actor = (i % 2 == 0).then_some("staff-1");
                event_row(&case, 105 - i, awkward.clone(), actor)
            })
            .collect();
        bulk::insert::<event::ActiveModel, _, _>(
            &db,
            &written.iter().map(unsaved).collect::<Vec<_>>(),
        )
        .await
        .expect("insert");
        let read = events_of(&db, &case, 100).await;
        let kept = |at| match db.get_database_backend() {
            DatabaseBackend::Postgres => micros(at),
            _ => at,
        };
        assert_eq!(read.len(), written.len());
        for (stored, given) in read.iter().zip(&written) {
            assert_eq!(
                event::Model {
                    id: stored.id,
                    at: kept(given.at),
                    ..given.clone()
                },
                *stored
            );
        }
        assert!(read.windows(2).all(|w| w[0].id < w[1].id));
    }
);

on_both_databases!(
    a_json_null_is_stored_as_json_not_as_sql_null,
    |app: TestApp| async move {
        let (db, case) = a_complaint(&app).await;
        let written = [
            event_row(&case, 200, json!({"a": 1}), None),
            event_row(&case, 201, Value::Null, None),
        ];
        bulk::insert::<event::ActiveModel, _, _>(
            &db,
            &written.iter().map(unsaved).collect::<Vec<_>>(),
        )
        .await
        .expect("insert");
        let read = events_of(&db, &case, 200).await;
        let payloads: Vec<&Value> = read.iter().map(|e| &e.payload).collect();
        assert_eq!(payloads, [&json!({"a": 1}), &Value::Null]);
    }
);

on_both_databases!(
    an_insert_answers_the_columns_asked_of_each_row,
    |app: TestApp| async move {
        let (db, case) = a_complaint(&app).await;
        let now = micros(Utc::now());
        let rows: Vec<outbox::ActiveModel> = (0..4)
            .map(|i| outbox::ActiveModel {
                webhook_id: Set(format!("msg_bulk_{i}")),
                complaint_id: Set(case.clone()),
                target_kind: Set("handler".into()),
                target_id: Set("h-1".into()),
                event_type: Set("complaint.forwarded".into()),
                payload: Set(json!({"n": i})),
                status: Set("delivered".into()),
                attempts: Set(i),
                next_attempt_at: Set(now),
                locked_until: Set((i % 2 == 0).then_some(now)),
                last_error: Set(None),
                created_at: Set(now),
                delivered_at: Set(Some(now)),
                ..Default::default()
            })
            .collect();
        let answered =
            bulk::insert_returning(&db, &rows, &[outbox::Column::Id, outbox::Column::WebhookId])
                .await
                .expect("insert");
        let mut pairs: Vec<(i64, String)> = answered
            .iter()
            .map(|r| {
                (
                    r.try_get("", "id").unwrap(),
                    r.try_get("", "webhook_id").unwrap(),
                )
            })
            .collect();
        pairs.sort();
        let stored: Vec<(i64, String)> = outbox::Entity::find()
            .filter(outbox::Column::WebhookId.starts_with("msg_bulk_"))
            .order_by_asc(outbox::Column::Id)
            .all(&db)
            .await
            .unwrap()
            .into_iter()
            .map(|r| (r.id, r.webhook_id))
            .collect();
        assert_eq!(pairs, stored);
        let names: Vec<&str> = stored.iter().map(|(_, w)| w.as_str()).collect();
        assert_eq!(
            names,
            ["msg_bulk_0", "msg_bulk_1", "msg_bulk_2", "msg_bulk_3"]
        );
    }
);

on_both_databases!(
    a_key_list_selects_exactly_its_keys,
    |app: TestApp| async move {
        let (db, ids) = complaints_in(&app, 3).await;
        let asked = vec![ids[2].clone(), "no-such-case".into(), ids[0].clone()];
        let mut found: Vec<String> = complaints::find_many(&db, asked)
            .await
            .expect("find")
            .into_iter()
            .map(|c| c.id)
            .collect();
        found.sort();
        let mut expected = vec![ids[0].clone(), ids[2].clone()];
        expected.sort();
        assert_eq!(found, expected);
        assert!(
            complaints::find_many(&db, Vec::new())
                .await
                .expect("find none")
                .is_empty()
        );
    }
);
