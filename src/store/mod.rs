//! Queries and transactions over the `entity` crate. Nothing else touches sea-orm.

pub mod audit;
pub mod complaints;
pub mod deadlines;
pub mod deliveries;
pub mod directory;
pub mod events;
pub mod idempotency;
pub mod intake_writer;
pub mod negotiation;
pub mod outbox;
pub mod routing_reader;
pub mod scope;
pub mod settings;
pub mod station;

use std::time::Duration;

use migration::{Migrator, MigratorTrait};
use sea_orm::{ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbErr};

pub use sea_orm::DatabaseConnection as Db;

/// Opens the pool. SQLite gets one connection: it has one writer anyway, and a
/// single connection never meets "database is locked".
pub async fn connect(url: &str) -> Result<DatabaseConnection, DbErr> {
    let mut options = ConnectOptions::new(url.to_string());
    options
        .connect_timeout(Duration::from_secs(10))
        .acquire_timeout(Duration::from_secs(30))
        .sqlx_logging(false);
    if url.starts_with("sqlite:") {
        options.max_connections(1).min_connections(1);
    } else {
        options.max_connections(20);
    }
    let db = Database::connect(options).await?;
    if url.starts_with("sqlite:") {
        db.execute_unprepared(
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;",
        )
        .await?;
    }
    Ok(db)
}

pub async fn migrate(db: &DatabaseConnection) -> Result<(), DbErr> {
    Migrator::up(db, None).await
}

/// A new sortable id (UUIDv7): ids double as cursor positions.
pub fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

/// The database answers a trivial query.
pub async fn ping(db: &DatabaseConnection) -> bool {
    db.ping().await.is_ok()
}
