//! What a successful verification tells the receiving service about its caller.

use crate::wire::token::{Claims, Source};
use serde::Serialize;

/// The verified caller. Field names are snake_case here and in JSON; each binding exposes
/// them in its own case convention.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
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
    /// The policy rule that allowed the call; `None` when no policy is configured.
    pub policy_rule: Option<String>,
}

impl Caller {
    /// Builds the context from claims that passed every step (so required claims exist).
    pub(crate) fn from_claims(claims: &Claims, policy_rule: Option<String>) -> Caller {
        let text = |v: &Option<String>| v.clone().unwrap_or_default();
        Caller {
            issuer: text(&claims.iss),
            subject: text(&claims.sub),
            audience: text(&claims.aud),
            action: text(&claims.act),
            token_id: text(&claims.jti),
            issued_at: claims.iat.unwrap_or_default(),
            expires_at: claims.exp.unwrap_or_default(),
            scope: claims.scope.clone().unwrap_or_default(),
            env: claims.env.clone(),
            tenant: claims.tenant.clone(),
            reason: claims.reason.clone(),
            source: claims.src.clone(),
            delegated_by: claims.delegated_by.clone(),
            policy_rule,
        }
    }

    /// The caller as a JSON object.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("caller serializes")
    }
}
