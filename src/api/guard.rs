//! What every request passes before its handler: who is calling (the bearer
//! token, and whether its owner is still in good standing), the caller's rate
//! limit with the IETF RateLimit header fields, and the request timeout.

use std::time::Duration;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{HttpMessage, ResponseError, web};

use super::ratelimit::{Outcome, Policy};
use crate::app::AppState;
use crate::auth::Principal;
use crate::auth::standing::{Standing, owner_key};
use crate::error::Error;

/// The caller as the guard found it; the `Auth` extractor reads this.
#[derive(Clone)]
pub struct Authenticated(pub Result<Principal, &'static str>);

const TOKEN_ROUTES: [&str; 2] = ["/v1/oauth/token", "/v1/auth/login"];

fn bearer(req: &ServiceRequest) -> Option<String> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let token = value
        .strip_prefix("Bearer ")
        .or_else(|| value.strip_prefix("bearer "))?;
    Some(token.trim().to_string())
}

/// The caller behind `token`, if its owner may still use it.
async fn authenticate(
    state: &AppState,
    token: &str,
) -> Result<Result<(Principal, Standing), &'static str>, Error> {
    let principal = match state.tokens.verify(token) {
        Ok(p) => p,
        Err(Error::Unauthorized(why)) => return Ok(Err(why)),
        Err(other) => return Err(other),
    };
    Ok(match state.standings.of(&principal).await? {
        Standing::Revoked => Err("the client or account behind this token is suspended or removed"),
        standing => Ok((principal, standing)),
    })
}

/// Which bucket a request draws from, and under which quota.
async fn limit_of(
    req: &ServiceRequest,
    state: &AppState,
) -> Result<Option<(String, Policy)>, Error> {
    let limits = &state.config.limits;
    if TOKEN_ROUTES.contains(&req.path()) {
        let ip = req
            .peer_addr()
            .map(|a| a.ip().to_string())
            .unwrap_or_default();
        let policy = Policy {
            name: "token",
            rate: limits.login_rate_per_second,
            burst: limits.login_burst,
        };
        return Ok(Some((format!("ip:{ip}"), policy)));
    }
    let Some(token) = bearer(req) else {
        return Ok(None);
    };
    let (principal, standing) = match authenticate(state, &token).await? {
        Ok(found) => found,
        Err(why) => {
            req.extensions_mut().insert(Authenticated(Err(why)));
            return Ok(None);
        }
    };
    let policy = match standing {
        Standing::Partner { rate, burst } => Policy {
            name: "partner",
            rate,
            burst,
        },
        _ => Policy {
            name: "client",
            rate: limits.client_rate_per_second,
            burst: limits.client_burst,
        },
    };
    let key = owner_key(&principal);
    req.extensions_mut().insert(Authenticated(Ok(principal)));
    Ok(Some((key, policy)))
}

fn add_headers(headers: &mut actix_web::http::header::HeaderMap, outcome: &Outcome) {
    for (name, value) in [
        ("ratelimit-policy", outcome.policy.header()),
        ("ratelimit", outcome.header()),
    ] {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(HeaderName::from_static(name), value);
        }
    }
}

pub async fn guard(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    let Some(state) = req.app_data::<web::Data<AppState>>().cloned() else {
        return next
            .call(req)
            .await
            .map(ServiceResponse::map_into_left_body);
    };
    let outcome = match limit_of(&req, &state).await {
        Ok(limit) => limit.map(|(key, policy)| state.limits.check(&key, &policy)),
        Err(err) => {
            let res = err.error_response();
            return Ok(req.into_response(res).map_into_right_body());
        }
    };
    if let Some(refused) = outcome.as_ref().filter(|o| !o.allowed()) {
        let err = Error::QuotaExceeded {
            policy: refused.policy.name,
            retry_after: refused.retry_after.unwrap_or(1),
        };
        let mut res = err.error_response();
        add_headers(res.headers_mut(), refused);
        return Ok(req.into_response(res).map_into_right_body());
    }
    let limit = Duration::from_secs(state.config.request_timeout_seconds);
    // A timed-out request becomes the error answer; dropping the handler's
    // future rolls back whatever transaction it had open.
    let mut res = match tokio::time::timeout(limit, next.call(req)).await {
        Ok(answer) => answer?.map_into_left_body(),
        Err(_) => return Err(Error::Timeout.into()),
    };
    if let Some(outcome) = &outcome {
        add_headers(res.headers_mut(), outcome);
    }
    Ok(res)
}
