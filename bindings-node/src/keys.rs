//! Key generation and request hashing: stateless helpers.

use napi::bindgen_prelude::*;
use napi_derive::napi;

/// A public key as published in a JWKS.
#[napi(object)]
pub struct PublicJwk {
    pub kty: String,
    pub crv: String,
    pub alg: String,
    #[napi(js_name = "use")]
    pub use_: String,
    pub kid: String,
    pub x: String,
}

/// A fresh Ed25519 key pair.
#[napi(object)]
pub struct GeneratedKey {
    /// PKCS#8 PEM. Store it with mode 0600; never log it.
    pub private_pem: String,
    /// SPKI PEM.
    pub public_pem: String,
    /// RFC 7638 thumbprint.
    pub kid: String,
    pub jwk: PublicJwk,
}

/// Generates an Ed25519 key from the operating system's RNG.
#[napi(catch_unwind)]
pub fn generate_key() -> GeneratedKey {
    let key = oathmesh_core::generate_key();
    GeneratedKey {
        private_pem: key.private_pem,
        public_pem: key.public_pem,
        kid: key.kid,
        jwk: PublicJwk {
            kty: key.jwk.kty.to_owned(),
            crv: key.jwk.crv.to_owned(),
            alg: key.jwk.alg.to_owned(),
            use_: key.jwk.use_.to_owned(),
            kid: key.jwk.kid,
            x: key.jwk.x,
        },
    }
}

/// `sha256:<hex>` of the canonical request (PROTOCOL §4): the value of the `rqh` claim.
#[napi(catch_unwind)]
pub fn canonical_request_hash(
    method: String,
    path_and_query: String,
    body: Option<Buffer>,
) -> String {
    oathmesh_core::canonical_request_hash(
        &method,
        &path_and_query,
        body.as_deref().unwrap_or_default(),
    )
}
