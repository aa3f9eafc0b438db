//! Deadlines the job can find with an index: when a case next needs the
//! deadline job, whether a station clock ran out, whether any deadline was
//! counted on a guessed calendar year; and the staff's note on an extension.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Complaints {
    Table,
    NextActionAt,
    StationOverdue,
    DeadlinesProvisional,
}

#[derive(DeriveIden)]
enum Extensions {
    Table,
    DecisionNote,
}

const NEXT_ACTION_INDEX: &str = "idx_complaints_next_action_at";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for col in [
            timestamp_with_time_zone_null(Complaints::NextActionAt),
            boolean(Complaints::StationOverdue)
                .default(false)
                .to_owned(),
            boolean(Complaints::DeadlinesProvisional)
                .default(false)
                .to_owned(),
        ] {
            m.alter_table(
                Table::alter()
                    .table(Complaints::Table)
                    .add_column(col)
                    .to_owned(),
            )
            .await?;
        }
        m.create_index(
            Index::create()
                .name(NEXT_ACTION_INDEX)
                .table(Complaints::Table)
                .col(Complaints::NextActionAt)
                .to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table(Extensions::Table)
                .add_column(text_null(Extensions::DecisionNote))
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_index(Index::drop().name(NEXT_ACTION_INDEX).to_owned())
            .await?;
        for col in [
            Complaints::NextActionAt,
            Complaints::StationOverdue,
            Complaints::DeadlinesProvisional,
        ] {
            m.alter_table(
                Table::alter()
                    .table(Complaints::Table)
                    .drop_column(col)
                    .to_owned(),
            )
            .await?;
        }
        m.alter_table(
            Table::alter()
                .table(Extensions::Table)
                .drop_column(Extensions::DecisionNote)
                .to_owned(),
        )
        .await
    }
}
