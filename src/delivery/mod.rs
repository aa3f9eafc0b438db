//! Forwarding: outbox rows become signed webhook deliveries, retried on a
//! schedule, in order per complaint, with a circuit breaker per endpoint.

pub mod breaker;
pub mod schedule;
pub mod signature;
pub mod target;
pub mod worker;

pub use worker::Deliverer;

/// Installs the TLS crypto provider outbound HTTP clients use; idempotent.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}
