//! Reading PEM files. Every error names the configuration key and the file, says what was
//! wrong, and never includes key material.

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use std::path::{Path, PathBuf};

/// Why a TLS configuration cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("{key}: cannot read {}: {source}", path.display())]
    Read {
        key: String,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{key}: {} holds no PEM {what}", path.display())]
    Empty {
        key: String,
        path: PathBuf,
        what: &'static str,
    },
    #[error("{key}: {} is not valid PEM ({reason})", path.display())]
    Pem {
        key: String,
        path: PathBuf,
        reason: String,
    },
    #[error("{key}: {reason}")]
    Invalid { key: String, reason: String },
}

impl TlsError {
    /// The configuration key the error is about (`tls.cert_file`, `upstream_tls.ca_file`, ...).
    pub fn key(&self) -> &str {
        match self {
            TlsError::Read { key, .. }
            | TlsError::Empty { key, .. }
            | TlsError::Pem { key, .. }
            | TlsError::Invalid { key, .. } => key,
        }
    }
}

pub(crate) fn read(key: &str, path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|source| TlsError::Read {
        key: key.to_owned(),
        path: path.to_owned(),
        source,
    })
}

/// Every `CERTIFICATE` block of a PEM file, in order (a chain: leaf first).
pub fn certificates(key: &str, path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    certificates_from(key, path, &read(key, path)?)
}

pub(crate) fn certificates_from(
    key: &str,
    path: &Path,
    pem: &[u8],
) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TlsError::Pem {
            key: key.to_owned(),
            path: path.to_owned(),
            reason: e.to_string(),
        })?;
    if certs.is_empty() {
        return Err(TlsError::Empty {
            key: key.to_owned(),
            path: path.to_owned(),
            what: "CERTIFICATE",
        });
    }
    Ok(certs)
}

/// The private key of a PEM file (PKCS#8, PKCS#1 or SEC1).
pub fn private_key(key: &str, path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    private_key_from(key, path, &read(key, path)?)
}

pub(crate) fn private_key_from(
    key: &str,
    path: &Path,
    pem: &[u8],
) -> Result<PrivateKeyDer<'static>, TlsError> {
    PrivateKeyDer::from_pem_slice(pem).map_err(|e| match e {
        rustls_pki_types::pem::Error::NoItemsFound => TlsError::Empty {
            key: key.to_owned(),
            path: path.to_owned(),
            what: "PRIVATE KEY",
        },
        other => TlsError::Pem {
            key: key.to_owned(),
            path: path.to_owned(),
            reason: other.to_string(),
        },
    })
}

/// A CA bundle: every certificate must be a usable trust anchor, so a typo'd or truncated
/// bundle is an error at start-up rather than a trust store silently missing a CA.
pub fn ca_bundle(key: &str, path: &Path) -> Result<rustls::RootCertStore, TlsError> {
    ca_bundle_from(key, path, &read(key, path)?)
}

pub(crate) fn ca_bundle_from(
    key: &str,
    path: &Path,
    pem: &[u8],
) -> Result<rustls::RootCertStore, TlsError> {
    let mut roots = rustls::RootCertStore::empty();
    for (i, cert) in certificates_from(key, path, pem)?.into_iter().enumerate() {
        roots.add(cert).map_err(|e| TlsError::Invalid {
            key: key.to_owned(),
            reason: format!(
                "certificate {} of {} is not a usable CA certificate ({e})",
                i + 1,
                path.display()
            ),
        })?;
    }
    Ok(roots)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_name_the_key_and_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing.pem");
        let e = certificates("tls.cert_file", &missing).unwrap_err();
        assert!(
            e.to_string().starts_with("tls.cert_file: cannot read"),
            "{e}"
        );
        assert_eq!(e.key(), "tls.cert_file");

        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "not pem at all\n").unwrap();
        let e = certificates("tls.cert_file", &empty).unwrap_err();
        assert!(e.to_string().contains("holds no PEM CERTIFICATE"), "{e}");
        let e = private_key("tls.key_file", &empty).unwrap_err();
        assert!(e.to_string().contains("holds no PEM PRIVATE KEY"), "{e}");

        let garbage = dir.path().join("garbage.pem");
        std::fs::write(
            &garbage,
            "-----BEGIN CERTIFICATE-----\nnot base64!\n-----END CERTIFICATE-----\n",
        )
        .unwrap();
        let e = ca_bundle("ca_file", &garbage).unwrap_err();
        assert!(e.to_string().starts_with("ca_file: "), "{e}");
    }
}
