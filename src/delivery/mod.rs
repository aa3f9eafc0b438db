//! Forwarding: outbox rows become signed webhook deliveries, retried on a
//! schedule, in order per complaint, with a circuit breaker per endpoint.

pub mod breaker;
pub mod schedule;
pub mod signature;
pub mod target;
pub mod worker;

pub use worker::Deliverer;
