//! Database entities of the gateway. Only the gateway's `store` module uses them.

pub mod api_client;
pub mod audit_entry;
pub mod complaint;
pub mod delivery_attempt;
pub mod endpoint;
pub mod event;
pub mod extension;
pub mod followup;
pub mod handler;
pub mod idempotency_key;
pub mod outbox;
pub mod partner;
pub mod proposal;
pub mod setting;
pub mod station;
pub mod user;
