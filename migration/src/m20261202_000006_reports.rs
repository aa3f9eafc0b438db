//! The supervisors' numbers (SPEC §8): facts about each case kept in columns
//! as its transitions happen, so the monthly report is a handful of SQL
//! aggregates over indexed columns; and the follow-ups (回访) drawn each month.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum Complaints {
    Table,
    StationCode,
    CreatedAt,
    EscalatedAt,
    ReceivedAt,
    ReceiveDelayed,
    AckOnTime,
    SettledAt,
    SettledCents,
    SettleWorkingSeconds,
    Decision,
    DecisionOnTime,
    ClosedAt,
    CloseResult,
    ClosedCents,
    CompletedOnTime,
    DecisionOverdue,
    FeedbackOverdue,
    ClosingOverdue,
}

#[derive(DeriveIden)]
enum Followups {
    Table,
    Id,
    ComplaintId,
    Month,
    StationCode,
    Status,
    Satisfaction,
    Note,
    AnsweredAt,
    AnsweredBy,
    CreatedAt,
}

const STATION_INTAKE: &str = "idx_complaints_station_created";
const STATION_ARRIVAL: &str = "idx_complaints_station_escalated";
const STATION_DELAYS: &str = "idx_complaints_station_receive_delayed";
const CLOSED: &str = "idx_complaints_closed_at";
const SETTLED: &str = "idx_complaints_settled_at";
const FOLLOWUP_CASE: &str = "idx_followups_month_complaint";
const FOLLOWUP_STATION: &str = "idx_followups_station_month";

fn complaints_index(name: &str, cols: &[Complaints]) -> IndexCreateStatement {
    crate::index_on(name, Complaints::Table, cols)
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        use Complaints as C;
        for col in [
            boolean(C::ReceiveDelayed).default(false).to_owned(),
            boolean_null(C::AckOnTime),
            timestamp_with_time_zone_null(C::SettledAt),
            big_integer_null(C::SettledCents),
            big_integer_null(C::SettleWorkingSeconds),
            string_null(C::Decision),
            boolean_null(C::DecisionOnTime),
            timestamp_with_time_zone_null(C::ClosedAt),
            string_null(C::CloseResult),
            big_integer_null(C::ClosedCents),
            boolean_null(C::CompletedOnTime),
            boolean(C::DecisionOverdue).default(false).to_owned(),
            boolean(C::FeedbackOverdue).default(false).to_owned(),
            boolean(C::ClosingOverdue).default(false).to_owned(),
        ] {
            m.alter_table(Table::alter().table(C::Table).add_column(col).to_owned())
                .await?;
        }
        // The handlers' cohort: routed in the month, by station.
        m.create_index(complaints_index(
            STATION_INTAKE,
            &[C::StationCode, C::CreatedAt],
        ))
        .await?;
        // The stations' cohort: reached the queue in the month. Partial indexes
        // hold only the rows that have the fact, so intake pays nothing for them.
        let mut arrival = complaints_index(STATION_ARRIVAL, &[C::StationCode, C::EscalatedAt]);
        arrival.and_where(Expr::col(C::EscalatedAt).is_not_null());
        m.create_index(arrival).await?;
        let mut delays = complaints_index(STATION_DELAYS, &[C::StationCode, C::ReceivedAt]);
        delays.and_where(Expr::col(C::ReceiveDelayed).eq(true));
        m.create_index(delays).await?;
        // The complaints that ended in a month, for its follow-up draw.
        let mut closed = complaints_index(CLOSED, &[C::ClosedAt]);
        closed.and_where(Expr::col(C::ClosedAt).is_not_null());
        m.create_index(closed).await?;
        let mut settled = complaints_index(SETTLED, &[C::SettledAt]);
        settled.and_where(Expr::col(C::SettledAt).is_not_null());
        m.create_index(settled).await?;

        m.create_table(
            Table::create()
                .table(Followups::Table)
                .col(string(Followups::Id).primary_key())
                .col(string(Followups::ComplaintId))
                .col(string(Followups::Month))
                .col(string(Followups::StationCode))
                .col(string(Followups::Status))
                .col(string_null(Followups::Satisfaction))
                .col(text_null(Followups::Note))
                .col(timestamp_with_time_zone_null(Followups::AnsweredAt))
                .col(string_null(Followups::AnsweredBy))
                .col(timestamp_with_time_zone(Followups::CreatedAt))
                .to_owned(),
        )
        .await?;
        // A complaint is drawn at most once for a month, whoever draws.
        m.create_index(
            Index::create()
                .name(FOLLOWUP_CASE)
                .table(Followups::Table)
                .col(Followups::Month)
                .col(Followups::ComplaintId)
                .unique()
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name(FOLLOWUP_STATION)
                .table(Followups::Table)
                .col(Followups::StationCode)
                .col(Followups::Month)
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        use Complaints as C;
        m.drop_table(Table::drop().table(Followups::Table).to_owned())
            .await?;
        for name in [
            STATION_INTAKE,
            STATION_ARRIVAL,
            STATION_DELAYS,
            CLOSED,
            SETTLED,
        ] {
            m.drop_index(Index::drop().name(name).table(C::Table).to_owned())
                .await?;
        }
        for col in [
            C::ReceiveDelayed,
            C::AckOnTime,
            C::SettledAt,
            C::SettledCents,
            C::SettleWorkingSeconds,
            C::Decision,
            C::DecisionOnTime,
            C::ClosedAt,
            C::CloseResult,
            C::ClosedCents,
            C::CompletedOnTime,
            C::DecisionOverdue,
            C::FeedbackOverdue,
            C::ClosingOverdue,
        ] {
            m.alter_table(Table::alter().table(C::Table).drop_column(col).to_owned())
                .await?;
        }
        Ok(())
    }
}
