//! Audit (PROTOCOL §8): one event per verification, allow or deny. Events carry who, what and
//! why, never the token or a key. A failing or panicking sink never changes the result.

use crate::audit::chain::HmacChain;
use crate::ops::OpsEvent;
use crate::wire::token::{Claims, Source};
use serde::Serialize;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

/// One verification outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditEvent {
    pub event: &'static str,
    pub outcome: Outcome,
    pub code: Option<String>,
    pub step: Option<&'static str>,
    pub policy_rule: Option<String>,
    pub iss: Option<String>,
    pub sub: Option<String>,
    pub aud: Option<String>,
    pub act: Option<String>,
    pub jti: Option<String>,
    pub env: Option<String>,
    pub tenant: Option<String>,
    pub src: Option<Source>,
    pub request_id: Option<String>,
    /// RFC 3339 UTC with milliseconds.
    pub timestamp: String,
    pub latency_us: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Allow,
    Deny,
}

impl AuditEvent {
    /// Builds an event from whatever claims were decoded before the pipeline stopped.
    pub(crate) fn new(outcome: Outcome, claims: Option<&Claims>, timestamp: String) -> AuditEvent {
        let c = claims.cloned().unwrap_or_default();
        AuditEvent {
            event: "oathmesh.verify",
            outcome,
            code: None,
            step: None,
            policy_rule: None,
            iss: c.iss,
            sub: c.sub,
            aud: c.aud,
            act: c.act,
            jti: c.jti,
            env: c.env,
            tenant: c.tenant,
            src: c.src,
            request_id: None,
            timestamp,
            latency_us: 0,
        }
    }

    /// One NDJSON line (without the newline).
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("audit event serializes")
    }
}

/// Receives audit events. Implementations must be quick or hand off to a queue: `emit` runs
/// on the verifying thread.
pub trait AuditSink: Send + Sync {
    fn emit(&self, event: &AuditEvent);

    /// Receives operational events (breaker and policy-reload state changes). The built-in
    /// outputs write them as lines of their own; other sinks ignore them by default.
    fn emit_ops(&self, _event: &OpsEvent) {}
}

/// Calls `sink.emit`, containing any panic so that audit can never change a verification.
pub(crate) fn emit_guarded(sink: &dyn AuditSink, event: &AuditEvent) {
    let _ = catch_unwind(AssertUnwindSafe(|| sink.emit(event)));
}

/// NDJSON on standard output.
#[derive(Debug, Default)]
pub struct StdoutSink;

impl AuditSink for StdoutSink {
    fn emit(&self, event: &AuditEvent) {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{}", event.to_json());
    }

    fn emit_ops(&self, event: &OpsEvent) {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{}", event.to_json());
    }
}

/// NDJSON on standard output, HMAC-chained (`seq`, `prev_hash`, `hmac`).
#[derive(Debug)]
pub struct ChainedStdoutSink {
    chain: Mutex<HmacChain>,
}

impl ChainedStdoutSink {
    pub fn new(chain: HmacChain) -> Self {
        ChainedStdoutSink {
            chain: Mutex::new(chain),
        }
    }

    fn write(&self, line: &str) {
        let mut chain = self.chain.lock().unwrap_or_else(|p| p.into_inner());
        let sealed = chain.seal(line);
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{sealed}");
    }
}

impl AuditSink for ChainedStdoutSink {
    fn emit(&self, event: &AuditEvent) {
        self.write(&event.to_json());
    }

    fn emit_ops(&self, event: &OpsEvent) {
        self.write(&event.to_json());
    }
}

/// Appends NDJSON to a file opened in append-only mode (each line is one `write`, so
/// concurrent writers never interleave within a line).
#[derive(Debug)]
pub struct FileSink {
    /// The chain lives under the file's lock, so `seq` order is file order.
    file: Mutex<(File, Option<HmacChain>)>,
    failures: AtomicU64,
}

impl FileSink {
    pub fn open(path: &Path) -> std::io::Result<FileSink> {
        let mut options = OpenOptions::new();
        options.create(true).append(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        Ok(FileSink {
            file: Mutex::new((options.open(path)?, None)),
            failures: AtomicU64::new(0),
        })
    }

    /// Opens the file with an HMAC chain under `key`, continuing the chain of an existing
    /// chained log. An existing log that is not chained is refused: one file, one chain.
    pub fn open_chained(path: &Path, key: Vec<u8>) -> Result<FileSink, String> {
        let existing = last_line(path).map_err(|e| e.to_string())?;
        let chain = match existing {
            None => HmacChain::new(key),
            Some(line) => HmacChain::resume(key, &line).map_err(|e| {
                format!("{e}; rotate the existing log before enabling audit.hmac_key")
            })?,
        };
        let sink = FileSink::open(path).map_err(|e| e.to_string())?;
        sink.file.lock().unwrap_or_else(|p| p.into_inner()).1 = Some(chain);
        Ok(sink)
    }

    fn write_line(&self, line: String) {
        let mut guard = self.file.lock().unwrap_or_else(|p| p.into_inner());
        let (file, chain) = &mut *guard;
        let mut line = match chain {
            Some(chain) => chain.seal(&line),
            None => line,
        };
        line.push('\n');
        if file.write_all(line.as_bytes()).is_err() {
            self.failures.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Writes that failed (disk full, I/O error); the verifications themselves went on.
    pub fn failures(&self) -> u64 {
        self.failures.load(Ordering::Relaxed)
    }
}

/// The last non-empty line of a file, if the file exists and has one.
fn last_line(path: &Path) -> std::io::Result<Option<String>> {
    use std::io::{Seek, SeekFrom};
    let mut file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let len = file.metadata()?.len();
    // Audit lines are far shorter than this.
    let start = len.saturating_sub(256 * 1024);
    file.seek(SeekFrom::Start(start))?;
    let mut tail = Vec::new();
    std::io::Read::read_to_end(&mut file, &mut tail)?;
    let text = String::from_utf8_lossy(&tail);
    Ok(text
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .map(str::to_owned))
}

impl AuditSink for FileSink {
    fn emit(&self, event: &AuditEvent) {
        self.write_line(event.to_json());
    }

    fn emit_ops(&self, event: &OpsEvent) {
        self.write_line(event.to_json());
    }
}

/// Sends each event to every sink; one failing sink does not stop the others.
#[derive(Default)]
pub struct FanOutSink {
    sinks: Vec<Box<dyn AuditSink>>,
}

impl FanOutSink {
    pub fn new(sinks: Vec<Box<dyn AuditSink>>) -> Self {
        FanOutSink { sinks }
    }

    pub fn push(&mut self, sink: Box<dyn AuditSink>) {
        self.sinks.push(sink);
    }

    pub fn is_empty(&self) -> bool {
        self.sinks.is_empty()
    }
}

impl AuditSink for FanOutSink {
    fn emit(&self, event: &AuditEvent) {
        for sink in &self.sinks {
            emit_guarded(sink.as_ref(), event);
        }
    }

    fn emit_ops(&self, event: &OpsEvent) {
        for sink in &self.sinks {
            let _ = catch_unwind(AssertUnwindSafe(|| sink.emit_ops(event)));
        }
    }
}

/// Calls a closure: how bindings deliver events to host-language callbacks.
pub struct CallbackSink<F>(pub F);

impl<F: Fn(&AuditEvent) + Send + Sync> AuditSink for CallbackSink<F> {
    fn emit(&self, event: &AuditEvent) {
        (self.0)(event)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn event() -> AuditEvent {
        AuditEvent::new(Outcome::Deny, None, "2026-01-01T00:00:00.000Z".into())
    }

    #[test]
    fn fan_out_survives_a_panicking_sink() {
        let seen = Arc::new(AtomicU64::new(0));
        let counter = seen.clone();
        let fan = FanOutSink::new(vec![
            Box::new(CallbackSink(|_: &AuditEvent| panic!("sink bug"))),
            Box::new(CallbackSink(move |_: &AuditEvent| {
                counter.fetch_add(1, Ordering::SeqCst);
            })),
        ]);
        fan.emit(&event());
        assert_eq!(seen.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn file_sink_appends_lines_with_private_mode() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.ndjson");
        let sink = FileSink::open(&path).unwrap();
        sink.emit(&event());
        sink.emit(&event());
        drop(sink);
        let sink = FileSink::open(&path).unwrap();
        sink.emit(&event());
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.lines().count(), 3);
        for line in text.lines() {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            assert_eq!(v["event"], "oathmesh.verify");
            assert_eq!(v["outcome"], "deny");
        }
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(
                std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
                0o600
            );
        }
    }
}
