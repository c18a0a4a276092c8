//! Writing key material to disk: private keys are created with mode 0600 from the first
//! byte (never written then chmod-ed), and existing files are not overwritten by accident.

use oathmesh_core::{generate_key, keys};
use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};

pub struct WrittenKey {
    pub kid: String,
    pub private: PathBuf,
    pub public: PathBuf,
    pub jwks: PathBuf,
}

fn write_file(path: &Path, contents: &[u8], mode: u32, force: bool) -> Result<(), String> {
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
    let mut file = options.open(path).map_err(|e| {
        format!(
            "cannot create {} ({e}); use --force to overwrite",
            path.display()
        )
    })?;
    #[cfg(unix)]
    {
        // `mode` only applies to new files; with --force, tighten an existing one too.
        use std::os::unix::fs::PermissionsExt;
        file.set_permissions(std::fs::Permissions::from_mode(mode))
            .map_err(|e| format!("cannot set permissions on {}: {e}", path.display()))?;
    }
    file.write_all(contents)
        .map_err(|e| format!("cannot write {}: {e}", path.display()))
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

pub fn write_new_key(private: &Path, force: bool) -> Result<WrittenKey, String> {
    let key = generate_key();
    let (public, jwks) = companion_paths(private);
    // Refuse before writing anything, so a refused keygen leaves no half-written key pair.
    if !force && let Some(existing) = [private, &public, &jwks].into_iter().find(|p| p.exists()) {
        return Err(format!(
            "{} already exists; use --force to overwrite",
            existing.display()
        ));
    }
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
