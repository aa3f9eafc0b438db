//! Stations, handlers, partners, credentials, staff, complaints and their case files.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Stations {
    Table,
    Code,
    Name,
    ParentCode,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Handlers {
    Table,
    Id,
    Kind,
    Name,
    CreditCode,
    StationCode,
    Delivery,
    WebhookUrl,
    Covers,
    Status,
    WebhookSecret,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Partners {
    Table,
    Id,
    Name,
    RatePerSecond,
    Burst,
    CallbackUrl,
    Status,
    CreatedAt,
}

#[derive(DeriveIden)]
enum ApiClients {
    Table,
    ClientId,
    SecretHash,
    OwnerKind,
    OwnerId,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
    Username,
    PasswordHash,
    Role,
    StationCode,
    CreatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum Complaints {
    Table,
    Id,
    PartnerId,
    ExternalRef,
    Channel,
    ConsumerName,
    ConsumerPhone,
    MerchantCreditCode,
    MerchantName,
    Category,
    Problem,
    Description,
    Demand,
    AmountCents,
    OccurredAt,
    DispatchedAt,
    ReceivedAt,
    Status,
    HandlerId,
    StationCode,
    Consents,
    Deadlines,
    EscalationReason,
    EscalatedAt,
    AssigneeId,
    PhoneDisclosedAt,
    InitialFeedbackAt,
    Outcome,
    Version,
    EventCount,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Events {
    Table,
    Id,
    ComplaintId,
    Seq,
    At,
    ActorKind,
    ActorId,
    Kind,
    FromStatus,
    ToStatus,
    Payload,
}

#[derive(DeriveIden)]
enum Proposals {
    Table,
    Id,
    ComplaintId,
    Remedy,
    AmountCents,
    Note,
    Status,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Extensions {
    Table,
    Id,
    ComplaintId,
    WorkingDays,
    Reason,
    Status,
    RequestedAt,
    DecidedAt,
    DecidedBy,
}

#[derive(DeriveIden)]
enum IdempotencyKeys {
    Table,
    PartnerId,
    Key,
    RequestHash,
    ResponseStatus,
    ResponseBody,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Settings {
    Table,
    Key,
    Value,
}

fn ts<T: IntoIden>(col: T) -> ColumnDef {
    timestamp_with_time_zone(col)
}

fn ts_null<T: IntoIden>(col: T) -> ColumnDef {
    timestamp_with_time_zone_null(col)
}

fn index(name: &str, cols: &[Complaints]) -> IndexCreateStatement {
    crate::index_on(name, Complaints::Table, cols)
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(Stations::Table)
                .col(string(Stations::Code).primary_key())
                .col(string(Stations::Name))
                .col(string_null(Stations::ParentCode))
                .col(ts(Stations::CreatedAt))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(Handlers::Table)
                .col(string(Handlers::Id).primary_key())
                .col(string(Handlers::Kind))
                .col(string(Handlers::Name))
                .col(string_null(Handlers::CreditCode))
                .col(string(Handlers::StationCode))
                .col(string(Handlers::Delivery))
                .col(string_null(Handlers::WebhookUrl))
                .col(json(Handlers::Covers))
                .col(string(Handlers::Status))
                .col(string(Handlers::WebhookSecret))
                .col(ts(Handlers::CreatedAt))
                .col(ts(Handlers::UpdatedAt))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("handlers_credit_code")
                .table(Handlers::Table)
                .col(Handlers::CreditCode)
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(Partners::Table)
                .col(string(Partners::Id).primary_key())
                .col(string(Partners::Name))
                .col(integer(Partners::RatePerSecond))
                .col(integer(Partners::Burst))
                .col(string_null(Partners::CallbackUrl))
                .col(string(Partners::Status))
                .col(ts(Partners::CreatedAt))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(ApiClients::Table)
                .col(string(ApiClients::ClientId).primary_key())
                .col(string(ApiClients::SecretHash))
                .col(string(ApiClients::OwnerKind))
                .col(string(ApiClients::OwnerId))
                .col(ts(ApiClients::CreatedAt))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(Users::Table)
                .col(string(Users::Id).primary_key())
                .col(string_uniq(Users::Username))
                .col(string(Users::PasswordHash))
                .col(string(Users::Role))
                .col(string_null(Users::StationCode))
                .col(ts(Users::CreatedAt))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(Complaints::Table)
                .col(string(Complaints::Id).primary_key())
                .col(string(Complaints::PartnerId))
                .col(string(Complaints::ExternalRef))
                .col(string(Complaints::Channel))
                .col(string(Complaints::ConsumerName))
                .col(string(Complaints::ConsumerPhone))
                .col(string(Complaints::MerchantCreditCode))
                .col(string(Complaints::MerchantName))
                .col(string(Complaints::Category))
                .col(string(Complaints::Problem))
                .col(text(Complaints::Description))
                .col(text(Complaints::Demand))
                .col(big_integer(Complaints::AmountCents))
                .col(ts(Complaints::OccurredAt))
                .col(ts(Complaints::DispatchedAt))
                .col(ts_null(Complaints::ReceivedAt))
                .col(string(Complaints::Status))
                .col(string_null(Complaints::HandlerId))
                .col(string(Complaints::StationCode))
                .col(json(Complaints::Consents))
                .col(json(Complaints::Deadlines))
                .col(string_null(Complaints::EscalationReason))
                .col(ts_null(Complaints::EscalatedAt))
                .col(string_null(Complaints::AssigneeId))
                .col(ts_null(Complaints::PhoneDisclosedAt))
                .col(ts_null(Complaints::InitialFeedbackAt))
                .col(json_null(Complaints::Outcome))
                .col(integer(Complaints::Version))
                .col(integer(Complaints::EventCount))
                .col(ts(Complaints::CreatedAt))
                .col(ts(Complaints::UpdatedAt))
                .to_owned(),
        )
        .await?;
        use Complaints as C;
        let mut unique_ref = index(
            "complaints_partner_external_ref",
            &[C::PartnerId, C::ExternalRef],
        );
        m.create_index(unique_ref.unique().to_owned()).await?;
        m.create_index(index("complaints_handler", &[C::HandlerId, C::Id]))
            .await?;
        m.create_index(index(
            "complaints_station_status",
            &[C::StationCode, C::Status],
        ))
        .await?;
        m.create_index(index("complaints_partner", &[C::PartnerId, C::Id]))
            .await?;
        m.create_table(
            Table::create()
                .table(Events::Table)
                .col(big_pk_auto(Events::Id))
                .col(string(Events::ComplaintId))
                .col(integer(Events::Seq))
                .col(ts(Events::At))
                .col(string(Events::ActorKind))
                .col(string_null(Events::ActorId))
                .col(string(Events::Kind))
                .col(string_null(Events::FromStatus))
                .col(string_null(Events::ToStatus))
                .col(json(Events::Payload))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("events_complaint_seq")
                .table(Events::Table)
                .col(Events::ComplaintId)
                .col(Events::Seq)
                .unique()
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(Proposals::Table)
                .col(string(Proposals::Id).primary_key())
                .col(string(Proposals::ComplaintId))
                .col(string(Proposals::Remedy))
                .col(big_integer_null(Proposals::AmountCents))
                .col(text_null(Proposals::Note))
                .col(string(Proposals::Status))
                .col(ts(Proposals::CreatedAt))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("proposals_complaint")
                .table(Proposals::Table)
                .col(Proposals::ComplaintId)
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(Extensions::Table)
                .col(string(Extensions::Id).primary_key())
                .col(string_uniq(Extensions::ComplaintId))
                .col(integer(Extensions::WorkingDays))
                .col(text(Extensions::Reason))
                .col(string(Extensions::Status))
                .col(ts(Extensions::RequestedAt))
                .col(ts_null(Extensions::DecidedAt))
                .col(string_null(Extensions::DecidedBy))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(IdempotencyKeys::Table)
                .col(string(IdempotencyKeys::PartnerId))
                .col(string(IdempotencyKeys::Key))
                .col(string(IdempotencyKeys::RequestHash))
                .col(integer_null(IdempotencyKeys::ResponseStatus))
                .col(text_null(IdempotencyKeys::ResponseBody))
                .col(ts(IdempotencyKeys::CreatedAt))
                .primary_key(
                    Index::create()
                        .col(IdempotencyKeys::PartnerId)
                        .col(IdempotencyKeys::Key),
                )
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(Settings::Table)
                .col(string(Settings::Key).primary_key())
                .col(text(Settings::Value))
                .to_owned(),
        )
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            Settings::Table.into_iden(),
            IdempotencyKeys::Table.into_iden(),
            Extensions::Table.into_iden(),
            Proposals::Table.into_iden(),
            Events::Table.into_iden(),
            Complaints::Table.into_iden(),
            Users::Table.into_iden(),
            ApiClients::Table.into_iden(),
            Partners::Table.into_iden(),
            Handlers::Table.into_iden(),
            Stations::Table.into_iden(),
        ] {
            m.drop_table(Table::drop().table(table).to_owned()).await?;
        }
        Ok(())
    }
}
