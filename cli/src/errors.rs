//! Why a command could not do its job (exit 2), as opposed to a token that was denied or a
//! request the issuer refused (exit 1). Each variant says what to look at; none carries a
//! secret or a token.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error("cannot read {what} {}: {source}", path.display())]
    Read {
        what: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{what} {}: not UTF-8 text", path.display())]
    NotText { what: &'static str, path: PathBuf },
    #[error("{what}: not valid JSON ({source})")]
    Json {
        what: &'static str,
        source: serde_json::Error,
    },
    #[error("cannot read stdin: {0}")]
    Stdin(std::io::Error),
    #[error("environment variable {0} is not set")]
    MissingEnv(String),
    /// Flags that clap cannot express the rule for.
    #[error("{0}")]
    Usage(&'static str),
    /// The core refused a configuration document or a key.
    #[error("{}", .0.message())]
    Config(#[from] oathmesh_core::ConfigError),
    #[error("mint refused: {0}")]
    Mint(#[from] oathmesh_core::MintError),
    #[error("{0}")]
    Backend(#[from] oathmesh_core::BackendError),
    /// `inspect` could not decode the token (`code: message`).
    #[error("{code}: {message}")]
    Token { code: String, message: String },
    #[error(transparent)]
    Issuer(#[from] oathmesh_issuer::IssuerError),
    #[error(transparent)]
    Keys(#[from] oathmesh_issuer::keyring::KeyError),
    #[error(transparent)]
    KeyFile(#[from] crate::keyfiles::KeyFileError),
    /// The CI exchange could not be attempted (the job is not set up, the issuer is
    /// unreachable).
    #[error("{0}")]
    Exchange(String),
    #[error("audit: {0}")]
    Audit(String),
}

impl CliError {
    pub fn read(what: &'static str, path: &std::path::Path, source: std::io::Error) -> Self {
        CliError::Read {
            what,
            path: path.to_owned(),
            source,
        }
    }
}

/// Reads a file, naming it in the error.
pub fn read_file(path: &std::path::Path, what: &'static str) -> Result<Vec<u8>, CliError> {
    std::fs::read(path).map_err(|e| CliError::read(what, path, e))
}

/// Reads a UTF-8 file (a PEM key), naming it in the error.
pub fn read_text(path: &std::path::Path, what: &'static str) -> Result<String, CliError> {
    String::from_utf8(read_file(path, what)?).map_err(|_| CliError::NotText {
        what,
        path: path.to_owned(),
    })
}
