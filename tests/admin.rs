//! The admin API: stations, handlers, partners, staff; secrets shown once;
//! cursor pagination.

mod common;

use common::{TestApp, world};
use odr_gateway::demo::credit_code;
use reqwest::Method;
use serde_json::{Value, json};

async fn fields(app: &TestApp, path: &str, body: Value) -> Vec<String> {
    let answer = app.post(path, &app.admin, body).await;
    assert_eq!(answer.status, 422, "{path}: {}", answer.body);
    answer.fields()
}

on_both_databases!(
    stations_form_a_tree_and_refuse_bad_codes,
    |app: TestApp| async move {
        let a = &app.admin;
        app.post("/v1/stations", a, json!({"code": "QJ", "name": "指挥中心"}))
            .await
            .expect(201);
        app.post(
            "/v1/stations",
            a,
            json!({"code": "QJ-DC", "name": "东城所", "parent_code": "QJ"}),
        )
        .await
        .expect(201);
        app.post(
            "/v1/stations",
            a,
            json!({"code": "QJ-DC-1", "name": "东城一组", "parent_code": "QJ-DC"}),
        )
        .await
        .expect(201);
        let tree = app.get("/v1/stations", a).await.expect(200);
        assert_eq!(tree["items"].as_array().unwrap().len(), 1);
        assert_eq!(
            tree["items"][0]["children"][0]["children"][0]["code"],
            "QJ-DC-1"
        );
        let dup = app
            .post("/v1/stations", a, json!({"code": "QJ", "name": "again"}))
            .await;
        assert_eq!(
            (dup.status.as_u16(), &dup.body["existing_code"]),
            (409, &json!("QJ"))
        );
        assert_eq!(
            fields(&app, "/v1/stations", json!({"code": "Q J", "name": "x"})).await,
            ["code"]
        );
        assert_eq!(
            fields(
                &app,
                "/v1/stations",
                json!({"code": "X", "name": "x", "parent_code": "NONE"})
            )
            .await,
            ["parent_code"]
        );
        assert_eq!(
            fields(&app, "/v1/stations", json!({"name": 5})).await,
            ["code", "name"]
        );
    }
);

on_both_databases!(
    handler_enrolment_is_validated_and_its_secrets_shown_once,
    |app: TestApp| async move {
        let w = world(&app).await;
        let code = credit_code("91429005MA4900009").unwrap();
        let merchant = |extra: Value| {
            let mut body = json!({"kind": "merchant", "name": "新商户", "credit_code": code, "station_code": "QJ-DC", "delivery": "pull"});
            body.as_object_mut()
                .unwrap()
                .extend(extra.as_object().unwrap().clone());
            body
        };
        assert_eq!(
            fields(&app, "/v1/handlers", merchant(json!({"credit_code": null}))).await,
            ["credit_code"]
        );
        assert_eq!(
            fields(
                &app,
                "/v1/handlers",
                merchant(json!({"credit_code": "91429005MA49000090"}))
            )
            .await,
            ["credit_code"]
        );
        assert_eq!(
            fields(&app, "/v1/handlers", merchant(json!({"delivery": "push"}))).await,
            ["webhook_url"]
        );
        assert_eq!(
            fields(
                &app,
                "/v1/handlers",
                merchant(json!({"delivery": "push", "webhook_url": "ftp://x"}))
            )
            .await,
            ["webhook_url"]
        );
        assert_eq!(
            fields(&app, "/v1/handlers", merchant(json!({"kind": "shop"}))).await,
            ["kind"]
        );
        let rights = json!({"kind": "rights_station", "name": "服务站", "station_code": "QJ-DC", "delivery": "pull", "covers": [code, "bad"]});
        assert_eq!(fields(&app, "/v1/handlers", rights).await, ["covers[1]"]);
        let dup = app
            .post(
                "/v1/handlers",
                &app.admin,
                merchant(json!({"credit_code": w.merchant_code})),
            )
            .await;
        assert_eq!(
            (dup.status.as_u16(), &dup.body["existing_id"]),
            (409, &json!(w.merchant_id))
        );
        let created = app
            .post(
                "/v1/handlers",
                &app.admin,
                merchant(
                    json!({"delivery": "push", "webhook_url": "https://merchant.example/odr"}),
                ),
            )
            .await
            .expect(201);
        assert!(
            created["client_secret"]
                .as_str()
                .unwrap()
                .starts_with("odr_cs_")
        );
        assert!(
            created["webhook_secret"]
                .as_str()
                .unwrap()
                .starts_with("whsec_")
        );
        let id = created["id"].as_str().unwrap();
        let read = app
            .get(&format!("/v1/handlers/{id}"), &app.admin)
            .await
            .expect(200);
        let listed = app
            .get("/v1/handlers?limit=200", &app.admin)
            .await
            .expect(200);
        for shown in [read.to_string(), listed.to_string()] {
            for secret in ["client_secret", "webhook_secret"] {
                assert!(
                    !shown.contains(created[secret].as_str().unwrap()),
                    "{secret} shown again"
                );
            }
        }
        let rotated = app
            .post(
                &format!("/v1/handlers/{id}/rotate-secret"),
                &app.admin,
                json!({}),
            )
            .await
            .expect(200);
        assert_ne!(rotated["webhook_secret"], created["webhook_secret"]);
        assert_eq!(
            app.post(
                &format!("/v1/handlers/{id}/rotate-secret"),
                &w.dc_staff,
                json!({})
            )
            .await
            .status,
            403
        );
    }
);

on_both_databases!(
    staff_enrol_handlers_only_in_their_subtree,
    |app: TestApp| async move {
        let w = world(&app).await;
        let body = |station: &str, n: &str| json!({"kind": "merchant", "name": "店", "credit_code": credit_code(&format!("9142900500000000{n}")).unwrap(), "station_code": station, "delivery": "pull"});
        app.post("/v1/handlers", &w.dc_staff, body("QJ-DC", "1"))
            .await
            .expect(201);
        let outside = app
            .post("/v1/handlers", &w.dc_staff, body("QJ-YL", "2"))
            .await;
        assert_eq!(
            (outside.status.as_u16(), outside.fields()),
            (422, vec!["station_code".to_string()])
        );
        let mine = app.get("/v1/handlers", &w.dc_staff).await.expect(200);
        assert!(
            mine["items"]
                .as_array()
                .unwrap()
                .iter()
                .all(|h| h["station_code"] == "QJ-DC")
        );
        let all = app.get("/v1/handlers", &w.root_staff).await.expect(200);
        assert_eq!(all["items"].as_array().unwrap().len(), 4);
    }
);

on_both_databases!(
    a_withdrawn_handler_can_no_longer_get_tokens,
    |app: TestApp| async move {
        let w = world(&app).await;
        let created = app
        .post("/v1/handlers", &app.admin, json!({"kind": "merchant", "name": "店", "credit_code": credit_code("91429005000000007").unwrap(), "station_code": "QJ-DC", "delivery": "pull"}))
        .await
        .expect(201);
        let id = created["id"].as_str().unwrap();
        app.call(
            Method::PATCH,
            &format!("/v1/handlers/{id}"),
            Some(&app.admin),
            Some(json!({"status": "withdrawn"})),
        )
        .await
        .expect(200);
        let res = app
        .client
        .post(format!("{}/v1/oauth/token", app.base))
        .json(&json!({"grant_type": "client_credentials", "client_id": created["client_id"], "client_secret": created["client_secret"]}))
        .send()
        .await
        .unwrap();
        assert_eq!(res.status(), 401);
        let bad = app
            .call(
                Method::PATCH,
                &format!("/v1/handlers/{}", w.merchant_id),
                Some(&app.admin),
                Some(json!({"status": "gone"})),
            )
            .await;
        assert_eq!(
            (bad.status.as_u16(), bad.fields()),
            (422, vec!["status".to_string()])
        );
    }
);

on_both_databases!(
    partners_and_staff_are_validated,
    |app: TestApp| async move {
        let _ = world(&app).await;
        assert_eq!(
            fields(
                &app,
                "/v1/partners",
                json!({"name": "p", "rate_per_second": 0, "burst": 10})
            )
            .await,
            ["rate_per_second"]
        );
        assert_eq!(
            fields(
                &app,
                "/v1/partners",
                json!({"name": "p", "rate_per_second": 5, "burst": "10"})
            )
            .await,
            ["burst"]
        );
        assert_eq!(
            fields(
                &app,
                "/v1/partners",
                json!({"name": "p", "rate_per_second": 5, "burst": 10, "callback_url": "nope"})
            )
            .await,
            ["callback_url"]
        );
        assert_eq!(
            fields(
                &app,
                "/v1/staff",
                json!({"username": "s", "password": "short", "station_code": "QJ"})
            )
            .await,
            ["password"]
        );
        assert_eq!(
            fields(
                &app,
                "/v1/staff",
                json!({"username": "s", "password": "long-enough-1", "station_code": "NOPE"})
            )
            .await,
            ["station_code"]
        );
        let dup = app
            .post(
                "/v1/staff",
                &app.admin,
                json!({"username": "dc1", "password": "long-enough-1", "station_code": "QJ"}),
            )
            .await;
        assert_eq!(dup.status, 409);
        let listed = app.get("/v1/partners", &app.admin).await.expect(200);
        assert!(
            listed["items"]
                .as_array()
                .unwrap()
                .iter()
                .all(|p| p.get("client_secret").is_none())
        );
    }
);

on_both_databases!(
    lists_page_with_cursors_and_refuse_bad_pages,
    |app: TestApp| async move {
        for n in 0..5 {
            app.post(
                "/v1/partners",
                &app.admin,
                json!({"name": format!("p{n}"), "rate_per_second": 1, "burst": 1}),
            )
            .await
            .expect(201);
        }
        let mut seen = Vec::new();
        let mut path = "/v1/partners?limit=2".to_string();
        loop {
            let page = app.get(&path, &app.admin).await.expect(200);
            seen.extend(
                page["items"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|p| p["name"].as_str().unwrap().to_string()),
            );
            match page["next_cursor"].as_str() {
                Some(cursor) => path = format!("/v1/partners?limit=2&cursor={cursor}"),
                None => break,
            }
        }
        assert_eq!(seen, ["p0", "p1", "p2", "p3", "p4"]);
        for (query, field) in [
            ("limit=0", "limit"),
            ("limit=201", "limit"),
            ("cursor=%%%", "cursor"),
            ("colour=red", "colour"),
        ] {
            let answer = app.get(&format!("/v1/partners?{query}"), &app.admin).await;
            assert_eq!(
                (answer.status.as_u16(), answer.fields()),
                (422, vec![field.to_string()]),
                "{query}"
            );
        }
    }
);
