use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "handlers")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub kind: String,
    pub name: String,
    pub credit_code: Option<String>,
    pub station_code: String,
    pub delivery: String,
    pub webhook_url: Option<String>,
    /// Credit codes a rights station covers, as a JSON array of strings.
    pub covers: Json,
    pub status: String,
    pub webhook_secret: String,
    /// The secret before the last rotation, still signing until `previous_secret_until`.
    pub previous_webhook_secret: Option<String>,
    pub previous_secret_until: Option<DateTimeUtc>,
    /// Deliveries per second to this handler; the configured default when `None`.
    pub delivery_rate_per_second: Option<i32>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
