//! The issuer's signing keys: a folder of PKCS#8 PEM files. The newest file is the active
//! signer, ordered by the `(unix time, sequence)` in its `key-<unix>[-<seq>].pem` name
//! (compared as numbers, so `key-5-1` is newer than `key-5`; `rotate` never writes a name
//! older than one already there); older keys stay in the JWKS until every token they signed has expired
//! everywhere (max TTL + max leeway after their successor appeared), so a rotation never
//! breaks a token in flight.

use oathmesh_core::{Issuer, Jwk, LocalSigner, keys};
use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// How long a retired key stays published: the longest token lifetime plus the largest
/// verifier leeway.
pub const RETIRED_KEY_GRACE_SECS: i64 = 300 + 60;

/// Why the key folder cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("key_dir {}: {source}", dir.display())]
    Folder {
        dir: PathBuf,
        source: std::io::Error,
    },
    #[error("key_dir {}: no *.pem private key (create one with `oathmesh keys rotate --dir {}`)", dir.display(), dir.display())]
    NoKey { dir: PathBuf },
    #[error("{}: {source}", file.display())]
    File {
        file: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: {source}", file.display())]
    Key {
        file: PathBuf,
        source: oathmesh_core::ConfigError,
    },
    #[error("issuer: {0}")]
    Issuer(oathmesh_core::ConfigError),
    /// A private key (or the folder) others may read or change.
    #[error("{}: {what} (mode {mode:04o}); run `chmod {want:o} {}`, or set allow_readable_private_keys = true in the issuer config if this is deliberate", file.display(), file.display())]
    Permissions {
        file: PathBuf,
        what: &'static str,
        mode: u32,
        want: u32,
    },
}

/// One key file.
pub struct KeyEntry {
    pub file: PathBuf,
    /// When the key became active: the Unix time in a `key-<unix>.pem` name, else the
    /// file's modification time.
    pub created: i64,
    pub jwk: Jwk,
}

/// A snapshot of the folder: the active issuer and the keys to publish.
pub struct Keyring {
    pub active: Arc<Issuer>,
    pub entries: Vec<KeyEntry>,
    /// Identifies the folder contents, to notice changes cheaply.
    pub fingerprint: Vec<(PathBuf, i64, u64)>,
}

/// `(unix, seq)` from a `key-<unix>.pem` or `key-<unix>-<seq>.pem` name.
fn name_order(path: &Path) -> Option<(i64, u64)> {
    let stem = path.file_stem()?.to_str()?.strip_prefix("key-")?;
    let (unix, seq) = match stem.split_once('-') {
        Some((unix, seq)) => (unix, seq.parse::<u64>().ok()?),
        None => (stem, 0),
    };
    Some((unix.parse::<i64>().ok()?, seq))
}

/// The order of key files, oldest first: the name's `(unix, seq)`, else the modification
/// time; the file name breaks ties.
fn order_key(path: &Path) -> (i64, u64, PathBuf) {
    let (created, seq) = name_order(path).unwrap_or_else(|| (created_at(path), 0));
    (created, seq, path.to_owned())
}

fn created_at(path: &Path) -> i64 {
    let from_name = name_order(path).map(|(unix, _)| unix);
    from_name.unwrap_or_else(|| {
        std::fs::metadata(path)
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_secs() as i64)
    })
}

/// The private key files in `dir` (`*.pem` that are not `*.pub.pem`), oldest first.
fn key_files(dir: &Path) -> Result<Vec<PathBuf>, KeyError> {
    let read = std::fs::read_dir(dir).map_err(|source| KeyError::Folder {
        dir: dir.to_owned(),
        source,
    })?;
    let mut files: Vec<PathBuf> = read
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
            name.ends_with(".pem") && !name.ends_with(".pub.pem")
        })
        .collect();
    files.sort_by_key(|p| order_key(p));
    Ok(files)
}

/// A cheap description of the folder, compared on every poll.
pub fn fingerprint(dir: &Path) -> Vec<(PathBuf, i64, u64)> {
    key_files(dir)
        .unwrap_or_default()
        .into_iter()
        .map(|p| {
            let meta = std::fs::metadata(&p).ok();
            let mtime = meta
                .as_ref()
                .and_then(|m| m.modified().ok())
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .map_or(0, |d| d.as_nanos() as i64);
            (p, mtime, meta.map_or(0, |m| m.len()))
        })
        .collect()
}

/// Refuses a private key readable or writable by group or others, and a key folder others
/// may write to (they could plant a key), unless `allow_readable` says it is deliberate.
#[cfg(unix)]
fn check_permissions(path: &Path, is_dir: bool, allow_readable: bool) -> Result<(), KeyError> {
    use std::os::unix::fs::PermissionsExt;
    if allow_readable {
        return Ok(());
    }
    let mode = std::fs::metadata(path)
        .map_err(|source| KeyError::File {
            file: path.to_owned(),
            source,
        })?
        .permissions()
        .mode()
        & 0o7777;
    let (bad, what, want) = if is_dir {
        (
            0o022,
            "the key folder is writable by group or others",
            0o700,
        )
    } else {
        (
            0o077,
            "the private key is accessible to group or others",
            0o600,
        )
    };
    if mode & bad != 0 {
        return Err(KeyError::Permissions {
            file: path.to_owned(),
            what,
            mode,
            want,
        });
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_permissions(_: &Path, _: bool, _: bool) -> Result<(), KeyError> {
    Ok(())
}

impl Keyring {
    /// Loads every key in `dir`; the newest signs. Keys others can read are refused unless
    /// `allow_readable` (the `allow_readable_private_keys` setting).
    pub fn load(dir: &Path, issuer_url: &str, allow_readable: bool) -> Result<Keyring, KeyError> {
        let fingerprint = fingerprint(dir);
        let files = key_files(dir)?;
        check_permissions(dir, true, allow_readable)?;
        let mut entries = Vec::new();
        let mut newest = None;
        for file in files {
            check_permissions(&file, false, allow_readable)?;
            let pem = match std::fs::read_to_string(&file) {
                Ok(pem) => pem,
                Err(source) => return Err(KeyError::File { file, source }),
            };
            let signer = match LocalSigner::from_pem(&pem, None) {
                Ok(signer) => signer,
                Err(source) => return Err(KeyError::Key { file, source }),
            };
            let jwk = oathmesh_core::Signer::public_jwk(&signer);
            entries.push(KeyEntry {
                created: created_at(&file),
                file,
                jwk,
            });
            newest = Some(signer);
        }
        let signer = newest.ok_or_else(|| KeyError::NoKey {
            dir: dir.to_owned(),
        })?;
        let active = Issuer::new(issuer_url, Arc::new(signer)).map_err(KeyError::Issuer)?;
        Ok(Keyring {
            active: Arc::new(active),
            entries,
            fingerprint,
        })
    }

    /// The keys to publish at `now`: the active one, plus each retired key whose successor
    /// became active less than [`RETIRED_KEY_GRACE_SECS`] ago.
    pub fn published(&self, now: i64) -> Vec<Jwk> {
        let mut out = Vec::new();
        for (i, entry) in self.entries.iter().enumerate() {
            let retired_at = self.entries.get(i + 1).map(|next| next.created);
            if retired_at.is_none_or(|t| now - t < RETIRED_KEY_GRACE_SECS) {
                out.push(entry.jwk.clone());
            }
        }
        out
    }
}

/// Writes a new key (mode 0600) into `dir`; it becomes the active key. Its name sorts after
/// every key already there: `key-<now>.pem`, or, when a key of this second (or a later one,
/// after a clock step back) exists, `key-<that second>-<next sequence>.pem`.
pub fn rotate(dir: &Path, now: i64) -> Result<(PathBuf, String), KeyError> {
    let mut folder = std::fs::DirBuilder::new();
    folder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        folder.mode(0o700);
    }
    folder.create(dir).map_err(|source| KeyError::Folder {
        dir: dir.to_owned(),
        source,
    })?;
    let key = keys::generate_key();
    let newest = key_files(dir)?.iter().filter_map(|p| name_order(p)).max();
    let (unix, first_seq) = match newest {
        Some((unix, seq)) if unix >= now => (unix, seq + 1),
        _ => (now, 0),
    };
    for attempt in first_seq.. {
        let name = if attempt == 0 {
            format!("key-{unix}.pem")
        } else {
            format!("key-{unix}-{attempt}.pem")
        };
        let path = dir.join(name);
        let mut options = OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        match options.open(&path) {
            Ok(mut file) => {
                if let Err(source) = file.write_all(key.private_pem.as_bytes()) {
                    return Err(KeyError::File { file: path, source });
                }
                return Ok((path, key.kid.clone()));
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(source) => return Err(KeyError::File { file: path, source }),
        }
    }
    unreachable!("the loop only ends by returning")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn newest_key_signs_and_retired_keys_stay_published_for_the_grace_period() {
        let dir = tempfile::tempdir().unwrap();
        let (_, first) = rotate(dir.path(), 1_000).unwrap();
        let ring = Keyring::load(dir.path(), "https://i", false).unwrap();
        assert_eq!(ring.active.kid(), first);
        let (_, second) = rotate(dir.path(), 2_000).unwrap();
        let ring = Keyring::load(dir.path(), "https://i", false).unwrap();
        assert_eq!(ring.active.kid(), second);
        let kids = |now| {
            ring.published(now)
                .into_iter()
                .map(|j| j.kid)
                .collect::<Vec<_>>()
        };
        assert_eq!(kids(2_000), vec![first.clone(), second.clone()]);
        assert_eq!(
            kids(2_000 + RETIRED_KEY_GRACE_SECS - 1),
            vec![first, second.clone()]
        );
        assert_eq!(kids(2_000 + RETIRED_KEY_GRACE_SECS), vec![second]);
    }

    #[test]
    fn rotations_in_one_second_activate_the_newest() {
        let dir = tempfile::tempdir().unwrap();
        let mut kids = Vec::new();
        for _ in 0..12 {
            let (_, kid) = rotate(dir.path(), 7).unwrap();
            let ring = Keyring::load(dir.path(), "https://i", false).unwrap();
            assert_eq!(ring.active.kid(), kid, "the key just written signs");
            kids.push(kid);
        }
        // A clock step back still writes a newer name.
        let (path, kid) = rotate(dir.path(), 3).unwrap();
        assert!(path.ends_with("key-7-12.pem"), "{}", path.display());
        let ring = Keyring::load(dir.path(), "https://i", false).unwrap();
        assert_eq!(ring.active.kid(), kid);
    }

    #[cfg(unix)]
    #[test]
    fn readable_private_keys_are_refused_unless_allowed() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let (path, _) = rotate(dir.path(), 7).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let err = Keyring::load(dir.path(), "https://i", false)
            .err()
            .unwrap()
            .to_string();
        assert!(
            err.contains(&format!("chmod 600 {}", path.display())),
            "{err}"
        );
        assert!(err.contains("0644"), "{err}");
        Keyring::load(dir.path(), "https://i", true).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
        let err = Keyring::load(dir.path(), "https://i", false)
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("chmod 700"), "{err}");
    }

    #[test]
    fn rotated_keys_are_private_and_unique() {
        let dir = tempfile::tempdir().unwrap();
        let (a, _) = rotate(dir.path(), 5).unwrap();
        let (b, _) = rotate(dir.path(), 5).unwrap();
        assert_ne!(a, b);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(
                std::fs::metadata(&a).unwrap().permissions().mode() & 0o777,
                0o600
            );
        }
        assert!(Keyring::load(&dir.path().join("missing"), "https://i", false).is_err());
    }
}
