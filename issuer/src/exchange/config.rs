//! `[exchange.github]` and `[exchange.gitlab]` in the issuer TOML: where each provider's keys
//! are, which audience its ID tokens must carry, and the rules saying which CI jobs may
//! exchange for which `aud` and `act`. A provider without a section cannot exchange at all.

use crate::config::ConfigError;
use serde::Deserialize;

/// Which CI provider an ID token comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProviderKind {
    Github,
    Gitlab,
}

impl ProviderKind {
    pub fn parse(name: &str) -> Option<ProviderKind> {
        match name {
            "github" => Some(ProviderKind::Github),
            "gitlab" => Some(ProviderKind::Gitlab),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            ProviderKind::Github => "github",
            ProviderKind::Gitlab => "gitlab",
        }
    }

    /// The rule fields naming the job's immutable owner and repository ids.
    pub fn id_fields(self) -> (&'static str, &'static str) {
        match self {
            ProviderKind::Github => ("repository_owner_id", "repository_id"),
            ProviderKind::Gitlab => ("namespace_id", "project_id"),
        }
    }

    /// The rule field naming the job's repository (GitHub) or project (GitLab).
    pub fn repository_field(self) -> &'static str {
        match self {
            ProviderKind::Github => "repository",
            ProviderKind::Gitlab => "project",
        }
    }

    pub fn default_issuer(self) -> &'static str {
        match self {
            ProviderKind::Github => "https://token.actions.githubusercontent.com",
            ProviderKind::Gitlab => "https://gitlab.com",
        }
    }

    pub fn default_jwks_url(self) -> &'static str {
        match self {
            ProviderKind::Github => "https://token.actions.githubusercontent.com/.well-known/jwks",
            ProviderKind::Gitlab => "https://gitlab.com/oauth/discovery/keys",
        }
    }
}

/// Both providers; either may be absent.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExchangeConfig {
    #[serde(default)]
    pub github: Option<ProviderConfig>,
    #[serde(default)]
    pub gitlab: Option<ProviderConfig>,
}

impl ExchangeConfig {
    pub fn provider(&self, kind: ProviderKind) -> Option<&ProviderConfig> {
        match kind {
            ProviderKind::Github => self.github.as_ref(),
            ProviderKind::Gitlab => self.gitlab.as_ref(),
        }
    }
}

/// Clock skew allowed on `exp`, `iat` and `nbf` unless configured.
pub const DEFAULT_LEEWAY_SECS: i64 = 60;
/// Largest accepted leeway: beyond this an expired token is simply accepted.
pub const MAX_LEEWAY_SECS: i64 = 300;

/// One provider.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderConfig {
    /// The exact `iss` of the provider's ID tokens (default: the public provider; set it for
    /// GitHub Enterprise Server or a self-managed GitLab).
    #[serde(default)]
    pub issuer: Option<String>,
    /// Where the provider publishes its RS256 keys (default: the public provider's JWKS).
    #[serde(default)]
    pub jwks_url: Option<String>,
    /// The `aud` every ID token must carry (default: this issuer's URL). GitHub jobs ask for it
    /// with `audience=`, GitLab jobs with `id_tokens: NAME: aud:`.
    #[serde(default)]
    pub audience: Option<String>,
    #[serde(default = "default_leeway")]
    pub leeway_secs: i64,
    /// How long fetched provider keys are used before they are fetched again.
    #[serde(default = "default_freshness")]
    pub jwks_freshness_secs: i64,
    /// Allow a plain-http `jwks_url` to a host that is not loopback (never in production).
    #[serde(default)]
    pub allow_insecure_http: bool,
    /// Exchanges per second sustained for one CI identity (subject), and the burst above it.
    #[serde(default = "default_rate")]
    pub rate_per_sec: f64,
    #[serde(default = "default_burst")]
    pub burst: f64,
    pub rules: Vec<RuleConfig>,
}

fn default_leeway() -> i64 {
    DEFAULT_LEEWAY_SECS
}
fn default_freshness() -> i64 {
    300
}
fn default_rate() -> f64 {
    10.0
}
fn default_burst() -> f64 {
    20.0
}

/// One exchange rule: a job matching every field may exchange. Every value is a `*` glob.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleConfig {
    /// GitHub `repository` (`owner/name`).
    #[serde(default)]
    pub repository: Option<String>,
    /// GitLab `project_path` (`group/subgroup/project`).
    #[serde(default)]
    pub project: Option<String>,
    /// GitHub `repository_owner_id`, exact. Names can be re-registered after a rename or a
    /// deletion; ids cannot, so a rule names at least the owner's (or the repository's) id
    /// unless `allow_mutable_names` says the names alone are trusted.
    #[serde(default)]
    pub repository_owner_id: Option<String>,
    /// GitHub `repository_id`, exact.
    #[serde(default)]
    pub repository_id: Option<String>,
    /// GitLab `namespace_id`, exact.
    #[serde(default)]
    pub namespace_id: Option<String>,
    /// GitLab `project_id`, exact.
    #[serde(default)]
    pub project_id: Option<String>,
    /// Match on names only (the pre-0.2 behaviour): whoever re-registers a deleted or
    /// renamed owner, repository or group inherits the rule.
    #[serde(default)]
    pub allow_mutable_names: bool,
    /// GitHub only: workflow file names (`deploy.yml`). Absent: any workflow.
    #[serde(default)]
    pub workflows: Option<Vec<String>>,
    /// Full refs (`refs/heads/main`, `refs/tags/v*`). Required: `["*"]` says "any ref" out loud.
    pub refs: Vec<String>,
    /// Deployment environments. Absent: any, including none; present: the job must run in
    /// one of them.
    #[serde(default)]
    pub environments: Option<Vec<String>>,
    /// Audiences the Oath Token may be for.
    pub aud: Vec<String>,
    /// Actions the Oath Token may carry.
    pub act: Vec<String>,
}

impl ProviderConfig {
    pub fn issuer_or_default(&self, kind: ProviderKind) -> &str {
        self.issuer.as_deref().unwrap_or(kind.default_issuer())
    }

    pub fn jwks_url_or_default(&self, kind: ProviderKind) -> &str {
        self.jwks_url.as_deref().unwrap_or(kind.default_jwks_url())
    }

    pub fn audience_or<'a>(&'a self, issuer_url: &'a str) -> &'a str {
        self.audience.as_deref().unwrap_or(issuer_url)
    }

    /// Refuses configurations that would make the exchange unsafe or unusable.
    pub fn validate(&self, kind: ProviderKind) -> Result<(), ConfigError> {
        let at = format!("exchange.{}", kind.name());
        let err = |message: String| Err(ConfigError(message));
        if self.issuer.as_deref().is_some_and(str::is_empty)
            || self.audience.as_deref().is_some_and(str::is_empty)
        {
            return err(format!("{at}: issuer and audience must not be empty"));
        }
        if !(0..=MAX_LEEWAY_SECS).contains(&self.leeway_secs) {
            return err(format!(
                "{at}.leeway_secs: must be between 0 and {MAX_LEEWAY_SECS}"
            ));
        }
        if !(1..=86_400).contains(&self.jwks_freshness_secs) {
            return err(format!(
                "{at}.jwks_freshness_secs: must be between 1 and 86400"
            ));
        }
        if !(self.rate_per_sec > 0.0 && self.burst >= 1.0) {
            return err(format!("{at}: rate_per_sec must be > 0 and burst >= 1"));
        }
        crate::exchange::provider_keys::check_url(
            self.jwks_url_or_default(kind),
            self.allow_insecure_http,
        )
        .map_err(|e| ConfigError(format!("{at}.jwks_url: {e}")))?;
        if self.rules.is_empty() {
            return err(format!(
                "{at}.rules: list at least one rule, or remove the section to disable the exchange"
            ));
        }
        for (i, rule) in self.rules.iter().enumerate() {
            rule.validate(kind)
                .map_err(|e| ConfigError(format!("{at}.rules[{i}]: {e}")))?;
        }
        Ok(())
    }
}

impl RuleConfig {
    /// The owner id this rule requires, for `kind`.
    pub fn owner_id(&self, kind: ProviderKind) -> Option<&str> {
        match kind {
            ProviderKind::Github => self.repository_owner_id.as_deref(),
            ProviderKind::Gitlab => self.namespace_id.as_deref(),
        }
    }

    /// The repository (project) id this rule requires, for `kind`.
    pub fn repository_id(&self, kind: ProviderKind) -> Option<&str> {
        match kind {
            ProviderKind::Github => self.repository_id.as_deref(),
            ProviderKind::Gitlab => self.project_id.as_deref(),
        }
    }

    /// The repository (GitHub) or project (GitLab) pattern.
    pub fn repository_pattern(&self) -> &str {
        self.repository
            .as_deref()
            .or(self.project.as_deref())
            .unwrap_or_default()
    }

    /// The message says what is wrong; the caller adds where (`exchange.github.rules[0]`).
    fn validate(&self, kind: ProviderKind) -> Result<(), RuleError> {
        let (wanted, other) = match kind {
            ProviderKind::Github => (&self.repository, &self.project),
            ProviderKind::Gitlab => (&self.project, &self.repository),
        };
        if other.is_some() {
            return Err(RuleError(format!(
                "{kind} rules name the job with `{field}`",
                kind = kind.name(),
                field = kind.repository_field()
            )));
        }
        if wanted.as_deref().is_none_or(str::is_empty) {
            return Err(RuleError(format!(
                "`{}` is required",
                kind.repository_field()
            )));
        }
        let (ids, foreign, names) = match kind {
            ProviderKind::Github => (
                [&self.repository_owner_id, &self.repository_id],
                [&self.namespace_id, &self.project_id],
                "`repository_owner_id` (or `repository_id`)",
            ),
            ProviderKind::Gitlab => (
                [&self.namespace_id, &self.project_id],
                [&self.repository_owner_id, &self.repository_id],
                "`namespace_id` (or `project_id`)",
            ),
        };
        if foreign.iter().any(|id| id.is_some()) {
            return Err(RuleError(format!(
                "{} rules name ids with {names}",
                kind.name()
            )));
        }
        if ids.iter().any(|id| id.as_deref() == Some("")) {
            return Err(RuleError("ids must not be empty".into()));
        }
        if ids.iter().all(|id| id.is_none()) && !self.allow_mutable_names {
            return Err(RuleError(format!(
                "name the immutable {names} from the ID token: names can be re-registered by someone else after a rename or deletion (or set allow_mutable_names = true to trust names alone)"
            )));
        }
        if kind == ProviderKind::Gitlab && self.workflows.is_some() {
            return Err(RuleError("`workflows` is GitHub only".into()));
        }
        let lists: [(&str, Option<&Vec<String>>); 5] = [
            ("refs", Some(&self.refs)),
            ("aud", Some(&self.aud)),
            ("act", Some(&self.act)),
            ("environments", self.environments.as_ref()),
            ("workflows", self.workflows.as_ref()),
        ];
        for (name, list) in lists {
            if let Some(list) = list
                && (list.is_empty() || list.iter().any(String::is_empty))
            {
                return Err(RuleError(format!(
                    "`{name}` must list at least one non-empty pattern (use [\"*\"] for any)"
                )));
            }
        }
        Ok(())
    }
}

/// What is wrong with one exchange rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct RuleError(pub String);
