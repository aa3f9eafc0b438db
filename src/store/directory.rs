//! Stations, handlers, partners, staff and their credentials: finding them,
//! and making the station tree. Enrolling and changing the others are the use
//! cases of `handlers`, `partners` and `accounts`.

use chrono::{DateTime, Utc};
use entity::{api_client, handler, partner, station, user};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, TransactionTrait,
};
use serde_json::json;

use super::Db;
use super::audit::{self, Change};
use super::events::Actor;
use crate::auth::secrets::{self, Sealer};
use crate::domain::routing::Candidate;
use crate::domain::vocabulary::{HandlerKind, HandlerStatus};
use crate::error::{Error, Result};

// ---- stations ----

pub struct NewStation {
    pub code: String,
    pub name: String,
    /// The station above it; `None` for a root.
    pub parent_code: Option<String>,
}

/// The one way a station is made, from the API, the command line and the
/// demo: under an existing parent, with its audit entry, in one transaction.
/// A code already taken is a conflict.
pub async fn create_station(
    db: &Db,
    actor: Actor,
    new: NewStation,
    now: DateTime<Utc>,
) -> Result<station::Model> {
    let txn = db.begin().await?;
    if let Some(parent) = &new.parent_code
        && !station_exists(&txn, parent).await?
    {
        return Err(Error::field("parent_code", "no station has this code"));
    }
    if station_exists(&txn, &new.code).await? {
        return Err(Error::Conflict {
            detail: format!("station {} already exists", new.code),
            extra: json!({ "existing_code": new.code }),
        });
    }
    let station = station::ActiveModel {
        code: Set(new.code),
        name: Set(new.name),
        parent_code: Set(new.parent_code),
        created_at: Set(now),
    }
    .insert(&txn)
    .await?;
    let change = Change {
        action: "station.created",
        target_kind: "station",
        target_id: &station.code,
        detail: json!({ "name": station.name, "parent_code": station.parent_code }),
    };
    audit::record(&txn, &actor, change).await?;
    txn.commit().await?;
    Ok(station)
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

pub(super) async fn issue_credentials<C: ConnectionTrait>(
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
    let parse_err =
        |what: &str| Error::unexpected(format!("stored handler {} has a bad {what}", h.id));
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
