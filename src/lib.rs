//! odr-gateway: routes consumer complaints from partner platforms to enrolled
//! ODR handlers, tracks them, and escalates to supervision stations.

pub mod api;
pub mod app;
pub mod auth;
pub mod clock;
pub mod config;
pub mod delivery;
pub mod demo;
pub mod domain;
pub mod error;
pub mod jobs;
pub mod metrics;
pub mod store;
pub mod telemetry;
pub mod views;
