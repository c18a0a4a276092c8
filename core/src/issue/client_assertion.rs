//! Client assertions: how a client holding an Ed25519 key proves itself to the issuer
//! without a shared secret (RFC 7523 style). A compact JWS with `typ: om-client+jwt` (never
//! confusable with an Oath Token's `om+jwt`), `iss = sub = client id`, `aud = issuer URL`,
//! a lifetime of at most 60 s and a single-use `jti`.

use crate::wire::b64;
use ed25519_dalek::{Signer as _, SigningKey};

/// The `typ` of a client assertion.
pub const ASSERTION_TYPE: &str = "om-client+jwt";
/// Longest accepted assertion lifetime, in seconds.
pub const MAX_ASSERTION_LIFETIME_SECS: i64 = 60;
/// The lifetime clients give their assertions.
pub const ASSERTION_LIFETIME_SECS: i64 = 30;

/// Signs an assertion for `client_id` towards `issuer_url` at `now` (Unix seconds).
pub fn sign_assertion(
    key: &SigningKey,
    client_id: &str,
    issuer_url: &str,
    now: i64,
    jti: &str,
) -> String {
    let header = serde_json::json!({"alg": "EdDSA", "typ": ASSERTION_TYPE});
    let claims = serde_json::json!({
        "iss": client_id,
        "sub": client_id,
        "aud": issuer_url,
        "iat": now,
        "exp": now + ASSERTION_LIFETIME_SECS,
        "jti": jti,
    });
    let input = format!(
        "{}.{}",
        b64::encode(header.to_string().as_bytes()),
        b64::encode(claims.to_string().as_bytes())
    );
    let signature = key.sign(input.as_bytes()).to_bytes();
    format!("{input}.{}", b64::encode(&signature))
}
