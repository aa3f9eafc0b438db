use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "endpoints")]
pub struct Model {
    /// `handler:<id>` or `partner:<id>`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub target: String,
    /// `closed` (healthy), `open` (paused), `disabled` (answered 410).
    pub state: String,
    pub consecutive_failures: i32,
    pub paused_until: Option<DateTimeUtc>,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
