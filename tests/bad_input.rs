//! Bad input on every write route: a missing field, a wrong type, a value out
//! of range, an oversized value and an unknown field each answer a
//! problem+json naming the field, and nothing in the database changes.

mod common;

use common::{TestApp, intake, world};
use reqwest::Method;
use sea_orm::{ConnectionTrait, Database, Statement};
use serde_json::{Value, json};

const TABLES: [&str; 14] = [
    "stations",
    "handlers",
    "partners",
    "users",
    "api_clients",
    "complaints",
    "events",
    "proposals",
    "extensions",
    "outbox",
    "idempotency_keys",
    "audit_log",
    "delivery_attempts",
    "endpoints",
];

async fn row_counts(url: &str) -> Vec<(String, i64)> {
    let db = Database::connect(url).await.unwrap();
    let mut counts = Vec::new();
    for table in TABLES {
        let row = db
            .query_one_raw(Statement::from_string(
                db.get_database_backend(),
                format!("SELECT COUNT(*) AS n FROM {table}"),
            ))
            .await
            .unwrap()
            .unwrap();
        counts.push((table.to_string(), row.try_get::<i64>("", "n").unwrap()));
    }
    counts
}

/// One write route: a valid body and how to spoil it.
struct Route {
    method: Method,
    path: String,
    token: String,
    valid: Value,
    /// A required field (None when every field is optional).
    required: Option<&'static str>,
    /// A string field, given a number and an oversized string.
    text: &'static str,
    /// A field and a value outside its range or vocabulary.
    out_of_range: (&'static str, Value),
}

fn without(body: &Value, field: &str) -> Value {
    let mut body = body.clone();
    body.as_object_mut().unwrap().remove(field);
    body
}

fn with(body: &Value, field: &str, value: Value) -> Value {
    let mut body = body.clone();
    body[field] = value;
    body
}

on_both_databases!(
    every_write_route_refuses_bad_input_naming_the_field_and_changes_nothing,
    |app: TestApp| async move {
        let w = world(&app).await;
        let (c1, ext, c2) = common::case_with_extension_and_queue_case(&app, &w).await;
        app.post(&format!("/v1/queue/{c2}/claim"), &w.dc_staff, json!({}))
            .await
            .expect(200);
        let partners = app.get("/v1/partners", &app.admin).await.expect(200);
        let partner_id = partners["items"][0]["id"].as_str().unwrap().to_string();
        let long = "长".repeat(5000);
        let admin = app.admin.clone();
        let r = |method: Method,
                 path: String,
                 token: &String,
                 valid: Value,
                 required,
                 text,
                 out_of_range: (&'static str, Value)| Route {
            method,
            path,
            token: token.clone(),
            valid,
            required,
            text,
            out_of_range,
        };
        let routes = vec![
            r(
                Method::POST,
                "/v1/stations".into(),
                &admin,
                json!({"code": "QJ-X", "name": "新所", "parent_code": "QJ"}),
                Some("name"),
                "name",
                ("code", json!("有 空格")),
            ),
            r(
                Method::POST,
                "/v1/handlers".into(),
                &admin,
                json!({"kind": "merchant", "name": "商户", "credit_code": "91420000177570439L", "station_code": "QJ-DC", "delivery": "pull"}),
                Some("kind"),
                "name",
                ("delivery", json!("carrier-pigeon")),
            ),
            r(
                Method::PATCH,
                format!("/v1/handlers/{}", w.merchant_id),
                &admin,
                json!({"name": "新名"}),
                None,
                "name",
                ("delivery_rate_per_second", json!(0)),
            ),
            r(
                Method::POST,
                "/v1/partners".into(),
                &admin,
                json!({"name": "平台", "rate_per_second": 5, "burst": 5}),
                Some("burst"),
                "name",
                ("rate_per_second", json!(0)),
            ),
            r(
                Method::PATCH,
                format!("/v1/partners/{partner_id}"),
                &admin,
                json!({"burst": 7}),
                None,
                "name",
                ("burst", json!(-1)),
            ),
            r(
                Method::POST,
                "/v1/staff".into(),
                &admin,
                json!({"username": "new-staff", "password": "long-enough-1", "station_code": "QJ-DC"}),
                Some("username"),
                "username",
                ("password", json!("short")),
            ),
            r(
                Method::POST,
                "/v1/admin/clock".into(),
                &admin,
                json!({"advance_seconds": 60}),
                None,
                "set",
                ("advance_seconds", json!(-5)),
            ),
            r(
                Method::POST,
                "/v1/complaints".into(),
                &w.partner,
                intake(&w.merchant_code),
                Some("external_ref"),
                "description",
                ("amount_cents", json!(-1)),
            ),
            r(
                Method::POST,
                format!("/v1/complaints/{c1}/consumer-response"),
                &w.partner,
                json!({"decision": "escalate"}),
                Some("decision"),
                "comment",
                ("decision", json!("shrug")),
            ),
            r(
                Method::POST,
                format!("/v1/complaints/{c1}/withdraw"),
                &w.partner,
                json!({"reason": "已解决"}),
                None,
                "reason",
                ("reason", json!("   ")),
            ),
            r(
                Method::POST,
                format!("/v1/inbox/{c1}/decline"),
                &w.merchant,
                json!({"reason": "不属实"}),
                Some("reason"),
                "reason",
                ("reason", json!("")),
            ),
            r(
                Method::POST,
                format!("/v1/inbox/{c1}/contacts"),
                &w.merchant,
                json!({"method": "phone", "note": "已致电"}),
                Some("method"),
                "note",
                ("method", json!("telepathy")),
            ),
            r(
                Method::POST,
                format!("/v1/inbox/{c1}/proposals"),
                &w.merchant,
                json!({"remedy": "refund", "amount_cents": 100}),
                Some("remedy"),
                "note",
                ("amount_cents", json!(-100)),
            ),
            r(
                Method::POST,
                format!("/v1/inbox/{c1}/settle"),
                &w.merchant,
                json!({"remedy": "refund", "recovered_cents": 100}),
                Some("recovered_cents"),
                "note",
                ("remedy", json!("magic")),
            ),
            r(
                Method::POST,
                format!("/v1/inbox/{c1}/fail"),
                &w.merchant,
                json!({"note": "协商不成"}),
                Some("note"),
                "note",
                ("note", json!("\u{0007}")),
            ),
            r(
                Method::POST,
                format!("/v1/inbox/{c1}/extension"),
                &w.merchant,
                json!({"working_days": 2, "reason": "检测"}),
                Some("working_days"),
                "reason",
                ("working_days", json!(0)),
            ),
            r(
                Method::POST,
                format!("/v1/extensions/{ext}/approve"),
                &w.dc_staff,
                json!({"note": "同意"}),
                None,
                "note",
                ("note", json!("")),
            ),
            r(
                Method::POST,
                format!("/v1/extensions/{ext}/reject"),
                &w.dc_staff,
                json!({"note": "不同意"}),
                None,
                "note",
                ("note", json!("")),
            ),
            r(
                Method::POST,
                format!("/v1/queue/{c2}/decision"),
                &w.dc_staff,
                json!({"accept": false, "grounds": "不属于受理范围"}),
                Some("accept"),
                "grounds",
                ("accept", json!("maybe")),
            ),
            r(
                Method::POST,
                format!("/v1/queue/{c2}/feedback"),
                &w.dc_staff,
                json!({"kind": "initial", "note": "已联系"}),
                Some("note"),
                "note",
                ("kind", json!("closing")),
            ),
            r(
                Method::POST,
                format!("/v1/queue/{c2}/close"),
                &w.dc_staff,
                json!({"result": "mediated", "note": "调解成功"}),
                Some("result"),
                "note",
                ("recovered_cents", json!(-1)),
            ),
            r(
                Method::POST,
                format!("/v1/handlers/{}/replay", w.merchant_id),
                &admin,
                json!({"from": "2026-03-01T00:00:00+08:00", "to": "2026-03-02T00:00:00+08:00"}),
                Some("from"),
                "from",
                ("to", json!("yesterday")),
            ),
        ];
        let before = row_counts(&app.database_url).await;
        let mut wrong = Vec::new();
        for route in &routes {
            let mut cases: Vec<(&str, Value, String)> = vec![
                (
                    "unknown field",
                    with(&route.valid, "bogus", json!(1)),
                    "bogus".into(),
                ),
                (
                    "wrong type",
                    with(&route.valid, route.text, json!(12345)),
                    route.text.into(),
                ),
                (
                    "oversized",
                    with(&route.valid, route.text, json!(long)),
                    route.text.into(),
                ),
                (
                    "out of range",
                    with(
                        &route.valid,
                        route.out_of_range.0,
                        route.out_of_range.1.clone(),
                    ),
                    route.out_of_range.0.into(),
                ),
            ];
            if let Some(field) = route.required {
                cases.push(("missing", without(&route.valid, field), field.into()));
            }
            for (what, body, field) in cases {
                let answer = app
                    .call(
                        route.method.clone(),
                        &route.path,
                        Some(&route.token),
                        Some(body),
                    )
                    .await;
                let named = answer.fields().contains(&field);
                let problem = answer
                    .headers
                    .get("content-type")
                    .and_then(|v| v.to_str().ok())
                    == Some("application/problem+json");
                if answer.status != 422 || !named || !problem {
                    wrong.push(format!(
                        "{} {} {what}: {} {}",
                        route.method, route.path, answer.status, answer.body
                    ));
                }
            }
            // A body over the size limit is refused before it is read.
            let huge = with(&route.valid, route.text, json!("x".repeat(70 * 1024)));
            let answer = app
                .call(
                    route.method.clone(),
                    &route.path,
                    Some(&route.token),
                    Some(huge),
                )
                .await;
            if answer.status != 413 {
                wrong.push(format!(
                    "{} {} too large: {}",
                    route.method, route.path, answer.status
                ));
            }
            // JSON only where JSON is expected.
            let text = app
                .client
                .request(route.method.clone(), format!("{}{}", app.base, route.path))
                .bearer_auth(&route.token)
                .header("content-type", "text/plain")
                .body(route.valid.to_string())
                .send()
                .await
                .unwrap();
            if text.status() != 415 {
                wrong.push(format!(
                    "{} {} as text/plain: {}",
                    route.method,
                    route.path,
                    text.status()
                ));
            }
        }
        assert!(wrong.is_empty(), "{}", wrong.join("\n"));
        assert_eq!(
            row_counts(&app.database_url).await,
            before,
            "bad input wrote nothing"
        );
    }
);
