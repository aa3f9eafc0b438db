//! Stations, handlers, partners, staff and their credentials.

use chrono::{DateTime, Utc};
use entity::{api_client, handler, partner, station, user};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseTransaction,
    EntityTrait, QueryFilter, QueryOrder, QuerySelect, TransactionTrait,
};
use serde_json::json;

use crate::auth::secrets::{self, Sealer};
use crate::domain::routing::Candidate;
use crate::domain::vocabulary::{DeliveryMode, HandlerKind, HandlerStatus, Role};
use crate::error::{Error, Result};

use super::new_id;

// ---- stations ----

pub async fn create_station<C: ConnectionTrait>(
    db: &C,
    code: &str,
    name: &str,
    parent_code: Option<&str>,
    now: DateTime<Utc>,
) -> Result<station::Model> {
    if let Some(parent) = parent_code
        && station::Entity::find_by_id(parent.to_string())
            .one(db)
            .await?
            .is_none()
    {
        return Err(Error::field("parent_code", "no station has this code"));
    }
    if station::Entity::find_by_id(code.to_string())
        .one(db)
        .await?
        .is_some()
    {
        return Err(Error::Conflict {
            detail: format!("station {code} already exists"),
            extra: json!({ "existing_code": code }),
        });
    }
    Ok(station::ActiveModel {
        code: Set(code.to_string()),
        name: Set(name.to_string()),
        parent_code: Set(parent_code.map(str::to_string)),
        created_at: Set(now),
    }
    .insert(db)
    .await?)
}

pub async fn stations<C: ConnectionTrait>(db: &C) -> Result<Vec<station::Model>> {
    Ok(station::Entity::find()
        .order_by_asc(station::Column::Code)
        .all(db)
        .await?)
}

pub async fn station_exists<C: ConnectionTrait>(db: &C, code: &str) -> Result<bool> {
    Ok(station::Entity::find_by_id(code.to_string())
        .one(db)
        .await?
        .is_some())
}

/// `code` and every station below it.
pub async fn subtree<C: ConnectionTrait>(db: &C, code: &str) -> Result<Vec<String>> {
    let all = stations(db).await?;
    let mut found = vec![code.to_string()];
    let mut i = 0;
    while i < found.len() {
        let parent = found[i].clone();
        found.extend(
            all.iter()
                .filter(|s| s.parent_code.as_deref() == Some(parent.as_str()))
                .map(|s| s.code.clone()),
        );
        i += 1;
    }
    Ok(found)
}

/// The one root station, used for not-enrolled cases nobody placed.
pub async fn sole_root_station<C: ConnectionTrait>(db: &C) -> Result<Option<String>> {
    let roots: Vec<String> = station::Entity::find()
        .select_only()
        .column(station::Column::Code)
        .filter(station::Column::ParentCode.is_null())
        .limit(2)
        .into_tuple()
        .all(db)
        .await?;
    Ok(if roots.len() == 1 {
        roots.into_iter().next()
    } else {
        None
    })
}

// ---- credentials ----

/// A freshly issued client id and secret; the secret exists only in this value.
pub struct Credentials {
    pub client_id: String,
    pub client_secret: String,
}

async fn issue_credentials<C: ConnectionTrait>(
    db: &C,
    owner_kind: &str,
    owner_id: &str,
    now: DateTime<Utc>,
) -> Result<Credentials> {
    let client_id = format!("{owner_kind}_{}", uuid::Uuid::new_v4().simple());
    let client_secret = secrets::generate("odr_cs_")?;
    api_client::ActiveModel {
        client_id: Set(client_id.clone()),
        secret_hash: Set(secrets::hash(&client_secret)?),
        owner_kind: Set(owner_kind.to_string()),
        owner_id: Set(owner_id.to_string()),
        created_at: Set(now),
    }
    .insert(db)
    .await?;
    Ok(Credentials {
        client_id,
        client_secret,
    })
}

pub async fn find_client<C: ConnectionTrait>(
    db: &C,
    client_id: &str,
) -> Result<Option<api_client::Model>> {
    Ok(api_client::Entity::find_by_id(client_id.to_string())
        .one(db)
        .await?)
}

// ---- handlers ----

pub struct NewHandler {
    pub kind: HandlerKind,
    pub name: String,
    pub credit_code: Option<String>,
    pub station_code: String,
    pub delivery: DeliveryMode,
    pub webhook_url: Option<String>,
    pub covers: Vec<String>,
    pub delivery_rate_per_second: Option<i32>,
}

pub struct EnrolledHandler {
    pub handler: handler::Model,
    pub credentials: Credentials,
    pub webhook_secret: String,
}

pub async fn enroll_handler<C: TransactionTrait<Transaction = DatabaseTransaction>>(
    db: &C,
    sealer: &Sealer,
    new: NewHandler,
    now: DateTime<Utc>,
) -> Result<EnrolledHandler> {
    let txn = db.begin().await?;
    if !station_exists(&txn, &new.station_code).await? {
        return Err(Error::field("station_code", "no station has this code"));
    }
    if let Some(code) = &new.credit_code
        && new.kind == HandlerKind::Merchant
        && let Some(existing) = handler::Entity::find()
            .filter(handler::Column::CreditCode.eq(code.as_str()))
            .filter(handler::Column::Kind.eq(HandlerKind::Merchant.as_str()))
            .filter(handler::Column::Status.ne(HandlerStatus::Withdrawn.as_str()))
            .one(&txn)
            .await?
    {
        return Err(Error::Conflict {
            detail: "a merchant handler with this credit code is already enrolled".into(),
            extra: json!({ "existing_id": existing.id }),
        });
    }
    let id = new_id();
    let webhook_secret = secrets::generate_webhook_secret()?;
    let handler = handler::ActiveModel {
        id: Set(id.clone()),
        kind: Set(new.kind.as_str().into()),
        name: Set(new.name),
        credit_code: Set(new.credit_code),
        station_code: Set(new.station_code),
        delivery: Set(new.delivery.as_str().into()),
        webhook_url: Set(new.webhook_url),
        covers: Set(json!(new.covers)),
        status: Set(HandlerStatus::Active.as_str().into()),
        webhook_secret: Set(sealer.seal(&webhook_secret)?),
        previous_webhook_secret: Set(None),
        previous_secret_until: Set(None),
        delivery_rate_per_second: Set(new.delivery_rate_per_second),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&txn)
    .await?;
    let credentials = issue_credentials(&txn, "handler", &id, now).await?;
    txn.commit().await?;
    Ok(EnrolledHandler {
        handler,
        credentials,
        webhook_secret,
    })
}

pub async fn handler<C: ConnectionTrait>(db: &C, id: &str) -> Result<Option<handler::Model>> {
    Ok(handler::Entity::find_by_id(id.to_string()).one(db).await?)
}

/// Handlers at the given stations (all when `stations` is `None`), by id.
pub async fn handlers<C: ConnectionTrait>(
    db: &C,
    stations: Option<&[String]>,
    after: Option<&str>,
    limit: u64,
) -> Result<Vec<handler::Model>> {
    let mut q = handler::Entity::find().order_by_asc(handler::Column::Id);
    if let Some(stations) = stations {
        q = q.filter(handler::Column::StationCode.is_in(stations.iter().cloned()));
    }
    if let Some(after) = after {
        q = q.filter(handler::Column::Id.gt(after));
    }
    Ok(q.limit(limit).all(db).await?)
}

pub async fn save_handler<C: ConnectionTrait>(
    db: &C,
    model: handler::ActiveModel,
) -> Result<handler::Model> {
    Ok(model.update(db).await?)
}

/// A new signing secret; the old one keeps signing beside it until
/// `overlap_until` (real time), so receivers can switch without missing events.
pub async fn rotate_webhook_secret<C: ConnectionTrait>(
    db: &C,
    sealer: &Sealer,
    current: handler::Model,
    now: DateTime<Utc>,
    overlap_until: DateTime<Utc>,
) -> Result<(handler::Model, String)> {
    let secret = secrets::generate_webhook_secret()?;
    let previous = current.webhook_secret.clone();
    let mut model: handler::ActiveModel = current.into();
    model.webhook_secret = Set(sealer.seal(&secret)?);
    model.previous_webhook_secret = Set(Some(previous));
    model.previous_secret_until = Set(Some(overlap_until));
    model.updated_at = Set(now);
    Ok((model.update(db).await?, secret))
}

/// Handlers that might take a complaint about one of `credit_codes`: their
/// merchant handlers, and every rights station (their `covers` lists are
/// matched in routing), in one query.
pub async fn routing_handlers<C: ConnectionTrait>(
    db: &C,
    credit_codes: Vec<String>,
) -> Result<Vec<handler::Model>, sea_orm::DbErr> {
    use sea_orm::Condition;
    let merchant = Condition::all()
        .add(handler::Column::Kind.eq(HandlerKind::Merchant.as_str()))
        .add(super::bulk::one_of(
            db.get_database_backend(),
            handler::Column::CreditCode,
            credit_codes,
        ));
    let rights_station = Condition::all()
        .add(handler::Column::Kind.eq(HandlerKind::RightsStation.as_str()))
        .add(handler::Column::Status.ne(HandlerStatus::Withdrawn.as_str()));
    handler::Entity::find()
        .filter(Condition::any().add(merchant).add(rights_station))
        .order_by_asc(handler::Column::Id)
        .all(db)
        .await
}

/// Of `handlers` (as [`routing_handlers`] found them), those that might take
/// a complaint about `credit_code`, as routing candidates; with their rows.
pub fn routing_candidates(
    handlers: &[handler::Model],
    credit_code: &str,
) -> Result<(Vec<Candidate>, Vec<handler::Model>)> {
    let rows: Vec<handler::Model> = handlers
        .iter()
        .filter(|h| {
            h.kind != HandlerKind::Merchant.as_str()
                || h.credit_code.as_deref() == Some(credit_code)
        })
        .cloned()
        .collect();
    let candidates = rows.iter().map(candidate).collect::<Result<_>>()?;
    Ok((candidates, rows))
}

fn candidate(h: &handler::Model) -> Result<Candidate> {
    let parse_err = |what: &str| {
        Error::internal(std::io::Error::other(format!(
            "stored handler {} has a bad {what}",
            h.id
        )))
    };
    Ok(Candidate {
        id: h.id.clone(),
        kind: h.kind.parse().map_err(|_| parse_err("kind"))?,
        status: h.status.parse().map_err(|_| parse_err("status"))?,
        station_code: h.station_code.clone(),
        credit_code: h.credit_code.clone(),
        covers: serde_json::from_value(h.covers.clone()).map_err(|_| parse_err("covers"))?,
    })
}

// ---- partners ----

pub struct NewPartner {
    pub name: String,
    pub rate_per_second: i32,
    pub burst: i32,
    pub callback_url: Option<String>,
}

pub async fn create_partner<C: TransactionTrait<Transaction = DatabaseTransaction>>(
    db: &C,
    sealer: &Sealer,
    new: NewPartner,
    now: DateTime<Utc>,
) -> Result<(partner::Model, Credentials, Option<String>)> {
    let txn = db.begin().await?;
    let id = new_id();
    let webhook_secret = match new.callback_url {
        Some(_) => Some(secrets::generate_webhook_secret()?),
        None => None,
    };
    let partner = partner::ActiveModel {
        id: Set(id.clone()),
        name: Set(new.name),
        rate_per_second: Set(new.rate_per_second),
        burst: Set(new.burst),
        callback_url: Set(new.callback_url),
        status: Set("active".into()),
        webhook_secret: Set(webhook_secret
            .as_deref()
            .map(|s| sealer.seal(s))
            .transpose()?),
        created_at: Set(now),
    }
    .insert(&txn)
    .await?;
    let credentials = issue_credentials(&txn, "partner", &id, now).await?;
    txn.commit().await?;
    Ok((partner, credentials, webhook_secret))
}

pub async fn partners<C: ConnectionTrait>(
    db: &C,
    after: Option<&str>,
    limit: u64,
) -> Result<Vec<partner::Model>> {
    let mut q = partner::Entity::find().order_by_asc(partner::Column::Id);
    if let Some(after) = after {
        q = q.filter(partner::Column::Id.gt(after));
    }
    Ok(q.limit(limit).all(db).await?)
}

pub async fn partner<C: ConnectionTrait>(db: &C, id: &str) -> Result<Option<partner::Model>> {
    Ok(partner::Entity::find_by_id(id.to_string()).one(db).await?)
}

// ---- staff and admins ----

pub async fn create_user<C: ConnectionTrait>(
    db: &C,
    username: &str,
    password: &str,
    role: Role,
    station_code: Option<&str>,
    now: DateTime<Utc>,
) -> Result<user::Model> {
    if let Some(code) = station_code
        && !station_exists(db, code).await?
    {
        return Err(Error::field("station_code", "no station has this code"));
    }
    if user::Entity::find()
        .filter(user::Column::Username.eq(username))
        .one(db)
        .await?
        .is_some()
    {
        return Err(Error::conflict(format!("user {username} already exists")));
    }
    Ok(user::ActiveModel {
        id: Set(new_id()),
        username: Set(username.to_string()),
        password_hash: Set(secrets::hash(password)?),
        role: Set(role.as_str().into()),
        station_code: Set(station_code.map(str::to_string)),
        created_at: Set(now),
    }
    .insert(db)
    .await?)
}

pub async fn user_by_name<C: ConnectionTrait>(
    db: &C,
    username: &str,
) -> Result<Option<user::Model>> {
    Ok(user::Entity::find()
        .filter(user::Column::Username.eq(username))
        .one(db)
        .await?)
}

pub async fn user<C: ConnectionTrait>(db: &C, id: &str) -> Result<Option<user::Model>> {
    Ok(user::Entity::find_by_id(id.to_string()).one(db).await?)
}

pub async fn save_partner<C: ConnectionTrait>(
    db: &C,
    model: partner::ActiveModel,
) -> Result<partner::Model> {
    Ok(model.update(db).await?)
}

/// Encrypts webhook secrets stored in plain text by an earlier version.
pub async fn seal_stored_secrets<C: ConnectionTrait>(db: &C, sealer: &Sealer) -> Result<()> {
    for h in handler::Entity::find().all(db).await? {
        let plain_now = !Sealer::is_sealed(&h.webhook_secret);
        let plain_before = h
            .previous_webhook_secret
            .as_deref()
            .is_some_and(|s| !Sealer::is_sealed(s));
        if !plain_now && !plain_before {
            continue;
        }
        let mut model: handler::ActiveModel = h.clone().into();
        if plain_now {
            model.webhook_secret = Set(sealer.seal(&h.webhook_secret)?);
        }
        if let Some(previous) = h
            .previous_webhook_secret
            .as_deref()
            .filter(|_| plain_before)
        {
            model.previous_webhook_secret = Set(Some(sealer.seal(previous)?));
        }
        model.update(db).await?;
    }
    for p in partner::Entity::find().all(db).await? {
        if let Some(plain) = p
            .webhook_secret
            .as_deref()
            .filter(|s| !Sealer::is_sealed(s))
        {
            let sealed = sealer.seal(plain)?;
            let mut model: partner::ActiveModel = p.into();
            model.webhook_secret = Set(Some(sealed));
            model.update(db).await?;
        }
    }
    Ok(())
}
