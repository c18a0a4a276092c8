//! Outgoing HTTPS from a server (the gateway to its upstream): the public web roots plus an
//! optional private CA bundle, and an optional client certificate for upstreams that require
//! mTLS.

use super::files::{self, TlsError};
use super::{PROTOCOL_VERSIONS, provider};
use crate::paths;
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// A client's TLS settings (`upstream_tls` in the gateway).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientTlsSettings {
    /// PEM bundle of extra CAs to trust (in addition to the public web roots).
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// PEM certificate chain presented to servers that ask for one (with `client_key_file`).
    #[serde(default)]
    pub client_cert_file: Option<PathBuf>,
    #[serde(default)]
    pub client_key_file: Option<PathBuf>,
}

impl ClientTlsSettings {
    pub fn resolve_paths(&mut self, base_dir: &Path) {
        for path in [
            &mut self.ca_file,
            &mut self.client_cert_file,
            &mut self.client_key_file,
        ]
        .into_iter()
        .flatten()
        {
            paths::resolve(base_dir, path);
        }
    }
}

/// The rustls client configuration for `settings`; `table` names them in errors.
pub fn client_config(
    settings: &ClientTlsSettings,
    table: &str,
) -> Result<rustls::ClientConfig, TlsError> {
    let key = |name: &str| format!("{table}.{name}");
    let mut roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    if let Some(path) = &settings.ca_file {
        roots
            .roots
            .extend(files::ca_bundle(&key("ca_file"), path)?.roots);
    }
    let builder = rustls::ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(PROTOCOL_VERSIONS)
        .map_err(|e| TlsError::Invalid {
            key: table.to_owned(),
            reason: e.to_string(),
        })?
        .with_root_certificates(roots);
    let config = match (&settings.client_cert_file, &settings.client_key_file) {
        (Some(cert), Some(private)) => {
            let chain = files::certificates(&key("client_cert_file"), cert)?;
            let private = files::private_key(&key("client_key_file"), private)?;
            builder
                .with_client_auth_cert(chain, private)
                .map_err(|e| TlsError::Invalid {
                    key: key("client_key_file"),
                    reason: format!("does not fit client_cert_file ({e})"),
                })?
        }
        (None, None) => builder.with_no_client_auth(),
        _ => {
            return Err(TlsError::Invalid {
                key: key("client_cert_file"),
                reason: "give both client_cert_file and client_key_file, or neither".into(),
            });
        }
    };
    // ALPN is left to the HTTP client (hyper-rustls writes `http/1.1` itself and refuses a
    // configuration that already has protocols).
    Ok(config)
}
