//! Schema migrations. Written with sea-orm-migration so the same schema runs on
//! SQLite (the embedded default) and PostgreSQL.

pub use sea_orm_migration::prelude::*;

mod m20261122_000001_core;
mod m20261122_000002_delivery;
mod m20261122_000003_deadlines;
mod m20261122_000004_security;
mod m20261123_000005_pending_outbox;
mod m20261202_000006_reports;

/// An index named `name` on `table`'s `cols`, in order.
fn index_on<T: Iden + Copy + 'static>(name: &str, table: T, cols: &[T]) -> IndexCreateStatement {
    let mut stmt = Index::create().name(name).table(table).to_owned();
    for col in cols {
        stmt.col(*col);
    }
    stmt
}

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261122_000001_core::Migration),
            Box::new(m20261122_000002_delivery::Migration),
            Box::new(m20261122_000003_deadlines::Migration),
            Box::new(m20261122_000004_security::Migration),
            Box::new(m20261123_000005_pending_outbox::Migration),
            Box::new(m20261202_000006_reports::Migration),
        ]
    }
}
