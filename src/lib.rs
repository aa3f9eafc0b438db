//! odr-gateway: routes consumer complaints from partner platforms to enrolled
//! ODR handlers, tracks them, and escalates to supervision stations.

pub mod api;
pub mod app;
pub mod auth;
pub mod clock;
pub mod config;
pub mod console;
pub mod delivery;
pub mod demo;
pub mod domain;
pub mod error;
pub mod jobs;
pub mod metrics;
pub mod state;
pub mod store;
pub mod telemetry;
pub mod views;

/// The gateway makes many short-lived allocations per request (JSON, SQL,
/// HTTP buffers); under load glibc's malloc took about a seventh of its CPU.
/// Set here so the server, its tests and its benchmarks run on the same one.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
