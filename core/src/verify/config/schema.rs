//! The configuration document's schema (`docs/configuration.md`): what keys exist and their
//! types. Unknown keys are refused at every level, so a typo never silently weakens a check.

use super::testing::TestingDoc;
use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::PathBuf;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ConfigDoc {
    pub(super) audience: String,
    pub(super) trusted_issuers: Vec<String>,
    #[serde(default)]
    pub(super) jwks: Option<Value>,
    #[serde(default)]
    pub(super) jwks_file: Option<PathBuf>,
    #[serde(default)]
    pub(super) public_keys_pem: Option<Vec<String>>,
    #[serde(default)]
    pub(super) issuer_jwks: Option<BTreeMap<String, Value>>,
    #[serde(default)]
    pub(super) leeway: Option<i64>,
    #[serde(default)]
    pub(super) policy: Option<Value>,
    #[serde(default)]
    pub(super) policy_file: Option<PathBuf>,
    #[serde(default)]
    pub(super) require_binding: bool,
    #[serde(default)]
    pub(super) replay_cache: Option<ReplayDoc>,
    #[serde(default)]
    pub(super) revoked_subjects: Vec<String>,
    #[serde(default)]
    pub(super) audit: Option<AuditDoc>,
    #[serde(default)]
    pub(super) testing: Option<TestingDoc>,
    /// Tuning of JWKS fetching (used when no static keys are given).
    #[serde(default)]
    pub(super) jwks_fetch: Option<JwksFetchDoc>,
    /// Shorthand: Redis for the replay cache and the revocation list unless those are given.
    #[serde(default)]
    pub(super) redis_url: Option<String>,
    #[serde(default)]
    pub(super) revocation: Option<RevocationDoc>,
    /// The `pkl` binary for `.pkl` policy files.
    #[serde(default)]
    pub(super) pkl_path: Option<PathBuf>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, tag = "type", rename_all = "lowercase")]
pub(super) enum ReplayDoc {
    Memory {
        #[serde(default)]
        capacity: Option<usize>,
    },
    Redis {
        #[serde(default)]
        url: Option<String>,
        #[serde(default)]
        on_error: OnErrorDoc,
        #[serde(default)]
        timeout_ms: Option<u64>,
        /// Capacity of the in-process cache kept beside Redis.
        #[serde(default)]
        capacity: Option<usize>,
    },
}

#[derive(Debug, Default, Clone, Copy, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(super) enum OnErrorDoc {
    #[default]
    Fallback,
    Reject,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, tag = "type", rename_all = "lowercase")]
pub(super) enum RevocationDoc {
    Redis {
        #[serde(default)]
        url: Option<String>,
        #[serde(default)]
        timeout_ms: Option<u64>,
    },
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(not(feature = "jwks-fetch"), allow(dead_code))]
pub(super) struct JwksFetchDoc {
    #[serde(default)]
    pub(super) freshness_secs: Option<i64>,
    #[serde(default)]
    pub(super) allow_insecure_http: bool,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct AuditDoc {
    #[serde(default)]
    pub(super) stdout: bool,
    #[serde(default)]
    pub(super) file: Option<PathBuf>,
    #[serde(default)]
    pub(super) hmac_key: Option<String>,
    #[serde(default)]
    pub(super) hmac_key_file: Option<PathBuf>,
    /// Accept a key file its group or others can read (refused by default).
    #[serde(default)]
    pub(super) allow_insecure_key_permissions: bool,
    #[serde(default)]
    pub(super) queue_capacity: Option<usize>,
    #[serde(default)]
    pub(super) max_wait_ms: Option<u64>,
    #[serde(default)]
    pub(super) max_file_bytes: Option<u64>,
}
