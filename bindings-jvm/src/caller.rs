//! The verified caller, as a uniffi record (a Kotlin data class).

/// Where a CI-minted identity came from (`src`).
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct Source {
    pub kind: Option<String>,
    pub repo: Option<String>,
    pub workflow: Option<String>,
    pub run_id: Option<String>,
    pub sha: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct Caller {
    pub issuer: String,
    pub subject: String,
    pub audience: String,
    pub action: String,
    pub token_id: String,
    /// Unix seconds.
    pub issued_at: i64,
    /// Unix seconds.
    pub expires_at: i64,
    pub scope: Vec<String>,
    pub env: Option<String>,
    pub tenant: Option<String>,
    pub reason: Option<String>,
    pub source: Option<Source>,
    pub delegated_by: Option<String>,
    pub policy_rule: Option<String>,
}

impl From<oathmesh_core::Caller> for Caller {
    fn from(c: oathmesh_core::Caller) -> Self {
        Caller {
            issuer: c.issuer,
            subject: c.subject,
            audience: c.audience,
            action: c.action,
            token_id: c.token_id,
            issued_at: c.issued_at,
            expires_at: c.expires_at,
            scope: c.scope,
            env: c.env,
            tenant: c.tenant,
            reason: c.reason,
            source: c.source.map(|s| Source {
                kind: s.kind,
                repo: s.repo,
                workflow: s.workflow,
                run_id: s.run_id,
                sha: s.sha,
            }),
            delegated_by: c.delegated_by,
            policy_rule: c.policy_rule,
        }
    }
}
