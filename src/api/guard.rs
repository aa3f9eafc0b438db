//! What every request passes before its handler: who is calling (the bearer
//! token, and whether its owner is still in good standing) and the caller's
//! rate limit with the IETF RateLimit header fields ([`guard`], around the
//! whole app); then, once the route is known, whether the caller's role may
//! call it and the request timeout ([`admit`], around each route, before the
//! handler reads anything of the request).

use std::time::Duration;

use chrono::{DateTime, Utc};

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{HttpMessage, HttpRequest, ResponseError, web};

use super::client_ip;
use super::extract::caller;
use super::ratelimit::{Outcome, Policy};
use crate::auth::Principal;
use crate::auth::standing::{Standing, owner_key};
use crate::domain::vocabulary::Role;
use crate::error::Error;
use crate::state::AppState;
use crate::store::idempotency;

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
        let forwarded_for: Vec<String> = req
            .headers()
            .get_all("x-forwarded-for")
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
            .collect();
        let peer = req.peer_addr().map(|a| a.ip());
        let ip = client_ip::client(peer, &forwarded_for, &state.config.trusted_proxies);
        let policy = Policy {
            name: "token",
            rate: limits.login_rate_per_second,
            burst: limits.login_burst,
        };
        return Ok(Some((client_ip::bucket_key(ip), policy)));
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

/// An `Idempotency-Key` an intake holds from its claim until it has answered.
/// The intake puts it in the request's extensions and takes it out when it
/// records or frees its answer; one still there belongs to a request the
/// timeout abandoned.
#[derive(Debug, Clone)]
pub struct HeldKey {
    pub partner_id: String,
    pub key: String,
}

/// When [`admit`] let the request in (real time): its timeout runs from here.
#[derive(Debug, Clone, Copy)]
pub struct Admitted(DateTime<Utc>);

impl Admitted {
    /// When `req` was admitted (now, for a request that did not pass [`admit`]).
    pub fn at(req: &HttpRequest) -> DateTime<Utc> {
        req.extensions()
            .get::<Admitted>()
            .map_or_else(Utc::now, |a| a.0)
    }
}

/// Undoes what an abandoned request left claimed: its idempotency key, so a
/// retry is taken in rather than refused as still in flight.
async fn abandon(state: &AppState, request: &HttpRequest, limit: Duration) {
    let Some(held) = request.extensions_mut().remove::<HeldKey>() else {
        return;
    };
    let release = idempotency::release(&state.db, &held.partner_id, &held.key);
    match tokio::time::timeout(limit, release).await {
        Ok(Ok(())) => {}
        Ok(Err(err)) => {
            tracing::warn!(error = %err, "could not free the idempotency key of a timed-out intake")
        }
        Err(_) => tracing::warn!("freeing the idempotency key of a timed-out intake timed out"),
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
    let mut res = next.call(req).await?.map_into_left_body();
    if let Some(outcome) = &outcome {
        add_headers(res.headers_mut(), outcome);
    }
    Ok(res)
}

/// Who may call a route.
#[derive(Debug, Clone, Copy)]
pub struct Callers {
    /// `None`: anyone, without a token.
    roles: Option<&'static [Role]>,
    refusal: &'static str,
}

impl Callers {
    pub const PUBLIC: Callers = Callers {
        roles: None,
        refusal: "",
    };
    pub const ANY_ROLE: Callers = Callers {
        roles: Some(&[Role::Admin, Role::Staff, Role::Partner, Role::Handler]),
        refusal: "",
    };
    pub const ADMIN: Callers = Callers {
        roles: Some(&[Role::Admin]),
        refusal: "this route is for administrators",
    };
    pub const ADMIN_OR_STAFF: Callers = Callers {
        roles: Some(&[Role::Admin, Role::Staff]),
        refusal: "this route is for administrators and station staff",
    };
    pub const PARTNER: Callers = Callers {
        roles: Some(&[Role::Partner]),
        refusal: "this route is for partner clients",
    };
    pub const PARTNER_OR_ADMIN: Callers = Callers {
        roles: Some(&[Role::Partner, Role::Admin]),
        refusal: "this route is for partner clients and administrators",
    };
    pub const HANDLER: Callers = Callers {
        roles: Some(&[Role::Handler]),
        refusal: "this route is for handler clients",
    };
    pub const STAFF: Callers = Callers {
        roles: Some(&[Role::Staff]),
        refusal: "this route is for station staff",
    };

    /// 401 without a valid token, 403 for a role the route is not for.
    fn check(self, req: &HttpRequest) -> Result<(), Error> {
        let Some(roles) = self.roles else {
            return Ok(());
        };
        let principal = caller(req)?;
        if roles.contains(&principal.role()) {
            Ok(())
        } else {
            Err(Error::Forbidden(self.refusal))
        }
    }
}

/// Around each route: the caller's role is checked before the handler reads
/// the path, the query or the body (a caller of the wrong role gets 403 for
/// any body), and a request still unanswered after `request_timeout_seconds`
/// is answered 503 like any other answer (so the guard's RateLimit headers,
/// the request id, the metrics and the access log see it); dropping the
/// handler's future rolls back whatever transaction it had open.
pub async fn admit(
    callers: Callers,
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    if let Err(refused) = callers.check(req.request()) {
        return Ok(req
            .into_response(refused.error_response())
            .map_into_right_body());
    }
    let Some(state) = req.app_data::<web::Data<AppState>>().cloned() else {
        return next
            .call(req)
            .await
            .map(ServiceResponse::map_into_left_body);
    };
    let limit = Duration::from_secs(state.config.request_timeout_seconds);
    req.extensions_mut().insert(Admitted(Utc::now()));
    // The route is matched, so the request may be shared from here on.
    let request = req.request().clone();
    match tokio::time::timeout(limit, next.call(req)).await {
        Ok(answer) => answer.map(ServiceResponse::map_into_left_body),
        Err(_) => {
            abandon(&state, &request, limit).await;
            let res = Error::Timeout.error_response();
            Ok(ServiceResponse::new(request, res).map_into_right_body())
        }
    }
}
