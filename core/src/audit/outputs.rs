//! The built-in outputs as the audit writer thread sees them: a file (plain or chained, with
//! rotation and external-rotation detection) and standard output. Each writes one line at a
//! time and owns its state; the queue in front of it (`queue`) keeps it off the verifying
//! thread.

use crate::audit::chain::{GAP_EVENT, HmacChain, SEGMENT_EVENT};
use crate::audit::files::{self, SlotLock};
use crate::clock::{self, Clock, SystemClock};
use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// One output line at a time.
pub trait LineOutput: Send {
    /// Writes one JSON object line (no newline); chained outputs seal it first.
    fn write_line(&mut self, line: &str) -> io::Result<()>;
}

fn now() -> String {
    clock::rfc3339_millis(SystemClock.now_millis())
}

/// A segment header (an ordinary chained line).
pub fn segment_header(reason: &str, detail: &str, file: Option<&Path>) -> String {
    serde_json::json!({
        "event": SEGMENT_EVENT,
        "reason": reason,
        "detail": detail,
        "file": file.and_then(Path::file_name).map(|n| n.to_string_lossy().into_owned()),
        "pid": std::process::id(),
        "timestamp": now(),
    })
    .to_string()
}

/// A line recording events that never reached this output.
pub fn gap_line(lost: u64) -> String {
    serde_json::json!({
        "event": GAP_EVENT,
        "lost": lost,
        "detail": "events lost before this line: the audit queue was full or a write failed",
        "timestamp": now(),
    })
    .to_string()
}

/// An append-only audit file.
pub struct FileOutput {
    path: PathBuf,
    file: File,
    chain: Option<HmacChain>,
    lock: Option<SlotLock>,
    /// Bytes this writer knows the file holds: less on disk means it was truncated.
    end: u64,
    identity: (u64, u64),
    max_bytes: Option<u64>,
}

impl FileOutput {
    /// A plain (unchained) file.
    pub fn plain(path: &Path, max_bytes: Option<u64>) -> io::Result<FileOutput> {
        let mut file = files::open_append(path)?;
        files::end_with_newline(&mut file)?;
        FileOutput::from_file(path.to_owned(), file, None, None, max_bytes)
    }

    /// A chained file in the first free writer slot of `path`, continuing its chain.
    /// Returns the output and a note for the operator when a damaged file was quarantined.
    pub fn chained(
        path: &Path,
        key: Vec<u8>,
        max_bytes: Option<u64>,
    ) -> Result<(FileOutput, Option<PathBuf>), String> {
        let (slot, mut lock) = files::take_slot(path, &key)?;
        let resumed = files::resume(&slot, &key, &mut lock)?;
        let file = files::open_append(&slot).map_err(|e| e.to_string())?;
        let mut output = FileOutput::from_file(
            slot.clone(),
            file,
            Some(resumed.chain),
            Some(lock),
            max_bytes,
        )
        .map_err(|e| e.to_string())?;
        if let Some((reason, detail)) = resumed.header {
            let header = segment_header(reason, &detail, Some(&slot));
            output.append(&header).map_err(|e| e.to_string())?;
        }
        Ok((output, resumed.quarantined))
    }

    fn from_file(
        path: PathBuf,
        file: File,
        chain: Option<HmacChain>,
        lock: Option<SlotLock>,
        max_bytes: Option<u64>,
    ) -> io::Result<FileOutput> {
        let meta = file.metadata()?;
        Ok(FileOutput {
            path,
            end: meta.len(),
            identity: files::identity(&meta),
            file,
            chain,
            lock,
            max_bytes,
        })
    }

    /// The file this output writes (a writer slot may differ from the configured path).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends one line; a failed write is cut back off the file so that a partial line is
    /// never left to read as tampering, and the chain does not advance.
    fn append(&mut self, line: &str) -> io::Result<()> {
        let mut next = self.chain.clone();
        let mut text = match &mut next {
            Some(chain) => chain.seal(line),
            None => line.to_owned(),
        };
        text.push('\n');
        let start = self.end;
        if let Err(e) = self.file.write_all(text.as_bytes()) {
            let _ = self.file.set_len(start);
            return Err(e);
        }
        self.end += text.len() as u64;
        if let Some(chain) = next {
            if let Some(lock) = &mut self.lock {
                // Best effort: a failed record only weakens the next restart's check.
                let _ = lock.record(chain.next_seq() - 1, chain.prev_hash());
            }
            self.chain = Some(chain);
        }
        Ok(())
    }

    /// Notices a rotation done by someone else: the file moved away (logrotate `create`, a
    /// manual `mv`) is reopened; a file truncated in place (`copytruncate`) gets a header.
    fn follow_external_changes(&mut self) -> io::Result<()> {
        let moved = match std::fs::symlink_metadata(&self.path) {
            Ok(meta) => files::identity(&meta) != self.identity,
            Err(e) if e.kind() == io::ErrorKind::NotFound => true,
            Err(e) => return Err(e),
        };
        if moved {
            self.reopen(
                "reopen",
                "the previous file was moved or removed (log rotation); this segment links to its last line",
            )?;
            return Ok(());
        }
        let len = self.file.metadata()?.len();
        if len < self.end {
            self.end = len;
            if self.chain.is_some() {
                self.append(&segment_header(
                    "truncated",
                    "the file was truncated in place (copytruncate); the lines before this one are in the copy",
                    Some(&self.path.clone()),
                ))?;
            }
        }
        Ok(())
    }

    fn reopen(&mut self, reason: &str, detail: &str) -> io::Result<()> {
        let mut file = files::open_append(&self.path)?;
        if self.chain.is_none() {
            files::end_with_newline(&mut file)?;
        }
        let meta = file.metadata()?;
        self.file = file;
        self.end = meta.len();
        self.identity = files::identity(&meta);
        if self.chain.is_some() {
            let path = self.path.clone();
            self.append(&segment_header(reason, detail, Some(&path)))?;
        }
        Ok(())
    }

    fn rotate_if_full(&mut self) -> io::Result<()> {
        let Some(max) = self.max_bytes else {
            return Ok(());
        };
        if self.end < max {
            return Ok(());
        }
        let target = files::rotated_name(&self.path);
        std::fs::rename(&self.path, &target)?;
        let name = target
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        self.reopen(
            "rotate",
            &format!("size rotation; the previous segment is {name}"),
        )
    }
}

impl LineOutput for FileOutput {
    fn write_line(&mut self, line: &str) -> io::Result<()> {
        self.follow_external_changes()?;
        self.append(line)?;
        self.rotate_if_full()
    }
}

/// Standard output, plain or chained. A chained standard output cannot read back where an
/// earlier process left off, so each process starts a new chain with a `start` header.
pub struct StdoutOutput {
    chain: Option<HmacChain>,
    started: bool,
}

impl StdoutOutput {
    pub fn new(chain: Option<HmacChain>) -> StdoutOutput {
        StdoutOutput {
            chain,
            started: false,
        }
    }

    fn put(&mut self, line: &str) -> io::Result<()> {
        let mut next = self.chain.clone();
        let text = match &mut next {
            Some(chain) => chain.seal(line),
            None => line.to_owned(),
        };
        let mut out = io::stdout().lock();
        writeln!(out, "{text}")?;
        out.flush()?;
        if next.is_some() {
            self.chain = next;
        }
        Ok(())
    }
}

impl LineOutput for StdoutOutput {
    fn write_line(&mut self, line: &str) -> io::Result<()> {
        if !self.started && self.chain.as_ref().is_some_and(|c| c.next_seq() == 1) {
            self.put(&segment_header(
                "start",
                "standard output: a new chain for this process, not linked to any earlier one",
                None,
            ))?;
        }
        self.started = true;
        self.put(line)
    }
}
