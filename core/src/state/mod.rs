//! Shared state (docs/protocol.md §6, §7): single use of every `jti` (`replay`), revoked
//! subjects (`revocation`), and Redis as the store a fleet of receivers shares (`redis`).

#[cfg(feature = "redis")]
pub mod redis;
pub mod replay;
pub mod revocation;
