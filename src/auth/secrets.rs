//! Generated credentials and their argon2 hashes.

use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};

use crate::error::Error;

fn random_bytes<const N: usize>() -> Result<[u8; N], Error> {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes)
        .map_err(|e| Error::internal(std::io::Error::other(e.to_string())))?;
    Ok(bytes)
}

/// A random, URL-safe token with a readable prefix (`odr_cs_…`).
pub fn generate(prefix: &str) -> Result<String, Error> {
    Ok(format!(
        "{prefix}{}",
        URL_SAFE_NO_PAD.encode(random_bytes::<32>()?)
    ))
}

/// A Standard Webhooks signing secret: `whsec_` and base64 of 32 random bytes.
pub fn generate_webhook_secret() -> Result<String, Error> {
    Ok(format!("whsec_{}", STANDARD.encode(random_bytes::<32>()?)))
}

/// A fresh HMAC key for access tokens, when the operator configured none.
pub fn generate_signing_key() -> Result<String, Error> {
    Ok(URL_SAFE_NO_PAD.encode(random_bytes::<48>()?))
}

pub fn hash(secret: &str) -> Result<String, Error> {
    Argon2::default()
        .hash_password(secret.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| Error::internal(std::io::Error::other(e.to_string())))
}

/// Constant work whether or not `stored` exists, so response times do not
/// reveal which client ids or usernames are real.
pub fn verify(secret: &str, stored: Option<&str>) -> bool {
    const DECOY: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$2JQfSb1Zmv4hbPjDQ6pBy7sJxmUK3yZZsY4JfDVz2rE";
    let parsed = PasswordHash::new(stored.unwrap_or(DECOY));
    let matches = parsed
        .map(|hash| {
            Argon2::default()
                .verify_password(secret.as_bytes(), &hash)
                .is_ok()
        })
        .unwrap_or(false);
    matches && stored.is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hash_verifies_only_its_own_secret() {
        let secret = generate("odr_cs_").unwrap();
        assert!(secret.starts_with("odr_cs_") && secret.len() > 40);
        let stored = hash(&secret).unwrap();
        assert!(stored.starts_with("$argon2id$"));
        assert!(verify(&secret, Some(&stored)));
        assert!(!verify("wrong", Some(&stored)));
        assert!(!verify(&secret, None));
    }

    #[test]
    fn webhook_secrets_have_the_standard_form() {
        let secret = generate_webhook_secret().unwrap();
        let raw = STANDARD
            .decode(secret.strip_prefix("whsec_").unwrap())
            .unwrap();
        assert_eq!(raw.len(), 32);
    }
}
