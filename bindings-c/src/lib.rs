//! # liboathmesh: the C ABI of the OathMesh core
//!
//! A thin translation layer: every check happens in `oathmesh-core`; this crate only turns
//! C pointers into Rust values and Rust results into statuses, owned errors and owned JSON.
//! The conventions follow rustls-ffi:
//!
//! * opaque handles made by `*_new` and released exactly once by `*_free` (NULL is a no-op);
//! * inputs are const pointers plus lengths, borrowed for the duration of the call only;
//! * outputs come last and are written only on success;
//! * every pointer is checked for NULL and every function runs inside a panic boundary, so a
//!   Rust panic becomes `OATHMESH_PANIC`, never an abort across the boundary;
//! * errors come back in the same call (status plus an optional `oathmesh_error **`), never
//!   through thread-local state.
//!
//! The header `include/oathmesh.h` is generated from this crate by the pinned cbindgen; the
//! `header` test fails when the committed file differs by a byte.

mod client;
mod error;
mod ffi;
mod issuer;
mod tools;
mod verifier;

pub use client::{
    oathmesh_client, oathmesh_client_free, oathmesh_client_mint, oathmesh_client_new,
};
pub use error::{oathmesh_error, oathmesh_error_free, oathmesh_status};
pub use ffi::{oathmesh_bytes, oathmesh_bytes_free};
pub use issuer::{
    oathmesh_issuer, oathmesh_issuer_free, oathmesh_issuer_jwks, oathmesh_issuer_mint,
    oathmesh_issuer_new,
};
pub use tools::{oathmesh_canonical_request_hash, oathmesh_generate_key, oathmesh_version};
pub use verifier::{
    oathmesh_request, oathmesh_verifier, oathmesh_verifier_free, oathmesh_verifier_new,
    oathmesh_verifier_prewarm, oathmesh_verifier_verify, oathmesh_verifier_verify_authorization,
};
