//! Issuance (docs/protocol.md §9): signing tokens (`issuer`), how a client proves itself to
//! the issuer with its own key (`client_assertion`), and the HTTP client that asks an issuer
//! for tokens (`client`).

#[cfg(feature = "client")]
pub mod client;
pub mod client_assertion;
pub mod error;
pub mod issuer;
