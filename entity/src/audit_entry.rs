use sea_orm::entity::prelude::*;

/// One administrative change: who did what to which record.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "audit_log")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub at: DateTimeUtc,
    /// `admin`, `staff`, or `cli` for the command line.
    pub actor_kind: String,
    pub actor_id: Option<String>,
    /// `handler.enrolled`, `handler.suspended`, `partner.quota_changed`, …
    pub action: String,
    pub target_kind: String,
    pub target_id: String,
    pub detail: Json,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
