//! The verifier handle: built once from the JSON configuration, shared by every thread.

use crate::error::{Failure, oathmesh_error, oathmesh_status};
use crate::ffi::{self, boundary, oathmesh_bytes};
use oathmesh_core::{AuditEvent, CallbackSink, RequestParts, Verifier, VerifyContext};
use std::ffi::c_void;

/// Verifies Oath Tokens: keys and policy parsed once, then used for every call.
///
/// Thread safety: a verifier is `Send + Sync`. Any number of threads may call
/// `oathmesh_verifier_verify` and `oathmesh_verifier_verify_authorization` on the same
/// verifier at once, without locking. Only `oathmesh_verifier_free` needs exclusive access:
/// call it once, after every other call on the verifier has returned.
#[allow(non_camel_case_types)]
pub struct oathmesh_verifier {
    inner: Verifier,
}

/// The request a token may be bound to (PROTOCOL §4), as received. Borrowed for the duration
/// of the call only; the library keeps no pointer into it.
#[allow(non_camel_case_types)]
#[repr(C)]
pub struct oathmesh_request {
    /// The HTTP method (`POST`). UTF-8, not NULL.
    pub method: *const u8,
    pub method_len: usize,
    /// The request target's path and query exactly as sent (`/pay?x=1`), percent-encoding
    /// untouched. UTF-8, not NULL.
    pub path_and_query: *const u8,
    pub path_and_query_len: usize,
    /// The raw body bytes. May be NULL only when `body_len` is 0 (no body).
    pub body: *const u8,
    pub body_len: usize,
}

const _: () = {
    const fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<oathmesh_verifier>();
};

/// Builds a verifier from the configuration document of `docs/configuration.md` (UTF-8 JSON,
/// `config_len` bytes, not NUL-terminated; passed to the core unchanged).
///
/// On success writes a new verifier to `*verifier_out`; the caller owns it and releases it
/// with `oathmesh_verifier_free` exactly once. On failure (`OATHMESH_CONFIG_INVALID`,
/// `OATHMESH_NULL_ARGUMENT`, ...) `*verifier_out` is not written.
///
/// `err_out` may be NULL. Otherwise, on failure only, `*err_out` receives an error the caller
/// releases with `oathmesh_error_free`.
///
/// # Safety
/// `config` is valid for reads of `config_len` bytes; `verifier_out` is writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn oathmesh_verifier_new(
    config: *const u8,
    config_len: usize,
    verifier_out: *mut *mut oathmesh_verifier,
    err_out: *mut *mut oathmesh_error,
) -> oathmesh_status {
    boundary(err_out, || {
        let config = unsafe { ffi::bytes(config, config_len, "config") }?;
        let out = ffi::out_param(verifier_out, "verifier_out")?;
        let inner = Verifier::from_json(config)?;
        unsafe { *out = Box::into_raw(Box::new(oathmesh_verifier { inner })) };
        Ok(())
    })
}

/// Receives one audit event (PROTOCOL §8) as UTF-8 JSON, `event_len` bytes, not
/// NUL-terminated, borrowed for the duration of the call only (copy it to keep it). Events
/// never contain the token or a key.
///
/// Called synchronously on the thread that runs the verification, once per verification
/// (allow or deny), possibly from several threads at once: it must be thread-safe and quick
/// (hand the event to a queue for slow work). It cannot change the verification's result.
#[allow(non_camel_case_types)]
pub type oathmesh_audit_callback =
    Option<unsafe extern "C" fn(user_data: *mut c_void, event: *const u8, event_len: usize)>;

/// The caller's callback and its context, moved into the verifier's audit sinks.
struct AuditCallback {
    callback: unsafe extern "C" fn(*mut c_void, *const u8, usize),
    user_data: *mut c_void,
}

// SAFETY: `oathmesh_verifier_new_with_audit` documents that the callback and its `user_data`
// must be usable from any thread at once; the library only passes them back unchanged.
unsafe impl Send for AuditCallback {}
unsafe impl Sync for AuditCallback {}

impl AuditCallback {
    fn emit(&self, event: &AuditEvent) {
        let json = event.to_json();
        unsafe { (self.callback)(self.user_data, json.as_ptr(), json.len()) };
    }
}

/// Like `oathmesh_verifier_new`, plus an audit callback beside the configuration's built-in
/// sinks (`audit.stdout`, `audit.file`): `callback(user_data, event_json, len)` runs once per
/// verification. `callback` must not be NULL; `user_data` may be anything (even NULL), is
/// never dereferenced by the library, and must stay valid until `oathmesh_verifier_free`
/// returns. See `oathmesh_audit_callback` for the threading rules.
///
/// # Safety
/// As for `oathmesh_verifier_new`; `callback` and `user_data` follow the rules above.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn oathmesh_verifier_new_with_audit(
    config: *const u8,
    config_len: usize,
    callback: oathmesh_audit_callback,
    user_data: *mut c_void,
    verifier_out: *mut *mut oathmesh_verifier,
    err_out: *mut *mut oathmesh_error,
) -> oathmesh_status {
    boundary(err_out, || {
        let config = unsafe { ffi::bytes(config, config_len, "config") }?;
        let callback = callback.ok_or(Failure::NullArgument("callback"))?;
        let out = ffi::out_param(verifier_out, "verifier_out")?;
        let sink = AuditCallback {
            callback,
            user_data,
        };
        let inner = Verifier::from_json_with_sinks(
            config,
            vec![Box::new(CallbackSink(move |event: &AuditEvent| {
                sink.emit(event)
            }))],
        )?;
        unsafe { *out = Box::into_raw(Box::new(oathmesh_verifier { inner })) };
        Ok(())
    })
}

/// Releases a verifier. NULL is a no-op.
///
/// # Safety
/// `verifier` is NULL or came from `oathmesh_verifier_new`, is freed only once, and no other
/// call on it is running or will run.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn oathmesh_verifier_free(verifier: *mut oathmesh_verifier) {
    if verifier.is_null() {
        return;
    }
    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        drop(unsafe { Box::from_raw(verifier) })
    }));
}

/// Runs the whole verification pipeline on a token (the compact JWS, without the
/// `OathMesh ` scheme).
///
/// * `token`: UTF-8, `token_len` bytes, not NULL.
/// * `request`: the request for binding, or NULL when none is given. Without it, a token that
///   carries `rqh` fails with `OATHMESH_BINDING_MISMATCH`. Passing it always is fine: the
///   core ignores it for unbound tokens.
/// * `request_id`: NULL or UTF-8; correlates the audit event with the receiver's logs.
/// * `required_action`: NULL or UTF-8; when given, the token's `act` must equal it
///   (`OATHMESH_POLICY_DENIED` otherwise).
///
/// On `OATHMESH_OK`, `*caller_out` receives the caller context as owned UTF-8 JSON (the
/// "Caller" shape of `docs/configuration.md`), released with `oathmesh_bytes_free`. On any
/// other status `*caller_out` is not written and, when `err_out` is not NULL, `*err_out`
/// receives an error released with `oathmesh_error_free`. Every input is borrowed for the
/// duration of the call only.
///
/// # Safety
/// Every non-NULL pointer is valid for reads of its length (or writes, for the outputs);
/// `verifier` is a live verifier.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn oathmesh_verifier_verify(
    verifier: *const oathmesh_verifier,
    token: *const u8,
    token_len: usize,
    request: *const oathmesh_request,
    request_id: *const u8,
    request_id_len: usize,
    required_action: *const u8,
    required_action_len: usize,
    caller_out: *mut oathmesh_bytes,
    err_out: *mut *mut oathmesh_error,
) -> oathmesh_status {
    boundary(err_out, || {
        let token = unsafe { ffi::text(token, token_len, "token") }?;
        let ctx = unsafe {
            context(
                request,
                request_id,
                request_id_len,
                required_action,
                required_action_len,
            )
        }?;
        unsafe { verify_into(verifier, caller_out, |v| v.verify(token, &ctx)) }
    })
}

/// Like `oathmesh_verifier_verify`, but takes the value of the `Authorization` header
/// (`OathMesh <token>`). `header` may be NULL: no header was sent (`claim_missing:token`,
/// step `"00"`). Every other argument, and the ownership of the outputs, is as for
/// `oathmesh_verifier_verify`.
///
/// # Safety
/// As for `oathmesh_verifier_verify`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn oathmesh_verifier_verify_authorization(
    verifier: *const oathmesh_verifier,
    header: *const u8,
    header_len: usize,
    request: *const oathmesh_request,
    request_id: *const u8,
    request_id_len: usize,
    required_action: *const u8,
    required_action_len: usize,
    caller_out: *mut oathmesh_bytes,
    err_out: *mut *mut oathmesh_error,
) -> oathmesh_status {
    boundary(err_out, || {
        let header = unsafe { ffi::optional_text(header, header_len, "header") }?;
        let ctx = unsafe {
            context(
                request,
                request_id,
                request_id_len,
                required_action,
                required_action_len,
            )
        }?;
        unsafe {
            verify_into(verifier, caller_out, |v| {
                v.verify_authorization(header, &ctx)
            })
        }
    })
}

/// Loads every trusted issuer's keys now, so the first requests do not wait for a JWKS
/// fetch. Blocks for the fetches (each bounded by 5 s). With static keys there is nothing to
/// load and the result is `[]`.
///
/// On `OATHMESH_OK`, `*results_out` receives a JSON array with one
/// `{"issuer", "ok", "keys", "error"}` per trusted issuer, released with
/// `oathmesh_bytes_free`. A failed fetch is reported there (`"ok": false`), not as a status:
/// verifications fail closed (`jwks_unavailable`) until a later fetch succeeds.
///
/// # Safety
/// `verifier` is a live verifier; `results_out` is writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn oathmesh_verifier_prewarm(
    verifier: *const oathmesh_verifier,
    results_out: *mut oathmesh_bytes,
    err_out: *mut *mut oathmesh_error,
) -> oathmesh_status {
    boundary(err_out, || {
        let verifier = unsafe { ffi::handle(verifier, "verifier") }?;
        let out = ffi::out_param(results_out, "results_out")?;
        let results = verifier.inner.prewarm();
        let json = serde_json::to_string(&results).expect("prewarm results serialize");
        unsafe { *out = oathmesh_bytes::from_string(json) };
        Ok(())
    })
}

/// Borrows an optional `oathmesh_request` (NULL: none given). Shared with the client, which
/// binds a token to the request it describes.
///
/// # Safety
/// `request` is NULL or points to an `oathmesh_request` whose pointers are valid for reads
/// of their lengths.
pub(crate) unsafe fn request_parts<'a>(
    request: *const oathmesh_request,
) -> Result<Option<RequestParts<'a>>, Failure> {
    if request.is_null() {
        return Ok(None);
    }
    let request = unsafe { &*request };
    let body = if request.body_len == 0 {
        &[][..]
    } else {
        unsafe { ffi::bytes(request.body, request.body_len, "request.body") }?
    };
    Ok(Some(RequestParts {
        method: unsafe { ffi::text(request.method, request.method_len, "request.method") }?,
        path_and_query: unsafe {
            ffi::text(
                request.path_and_query,
                request.path_and_query_len,
                "request.path_and_query",
            )
        }?,
        body,
    }))
}

/// Borrows the per-call inputs shared by both verify functions.
///
/// # Safety
/// As for `oathmesh_verifier_verify`.
/// The shared tail of both verify entry points: checks the handle and the output pointer,
/// runs `verify`, and writes the caller JSON only on success.
///
/// # Safety
/// `verifier` is NULL or a live verifier; `caller_out` is NULL or writable.
unsafe fn verify_into(
    verifier: *const oathmesh_verifier,
    caller_out: *mut oathmesh_bytes,
    verify: impl FnOnce(
        &oathmesh_core::Verifier,
    ) -> Result<oathmesh_core::Caller, oathmesh_core::VerifyError>,
) -> Result<(), Failure> {
    let verifier = unsafe { ffi::handle(verifier, "verifier") }?;
    let out = ffi::out_param(caller_out, "caller_out")?;
    let caller = verify(&verifier.inner)?;
    unsafe { *out = oathmesh_bytes::from_string(caller.to_json()) };
    Ok(())
}

unsafe fn context<'a>(
    request: *const oathmesh_request,
    request_id: *const u8,
    request_id_len: usize,
    required_action: *const u8,
    required_action_len: usize,
) -> Result<VerifyContext<'a>, Failure> {
    let request = unsafe { request_parts(request) }?;
    Ok(VerifyContext {
        request,
        request_id: unsafe { ffi::optional_text(request_id, request_id_len, "request_id") }?,
        required_action: unsafe {
            ffi::optional_text(required_action, required_action_len, "required_action")
        }?,
    })
}
