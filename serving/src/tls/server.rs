//! A listener's TLS: the `[tls]` table of the issuer and gateway configuration, and the
//! rustls configuration built from it.
//!
//! Reloading: [`ServerTls`] holds the current `rustls::ServerConfig` behind a lock; every new
//! connection takes the current one, established connections keep theirs. A watcher reads the
//! files every `reload_poll_secs` (and on SIGHUP), hashes them, and rebuilds when the hash
//! changed. A rebuild that fails (a half-written pair, a key that does not match) keeps the
//! previous configuration and is logged; the next poll tries again.

use super::files::{self, TlsError};
use super::{ALPN_HTTP11, PROTOCOL_VERSIONS, provider};
use crate::paths;
use rustls::ServerConfig;
use rustls::server::WebPkiClientVerifier;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::Duration;

/// Whether a listener asks for client certificates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ClientCertMode {
    /// Every connection must present a certificate that chains to `client_ca_file`; others
    /// fail the handshake.
    Required,
    /// A certificate is asked for and, when sent, must chain to `client_ca_file`; a
    /// connection without one is accepted and authenticates some other way (the issuer's
    /// secrets and assertions).
    Optional,
}

pub const DEFAULT_RELOAD_POLL_SECS: u64 = 5;

/// `[tls]` in a server configuration file.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsSettings {
    /// PEM certificate chain, leaf first.
    pub cert_file: PathBuf,
    /// PEM private key of the leaf (PKCS#8, PKCS#1 or SEC1).
    pub key_file: PathBuf,
    /// PEM bundle of the CAs whose client certificates are accepted. Absent: no client
    /// certificates are asked for.
    #[serde(default)]
    pub client_ca_file: Option<PathBuf>,
    /// `required` or `optional`; only with `client_ca_file`. The default depends on the
    /// server (gateway: required; issuer: optional, since most clients use secrets).
    #[serde(default)]
    pub client_cert: Option<ClientCertMode>,
    /// Seconds between checks of the files (SIGHUP also reloads).
    #[serde(default = "default_poll")]
    pub reload_poll_secs: u64,
}

fn default_poll() -> u64 {
    DEFAULT_RELOAD_POLL_SECS
}

impl TlsSettings {
    /// Settings for a certificate and key, every other key at its default.
    pub fn new(cert_file: impl Into<PathBuf>, key_file: impl Into<PathBuf>) -> TlsSettings {
        TlsSettings {
            cert_file: cert_file.into(),
            key_file: key_file.into(),
            client_ca_file: None,
            client_cert: None,
            reload_poll_secs: DEFAULT_RELOAD_POLL_SECS,
        }
    }

    /// Resolves relative paths against the configuration file's folder.
    pub fn resolve_paths(&mut self, base_dir: &Path) {
        paths::resolve(base_dir, &mut self.cert_file);
        paths::resolve(base_dir, &mut self.key_file);
        if let Some(ca) = &mut self.client_ca_file {
            paths::resolve(base_dir, ca);
        }
    }
}

/// What was loaded: the configuration for new connections, and a hash of the files it came
/// from.
struct Loaded {
    config: Arc<ServerConfig>,
    digest: [u8; 32],
}

/// A listener's TLS configuration, reloadable while serving.
pub struct ServerTls {
    source: Source,
    current: RwLock<Loaded>,
}

/// Where the configuration comes from and how it is built.
struct Source {
    settings: TlsSettings,
    /// `tls` (or another table name) for error messages.
    table: String,
    client_cert: Option<ClientCertMode>,
}

impl std::fmt::Debug for ServerTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerTls")
            .field("settings", &self.source.settings)
            .finish_non_exhaustive()
    }
}

/// The bytes of every file the configuration is built from.
struct FileBytes {
    cert: Vec<u8>,
    key: Vec<u8>,
    client_ca: Option<Vec<u8>>,
}

impl FileBytes {
    fn digest(&self) -> [u8; 32] {
        let mut hash = Sha256::new();
        for part in [Some(&self.cert), Some(&self.key), self.client_ca.as_ref()] {
            let part = part.map_or(&[][..], Vec::as_slice);
            hash.update((part.len() as u64).to_be_bytes());
            hash.update(part);
        }
        hash.finalize().into()
    }
}

impl ServerTls {
    /// Loads the files and builds the first configuration. `table` names the settings in
    /// errors (`tls`); `default_client_cert` applies when `client_ca_file` is set without
    /// `client_cert`.
    pub fn load(
        settings: TlsSettings,
        table: &str,
        default_client_cert: ClientCertMode,
    ) -> Result<Arc<ServerTls>, TlsError> {
        let client_cert = match (&settings.client_ca_file, settings.client_cert) {
            (Some(_), mode) => Some(mode.unwrap_or(default_client_cert)),
            (None, Some(_)) => {
                return Err(TlsError::Invalid {
                    key: format!("{table}.client_cert"),
                    reason: "needs client_ca_file (the CAs client certificates must chain to)"
                        .into(),
                });
            }
            (None, None) => None,
        };
        let source = Source {
            settings,
            table: table.to_owned(),
            client_cert,
        };
        let loaded = source.build(&source.read_files()?)?;
        Ok(Arc::new(ServerTls {
            source,
            current: RwLock::new(loaded),
        }))
    }

    /// The configuration for the next connection.
    pub fn config(&self) -> Arc<ServerConfig> {
        self.current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .config
            .clone()
    }

    pub fn acceptor(&self) -> tokio_rustls::TlsAcceptor {
        tokio_rustls::TlsAcceptor::from(self.config())
    }

    /// Whether clients are asked for certificates (and how strictly).
    pub fn client_cert_mode(&self) -> Option<ClientCertMode> {
        self.source.client_cert
    }

    pub fn settings(&self) -> &TlsSettings {
        &self.source.settings
    }

    /// Re-reads the files; rebuilds when they changed. `Ok(true)` when a new configuration
    /// is now in use. On error the previous configuration stays.
    pub fn reload_if_changed(&self) -> Result<bool, TlsError> {
        let bytes = self.source.read_files()?;
        let digest = bytes.digest();
        if digest
            == self
                .current
                .read()
                .unwrap_or_else(|p| p.into_inner())
                .digest
        {
            return Ok(false);
        }
        let loaded = self.source.build(&bytes)?;
        *self.current.write().unwrap_or_else(|p| p.into_inner()) = loaded;
        Ok(true)
    }

    /// Watches the files (every `reload_poll_secs`, and on SIGHUP) for as long as the tokio
    /// runtime runs.
    pub fn spawn_watcher(self: &Arc<Self>) {
        let tls = self.clone();
        let poll = Duration::from_secs(self.source.settings.reload_poll_secs);
        crate::reload::spawn_watcher(poll, move |trigger| match tls.reload_if_changed() {
            Ok(true) => tracing::info!(
                cert_file = %tls.source.settings.cert_file.display(),
                "TLS certificate reloaded; new connections use it"
            ),
            Ok(false) => {
                if trigger == crate::reload::Trigger::Hangup {
                    tracing::info!("SIGHUP: TLS files unchanged");
                }
            }
            Err(error) => tracing::error!(
                %error,
                "TLS reload failed; the previous certificate stays in use"
            ),
        });
    }
}

impl Source {
    fn key(&self, name: &str) -> String {
        format!("{}.{name}", self.table)
    }

    fn read_files(&self) -> Result<FileBytes, TlsError> {
        let s = &self.settings;
        Ok(FileBytes {
            cert: files::read(&self.key("cert_file"), &s.cert_file)?,
            key: files::read(&self.key("key_file"), &s.key_file)?,
            client_ca: match &s.client_ca_file {
                Some(path) => Some(files::read(&self.key("client_ca_file"), path)?),
                None => None,
            },
        })
    }

    fn build(&self, bytes: &FileBytes) -> Result<Loaded, TlsError> {
        let s = &self.settings;
        let chain = files::certificates_from(&self.key("cert_file"), &s.cert_file, &bytes.cert)?;
        let key = files::private_key_from(&self.key("key_file"), &s.key_file, &bytes.key)?;
        let provider = provider();
        let builder = ServerConfig::builder_with_provider(provider.clone())
            .with_protocol_versions(PROTOCOL_VERSIONS)
            .map_err(|e| self.invalid("cert_file", e.to_string()))?;
        let builder = match (&bytes.client_ca, &s.client_ca_file) {
            (Some(pem), Some(path)) => {
                let roots = files::ca_bundle_from(&self.key("client_ca_file"), path, pem)?;
                let verifier =
                    WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider);
                let verifier = match self.client_cert {
                    Some(ClientCertMode::Optional) => verifier.allow_unauthenticated(),
                    _ => verifier,
                };
                let verifier = verifier
                    .build()
                    .map_err(|e| self.invalid("client_ca_file", e.to_string()))?;
                builder.with_client_cert_verifier(verifier)
            }
            _ => builder.with_no_client_auth(),
        };
        let mut config = builder.with_single_cert(chain, key).map_err(|e| {
            self.invalid(
                "key_file",
                format!(
                    "does not fit the certificate in {} ({e})",
                    s.cert_file.display()
                ),
            )
        })?;
        config.alpn_protocols = vec![ALPN_HTTP11.to_vec()];
        Ok(Loaded {
            config: Arc::new(config),
            digest: bytes.digest(),
        })
    }

    fn invalid(&self, name: &str, reason: String) -> TlsError {
        TlsError::Invalid {
            key: self.key(name),
            reason,
        }
    }
}
