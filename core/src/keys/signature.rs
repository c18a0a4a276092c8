//! The one Ed25519 signature check (step 06). Strict: non-canonical `S`, small-order keys
//! and small-order `R` are rejected (ed25519-dalek `verify_strict`), so a signature has one
//! valid encoding and weak keys verify nothing. Pinned by Wycheproof's 150 cases.

use ed25519_dalek::{Signature, VerifyingKey};

/// True when `signature` is exactly 64 bytes and a strict Ed25519 signature of `message`.
pub fn verify(key: &VerifyingKey, message: &[u8], signature: &[u8]) -> bool {
    let Ok(bytes) = <[u8; 64]>::try_from(signature) else {
        return false;
    };
    key.verify_strict(message, &Signature::from_bytes(&bytes))
        .is_ok()
}

/// The same check from raw public-key bytes (32 bytes, compressed Edwards point).
pub fn verify_raw(public_key: &[u8], message: &[u8], signature: &[u8]) -> bool {
    let Ok(bytes) = <[u8; 32]>::try_from(public_key) else {
        return false;
    };
    VerifyingKey::from_bytes(&bytes).is_ok_and(|key| verify(&key, message, signature))
}
