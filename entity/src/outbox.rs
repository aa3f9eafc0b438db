use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "outbox")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// Stable across retries: the Standard Webhooks `webhook-id`.
    pub webhook_id: String,
    pub complaint_id: String,
    /// `handler` or `partner`.
    pub target_kind: String,
    pub target_id: String,
    pub event_type: String,
    /// The exact body sent, rendered when the event happened.
    pub payload: Json,
    /// `pending`, `delivered`, `dead` (retries exhausted) or `skipped`.
    pub status: String,
    pub attempts: i32,
    /// Real time, not business time: retries run while the business clock stands.
    pub next_attempt_at: DateTimeUtc,
    /// A worker holds the row until then; a crashed worker's claim expires.
    pub locked_until: Option<DateTimeUtc>,
    pub last_error: Option<String>,
    pub created_at: DateTimeUtc,
    pub delivered_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
