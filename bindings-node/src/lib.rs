//! Node.js bindings for the OathMesh core (napi-rs).
//!
//! This crate only translates: JSON documents and JS values in, core types out, core errors
//! into JS `Error` objects carrying the stable `code`, `step`, `fix` and `status`. Every check
//! runs in `oathmesh-core`. The TypeScript layer (`ts/`) adds camelCase options and the
//! Express and Next.js adapters on top of the classes exported here.
//!
//! Every exported function is marked `catch_unwind`, so a Rust panic becomes a JS exception
//! instead of aborting the Node process.

// napi registers `#[napi]` exports only in the addon build; the unit-test build (what
// `cargo clippy --all-targets` checks) sees the free functions and objects as unused.
#![cfg_attr(test, allow(dead_code))]

mod audit;
mod client;
mod errors;
mod issuer;
mod keys;
mod verifier;

pub use client::NativeClient;
pub use issuer::NativeIssuer;
pub use verifier::NativeVerifier;

/// The text of a caught panic, for the error it becomes.
pub(crate) fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".to_owned())
}
