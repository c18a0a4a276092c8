//! Revocation by subject (PROTOCOL §7): a revoked subject's tokens are refused at step 13.5
//! for as long as the revocation stands.

use crate::state::replay::BackendError;
use std::collections::BTreeMap;
use std::sync::RwLock;

/// Answers whether a subject is revoked. Errors fail closed (`revocation_unavailable`).
pub trait RevocationList: Send + Sync {
    fn is_revoked(&self, subject: &str) -> Result<bool, BackendError>;
}

/// An in-process revocation list: subject to RFC 3339 revocation time.
#[derive(Debug, Default)]
pub struct MemoryRevocationList {
    entries: RwLock<BTreeMap<String, String>>,
}

impl MemoryRevocationList {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn revoke(&self, subject: &str, revoked_at_rfc3339: &str) {
        self.write()
            .insert(subject.to_owned(), revoked_at_rfc3339.to_owned());
    }

    /// Lifts a revocation; true when there was one.
    pub fn unrevoke(&self, subject: &str) -> bool {
        self.write().remove(subject).is_some()
    }

    /// `(subject, revoked_at)` pairs, sorted by subject.
    pub fn list(&self) -> Vec<(String, String)> {
        self.entries
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .map(|(s, t)| (s.clone(), t.clone()))
            .collect()
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, BTreeMap<String, String>> {
        self.entries.write().unwrap_or_else(|p| p.into_inner())
    }
}

impl RevocationList for MemoryRevocationList {
    fn is_revoked(&self, subject: &str) -> Result<bool, BackendError> {
        Ok(self
            .entries
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .contains_key(subject))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn revoke_list_unrevoke() {
        let list = MemoryRevocationList::new();
        assert!(!list.is_revoked("svc://a").unwrap());
        list.revoke("svc://a", "2026-01-01T00:00:00Z");
        assert!(list.is_revoked("svc://a").unwrap());
        assert!(!list.is_revoked("svc://ab").unwrap());
        assert_eq!(
            list.list(),
            vec![("svc://a".to_owned(), "2026-01-01T00:00:00Z".to_owned())]
        );
        assert!(list.unrevoke("svc://a"));
        assert!(!list.unrevoke("svc://a"));
        assert!(!list.is_revoked("svc://a").unwrap());
    }
}
