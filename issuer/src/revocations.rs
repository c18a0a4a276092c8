//! The issuer's view of revocation: it refuses to mint for a revoked subject, serves the
//! list to receivers that poll, and changes it through the admin API.

use oathmesh_core::{BackendError, MemoryRevocationList, RevocationList, clock};

/// Read and change the revocation list.
pub trait RevocationStore: Send + Sync {
    fn is_revoked(&self, subject: &str) -> Result<bool, BackendError>;
    fn revoke(&self, subject: &str, now: i64) -> Result<(), BackendError>;
    /// True when a revocation was lifted.
    fn unrevoke(&self, subject: &str) -> Result<bool, BackendError>;
    /// `(subject, revoked_at RFC 3339)`.
    fn list(&self) -> Result<Vec<(String, String)>, BackendError>;
}

impl RevocationStore for MemoryRevocationList {
    fn is_revoked(&self, subject: &str) -> Result<bool, BackendError> {
        RevocationList::is_revoked(self, subject)
    }
    fn revoke(&self, subject: &str, now: i64) -> Result<(), BackendError> {
        MemoryRevocationList::revoke(self, subject, &clock::rfc3339_secs(now));
        Ok(())
    }
    fn unrevoke(&self, subject: &str) -> Result<bool, BackendError> {
        Ok(MemoryRevocationList::unrevoke(self, subject))
    }
    fn list(&self) -> Result<Vec<(String, String)>, BackendError> {
        Ok(MemoryRevocationList::list(self))
    }
}

/// The shared Redis hash `oathmesh:revocations`: a revocation made through this issuer is
/// seen at once by every receiver configured with the same Redis.
impl RevocationStore for oathmesh_core::redis_store::RedisRevocationList {
    fn is_revoked(&self, subject: &str) -> Result<bool, BackendError> {
        RevocationList::is_revoked(self, subject)
    }
    fn revoke(&self, subject: &str, now: i64) -> Result<(), BackendError> {
        oathmesh_core::redis_store::RedisRevocationList::revoke(self, subject, now)
    }
    fn unrevoke(&self, subject: &str) -> Result<bool, BackendError> {
        oathmesh_core::redis_store::RedisRevocationList::unrevoke(self, subject)
    }
    fn list(&self) -> Result<Vec<(String, String)>, BackendError> {
        oathmesh_core::redis_store::RedisRevocationList::list(self)
    }
}

/// The store a configuration asks for: Redis when `redis_url` is set, else in memory.
pub fn from_config(
    redis_url: Option<&str>,
) -> Result<std::sync::Arc<dyn RevocationStore>, oathmesh_core::ConfigError> {
    match redis_url {
        None => Ok(std::sync::Arc::new(MemoryRevocationList::new())),
        Some(url) => {
            let pool = oathmesh_core::redis_store::RedisPool::new(
                url,
                std::time::Duration::from_millis(500),
            )?;
            Ok(std::sync::Arc::new(
                oathmesh_core::redis_store::RedisRevocationList::new(pool),
            ))
        }
    }
}
