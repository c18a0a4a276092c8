//! The wire format (docs/protocol.md §1, §4): how an Oath Token is written and read, and the
//! canonical request a token can be bound to. Steps 01 (shape), 02 (header), 03 (claim types)
//! and 11 (claim formats) live here; nothing in this folder needs a key or a clock.

pub mod b64;
pub mod canonical_request;
pub mod claims;
pub(crate) mod raw_json;
pub mod strict_json;
pub mod token;
