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

//! ## Where each rule lives
//!
//! The folders follow `docs/protocol.md`:
//!
//! | folder | protocol | what |
//! |---|---|---|
//! | [`wire`] | §1, §4 | token shape, base64url, strict JSON, claim types and formats, canonical request |
//! | [`keys`] | §3 | Ed25519 keys and JWKs, the signature check, key sources, JWKS fetching |
//! | [`verify`] | §2 | the pipeline, its configuration document, errors, the caller |
//! | [`state`] | §6, §7 | replay cache, revocation list, Redis |
//! | [`policy`] | §5 | rules, patterns, policy files, Pkl |
//! | [`audit`] | §8 | audit events, outputs, the HMAC chain |
//! | [`issue`] | §9 | minting, client assertions, the issuer client |
//!
//! [`clock`] and [`ops`] (operational events) serve every folder.

pub mod audit;
pub mod clock;
pub mod error;
pub mod issue;
pub mod keys;
pub mod ops;
pub mod policy;
pub mod state;
pub mod verify;
pub mod wire;

// The paths of 0.1, kept so that servers, bindings and users compile unchanged.
pub use audit::chain as audit_chain;
#[cfg(feature = "client")]
pub use issue::client;
pub use issue::{client_assertion, issuer};
#[cfg(feature = "jwks-fetch")]
pub use keys::fetch as jwks_fetch;
pub use keys::signature;
pub use keys::source as keysource;
pub use policy::glob;
pub use policy::watch as policy_file;
#[cfg(feature = "redis")]
pub use state::redis as redis_store;
pub use state::{replay, revocation};
pub use verify::{caller, config};
pub use wire::{b64, claims, strict_json, token};

pub use audit::{
    AuditEvent, AuditOptions, AuditSink, AuditStats, CallbackSink, ChainedStdoutSink, FanOutSink,
    FileSink, Outcome, StdoutSink,
};
pub use clock::{Clock, FixedClock, SystemClock};
pub use error::ConfigError;
pub use issue::error::MintError;
pub use issue::issuer::{Issuer, LocalSigner, MintRequest, MintedToken, Signer, SourceRequest};
pub use keys::source::{KeyLookupError, KeySource, PrewarmResult, StaticKeys};
pub use keys::{GeneratedKey, Jwk, KeySet, generate_key};
pub use ops::{OpsEvent, OpsReporter};
pub use policy::watch::{ReloadOutcome, WatchedPolicy};
pub use policy::{Decision, Policy};
pub use state::replay::{BackendError, MemoryReplayCache, ReplayCache, ReplayCheck};
pub use state::revocation::{MemoryRevocationList, RevocationList};
pub use verify::caller::Caller;
pub use verify::config::VerifierConfig;
pub use verify::error::{ErrorKind, Step, VerifyError};
pub use verify::pipeline::{Verifier, VerifyContext, token_from_authorization};
pub use wire::canonical_request::{RequestParts, canonical_request, canonical_request_hash};
pub use wire::token::{Claims, Header, Source};
