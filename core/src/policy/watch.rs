//! Policy files: JSON, or Pkl evaluated to JSON by the `pkl` CLI, re-read when they change
//! (PROTOCOL §5). A bad new file is reported and the last good policy stays in force.

use crate::clock::Clock;
use crate::error::ConfigError;
use crate::ops::OpsReporter;
use crate::policy::Policy;
use crate::policy::pkl::pkl_eval_json;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Instant;

/// How often the file is looked at (one `stat`).
pub const RELOAD_CHECK_INTERVAL_MS: i64 = 1000;

fn is_pkl(path: &Path) -> bool {
    path.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("pkl"))
}

/// Loads a policy file: `.pkl` through the `pkl` CLI, anything else as JSON.
pub fn load_policy_file(path: &Path, pkl: Option<&Path>) -> Result<Policy, ConfigError> {
    if is_pkl(path) {
        let json = pkl_eval_json(path, pkl)?;
        Policy::from_json(&json)
    } else {
        Policy::from_file(path)
    }
}

/// What identifies one version of the file. A rename-replace changes the inode even when
/// size and mtime happen to match; following symlinks handles the ConfigMap `..data` swap.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Fingerprint {
    dev: u64,
    ino: u64,
    len: u64,
    mtime_ns: i128,
}

fn fingerprint(path: &Path) -> std::io::Result<Fingerprint> {
    let meta = std::fs::metadata(path)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        Ok(Fingerprint {
            dev: meta.dev(),
            ino: meta.ino(),
            len: meta.len(),
            mtime_ns: i128::from(meta.mtime()) * 1_000_000_000 + i128::from(meta.mtime_nsec()),
        })
    }
    #[cfg(not(unix))]
    {
        let mtime_ns = meta
            .modified()
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_nanos() as i128);
        Ok(Fingerprint {
            dev: 0,
            ino: 0,
            len: meta.len(),
            mtime_ns,
        })
    }
}

/// The result of one look at the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReloadOutcome {
    Unchanged,
    Reloaded,
    /// The file changed (or vanished) and could not be loaded; the last good policy stays.
    Failed(String),
}

/// A policy file watched for changes. The verify path pays one atomic load per call and one
/// `stat` per second; the reload itself happens on the one thread that won the check.
pub struct WatchedPolicy {
    path: PathBuf,
    pkl: Option<PathBuf>,
    current: RwLock<Arc<Policy>>,
    seen: Mutex<Option<Fingerprint>>,
    started: Instant,
    next_check_ms: AtomicI64,
    reloads: AtomicU64,
    reload_errors: AtomicU64,
    clock: Arc<dyn Clock>,
    reporter: OpsReporter,
}

impl WatchedPolicy {
    /// Loads the file; an error here is a configuration error.
    pub fn open(
        path: &Path,
        pkl: Option<&Path>,
        clock: Arc<dyn Clock>,
        reporter: OpsReporter,
    ) -> Result<WatchedPolicy, ConfigError> {
        let seen = fingerprint(path).ok();
        let policy = load_policy_file(path, pkl)?;
        Ok(WatchedPolicy {
            path: path.to_owned(),
            pkl: pkl.map(Path::to_owned),
            current: RwLock::new(Arc::new(policy)),
            seen: Mutex::new(seen),
            started: Instant::now(),
            next_check_ms: AtomicI64::new(RELOAD_CHECK_INTERVAL_MS),
            reloads: AtomicU64::new(0),
            reload_errors: AtomicU64::new(0),
            clock,
            reporter,
        })
    }

    /// The policy in force, after a look at the file if a second has passed since the last.
    pub fn current(&self) -> Arc<Policy> {
        let now = self.started.elapsed().as_millis() as i64;
        let due = self.next_check_ms.load(Ordering::Relaxed);
        if now >= due
            && self
                .next_check_ms
                .compare_exchange(
                    due,
                    now + RELOAD_CHECK_INTERVAL_MS,
                    Ordering::AcqRel,
                    Ordering::Relaxed,
                )
                .is_ok()
        {
            self.check_now();
        }
        self.snapshot()
    }

    /// The policy in force, without looking at the file.
    pub fn snapshot(&self) -> Arc<Policy> {
        self.current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Looks at the file now and reloads it if it changed.
    pub fn check_now(&self) -> ReloadOutcome {
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        let now_print = fingerprint(&self.path);
        let changed = match (&now_print, &*seen) {
            (Ok(new), Some(old)) => new != old,
            (Ok(_), None) => true,
            // Vanished: report once, keep the policy.
            (Err(_), None) => false,
            (Err(_), Some(_)) => true,
        };
        if !changed {
            return ReloadOutcome::Unchanged;
        }
        *seen = now_print.as_ref().ok().cloned();
        let loaded = match now_print {
            Ok(_) => load_policy_file(&self.path, self.pkl.as_deref()),
            Err(e) => Err(ConfigError::new(format!(
                "policy: cannot read {}: {e}",
                self.path.display()
            ))),
        };
        match loaded {
            Ok(policy) => {
                *self.current.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(policy);
                self.reloads.fetch_add(1, Ordering::Relaxed);
                self.reporter.emit(
                    "oathmesh.policy_reload",
                    "reloaded",
                    format!("{} reloaded", self.path.display()),
                    self.clock.now_millis(),
                );
                ReloadOutcome::Reloaded
            }
            Err(e) => {
                self.reload_errors.fetch_add(1, Ordering::Relaxed);
                let reason = format!("{}; the last good policy stays in force", e.message());
                self.reporter.emit(
                    "oathmesh.policy_reload",
                    "reload_failed",
                    reason.clone(),
                    self.clock.now_millis(),
                );
                ReloadOutcome::Failed(reason)
            }
        }
    }

    /// Successful reloads since the first load.
    pub fn reloads(&self) -> u64 {
        self.reloads.load(Ordering::Relaxed)
    }

    /// Changed files that could not be loaded.
    pub fn reload_errors(&self) -> u64 {
        self.reload_errors.load(Ordering::Relaxed)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}
