//! Forwarding: outbox rows become signed webhook deliveries, retried on a
//! schedule, in order per complaint.

pub mod schedule;
pub mod signature;
pub mod target;
