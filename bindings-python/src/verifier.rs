//! The verifier: built once from the configuration document, then shared by every thread.

use crate::audit::python_sink;
use crate::caller::Caller;
use crate::errors;
use oathmesh_core::{
    Caller as CoreCaller, ReloadOutcome, RequestParts, Verifier, VerifyContext, VerifyError,
};
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use std::panic::{AssertUnwindSafe, catch_unwind};

/// One issuer's JWKS prewarm result: `(issuer, ok, keys, error)`.
type PrewarmRow = (String, bool, usize, Option<String>);

/// The core verifier. `oathmesh.Verifier` wraps it with keyword arguments.
#[pyclass(frozen, module = "oathmesh._native")]
pub struct NativeVerifier {
    inner: Verifier,
}

/// The request parts for binding: given when the method is.
fn request<'a>(
    method: Option<&'a str>,
    path_and_query: Option<&'a str>,
    body: Option<&'a [u8]>,
) -> PyResult<Option<RequestParts<'a>>> {
    match method {
        Some(method) => Ok(Some(RequestParts {
            method,
            path_and_query: path_and_query.unwrap_or(""),
            body: body.unwrap_or_default(),
        })),
        None if path_and_query.is_some() || body.is_some() => Err(PyTypeError::new_err(
            "`method` is required when `path` or `body` is given",
        )),
        None => Ok(None),
    }
}

impl NativeVerifier {
    /// Runs a core call with the GIL released (other Python threads keep running; the audit
    /// callback takes the GIL back when it needs it), turning a panic into an exception.
    fn run(
        &self,
        py: Python<'_>,
        call: impl FnOnce(&Verifier) -> Result<CoreCaller, VerifyError> + Send,
    ) -> PyResult<Caller> {
        let inner = &self.inner;
        match py.detach(|| catch_unwind(AssertUnwindSafe(|| call(inner)))) {
            Ok(Ok(caller)) => Ok(Caller::from(caller)),
            Ok(Err(err)) => Err(errors::verify_error(py, &err)),
            Err(payload) => Err(errors::panicked(py, payload)),
        }
    }
}

#[pymethods]
impl NativeVerifier {
    /// `config_json`: the verifier configuration document (docs/configuration.md).
    /// `audit`: an optional callable that receives one dict per verification.
    #[new]
    #[pyo3(signature = (config_json, audit=None))]
    fn new(py: Python<'_>, config_json: &str, audit: Option<Py<PyAny>>) -> PyResult<Self> {
        let sinks = audit.into_iter().map(python_sink).collect();
        let built = py.detach(|| {
            catch_unwind(AssertUnwindSafe(|| {
                Verifier::from_json_with_sinks(config_json.as_bytes(), sinks)
            }))
        });
        match built {
            Ok(Ok(inner)) => Ok(NativeVerifier { inner }),
            Ok(Err(err)) => Err(errors::config_error(py, &err)),
            Err(payload) => Err(errors::panicked(py, payload)),
        }
    }

    #[getter]
    fn audience(&self) -> &str {
        self.inner.audience()
    }

    #[getter]
    fn leeway(&self) -> i64 {
        self.inner.leeway_secs()
    }

    /// Fetches every trusted issuer's JWKS now (with the GIL released):
    /// `[(issuer, ok, keys, error)]`, empty for static keys.
    fn prewarm(&self, py: Python<'_>) -> PyResult<Vec<PrewarmRow>> {
        let inner = &self.inner;
        let results = py
            .detach(|| catch_unwind(AssertUnwindSafe(|| inner.prewarm())))
            .map_err(|payload| errors::panicked(py, payload))?;
        Ok(results
            .into_iter()
            .map(|r| (r.issuer, r.ok, r.keys, r.error))
            .collect())
    }

    /// Looks at the policy file now: `None` without a policy file, else `(state, reason)`
    /// with state `"unchanged"`, `"reloaded"` or `"failed"` (the last good policy stays).
    fn reload_policy_now(
        &self,
        py: Python<'_>,
    ) -> PyResult<Option<(&'static str, Option<String>)>> {
        let inner = &self.inner;
        let outcome = py
            .detach(|| catch_unwind(AssertUnwindSafe(|| inner.reload_policy_now())))
            .map_err(|payload| errors::panicked(py, payload))?;
        Ok(outcome.map(|o| match o {
            ReloadOutcome::Unchanged => ("unchanged", None),
            ReloadOutcome::Reloaded => ("reloaded", None),
            ReloadOutcome::Failed(reason) => ("failed", Some(reason)),
        }))
    }

    /// Successful policy file reloads.
    #[getter]
    fn policy_reloads(&self) -> u64 {
        self.inner.policy_reloads()
    }

    /// Changed policy files that failed to load (the last good policy stayed).
    #[getter]
    fn policy_reload_errors(&self) -> u64 {
        self.inner.policy_reload_errors()
    }

    /// Verifies a token; raises an `oathmesh.errors.OathMeshError` subclass on failure.
    // The arguments mirror the Python keyword arguments one to one.
    #[allow(clippy::too_many_arguments)]
    #[pyo3(signature = (token, method=None, path_and_query=None, body=None, request_id=None, action=None))]
    fn verify(
        &self,
        py: Python<'_>,
        token: &str,
        method: Option<&str>,
        path_and_query: Option<&str>,
        body: Option<&[u8]>,
        request_id: Option<&str>,
        action: Option<&str>,
    ) -> PyResult<Caller> {
        let ctx = VerifyContext {
            request: request(method, path_and_query, body)?,
            request_id,
            required_action: action,
        };
        self.run(py, |v| v.verify(token, &ctx))
    }

    /// Verifies the value of an `Authorization` header (`None`: no header was sent).
    #[allow(clippy::too_many_arguments)]
    #[pyo3(signature = (header, method=None, path_and_query=None, body=None, request_id=None, action=None))]
    fn verify_authorization(
        &self,
        py: Python<'_>,
        header: Option<&str>,
        method: Option<&str>,
        path_and_query: Option<&str>,
        body: Option<&[u8]>,
        request_id: Option<&str>,
        action: Option<&str>,
    ) -> PyResult<Caller> {
        let ctx = VerifyContext {
            request: request(method, path_and_query, body)?,
            request_id,
            required_action: action,
        };
        self.run(py, |v| v.verify_authorization(header, &ctx))
    }
}
