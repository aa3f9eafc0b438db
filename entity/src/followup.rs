use sea_orm::entity::prelude::*;

/// A follow-up visit (回访) of a complaint drawn into a month's sample.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "followups")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub complaint_id: String,
    /// The month whose sample it belongs to (`2026-10`).
    pub month: String,
    /// The station whose staff record the answer (the case's station).
    pub station_code: String,
    /// `pending` or `answered`.
    pub status: String,
    pub satisfaction: Option<String>,
    #[sea_orm(column_type = "Text", nullable)]
    pub note: Option<String>,
    pub answered_at: Option<DateTimeUtc>,
    /// The staff member who recorded the answer.
    pub answered_by: Option<String>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
