//! Node.js bindings for the OathMesh core (napi-rs).
//!
//! This crate only translates: JSON documents and JS values in, core types out, core errors
//! into JS `Error` objects carrying the stable `code`, `step`, `fix` and `status`. Every check
//! runs in `oathmesh-core`. The TypeScript layer (`ts/`) adds camelCase options and the
//! Express and Next.js adapters on top of the classes exported here.
//!
//! Every exported function is marked `catch_unwind`, so a Rust panic becomes a JS exception
//! instead of aborting the Node process.

mod audit;
mod errors;
mod issuer;
mod keys;
mod verifier;

pub use issuer::NativeIssuer;
pub use verifier::NativeVerifier;
