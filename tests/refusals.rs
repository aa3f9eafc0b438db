//! What the gateway refuses: out-of-scope reads, bad input, reused idempotency
//! keys, duplicate references and bad tokens — each answered as problem+json
//! and each leaving nothing behind.

mod common;

use common::{TestApp, claims_of, id, intake, world};
use reqwest::Method;
use serde_json::{Value, json};

/// Spoils one field of a good intake.
type Spoil = Box<dyn Fn(&mut Value)>;

async fn count(app: &TestApp, token: &str) -> usize {
    let page = app.get("/v1/complaints?limit=200", token).await.expect(200);
    page["items"].as_array().unwrap().len()
}

on_both_databases!(
    out_of_scope_complaints_do_not_exist,
    |app: TestApp| async move {
        let w = world(&app).await;
        let mine = id(&app
            .post("/v1/complaints", &w.partner, intake(&w.merchant_code))
            .await
            .expect(201));
        let queued = id(&app
            .post("/v1/complaints", &w.partner, intake(&w.unenrolled_code))
            .await
            .expect(201));
        // Another partner, another handler, a sibling station's staff: all 404.
        for (token, path) in [
            (&w.other_partner, format!("/v1/complaints/{mine}")),
            (&w.other_partner, format!("/v1/complaints/{mine}/events")),
            (&w.other_merchant, format!("/v1/inbox/{mine}")),
            (&w.rights_station, format!("/v1/complaints/{mine}/events")),
            (&w.yl_staff, format!("/v1/queue/{queued}")),
            (&w.yl_staff, format!("/v1/complaints/{queued}/events")),
            (&w.dc_staff, format!("/v1/queue/{mine}")),
        ] {
            let answer = app.get(&path, token).await;
            assert_eq!(answer.status, 404, "{path}: {}", answer.body);
            assert_eq!(answer.headers["content-type"], "application/problem+json");
        }
        for (token, path) in [
            (&w.other_merchant, format!("/v1/inbox/{mine}/acknowledge")),
            (&w.other_partner, format!("/v1/complaints/{mine}/withdraw")),
            (&w.yl_staff, format!("/v1/queue/{queued}/claim")),
        ] {
            assert_eq!(
                app.post(&path, token, json!({})).await.status,
                404,
                "{path}"
            );
        }
        assert_eq!(count(&app, &w.other_partner).await, 0);
        // The parent station sees its child's queue; the owner sees its own case.
        app.get(&format!("/v1/queue/{queued}"), &w.root_staff)
            .await
            .expect(200);
        app.get(&format!("/v1/complaints/{mine}"), &w.partner)
            .await
            .expect(200);
        // A staff member of QJ-YL cannot see or manage QJ-DC's handlers either.
        assert_eq!(
            app.get(&format!("/v1/handlers/{}", w.merchant_id), &w.yl_staff)
                .await
                .status,
            404
        );
        app.get(&format!("/v1/handlers/{}", w.merchant_id), &w.dc_staff)
            .await
            .expect(200);
    }
);

on_both_databases!(routes_refuse_the_wrong_role, |app: TestApp| async move {
    let w = world(&app).await;
    assert_eq!(
        app.post("/v1/complaints", &w.merchant, intake(&w.merchant_code))
            .await
            .status,
        403
    );
    assert_eq!(app.get("/v1/inbox", &w.partner).await.status, 403);
    assert_eq!(app.get("/v1/queue", &w.merchant).await.status, 403);
    assert_eq!(
        app.post(
            "/v1/stations",
            &w.dc_staff,
            json!({"code": "X", "name": "x"})
        )
        .await
        .status,
        403
    );
    assert_eq!(app.get("/v1/partners", &w.partner).await.status, 403);
});

on_both_databases!(
    every_invalid_intake_field_is_named_and_nothing_is_written,
    |app: TestApp| async move {
        let w = world(&app).await;
        let cases: Vec<(&str, Spoil)> = vec![
            ("external_ref", Box::new(|b| b["external_ref"] = json!(""))),
            ("channel", Box::new(|b| b["channel"] = json!("web site"))),
            (
                "consumer.phone",
                Box::new(|b| b["consumer"]["phone"] = json!("12345")),
            ),
            (
                "consumer.name",
                Box::new(|b| b["consumer"]["name"] = json!("名".repeat(51))),
            ),
            (
                "merchant.credit_code",
                Box::new(|b| b["merchant"]["credit_code"] = json!("91420000177570439X")),
            ),
            ("category", Box::new(|b| b["category"] = json!("food"))),
            ("problem", Box::new(|b| b["problem"] = json!("rude"))),
            ("amount_cents", Box::new(|b| b["amount_cents"] = json!(-1))),
            (
                "amount_cents",
                Box::new(|b| b["amount_cents"] = json!(12.5)),
            ),
            (
                "occurred_at",
                Box::new(|b| b["occurred_at"] = json!("2026-01-17 10:00")),
            ),
            (
                "occurred_at",
                Box::new(|b| b["occurred_at"] = json!("2026-02-17T10:00:00+08:00")),
            ),
            (
                "description",
                Box::new(|b| b["description"] = json!("长".repeat(2001))),
            ),
            (
                "consents.odr",
                Box::new(|b| b["consents"]["odr"] = json!("yes")),
            ),
            (
                "station_code",
                Box::new(|b| b["station_code"] = json!("NOWHERE")),
            ),
            ("surplus", Box::new(|b| b["surplus"] = json!(1))),
            (
                "demand",
                Box::new(|b| {
                    b.as_object_mut().unwrap().remove("demand");
                }),
            ),
        ];
        for (field, spoil) in cases {
            let mut body = intake(&w.merchant_code);
            spoil(&mut body);
            let answer = app.post("/v1/complaints", &w.partner, body).await;
            assert_eq!(answer.status, 422, "{field}: {}", answer.body);
            assert_eq!(answer.fields(), vec![field.to_string()], "{}", answer.body);
            assert_eq!(answer.headers["content-type"], "application/problem+json");
        }
        // Malformed JSON, wrong media type, oversized body.
        let raw = app
            .client
            .post(format!("{}/v1/complaints", app.base))
            .bearer_auth(&w.partner);
        let bad_json = raw
            .try_clone()
            .unwrap()
            .header("content-type", "application/json")
            .body("{")
            .send()
            .await
            .unwrap();
        assert_eq!(bad_json.status(), 400);
        let text = raw
            .try_clone()
            .unwrap()
            .header("content-type", "text/plain")
            .body("hello")
            .send()
            .await
            .unwrap();
        assert_eq!(text.status(), 415);
        let mut huge = intake(&w.merchant_code);
        huge["description"] = json!("x".repeat(100_000));
        let big = raw.json(&huge).send().await.unwrap();
        assert_eq!(big.status(), 413);
        assert_eq!(
            count(&app, &w.partner).await,
            0,
            "no refused intake was written"
        );
    }
);

on_both_databases!(
    idempotency_keys_replay_refuse_and_free,
    |app: TestApp| async move {
        let w = world(&app).await;
        let body = intake(&w.merchant_code);
        let send = |key: &'static str, body: Value| {
            let req = app
                .client
                .post(format!("{}/v1/complaints", app.base))
                .bearer_auth(&w.partner)
                .header("Idempotency-Key", key)
                .json(&body);
            async move { req.send().await.unwrap() }
        };
        let first = send("key-1", body.clone()).await;
        assert_eq!(first.status(), 201);
        let first: Value = first.json().await.unwrap();
        let replay = send("key-1", body.clone()).await;
        assert_eq!(replay.status(), 201);
        assert_eq!(replay.headers()["idempotent-replayed"], "true");
        assert_eq!(replay.json::<Value>().await.unwrap(), first);
        let mut other = body.clone();
        other["demand"] = json!("退款");
        assert_eq!(send("key-1", other).await.status(), 422);
        // A refused request frees its key for the corrected retry.
        let mut bad = intake(&w.merchant_code);
        bad["category"] = json!("nope");
        assert_eq!(send("key-2", bad.clone()).await.status(), 422);
        bad["category"] = json!("goods");
        assert_eq!(send("key-2", bad).await.status(), 201);
        let invalid = app
            .client
            .post(format!("{}/v1/complaints", app.base))
            .bearer_auth(&w.partner)
            .header("Idempotency-Key", "")
            .json(&intake(&w.merchant_code))
            .send()
            .await
            .unwrap();
        assert_eq!(invalid.status(), 422);
        assert_eq!(count(&app, &w.partner).await, 2);
    }
);

on_both_databases!(
    a_concurrent_duplicate_of_an_idempotent_request_gets_409_or_the_replay,
    |app: TestApp| async move {
        let w = world(&app).await;
        let body = intake(&w.merchant_code);
        let send = || {
            app.client
                .post(format!("{}/v1/complaints", app.base))
                .bearer_auth(&w.partner)
                .header("Idempotency-Key", "same")
                .json(&body)
                .send()
        };
        let answers = futures_util::future::join_all((0..8).map(|_| send())).await;
        let statuses: Vec<u16> = answers
            .into_iter()
            .map(|r| r.unwrap().status().as_u16())
            .collect();
        assert!(
            statuses.iter().all(|s| *s == 201 || *s == 409),
            "{statuses:?}"
        );
        assert!(statuses.contains(&201));
        assert_eq!(
            count(&app, &w.partner).await,
            1,
            "exactly one complaint: {statuses:?}"
        );
    }
);

on_both_databases!(
    a_key_whose_first_request_is_still_unanswered_is_409,
    |app: TestApp| async move {
        use sha2::{Digest, Sha256};
        let w = world(&app).await;
        let body = intake(&w.merchant_code);
        // The first request with this key claimed it and has not answered yet.
        let partner_id = claims_of(&w.partner)["sub"].as_str().unwrap().to_string();
        let hash: String = Sha256::digest(body.to_string().as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let db = odr_gateway::store::connect(&app.database_url)
            .await
            .unwrap();
        let claim = odr_gateway::store::idempotency::claim(
            &db,
            &partner_id,
            "in-flight",
            &hash,
            chrono::Utc::now(),
            chrono::Duration::seconds(30),
        )
        .await
        .unwrap();
        assert!(matches!(
            claim,
            odr_gateway::store::idempotency::Claim::Fresh
        ));
        let keyed = || {
            app.client
                .post(format!("{}/v1/complaints", app.base))
                .bearer_auth(&w.partner)
                .header("Idempotency-Key", "in-flight")
                .json(&body)
                .send()
        };
        let duplicate = keyed().await.unwrap();
        assert_eq!(duplicate.status(), 409);
        let problem: Value = duplicate.json().await.unwrap();
        assert_eq!(
            problem["type"],
            "urn:odr-gateway:problem:idempotency-key-in-flight"
        );
        assert_eq!(count(&app, &w.partner).await, 0, "nothing was written");
        // Once the first request answers, the same key replays its answer.
        odr_gateway::store::idempotency::finish(&db, &partner_id, "in-flight", 201, "{}")
            .await
            .unwrap();
        let replay = keyed().await.unwrap();
        assert_eq!(replay.status(), 201);
        assert_eq!(replay.headers()["idempotent-replayed"], "true");
    }
);

on_both_databases!(
    a_duplicate_external_ref_names_the_existing_complaint,
    |app: TestApp| async move {
        let w = world(&app).await;
        let body = intake(&w.merchant_code);
        let first = app
            .post("/v1/complaints", &w.partner, body.clone())
            .await
            .expect(201);
        let dup = app.post("/v1/complaints", &w.partner, body.clone()).await;
        assert_eq!(dup.status, 409);
        assert_eq!(dup.body["existing_id"], first["id"]);
        // Another partner may use the same upstream reference.
        app.post("/v1/complaints", &w.other_partner, body)
            .await
            .expect(201);
    }
);

on_both_databases!(bad_tokens_are_401, |app: TestApp| async move {
    let w = world(&app).await;
    let no_token = app.call(Method::GET, "/v1/complaints", None, None).await;
    assert_eq!(no_token.status, 401);
    assert_eq!(no_token.headers["www-authenticate"], "Bearer");
    let mut forged = w.partner.clone();
    forged.pop();
    forged.push(if w.partner.ends_with('A') { 'B' } else { 'A' });
    assert_eq!(app.get("/v1/complaints", &forged).await.status, 401);
    assert_eq!(app.get("/v1/complaints", "not.a.token").await.status, 401);
    let parts: Vec<&str> = w.partner.split('.').collect();
    let none = format!("eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.{}.", parts[1]);
    assert_eq!(app.get("/v1/complaints", &none).await.status, 401);
    let wrong = app
        .client
        .post(format!("{}/v1/oauth/token", app.base))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", "partner_x"),
            ("client_secret", "nope"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    let grant = app
        .call(
            Method::POST,
            "/v1/oauth/token",
            None,
            Some(json!({"grant_type": "password", "client_id": "a", "client_secret": "b"})),
        )
        .await;
    assert_eq!(
        (grant.status.as_u16(), grant.fields()),
        (422, vec!["grant_type".to_string()])
    );
    assert_eq!(
        app.call(
            Method::POST,
            "/v1/auth/login",
            None,
            Some(json!({"username": "admin", "password": "wrong-password"}))
        )
        .await
        .status,
        401
    );
});

on_both_databases!(
    actions_without_fields_refuse_a_body_with_fields,
    |app: TestApp| async move {
        let w = world(&app).await;
        let case = id(&app
            .post("/v1/complaints", &w.partner, intake(&w.merchant_code))
            .await
            .expect(201));
        app.get(&format!("/v1/inbox/{case}"), &w.merchant)
            .await
            .expect(200);
        let typo = app
            .post(
                &format!("/v1/inbox/{case}/acknowledge"),
                &w.merchant,
                json!({"note": "ok"}),
            )
            .await;
        assert_eq!(
            (typo.status.as_u16(), typo.fields()),
            (422, vec!["note".to_string()])
        );
        let still = app
            .get(&format!("/v1/inbox/{case}"), &w.merchant)
            .await
            .expect(200);
        assert_eq!(still["status"], "delivered", "nothing changed");
        app.post(
            &format!("/v1/inbox/{case}/acknowledge"),
            &w.merchant,
            json!({}),
        )
        .await
        .expect(200);
    }
);

const JWT_SECRET: &str = "refusals-test-secret-0123456789abcdef";

/// `claims` signed with the test gateway's own key, as a token it would issue.
fn signed(claims: &Value) -> String {
    use jsonwebtoken::{Algorithm, EncodingKey, Header};
    let key = EncodingKey::from_secret(JWT_SECRET.as_bytes());
    jsonwebtoken::encode(&Header::new(Algorithm::HS256), claims, &key).unwrap()
}

on_both_databases!(
    expired_tokens_and_tokens_missing_a_claim_are_401,
    config = |c: &mut odr_gateway::config::Config| c.jwt_secret = Some(JWT_SECRET.into()),
    |app: TestApp| async move {
        let w = world(&app).await;
        let partner = claims_of(&w.partner);
        let staff = claims_of(&w.dc_staff);
        let refused = |token: String, what: String| {
            let app = &app;
            async move {
                let answer = app.get("/v1/complaints", &token).await;
                assert_eq!(answer.status, 401, "{what}: {}", answer.body);
                assert_eq!(answer.headers["content-type"], "application/problem+json");
                assert_eq!(answer.headers["www-authenticate"], "Bearer");
            }
        };
        // The claims as issued, signed again here, are accepted: the key is right.
        app.get("/v1/complaints", &signed(&partner))
            .await
            .expect(200);
        app.get("/v1/queue", &signed(&staff)).await.expect(200);
        let now = chrono::Utc::now().timestamp();
        let mut expired = partner.clone();
        expired["iat"] = json!(now - 7200);
        expired["nbf"] = json!(now - 7200);
        expired["exp"] = json!(now - 3600);
        refused(signed(&expired), "expired an hour ago".into()).await;
        let mut early = partner.clone();
        early["nbf"] = json!(now + 3600);
        refused(signed(&early), "not valid for an hour".into()).await;
        for missing in ["exp", "nbf", "iat", "iss", "aud", "sub", "role", "scope"] {
            let mut claims = partner.clone();
            claims.as_object_mut().unwrap().remove(missing);
            refused(signed(&claims), format!("without {missing}")).await;
        }
        let mut stationless = staff.clone();
        stationless.as_object_mut().unwrap().remove("station");
        let answer = app.get("/v1/queue", &signed(&stationless)).await;
        assert_eq!(answer.status, 401, "staff without station: {}", answer.body);
    }
);
