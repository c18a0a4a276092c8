//! Core errors become the Python exception classes of `oathmesh.errors`.
//!
//! The classes live in Python (so users can subclass, pickle and read them like any other
//! exception); the table from the core's stable `ErrorKind` numbers to classes is kept
//! there too, in one place. This module only hands over the core's fields.

use oathmesh_core::client::ClientError;
use oathmesh_core::{ConfigError, MintError, VerifyError};
use pyo3::call::PyCallArgs;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use std::panic::{AssertUnwindSafe, catch_unwind};

const MODULE: &str = "oathmesh.errors";

static FROM_CORE: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
static CONFIG_ERROR: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
static MINT_ERROR: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
static INTERNAL_ERROR: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
static ISSUER_ERROR: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

/// Builds an exception by calling a factory from `oathmesh.errors`; if even that fails
/// (the package is broken), the failure itself is raised, which still fails closed.
fn raise<'py, A: PyCallArgs<'py>>(
    py: Python<'py>,
    cell: &PyOnceLock<Py<PyAny>>,
    name: &str,
    args: A,
) -> PyErr {
    match cell.import(py, MODULE, name).and_then(|f| f.call1(args)) {
        Ok(exc) => PyErr::from_value(exc),
        Err(err) => err,
    }
}

pub fn verify_error(py: Python<'_>, err: &VerifyError) -> PyErr {
    raise(
        py,
        &FROM_CORE,
        "_from_core",
        (
            err.kind() as u32,
            err.code().into_owned(),
            err.step().as_str(),
            err.message().to_owned(),
            err.fix().into_owned(),
            err.http_status(),
            err.policy_rule().map(str::to_owned),
        ),
    )
}

pub fn config_error(py: Python<'_>, err: &ConfigError) -> PyErr {
    raise(
        py,
        &CONFIG_ERROR,
        "ConfigError",
        (err.message().to_owned(),),
    )
}

pub fn mint_error(py: Python<'_>, err: &MintError) -> PyErr {
    let message = match err {
        MintError::InvalidClaim { message, .. } => message.clone(),
        MintError::Signer(message) => message.clone(),
    };
    raise(py, &MINT_ERROR, "MintError", (err.code(), message))
}

/// The issuer refused a mint, or could not be reached (`issuer_unavailable`, 503).
pub fn issuer_error(py: Python<'_>, err: &ClientError) -> PyErr {
    raise(
        py,
        &ISSUER_ERROR,
        "_issuer_error",
        (
            err.code.clone(),
            err.status,
            err.message.clone(),
            err.fix.clone(),
        ),
    )
}

/// A bug in the core (a panic), reported as `oathmesh.errors.InternalError`.
pub fn internal(py: Python<'_>, what: &str) -> PyErr {
    raise(
        py,
        &INTERNAL_ERROR,
        "InternalError",
        (format!("internal error in the OathMesh core: {what}"),),
    )
}

/// Runs core code so that a Rust panic becomes a Python exception, never an abort and never
/// PyO3's `PanicException` (a `BaseException` that `except Exception` would not catch).
pub fn guard<T>(f: impl FnOnce() -> T) -> PyResult<T> {
    catch_unwind(AssertUnwindSafe(f)).map_err(|payload| Python::attach(|py| panicked(py, payload)))
}

/// Turns a caught panic payload into `InternalError`.
pub fn panicked(py: Python<'_>, payload: Box<dyn std::any::Any + Send>) -> PyErr {
    let what = payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "panic".to_owned());
    internal(py, &what)
}
