//! Whether a token's owner may still use it, checked on every request and
//! cached briefly: a suspended handler, a deleted partner or a removed user
//! stops at once in the process that changed it (the cache entry is dropped
//! there) and within the cache's lifetime everywhere else. Partners' quotas
//! come from here too, so a changed quota applies without a restart.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::Principal;
use crate::error::Result;
use crate::store::{Db, directory};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Standing {
    Active,
    /// A partner in good standing, with its quota (requests/s, burst).
    Partner {
        rate: u32,
        burst: u32,
    },
    Revoked,
}

pub struct Standings {
    db: Db,
    fresh_for: Duration,
    cache: Mutex<HashMap<String, (Standing, Instant)>>,
}

pub fn partner_key(partner_id: &str) -> String {
    format!("partner:{partner_id}")
}

pub fn handler_key(handler_id: &str) -> String {
    format!("handler:{handler_id}")
}

/// The cache key of a principal's owner (also its rate-limit bucket).
pub fn owner_key(p: &Principal) -> String {
    match p {
        Principal::Partner { partner_id } => partner_key(partner_id),
        Principal::Handler { handler_id } => handler_key(handler_id),
        Principal::Admin { user_id } | Principal::Staff { user_id, .. } => {
            format!("user:{user_id}")
        }
    }
}

impl Standings {
    pub fn new(db: Db, fresh_for: Duration) -> Standings {
        Standings {
            db,
            fresh_for,
            cache: Mutex::new(HashMap::new()),
        }
    }

    pub async fn of(&self, p: &Principal) -> Result<Standing> {
        let key = owner_key(p);
        if let Some((standing, at)) = self.lock().get(&key)
            && at.elapsed() < self.fresh_for
        {
            return Ok(*standing);
        }
        let standing = self.read(p).await?;
        self.lock().insert(key, (standing, Instant::now()));
        Ok(standing)
    }

    /// Drops what is known about `key` (`partner:…`, `handler:…`, `user:…`)
    /// after it changed, so this process sees the change at once.
    pub fn forget(&self, key: &str) {
        self.lock().remove(key);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, (Standing, Instant)>> {
        self.cache.lock().unwrap_or_else(|p| p.into_inner())
    }

    async fn read(&self, p: &Principal) -> Result<Standing> {
        let active = |yes: bool| {
            if yes {
                Standing::Active
            } else {
                Standing::Revoked
            }
        };
        Ok(match p {
            Principal::Partner { partner_id } => {
                match directory::partner(&self.db, partner_id).await? {
                    Some(partner) if partner.status == "active" => Standing::Partner {
                        rate: u32::try_from(partner.rate_per_second).unwrap_or(1),
                        burst: u32::try_from(partner.burst).unwrap_or(1),
                    },
                    _ => Standing::Revoked,
                }
            }
            Principal::Handler { handler_id } => active(
                directory::handler(&self.db, handler_id)
                    .await?
                    .is_some_and(|h| h.status == "active"),
            ),
            Principal::Admin { user_id } | Principal::Staff { user_id, .. } => {
                active(directory::user(&self.db, user_id).await?.is_some())
            }
        })
    }
}
