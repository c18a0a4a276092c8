//! # oathmesh-core
//!
//! Oath Tokens: short-lived (at most 300 s), Ed25519-signed, scoped machine identity. This
//! crate issues them and runs the 14-step verification pipeline; the Python, Node and C/Go
//! bindings all call into it, so every language gives the same answer for every token.
//!
//! ```
//! use oathmesh_core::{generate_key, Issuer, MintRequest, Verifier, VerifyContext};
//!
//! let key = generate_key();
//! let issuer = Issuer::from_json(
//!     serde_json::json!({"issuer": "https://issuer.internal", "private_key_pem": key.private_pem})
//!         .to_string().as_bytes(),
//! ).unwrap();
//! let verifier = Verifier::from_json(
//!     serde_json::json!({
//!         "audience": "https://billing.internal",
//!         "trusted_issuers": ["https://issuer.internal"],
//!         "jwks": {"keys": [key.jwk]},
//!     }).to_string().as_bytes(),
//! ).unwrap();
//! let minted = issuer.mint(&MintRequest {
//!     sub: "svc://checkout".into(),
//!     aud: "https://billing.internal".into(),
//!     act: "charge".into(),
//!     ..Default::default()
//! }).unwrap();
//! let caller = verifier.verify(&minted.token, &VerifyContext::default()).unwrap();
//! assert_eq!(caller.subject, "svc://checkout");
//! // Tokens are single-use.
//! let again = verifier.verify(&minted.token, &VerifyContext::default()).unwrap_err();
//! assert_eq!(again.code(), "replay_detected");
//! ```

pub mod audit;
pub mod audit_chain;
pub mod b64;
pub mod binding;
pub mod caller;
pub mod claims;
#[cfg(feature = "client")]
pub mod client;
pub mod client_assertion;
pub mod clock;
pub mod config;
pub mod error;
pub mod glob;
pub mod issuer;
#[cfg(feature = "jwks-fetch")]
pub mod jwks_fetch;
pub mod keys;
pub mod keysource;
pub mod ops;
pub mod policy;
pub mod policy_file;
mod raw_json;
#[cfg(feature = "redis")]
pub mod redis_store;
pub mod replay;
pub mod revocation;
pub mod signature;
pub mod strict_json;
pub mod token;
pub mod verifier;

pub use audit::{
    AuditEvent, AuditSink, CallbackSink, ChainedStdoutSink, FanOutSink, FileSink, Outcome,
    StdoutSink,
};
pub use binding::{RequestParts, canonical_request, canonical_request_hash};
pub use caller::Caller;
pub use clock::{Clock, FixedClock, SystemClock};
pub use config::VerifierConfig;
pub use error::{ConfigError, ErrorKind, MintError, Step, VerifyError};
pub use issuer::{Issuer, LocalSigner, MintRequest, MintedToken, Signer, SourceRequest};
pub use keys::{GeneratedKey, Jwk, KeySet, generate_key};
pub use keysource::{KeyLookupError, KeySource, PrewarmResult, StaticKeys};
pub use ops::{OpsEvent, OpsReporter};
pub use policy::{Decision, Policy};
pub use policy_file::{ReloadOutcome, WatchedPolicy};
pub use replay::{BackendError, MemoryReplayCache, ReplayCache, ReplayCheck};
pub use revocation::{MemoryRevocationList, RevocationList};
pub use token::{Claims, Header, Source};
pub use verifier::{Verifier, VerifyContext, token_from_authorization};
