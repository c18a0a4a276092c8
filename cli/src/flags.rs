//! The claim flags `mint`, `token` and `exchange` share, defined once so the three commands
//! spell and document them the same way.

use crate::errors::{CliError, read_file};
use clap::Args;
use oathmesh_core::MintRequest;
use std::path::PathBuf;

/// What every token is for: the receiving service, the action, and a lifetime.
#[derive(Args, Debug, Clone)]
pub struct TargetFlags {
    /// Audience: the receiving service (exact), e.g. https://payments.internal.
    #[arg(long)]
    pub aud: String,
    /// Action the token authorises, e.g. charge.
    #[arg(long)]
    pub act: String,
    /// Lifetime in seconds (clamped to 300; default 120).
    #[arg(long)]
    pub ttl: Option<i64>,
}

/// The claims a caller chooses for itself (`mint`, `token`).
#[derive(Args, Debug, Clone)]
pub struct ClaimFlags {
    /// Subject: the calling identity, e.g. svc://checkout.
    #[arg(long)]
    pub sub: String,
    #[command(flatten)]
    pub target: TargetFlags,
    /// Scopes (repeat the flag or separate with commas); each one word.
    #[arg(long, value_delimiter = ',')]
    pub scope: Vec<String>,
    /// Deployment environment, e.g. prod.
    #[arg(long)]
    pub env: Option<String>,
    /// Tenant the call is made for.
    #[arg(long)]
    pub tenant: Option<String>,
    /// Why the call is made (free text, at most 512 characters, for audit).
    #[arg(long)]
    pub reason: Option<String>,
    /// The user this call is made on behalf of (a user:// subject).
    #[arg(long)]
    pub delegated_by: Option<String>,
}

impl ClaimFlags {
    /// The mint request these flags ask for, bound to `rqh` when given.
    pub fn mint_request(&self, rqh: Option<String>) -> MintRequest {
        MintRequest {
            sub: self.sub.clone(),
            aud: self.target.aud.clone(),
            act: self.target.act.clone(),
            ttl_hint: self.target.ttl,
            scope: (!self.scope.is_empty()).then(|| self.scope.clone()),
            reason: self.reason.clone(),
            env: self.env.clone(),
            tenant: self.tenant.clone(),
            rqh,
            delegated_by: self.delegated_by.clone(),
            ..MintRequest::default()
        }
    }
}

/// Binding the token to one request (docs/protocol.md, "Request binding").
#[derive(Args, Debug, Clone, Default)]
pub struct BindFlags {
    /// Bind the token to this request: its method (with --bind-path, --bind-body-file).
    #[arg(long, requires = "bind_path")]
    pub bind_method: Option<String>,
    /// Path and query of the bound request, exactly as it will be sent.
    #[arg(long, requires = "bind_method")]
    pub bind_path: Option<String>,
    /// Body of the bound request (default: empty).
    #[arg(long, requires = "bind_method")]
    pub bind_body_file: Option<PathBuf>,
}

impl BindFlags {
    /// The request's method, path and body, when the token is to be bound.
    pub fn request(&self) -> Result<Option<(String, String, Vec<u8>)>, CliError> {
        let (Some(method), Some(path)) = (&self.bind_method, &self.bind_path) else {
            return Ok(None);
        };
        let body = match &self.bind_body_file {
            Some(p) => read_file(p, "body")?,
            None => Vec::new(),
        };
        Ok(Some((method.clone(), path.clone(), body)))
    }

    /// The binding hash (`rqh`) of the request, when the token is to be bound.
    pub fn rqh(&self) -> Result<Option<String>, CliError> {
        Ok(self.request()?.map(|(method, path, body)| {
            oathmesh_core::canonical_request_hash(&method, &path, &body)
        }))
    }
}
