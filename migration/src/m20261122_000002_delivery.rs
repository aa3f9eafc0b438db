//! The transactional outbox, delivery attempts and per-endpoint breaker state.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Outbox {
    Table,
    Id,
    WebhookId,
    ComplaintId,
    TargetKind,
    TargetId,
    EventType,
    Payload,
    Status,
    Attempts,
    NextAttemptAt,
    LockedUntil,
    LastError,
    CreatedAt,
    DeliveredAt,
}

#[derive(DeriveIden)]
enum DeliveryAttempts {
    Table,
    Id,
    OutboxId,
    ComplaintId,
    TargetKind,
    TargetId,
    AttemptedAt,
    StatusCode,
    LatencyMs,
    Error,
}

#[derive(DeriveIden)]
enum Partners {
    Table,
    WebhookSecret,
}

#[derive(DeriveIden)]
enum Handlers {
    Table,
    PreviousWebhookSecret,
    PreviousSecretUntil,
    DeliveryRatePerSecond,
}

#[derive(DeriveIden)]
enum Endpoints {
    Table,
    Target,
    State,
    ConsecutiveFailures,
    PausedUntil,
    UpdatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(Outbox::Table)
                .col(big_pk_auto(Outbox::Id))
                .col(string_uniq(Outbox::WebhookId))
                .col(string(Outbox::ComplaintId))
                .col(string(Outbox::TargetKind))
                .col(string(Outbox::TargetId))
                .col(string(Outbox::EventType))
                .col(json(Outbox::Payload))
                .col(string(Outbox::Status))
                .col(integer(Outbox::Attempts))
                .col(timestamp_with_time_zone(Outbox::NextAttemptAt))
                .col(timestamp_with_time_zone_null(Outbox::LockedUntil))
                .col(text_null(Outbox::LastError))
                .col(timestamp_with_time_zone(Outbox::CreatedAt))
                .col(timestamp_with_time_zone_null(Outbox::DeliveredAt))
                .to_owned(),
        )
        .await?;
        // The claim query: due pending rows, oldest first.
        m.create_index(
            Index::create()
                .name("outbox_due")
                .table(Outbox::Table)
                .col(Outbox::Status)
                .col(Outbox::NextAttemptAt)
                .to_owned(),
        )
        .await?;
        // The in-order check: earlier pending rows of the same complaint and target.
        m.create_index(
            Index::create()
                .name("outbox_order")
                .table(Outbox::Table)
                .col(Outbox::ComplaintId)
                .col(Outbox::TargetId)
                .col(Outbox::Id)
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(DeliveryAttempts::Table)
                .col(big_pk_auto(DeliveryAttempts::Id))
                .col(big_integer(DeliveryAttempts::OutboxId))
                .col(string(DeliveryAttempts::ComplaintId))
                .col(string(DeliveryAttempts::TargetKind))
                .col(string(DeliveryAttempts::TargetId))
                .col(timestamp_with_time_zone(DeliveryAttempts::AttemptedAt))
                .col(integer_null(DeliveryAttempts::StatusCode))
                .col(big_integer(DeliveryAttempts::LatencyMs))
                .col(text_null(DeliveryAttempts::Error))
                .to_owned(),
        )
        .await?;
        for (name, col) in [
            ("delivery_attempts_complaint", DeliveryAttempts::ComplaintId),
            ("delivery_attempts_target", DeliveryAttempts::TargetId),
        ] {
            m.create_index(
                Index::create()
                    .name(name)
                    .table(DeliveryAttempts::Table)
                    .col(col)
                    .to_owned(),
            )
            .await?;
        }
        m.create_table(
            Table::create()
                .table(Endpoints::Table)
                .col(string(Endpoints::Target).primary_key())
                .col(string(Endpoints::State))
                .col(integer(Endpoints::ConsecutiveFailures))
                .col(timestamp_with_time_zone_null(Endpoints::PausedUntil))
                .col(timestamp_with_time_zone(Endpoints::UpdatedAt))
                .to_owned(),
        )
        .await?;
        // Partners with a callback URL get signed status changes too.
        m.alter_table(
            Table::alter()
                .table(Partners::Table)
                .add_column(string_null(Partners::WebhookSecret))
                .to_owned(),
        )
        .await?;
        // After a rotation the old secret keeps signing for an overlap.
        for col in [
            string_null(Handlers::PreviousWebhookSecret),
            timestamp_with_time_zone_null(Handlers::PreviousSecretUntil),
            // Per-handler delivery cap; the configured default when null.
            integer_null(Handlers::DeliveryRatePerSecond),
        ] {
            m.alter_table(
                Table::alter()
                    .table(Handlers::Table)
                    .add_column(col)
                    .to_owned(),
            )
            .await?;
        }
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for col in [
            Handlers::PreviousWebhookSecret,
            Handlers::PreviousSecretUntil,
        ] {
            m.alter_table(
                Table::alter()
                    .table(Handlers::Table)
                    .drop_column(col)
                    .to_owned(),
            )
            .await?;
        }
        m.alter_table(
            Table::alter()
                .table(Partners::Table)
                .drop_column(Partners::WebhookSecret)
                .to_owned(),
        )
        .await?;
        for table in [
            Endpoints::Table.into_iden(),
            DeliveryAttempts::Table.into_iden(),
            Outbox::Table.into_iden(),
        ] {
            m.drop_table(Table::drop().table(table).to_owned()).await?;
        }
        Ok(())
    }
}
