//! Keys and signatures (docs/protocol.md §3): Ed25519 keys and JWKs (`ed25519`), the one
//! signature check of step 06 (`signature`), where step 05 finds an issuer's keys (`source`),
//! and fetching them from `{iss}/.well-known/jwks.json` (`fetch`).

mod ed25519;
#[cfg(feature = "jwks-fetch")]
pub mod fetch;
pub mod signature;
pub mod source;

pub use ed25519::*;
