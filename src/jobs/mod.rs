//! Background jobs beside the HTTP server (the delivery workers live in `delivery/`).

pub mod deadlines;
