//! The issuer handle: signs Oath Tokens for one issuer URL.

use crate::error::{oathmesh_error, oathmesh_status};
use crate::ffi::{self, boundary, oathmesh_bytes};
use oathmesh_core::{Issuer, MintRequest};

/// Signs Oath Tokens with one Ed25519 key. `Send + Sync`: any number of threads may mint
/// with the same issuer at once; `oathmesh_issuer_free` runs once, after every other call.
#[allow(non_camel_case_types)]
pub struct oathmesh_issuer {
    inner: Issuer,
}

const _: () = {
    const fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<oathmesh_issuer>();
};

/// Builds an issuer from `{"issuer", "private_key_pem" | "private_key_file", "kid"?}` (UTF-8
/// JSON, `config_len` bytes; see `docs/configuration.md`).
///
/// On success writes a new issuer to `*issuer_out`, owned by the caller and released with
/// `oathmesh_issuer_free` exactly once; on failure `*issuer_out` is not written and, when
/// `err_out` is not NULL, `*err_out` receives an error released with `oathmesh_error_free`.
///
/// # Safety
/// `config` is valid for reads of `config_len` bytes; `issuer_out` is writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn oathmesh_issuer_new(
    config: *const u8,
    config_len: usize,
    issuer_out: *mut *mut oathmesh_issuer,
    err_out: *mut *mut oathmesh_error,
) -> oathmesh_status {
    boundary(err_out, || {
        let config = unsafe { ffi::bytes(config, config_len, "config") }?;
        let out = ffi::out_param(issuer_out, "issuer_out")?;
        let inner = Issuer::from_json(config)?;
        unsafe { *out = Box::into_raw(Box::new(oathmesh_issuer { inner })) };
        Ok(())
    })
}

/// Releases an issuer. NULL is a no-op.
///
/// # Safety
/// `issuer` is NULL or came from `oathmesh_issuer_new`, and is freed only once.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn oathmesh_issuer_free(issuer: *mut oathmesh_issuer) {
    if issuer.is_null() {
        return;
    }
    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        drop(unsafe { Box::from_raw(issuer) })
    }));
}

/// Mints a token. `request` is the mint request JSON
/// `{"sub", "aud", "act", "ttl_hint"?, "scope"?, "reason"?, "env"?, "tenant"?, "rqh"?, "src"?,
/// "delegated_by"?}` (unknown keys refused).
///
/// On `OATHMESH_OK`, `*minted_out` receives `{"token", "expires_in", "token_type"}` as owned
/// UTF-8 JSON, released with `oathmesh_bytes_free`. On failure (`OATHMESH_MINT_CLAIM_INVALID`,
/// `OATHMESH_MINT_SIGNER_FAILED`, ...) it is not written, and `*err_out` (when not NULL)
/// receives an error released with `oathmesh_error_free`.
///
/// # Safety
/// `issuer` is a live issuer; `request` is valid for reads of `request_len` bytes;
/// `minted_out` is writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn oathmesh_issuer_mint(
    issuer: *const oathmesh_issuer,
    request: *const u8,
    request_len: usize,
    minted_out: *mut oathmesh_bytes,
    err_out: *mut *mut oathmesh_error,
) -> oathmesh_status {
    boundary(err_out, || {
        let issuer = unsafe { ffi::handle(issuer, "issuer") }?;
        let request = unsafe { ffi::bytes(request, request_len, "request") }?;
        let out = ffi::out_param(minted_out, "minted_out")?;
        let request = MintRequest::from_json(request)?;
        let minted = issuer.inner.mint(&request)?;
        let json = serde_json::to_string(&minted).expect("minted token serializes");
        unsafe { *out = oathmesh_bytes::from_string(json) };
        Ok(())
    })
}

/// The JWKS document this issuer publishes (`{"keys": [...]}`), as owned UTF-8 JSON written to
/// `*jwks_out` and released with `oathmesh_bytes_free`.
///
/// # Safety
/// `issuer` is a live issuer; `jwks_out` is writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn oathmesh_issuer_jwks(
    issuer: *const oathmesh_issuer,
    jwks_out: *mut oathmesh_bytes,
    err_out: *mut *mut oathmesh_error,
) -> oathmesh_status {
    boundary(err_out, || {
        let issuer = unsafe { ffi::handle(issuer, "issuer") }?;
        let out = ffi::out_param(jwks_out, "jwks_out")?;
        unsafe { *out = oathmesh_bytes::from_string(issuer.inner.jwks_json()) };
        Ok(())
    })
}
