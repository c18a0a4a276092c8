//! Minting Oath Tokens (for tests, tools and issuers written in Python).

use crate::errors;
use oathmesh_core::{Issuer, MintRequest};
use pyo3::prelude::*;
use std::panic::{AssertUnwindSafe, catch_unwind};

/// The core issuer. `oathmesh.Issuer` wraps it with keyword arguments.
#[pyclass(frozen, module = "oathmesh._native")]
pub struct NativeIssuer {
    inner: Issuer,
}

#[pymethods]
impl NativeIssuer {
    /// `config_json`: `{"issuer", "private_key_pem" | "private_key_file", "kid"?}`.
    #[new]
    fn new(py: Python<'_>, config_json: &str) -> PyResult<Self> {
        match errors::guard(|| Issuer::from_json(config_json.as_bytes()))? {
            Ok(inner) => Ok(NativeIssuer { inner }),
            Err(err) => Err(errors::config_error(py, &err)),
        }
    }

    #[getter]
    fn issuer(&self) -> &str {
        self.inner.issuer()
    }

    #[getter]
    fn kid(&self) -> &str {
        self.inner.kid()
    }

    /// The JWKS document this issuer publishes, as JSON text.
    fn jwks_json(&self) -> String {
        self.inner.jwks_json()
    }

    /// Mints from a mint-request JSON document:
    /// `(token, expires_in, token_type, token_id, expires_at)`.
    fn mint(
        &self,
        py: Python<'_>,
        request_json: &str,
    ) -> PyResult<(String, i64, &'static str, String, i64)> {
        let inner = &self.inner;
        let minted = py.detach(|| {
            catch_unwind(AssertUnwindSafe(|| {
                MintRequest::from_json(request_json.as_bytes()).and_then(|req| inner.mint(&req))
            }))
        });
        match minted {
            Ok(Ok(t)) => Ok((t.token, t.expires_in, t.token_type, t.jti, t.expires_at)),
            Ok(Err(err)) => Err(errors::mint_error(py, &err)),
            Err(payload) => Err(errors::panicked(py, payload)),
        }
    }
}
