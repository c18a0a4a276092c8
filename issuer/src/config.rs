//! Issuer configuration: a TOML file, with secrets overridable from the environment so they
//! need not sit in the file (`OATHMESH_ADMIN_TOKEN_SHA256`,
//! `OATHMESH_CLIENT_<ID>_SECRET_SHA256` with the id upper-cased and `-` as `_`).
//! Every relative path in the file (`key_dir`, the `[tls]` files) is relative to the file's
//! folder. docs/issuer.md lists every key.

use oathmesh_serving::{CertIdentity, LogFormat, TlsSettings};
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// Largest accepted request body.
pub const DEFAULT_MAX_BODY_BYTES: usize = 64 * 1024;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IssuerConfig {
    /// The `iss` of every token, and the base of the JWKS URL receivers fetch.
    pub issuer: String,
    #[serde(default = "default_listen")]
    pub listen: SocketAddr,
    /// Folder of PKCS#8 PEM signing keys; the newest is active, older ones stay published.
    pub key_dir: PathBuf,
    /// Accept private keys (and a key folder) that group or others can access. Off: such a
    /// key is refused at start with the `chmod` to run.
    #[serde(default)]
    pub allow_readable_private_keys: bool,
    /// SHA-256 (hex) of the admin bearer token for `/v1/admin/*`. No admin API without it.
    #[serde(default)]
    pub admin_token_sha256: Option<String>,
    /// SHA-256 (hex) of a bearer token `/metrics` then requires (open when absent).
    #[serde(default)]
    pub metrics_token_sha256: Option<String>,
    /// SHA-256 (hex) of a bearer token `/v1/revoked-subjects` then requires (open when
    /// absent: receivers poll it).
    #[serde(default)]
    pub revoked_subjects_token_sha256: Option<String>,
    #[serde(default = "default_max_body")]
    pub max_body_bytes: usize,
    /// Shared revocation list (`oathmesh:revocations`) in Redis; in memory when absent.
    #[serde(default)]
    pub redis_url: Option<String>,
    /// Seconds between checks of `key_dir` for rotated keys (SIGHUP also reloads).
    #[serde(default = "default_key_poll")]
    pub key_poll_secs: u64,
    #[serde(default)]
    pub clients: Vec<ClientConfig>,
    /// The CI OIDC exchange: `[exchange.github]`, `[exchange.gitlab]` (docs/protocol.md, CI
    /// OIDC exchange).
    #[serde(default)]
    pub exchange: crate::exchange::ExchangeConfig,
    /// TLS on the listener (and on `metrics_listen`); plain HTTP when absent.
    #[serde(default)]
    pub tls: Option<TlsSettings>,
    /// Serve `/metrics` on this address only (not on `listen`).
    #[serde(default)]
    pub metrics_listen: Option<SocketAddr>,
    /// `text` or `json` log lines on stderr.
    #[serde(default)]
    pub log_format: LogFormat,
    /// Longest wait for a request head (and a TLS handshake), from the moment a connection
    /// waits for one: cuts off slow heads and idle keep-alive connections.
    #[serde(default = "default_header_read_timeout")]
    pub header_read_timeout_ms: u64,
    /// Longest wait for a whole request body once its head has arrived.
    #[serde(default = "default_body_read_timeout")]
    pub body_read_timeout_ms: u64,
    /// Open connections per listener; beyond it a connection gets one 503 and is closed.
    #[serde(default = "default_max_connections")]
    pub max_connections: usize,
    /// Requests one keep-alive connection may carry; the last is answered with
    /// `Connection: close`.
    #[serde(default = "default_keep_alive_max_requests")]
    pub keep_alive_max_requests: u64,
    /// How long in-flight requests may run after SIGTERM.
    #[serde(default = "default_shutdown_grace")]
    pub shutdown_grace_ms: u64,
}

fn default_listen() -> SocketAddr {
    "127.0.0.1:4000".parse().expect("valid address")
}
fn default_max_body() -> usize {
    DEFAULT_MAX_BODY_BYTES
}
fn default_key_poll() -> u64 {
    2
}
/// The gateway's default: 10 s for a request head.
pub const DEFAULT_HEADER_READ_TIMEOUT_MS: u64 = 10_000;
pub const DEFAULT_BODY_READ_TIMEOUT_MS: u64 = 10_000;
pub const DEFAULT_MAX_CONNECTIONS: usize = 1024;
pub const DEFAULT_KEEP_ALIVE_MAX_REQUESTS: u64 = 1000;
fn default_header_read_timeout() -> u64 {
    DEFAULT_HEADER_READ_TIMEOUT_MS
}
fn default_body_read_timeout() -> u64 {
    DEFAULT_BODY_READ_TIMEOUT_MS
}
fn default_max_connections() -> usize {
    DEFAULT_MAX_CONNECTIONS
}
fn default_keep_alive_max_requests() -> u64 {
    DEFAULT_KEEP_ALIVE_MAX_REQUESTS
}
fn default_shutdown_grace() -> u64 {
    10_000
}

/// One caller of the issuer, with its own credential and allow-list.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientConfig {
    pub id: String,
    /// SHA-256 (hex) of the client secret (a random 32-byte value, so a fast hash suffices:
    /// there is nothing to brute-force). Sent as HTTP Basic `id:secret`.
    #[serde(default)]
    pub secret_sha256: Option<String>,
    /// Ed25519 SPKI PEM public key; the client signs a short assertion instead of sending a
    /// secret.
    #[serde(default)]
    pub public_key_pem: Option<String>,
    /// RFC 8705 `tls_client_auth`: the client presents a certificate (chaining to
    /// `tls.client_ca_file`) whose subject DN (RFC 4514) is exactly this.
    #[serde(default)]
    pub tls_client_auth_subject_dn: Option<String>,
    /// ... or whose SAN dNSName is this.
    #[serde(default)]
    pub tls_client_auth_san_dns: Option<String>,
    /// ... or whose SAN URI is this (a SPIFFE id, say).
    #[serde(default)]
    pub tls_client_auth_san_uri: Option<String>,
    /// ... or whose SAN iPAddress is this.
    #[serde(default)]
    pub tls_client_auth_san_ip: Option<String>,
    /// ... or whose SAN rfc822Name is this.
    #[serde(default)]
    pub tls_client_auth_san_email: Option<String>,
    /// Patterns (`*` globs) of subjects this client may mint.
    pub allowed_sub: Vec<String>,
    pub allowed_aud: Vec<String>,
    pub allowed_act: Vec<String>,
    /// The identity-bearing optional claims are deny-by-default (docs/issuer.md): a client
    /// may put an `env`, `tenant`, `scope` item or `delegated_by` subject in a token only
    /// when one of these patterns (`*` globs) allows the value. Empty: never.
    #[serde(default)]
    pub allowed_env: Vec<String>,
    #[serde(default)]
    pub allowed_tenant: Vec<String>,
    #[serde(default)]
    pub allowed_scope: Vec<String>,
    #[serde(default)]
    pub allowed_delegated_by: Vec<String>,
    /// Sustained mints per second.
    #[serde(default = "default_rate")]
    pub rate_per_sec: f64,
    /// Largest burst above the sustained rate.
    #[serde(default = "default_burst")]
    pub burst: f64,
}

fn default_rate() -> f64 {
    100.0
}
fn default_burst() -> f64 {
    200.0
}

type Parse = fn(&str) -> Result<CertIdentity, oathmesh_serving::client_identity::IdentityError>;

impl ClientConfig {
    /// The certificate name this client authenticates with, if it uses `tls_client_auth`.
    /// Errors name the key.
    pub fn certificate_identity(&self) -> Result<Option<CertIdentity>, ConfigError> {
        let candidates = [
            (
                "tls_client_auth_subject_dn",
                &self.tls_client_auth_subject_dn,
                CertIdentity::subject_dn as Parse,
            ),
            (
                "tls_client_auth_san_dns",
                &self.tls_client_auth_san_dns,
                CertIdentity::san_dns,
            ),
            (
                "tls_client_auth_san_uri",
                &self.tls_client_auth_san_uri,
                CertIdentity::san_uri,
            ),
            (
                "tls_client_auth_san_ip",
                &self.tls_client_auth_san_ip,
                CertIdentity::san_ip,
            ),
            (
                "tls_client_auth_san_email",
                &self.tls_client_auth_san_email,
                CertIdentity::san_email,
            ),
        ];
        let given: Vec<_> = candidates
            .into_iter()
            .filter_map(|(key, value, parse)| value.as_ref().map(|v| (key, v, parse)))
            .collect();
        match given.as_slice() {
            [] => Ok(None),
            [(key, value, parse)] => parse(value)
                .map(Some)
                .map_err(|e| ConfigError(format!("client {}: {key}: {e}", self.id))),
            _ => Err(ConfigError(format!(
                "client {}: give one tls_client_auth_* name, not {}",
                self.id,
                given.len()
            ))),
        }
    }
}

/// Why a configuration cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("issuer config: {0}")]
pub struct ConfigError(pub String);

fn is_sha256_hex(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The environment variable that overrides a client's `secret_sha256`. Distinct ids can map
/// to one name (`deploy-bot`, `deploy_bot`, `Deploy.Bot`); `validate` refuses that.
pub fn env_name(client_id: &str) -> String {
    let id: String = client_id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect();
    format!("OATHMESH_CLIENT_{id}_SECRET_SHA256")
}

impl IssuerConfig {
    pub fn from_toml(text: &str) -> Result<IssuerConfig, ConfigError> {
        let mut config: IssuerConfig =
            toml::from_str(text).map_err(|e| ConfigError(e.to_string()))?;
        config.apply_env(|name| std::env::var(name).ok());
        config.validate()?;
        Ok(config)
    }

    pub fn from_file(path: &Path) -> Result<IssuerConfig, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| ConfigError(format!("cannot read {}: {e}", path.display())))?;
        let mut config = IssuerConfig::from_toml(&text)?;
        config.resolve_paths(&oathmesh_serving::paths::folder_of(path));
        Ok(config)
    }

    /// Makes every relative path absolute against `base_dir` (the config file's folder).
    pub fn resolve_paths(&mut self, base_dir: &Path) {
        oathmesh_serving::paths::resolve(base_dir, &mut self.key_dir);
        if let Some(tls) = &mut self.tls {
            tls.resolve_paths(base_dir);
        }
    }

    fn apply_env(&mut self, get: impl Fn(&str) -> Option<String>) {
        if let Some(admin) = get("OATHMESH_ADMIN_TOKEN_SHA256") {
            self.admin_token_sha256 = Some(admin);
        }
        for client in &mut self.clients {
            if let Some(secret) = get(&env_name(&client.id)) {
                client.secret_sha256 = Some(secret);
            }
        }
    }

    fn validate(&self) -> Result<(), ConfigError> {
        if self.issuer.is_empty() {
            return Err(ConfigError("issuer: must be the issuer URL".into()));
        }
        for (key, hash) in [
            ("admin_token_sha256", &self.admin_token_sha256),
            ("metrics_token_sha256", &self.metrics_token_sha256),
            (
                "revoked_subjects_token_sha256",
                &self.revoked_subjects_token_sha256,
            ),
        ] {
            if hash.as_deref().is_some_and(|h| !is_sha256_hex(h)) {
                return Err(ConfigError(format!("{key}: must be 64 hex digits")));
            }
        }
        for kind in [
            crate::exchange::ProviderKind::Github,
            crate::exchange::ProviderKind::Gitlab,
        ] {
            if let Some(provider) = self.exchange.provider(kind) {
                provider.validate(kind)?;
            }
        }
        for (key, value) in [
            ("header_read_timeout_ms", self.header_read_timeout_ms),
            ("body_read_timeout_ms", self.body_read_timeout_ms),
            ("max_connections", self.max_connections as u64),
            ("keep_alive_max_requests", self.keep_alive_max_requests),
        ] {
            if value == 0 {
                return Err(ConfigError(format!("{key}: must be at least 1")));
            }
        }
        refuse_env_name_collisions(&self.clients)?;
        let mut ids = std::collections::HashSet::new();
        let mut certificate_names = std::collections::HashSet::new();
        for (i, c) in self.clients.iter().enumerate() {
            let at = format!("clients[{i}] ({})", c.id);
            if c.id.is_empty() || c.id.contains(':') {
                return Err(ConfigError(format!("{at}.id: non-empty, without ':'")));
            }
            if !ids.insert(c.id.as_str()) {
                return Err(ConfigError(format!("{at}.id: duplicate client id")));
            }
            let certificate = c.certificate_identity()?;
            match (&c.secret_sha256, &c.public_key_pem, &certificate) {
                (Some(h), None, None) if is_sha256_hex(h) => {}
                (Some(_), None, None) => {
                    return Err(ConfigError(format!(
                        "{at}.secret_sha256: must be 64 hex digits"
                    )));
                }
                (None, Some(_), None) | (None, None, Some(_)) => {}
                _ => {
                    return Err(ConfigError(format!(
                        "{at}: give exactly one credential, secret_sha256 (or {}), public_key_pem or one tls_client_auth_* name",
                        env_name(&c.id)
                    )));
                }
            }
            if let Some(name) = certificate {
                if self
                    .tls
                    .as_ref()
                    .and_then(|t| t.client_ca_file.as_ref())
                    .is_none()
                {
                    return Err(ConfigError(format!(
                        "{at}: tls_client_auth needs [tls] with client_ca_file (the CAs client certificates must chain to)"
                    )));
                }
                if !certificate_names.insert(format!("{name:?}")) {
                    return Err(ConfigError(format!(
                        "{at}: another client already authenticates with this certificate name"
                    )));
                }
            }
            if c.allowed_sub.is_empty() || c.allowed_aud.is_empty() || c.allowed_act.is_empty() {
                return Err(ConfigError(format!(
                    "{at}: allowed_sub, allowed_aud and allowed_act must each list at least one pattern"
                )));
            }
            if !(c.rate_per_sec > 0.0 && c.burst >= 1.0) {
                return Err(ConfigError(format!(
                    "{at}: rate_per_sec must be > 0 and burst >= 1"
                )));
            }
        }
        Ok(())
    }
}

/// Two clients whose ids map to one override variable would share a secret through the
/// environment: setting it for one silently changes the other. Refused, naming both.
fn refuse_env_name_collisions(clients: &[ClientConfig]) -> Result<(), ConfigError> {
    let mut seen: std::collections::HashMap<String, &str> = std::collections::HashMap::new();
    for c in clients {
        let name = env_name(&c.id);
        if let Some(other) = seen.get(name.as_str())
            && *other != c.id
        {
            return Err(ConfigError(format!(
                "clients `{other}` and `{}` both take their secret override from {name}; rename one of them so each client id maps to its own variable",
                c.id
            )));
        }
        seen.insert(name, c.id.as_str());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = r#"
issuer = "https://issuer.test"
key_dir = "keys"

[[clients]]
id = "checkout"
secret_sha256 = "0000000000000000000000000000000000000000000000000000000000000000"
allowed_sub = ["svc://checkout"]
allowed_aud = ["https://*.internal"]
allowed_act = ["charge"]
"#;

    #[test]
    fn parses_and_defaults() {
        let c = IssuerConfig::from_toml(BASE).unwrap();
        assert_eq!(c.max_body_bytes, 64 * 1024);
        assert_eq!(c.clients[0].burst, 200.0);
    }

    #[test]
    fn env_overrides_secrets() {
        let mut c: IssuerConfig = toml::from_str(BASE).unwrap();
        let hash = "ab".repeat(32);
        c.apply_env(|name| {
            (name == "OATHMESH_CLIENT_CHECKOUT_SECRET_SHA256").then(|| hash.clone())
        });
        assert_eq!(c.clients[0].secret_sha256.as_deref(), Some(hash.as_str()));
    }

    #[test]
    fn refuses_bad_configs() {
        for (edit, want) in [
            (BASE.replace("secret_sha256 = \"0000000000000000000000000000000000000000000000000000000000000000\"", ""), "exactly one credential"),
            (BASE.replace("allowed_act = [\"charge\"]", "allowed_act = []"), "allowed_act"),
            (format!("{BASE}\nunknown = 1"), "unknown"),
            (BASE.replace("0000000000000000000000000000000000000000000000000000000000000000", "short"), "64 hex"),
        ] {
            let err = IssuerConfig::from_toml(&edit).unwrap_err().to_string();
            assert!(err.contains(want), "{err}");
        }
    }
}
