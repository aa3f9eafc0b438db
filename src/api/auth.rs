//! Token endpoints: OAuth2 client credentials for partners and handlers,
//! username and password for staff and admins.

use actix_web::dev::Payload;
use actix_web::http::{Method, header};
use actix_web::{HttpRequest, HttpResponse, web};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::Value;

use super::extract::{read_body, state};
use super::guard::Callers;
use super::input::{Input, Required};
use super::{Route, route};
use crate::auth::{Principal, secrets};
use crate::error::{Error, Result};
use crate::store::directory;

pub fn routes() -> Vec<Route> {
    vec![
        route(Method::POST, "/v1/oauth/token", Callers::PUBLIC, token),
        route(Method::POST, "/v1/auth/login", Callers::PUBLIC, login),
    ]
}

/// The body as a JSON object whether it came as a form or as JSON.
async fn form_or_json(req: &HttpRequest, payload: &mut Payload) -> Result<Value> {
    let raw = read_body(req, payload).await?;
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    if content_type.starts_with("application/x-www-form-urlencoded") {
        let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(&raw)
            .map_err(|e| Error::Malformed(format!("bad form body: {e}")))?;
        Ok(Value::Object(
            pairs
                .into_iter()
                .map(|(k, v)| (k, Value::String(v)))
                .collect(),
        ))
    } else if content_type.starts_with("application/json") {
        serde_json::from_slice(&raw)
            .map_err(|e| Error::Malformed(format!("the body is not valid JSON: {e}")))
    } else {
        Err(Error::UnsupportedMediaType(
            "application/x-www-form-urlencoded or application/json",
        ))
    }
}

/// Client id and secret from HTTP Basic (RFC 6749 §2.3.1), if sent that way.
fn basic_credentials(req: &HttpRequest) -> Option<(String, String)> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let encoded = value.strip_prefix("Basic ")?;
    let decoded = String::from_utf8(STANDARD.decode(encoded.trim()).ok()?).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    Some((id.to_string(), secret.to_string()))
}

async fn token(req: HttpRequest, payload: web::Payload) -> Result<HttpResponse> {
    let state = state(&req)?;
    let mut payload = payload.into_inner();
    let body = form_or_json(&req, &mut payload).await?;
    let basic = basic_credentials(&req);
    let mut input = Input::new(&body)?;
    let grant = input.text("grant_type", Required, 64);
    let need = if basic.is_some() {
        super::input::Optional
    } else {
        Required
    };
    let client_id = input.text("client_id", need, 128);
    let client_secret = input.text("client_secret", need, 256);
    let _ = input.text("scope", super::input::Optional, 256);
    if let Some(grant) = &grant
        && grant != "client_credentials"
    {
        input.error("grant_type", "only client_credentials is supported");
    }
    input.finish()?;
    let (client_id, client_secret) = match (client_id, client_secret, basic) {
        (Some(id), Some(secret), _) => (id, secret),
        (_, _, Some(basic)) => basic,
        _ => return Err(Error::field("client_id", "is required")),
    };
    let client = directory::find_client(&state.db, &client_id).await?;
    if !secrets::verify(
        &client_secret,
        client.as_ref().map(|c| c.secret_hash.as_str()),
    ) {
        return Err(Error::Unauthorized("unknown client or wrong secret"));
    }
    let client = client.ok_or(Error::Unauthorized("unknown client or wrong secret"))?;
    let principal = match client.owner_kind.as_str() {
        "handler" => {
            let handler = directory::handler(&state.db, &client.owner_id).await?;
            if handler.is_none_or(|h| h.status != "active") {
                return Err(Error::Unauthorized(
                    "this client is suspended or no longer enrolled",
                ));
            }
            Principal::Handler {
                handler_id: client.owner_id,
            }
        }
        _ => {
            let partner = directory::partner(&state.db, &client.owner_id).await?;
            if partner.is_none_or(|p| p.status != "active") {
                return Err(Error::Unauthorized("this client was removed"));
            }
            Principal::Partner {
                partner_id: client.owner_id,
            }
        }
    };
    answer(state.tokens.issue(&principal)?)
}

async fn login(req: HttpRequest, body: super::extract::JsonBody) -> Result<HttpResponse> {
    let state = state(&req)?;
    let mut input = Input::new(&body.value)?;
    let username = input.text("username", Required, 64);
    let password = input.text("password", Required, 256);
    input.finish()?;
    let (username, password) = (
        Input::got(username, "username")?,
        Input::got(password, "password")?,
    );
    let user = directory::user_by_name(&state.db, &username).await?;
    if !secrets::verify(&password, user.as_ref().map(|u| u.password_hash.as_str())) {
        return Err(Error::Unauthorized("unknown user or wrong password"));
    }
    let user = user.ok_or(Error::Unauthorized("unknown user or wrong password"))?;
    let principal = Principal::of_account(user.id, &user.role, user.station_code)
        .ok_or(Error::Unauthorized("this account cannot sign in"))?;
    answer(state.tokens.issue(&principal)?)
}

fn answer(token: crate::auth::tokens::IssuedToken) -> Result<HttpResponse> {
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(token))
}
