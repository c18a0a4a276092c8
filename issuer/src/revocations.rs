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
