//! `oathmesh._native`: the OathMesh core as a Python extension module.
//!
//! This crate only translates. Every check runs in `oathmesh-core`; Python values cross as
//! the core's JSON documents (configuration, mint requests) or as small frozen classes
//! (`Caller`, `Source`); the issuer client's blocking HTTP call runs with the GIL released. The pure-Python package `oathmesh` wraps these types with keyword
//! arguments, exception classes and framework adapters.

mod audit;
mod caller;
mod client;
mod errors;
mod issuer;
mod verifier;

use pyo3::prelude::*;
use pyo3::types::PyTuple;

/// `sha256:<hex>` of the canonical request (PROTOCOL §4): what a token's `rqh` must equal.
#[pyfunction]
fn canonical_request_hash(method: &str, path_and_query: &str, body: &[u8]) -> PyResult<String> {
    errors::guard(|| oathmesh_core::canonical_request_hash(method, path_and_query, body))
}

/// A new Ed25519 key: `(private_pem, public_pem, kid, jwk_json)`.
#[pyfunction]
fn generate_key(py: Python<'_>) -> PyResult<Bound<'_, PyTuple>> {
    let key = errors::guard(oathmesh_core::generate_key)?;
    let jwk = serde_json::to_string(&key.jwk).map_err(|e| errors::internal(py, &e.to_string()))?;
    PyTuple::new(py, [key.private_pem, key.public_pem, key.kid, jwk])
}

/// `(number, base_code, http_status)` for every error family the core knows, so the Python
/// side can check its exception table covers all of them.
#[pyfunction]
fn error_kinds() -> Vec<(u32, &'static str, u16)> {
    oathmesh_core::ErrorKind::ALL
        .iter()
        .map(|kind| (*kind as u32, kind.base_code(), kind.http_status()))
        .collect()
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_class::<verifier::NativeVerifier>()?;
    m.add_class::<issuer::NativeIssuer>()?;
    m.add_class::<client::NativeClient>()?;
    m.add_class::<caller::Caller>()?;
    m.add_class::<caller::Source>()?;
    m.add_function(wrap_pyfunction!(canonical_request_hash, m)?)?;
    m.add_function(wrap_pyfunction!(generate_key, m)?)?;
    m.add_function(wrap_pyfunction!(error_kinds, m)?)?;
    Ok(())
}
