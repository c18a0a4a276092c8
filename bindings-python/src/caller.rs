//! The verified caller, as frozen Python objects. Fields are read from the core's `Caller`
//! on access, so a verification that only looks at `subject` never builds the rest.

use oathmesh_core::Source as CoreSource;
use pyo3::prelude::*;
use pyo3::types::{PyDateTime, PyDict, PyTuple, PyTzInfo};
use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};

/// Who called, as proven by a verified Oath Token.
#[pyclass(frozen, module = "oathmesh._native")]
pub struct Caller {
    inner: oathmesh_core::Caller,
}

impl From<oathmesh_core::Caller> for Caller {
    fn from(inner: oathmesh_core::Caller) -> Self {
        Caller { inner }
    }
}

/// `None` or a quoted string, for `__repr__`.
fn py_opt(value: &Option<String>) -> String {
    value
        .as_ref()
        .map_or_else(|| "None".to_owned(), |v| format!("{v:?}"))
}

fn utc_datetime(py: Python<'_>, secs: i64) -> PyResult<Bound<'_, PyDateTime>> {
    let utc = PyTzInfo::utc(py)?;
    PyDateTime::from_timestamp(py, secs as f64, Some(&utc))
}

fn source_dict<'py>(py: Python<'py>, src: &CoreSource) -> PyResult<Bound<'py, PyDict>> {
    // Absent members are omitted, as in the core's caller JSON.
    let dict = PyDict::new(py);
    for (key, value) in [
        ("type", &src.kind),
        ("repo", &src.repo),
        ("workflow", &src.workflow),
        ("run_id", &src.run_id),
        ("sha", &src.sha),
    ] {
        if let Some(value) = value {
            dict.set_item(key, value)?;
        }
    }
    Ok(dict)
}

#[pymethods]
impl Caller {
    #[getter]
    fn issuer(&self) -> &str {
        &self.inner.issuer
    }
    #[getter]
    fn subject(&self) -> &str {
        &self.inner.subject
    }
    #[getter]
    fn audience(&self) -> &str {
        &self.inner.audience
    }
    #[getter]
    fn action(&self) -> &str {
        &self.inner.action
    }
    #[getter]
    fn token_id(&self) -> &str {
        &self.inner.token_id
    }
    /// `iat` as an aware UTC datetime.
    #[getter]
    fn issued_at<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDateTime>> {
        utc_datetime(py, self.inner.issued_at)
    }
    /// `exp` as an aware UTC datetime.
    #[getter]
    fn expires_at<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDateTime>> {
        utc_datetime(py, self.inner.expires_at)
    }
    /// `iat` in Unix seconds.
    #[getter]
    fn issued_at_unix(&self) -> i64 {
        self.inner.issued_at
    }
    /// `exp` in Unix seconds.
    #[getter]
    fn expires_at_unix(&self) -> i64 {
        self.inner.expires_at
    }
    #[getter]
    fn scope<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        PyTuple::new(py, &self.inner.scope)
    }
    #[getter]
    fn env(&self) -> Option<&str> {
        self.inner.env.as_deref()
    }
    #[getter]
    fn tenant(&self) -> Option<&str> {
        self.inner.tenant.as_deref()
    }
    #[getter]
    fn reason(&self) -> Option<&str> {
        self.inner.reason.as_deref()
    }
    #[getter]
    fn source(&self) -> Option<Source> {
        self.inner.source.clone().map(|inner| Source { inner })
    }
    #[getter]
    fn delegated_by(&self) -> Option<&str> {
        self.inner.delegated_by.as_deref()
    }
    /// The policy rule that allowed the call; `None` without a policy.
    #[getter]
    fn policy_rule(&self) -> Option<&str> {
        self.inner.policy_rule.as_deref()
    }

    /// The caller in the core's JSON shape (times in Unix seconds), as a dict.
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let c = &self.inner;
        let dict = PyDict::new(py);
        dict.set_item("issuer", &c.issuer)?;
        dict.set_item("subject", &c.subject)?;
        dict.set_item("audience", &c.audience)?;
        dict.set_item("action", &c.action)?;
        dict.set_item("token_id", &c.token_id)?;
        dict.set_item("issued_at", c.issued_at)?;
        dict.set_item("expires_at", c.expires_at)?;
        dict.set_item("scope", &c.scope)?;
        dict.set_item("env", &c.env)?;
        dict.set_item("tenant", &c.tenant)?;
        dict.set_item("reason", &c.reason)?;
        match &c.source {
            Some(src) => dict.set_item("source", source_dict(py, src)?)?,
            None => dict.set_item("source", py.None())?,
        }
        dict.set_item("delegated_by", &c.delegated_by)?;
        dict.set_item("policy_rule", &c.policy_rule)?;
        Ok(dict)
    }

    fn __eq__(&self, other: &Bound<'_, PyAny>) -> bool {
        other
            .cast::<Caller>()
            .is_ok_and(|o| o.get().inner == self.inner)
    }

    fn __hash__(&self) -> u64 {
        let mut h = DefaultHasher::new();
        (
            &self.inner.issuer,
            &self.inner.token_id,
            &self.inner.subject,
        )
            .hash(&mut h);
        h.finish()
    }

    fn __repr__(&self) -> String {
        format!(
            "Caller(subject={:?}, action={:?}, issuer={:?}, token_id={:?}, policy_rule={})",
            self.inner.subject,
            self.inner.action,
            self.inner.issuer,
            self.inner.token_id,
            py_opt(&self.inner.policy_rule)
        )
    }
}

/// Where a CI-minted identity came from (`src`). Absent members are `None`.
#[pyclass(frozen, module = "oathmesh._native")]
pub struct Source {
    inner: CoreSource,
}

#[pymethods]
impl Source {
    /// `src.type`, e.g. `github_actions`.
    #[getter(r#type)]
    fn kind(&self) -> Option<&str> {
        self.inner.kind.as_deref()
    }
    #[getter]
    fn repo(&self) -> Option<&str> {
        self.inner.repo.as_deref()
    }
    #[getter]
    fn workflow(&self) -> Option<&str> {
        self.inner.workflow.as_deref()
    }
    #[getter]
    fn run_id(&self) -> Option<&str> {
        self.inner.run_id.as_deref()
    }
    #[getter]
    fn sha(&self) -> Option<&str> {
        self.inner.sha.as_deref()
    }

    /// The members that are present, as in the core's JSON.
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        source_dict(py, &self.inner)
    }

    fn __eq__(&self, other: &Bound<'_, PyAny>) -> bool {
        other
            .cast::<Source>()
            .is_ok_and(|o| o.get().inner == self.inner)
    }

    fn __hash__(&self) -> u64 {
        let s = &self.inner;
        let mut h = DefaultHasher::new();
        (&s.kind, &s.repo, &s.workflow, &s.run_id, &s.sha).hash(&mut h);
        h.finish()
    }

    fn __repr__(&self) -> String {
        let s = &self.inner;
        format!(
            "Source(type={}, repo={}, workflow={}, run_id={}, sha={})",
            py_opt(&s.kind),
            py_opt(&s.repo),
            py_opt(&s.workflow),
            py_opt(&s.run_id),
            py_opt(&s.sha)
        )
    }
}
