//! Audit (docs/protocol.md §8, docs/audit.md): one event per verification and the outputs it
//! goes to (`sinks`), the HMAC chain that makes a log tamper-evident (`chain`), the files
//! behind a chained output (`files`: one writer per chain, resume, quarantine), the outputs
//! as the writer thread sees them (`outputs`: rotation), and the bounded queue that keeps
//! writes off the verifying thread (`queue`).

pub mod chain;
pub mod files;
mod outputs;
mod queue;
mod sinks;

pub use queue::QueuedOutput;
pub use sinks::*;
