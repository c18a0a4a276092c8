//! A bounded queue between the verifying threads and one audit output, drained by one
//! writer thread per output. A stalled output (a pipe nobody reads, a hung disk) never stops
//! verification: the verifying thread waits at most `max_wait` for its line while the output
//! keeps up, and not at all once it has fallen behind; a full queue drops the event and
//! counts it, and the writer records the loss in the log itself (`oathmesh.audit_gap`).

use crate::audit::outputs::{LineOutput, gap_line};
use crate::audit::{AuditEvent, AuditSink, AuditStats};
use crate::ops::OpsEvent;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// Default number of lines a queue holds.
pub const DEFAULT_CAPACITY: usize = 10_000;
/// Default time a verification waits for its line while the output keeps up.
pub const DEFAULT_MAX_WAIT: Duration = Duration::from_millis(500);
/// How long dropping a verifier waits for its queue to drain.
const DRAIN_ON_DROP: Duration = Duration::from_secs(2);

#[derive(Default)]
struct Shared {
    /// Tickets handed out (one per queued line) and tickets finished, in order.
    finished: Mutex<u64>,
    progress: Condvar,
    /// The newest ticket handed out.
    issued: AtomicU64,
    written: AtomicU64,
    dropped: AtomicU64,
    failed: AtomicU64,
    /// Set when a line was not finished within `max_wait`; cleared when the writer catches up.
    behind: AtomicBool,
}

impl Shared {
    /// Waits until the writer has finished line `ticket`, for at most `within`; false when
    /// the time ran out first.
    fn wait_for(&self, ticket: u64, within: Duration) -> bool {
        let deadline = Instant::now() + within;
        let mut finished = self.finished.lock().unwrap_or_else(|p| p.into_inner());
        while *finished < ticket {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            finished = self
                .progress
                .wait_timeout(finished, left)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
        true
    }
}

/// One queued line: its ticket (for waiting on it) and the text.
type Ticketed = (u64, String);

/// The sending half and the last ticket sent through it; `None` once the output is closed.
type SenderState = Option<(SyncSender<Ticketed>, u64)>;

/// An audit output behind a bounded queue and its own writer thread.
pub struct QueuedOutput {
    sender: Mutex<SenderState>,
    shared: Arc<Shared>,
    max_wait: Duration,
    worker: Option<std::thread::JoinHandle<()>>,
}

impl QueuedOutput {
    pub fn start(
        name: &str,
        output: Box<dyn LineOutput>,
        capacity: usize,
        max_wait: Duration,
    ) -> std::io::Result<QueuedOutput> {
        let (tx, rx) = sync_channel(capacity.max(1));
        let shared = Arc::new(Shared::default());
        let worker_shared = shared.clone();
        let worker = std::thread::Builder::new()
            .name(format!("oathmesh-audit-{name}"))
            .spawn(move || drain(rx, output, &worker_shared))?;
        Ok(QueuedOutput {
            sender: Mutex::new(Some((tx, 0))),
            shared,
            max_wait,
            worker: Some(worker),
        })
    }

    fn push(&self, line: String) {
        let ticket = {
            let mut guard = self.sender.lock().unwrap_or_else(|p| p.into_inner());
            let Some((tx, issued)) = guard.as_mut() else {
                return;
            };
            match tx.try_send((*issued + 1, line)) {
                Ok(()) => {
                    *issued += 1;
                    self.shared.issued.store(*issued, Ordering::Relaxed);
                    *issued
                }
                Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => {
                    self.shared.dropped.fetch_add(1, Ordering::Relaxed);
                    self.shared.behind.store(true, Ordering::Relaxed);
                    return;
                }
            }
        };
        if self.max_wait.is_zero() || self.shared.behind.load(Ordering::Relaxed) {
            return;
        }
        // While the output keeps up, the line is written before the verification returns
        // (a crash right after an allow still leaves its event on disk).
        if !self.shared.wait_for(ticket, self.max_wait) {
            self.shared.behind.store(true, Ordering::Relaxed);
        }
    }

    pub fn stats(&self) -> AuditStats {
        AuditStats {
            written: self.shared.written.load(Ordering::Relaxed),
            dropped: self.shared.dropped.load(Ordering::Relaxed),
            failed: self.shared.failed.load(Ordering::Relaxed),
        }
    }
}

fn drain(rx: Receiver<Ticketed>, mut output: Box<dyn LineOutput>, shared: &Shared) {
    let mut reported_lost = 0u64;
    let mut failed_here = 0u64;
    while let Ok((ticket, line)) = rx.recv() {
        let lost = shared.dropped.load(Ordering::Relaxed) + failed_here;
        let gap_ok = lost == reported_lost || {
            let ok = output.write_line(&gap_line(lost - reported_lost)).is_ok();
            if ok {
                reported_lost = lost;
            }
            ok
        };
        let ok = gap_ok && output.write_line(&line).is_ok();
        if ok {
            shared.written.fetch_add(1, Ordering::Relaxed);
        } else {
            failed_here += 1;
            shared.failed.fetch_add(1, Ordering::Relaxed);
        }
        let mut finished = shared.finished.lock().unwrap_or_else(|p| p.into_inner());
        *finished = ticket;
        if ticket >= shared.issued.load(Ordering::Relaxed) {
            // Caught up with every queued line: verifications may wait again.
            shared.behind.store(false, Ordering::Relaxed);
        }
        drop(finished);
        shared.progress.notify_all();
    }
}

impl AuditSink for QueuedOutput {
    fn emit(&self, event: &AuditEvent) {
        self.push(event.to_json());
    }

    fn emit_ops(&self, event: &OpsEvent) {
        self.push(event.to_json());
    }

    fn stats(&self) -> Option<AuditStats> {
        Some(QueuedOutput::stats(self))
    }
}

impl Drop for QueuedOutput {
    fn drop(&mut self) {
        let issued = self
            .sender
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
            .map_or(0, |(_, issued)| issued);
        // Give the writer a bounded time to finish what is queued; a stalled output is left
        // to its thread rather than hanging the caller.
        if !self.shared.wait_for(issued, DRAIN_ON_DROP) {
            return;
        }
        if let Some(worker) = self.worker.take() {
            let _ = worker.join();
        }
    }
}
