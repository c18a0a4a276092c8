//! The calling convention shared by every exported function: the panic boundary, borrowed
//! inputs, and owned output bytes.

use crate::error::{Failure, oathmesh_error, oathmesh_status};
use std::panic::{AssertUnwindSafe, catch_unwind};

/// Bytes owned by the library and handed to the caller: UTF-8 JSON for every result in this
/// API. Not NUL-terminated. Released with `oathmesh_bytes_free` exactly once.
#[allow(non_camel_case_types)]
#[repr(C)]
#[derive(Debug)]
pub struct oathmesh_bytes {
    /// NULL only in an empty (zeroed or freed) value.
    pub data: *mut u8,
    pub len: usize,
}

impl oathmesh_bytes {
    pub(crate) fn from_string(text: String) -> oathmesh_bytes {
        let boxed: Box<[u8]> = text.into_bytes().into_boxed_slice();
        let len = boxed.len();
        oathmesh_bytes {
            data: Box::into_raw(boxed) as *mut u8,
            len,
        }
    }
}

/// Releases bytes returned by this library and resets `*bytes` to `{NULL, 0}`, so a second
/// call is a harmless no-op. `bytes == NULL` and `bytes->data == NULL` are no-ops.
///
/// # Safety
/// `bytes` is NULL or points to an `oathmesh_bytes` that this library wrote (or that is
/// zeroed).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn oathmesh_bytes_free(bytes: *mut oathmesh_bytes) {
    if bytes.is_null() {
        return;
    }
    let _ = catch_unwind(AssertUnwindSafe(|| {
        let bytes = unsafe { &mut *bytes };
        if !bytes.data.is_null() {
            let slice = std::ptr::slice_from_raw_parts_mut(bytes.data, bytes.len);
            drop(unsafe { Box::from_raw(slice) });
        }
        bytes.data = std::ptr::null_mut();
        bytes.len = 0;
    }));
}

/// Runs one exported function's body: catches panics, and on failure writes a freshly
/// allocated error into `err_out` (when the caller gave one). Outputs are written by `body`
/// only once everything has succeeded.
pub(crate) fn boundary(
    err_out: *mut *mut oathmesh_error,
    body: impl FnOnce() -> Result<(), Failure>,
) -> oathmesh_status {
    let failure = match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(())) => return oathmesh_status::OATHMESH_OK,
        Ok(Err(failure)) => failure,
        Err(payload) => Failure::Panic(panic_text(payload.as_ref())),
    };
    let status = failure.status();
    if !err_out.is_null() {
        // Building the error allocates; a failure there must not unwind either.
        if let Ok(err) = catch_unwind(AssertUnwindSafe(|| failure.into_error())) {
            unsafe { *err_out = Box::into_raw(err) };
        }
    }
    status
}

fn panic_text(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(text) = payload.downcast_ref::<&str>() {
        (*text).to_owned()
    } else if let Some(text) = payload.downcast_ref::<String>() {
        text.clone()
    } else {
        "non-string panic payload".to_owned()
    }
}

/// Borrows `len` bytes at `data`. A NULL `data` is refused even when `len` is 0, so that a
/// forgotten pointer is reported instead of being read as an empty input.
///
/// # Safety
/// `data` is NULL or valid for reads of `len` bytes for the lifetime `'a`.
pub(crate) unsafe fn bytes<'a>(
    data: *const u8,
    len: usize,
    name: &'static str,
) -> Result<&'a [u8], Failure> {
    if data.is_null() {
        return Err(Failure::NullArgument(name));
    }
    Ok(unsafe { std::slice::from_raw_parts(data, len) })
}

/// Like [`bytes`], but NULL means "not given".
///
/// # Safety
/// As for [`bytes`].
pub(crate) unsafe fn optional_bytes<'a>(data: *const u8, len: usize) -> Option<&'a [u8]> {
    (!data.is_null()).then(|| unsafe { std::slice::from_raw_parts(data, len) })
}

/// Borrows UTF-8 text.
///
/// # Safety
/// As for [`bytes`].
pub(crate) unsafe fn text<'a>(
    data: *const u8,
    len: usize,
    name: &'static str,
) -> Result<&'a str, Failure> {
    std::str::from_utf8(unsafe { bytes(data, len, name) }?).map_err(|_| Failure::InvalidUtf8(name))
}

/// Optional UTF-8 text: NULL means "not given".
///
/// # Safety
/// As for [`bytes`].
pub(crate) unsafe fn optional_text<'a>(
    data: *const u8,
    len: usize,
    name: &'static str,
) -> Result<Option<&'a str>, Failure> {
    match unsafe { optional_bytes(data, len) } {
        None => Ok(None),
        Some(bytes) => std::str::from_utf8(bytes)
            .map(Some)
            .map_err(|_| Failure::InvalidUtf8(name)),
    }
}

/// Checks an out-parameter before any work is done.
pub(crate) fn out_param<T>(out: *mut T, name: &'static str) -> Result<*mut T, Failure> {
    if out.is_null() {
        Err(Failure::NullArgument(name))
    } else {
        Ok(out)
    }
}

/// Borrows a handle.
///
/// # Safety
/// `handle` is NULL or a live handle made by this library.
pub(crate) unsafe fn handle<'a, T>(handle: *const T, name: &'static str) -> Result<&'a T, Failure> {
    if handle.is_null() {
        Err(Failure::NullArgument(name))
    } else {
        Ok(unsafe { &*handle })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::CStr;

    #[test]
    fn a_panic_becomes_a_status_and_an_error() {
        let mut err: *mut oathmesh_error = std::ptr::null_mut();
        let status = boundary(&mut err, || panic!("boom"));
        assert_eq!(status, oathmesh_status::OATHMESH_PANIC);
        assert!(!err.is_null());
        let (code, message) =
            unsafe { (CStr::from_ptr((*err).code), CStr::from_ptr((*err).message)) };
        assert_eq!(code.to_str().unwrap(), "internal_panic");
        assert!(message.to_str().unwrap().contains("boom"));
        unsafe { crate::error::oathmesh_error_free(err) };
    }

    #[test]
    fn success_leaves_the_error_untouched() {
        let mut err: *mut oathmesh_error = std::ptr::null_mut();
        assert_eq!(boundary(&mut err, || Ok(())), oathmesh_status::OATHMESH_OK);
        assert!(err.is_null());
    }

    #[test]
    fn bytes_free_is_idempotent() {
        let mut out = oathmesh_bytes::from_string("{}".into());
        unsafe { oathmesh_bytes_free(&mut out) };
        assert!(out.data.is_null());
        unsafe { oathmesh_bytes_free(&mut out) };
        unsafe { oathmesh_bytes_free(std::ptr::null_mut()) };
    }
}
