//! Pure rules of the gateway: no web framework, no database, no HTTP client.

pub mod calendar;
pub mod case_file;
pub mod credit_code;
pub mod deadlines;
pub mod lifecycle;
pub mod password;
pub mod phone;
pub mod report;
pub mod routing;
pub mod vocabulary;
