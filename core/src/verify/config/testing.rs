//! Test doubles reachable from the conformance vectors: a fixed clock, pre-spent token ids and
//! backends that are down.

use crate::keys::source::{KeyLookupError, KeySource};
use crate::state::replay::{BackendError, ReplayCache, ReplayCheck};
use crate::state::revocation::RevocationList;
use serde::Deserialize;

/// Test-only state: a fixed clock and pre-recorded token ids. Conformance vectors use it to
/// pin time and replay state; production configurations never set it.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct TestingDoc {
    #[serde(default)]
    pub(super) now: Option<i64>,
    #[serde(default)]
    pub(super) seen_jtis: Vec<String>,
    /// Backends to treat as down (`jwks`, `revocation`, `replay_cache`), to prove the
    /// pipeline fails closed.
    #[serde(default)]
    pub(super) unavailable: Vec<Backend>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(super) enum Backend {
    Jwks,
    Revocation,
    ReplayCache,
}

/// A backend that is always down: the test double for an outage.
pub(super) struct Unavailable;

impl KeySource for Unavailable {
    fn lookup(&self, _: &str, _: &str) -> Result<crate::keys::PublicKey, KeyLookupError> {
        Err(KeyLookupError::Unavailable(
            "simulated outage (testing.unavailable)".to_owned(),
        ))
    }
}

impl RevocationList for Unavailable {
    fn is_revoked(&self, _: &str) -> Result<bool, BackendError> {
        Err(BackendError(
            "simulated outage (testing.unavailable)".to_owned(),
        ))
    }
}

impl ReplayCache for Unavailable {
    fn check_and_record(&self, _: &str, _: i64, _: i64) -> Result<ReplayCheck, BackendError> {
        Err(BackendError(
            "simulated outage (testing.unavailable)".to_owned(),
        ))
    }
}
