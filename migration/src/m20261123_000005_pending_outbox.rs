//! Outbox indexes over pending rows only. The claim query and the in-order
//! check look at pending rows, a small set beside the delivered history; a
//! partial index keeps them small, lets the claim's plan be reused instead of
//! planned on every poll, and a settled row leaves them instead of adding to
//! them. Listing a complaint's events keeps a full index.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Outbox {
    Table,
    Id,
    ComplaintId,
    TargetId,
    Status,
    NextAttemptAt,
}

const PENDING: &str = "outbox_pending";
const PENDING_ORDER: &str = "outbox_pending_order";
const BY_COMPLAINT: &str = "outbox_complaint";

fn pending() -> SimpleExpr {
    Expr::col(Outbox::Status).eq("pending")
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for name in ["outbox_due", "outbox_order"] {
            m.drop_index(Index::drop().name(name).table(Outbox::Table).to_owned())
                .await?;
        }
        // The claim: pending rows in id order (and the outbox gauges).
        m.create_index(
            Index::create()
                .name(PENDING)
                .table(Outbox::Table)
                .col(Outbox::Id)
                .and_where(pending())
                .to_owned(),
        )
        .await?;
        // The in-order check: an earlier pending row of the same complaint and target.
        m.create_index(
            Index::create()
                .name(PENDING_ORDER)
                .table(Outbox::Table)
                .col(Outbox::ComplaintId)
                .col(Outbox::TargetId)
                .col(Outbox::Id)
                .and_where(pending())
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name(BY_COMPLAINT)
                .table(Outbox::Table)
                .col(Outbox::ComplaintId)
                .col(Outbox::Id)
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for name in [PENDING, PENDING_ORDER, BY_COMPLAINT] {
            m.drop_index(Index::drop().name(name).table(Outbox::Table).to_owned())
                .await?;
        }
        m.create_index(
            Index::create()
                .name("outbox_due")
                .table(Outbox::Table)
                .col(Outbox::Status)
                .col(Outbox::NextAttemptAt)
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("outbox_order")
                .table(Outbox::Table)
                .col(Outbox::ComplaintId)
                .col(Outbox::TargetId)
                .col(Outbox::Id)
                .to_owned(),
        )
        .await
    }
}
