//! The files behind a chained audit output: opening them safely, one writer per chain, the
//! writer's own record of where its chain ended, and what to do with a damaged tail.
//!
//! Scheme (docs/audit.md):
//! - `audit.ndjson` is written by at most one writer, which holds an exclusive `flock` on
//!   `audit.ndjson.lock`. A second writer (another worker process, a second verifier object)
//!   takes the next free slot: `audit.ndjson.writer-1`, `-2`, ... each its own chain with its
//!   own lock. A restarted worker takes a free slot and continues that slot's chain.
//! - The lock file also holds the writer's record `{"seq":N,"hash":"..","mac":".."}` of the
//!   last line it wrote, MACed under the audit key. A restart links to it, so lines removed
//!   from the end while the service was down make the next segment header fail to verify.
//! - Files are opened with `O_NOFOLLOW` and kept at mode 0600.

use crate::audit::chain::{self, HmacChain, MAX_LINE_BYTES};
use hmac::Mac;
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// How many writers may share one configured path (slots 0..MAX_SLOTS).
pub const MAX_SLOTS: usize = 16;
/// How much of a log's end is read to resume it; lines are far shorter than this.
const TAIL_BYTES: u64 = 4 * MAX_LINE_BYTES as u64;

fn open_options() -> OpenOptions {
    let mut options = OpenOptions::new();
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
        options.custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC);
    }
    options
}

fn symlink_error(path: &Path, e: io::Error) -> io::Error {
    #[cfg(unix)]
    if e.raw_os_error() == Some(libc::ELOOP) {
        return io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "{} is a symbolic link; audit files are never opened through one (point audit.file at the real file)",
                path.display()
            ),
        );
    }
    let _ = path;
    e
}

/// Opens an audit file for appending: created 0600, never through a symlink, a regular file,
/// and an existing file with looser permissions is tightened to 0600.
pub fn open_append(path: &Path) -> io::Result<File> {
    let file = open_options()
        .create(true)
        .read(true)
        .append(true)
        .open(path)
        .map_err(|e| symlink_error(path, e))?;
    private_regular_file(path, &file)?;
    Ok(file)
}

fn private_regular_file(path: &Path, file: &File) -> io::Result<()> {
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "{} is not a regular file (use audit.stdout for standard output)",
                path.display()
            ),
        ));
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if meta.permissions().mode() & 0o077 != 0 {
            file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
        }
    }
    Ok(())
}

/// The (device, inode) of an open file or a path, to notice a file moved away (rotation).
#[cfg(unix)]
pub fn identity(meta: &std::fs::Metadata) -> (u64, u64) {
    use std::os::unix::fs::MetadataExt;
    (meta.dev(), meta.ino())
}

#[cfg(not(unix))]
pub fn identity(_meta: &std::fs::Metadata) -> (u64, u64) {
    (0, 0)
}

/// The path of writer slot `n` for a configured path.
pub fn slot_path(path: &Path, n: usize) -> PathBuf {
    if n == 0 {
        return path.to_owned();
    }
    let mut name = path.as_os_str().to_owned();
    name.push(format!(".writer-{n}"));
    PathBuf::from(name)
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// An exclusive lock on a slot, held for the writer's life, with the writer's record.
pub struct SlotLock {
    file: File,
    key: Vec<u8>,
}

impl std::fmt::Debug for SlotLock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SlotLock").finish_non_exhaustive()
    }
}

/// Length of the fixed record: `{"seq":` + 20 digits + `,"hash":"` + 64 + `","mac":"` + 64 +
/// `"}` padded with spaces, then a newline. Fixed, so a rewrite never leaves old bytes behind.
const RECORD_BYTES: usize = 200;

impl SlotLock {
    /// Takes the lock of `path`'s slot, or `None` when another writer holds it.
    pub fn try_take(path: &Path, key: &[u8]) -> io::Result<Option<SlotLock>> {
        let lock_path = with_suffix(path, ".lock");
        let file = open_options()
            .create(true)
            .read(true)
            .write(true)
            .truncate(false)
            .open(&lock_path)
            .map_err(|e| symlink_error(&lock_path, e))?;
        private_regular_file(&lock_path, &file)?;
        #[cfg(unix)]
        {
            use std::os::unix::io::AsRawFd;
            // SAFETY: flock on a descriptor we own; no memory is shared.
            let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
            if rc != 0 {
                let err = io::Error::last_os_error();
                if err.raw_os_error() == Some(libc::EWOULDBLOCK) {
                    return Ok(None);
                }
                return Err(err);
            }
        }
        Ok(Some(SlotLock {
            file,
            key: key.to_vec(),
        }))
    }

    fn record_mac(&self, seq: u64, hash: &str) -> String {
        let mut m = hmac::Hmac::<sha2::Sha256>::new_from_slice(&self.key)
            .expect("HMAC takes keys of any length");
        m.update(format!("oathmesh.audit_record:{seq}:{hash}").as_bytes());
        chain::hex(&m.finalize().into_bytes())
    }

    /// The last line this slot's writer recorded, if the record is present and its MAC holds.
    pub fn recorded(&mut self) -> Option<(u64, String)> {
        let mut text = String::new();
        self.file.seek(SeekFrom::Start(0)).ok()?;
        (&self.file)
            .take(RECORD_BYTES as u64)
            .read_to_string(&mut text)
            .ok()?;
        let value: serde_json::Value = serde_json::from_str(text.trim()).ok()?;
        let seq = value.get("seq")?.as_u64()?;
        let hash = value.get("hash")?.as_str()?.to_owned();
        let mac = value.get("mac")?.as_str()?;
        let expected = self.record_mac(seq, &hash);
        bool::from(subtle::ConstantTimeEq::ct_eq(
            mac.as_bytes(),
            expected.as_bytes(),
        ))
        .then_some((seq, hash))
    }

    /// Records the last line written (one positioned write of a fixed-size record).
    pub fn record(&mut self, seq: u64, hash: &str) -> io::Result<()> {
        let mut text = format!(
            "{{\"seq\":{seq},\"hash\":\"{hash}\",\"mac\":\"{}\"}}",
            self.record_mac(seq, hash)
        );
        while text.len() < RECORD_BYTES - 1 {
            text.push(' ');
        }
        text.push('\n');
        #[cfg(unix)]
        {
            use std::os::unix::fs::FileExt;
            self.file.write_all_at(text.as_bytes(), 0)
        }
        #[cfg(not(unix))]
        {
            self.file.seek(SeekFrom::Start(0))?;
            self.file.write_all(text.as_bytes())
        }
    }
}

/// Takes the first free slot for `path`: its path and lock.
pub fn take_slot(path: &Path, key: &[u8]) -> Result<(PathBuf, SlotLock), String> {
    for n in 0..MAX_SLOTS {
        let slot = slot_path(path, n);
        match SlotLock::try_take(&slot, key) {
            Ok(Some(lock)) => return Ok((slot, lock)),
            Ok(None) => continue,
            Err(e) => return Err(e.to_string()),
        }
    }
    Err(format!(
        "{MAX_SLOTS} writers already hold {} and its writer slots; give each process its own audit.file",
        path.display()
    ))
}

/// What a chained writer found when it opened its file.
#[derive(Debug)]
pub struct Resumed {
    pub chain: HmacChain,
    /// The segment header to write first, as (`reason`, `detail`); `None` for a new chain.
    pub header: Option<(&'static str, String)>,
    /// Where a damaged file was moved.
    pub quarantined: Option<PathBuf>,
}

/// The end of a log as read for resuming.
enum Tail {
    Missing,
    Empty,
    /// The last line verifies and the file ends with a newline.
    Good(String),
    /// The last complete line has no `hmac`: a plain log, not a damaged chained one.
    Unchained,
    /// Chained lines, none of which verify under the configured key.
    WrongKey,
    /// A partial last line, a line that does not verify, or one too long; the last line that
    /// does verify (if any was found in the tail) and why.
    Damaged {
        last_good: Option<String>,
        why: String,
    },
}

fn read_tail(path: &Path, key: &[u8]) -> io::Result<Tail> {
    let mut file = match open_options().read(true).open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Tail::Missing),
        Err(e) => return Err(symlink_error(path, e)),
    };
    let len = file.metadata()?.len();
    if len == 0 {
        return Ok(Tail::Empty);
    }
    let start = len.saturating_sub(TAIL_BYTES);
    file.seek(SeekFrom::Start(start))?;
    let mut tail = Vec::new();
    file.read_to_end(&mut tail)?;
    let complete = tail.ends_with(b"\n");
    let mut lines: Vec<&[u8]> = tail.split(|b| *b == b'\n').collect();
    lines.pop(); // after the last newline: empty, or a partial line
    if start > 0 && !lines.is_empty() {
        lines.remove(0); // probably cut by the window
    }
    let good = |raw: &[u8]| {
        std::str::from_utf8(raw)
            .ok()
            .filter(|line| chain::check_line(key, line).is_ok())
            .map(str::to_owned)
    };
    let last_good = || lines.iter().rev().find_map(|raw| good(raw));
    let _ = &last_good;
    let Some(last) = lines.last() else {
        return Ok(Tail::Damaged {
            last_good: None,
            why: format!("the last {} bytes hold no complete line", tail.len()),
        });
    };
    if complete && let Some(line) = good(last) {
        return Ok(Tail::Good(line));
    }
    let last_good = last_good();
    if last_good.is_none() && last.len() <= MAX_LINE_BYTES && complete {
        let value = serde_json::from_slice::<serde_json::Value>(last).ok();
        if value.as_ref().is_some_and(|v| v.get("hmac").is_none()) {
            return Ok(Tail::Unchained);
        }
        if value.is_some() {
            // Chained lines, none of which verify: the wrong key, not damage.
            return Ok(Tail::WrongKey);
        }
    }
    let why = if !complete {
        "the last line is incomplete (a crash or a full disk during a write)".to_owned()
    } else if last.len() > MAX_LINE_BYTES {
        format!("the last line is longer than {MAX_LINE_BYTES} bytes")
    } else {
        "the last line does not verify".to_owned()
    };
    Ok(Tail::Damaged { last_good, why })
}

/// Picks the later of the file's last line and the writer's record: a record ahead of the
/// file means lines were removed from the file's end.
fn link_point(
    key: &[u8],
    file_last: Option<&str>,
    recorded: Option<(u64, String)>,
) -> (Option<HmacChain>, Option<String>) {
    let from_file = file_last.and_then(|l| HmacChain::resume(key.to_vec(), l).ok());
    match (from_file, recorded) {
        (Some(chain), Some((seq, hash))) if seq + 1 > chain.next_seq() => (
            Some(HmacChain::continue_from(key.to_vec(), seq, hash)),
            Some(format!(
                "the log ends at seq {} but this writer last wrote seq {seq}: lines were removed from its end",
                chain.next_seq() - 1
            )),
        ),
        (Some(chain), _) => (Some(chain), None),
        (None, Some((seq, hash))) => (
            Some(HmacChain::continue_from(key.to_vec(), seq, hash)),
            None,
        ),
        (None, None) => (None, None),
    }
}

/// Opens the chain of a slot's file: continues it, or quarantines a damaged file and starts a
/// new file linked to the last good line. An unchained existing log is refused.
pub fn resume(path: &Path, key: &[u8], lock: &mut SlotLock) -> Result<Resumed, String> {
    let recorded = lock.recorded();
    let tail = read_tail(path, key).map_err(|e| e.to_string())?;
    let (file_last, damaged) = match tail {
        Tail::Unchained => {
            return Err(
                "the last line has no `hmac`: the log is not HMAC-chained; rotate the existing log before enabling audit.hmac_key"
                    .into(),
            );
        }
        Tail::WrongKey => {
            return Err(
                "no line at the end of the log verifies under audit.hmac_key: the key is wrong, or the log was replaced"
                    .into(),
            );
        }
        Tail::Missing | Tail::Empty => (None, None),
        Tail::Good(line) => (Some(line), None),
        Tail::Damaged { last_good, why } => (last_good, Some(why)),
    };
    let (chain, removed) = link_point(key, file_last.as_deref(), recorded);
    let mut quarantined = None;
    let header = if let Some(why) = damaged {
        let target = quarantine_name(path);
        std::fs::rename(path, &target)
            .map_err(|e| format!("{why}, and moving it to {} failed: {e}", target.display()))?;
        let name = target
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        quarantined = Some(target);
        let linked = if chain.is_some() {
            "this segment links to its last line that verifies"
        } else {
            "no line in its tail verifies, so this is a new chain, not linked"
        };
        Some((
            "quarantine",
            format!("{why}; the damaged file was moved to {name}; {linked}"),
        ))
    } else {
        match (&chain, &file_last, removed) {
            (None, _, _) => None,
            (Some(_), _, Some(removed)) => Some(("restart", removed)),
            (Some(_), Some(_), None) => {
                Some(("restart", "a new writer continues the chain".into()))
            }
            (Some(_), None, None) => Some((
                "new_file",
                "the file was new or empty; this segment links to the last line this writer wrote"
                    .into(),
            )),
        }
    };
    Ok(Resumed {
        chain: chain.unwrap_or_else(|| HmacChain::new(key.to_vec())),
        header,
        quarantined,
    })
}

fn quarantine_name(path: &Path) -> PathBuf {
    let millis = crate::clock::Clock::now_millis(&crate::clock::SystemClock);
    let mut candidate = with_suffix(path, &format!(".damaged-{millis}"));
    let mut n = 1;
    while candidate.exists() {
        candidate = with_suffix(path, &format!(".damaged-{millis}-{n}"));
        n += 1;
    }
    candidate
}

/// A free name for a rotated segment.
pub fn rotated_name(path: &Path) -> PathBuf {
    let millis = crate::clock::Clock::now_millis(&crate::clock::SystemClock);
    let mut candidate = with_suffix(path, &format!(".{millis}"));
    let mut n = 1;
    while candidate.exists() {
        candidate = with_suffix(path, &format!(".{millis}-{n}"));
        n += 1;
    }
    candidate
}

/// For an unchained log: makes sure the next line starts on a line of its own.
pub fn end_with_newline(file: &mut File) -> io::Result<()> {
    let len = file.metadata()?.len();
    if len == 0 {
        return Ok(());
    }
    let mut last = [0u8; 1];
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileExt;
        // The file is append-only for writing; positioned reads still work on a read handle.
        let _ = file.read_at(&mut last, len - 1);
    }
    if last[0] != b'\n' {
        file.write_all(b"\n")?;
    }
    Ok(())
}
