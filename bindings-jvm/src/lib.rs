//! `oathmesh_jvm`: the OathMesh core for the JVM, through uniffi.
//!
//! This crate only translates. Every check runs in `oathmesh-core`; configuration crosses
//! as the core's JSON documents, results as uniffi records, failures as one error enum
//! carrying the core's code, step, status, fix and rendered HTTP response. uniffi's
//! scaffolding catches panics, so none crosses into the JVM. The Kotlin is generated from
//! this library's metadata at build time (`uniffi-bindgen generate --library`), and
//! `bindings-jvm/src/main/kotlin` wraps it with the Kotlin and Java API.

// `OathMeshError` is the one error uniffi lowers into a Kotlin exception, field by field
// (code, step, status, fix, the rendered response). uniffi's error derive takes the enum by
// value and has no boxed variant, so the large `Err` is the FFI shape itself, not a choice
// made for Rust callers (there are none).
#![allow(clippy::result_large_err)]

mod caller;
mod client;
mod errors;
mod issuer;
mod request_id;
mod verifier;

pub use caller::{Caller, Source};
pub use client::{Client, ClientToken};
pub use errors::{ErrorFamily, FailureResponse, HeaderPair, OathMeshError};
pub use issuer::{Issuer, MintedToken};
pub use verifier::{BoundRequest, PrewarmResult, Verifier, VerifyOptions};

uniffi::setup_scaffolding!();

/// `sha256:<hex>` of the canonical request (PROTOCOL §4): what a token's `rqh` must equal.
#[uniffi::export]
pub fn canonical_request_hash(method: String, path_and_query: String, body: Vec<u8>) -> String {
    oathmesh_core::canonical_request_hash(&method, &path_and_query, &body)
}

/// A new Ed25519 key pair.
#[derive(Debug, Clone, uniffi::Record)]
pub struct GeneratedKey {
    /// PKCS#8 PEM; write it with mode 0600.
    pub private_pem: String,
    pub public_pem: String,
    /// The RFC 7638 thumbprint.
    pub kid: String,
    pub jwk_json: String,
}

#[uniffi::export]
pub fn generate_key() -> GeneratedKey {
    let key = oathmesh_core::generate_key();
    GeneratedKey {
        jwk_json: serde_json::to_string(&key.jwk).expect("a JWK serializes"),
        private_pem: key.private_pem,
        public_pem: key.public_pem,
        kid: key.kid,
    }
}

/// The core's version, to check the native library matches the jar.
#[uniffi::export]
pub fn core_version() -> String {
    env!("CARGO_PKG_VERSION").to_owned()
}
