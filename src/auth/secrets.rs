//! Generated credentials and their argon2 hashes.

use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};

use crate::error::Error;

fn random_bytes<const N: usize>() -> Result<[u8; N], Error> {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes).map_err(|e| Error::unexpected(e.to_string()))?;
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
        .map_err(|e| Error::unexpected(e.to_string()))
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

/// Encrypts secrets the gateway must read back (webhook signing secrets) with
/// AES-256-GCM under the configured key, so a copy of the database alone does
/// not reveal them. Stored form: `v1:` + base64(nonce ‖ ciphertext ‖ tag).
pub struct Sealer {
    cipher: aes_gcm::Aes256Gcm,
}

const SEALED: &str = "v1:";

impl Sealer {
    /// From the base64 of a 32-byte key.
    pub fn from_key(key_b64: &str) -> Result<Sealer, String> {
        use aes_gcm::KeyInit;
        let key = STANDARD
            .decode(key_b64.trim())
            .map_err(|_| "must be base64".to_string())?;
        let cipher = aes_gcm::Aes256Gcm::new_from_slice(&key)
            .map_err(|_| "must be the base64 of exactly 32 bytes".to_string())?;
        Ok(Sealer { cipher })
    }

    /// A fresh key, base64, for when the operator configured none.
    pub fn generate_key() -> Result<String, Error> {
        Ok(STANDARD.encode(random_bytes::<32>()?))
    }

    pub fn seal(&self, plain: &str) -> Result<String, Error> {
        use aes_gcm::aead::Aead;
        let nonce = random_bytes::<12>()?;
        let sealed = self
            .cipher
            .encrypt(&aes_gcm::Nonce::from(nonce), plain.as_bytes())
            .map_err(|_| Error::unexpected("encryption failed"))?;
        let mut out = nonce.to_vec();
        out.extend(sealed);
        Ok(format!("{SEALED}{}", STANDARD.encode(out)))
    }

    /// The plain secret; fails when the stored value was sealed under another
    /// key or altered.
    pub fn open(&self, stored: &str) -> Result<String, Error> {
        use aes_gcm::aead::Aead;
        let broken = || {
            Error::unexpected(
                "a stored secret cannot be decrypted: wrong secrets_key, or the value was altered",
            )
        };
        let Some(encoded) = stored.strip_prefix(SEALED) else {
            return Err(broken());
        };
        let raw = STANDARD.decode(encoded).map_err(|_| broken())?;
        if raw.len() < 12 {
            return Err(broken());
        }
        let (nonce, sealed) = raw.split_at(12);
        let nonce: [u8; 12] = nonce.try_into().map_err(|_| broken())?;
        let plain = self
            .cipher
            .decrypt(&aes_gcm::Nonce::from(nonce), sealed)
            .map_err(|_| broken())?;
        String::from_utf8(plain).map_err(|_| broken())
    }

    pub fn is_sealed(stored: &str) -> bool {
        stored.starts_with(SEALED)
    }
}

#[cfg(test)]
mod sealing {
    use super::*;

    #[test]
    fn a_sealed_secret_opens_only_with_its_key_and_unaltered() {
        let key = Sealer::generate_key().unwrap();
        let sealer = Sealer::from_key(&key).unwrap();
        let secret = generate_webhook_secret().unwrap();
        let stored = sealer.seal(&secret).unwrap();
        assert!(Sealer::is_sealed(&stored));
        assert!(!stored.contains(&secret[6..]));
        assert_ne!(
            stored,
            sealer.seal(&secret).unwrap(),
            "a fresh nonce each time"
        );
        assert_eq!(sealer.open(&stored).unwrap(), secret);
        let other = Sealer::from_key(&Sealer::generate_key().unwrap()).unwrap();
        assert!(other.open(&stored).is_err());
        let mut altered = stored.clone();
        altered.replace_range(10..11, if &stored[10..11] == "A" { "B" } else { "A" });
        assert!(sealer.open(&altered).is_err());
        assert!(
            sealer.open(&secret).is_err(),
            "plain text is not accepted as sealed"
        );
        assert!(Sealer::from_key("c2hvcnQ=").is_err());
        assert!(Sealer::from_key("not base64!").is_err());
    }
}
