//! Audit events delivered to a Python callable, through the core's `CallbackSink`.

use oathmesh_core::{AuditEvent, AuditSink, CallbackSink, Outcome};
use pyo3::prelude::*;
use pyo3::types::PyDict;

fn event_dict<'py>(py: Python<'py>, e: &AuditEvent) -> PyResult<Bound<'py, PyDict>> {
    let dict = PyDict::new(py);
    dict.set_item("event", e.event)?;
    dict.set_item(
        "outcome",
        match e.outcome {
            Outcome::Allow => "allow",
            Outcome::Deny => "deny",
        },
    )?;
    dict.set_item("code", &e.code)?;
    dict.set_item("step", e.step)?;
    dict.set_item("policy_rule", &e.policy_rule)?;
    dict.set_item("claims_verified", e.claims_verified)?;
    dict.set_item("iss", &e.iss)?;
    dict.set_item("sub", &e.sub)?;
    dict.set_item("aud", &e.aud)?;
    dict.set_item("act", &e.act)?;
    dict.set_item("jti", &e.jti)?;
    dict.set_item("env", &e.env)?;
    dict.set_item("tenant", &e.tenant)?;
    match &e.src {
        Some(src) => {
            let s = PyDict::new(py);
            for (k, v) in [
                ("type", &src.kind),
                ("repo", &src.repo),
                ("workflow", &src.workflow),
                ("run_id", &src.run_id),
                ("sha", &src.sha),
            ] {
                if let Some(v) = v {
                    s.set_item(k, v)?;
                }
            }
            dict.set_item("src", s)?
        }
        None => dict.set_item("src", py.None())?,
    }
    dict.set_item("request_id", &e.request_id)?;
    dict.set_item("timestamp", &e.timestamp)?;
    dict.set_item("latency_us", e.latency_us)?;
    Ok(dict)
}

/// A sink that calls `callback(event_dict)`. Verification runs with the GIL released, so
/// the sink takes it back for the call. An exception from the callback goes to
/// `sys.unraisablehook` (printed, never raised): audit never changes a verification.
pub fn python_sink(callback: Py<PyAny>) -> Box<dyn AuditSink> {
    Box::new(CallbackSink(move |event: &AuditEvent| {
        Python::attach(|py| {
            let result = event_dict(py, event).and_then(|d| callback.call1(py, (d,)));
            if let Err(err) = result {
                err.write_unraisable(py, Some(callback.bind(py)));
            }
        })
    }))
}
