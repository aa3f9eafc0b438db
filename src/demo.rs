//! `serve --demo`: a fresh database holding the Qianjiang station tree of the
//! bulletins, merchants, a rights station, a partner, staff, and complaints in
//! every state, all made through the same store functions the API uses.

use std::net::SocketAddr;

use chrono::{DateTime, Duration, Utc};
use sea_orm::ActiveValue::Set;
use serde_json::json;

use crate::app::AppState;
use crate::auth::Principal;
use crate::clock::Now;
use crate::config::{ClockMode, Config};
use crate::domain::credit_code::CreditCode;
use crate::domain::lifecycle::{Action, CloseResult};
use crate::domain::vocabulary::{DeliveryMode, HandlerKind, Remedy, Role};
use crate::error::{Error, Result};
use crate::store::complaints::{self, NewComplaint};
use crate::store::directory::{self, NewHandler, NewPartner};
use crate::store::events::Actor;
use crate::store::negotiation::{self, NewProposal};
use crate::store::station::{self, Step};

const DEMO_DB: &str = "odr-gateway-demo.db";

/// The demo always starts fresh, on its own file, with the manual clock.
pub fn prepare_config(config: &mut Config) -> std::io::Result<()> {
    for suffix in ["", "-wal", "-shm"] {
        match std::fs::remove_file(format!("{DEMO_DB}{suffix}")) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
    }
    config.database_url = format!("sqlite://{DEMO_DB}?mode=rwc");
    config.clock = ClockMode::Manual;
    config.clock_start.get_or_insert_with(demo_start);
    config.delivery.allow_private_targets = true;
    config.default_station.get_or_insert_with(|| "QJ".into());
    Ok(())
}

fn demo_start() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-09-29T10:00:00+08:00")
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_else(|_| Utc::now())
}

/// A valid credit code: `body` (17 characters) plus its check character.
pub fn credit_code(body: &str) -> Option<String> {
    "0123456789ABCDEFGHJKLMNPQRTUWXY"
        .chars()
        .map(|c| format!("{body}{c}"))
        .find(|code| CreditCode::parse(code).is_ok())
}

pub struct Account {
    pub role: Role,
    pub name: String,
    pub login: String,
    pub secret: String,
    pub principal: Principal,
}

pub struct World {
    pub accounts: Vec<Account>,
}

const STATIONS: &[(&str, &str, Option<&str>)] = &[
    ("QJ", "潜江市12315指挥中心", None),
    ("QJ-YL", "园林市场监管所", Some("QJ")),
    ("QJ-YS", "杨市市场监管所", Some("QJ")),
    ("QJ-ZJ", "周矶市场监管所", Some("QJ")),
    ("QJ-GH", "广华市场监管所", Some("QJ")),
    ("QJ-DC", "东城市场监管所", Some("QJ")),
];

pub async fn seed(state: &AppState) -> Result<World> {
    let db = &state.db;
    let now = state.clock.now();
    for (code, name, parent) in STATIONS {
        directory::create_station(db, code, name, *parent, now).await?;
    }
    let mut accounts = Vec::new();
    let admin =
        directory::create_user(db, "admin", "demo-admin-pass", Role::Admin, None, now).await?;
    accounts.push(Account {
        role: Role::Admin,
        name: "平台管理员".into(),
        login: admin.username.clone(),
        secret: "demo-admin-pass".into(),
        principal: Principal::Admin { user_id: admin.id },
    });
    for (username, station) in [("qj-staff", "QJ"), ("dc-staff", "QJ-DC")] {
        let user = directory::create_user(
            db,
            username,
            "demo-staff-pass",
            Role::Staff,
            Some(station),
            now,
        )
        .await?;
        accounts.push(Account {
            role: Role::Staff,
            name: format!("{station} 工作人员"),
            login: user.username,
            secret: "demo-staff-pass".into(),
            principal: Principal::Staff {
                user_id: user.id,
                station_code: station.into(),
            },
        });
    }
    let missing = || Error::internal(std::io::Error::other("demo credit code"));
    let furniture = credit_code("91429005MA4900001").ok_or_else(missing)?;
    let mall = credit_code("91429005MA4900002").ok_or_else(missing)?;
    let tea_shop = credit_code("92429005MA4900003").ok_or_else(missing)?;
    let unenrolled = credit_code("91429005MA4900004").ok_or_else(missing)?;
    let merchant = directory::enroll_handler(
        db,
        &state.sealer,
        NewHandler {
            kind: HandlerKind::Merchant,
            name: "潜江某家具定制有限公司".into(),
            credit_code: Some(furniture.clone()),
            station_code: "QJ-DC".into(),
            delivery: DeliveryMode::Pull,
            webhook_url: None,
            covers: vec![],
            delivery_rate_per_second: None,
        },
        now,
    )
    .await?;
    directory::enroll_handler(
        db,
        &state.sealer,
        NewHandler {
            kind: HandlerKind::Merchant,
            name: "潜江某购物中心有限公司".into(),
            credit_code: Some(mall),
            station_code: "QJ-YL".into(),
            delivery: DeliveryMode::Pull,
            webhook_url: None,
            covers: vec![],
            delivery_rate_per_second: None,
        },
        now,
    )
    .await?;
    let rights = directory::enroll_handler(
        db,
        &state.sealer,
        NewHandler {
            kind: HandlerKind::RightsStation,
            name: "东城商业街消费维权服务站".into(),
            credit_code: None,
            station_code: "QJ-DC".into(),
            delivery: DeliveryMode::Pull,
            webhook_url: None,
            covers: vec![tea_shop.clone()],
            delivery_rate_per_second: None,
        },
        now,
    )
    .await?;
    for (enrolled, name) in [
        (&merchant, "家具定制（商家，拉取）"),
        (&rights, "东城维权服务站（拉取）"),
    ] {
        accounts.push(Account {
            role: Role::Handler,
            name: name.into(),
            login: enrolled.credentials.client_id.clone(),
            secret: enrolled.credentials.client_secret.clone(),
            principal: Principal::Handler {
                handler_id: enrolled.handler.id.clone(),
            },
        });
    }
    let (partner, credentials, _) = directory::create_partner(
        db,
        &state.sealer,
        NewPartner {
            name: "全国12315平台对接".into(),
            rate_per_second: 50,
            burst: 100,
            callback_url: None,
        },
        now,
    )
    .await?;
    accounts.push(Account {
        role: Role::Partner,
        name: partner.name.clone(),
        login: credentials.client_id,
        secret: credentials.client_secret,
        principal: Principal::Partner {
            partner_id: partner.id.clone(),
        },
    });
    let cases = DemoCases {
        state,
        partner_id: partner.id,
        now: state.now(),
    };
    cases
        .fill(&furniture, &tea_shop, &unenrolled, &accounts)
        .await?;
    Ok(World { accounts })
}

struct DemoCases<'a> {
    state: &'a AppState,
    partner_id: String,
    now: Now<'a>,
}

impl DemoCases<'_> {
    async fn intake(
        &self,
        n: u32,
        credit_code: &str,
        odr: bool,
    ) -> Result<entity::complaint::Model> {
        let new = NewComplaint {
            external_ref: format!("12315-2026-{n:06}"),
            channel: "12315_web".into(),
            consumer_name: ["孙先生", "李女士", "王先生", "赵女士"][n as usize % 4].into(),
            consumer_phone: format!("1380013{n:04}"),
            merchant_credit_code: credit_code.into(),
            merchant_name: "潜江某商户".into(),
            category: "goods".into(),
            problem: ["quality", "after_sales", "contract", "price"][n as usize % 4].into(),
            description: "定制柜门存在质量问题，安装时损坏榻榻米垫子".into(),
            demand: "更换柜门并赔偿".into(),
            amount_cents: 350_000,
            occurred_at: self.now.at - Duration::days(3),
            dispatched_at: Some(self.now.at - Duration::hours(2)),
            station_code: Some("QJ-DC".into()),
            consents: json!({"odr": odr, "publish": false, "mediation": true}),
            odr_consent: odr,
        };
        complaints::intake(&self.state.db, &self.partner_id, new, Some("QJ"), self.now).await
    }

    async fn step(
        &self,
        case: entity::complaint::Model,
        who: &Principal,
        action: Action,
        payload: serde_json::Value,
    ) -> Result<entity::complaint::Model> {
        let now = self.now;
        complaints::transition(
            &self.state.db,
            now,
            &Actor::from(who),
            &case,
            action,
            payload,
            complaints::unguarded,
            |m, _| {
                if action == Action::Deliver {
                    m.received_at = Set(Some(now.at))
                }
            },
        )
        .await
    }

    async fn station(
        &self,
        mut case: entity::complaint::Model,
        staff: &Principal,
        steps: Vec<Step>,
    ) -> Result<entity::complaint::Model> {
        for step in steps {
            case = station::act(&self.state.db, self.now, &Actor::from(staff), &case, step).await?;
        }
        Ok(case)
    }

    async fn fill(
        &self,
        furniture: &str,
        tea_shop: &str,
        unenrolled: &str,
        accounts: &[Account],
    ) -> Result<()> {
        let find = |role: Role| {
            accounts
                .iter()
                .find(|a| a.role == role)
                .map(|a| a.principal.clone())
                .ok_or_else(|| Error::internal(std::io::Error::other("demo account")))
        };
        let handler = find(Role::Handler)?;
        let partner = find(Role::Partner)?;
        let staff = accounts
            .iter()
            .find(|a| a.login == "dc-staff")
            .map(|a| a.principal.clone())
            .ok_or_else(|| Error::internal(std::io::Error::other("demo staff")))?;
        // routed: waiting for the merchant to pull it.
        self.intake(1, furniture, true).await?;
        // delivered, acknowledged, negotiating, settled by the consumer.
        let mut n = 2;
        for depth in 1..=4 {
            let mut case = self.intake(n, furniture, true).await?;
            n += 1;
            case = self
                .step(case, &handler, Action::Deliver, json!({"via": "inbox"}))
                .await?;
            if depth >= 2 {
                case = negotiation::acknowledge(
                    &self.state.db,
                    self.now,
                    &Actor::from(&handler),
                    &case,
                )
                .await?;
            }
            if depth >= 3 {
                let (updated, _) = negotiation::propose(
                    &self.state.db,
                    self.now,
                    &Actor::from(&handler),
                    &case,
                    NewProposal {
                        remedy: Remedy::Replace,
                        amount_cents: Some(120_000),
                        note: Some("更换柜门并赔偿垫子".into()),
                    },
                )
                .await?;
                case = updated;
            }
            if depth == 4 {
                negotiation::answer_proposal(
                    &self.state.db,
                    self.now,
                    &Actor::from(&partner),
                    &case,
                    true,
                    None,
                    json!({"decision": "accept"}),
                )
                .await?;
            }
        }
        // A rights station's case, and cases sent straight to the station.
        self.intake(n, tea_shop, true).await?;
        let escalated = self.intake(n + 1, unenrolled, true).await?;
        self.intake(n + 2, furniture, false).await?;
        // At the station: claimed, accepted, closed — through the station's own steps.
        let staff_id = staff.subject().to_string();
        let claim = || Step::Claim {
            user_id: staff_id.clone(),
        };
        self.station(escalated, &staff, vec![claim()]).await?;
        let accepted = self.intake(n + 3, unenrolled, true).await?;
        let accept = || Step::Decide {
            accept: true,
            grounds: None,
        };
        self.station(accepted, &staff, vec![claim(), accept()])
            .await?;
        let closed = self.intake(n + 4, unenrolled, true).await?;
        let close = Step::Close {
            result: CloseResult::Mediated,
            recovered_cents: 50_000,
            note: "调解成功，商家退款五百元".into(),
        };
        let feedback = Step::InitialFeedback {
            note: "已联系双方，约定调解".into(),
        };
        self.station(closed, &staff, vec![claim(), accept(), feedback, close])
            .await?;
        // Withdrawn by the consumer.
        let withdrawn = self.intake(n + 5, furniture, true).await?;
        self.step(
            withdrawn,
            &partner,
            Action::Withdraw,
            json!({"reason": "已与商家自行协商"}),
        )
        .await?;
        Ok(())
    }
}

pub fn print(world: &World, state: &AppState, address: SocketAddr) {
    println!(
        "\nodr-gateway demo at http://{address}  (business clock: {}, manual)\n",
        state.clock.now()
    );
    for account in &world.accounts {
        let token = state
            .tokens
            .issue(&account.principal)
            .map(|t| t.access_token)
            .unwrap_or_default();
        let how = match account.role {
            Role::Admin | Role::Staff => "POST /v1/auth/login  username/password",
            _ => "POST /v1/oauth/token client_id/client_secret",
        };
        println!(
            "{:<8} {}\n  {how}: {} / {}\n  token: {token}\n",
            account.role, account.name, account.login, account.secret
        );
    }
}
