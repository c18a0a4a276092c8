//! Stateless helpers: request hashing, key generation, the library version.

use crate::error::{oathmesh_error, oathmesh_status};
use crate::ffi::{self, boundary, oathmesh_bytes};
use std::ffi::c_char;

/// The request-binding hash of PROTOCOL §4 (`sha256:<64 hex>`), the value of a token's `rqh`.
///
/// `method` and `path_and_query` are UTF-8, not NULL; `body` may be NULL only when
/// `body_len` is 0. On `OATHMESH_OK`, `*hash_out` receives the hash as owned UTF-8 text (not
/// JSON), released with `oathmesh_bytes_free`.
///
/// # Safety
/// Every non-NULL pointer is valid for reads of its length; `hash_out` is writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn oathmesh_canonical_request_hash(
    method: *const u8,
    method_len: usize,
    path_and_query: *const u8,
    path_and_query_len: usize,
    body: *const u8,
    body_len: usize,
    hash_out: *mut oathmesh_bytes,
    err_out: *mut *mut oathmesh_error,
) -> oathmesh_status {
    boundary(err_out, || {
        let method = unsafe { ffi::text(method, method_len, "method") }?;
        let path_and_query =
            unsafe { ffi::text(path_and_query, path_and_query_len, "path_and_query") }?;
        let body = if body_len == 0 {
            &[][..]
        } else {
            unsafe { ffi::bytes(body, body_len, "body") }?
        };
        let out = ffi::out_param(hash_out, "hash_out")?;
        let hash = oathmesh_core::canonical_request_hash(method, path_and_query, body);
        unsafe { *out = oathmesh_bytes::from_string(hash) };
        Ok(())
    })
}

/// Generates an Ed25519 key from the operating system's RNG. On `OATHMESH_OK`, `*key_out`
/// receives owned UTF-8 JSON `{"private_pem", "public_pem", "kid", "jwk"}`, released with
/// `oathmesh_bytes_free`. It holds a private key: wipe or protect it as such.
///
/// # Safety
/// `key_out` is writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn oathmesh_generate_key(
    key_out: *mut oathmesh_bytes,
    err_out: *mut *mut oathmesh_error,
) -> oathmesh_status {
    boundary(err_out, || {
        let out = ffi::out_param(key_out, "key_out")?;
        let key = oathmesh_core::generate_key();
        let json = serde_json::json!({
            "private_pem": key.private_pem,
            "public_pem": key.public_pem,
            "kid": key.kid,
            "jwk": key.jwk,
        });
        unsafe { *out = oathmesh_bytes::from_string(json.to_string()) };
        Ok(())
    })
}

/// The library version (the workspace version, e.g. `"0.2.0"`): a static NUL-terminated string, never freed.
#[unsafe(no_mangle)]
pub extern "C" fn oathmesh_version() -> *const c_char {
    concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast()
}
