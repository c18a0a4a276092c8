//! Writing key material to disk: private keys are created with mode 0600 from the first
//! byte (never written then chmod-ed), and existing files are not overwritten by accident.

use oathmesh_core::{generate_key, keys};
use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Why a key pair was not written.
#[derive(Debug, thiserror::Error)]
pub enum KeyFileError {
    #[error("{} already exists; use --force to overwrite", .0.display())]
    Exists(PathBuf),
    #[error("cannot create {} ({source}); use --force to overwrite", path.display())]
    Create {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot set permissions on {}: {source}", path.display())]
    Permissions {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot create the folder {} ({source})", path.display())]
    CreateDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write {}: {source}", path.display())]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

pub struct WrittenKey {
    pub kid: String,
    pub private: PathBuf,
    pub public: PathBuf,
    pub jwks: PathBuf,
}

fn write_file(path: &Path, contents: &[u8], mode: u32, force: bool) -> Result<(), KeyFileError> {
    let mut options = OpenOptions::new();
    options.write(true);
    if force {
        options.create(true).truncate(true);
    } else {
        options.create_new(true);
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(mode);
    }
    let mut file = options.open(path).map_err(|source| KeyFileError::Create {
        path: path.to_owned(),
        source,
    })?;
    #[cfg(unix)]
    {
        // `mode` only applies to new files; with --force, tighten an existing one too.
        use std::os::unix::fs::PermissionsExt;
        file.set_permissions(std::fs::Permissions::from_mode(mode))
            .map_err(|source| KeyFileError::Permissions {
                path: path.to_owned(),
                source,
            })?;
    }
    file.write_all(contents)
        .map_err(|source| KeyFileError::Write {
            path: path.to_owned(),
            source,
        })
}

/// `key.pem` -> (`key.pub.pem`, `jwks.json`) in the same folder.
fn companion_paths(private: &Path) -> (PathBuf, PathBuf) {
    let stem = private
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("key");
    let dir = private.parent().unwrap_or(Path::new(""));
    (dir.join(format!("{stem}.pub.pem")), dir.join("jwks.json"))
}

/// Creates the missing folders above a key file, 0700: `keygen --out keys/issuer.pem` works
/// on a fresh checkout, and the folder that holds a private key is private too. Folders that
/// already exist keep their mode.
fn create_parent_dirs(private: &Path) -> Result<(), KeyFileError> {
    let Some(dir) = private.parent().filter(|d| !d.as_os_str().is_empty()) else {
        return Ok(());
    };
    if dir.is_dir() {
        return Ok(());
    }
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder
        .create(dir)
        .map_err(|source| KeyFileError::CreateDir {
            path: dir.to_owned(),
            source,
        })
}

pub fn write_new_key(private: &Path, force: bool) -> Result<WrittenKey, KeyFileError> {
    let key = generate_key();
    let (public, jwks) = companion_paths(private);
    // Refuse before writing anything, so a refused keygen leaves no half-written key pair.
    if !force && let Some(existing) = [private, &public, &jwks].into_iter().find(|p| p.exists()) {
        return Err(KeyFileError::Exists(existing.to_owned()));
    }
    create_parent_dirs(private)?;
    write_file(private, key.private_pem.as_bytes(), 0o600, force)?;
    write_file(&public, key.public_pem.as_bytes(), 0o644, force)?;
    write_file(
        &jwks,
        keys::jwks_json(std::slice::from_ref(&key.jwk)).as_bytes(),
        0o644,
        force,
    )?;
    Ok(WrittenKey {
        kid: key.kid.clone(),
        private: private.to_owned(),
        public,
        jwks,
    })
}
