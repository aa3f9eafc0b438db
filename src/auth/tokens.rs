//! Short-lived HS256 access tokens carrying role and scope.

use std::time::{SystemTime, UNIX_EPOCH};

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use super::Principal;
use crate::domain::vocabulary::Role;
use crate::error::Error;

const AUDIENCE: &str = "odr-gateway";

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    iss: String,
    aud: String,
    sub: String,
    role: Role,
    scope: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    station: Option<String>,
    iat: u64,
    nbf: u64,
    exp: u64,
}

/// Issues and checks access tokens. Expiry runs on real time, not the business
/// clock: a token must not outlive its lifetime because a test clock stands still.
pub struct TokenService {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    issuer: String,
    ttl_seconds: u64,
}

/// What the token endpoints answer (RFC 6749 §5.1).
#[derive(Debug, Serialize)]
pub struct IssuedToken {
    pub access_token: String,
    pub token_type: &'static str,
    pub expires_in: u64,
    pub scope: String,
}

fn scope_of(role: Role) -> &'static str {
    match role {
        Role::Admin => "admin",
        Role::Partner => "complaints",
        Role::Handler => "inbox",
        Role::Staff => "queue handlers reports",
    }
}

impl TokenService {
    pub fn new(secret: &[u8], issuer: &str, ttl_seconds: u64) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_audience(&[AUDIENCE]);
        validation.set_issuer(&[issuer]);
        validation.set_required_spec_claims(&["exp", "nbf", "iss", "aud", "sub"]);
        validation.validate_nbf = true;
        validation.leeway = 30;
        TokenService {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
            issuer: issuer.to_string(),
            ttl_seconds,
        }
    }

    pub fn issue(&self, principal: &Principal) -> Result<IssuedToken, Error> {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_err(Error::internal)?
            .as_secs();
        let role = principal.role();
        let claims = Claims {
            iss: self.issuer.clone(),
            aud: AUDIENCE.into(),
            sub: principal.subject().to_string(),
            role,
            scope: scope_of(role).into(),
            station: match principal {
                Principal::Staff { station_code, .. } => Some(station_code.clone()),
                _ => None,
            },
            iat: now,
            nbf: now,
            exp: now + self.ttl_seconds,
        };
        let token = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(Error::internal)?;
        Ok(IssuedToken {
            access_token: token,
            token_type: "Bearer",
            expires_in: self.ttl_seconds,
            scope: claims.scope,
        })
    }

    /// The principal a bearer token proves, or 401.
    pub fn verify(&self, token: &str) -> Result<Principal, Error> {
        let data = jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .map_err(|_| Error::Unauthorized("the access token is invalid or expired"))?;
        let claims = data.claims;
        if claims.scope != scope_of(claims.role) {
            return Err(Error::Unauthorized("the access token has an unknown scope"));
        }
        let sub = claims.sub;
        Ok(match claims.role {
            Role::Admin => Principal::Admin { user_id: sub },
            Role::Partner => Principal::Partner { partner_id: sub },
            Role::Handler => Principal::Handler { handler_id: sub },
            Role::Staff => Principal::Staff {
                user_id: sub,
                station_code: claims
                    .station
                    .ok_or(Error::Unauthorized("the access token lacks its station"))?,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;

    fn service() -> TokenService {
        TokenService::new(b"0123456789abcdef0123456789abcdef", "odr-gateway", 600)
    }

    #[test]
    fn a_token_proves_its_principal() {
        let svc = service();
        for p in [
            Principal::Admin {
                user_id: "u1".into(),
            },
            Principal::Staff {
                user_id: "u2".into(),
                station_code: "QJ".into(),
            },
            Principal::Partner {
                partner_id: "p".into(),
            },
            Principal::Handler {
                handler_id: "h".into(),
            },
        ] {
            let token = svc.issue(&p).unwrap();
            assert_eq!(token.expires_in, 600);
            assert_eq!(svc.verify(&token.access_token).unwrap(), p);
        }
    }

    #[test]
    fn expired_and_not_yet_valid_tokens_are_refused() {
        let svc = service();
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let sign = |iat: u64, exp: u64| {
            let claims = Claims {
                iss: "odr-gateway".into(),
                aud: AUDIENCE.into(),
                sub: "p".into(),
                role: Role::Partner,
                scope: "complaints".into(),
                station: None,
                iat,
                nbf: iat,
                exp,
            };
            jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &svc.encoding).unwrap()
        };
        assert!(svc.verify(&sign(now - 600, now + 600)).is_ok());
        assert!(
            svc.verify(&sign(now - 7200, now - 3600)).is_err(),
            "expired"
        );
        assert!(
            svc.verify(&sign(now + 3600, now + 7200)).is_err(),
            "not yet valid"
        );
    }

    #[test]
    fn tokens_missing_a_required_claim_are_refused() {
        let svc = service();
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let full = serde_json::json!({
            "iss": "odr-gateway", "aud": AUDIENCE, "sub": "p", "role": "partner",
            "scope": "complaints", "iat": now, "nbf": now, "exp": now + 600,
        });
        let sign = |claims: &serde_json::Value| {
            jsonwebtoken::encode(&Header::new(Algorithm::HS256), claims, &svc.encoding).unwrap()
        };
        assert!(svc.verify(&sign(&full)).is_ok());
        for missing in ["exp", "nbf", "iss", "aud", "sub", "role", "scope"] {
            let mut claims = full.clone();
            claims.as_object_mut().unwrap().remove(missing);
            assert!(
                svc.verify(&sign(&claims)).is_err(),
                "accepted without {missing}"
            );
        }
        let mut staff = full.clone();
        staff["role"] = "staff".into();
        staff["scope"] = "queue handlers reports".into();
        assert!(
            svc.verify(&sign(&staff)).is_err(),
            "staff without a station"
        );
    }

    #[test]
    fn tokens_signed_otherwise_are_refused() {
        let svc = service();
        let other = TokenService::new(b"another-secret-another-secret-xx", "odr-gateway", 600);
        let token = other
            .issue(&Principal::Partner {
                partner_id: "p".into(),
            })
            .unwrap();
        assert!(svc.verify(&token.access_token).is_err());
        // alg "none": header and claims of a real token, no signature.
        let real = svc
            .issue(&Principal::Partner {
                partner_id: "p".into(),
            })
            .unwrap();
        let claims = real.access_token.split('.').nth(1).unwrap();
        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
        assert!(svc.verify(&format!("{header}.{claims}.")).is_err());
        let other_issuer = TokenService::new(b"0123456789abcdef0123456789abcdef", "elsewhere", 600);
        let token = other_issuer
            .issue(&Principal::Partner {
                partner_id: "p".into(),
            })
            .unwrap();
        assert!(svc.verify(&token.access_token).is_err());
    }
}
