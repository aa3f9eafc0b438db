use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "complaints")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub partner_id: String,
    pub external_ref: String,
    pub channel: String,
    pub consumer_name: String,
    pub consumer_phone: String,
    pub merchant_credit_code: String,
    pub merchant_name: String,
    pub category: String,
    pub problem: String,
    #[sea_orm(column_type = "Text")]
    pub description: String,
    #[sea_orm(column_type = "Text")]
    pub demand: String,
    pub amount_cents: i64,
    pub occurred_at: DateTimeUtc,
    pub dispatched_at: DateTimeUtc,
    pub received_at: Option<DateTimeUtc>,
    pub status: String,
    pub handler_id: Option<String>,
    pub station_code: String,
    pub consents: Json,
    pub deadlines: Json,
    pub escalation_reason: Option<String>,
    /// When the case reached the station queue (first escalation).
    pub escalated_at: Option<DateTimeUtc>,
    /// Staff member working the case at the station.
    pub assignee_id: Option<String>,
    /// When the handler was first shown the consumer's phone number.
    pub phone_disclosed_at: Option<DateTimeUtc>,
    pub initial_feedback_at: Option<DateTimeUtc>,
    pub outcome: Option<Json>,
    /// Optimistic-concurrency counter: every state change bumps it.
    pub version: i32,
    /// Events in the case file so far: the next event's sequence number minus one.
    pub event_count: i32,
    /// The hash of the latest event in the case file (the chain's head).
    pub event_hash: Option<String>,
    /// When the deadline job must next look at the case (indexed).
    pub next_action_at: Option<DateTimeUtc>,
    /// A station clock (decision, initial feedback, mediation) ran out: 超期.
    pub station_overdue: bool,
    /// Some open deadline was counted on a year whose holidays are not known.
    pub deadlines_provisional: bool,
    // Facts the monthly report counts (SPEC §8), kept as the case moves.
    /// Received on a later Beijing calendar day than dispatched (当日接收延迟).
    pub receive_delayed: bool,
    /// Acknowledged before its deadline (true), or the deadline passed first (false).
    pub ack_on_time: Option<bool>,
    /// When the handler's settlement was reached (cleared if the consumer objects).
    pub settled_at: Option<DateTimeUtc>,
    pub settled_cents: Option<i64>,
    /// Working time from receipt to settlement, in seconds.
    pub settle_working_seconds: Option<i64>,
    /// The station's decision: `accepted` or `not_accepted` (cleared on reopening).
    pub decision: Option<String>,
    pub decision_on_time: Option<bool>,
    /// When the station closed the case (also by not accepting it).
    pub closed_at: Option<DateTimeUtc>,
    pub close_result: Option<String>,
    pub closed_cents: Option<i64>,
    /// Completed within its deadline (decision clock when not accepted, else mediation clock).
    pub completed_on_time: Option<bool>,
    pub decision_overdue: bool,
    pub feedback_overdue: bool,
    pub closing_overdue: bool,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
