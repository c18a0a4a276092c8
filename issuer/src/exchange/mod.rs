//! The CI OIDC exchange (docs/protocol.md, "CI OIDC exchange"): a GitHub Actions or GitLab CI job sends its
//! provider's ID token to `POST /v1/exchange/{github,gitlab}` and receives an Oath Token for
//! `job://github/<repository>/<workflow file>` or `job://gitlab/<project_path>`. No client
//! secret: the ID token, signed by the provider and verified against its JWKS, is the
//! credential.
//!
//! Order of checks: body (64 KiB, strict JSON) -> ID token ([`id_token`]: alg, kid,
//! signature, iss, aud, times) -> identity ([`identity`]) -> rules ([`rules`]) ->
//! per-identity rate limit -> revocation -> mint -> single use of the ID token. Single use is
//! recorded last, so a refused request (wrong `act`, say) does not burn the ID token.

pub mod client;
pub mod config;
mod handler;
pub mod id_token;
pub mod identity;
pub mod local_provider;
pub mod provider_keys;
pub mod rules;
pub mod subject;

pub use config::{ExchangeConfig, ProviderConfig, ProviderKind, RuleConfig};
pub(crate) use handler::exchange;

use oathmesh_core::{BackendError, Clock, ReplayCheck};
use provider_keys::ProviderKeys;
use serde::Deserialize;
use std::sync::Arc;

/// What a CI job sends.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExchangeRequest {
    pub id_token: String,
    pub aud: String,
    pub act: String,
    #[serde(default)]
    pub ttl_hint: Option<i64>,
    #[serde(default)]
    pub rqh: Option<String>,
}

impl ExchangeRequest {
    /// Strict: duplicate keys, unknown keys and wrong types are refused.
    pub fn from_json(bytes: &[u8]) -> Result<ExchangeRequest, RequestError> {
        let value = oathmesh_core::strict_json::parse(bytes)
            .map_err(|e| RequestError::Shape(format!("not valid JSON: {e}")))?;
        let request: ExchangeRequest =
            serde_json::from_value(value).map_err(|e| RequestError::Shape(e.to_string()))?;
        if request.aud.is_empty() {
            return Err(RequestError::Claim("aud", "`aud` must not be empty"));
        }
        if !oathmesh_core::claims::is_valid_action(&request.act) {
            return Err(RequestError::Claim(
                "act",
                "`act` must be 1 to 128 characters without whitespace",
            ));
        }
        if request
            .rqh
            .as_deref()
            .is_some_and(|r| !oathmesh_core::claims::is_valid_rqh(r))
        {
            return Err(RequestError::Claim(
                "rqh",
                "`rqh` must be sha256: and 64 lowercase hex digits",
            ));
        }
        Ok(request)
    }
}

/// Why an exchange request body is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    /// Not the documented JSON object (`invalid_request`).
    #[error("{0}")]
    Shape(String),
    /// A claim the job asked for breaks its rule (`claim_invalid:<claim>`).
    #[error("{1}")]
    Claim(&'static str, &'static str),
}

/// One configured provider, ready to verify.
pub struct Provider {
    pub kind: ProviderKind,
    pub config: ProviderConfig,
    /// The exact `iss` expected.
    pub issuer: String,
    /// The exact `aud` expected.
    pub audience: String,
    pub keys: ProviderKeys,
}

/// Every configured provider.
pub struct Exchanger {
    github: Option<Provider>,
    gitlab: Option<Provider>,
}

/// How many exchanged ID-token ids one provider may have remembered in memory at once.
const EXCHANGED_CAPACITY: usize = 1_000_000;

impl Exchanger {
    pub fn new(
        config: &ExchangeConfig,
        issuer_url: &str,
        clock: Arc<dyn Clock>,
    ) -> Result<Exchanger, crate::config::ConfigError> {
        let build = |kind: ProviderKind| -> Result<Option<Provider>, crate::config::ConfigError> {
            let Some(c) = config.provider(kind) else {
                return Ok(None);
            };
            c.validate(kind)?;
            Ok(Some(Provider {
                kind,
                issuer: c.issuer_or_default(kind).to_owned(),
                audience: c.audience_or(issuer_url).to_owned(),
                keys: ProviderKeys::new(
                    c.jwks_url_or_default(kind),
                    c.jwks_freshness_secs,
                    clock.clone(),
                ),
                config: c.clone(),
            }))
        };
        Ok(Exchanger {
            github: build(ProviderKind::Github)?,
            gitlab: build(ProviderKind::Gitlab)?,
        })
    }

    pub fn provider(&self, kind: ProviderKind) -> Option<&Provider> {
        match kind {
            ProviderKind::Github => self.github.as_ref(),
            ProviderKind::Gitlab => self.gitlab.as_ref(),
        }
    }

    /// Records in `store` that an ID token was exchanged; `Replayed` if it already was. The
    /// record lives through `until` (the ID token's `exp` + leeway), one partition per
    /// provider.
    fn record_use(
        &self,
        store: &dyn crate::single_use::SingleUseStore,
        kind: ProviderKind,
        replay_key: &str,
        until: i64,
        now: i64,
    ) -> Result<ReplayCheck, BackendError> {
        let partition = format!("exchange:{}", kind.name());
        store.record(
            &partition,
            replay_key,
            until.max(now),
            now,
            EXCHANGED_CAPACITY,
        )
    }
}
