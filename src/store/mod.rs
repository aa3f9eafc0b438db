//! Queries and transactions over the `entity` crate. Nothing else touches sea-orm.

pub mod accounts;
pub mod audit;
pub mod bulk;
pub mod complaints;
pub mod deadlines;
pub mod deliveries;
pub mod directory;
pub mod events;
pub mod facts;
pub mod followups;
pub mod handlers;
pub mod idempotency;
pub mod intake_writer;
pub mod negotiation;
pub mod outbox;
pub mod partners;
pub mod reports;
pub mod routing_reader;
pub mod scope;
pub mod settings;
pub mod station;
pub mod timekeeping;

use std::time::Duration;

use migration::{Migrator, MigratorTrait};
use sea_orm::{ConnectOptions, Database, DatabaseConnection, DbErr};

pub use sea_orm::DatabaseConnection as Db;

/// The rows the store answers with. Outside the store they are plain data to
/// read and show; every change to one goes through a store function.
pub use entity::complaint::Model as Complaint;
pub use entity::handler::Model as Handler;
pub use entity::outbox::Model as OutboxRow;
pub use entity::partner::Model as Partner;
pub use entity::user::Model as User;

/// Opens the pool. SQLite gets one connection: it has one writer anyway, and a
/// single connection never meets "database is locked". Its settings are made
/// on every connection the pool opens, so a replaced connection keeps them.
pub async fn connect(url: &str) -> Result<DatabaseConnection, DbErr> {
    use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
    let mut options = ConnectOptions::new(url.to_string());
    options
        .connect_timeout(Duration::from_secs(10))
        .acquire_timeout(Duration::from_secs(30))
        .sqlx_logging(false);
    if url.starts_with("sqlite:") {
        // FULL: a commit is on disk before the request that made it is
        // answered, as with PostgreSQL's defaults; NORMAL in WAL mode could
        // lose the last accepted complaints to a power cut.
        options
            .max_connections(1)
            .min_connections(1)
            .map_sqlx_sqlite_opts(|o| {
                o.journal_mode(SqliteJournalMode::Wal)
                    .synchronous(SqliteSynchronous::Full)
                    .foreign_keys(true)
            });
    } else {
        options.max_connections(20);
    }
    Database::connect(options).await
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

#[cfg(test)]
mod tests {
    use sea_orm::{ConnectionTrait, Statement};

    async fn pragma(db: &super::Db, name: &str) -> String {
        let row = db
            .query_one_raw(Statement::from_string(
                db.get_database_backend(),
                format!("PRAGMA {name}"),
            ))
            .await
            .expect("pragma")
            .expect("a row");
        row.try_get_by_index::<i64>(0)
            .map(|v| v.to_string())
            .or_else(|_| row.try_get_by_index::<String>(0))
            .expect("pragma value")
    }

    #[tokio::test]
    async fn sqlite_commits_reach_the_disk_before_they_are_answered() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("gw.db").display());
        let db = super::connect(&url).await.unwrap();
        assert_eq!(pragma(&db, "journal_mode").await, "wal");
        // 2 = FULL: every commit is synced, not only checkpoints.
        assert_eq!(pragma(&db, "synchronous").await, "2");
        assert_eq!(pragma(&db, "foreign_keys").await, "1");
    }
}
