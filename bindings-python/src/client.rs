//! The issuer HTTP client (`oathmesh.Client`): the core's `IssuerClient`, one token per call.

use crate::errors;
use oathmesh_core::MintRequest;
use oathmesh_core::client::{ClientError, ClientToken, IssuerClient};
use pyo3::prelude::*;
use std::panic::{AssertUnwindSafe, catch_unwind};

/// The core issuer client. `oathmesh.Client` / `oathmesh.AsyncClient` wrap it.
#[pyclass(frozen, module = "oathmesh._native")]
pub struct NativeClient {
    inner: IssuerClient,
}

/// A mint from the client: the core's answer, or the request it refused to send.
enum Outcome {
    Minted(ClientToken),
    Refused(ClientError),
    BadRequest(oathmesh_core::MintError),
}

impl NativeClient {
    /// Runs the blocking HTTP call with the GIL released, so other Python threads (and an
    /// event loop that handed this call to a worker thread) keep running.
    fn run(
        &self,
        py: Python<'_>,
        request_json: &str,
        call: impl FnOnce(&IssuerClient, &MintRequest) -> Result<ClientToken, ClientError> + Send,
    ) -> PyResult<(String, i64, String)> {
        let inner = &self.inner;
        let outcome = py.detach(|| {
            catch_unwind(AssertUnwindSafe(|| {
                match MintRequest::from_json(request_json.as_bytes()) {
                    Ok(req) => match call(inner, &req) {
                        Ok(token) => Outcome::Minted(token),
                        Err(err) => Outcome::Refused(err),
                    },
                    Err(err) => Outcome::BadRequest(err),
                }
            }))
        });
        match outcome {
            Ok(Outcome::Minted(t)) => Ok((t.token, t.expires_in, t.token_type)),
            Ok(Outcome::Refused(err)) => Err(errors::issuer_error(py, &err)),
            Ok(Outcome::BadRequest(err)) => Err(errors::mint_error(py, &err)),
            Err(payload) => Err(errors::panicked(py, payload)),
        }
    }
}

#[pymethods]
impl NativeClient {
    /// `config_json`: `{"issuer_url", "client_id", "client_secret" | "client_key_pem",
    /// "timeout_ms"?, "token_url"?}`.
    #[new]
    fn new(py: Python<'_>, config_json: &str) -> PyResult<Self> {
        match errors::guard(|| IssuerClient::from_json(config_json.as_bytes()))? {
            Ok(inner) => Ok(NativeClient { inner }),
            Err(err) => Err(errors::config_error(py, &err)),
        }
    }

    /// Mints one token from a mint-request JSON document: `(token, expires_in, token_type)`.
    fn mint(&self, py: Python<'_>, request_json: &str) -> PyResult<(String, i64, String)> {
        self.run(py, request_json, |client, req| client.mint(req))
    }

    /// Mints one token bound (`rqh`) to the request about to be sent.
    fn mint_for_request(
        &self,
        py: Python<'_>,
        request_json: &str,
        method: &str,
        path_and_query: &str,
        body: &[u8],
    ) -> PyResult<(String, i64, String)> {
        self.run(py, request_json, |client, req| {
            client.mint_for_request(req, method, path_and_query, body)
        })
    }
}
