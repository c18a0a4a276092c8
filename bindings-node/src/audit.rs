//! Audit events to a JS callback.
//!
//! The core's `AuditSink` must be `Send + Sync` and is called on the verifying thread, in the
//! middle of `verify`. A JS function may only be called on its own JS thread, with a live
//! `Env`, which the core does not have. Because verification is synchronous and runs on the
//! JS thread, the simplest correct design is a sink that buffers the event and a binding that
//! hands buffered events to the callback right after the core returns, on the same thread,
//! before `verify` itself returns. Users see the event synchronously (ordered with the
//! result, no event loop turn, no lost events at exit), and nothing ever crosses threads.
//! A `ThreadsafeFunction` would instead deliver the event on a later tick and allocate per
//! call.

use oathmesh_core::{AuditEvent, AuditSink};
use std::sync::{Arc, Mutex};

/// Collects events during one verification. Shared between the core (through the boxed sink)
/// and the binding (which drains it).
#[derive(Clone, Default)]
pub struct BufferedSink {
    events: Arc<Mutex<Vec<AuditEvent>>>,
}

impl BufferedSink {
    /// Takes every buffered event, oldest first.
    pub fn drain(&self) -> Vec<AuditEvent> {
        let mut events = self.events.lock().unwrap_or_else(|p| p.into_inner());
        std::mem::take(&mut *events)
    }
}

impl AuditSink for BufferedSink {
    fn emit(&self, event: &AuditEvent) {
        let mut events = self.events.lock().unwrap_or_else(|p| p.into_inner());
        events.push(event.clone());
    }
}
