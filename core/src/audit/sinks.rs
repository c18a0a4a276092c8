//! Audit (PROTOCOL §8): one event per verification, allow or deny. Events carry who, what and
//! why, never the token or a key. A failing or panicking sink never changes the result.

use crate::audit::chain::HmacChain;
use crate::audit::outputs::{FileOutput, StdoutOutput};
use crate::audit::queue::{self, QueuedOutput};
use crate::ops::OpsEvent;
use crate::verify::error::Step;
use crate::wire::token::{Claims, Source};
use serde::Serialize;
use std::io::Write;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
#[cfg(test)]
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Longest value of any audited text field; longer values are cut (and marked), so one
/// request can never write a line long enough to damage the log.
pub const MAX_FIELD_BYTES: usize = 512;
/// Longest request id (the core's request-id rule).
pub const MAX_REQUEST_ID_BYTES: usize = 128;
const CUT_MARK: &str = "...(truncated)";

/// One verification outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditEvent {
    pub event: &'static str,
    pub outcome: Outcome,
    pub code: Option<String>,
    pub step: Option<&'static str>,
    pub policy_rule: Option<String>,
    /// False when the claims below were decoded but their signature was not (or not yet)
    /// verified: on a deny before step 06 they are whatever the sender wrote.
    pub claims_verified: bool,
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
    /// Every text field is bounded ([`MAX_FIELD_BYTES`]).
    pub(crate) fn new(outcome: Outcome, claims: Option<&Claims>, timestamp: String) -> AuditEvent {
        let c = claims.cloned().unwrap_or_default();
        AuditEvent {
            event: "oathmesh.verify",
            outcome,
            code: None,
            step: None,
            policy_rule: None,
            claims_verified: outcome == Outcome::Allow,
            iss: bounded(c.iss),
            sub: bounded(c.sub),
            aud: bounded(c.aud),
            act: bounded(c.act),
            jti: bounded(c.jti),
            env: bounded(c.env),
            tenant: bounded(c.tenant),
            src: c.src.map(|s| Source {
                kind: bounded(s.kind),
                repo: bounded(s.repo),
                workflow: bounded(s.workflow),
                run_id: bounded(s.run_id),
                sha: bounded(s.sha),
            }),
            request_id: None,
            timestamp,
            latency_us: 0,
        }
    }

    /// Records why a verification was denied: the code, the step, the deciding rule, and
    /// whether the claims had been verified when it stopped.
    pub(crate) fn denied(&mut self, code: String, step: Step, policy_rule: Option<&str>) {
        self.code = Some(code);
        self.step = Some(step.as_str());
        self.policy_rule = bounded(policy_rule.map(str::to_owned));
        self.claims_verified = claims_verified_when_failing_at(step);
    }

    /// Sets the request id, bounded like every other field.
    pub(crate) fn set_request_id(&mut self, id: Option<&str>) {
        self.request_id = id.map(|id| cut(id, MAX_REQUEST_ID_BYTES));
    }

    /// One NDJSON line (without the newline).
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("audit event serializes")
    }
}

/// True when a verification that failed at `step` had already checked the signature over
/// the claims (steps run in [`Step::ORDER`]).
pub fn claims_verified_when_failing_at(step: Step) -> bool {
    let position = |s: Step| Step::ORDER.iter().position(|o| *o == s);
    position(step) > position(Step::Signature06)
}

fn cut(value: &str, max: usize) -> String {
    if value.len() <= max {
        return value.to_owned();
    }
    let mut end = max - CUT_MARK.len();
    while !value.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}{CUT_MARK}", &value[..end])
}

fn bounded(value: Option<String>) -> Option<String> {
    value.map(|v| {
        if v.len() <= MAX_FIELD_BYTES {
            v
        } else {
            cut(&v, MAX_FIELD_BYTES)
        }
    })
}

/// What happened to the events sent to the built-in outputs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct AuditStats {
    /// Lines written.
    pub written: u64,
    /// Events dropped because a queue was full (the output had fallen behind).
    pub dropped: u64,
    /// Writes that failed (disk full, I/O error, closed pipe).
    pub failed: u64,
}

impl AuditStats {
    fn add(self, other: AuditStats) -> AuditStats {
        AuditStats {
            written: self.written + other.written,
            dropped: self.dropped + other.dropped,
            failed: self.failed + other.failed,
        }
    }
}

/// Receives audit events. Implementations must be quick or hand off to a queue: `emit` runs
/// on the verifying thread.
pub trait AuditSink: Send + Sync {
    fn emit(&self, event: &AuditEvent);

    /// Receives operational events (breaker and policy-reload state changes). The built-in
    /// outputs write them as lines of their own; other sinks ignore them by default.
    fn emit_ops(&self, _event: &OpsEvent) {}

    /// Counters of a queued output; `None` for sinks that do not queue.
    fn stats(&self) -> Option<AuditStats> {
        None
    }
}

/// Calls `sink.emit`, containing any panic so that audit can never change a verification.
pub(crate) fn emit_guarded(sink: &dyn AuditSink, event: &AuditEvent) {
    let _ = catch_unwind(AssertUnwindSafe(|| sink.emit(event)));
}

/// NDJSON on standard output, written directly on the verifying thread. The configuration
/// document's `audit.stdout` uses a queued output instead ([`stdout_output`]); this type is
/// for embedders that want the plain, synchronous behaviour.
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

/// How the built-in outputs queue and rotate (the `audit` block of the document).
#[derive(Debug, Clone)]
pub struct AuditOptions {
    /// Lines a queue holds before it drops (and counts) events.
    pub queue_capacity: usize,
    /// How long a verification waits for its line while the output keeps up.
    pub max_wait: Duration,
    /// Size rotation of `audit.file`: a full file is renamed and a linked segment starts.
    pub max_file_bytes: Option<u64>,
}

impl Default for AuditOptions {
    fn default() -> Self {
        AuditOptions {
            queue_capacity: queue::DEFAULT_CAPACITY,
            max_wait: queue::DEFAULT_MAX_WAIT,
            max_file_bytes: None,
        }
    }
}

/// Standard output behind a bounded queue, HMAC-chained under `key` if given.
pub fn stdout_output(
    key: Option<Vec<u8>>,
    options: &AuditOptions,
) -> std::io::Result<QueuedOutput> {
    QueuedOutput::start(
        "stdout",
        Box::new(StdoutOutput::new(key.map(HmacChain::new))),
        options.queue_capacity,
        options.max_wait,
    )
}

/// An audit file behind a bounded queue: chained under `key` if given (continuing the file's
/// chain, in the first free writer slot, quarantining a damaged tail), plain otherwise.
/// Returns the output, the file it writes, and where a damaged file was moved.
pub fn file_output(
    path: &Path,
    key: Option<Vec<u8>>,
    options: &AuditOptions,
) -> Result<(QueuedOutput, PathBuf, Option<PathBuf>), String> {
    let (output, quarantined) = match key {
        Some(key) => FileOutput::chained(path, key, options.max_file_bytes)?,
        None => (
            FileOutput::plain(path, options.max_file_bytes).map_err(|e| e.to_string())?,
            None,
        ),
    };
    let written = output.path().to_owned();
    let queued = QueuedOutput::start(
        "file",
        Box::new(output),
        options.queue_capacity,
        options.max_wait,
    )
    .map_err(|e| e.to_string())?;
    Ok((queued, written, quarantined))
}

/// NDJSON on standard output, HMAC-chained (`seq`, `prev_hash`, `hmac`), behind a queue.
pub struct ChainedStdoutSink(QueuedOutput);

impl ChainedStdoutSink {
    pub fn new(chain: HmacChain) -> Self {
        ChainedStdoutSink(
            QueuedOutput::start(
                "stdout",
                Box::new(StdoutOutput::new(Some(chain))),
                queue::DEFAULT_CAPACITY,
                queue::DEFAULT_MAX_WAIT,
            )
            .expect("the audit writer thread starts"),
        )
    }
}

impl AuditSink for ChainedStdoutSink {
    fn emit(&self, event: &AuditEvent) {
        self.0.emit(event);
    }

    fn emit_ops(&self, event: &OpsEvent) {
        self.0.emit_ops(event);
    }

    fn stats(&self) -> Option<AuditStats> {
        Some(self.0.stats())
    }
}

/// Appends NDJSON to a file (append-only, 0600, never through a symlink), behind a queue.
pub struct FileSink(QueuedOutput);

impl FileSink {
    pub fn open(path: &Path) -> std::io::Result<FileSink> {
        file_output(path, None, &AuditOptions::default())
            .map(|(q, _, _)| FileSink(q))
            .map_err(std::io::Error::other)
    }

    /// Opens the file with an HMAC chain under `key`, continuing the chain of an existing
    /// chained log. An existing log that is not chained is refused: one file, one chain.
    pub fn open_chained(path: &Path, key: Vec<u8>) -> Result<FileSink, String> {
        file_output(path, Some(key), &AuditOptions::default()).map(|(q, _, _)| FileSink(q))
    }

    /// Writes that failed (disk full, I/O error); the verifications themselves went on.
    pub fn failures(&self) -> u64 {
        self.0.stats().failed
    }
}

impl AuditSink for FileSink {
    fn emit(&self, event: &AuditEvent) {
        self.0.emit(event);
    }

    fn emit_ops(&self, event: &OpsEvent) {
        self.0.emit_ops(event);
    }

    fn stats(&self) -> Option<AuditStats> {
        Some(self.0.stats())
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

    /// The sum of every queued output's counters.
    pub fn audit_stats(&self) -> AuditStats {
        self.sinks
            .iter()
            .filter_map(|s| s.stats())
            .fold(AuditStats::default(), AuditStats::add)
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
