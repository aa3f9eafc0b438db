//! The crate's one error type, mapped once to RFC 9457 problem+json.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use sea_orm::{DbErr, SqlErr};
use serde::Serialize;
use serde_json::{Value, json};

use crate::domain::lifecycle::Refused;

/// One bad input, named by its JSON path (`consumer.phone`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        FieldError {
            field: field.into(),
            message: message.into(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The body is not what the route takes: a field is missing, of the wrong
    /// type or out of range.
    #[error("the request has invalid fields")]
    Validation(Vec<FieldError>),
    /// The body could not be read at all (malformed JSON, bad form).
    #[error("{0}")]
    Malformed(String),
    #[error("{0}")]
    Unauthorized(&'static str),
    #[error("{0}")]
    Forbidden(&'static str),
    /// Absent, or outside the caller's scope: the two are deliberately the same.
    #[error("no such resource")]
    NotFound,
    #[error("{detail}")]
    Conflict { detail: String, extra: Value },
    #[error("{0}")]
    Transition(#[from] Refused),
    /// The resource changed between reading and writing it.
    #[error("the complaint changed while this request was processed; read it again and retry")]
    Concurrent,
    #[error("the Idempotency-Key was already used with a different request body")]
    IdempotencyMismatch,
    #[error("a request with this Idempotency-Key is still being processed")]
    IdempotencyInFlight,
    #[error("the request body is larger than {0} bytes")]
    PayloadTooLarge(usize),
    #[error("expected a body of type {0}")]
    UnsupportedMediaType(&'static str),
    /// A rate limit refused the request; `policy` names the quota.
    #[error("the {policy} quota is used up; retry after {retry_after} s")]
    QuotaExceeded {
        policy: &'static str,
        retry_after: u64,
    },
    #[error("the request was not answered in time; it may or may not have taken effect")]
    Timeout,
    #[error("the database is unavailable")]
    Unavailable(#[source] DbErr),
    #[error("internal error")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl Error {
    /// The request can succeed when made again: the database was out of reach.
    pub fn is_transient(&self) -> bool {
        matches!(self, Error::Unavailable(_))
    }

    pub fn field(field: impl Into<String>, message: impl Into<String>) -> Self {
        Error::Validation(vec![FieldError::new(field, message)])
    }

    pub fn conflict(detail: impl Into<String>) -> Self {
        Error::Conflict {
            detail: detail.into(),
            extra: Value::Null,
        }
    }

    pub fn internal(err: impl std::error::Error + Send + Sync + 'static) -> Self {
        Error::Internal(Box::new(err))
    }

    /// An internal error that has no cause but the gateway's own state,
    /// described by `why` (logged, never answered).
    pub fn unexpected(why: impl Into<String>) -> Self {
        Error::internal(std::io::Error::other(why.into()))
    }

    fn kind(&self) -> (&'static str, &'static str) {
        match self {
            Error::Validation(_) => ("validation", "Invalid request"),
            Error::Malformed(_) => ("malformed-request", "Malformed request"),
            Error::Unauthorized(_) => ("unauthorized", "Unauthorized"),
            Error::Forbidden(_) => ("forbidden", "Forbidden"),
            Error::NotFound => ("not-found", "Not found"),
            Error::Conflict { .. } => ("conflict", "Conflict"),
            Error::Transition(_) => ("transition-not-allowed", "Transition not allowed"),
            Error::Concurrent => ("conflict", "Conflict"),
            Error::IdempotencyMismatch => ("idempotency-key-reused", "Idempotency key reused"),
            Error::IdempotencyInFlight => ("idempotency-key-in-flight", "Request in progress"),
            Error::PayloadTooLarge(_) => ("payload-too-large", "Payload too large"),
            Error::QuotaExceeded { .. } => ("quota-exceeded", "Quota exceeded"),
            Error::Timeout => ("request-timeout", "Request took too long"),
            Error::UnsupportedMediaType(_) => ("unsupported-media-type", "Unsupported media type"),
            Error::Unavailable(_) => ("unavailable", "Service unavailable"),
            Error::Internal(_) => ("internal", "Internal server error"),
        }
    }
}

/// Database errors are classified here once, not at every call site.
impl From<DbErr> for Error {
    fn from(err: DbErr) -> Self {
        if let Some(SqlErr::UniqueConstraintViolation(_)) = err.sql_err() {
            return Error::conflict("the resource already exists");
        }
        use sea_orm::RuntimeErr::SqlxError;
        match err {
            DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => Error::Unavailable(err),
            DbErr::RecordNotFound(_) => Error::NotFound,
            DbErr::Exec(SqlxError(ref e)) | DbErr::Query(SqlxError(ref e)) if transient(e) => {
                Error::Unavailable(err)
            }
            other => Error::internal(other),
        }
    }
}

/// A failure that says nothing about the request: the connection was lost
/// (the server restarted, the network dropped), the server is shutting down or
/// full, or the transaction lost a serialization race. The same request can
/// succeed when sent again, so the client is told to retry (503), not that the
/// gateway is broken (500).
fn transient(e: &sea_orm::sqlx::Error) -> bool {
    use sea_orm::sqlx::Error as Sqlx;
    match e {
        Sqlx::Io(_)
        | Sqlx::Tls(_)
        | Sqlx::Protocol(_)
        | Sqlx::PoolTimedOut
        | Sqlx::PoolClosed
        | Sqlx::WorkerCrashed => true,
        Sqlx::Database(db) => db.code().is_some_and(|code| {
            // SQLSTATE class 08: connection exception; 57P01-57P03: admin or
            // crash shutdown, cannot connect now; 53300: too many connections;
            // 40001, 40P01: serialization failure, deadlock.
            code.starts_with("08")
                || matches!(
                    &*code,
                    "57P01" | "57P02" | "57P03" | "53300" | "40001" | "40P01"
                )
        }),
        _ => false,
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl ResponseError for Error {
    fn status_code(&self) -> StatusCode {
        match self {
            Error::Validation(_) | Error::IdempotencyMismatch => StatusCode::UNPROCESSABLE_ENTITY,
            Error::Malformed(_) => StatusCode::BAD_REQUEST,
            Error::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Error::Forbidden(_) => StatusCode::FORBIDDEN,
            Error::NotFound => StatusCode::NOT_FOUND,
            Error::Conflict { .. }
            | Error::Transition(_)
            | Error::Concurrent
            | Error::IdempotencyInFlight => StatusCode::CONFLICT,
            Error::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Error::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Error::QuotaExceeded { .. } => StatusCode::TOO_MANY_REQUESTS,
            Error::Timeout => StatusCode::SERVICE_UNAVAILABLE,
            Error::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Error::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        let (slug, title) = self.kind();
        let mut body = json!({
            "type": format!("urn:odr-gateway:problem:{slug}"),
            "title": title,
            "status": status.as_u16(),
            "detail": self.to_string(),
        });
        match self {
            Error::Validation(errors) => body["errors"] = json!(errors),
            Error::Transition(refused) => {
                body["current_status"] = json!(refused.from);
                body["allowed"] = json!(refused.allowed);
            }
            Error::Conflict {
                extra: Value::Object(map),
                ..
            } => {
                for (k, v) in map {
                    body[k] = v.clone();
                }
            }
            Error::QuotaExceeded { policy, .. } => body["policy"] = json!(policy),
            Error::Internal(cause) => {
                tracing::error!(error = %cause, source = ?cause.source(), "internal error");
            }
            Error::Unavailable(cause) => tracing::error!(error = %cause, "database unavailable"),
            _ => {}
        }
        let mut response = HttpResponse::build(status);
        response.content_type("application/problem+json");
        if status == StatusCode::UNAUTHORIZED {
            response.insert_header(("WWW-Authenticate", "Bearer"));
        }
        match self {
            Error::QuotaExceeded { retry_after, .. } => {
                response.insert_header(("Retry-After", retry_after.to_string()));
            }
            Error::Unavailable(_) | Error::Timeout => {
                response.insert_header(("Retry-After", "1"));
            }
            _ => {}
        }
        response.body(body.to_string())
    }
}
