//! Audit (docs/protocol.md §8): one event per verification and the outputs it goes to
//! (`sinks`), and the HMAC chain that makes a log tamper-evident (`chain`).

pub mod chain;
mod sinks;

pub use sinks::*;
