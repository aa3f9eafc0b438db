//! Every route as every role, and as another tenant of the same role (SPEC §2):
//! no token → 401; the wrong role → 403; a record outside the caller's scope →
//! 404, exactly as if it did not exist; the right caller gets past all three.
//! Write bodies are `{}`, so an allowed caller is stopped by validation or the
//! lifecycle at most, and the matrix changes little as it runs.

mod common;

use std::collections::BTreeSet;

use common::{TestApp, id, intake, world};
use reqwest::Method;
use serde_json::{Value, json};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Who {
    Admin,
    PartnerA,
    PartnerB,
    HandlerA,
    HandlerB,
    StaffDc,
    StaffYl,
    StaffRoot,
}

const EVERYONE: [Who; 8] = [
    Who::PartnerB,
    Who::HandlerB,
    Who::StaffYl,
    Who::PartnerA,
    Who::HandlerA,
    Who::StaffRoot,
    Who::StaffDc,
    Who::Admin,
];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Expect {
    /// Past authentication, role and scope (any answer but 401/403/404).
    Allowed,
    Forbidden,
    Hidden,
}

use Expect::{Allowed, Forbidden, Hidden};

/// Who may call a route, and who sees its record as absent.
struct Rule {
    allowed: &'static [Who],
    hidden: &'static [Who],
}

impl Rule {
    fn expect(&self, who: Who) -> Expect {
        if self.allowed.contains(&who) {
            Allowed
        } else if self.hidden.contains(&who) {
            Hidden
        } else {
            Forbidden
        }
    }
}

const ADMIN: Rule = Rule {
    allowed: &[Who::Admin],
    hidden: &[],
};
const ADMIN_AND_STAFF: Rule = Rule {
    allowed: &[Who::Admin, Who::StaffDc, Who::StaffYl, Who::StaffRoot],
    hidden: &[],
};
const PARTNERS: Rule = Rule {
    allowed: &[Who::PartnerA, Who::PartnerB],
    hidden: &[],
};
const PARTNERS_AND_ADMIN: Rule = Rule {
    allowed: &[Who::PartnerA, Who::PartnerB, Who::Admin],
    hidden: &[],
};
const HANDLERS: Rule = Rule {
    allowed: &[Who::HandlerA, Who::HandlerB],
    hidden: &[],
};
const STAFF: Rule = Rule {
    allowed: &[Who::StaffDc, Who::StaffYl, Who::StaffRoot],
    hidden: &[],
};
/// A case of partner A, routed to handler A, at station QJ-DC.
const OWN_PARTNER: Rule = Rule {
    allowed: &[Who::PartnerA],
    hidden: &[Who::PartnerB],
};
const OWN_PARTNER_OR_ADMIN: Rule = Rule {
    allowed: &[Who::PartnerA, Who::Admin],
    hidden: &[Who::PartnerB],
};
const OWN_HANDLER: Rule = Rule {
    allowed: &[Who::HandlerA],
    hidden: &[Who::HandlerB],
};
/// QJ-DC's staff and the staff of the station above it; the sibling station's do not see it.
const STATION: Rule = Rule {
    allowed: &[Who::StaffDc, Who::StaffRoot],
    hidden: &[Who::StaffYl],
};
const STATION_OR_ADMIN: Rule = Rule {
    allowed: &[Who::StaffDc, Who::StaffRoot, Who::Admin],
    hidden: &[Who::StaffYl],
};
const ANYONE_IN_SCOPE: Rule = Rule {
    allowed: &[
        Who::Admin,
        Who::PartnerA,
        Who::HandlerA,
        Who::StaffDc,
        Who::StaffRoot,
    ],
    hidden: &[Who::PartnerB, Who::HandlerB, Who::StaffYl],
};

on_both_databases!(
    every_route_answers_every_role_as_spec_section_2_says,
    |app: TestApp| async move {
        let w = world(&app).await;
        let token = |who: Who| -> String {
            match who {
                Who::Admin => app.admin.clone(),
                Who::PartnerA => w.partner.clone(),
                Who::PartnerB => w.other_partner.clone(),
                Who::HandlerA => w.merchant.clone(),
                Who::HandlerB => w.other_merchant.clone(),
                Who::StaffDc => w.dc_staff.clone(),
                Who::StaffYl => w.yl_staff.clone(),
                Who::StaffRoot => w.root_staff.clone(),
            }
        };
        // c1: at handler A, acknowledged, with a pending extension request.
        let (c1, ext, c2) = common::case_with_extension_and_queue_case(&app, &w).await;
        // A partner only the admin routes touch (they rename and remove it).
        let spare = id(&app
            .post("/v1/partners", &app.admin, json!({"name": "备用", "rate_per_second": 5, "burst": 5, "callback_url": "http://127.0.0.1:9/cb"}))
            .await
            .expect(201));
        let handler_a = w.merchant_id.clone();
        let webhook = {
            // The spare partner's callback has no events; one comes from the
            // outbox of an event for a partner with a callback.
            let p = app
                .post("/v1/partners", &app.admin, json!({"name": "回调", "rate_per_second": 100, "burst": 100, "callback_url": "http://127.0.0.1:9/cb"}))
                .await
                .expect(201);
            let t = app
                .client_token(
                    p["client_id"].as_str().unwrap(),
                    p["client_secret"].as_str().unwrap(),
                )
                .await;
            app.post("/v1/complaints", &t, intake(&w.merchant_code))
                .await
                .expect(201);
            let events = app.get("/v1/deliveries", &app.admin).await.expect(200);
            events["items"][0]["webhook_id"]
                .as_str()
                .expect("an outbox event")
                .to_string()
        };
        // f: the follow-up of a complaint QJ-DC closed in March, drawn when
        // the clock passes into April.
        let c3 = id(&app
            .post("/v1/complaints", &w.partner, intake(&w.unenrolled_code))
            .await
            .expect(201));
        for (step, body) in [
            ("claim", json!({})),
            ("decision", json!({"accept": false, "grounds": "重复投诉"})),
        ] {
            app.post(&format!("/v1/queue/{c3}/{step}"), &w.dc_staff, body)
                .await
                .expect(200);
        }
        let f = {
            // ceil(30 % of 1): the one closed complaint is drawn.
            app.set_clock("2026-04-01T09:00:00+08:00").await;
            let list = app.get("/v1/followups", &w.dc_staff).await.expect(200);
            id(&list["items"][0])
        };

        let routes: Vec<(Method, String, Rule)> = vec![
            (Method::POST, "/v1/stations".into(), ADMIN),
            (Method::GET, "/v1/stations".into(), ADMIN_AND_STAFF),
            (Method::POST, "/v1/handlers".into(), ADMIN_AND_STAFF),
            (Method::GET, "/v1/handlers".into(), ADMIN_AND_STAFF),
            (
                Method::GET,
                format!("/v1/handlers/{handler_a}"),
                STATION_OR_ADMIN,
            ),
            (
                Method::PATCH,
                format!("/v1/handlers/{handler_a}"),
                STATION_OR_ADMIN,
            ),
            (
                Method::POST,
                format!("/v1/handlers/{handler_a}/rotate-secret"),
                ADMIN,
            ),
            (
                Method::POST,
                format!("/v1/handlers/{handler_a}/replay"),
                ADMIN,
            ),
            (
                Method::GET,
                format!("/v1/handlers/{handler_a}/endpoint"),
                ADMIN,
            ),
            (
                Method::POST,
                format!("/v1/handlers/{handler_a}/endpoint/resume"),
                ADMIN,
            ),
            (Method::POST, "/v1/partners".into(), ADMIN),
            (Method::GET, "/v1/partners".into(), ADMIN),
            (Method::GET, format!("/v1/partners/{spare}"), ADMIN),
            (Method::PATCH, format!("/v1/partners/{spare}"), ADMIN),
            (Method::POST, "/v1/staff".into(), ADMIN),
            (Method::POST, "/v1/admin/clock".into(), ADMIN),
            (Method::GET, "/v1/admin/audit".into(), ADMIN),
            (Method::GET, "/v1/deliveries".into(), ADMIN),
            (Method::GET, "/v1/deliveries/attempts".into(), ADMIN),
            (
                Method::POST,
                format!("/v1/deliveries/{webhook}/redeliver"),
                ADMIN,
            ),
            (Method::POST, "/v1/complaints".into(), PARTNERS),
            (Method::GET, "/v1/complaints".into(), PARTNERS_AND_ADMIN),
            (
                Method::GET,
                format!("/v1/complaints/{c1}"),
                OWN_PARTNER_OR_ADMIN,
            ),
            (
                Method::GET,
                format!("/v1/complaints/{c1}/events"),
                ANYONE_IN_SCOPE,
            ),
            (Method::GET, "/v1/inbox".into(), HANDLERS),
            (Method::GET, format!("/v1/inbox/{c1}"), OWN_HANDLER),
            (Method::POST, format!("/v1/inbox/{c1}/decline"), OWN_HANDLER),
            (
                Method::POST,
                format!("/v1/inbox/{c1}/contacts"),
                OWN_HANDLER,
            ),
            (
                Method::POST,
                format!("/v1/inbox/{c1}/proposals"),
                OWN_HANDLER,
            ),
            (Method::POST, format!("/v1/inbox/{c1}/settle"), OWN_HANDLER),
            (Method::POST, format!("/v1/inbox/{c1}/fail"), OWN_HANDLER),
            (
                Method::POST,
                format!("/v1/inbox/{c1}/extension"),
                OWN_HANDLER,
            ),
            (
                Method::POST,
                format!("/v1/inbox/{c1}/acknowledge"),
                OWN_HANDLER,
            ),
            (Method::GET, "/v1/extensions".into(), ADMIN_AND_STAFF),
            (
                Method::POST,
                format!("/v1/extensions/{ext}/reject"),
                STATION,
            ),
            (
                Method::POST,
                format!("/v1/extensions/{ext}/approve"),
                STATION,
            ),
            (Method::GET, "/v1/queue".into(), STAFF),
            (Method::GET, format!("/v1/queue/{c2}"), STATION),
            (Method::POST, format!("/v1/queue/{c2}/decision"), STATION),
            (Method::POST, format!("/v1/queue/{c2}/feedback"), STATION),
            (Method::POST, format!("/v1/queue/{c2}/close"), STATION),
            (Method::POST, format!("/v1/queue/{c2}/claim"), STATION),
            (Method::POST, format!("/v1/queue/{c2}/release"), STATION),
            (
                Method::POST,
                format!("/v1/complaints/{c1}/consumer-response"),
                OWN_PARTNER,
            ),
            (
                Method::POST,
                format!("/v1/complaints/{c1}/withdraw"),
                OWN_PARTNER,
            ),
            (Method::GET, "/v1/reports/monthly".into(), ADMIN_AND_STAFF),
            (Method::GET, "/v1/followups".into(), STAFF),
            (Method::GET, format!("/v1/followups/{f}"), STATION),
            (Method::POST, format!("/v1/followups/{f}"), STATION),
            (Method::DELETE, format!("/v1/partners/{spare}"), ADMIN),
        ];
        // The matrix covers exactly the routes the server mounts that take a
        // token: the same (method, path template) pairs, so a renamed or
        // added route cannot hide behind an equal count.
        let mounted: BTreeSet<(String, String)> = odr_gateway::api::routes()
            .iter()
            .filter(|r| {
                r.path.starts_with("/v1/")
                    && !r.path.contains("oauth")
                    && !r.path.contains("auth/login")
            })
            .map(|r| (r.method.to_string(), r.path.to_string()))
            .collect();
        let ids = [
            (c1.as_str(), "{id}"),
            (c2.as_str(), "{id}"),
            (ext.as_str(), "{id}"),
            (spare.as_str(), "{id}"),
            (handler_a.as_str(), "{id}"),
            (webhook.as_str(), "{webhook_id}"),
            (f.as_str(), "{id}"),
        ];
        let called: BTreeSet<(String, String)> = routes
            .iter()
            .map(|(method, path, _)| {
                let template = path
                    .split('/')
                    .map(|part| {
                        ids.iter()
                            .find(|(id, _)| *id == part)
                            .map_or(part, |(_, name)| *name)
                    })
                    .collect::<Vec<_>>()
                    .join("/");
                (method.to_string(), template)
            })
            .collect();
        assert_eq!(called.len(), routes.len(), "a route is listed twice");
        assert_eq!(
            called.difference(&mounted).collect::<Vec<_>>(),
            Vec::<&(String, String)>::new(),
            "called but not mounted"
        );
        assert_eq!(
            mounted.difference(&called).collect::<Vec<_>>(),
            Vec::<&(String, String)>::new(),
            "mounted but not in the matrix"
        );

        let mut wrong = Vec::new();
        for (method, path, rule) in &routes {
            let body = (*method != Method::GET).then(|| json!({}));
            let anonymous = app.call(method.clone(), path, None, body.clone()).await;
            if anonymous.status != 401 {
                wrong.push(format!("{method} {path} anonymous: {}", anonymous.status));
            }
            for who in EVERYONE {
                let answer = app
                    .call(method.clone(), path, Some(&token(who)), body.clone())
                    .await;
                let status = answer.status.as_u16();
                let ok = match rule.expect(who) {
                    Allowed => ![401, 403, 404].contains(&status),
                    Forbidden => status == 403,
                    Hidden => status == 404,
                };
                if !ok {
                    let detail: &Value = &answer.body;
                    wrong.push(format!(
                        "{method} {path} as {who:?}: expected {:?}, got {status} {detail}",
                        rule.expect(who)
                    ));
                }
            }
        }
        assert!(wrong.is_empty(), "{}", wrong.join("\n"));

        // The role is checked before the body is read: a caller of the wrong
        // role (or none) is refused the same whatever it sends.
        for (method, path, rule) in routes.iter().filter(|(m, _, _)| *m != Method::GET) {
            for who in [None].into_iter().chain(EVERYONE.map(Some)) {
                if who.is_some_and(|who| rule.expect(who) != Forbidden) {
                    continue;
                }
                let mut req = app
                    .client
                    .request(method.clone(), format!("{}{path}", app.base))
                    .header("content-type", "application/json")
                    .body("{\"unterminated\": ");
                if let Some(who) = who {
                    req = req.bearer_auth(token(who));
                }
                let status = req.send().await.unwrap().status().as_u16();
                let want = if who.is_some() { 403 } else { 401 };
                if status != want {
                    wrong.push(format!(
                        "{method} {path} as {who:?} with malformed JSON: {status}, not {want}"
                    ));
                }
            }
        }
        assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    }
);
