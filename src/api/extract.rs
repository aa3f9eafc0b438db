//! Request extractors: the bearer principal, JSON bodies, cursor pages.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpMessage, HttpRequest, web};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use futures_util::StreamExt;
use serde_json::Value;

use super::guard::Authenticated;
use crate::auth::Principal;
use crate::error::{Error, FieldError};
use crate::state::AppState;

pub fn state(req: &HttpRequest) -> Result<web::Data<AppState>, Error> {
    req.app_data::<web::Data<AppState>>()
        .cloned()
        .ok_or_else(|| Error::unexpected("application state missing"))
}

/// The caller proven by `Authorization: Bearer <token>`.
pub struct Auth(pub Principal);

impl FromRequest for Auth {
    type Error = Error;
    type Future = std::future::Ready<Result<Self, Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        std::future::ready(caller(req).map(Auth))
    }
}

/// The caller as the guard middleware found it (the token checked, and its
/// owner's standing), or why there is none.
pub fn caller(req: &HttpRequest) -> Result<Principal, Error> {
    let found = req.extensions().get::<Authenticated>().cloned();
    match found {
        Some(Authenticated(Ok(principal))) => Ok(principal),
        Some(Authenticated(Err(why))) => Err(Error::Unauthorized(why)),
        None if req.headers().contains_key(header::AUTHORIZATION) => Err(Error::Unauthorized(
            "the Authorization header must be 'Bearer <token>'",
        )),
        None => Err(Error::Unauthorized(
            "an Authorization: Bearer token is required",
        )),
    }
}

/// Reads the whole body up to the configured limit.
pub async fn read_body(req: &HttpRequest, payload: &mut Payload) -> Result<web::Bytes, Error> {
    let limit = state(req)?.config.max_body_bytes;
    if let Some(length) = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok())
        && length > limit
    {
        return Err(Error::PayloadTooLarge(limit));
    }
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| Error::Malformed(format!("could not read the body: {e}")))?;
        if body.len() + chunk.len() > limit {
            return Err(Error::PayloadTooLarge(limit));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

fn is_json(req: &HttpRequest) -> bool {
    req.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|m| {
            let m = m.trim().to_ascii_lowercase();
            m == "application/json" || (m.starts_with("application/") && m.ends_with("+json"))
        })
        .unwrap_or(false)
}

/// A JSON object body. An empty body reads as `{}` so that actions whose
/// fields are all optional may be posted bare.
pub struct JsonBody {
    pub value: Value,
}

impl FromRequest for JsonBody {
    type Error = Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Error>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let req = req.clone();
        let mut payload = payload.take();
        Box::pin(async move {
            let raw = read_body(&req, &mut payload).await?;
            if raw.iter().all(u8::is_ascii_whitespace) {
                return Ok(JsonBody {
                    value: Value::Object(Default::default()),
                });
            }
            if !is_json(&req) {
                return Err(Error::UnsupportedMediaType("application/json"));
            }
            let value: Value = serde_json::from_slice(&raw)
                .map_err(|e| Error::Malformed(format!("the body is not valid JSON: {e}")))?;
            if !value.is_object() {
                return Err(Error::Malformed("the body must be a JSON object".into()));
            }
            Ok(JsonBody { value })
        })
    }
}

/// The body of an action that takes no fields: empty, or `{}`. Anything else
/// is refused like any other bad body, so a typo never passes silently.
pub struct NoFields;

impl FromRequest for NoFields {
    type Error = Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Error>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let body = JsonBody::from_request(req, payload);
        Box::pin(async move {
            let body = body.await?;
            super::input::Input::new(&body.value)?.finish()?;
            Ok(NoFields)
        })
    }
}

/// Cursors are base64url; reading them is lenient about padding and unused
/// trailing bits, so any string of that alphabet and length is a position.
const CURSOR: base64::engine::GeneralPurpose = base64::engine::GeneralPurpose::new(
    &base64::alphabet::URL_SAFE,
    base64::engine::GeneralPurposeConfig::new()
        .with_decode_allow_trailing_bits(true)
        .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
);

pub const DEFAULT_LIMIT: u64 = 50;
pub const MAX_LIMIT: u64 = 200;

/// `?limit=&cursor=` plus the route's own filters.
pub struct Query {
    pub limit: u64,
    /// The id (or sequence number) after which the page starts.
    pub after: Option<String>,
    pub params: HashMap<String, String>,
}

impl Query {
    /// Parses the query, refusing parameters outside `allowed` and bad pages.
    pub fn parse(req: &HttpRequest, allowed: &[&str]) -> Result<Query, Error> {
        let params = web::Query::<HashMap<String, String>>::from_query(req.query_string())
            .map_err(|e| Error::Malformed(format!("bad query string: {e}")))?
            .into_inner();
        let mut errors = Vec::new();
        for key in params.keys() {
            if key != "limit" && key != "cursor" && !allowed.contains(&key.as_str()) {
                errors.push(FieldError::new(key.clone(), "unknown query parameter"));
            }
        }
        let limit = match params.get("limit") {
            None => DEFAULT_LIMIT,
            Some(text) => match text.parse::<u64>() {
                Ok(n) if (1..=MAX_LIMIT).contains(&n) => n,
                _ => {
                    errors.push(FieldError::new(
                        "limit",
                        format!("must be an integer from 1 to {MAX_LIMIT}"),
                    ));
                    DEFAULT_LIMIT
                }
            },
        };
        let after = match params.get("cursor") {
            None => None,
            // Any well-formed cursor is a position; one we did not issue just
            // starts the page somewhere harmless.
            Some(cursor) => match CURSOR
                .decode(cursor)
                .ok()
                .filter(|b| !b.is_empty())
                .map(|b| String::from_utf8_lossy(&b).into_owned())
            {
                Some(id) => Some(id),
                None => {
                    errors.push(FieldError::new(
                        "cursor",
                        "is not a cursor this API returned",
                    ));
                    None
                }
            },
        };
        if !errors.is_empty() {
            return Err(Error::Validation(errors));
        }
        Ok(Query {
            limit,
            after,
            params,
        })
    }

    /// The cursor of a list keyed by a number (sequence or row id).
    pub fn after_number<N: std::str::FromStr>(&self) -> Result<Option<N>, Error> {
        self.after
            .as_deref()
            .map(|c| {
                c.parse::<N>()
                    .map_err(|_| Error::field("cursor", "is not a cursor this API returned"))
            })
            .transpose()
    }

    /// A filter parameter parsed into its type.
    pub fn filter<T: std::str::FromStr>(&self, name: &str) -> Result<Option<T>, Error>
    where
        T::Err: std::fmt::Display,
    {
        self.params
            .get(name)
            .map(|v| {
                v.parse::<T>()
                    .map_err(|e| Error::field(name, e.to_string()))
            })
            .transpose()
    }
}

/// `{items, next_cursor}`: `rows` was fetched with `limit + 1` to know whether
/// another page follows.
pub fn page<T>(
    mut rows: Vec<T>,
    limit: u64,
    key: impl Fn(&T) -> String,
    view: impl Fn(&T) -> Value,
) -> Value {
    let more = rows.len() as u64 > limit;
    rows.truncate(limit as usize);
    let next_cursor = if more {
        rows.last().map(|last| URL_SAFE_NO_PAD.encode(key(last)))
    } else {
        None
    };
    serde_json::json!({
        "items": rows.iter().map(view).collect::<Vec<_>>(),
        "next_cursor": next_cursor,
    })
}
