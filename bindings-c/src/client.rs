//! The issuer client handle: asks a running issuer (`oathmesh serve`, PROTOCOL §9) for one
//! fresh token per call, authenticated with the client's secret or Ed25519 key.

use crate::error::{oathmesh_error, oathmesh_status};
use crate::ffi::{self, boundary, oathmesh_bytes};
use crate::verifier::{oathmesh_request, request_parts};
use oathmesh_core::MintRequest;
use oathmesh_core::client::IssuerClient;

/// A client of one issuer. `Send + Sync`: any number of threads may mint through the same
/// client at once (each call is one blocking HTTP request); `oathmesh_client_free` runs once,
/// after every other call has returned.
#[allow(non_camel_case_types)]
pub struct oathmesh_client {
    inner: IssuerClient,
}

const _: () = {
    const fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<oathmesh_client>();
};

/// Builds a client from `{"issuer_url", "client_id", "client_secret" | "client_key_pem",
/// "timeout_ms"?, "token_url"?}` (UTF-8 JSON, `config_len` bytes; the core's
/// `IssuerClient::from_json`). `timeout_ms` (default 5000) bounds each mint; `token_url`
/// reaches the issuer somewhere other than `issuer_url` (`{token_url}/v1/token`). No
/// connection is made until the first mint.
///
/// On success writes a new client to `*client_out`, owned by the caller and released with
/// `oathmesh_client_free` exactly once; on failure (`OATHMESH_CONFIG_INVALID`, ...)
/// `*client_out` is not written and, when `err_out` is not NULL, `*err_out` receives an error
/// released with `oathmesh_error_free`.
///
/// # Safety
/// `config` is valid for reads of `config_len` bytes; `client_out` is writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn oathmesh_client_new(
    config: *const u8,
    config_len: usize,
    client_out: *mut *mut oathmesh_client,
    err_out: *mut *mut oathmesh_error,
) -> oathmesh_status {
    boundary(err_out, || {
        let config = unsafe { ffi::bytes(config, config_len, "config") }?;
        let out = ffi::out_param(client_out, "client_out")?;
        let inner = IssuerClient::from_json(config)?;
        unsafe { *out = Box::into_raw(Box::new(oathmesh_client { inner })) };
        Ok(())
    })
}

/// Releases a client. NULL is a no-op.
///
/// # Safety
/// `client` is NULL or came from `oathmesh_client_new`, is freed only once, and no other call
/// on it is running or will run.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn oathmesh_client_free(client: *mut oathmesh_client) {
    if client.is_null() {
        return;
    }
    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        drop(unsafe { Box::from_raw(client) })
    }));
}

/// Asks the issuer for one new token. Blocks for one HTTP round trip (at most the client's
/// `timeout_ms`). Tokens are single-use: call this once per outgoing request.
///
/// * `request`: the mint request JSON `{"sub", "aud", "act", ...}` (the same document as for
///   `oathmesh_issuer_mint`; unknown keys refused).
/// * `bind_to`: NULL for an unbound token, or the exact request about to be sent (method,
///   path and query as sent, body): the token then carries its `rqh` and is accepted only
///   for that request. Any `rqh` in `request` is replaced.
///
/// On `OATHMESH_OK`, `*minted_out` receives `{"token", "expires_in", "token_type"}` as owned
/// UTF-8 JSON, released with `oathmesh_bytes_free`. On failure it is not written and, when
/// `err_out` is not NULL, `*err_out` receives the error: `OATHMESH_ISSUER_REJECTED` with the
/// issuer's `code` and HTTP status (`mint_denied` 403, `invalid_client` 401, ...),
/// `OATHMESH_ISSUER_UNAVAILABLE` (`issuer_unavailable`, 503) when it could not be reached,
/// `OATHMESH_MINT_CLAIM_INVALID` for a request that is not valid JSON.
///
/// # Safety
/// `client` is a live client; `request` is valid for reads of `request_len` bytes; `bind_to`
/// is NULL or valid as for `oathmesh_verifier_verify`; `minted_out` is writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn oathmesh_client_mint(
    client: *const oathmesh_client,
    request: *const u8,
    request_len: usize,
    bind_to: *const oathmesh_request,
    minted_out: *mut oathmesh_bytes,
    err_out: *mut *mut oathmesh_error,
) -> oathmesh_status {
    boundary(err_out, || {
        let client = unsafe { ffi::handle(client, "client") }?;
        let request = unsafe { ffi::bytes(request, request_len, "request") }?;
        let bind_to = unsafe { request_parts(bind_to) }?;
        let out = ffi::out_param(minted_out, "minted_out")?;
        let request = MintRequest::from_json(request)?;
        let token = match bind_to {
            None => client.inner.mint(&request)?,
            Some(parts) => client.inner.mint_for_request(
                &request,
                parts.method,
                parts.path_and_query,
                parts.body,
            )?,
        };
        let json = serde_json::json!({
            "token": token.token,
            "expires_in": token.expires_in,
            "token_type": token.token_type,
        });
        unsafe { *out = oathmesh_bytes::from_string(json.to_string()) };
        Ok(())
    })
}
