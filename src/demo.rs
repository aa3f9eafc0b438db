//! `serve --demo`: a fresh database holding the Qianjiang station tree of the
//! bulletins, merchants, a rights station, a partner, staff, and complaints in
//! every status of the lifecycle, all made through the same store functions the
//! API uses.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, Ordering};

use chrono::{DateTime, Duration, Utc};
use serde_json::json;

use crate::auth::Principal;
use crate::clock::{Move, Now, beijing};
use crate::config::{ClockMode, Config};
use crate::domain::credit_code::CreditCode;
use crate::domain::lifecycle::{Action, CloseResult, Status};
use crate::domain::password::Password;
use crate::domain::report::{FollowupStatus, Month, Satisfaction};
use crate::domain::vocabulary::{DeliveryMode, HandlerKind, Remedy, Role};
use crate::error::{Error, Result};
use crate::state::AppState;
use crate::store::accounts::{self, NewUser};
use crate::store::complaints::{self, NewComplaint, Transition};
use crate::store::directory::{self, NewStation};
use crate::store::events::Actor;
use crate::store::followups::{self, Answer};
use crate::store::handlers::{self, EnrolledHandler, NewHandler};
use crate::store::negotiation::{self, NewProposal, ReportedSettlement};
use crate::store::partners::{self, EnrolledPartner, NewPartner};
use crate::store::scope;
use crate::store::station::{self, Step};
use crate::store::{Complaint, User};

const DEMO_DB: &str = "odr-gateway-demo.db";

/// The demo always starts fresh, on its own file, with the manual clock.
pub fn prepare_config(config: &mut Config) -> std::io::Result<DateTime<Utc>> {
    for suffix in ["", "-wal", "-shm"] {
        match std::fs::remove_file(format!("{DEMO_DB}{suffix}")) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
    }
    config.database_url = format!("sqlite://{DEMO_DB}?mode=rwc");
    config.clock = ClockMode::Manual;
    // The clock starts in the first of the two months of history and the
    // seeding moves it on to the demo's day.
    let day = *config.clock_start.get_or_insert_with(demo_start);
    config.clock_start = Some(history_months(day)[0]);
    config.delivery.allow_private_targets = true;
    config.default_station.get_or_insert_with(|| "QJ".into());
    Ok(day)
}

/// The days of the two months before the demo's day on which their cases
/// come in (the 6th, 10:00 Beijing time).
fn history_months(day: DateTime<Utc>) -> [DateTime<Utc>; 2] {
    let month = Month::of(day);
    [month.previous().previous(), month.previous()]
        .map(|m| m.start() + Duration::days(5) + Duration::hours(10))
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
    /// How many demo complaints are in each status.
    pub statuses: BTreeMap<String, usize>,
}

const STATIONS: &[(&str, &str, Option<&str>)] = &[
    ("QJ", "潜江市12315指挥中心", None),
    ("QJ-YL", "园林市场监管所", Some("QJ")),
    ("QJ-YS", "杨市市场监管所", Some("QJ")),
    ("QJ-ZJ", "周矶市场监管所", Some("QJ")),
    ("QJ-GH", "广华市场监管所", Some("QJ")),
    ("QJ-DC", "东城市场监管所", Some("QJ")),
];

/// Who the audit log names for the demo world's making.
const DEMO: Actor = Actor {
    kind: "demo",
    id: None,
};

/// Seeds the demo world: two months of history from where the clock starts,
/// then `day`'s complaints in every status, with the clock left at `day`.
pub async fn seed(state: &AppState, day: DateTime<Utc>) -> Result<World> {
    let db = &state.db;
    let now = state.clock.now();
    for (code, name, parent) in STATIONS {
        let new = NewStation {
            code: code.to_string(),
            name: name.to_string(),
            parent_code: parent.map(str::to_string),
        };
        directory::create_station(db, DEMO, new, now).await?;
    }
    let mut accounts = Vec::new();
    let admin = demo_account(state, "admin", "demo-admin-pass", Role::Admin, None).await?;
    accounts.push(Account {
        role: Role::Admin,
        name: "平台管理员".into(),
        login: admin.username.clone(),
        secret: "demo-admin-pass".into(),
        principal: Principal::Admin { user_id: admin.id },
    });
    for (username, station) in [("qj-staff", "QJ"), ("dc-staff", "QJ-DC")] {
        let staff = Role::Staff;
        let user = demo_account(state, username, "demo-staff-pass", staff, Some(station)).await?;
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
    let missing = || Error::unexpected("demo credit code");
    let furniture = credit_code("91429005MA4900001").ok_or_else(missing)?;
    let mall = credit_code("91429005MA4900002").ok_or_else(missing)?;
    let tea_shop = credit_code("92429005MA4900003").ok_or_else(missing)?;
    let unenrolled = credit_code("91429005MA4900004").ok_or_else(missing)?;
    let merchant = demo_handler(
        state,
        "潜江某家具定制有限公司",
        "QJ-DC",
        Some(&furniture),
        &[],
    )
    .await?;
    demo_handler(state, "潜江某购物中心有限公司", "QJ-YL", Some(&mall), &[]).await?;
    let covers = [tea_shop.clone()];
    let rights = demo_handler(state, "东城商业街消费维权服务站", "QJ-DC", None, &covers).await?;
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
    let new = NewPartner {
        name: "全国12315平台对接".into(),
        rate_per_second: 50,
        burst: 100,
        callback_url: None,
    };
    let EnrolledPartner {
        partner,
        credentials,
        ..
    } = partners::enrol(db, &state.sealer, DEMO, new, now).await?;
    accounts.push(Account {
        role: Role::Partner,
        name: partner.name.clone(),
        login: credentials.client_id,
        secret: credentials.client_secret,
        principal: Principal::Partner {
            partner_id: partner.id.clone(),
        },
    });
    let staff = accounts
        .iter()
        .find(|a| a.login == "dc-staff")
        .map(|a| a.principal.clone())
        .ok_or_else(|| Error::unexpected("demo staff"))?;
    let cases = DemoCases {
        state,
        now: state.now(),
        handler: Principal::Handler {
            handler_id: merchant.handler.id.clone(),
        },
        partner: Principal::Partner {
            partner_id: partner.id.clone(),
        },
        partner_id: partner.id,
        staff,
        furniture,
        tea_shop,
        unenrolled,
        numbered: AtomicU32::new(1),
    };
    cases.history(day).await?;
    let cases = cases.at(state.now());
    let mut statuses = BTreeMap::new();
    for case in cases.fill().await? {
        *statuses.entry(case.status).or_insert(0) += 1;
    }
    Ok(World { accounts, statuses })
}

async fn demo_account(
    state: &AppState,
    username: &str,
    password: &str,
    role: Role,
    station: Option<&str>,
) -> Result<User> {
    let new = NewUser {
        username: username.into(),
        password: Password::parse(password).map_err(Error::internal)?,
        role,
        station_code: station.map(str::to_string),
    };
    accounts::create_account(&state.db, DEMO, new, state.clock.now()).await
}

/// A handler with pull delivery: a merchant (with its credit code) or a
/// rights station (with the codes it covers).
async fn demo_handler(
    state: &AppState,
    name: &str,
    station: &str,
    credit_code: Option<&str>,
    covers: &[String],
) -> Result<EnrolledHandler> {
    let kind = match credit_code {
        Some(_) => HandlerKind::Merchant,
        None => HandlerKind::RightsStation,
    };
    let new = NewHandler {
        kind,
        name: name.into(),
        credit_code: credit_code.map(str::to_string),
        station_code: station.into(),
        delivery: DeliveryMode::Pull,
        webhook_url: None,
        covers: covers.to_vec(),
        delivery_rate_per_second: None,
    };
    handlers::enrol(&state.db, &state.sealer, DEMO, new, state.clock.now()).await
}

/// Makes the demo's complaints, each through the same store functions the API
/// calls, as the party that would take each step.
struct DemoCases<'a> {
    state: &'a AppState,
    now: Now<'a>,
    partner_id: String,
    handler: Principal,
    partner: Principal,
    staff: Principal,
    furniture: String,
    tea_shop: String,
    unenrolled: String,
    numbered: AtomicU32,
}

impl<'a> DemoCases<'a> {
    /// The same parties, acting at `now`.
    fn at(&self, now: Now<'a>) -> DemoCases<'a> {
        DemoCases {
            state: self.state,
            now,
            partner_id: self.partner_id.clone(),
            handler: self.handler.clone(),
            partner: self.partner.clone(),
            staff: self.staff.clone(),
            furniture: self.furniture.clone(),
            tea_shop: self.tea_shop.clone(),
            unenrolled: self.unenrolled.clone(),
            numbered: AtomicU32::new(self.numbered.load(Ordering::Relaxed)),
        }
    }

    /// The two months before `day`: complaints come in on the 6th and are
    /// settled, closed or left open; each clock move runs the deadline job
    /// and draws the follow-ups of the month passed. The first month's
    /// follow-ups are answered, the second's are due on `day`.
    async fn history(&self, day: DateTime<Utc>) -> Result<()> {
        for arrival in history_months(day) {
            move_clock(self.state, arrival).await?;
            self.answer_pending_followups().await?;
            let month = self.at(self.state.now());
            month.month_of_cases().await?;
            self.numbered
                .store(month.numbered.load(Ordering::Relaxed), Ordering::Relaxed);
        }
        move_clock(self.state, day).await
    }

    async fn month_of_cases(&self) -> Result<()> {
        for _ in 0..2 {
            let negotiating = self.negotiating().await?;
            self.consumer_accepts(negotiating).await?;
        }
        let acknowledged = self.acknowledged().await?;
        self.merchant_settles(acknowledged).await?;
        for _ in 0..2 {
            let mediated = vec![self.claim(), accept(), initial_feedback(), close()];
            self.at_station(mediated).await?;
        }
        let not_accepted = vec![self.claim(), not_accept(), initial_feedback()];
        self.at_station(not_accepted).await?;
        // Left open: one accepted, one never claimed (both run late).
        self.at_station(vec![self.claim(), accept()]).await?;
        self.intake(&self.unenrolled, true).await?;
        Ok(())
    }

    async fn answer_pending_followups(&self) -> Result<()> {
        let db = &self.state.db;
        let pending = FollowupStatus::Pending;
        let due = followups::page(db, &self.staff, None, Some(pending), None, 200).await?;
        let answers = [
            Satisfaction::VerySatisfied,
            Satisfaction::Satisfied,
            Satisfaction::Neutral,
        ];
        for ((followup, _), satisfaction) in due.iter().zip(answers.iter().cycle()) {
            let answer = Answer {
                satisfaction: *satisfaction,
                note: Some("电话回访，消费者认可处理结果".into()),
            };
            followups::answer(db, self.state.now(), &self.staff, &followup.id, answer).await?;
        }
        Ok(())
    }

    /// One complaint in every status, and one after each step of the handler's
    /// and the station's part.
    async fn fill(&self) -> Result<Vec<Complaint>> {
        let mut cases = Vec::new();
        // With the merchant: waiting to be pulled, pulled, acknowledged, negotiating.
        cases.push(self.intake(&self.furniture, true).await?);
        cases.push(self.delivered().await?);
        cases.push(self.acknowledged().await?);
        cases.push(self.negotiating().await?);
        // Settled: the consumer accepted a proposal; the merchant reported a
        // settlement agreed offline, inside the consumer's objection window.
        let negotiating = self.negotiating().await?;
        cases.push(self.consumer_accepts(negotiating).await?);
        let acknowledged = self.acknowledged().await?;
        cases.push(self.merchant_settles(acknowledged).await?);
        // With the rights station covering the tea shop.
        cases.push(self.intake(&self.tea_shop, true).await?);
        // Escalated: no ODR consent, no enrolled handler, declined, failed.
        cases.push(self.intake(&self.furniture, false).await?);
        cases.push(self.intake(&self.unenrolled, true).await?);
        let delivered = self.delivered().await?;
        let declined = json!({"reason": "该订单不属于本公司"});
        cases.push(
            self.step(delivered, &self.handler, Action::Decline, declined)
                .await?,
        );
        let acknowledged = self.acknowledged().await?;
        let failed = json!({"note": "双方分歧较大，协商不成"});
        cases.push(
            self.step(acknowledged, &self.handler, Action::Fail, failed)
                .await?,
        );
        // At the station: one case after each of its steps.
        cases.push(self.at_station(vec![self.claim()]).await?);
        cases.push(self.at_station(vec![self.claim(), accept()]).await?);
        let feedback = vec![self.claim(), accept(), initial_feedback()];
        cases.push(self.at_station(feedback).await?);
        let mediated = vec![self.claim(), accept(), initial_feedback(), close()];
        cases.push(self.at_station(mediated).await?);
        let not_accepted = vec![self.claim(), not_accept(), initial_feedback()];
        cases.push(self.at_station(not_accepted).await?);
        // Reopened: the consumer was dissatisfied at the follow-up of a closed case.
        let closed = self
            .at_station(vec![self.claim(), accept(), close()])
            .await?;
        let followup = json!({"via": "followup", "satisfaction": "dissatisfied"});
        cases.push(
            self.step(closed, &self.staff, Action::Reopen, followup)
                .await?,
        );
        // Withdrawn by the consumer.
        let acknowledged = self.acknowledged().await?;
        let withdrawn = json!({"reason": "已与商家自行协商"});
        cases.push(
            self.step(acknowledged, &self.partner, Action::Withdraw, withdrawn)
                .await?,
        );
        Ok(cases)
    }

    async fn intake(&self, credit_code: &str, odr: bool) -> Result<Complaint> {
        let n = self.numbered.fetch_add(1, Ordering::Relaxed);
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
        let (case, _) = complaints::intake(
            &self.state.db,
            &self.state.intake,
            &self.partner_id,
            new,
            Some("QJ"),
            self.now,
            None,
        )
        .await?;
        Ok(case)
    }

    async fn step(
        &self,
        case: Complaint,
        who: &Principal,
        action: Action,
        payload: serde_json::Value,
    ) -> Result<Complaint> {
        let actor = Actor::from(who);
        let request = Transition::new(&actor, &case, action).payload(payload);
        complaints::transition(&self.state.db, self.now, request).await
    }

    /// A new case the merchant has pulled from its inbox.
    async fn delivered(&self) -> Result<Complaint> {
        let case = self.intake(&self.furniture, true).await?;
        let via = json!({"via": "inbox"});
        self.step(case, &self.handler, Action::Deliver, via).await
    }

    async fn acknowledged(&self) -> Result<Complaint> {
        let case = self.delivered().await?;
        let handler = Actor::from(&self.handler);
        negotiation::acknowledge(&self.state.db, self.now, &handler, &case).await
    }

    async fn negotiating(&self) -> Result<Complaint> {
        let case = self.acknowledged().await?;
        let proposal = NewProposal {
            remedy: Remedy::Replace,
            amount_cents: Some(120_000),
            note: Some("更换柜门并赔偿垫子".into()),
        };
        let handler = Actor::from(&self.handler);
        let (case, _) =
            negotiation::propose(&self.state.db, self.now, &handler, &case, proposal).await?;
        Ok(case)
    }

    async fn consumer_accepts(&self, case: Complaint) -> Result<Complaint> {
        let partner = Actor::from(&self.partner);
        let answer = json!({"decision": "accept"});
        negotiation::answer_proposal(
            &self.state.db,
            self.now,
            &partner,
            &case,
            true,
            None,
            answer,
        )
        .await?;
        scope::find(&self.state.db, &self.partner, &case.id).await
    }

    async fn merchant_settles(&self, case: Complaint) -> Result<Complaint> {
        let settlement = ReportedSettlement {
            remedy: Remedy::Refund,
            recovered_cents: 80_000,
            note: Some("电话协商一致，退款800元".into()),
        };
        let handler = Actor::from(&self.handler);
        negotiation::report_settlement(&self.state.db, self.now, &handler, &case, settlement).await
    }

    fn claim(&self) -> Step {
        Step::Claim
    }

    /// A case that reached the station (no enrolled handler), after `steps`.
    async fn at_station(&self, steps: Vec<Step>) -> Result<Complaint> {
        let mut case = self.intake(&self.unenrolled, true).await?;
        let staff = Actor::from(&self.staff);
        for step in steps {
            case = station::act(&self.state.db, self.now, &staff, &case, step).await?;
        }
        Ok(case)
    }
}

fn accept() -> Step {
    Step::Decide {
        accept: true,
        grounds: None,
    }
}

fn not_accept() -> Step {
    Step::Decide {
        accept: false,
        grounds: Some("属于合同纠纷，已告知消费者向人民法院起诉".into()),
    }
}

fn initial_feedback() -> Step {
    Step::InitialFeedback {
        note: "已联系双方，约定调解".into(),
    }
}

fn close() -> Step {
    Step::Close {
        result: CloseResult::Mediated,
        recovered_cents: 50_000,
        note: "调解成功，商家退款五百元".into(),
    }
}

/// Moves the manual clock forward to `to` as an admin's move does: the
/// deadline job at once, and the follow-up draw of a month passed.
async fn move_clock(state: &AppState, to: DateTime<Utc>) -> Result<()> {
    state.timekeeper.move_clock(DEMO, Move::To(to)).await?;
    Ok(())
}

pub fn print(world: &World, state: &AppState, address: SocketAddr) {
    println!("\nodr-gateway demo at http://{address}");
    println!(
        "business clock: {} (Beijing time; manual: POST /v1/admin/clock moves it)",
        beijing(&state.clock.now())
    );
    let counts: Vec<String> = Status::ALL
        .iter()
        .map(|s| format!("{s} {}", world.statuses.get(s.as_str()).unwrap_or(&0)))
        .collect();
    println!("complaints: {}", counts.join(", "));
    let staff: Vec<String> = world
        .accounts
        .iter()
        .filter(|a| a.role == Role::Staff)
        .map(|a| format!("{} / {}", a.login, a.secret))
        .collect();
    println!(
        "console: http://{address}/console/ (station staff: {})\n",
        staff.join(", ")
    );
    for account in &world.accounts {
        let token = state
            .tokens
            .issue(&account.principal)
            .map(|t| t.access_token)
            .unwrap_or_default();
        let (how, login, secret) = match account.role {
            Role::Admin | Role::Staff => ("POST /v1/auth/login", "username", "password"),
            _ => ("POST /v1/oauth/token", "client_id", "client_secret"),
        };
        println!(
            "{:<8} {}\n  {how}  {login}: {}  {secret}: {}\n  token: {token}\n",
            account.role.as_str(),
            account.name,
            account.login,
            account.secret
        );
    }
    println!(
        "tokens last {} s; sign in again for new ones",
        state.config.token_ttl_seconds
    );
}
