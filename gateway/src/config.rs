//! Gateway configuration: a TOML file, then `OATHMESH_GATEWAY_*` environment overrides.
//! docs/gateway.md lists every key.
//!
//! The verifier itself is configured by the core's one JSON document (docs/configuration.md),
//! given inline as a `[verifier]` table, as JSON text, or as a file path. The gateway passes it
//! through (after making its relative paths absolute), so JWKS fetching, Redis replay and
//! revocation, and policy reload all work exactly as they do in every binding.
//!
//! Relative paths: in the TOML file they are relative to the TOML file's folder; inside a
//! `verifier_file` they are relative to that file's folder.

use http::Uri;
use oathmesh_serving::tls::ClientTlsSettings;
use oathmesh_serving::{LogFormat, TlsSettings};
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Prefix of every environment override: `OATHMESH_GATEWAY_LISTEN`, `..._UPSTREAM`, ...
pub const ENV_PREFIX: &str = "OATHMESH_GATEWAY_";

/// Defaults, chosen so a misbehaving caller or upstream cannot pin much memory or time.
pub mod defaults {
    pub const LISTEN: &str = "127.0.0.1:8080";
    /// Bodies are buffered only to check a request binding; larger bound bodies get 413.
    pub const MAX_BODY_BYTES: usize = 1024 * 1024;
    pub const UPSTREAM_CONNECT_TIMEOUT_MS: u64 = 2_000;
    pub const UPSTREAM_TIMEOUT_MS: u64 = 30_000;
    pub const MAX_HEADERS: usize = 100;
    pub const MAX_HEADER_BYTES: usize = 32 * 1024;
    pub const MAX_URI_BYTES: usize = 8 * 1024;
    pub const HEADER_READ_TIMEOUT_MS: u64 = 10_000;
    pub const SHUTDOWN_GRACE_MS: u64 = 10_000;
}

/// Everything the gateway needs to run. Build it with [`GatewayConfig::from_toml_file`],
/// [`GatewayConfig::from_toml_str`], or [`GatewayConfig::new`] plus field updates.
#[derive(Debug, Clone)]
pub struct GatewayConfig {
    /// Where the gateway listens (`127.0.0.1:0` picks a free port).
    pub listen: SocketAddr,
    /// The upstream base URL: `http://host:port`, optionally with a path prefix.
    pub upstream: Uri,
    /// The core's verifier configuration document (JSON bytes), passed through unchanged.
    pub verifier_json: Vec<u8>,
    /// Largest body buffered to check a request binding (`rqh`); larger gets 413.
    pub max_body_bytes: usize,
    pub upstream_connect_timeout: Duration,
    /// From sending the request to receiving the upstream's response head; then 504.
    pub upstream_timeout: Duration,
    /// Most request header fields accepted (431 beyond).
    pub max_headers: usize,
    /// Most bytes of request header names and values accepted (431 beyond).
    pub max_header_bytes: usize,
    /// Longest request target accepted (414 beyond).
    pub max_uri_bytes: usize,
    /// How long a client may take to send a request head (slow-loris defence).
    pub header_read_timeout: Duration,
    /// How long in-flight requests may run after shutdown is asked for.
    pub shutdown_grace: Duration,
    /// TLS on the listener (and on `metrics_listen`); plain HTTP when absent.
    pub tls: Option<TlsSettings>,
    /// Trust and client certificate for an `https://` upstream.
    pub upstream_tls: ClientTlsSettings,
    /// Serve `/healthz` and `/metrics` on this address only; the main listener then
    /// forwards every path to the upstream.
    pub metrics_listen: Option<SocketAddr>,
    pub log_format: LogFormat,
}

/// A configuration that cannot be used; the message names the key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError(pub String);

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ConfigError {}

fn err(message: impl Into<String>) -> ConfigError {
    ConfigError(message.into())
}

/// The TOML file as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    listen: Option<String>,
    upstream: Option<String>,
    verifier: Option<toml::Table>,
    verifier_json: Option<String>,
    verifier_file: Option<PathBuf>,
    redis_url: Option<String>,
    max_body_bytes: Option<u64>,
    upstream_connect_timeout_ms: Option<u64>,
    upstream_timeout_ms: Option<u64>,
    max_headers: Option<u64>,
    max_header_bytes: Option<u64>,
    max_uri_bytes: Option<u64>,
    header_read_timeout_ms: Option<u64>,
    shutdown_grace_ms: Option<u64>,
    tls: Option<TlsSettings>,
    upstream_tls: Option<ClientTlsSettings>,
    metrics_listen: Option<String>,
    log_format: Option<String>,
}

/// Keys an environment variable may override, and whether the value is a number.
const ENV_KEYS: [(&str, bool); 15] = [
    ("listen", false),
    ("upstream", false),
    ("verifier_json", false),
    ("verifier_file", false),
    ("redis_url", false),
    ("max_body_bytes", true),
    ("upstream_connect_timeout_ms", true),
    ("upstream_timeout_ms", true),
    ("max_headers", true),
    ("max_header_bytes", true),
    ("max_uri_bytes", true),
    ("header_read_timeout_ms", true),
    ("shutdown_grace_ms", true),
    ("metrics_listen", false),
    ("log_format", false),
];

const VERIFIER_SOURCES: [&str; 3] = ["verifier", "verifier_json", "verifier_file"];

impl GatewayConfig {
    /// A configuration with every default, for `upstream` and a verifier document.
    pub fn new(upstream: &str, verifier_json: impl Into<Vec<u8>>) -> Result<Self, ConfigError> {
        Ok(GatewayConfig {
            listen: defaults::LISTEN.parse().expect("default listen address"),
            upstream: parse_upstream(upstream)?,
            verifier_json: verifier_json.into(),
            max_body_bytes: defaults::MAX_BODY_BYTES,
            upstream_connect_timeout: Duration::from_millis(defaults::UPSTREAM_CONNECT_TIMEOUT_MS),
            upstream_timeout: Duration::from_millis(defaults::UPSTREAM_TIMEOUT_MS),
            max_headers: defaults::MAX_HEADERS,
            max_header_bytes: defaults::MAX_HEADER_BYTES,
            max_uri_bytes: defaults::MAX_URI_BYTES,
            header_read_timeout: Duration::from_millis(defaults::HEADER_READ_TIMEOUT_MS),
            shutdown_grace: Duration::from_millis(defaults::SHUTDOWN_GRACE_MS),
            tls: None,
            upstream_tls: ClientTlsSettings::default(),
            metrics_listen: None,
            log_format: LogFormat::Text,
        })
    }

    /// Reads a TOML file, applying the process environment's overrides. Relative
    /// `verifier_file` paths are resolved against the TOML file's folder.
    pub fn from_toml_file(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| err(format!("cannot read {}: {e}", path.display())))?;
        let base = oathmesh_serving::paths::folder_of(path);
        Self::from_toml_str(&text, &base, |key| std::env::var(key).ok())
    }

    /// Parses TOML text; `env` looks up overrides (`OATHMESH_GATEWAY_<KEY>`), so tests can
    /// pass their own environment.
    pub fn from_toml_str(
        text: &str,
        base_dir: &Path,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        let mut table: toml::Table = text.parse().map_err(|e| err(format!("TOML: {e}")))?;
        apply_env(&mut table, &env)?;
        let file: FileConfig = table
            .try_into()
            .map_err(|e: toml::de::Error| err(e.message().to_owned()))?;
        Self::from_file_config(file, base_dir)
    }

    fn from_file_config(file: FileConfig, base_dir: &Path) -> Result<Self, ConfigError> {
        let upstream = file.upstream.ok_or_else(|| err("upstream: required"))?;
        let mut verifier = load_verifier_document(
            file.verifier,
            file.verifier_json,
            file.verifier_file,
            base_dir,
        )?;
        if let Some(url) = file.redis_url {
            // A secret (it may carry a password), so it usually comes from the environment.
            verifier.insert("redis_url".into(), url.into());
        }
        let mut config = GatewayConfig::new(&upstream, serde_json::to_vec(&verifier).unwrap())?;
        if let Some(listen) = file.listen {
            config.listen = listen.parse().map_err(|_| {
                err(format!(
                    "listen: `{listen}` is not an address like 127.0.0.1:8080"
                ))
            })?;
        }
        let positive = |value: Option<u64>, key: &str| -> Result<Option<u64>, ConfigError> {
            match value {
                Some(0) => Err(err(format!("{key}: must be greater than 0"))),
                other => Ok(other),
            }
        };
        let size = |v: u64| usize::try_from(v).unwrap_or(usize::MAX);
        if let Some(v) = positive(file.max_body_bytes, "max_body_bytes")? {
            config.max_body_bytes = size(v);
        }
        if let Some(v) = positive(
            file.upstream_connect_timeout_ms,
            "upstream_connect_timeout_ms",
        )? {
            config.upstream_connect_timeout = Duration::from_millis(v);
        }
        if let Some(v) = positive(file.upstream_timeout_ms, "upstream_timeout_ms")? {
            config.upstream_timeout = Duration::from_millis(v);
        }
        if let Some(v) = positive(file.max_headers, "max_headers")? {
            config.max_headers = size(v);
        }
        if let Some(v) = positive(file.max_header_bytes, "max_header_bytes")? {
            config.max_header_bytes = size(v);
        }
        if let Some(v) = positive(file.max_uri_bytes, "max_uri_bytes")? {
            config.max_uri_bytes = size(v);
        }
        if let Some(v) = positive(file.header_read_timeout_ms, "header_read_timeout_ms")? {
            config.header_read_timeout = Duration::from_millis(v);
        }
        if let Some(v) = file.shutdown_grace_ms {
            config.shutdown_grace = Duration::from_millis(v);
        }
        if let Some(mut tls) = file.tls {
            tls.resolve_paths(base_dir);
            config.tls = Some(tls);
        }
        if let Some(mut upstream_tls) = file.upstream_tls {
            if config.upstream.scheme_str() != Some("https") {
                return Err(err(
                    "upstream_tls: only for an https:// upstream (the upstream is http://)",
                ));
            }
            upstream_tls.resolve_paths(base_dir);
            config.upstream_tls = upstream_tls;
        }
        if let Some(listen) = file.metrics_listen {
            config.metrics_listen = Some(listen.parse().map_err(|_| {
                err(format!(
                    "metrics_listen: `{listen}` is not an address like 127.0.0.1:9090"
                ))
            })?);
        }
        if let Some(format) = file.log_format {
            config.log_format = format
                .parse()
                .map_err(|e: String| err(format!("log_format: {e}")))?;
        }
        Ok(config)
    }
}

/// Overrides keys of the TOML table with `OATHMESH_GATEWAY_<KEY>` variables. Setting one
/// verifier source from the environment replaces whichever the file used.
fn apply_env(
    table: &mut toml::Table,
    env: &impl Fn(&str) -> Option<String>,
) -> Result<(), ConfigError> {
    for (key, numeric) in ENV_KEYS {
        let name = format!("{ENV_PREFIX}{}", key.to_ascii_uppercase());
        let Some(value) = env(&name) else { continue };
        let value = if numeric {
            let n: i64 = value
                .trim()
                .parse()
                .map_err(|_| err(format!("{name}: `{value}` is not a whole number")))?;
            toml::Value::Integer(n)
        } else {
            toml::Value::String(value)
        };
        if VERIFIER_SOURCES.contains(&key) {
            for other in VERIFIER_SOURCES {
                table.remove(other);
            }
        }
        table.insert(key.to_owned(), value);
    }
    Ok(())
}

fn load_verifier_document(
    inline: Option<toml::Table>,
    json: Option<String>,
    file: Option<PathBuf>,
    base_dir: &Path,
) -> Result<serde_json::Map<String, serde_json::Value>, ConfigError> {
    // The folder the document's own relative paths (jwks_file, policy_file, ...) resolve
    // against: the TOML file's for an inline table or JSON text, the verifier file's own.
    let mut document_dir = base_dir.to_owned();
    let value: serde_json::Value = match (inline, json, file) {
        (Some(table), None, None) => serde_json::to_value(table)
            .map_err(|e| err(format!("verifier: cannot convert to JSON: {e}")))?,
        (None, Some(text), None) => {
            serde_json::from_str(&text).map_err(|e| err(format!("verifier_json: not JSON: {e}")))?
        }
        (None, None, Some(path)) => {
            let path = oathmesh_serving::paths::beside(base_dir, &path);
            document_dir = oathmesh_serving::paths::folder_of(&path);
            let bytes = std::fs::read(&path).map_err(|e| {
                err(format!(
                    "verifier_file: cannot read {}: {e}",
                    path.display()
                ))
            })?;
            serde_json::from_slice(&bytes).map_err(|e| {
                err(format!(
                    "verifier_file: {} is not JSON: {e}",
                    path.display()
                ))
            })?
        }
        (None, None, None) => {
            return Err(err(
                "verifier: required (a [verifier] table, verifier_json or verifier_file)",
            ));
        }
        _ => {
            return Err(err(
                "verifier: give exactly one of [verifier], verifier_json and verifier_file",
            ));
        }
    };
    match value {
        serde_json::Value::Object(mut map) => {
            resolve_document_paths(&mut map, &document_dir);
            Ok(map)
        }
        _ => Err(err("verifier: must be a JSON object")),
    }
}

/// The members of the core's verifier document that name files, as `[path]` from the root.
// SEAM (core): the core should own this list (or take a base folder when it parses the
// document) so every binding resolves a configuration file's paths the same way.
const VERIFIER_PATH_KEYS: [&[&str]; 6] = [
    &["jwks_file"],
    &["policy_file"],
    &["ca_file"],
    &["jwks_fetch", "ca_file"],
    &["audit", "file"],
    &["audit", "hmac_key_file"],
];

/// Makes the document's relative file paths absolute against `dir`. Values that are not
/// strings are left for the core to refuse with its own typed error.
fn resolve_document_paths(doc: &mut serde_json::Map<String, serde_json::Value>, dir: &Path) {
    for key_path in VERIFIER_PATH_KEYS {
        let Some((last, parents)) = key_path.split_last() else {
            continue;
        };
        let mut node = Some(&mut *doc);
        for parent in parents {
            node = node
                .and_then(|n| n.get_mut(*parent))
                .and_then(|v| v.as_object_mut());
        }
        if let Some(serde_json::Value::String(path)) = node.and_then(|n| n.get_mut(*last)) {
            let resolved = oathmesh_serving::paths::beside(dir, Path::new(path.as_str()));
            *path = resolved.to_string_lossy().into_owned();
        }
    }
}

/// `http://host:port[/prefix]` or `https://...` (trust from `[upstream_tls]` plus the public
/// web roots).
pub fn parse_upstream(text: &str) -> Result<Uri, ConfigError> {
    let uri: Uri = text
        .parse()
        .map_err(|_| err(format!("upstream: `{text}` is not a URL")))?;
    if !matches!(uri.scheme_str(), Some("http" | "https")) {
        return Err(err(format!(
            "upstream: `{text}` must start with http:// or https://"
        )));
    }
    if uri.authority().is_none() {
        return Err(err(format!("upstream: `{text}` has no host")));
    }
    if uri.query().is_some() {
        return Err(err(format!("upstream: `{text}` may not have a query")));
    }
    Ok(uri)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    const MINIMAL: &str = r#"
        upstream = "http://127.0.0.1:9000"
        [verifier]
        audience = "https://billing.internal"
        trusted_issuers = ["https://issuer.internal"]
    "#;

    #[test]
    fn defaults_apply() {
        let c = GatewayConfig::from_toml_str(MINIMAL, Path::new("."), no_env).unwrap();
        assert_eq!(c.listen.to_string(), defaults::LISTEN);
        assert_eq!(c.max_body_bytes, 1024 * 1024);
        assert_eq!(c.upstream.to_string(), "http://127.0.0.1:9000/");
        let doc: serde_json::Value = serde_json::from_slice(&c.verifier_json).unwrap();
        assert_eq!(doc["audience"], "https://billing.internal");
    }

    #[test]
    fn env_overrides_file() {
        let env: HashMap<&str, &str> = [
            ("OATHMESH_GATEWAY_LISTEN", "127.0.0.1:0"),
            ("OATHMESH_GATEWAY_MAX_BODY_BYTES", "42"),
            (
                "OATHMESH_GATEWAY_REDIS_URL",
                "redis://:secret@127.0.0.1:6379/",
            ),
            (
                "OATHMESH_GATEWAY_VERIFIER_JSON",
                r#"{"audience":"a","trusted_issuers":["i"]}"#,
            ),
        ]
        .into();
        let c = GatewayConfig::from_toml_str(MINIMAL, Path::new("."), |k| {
            env.get(k).map(|v| v.to_string())
        })
        .unwrap();
        assert_eq!(c.listen.port(), 0);
        assert_eq!(c.max_body_bytes, 42);
        let doc: serde_json::Value = serde_json::from_slice(&c.verifier_json).unwrap();
        assert_eq!(
            doc["audience"], "a",
            "env verifier replaces the file's table"
        );
        assert_eq!(doc["redis_url"], "redis://:secret@127.0.0.1:6379/");
    }

    #[test]
    fn errors_name_the_key() {
        let cases = [
            ("upstream = \"http://x:1\"", "verifier: required"),
            ("[verifier]\naudience = \"a\"", "upstream: required"),
            (
                "upstream = \"ftp://x:1\"\nverifier_json = \"{}\"",
                "upstream: `ftp://x:1` must start with http:// or https://",
            ),
            (
                "upstream = \"http://x:1\"\nverifier_json = \"{}\"\n[upstream_tls]\nca_file = \"ca.pem\"",
                "upstream_tls: only for an https:// upstream",
            ),
            (
                "upstream = \"http://x:1\"\nverifier_json = \"{}\"\nlog_format = \"xml\"",
                "log_format: `xml` is not text or json",
            ),
            (
                "upstream = \"http://x:1\"\nverifier_json = \"{}\"\nverifier_file = \"v.json\"",
                "exactly one of",
            ),
            (
                "upstream = \"http://x:1\"\nverifier_json = \"{}\"\nmax_body_bytes = 0",
                "max_body_bytes: must be greater than 0",
            ),
            (
                "upstream = \"http://x:1\"\nverifier_json = \"{}\"\nlisten = \"nope\"",
                "listen:",
            ),
            (
                "upstream = \"http://x:1\"\nverifier_json = \"{}\"\nlsiten = \"x\"",
                "unknown field `lsiten`",
            ),
        ];
        for (text, expected) in cases {
            let e = GatewayConfig::from_toml_str(text, Path::new("."), no_env).unwrap_err();
            assert!(e.0.contains(expected), "{text:?}: {e}");
        }
        let bad_env = GatewayConfig::from_toml_str(MINIMAL, Path::new("."), |k| {
            (k == "OATHMESH_GATEWAY_UPSTREAM_TIMEOUT_MS").then(|| "soon".to_owned())
        })
        .unwrap_err();
        assert!(
            bad_env.0.contains("OATHMESH_GATEWAY_UPSTREAM_TIMEOUT_MS"),
            "{bad_env}"
        );
    }

    #[test]
    fn every_relative_path_is_beside_its_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("conf")).unwrap();
        std::fs::write(
            dir.path().join("conf/verifier.json"),
            r#"{"audience":"a","trusted_issuers":["i"],"jwks_file":"jwks.json","audit":{"file":"/var/log/a.ndjson","hmac_key_file":"audit.key"}}"#,
        )
        .unwrap();
        std::fs::write(
            dir.path().join("gateway.toml"),
            "upstream = \"https://up.internal\"\nverifier_file = \"conf/verifier.json\"\n\
             [tls]\ncert_file = \"tls/gw.crt\"\nkey_file = \"/abs/gw.key\"\n\
             [upstream_tls]\nca_file = \"tls/ca.pem\"\n",
        )
        .unwrap();
        let c = GatewayConfig::from_toml_file(&dir.path().join("gateway.toml")).unwrap();
        let doc: serde_json::Value = serde_json::from_slice(&c.verifier_json).unwrap();
        let conf = dir.path().join("conf");
        assert_eq!(doc["jwks_file"], conf.join("jwks.json").to_str().unwrap());
        assert_eq!(
            doc["audit"]["hmac_key_file"],
            conf.join("audit.key").to_str().unwrap()
        );
        assert_eq!(doc["audit"]["file"], "/var/log/a.ndjson");
        let tls = c.tls.unwrap();
        assert_eq!(tls.cert_file, dir.path().join("tls/gw.crt"));
        assert_eq!(tls.key_file, Path::new("/abs/gw.key"));
        assert_eq!(
            c.upstream_tls.ca_file.unwrap(),
            dir.path().join("tls/ca.pem")
        );
    }

    #[test]
    fn verifier_file_is_relative_to_the_toml_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("verifier.json"),
            r#"{"audience":"from-file","trusted_issuers":["i"]}"#,
        )
        .unwrap();
        std::fs::write(
            dir.path().join("gateway.toml"),
            "upstream = \"http://127.0.0.1:1\"\nverifier_file = \"verifier.json\"\n",
        )
        .unwrap();
        let c = GatewayConfig::from_toml_file(&dir.path().join("gateway.toml")).unwrap();
        let doc: serde_json::Value = serde_json::from_slice(&c.verifier_json).unwrap();
        assert_eq!(doc["audience"], "from-file");
    }
}
