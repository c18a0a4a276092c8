//! `NativeClient`: the core's blocking issuer HTTP client behind a Promise.
//!
//! A mint is one HTTP round trip (milliseconds, up to the timeout), far too long to hold the
//! JS thread, so it runs as a napi `AsyncTask` on the libuv thread pool and the Promise
//! settles on the JS thread. The mint request is parsed before the task starts, so a
//! malformed request throws synchronously with the same error as `Issuer.mint`.

use crate::errors::{throw_config_error, throw_mint_error};
use crate::issuer::MintedToken;
use crate::panic_message;
use napi::bindgen_prelude::*;
use napi_derive::napi;
use oathmesh_core::MintRequest;
use oathmesh_core::client::{ClientError, ClientToken, IssuerClient};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;

/// The issuer's refusal, or `issuer_unavailable` (status 503) when it could not be reached.
#[napi(object)]
pub struct IssuerFailure {
    /// `mint_denied`, `invalid_client`, `rate_limited`, `invalid_request`, `issuer_unavailable`, ...
    pub code: String,
    pub status: u32,
    pub message: String,
    pub fix: String,
}

/// What a mint settles with: exactly one of `token` and `error`. The TS layer turns `error`
/// into a rejected Promise with a typed error; doing it there keeps this layer free of
/// hand-built JS exception objects crossing the async boundary.
#[napi(object)]
pub struct MintOutcome {
    pub token: Option<MintedToken>,
    pub error: Option<IssuerFailure>,
}

/// The request to bind a token to (PROTOCOL §4): the exact method, path and body to be sent.
#[napi(object)]
pub struct BindTo {
    pub method: String,
    pub path_and_query: String,
    pub body: Option<Buffer>,
}

#[napi]
pub struct NativeClient {
    inner: Arc<IssuerClient>,
}

#[napi]
impl NativeClient {
    /// `configJson`: `{"issuer_url", "client_id", "client_secret" | "client_key_pem",
    /// "timeout_ms"?, "token_url"?}`.
    #[napi(factory, catch_unwind)]
    pub fn from_json(env: Env, config_json: String) -> Result<NativeClient> {
        let inner = IssuerClient::from_json(config_json.as_bytes())
            .map_err(|e| throw_config_error(&env, &e))?;
        Ok(NativeClient {
            inner: Arc::new(inner),
        })
    }

    /// Mints one token on the libuv pool. `requestJson` is the snake_case mint request; with
    /// `bind`, the token carries `rqh` for exactly that request.
    #[napi(catch_unwind, ts_return_type = "Promise<MintOutcome>")]
    pub fn mint(
        &self,
        env: Env,
        request_json: String,
        bind: Option<BindTo>,
    ) -> Result<AsyncTask<MintTask>> {
        let request = MintRequest::from_json(request_json.as_bytes())
            .map_err(|e| throw_mint_error(&env, &e))?;
        let bind = bind.map(|b| {
            (
                b.method,
                b.path_and_query,
                b.body.map(|body| body.to_vec()).unwrap_or_default(),
            )
        });
        Ok(AsyncTask::new(MintTask {
            client: Arc::clone(&self.inner),
            request,
            bind,
        }))
    }
}

/// One mint, owned by the pool thread that runs it (JS `Buffer`s were copied out first:
/// they may not be touched off the JS thread).
pub struct MintTask {
    client: Arc<IssuerClient>,
    request: MintRequest,
    bind: Option<(String, String, Vec<u8>)>,
}

impl Task for MintTask {
    type Output = std::result::Result<ClientToken, ClientError>;
    type JsValue = MintOutcome;

    fn compute(&mut self) -> Result<Self::Output> {
        // A panic on a pool thread would abort the process; make it a rejection instead.
        catch_unwind(AssertUnwindSafe(|| match &self.bind {
            Some((method, path, body)) => {
                self.client
                    .mint_for_request(&self.request, method, path, body)
            }
            None => self.client.mint(&self.request),
        }))
        .map_err(|panic| {
            Error::from_reason(format!(
                "OathMesh client panicked: {}",
                panic_message(&*panic)
            ))
        })
    }

    fn resolve(&mut self, _env: Env, output: Self::Output) -> Result<MintOutcome> {
        Ok(match output {
            Ok(t) => MintOutcome {
                token: Some(MintedToken {
                    token: t.token,
                    expires_in: t.expires_in,
                    token_type: t.token_type,
                }),
                error: None,
            },
            Err(e) => MintOutcome {
                token: None,
                error: Some(IssuerFailure {
                    code: e.code,
                    status: u32::from(e.status),
                    message: e.message,
                    fix: e.fix,
                }),
            },
        })
    }
}
