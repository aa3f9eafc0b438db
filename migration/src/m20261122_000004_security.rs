//! The case file as a hash chain (each event carries its predecessor's hash,
//! the complaint the latest one), and the admin audit log.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Events {
    Table,
    PrevHash,
    Hash,
}

#[derive(DeriveIden)]
enum Complaints {
    Table,
    EventHash,
}

#[derive(DeriveIden)]
enum AuditLog {
    Table,
    Id,
    At,
    ActorKind,
    ActorId,
    Action,
    TargetKind,
    TargetId,
    Detail,
}

const AUDIT_TARGET_INDEX: &str = "idx_audit_log_target";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for col in [string_null(Events::PrevHash), string_null(Events::Hash)] {
            m.alter_table(
                Table::alter()
                    .table(Events::Table)
                    .add_column(col)
                    .to_owned(),
            )
            .await?;
        }
        m.alter_table(
            Table::alter()
                .table(Complaints::Table)
                .add_column(string_null(Complaints::EventHash))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(AuditLog::Table)
                .col(big_pk_auto(AuditLog::Id))
                .col(timestamp_with_time_zone(AuditLog::At))
                .col(string(AuditLog::ActorKind))
                .col(string_null(AuditLog::ActorId))
                .col(string(AuditLog::Action))
                .col(string(AuditLog::TargetKind))
                .col(string(AuditLog::TargetId))
                .col(json(AuditLog::Detail))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name(AUDIT_TARGET_INDEX)
                .table(AuditLog::Table)
                .col(AuditLog::TargetKind)
                .col(AuditLog::TargetId)
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(AuditLog::Table).to_owned())
            .await?;
        m.alter_table(
            Table::alter()
                .table(Complaints::Table)
                .drop_column(Complaints::EventHash)
                .to_owned(),
        )
        .await?;
        for col in [Events::PrevHash, Events::Hash] {
            m.alter_table(
                Table::alter()
                    .table(Events::Table)
                    .drop_column(col)
                    .to_owned(),
            )
            .await?;
        }
        Ok(())
    }
}
