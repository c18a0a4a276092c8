//! Who is calling the issuer. Each client authenticates with its own credential, never a
//! shared secret:
//! - a secret, sent as HTTP Basic `id:secret`, stored only as its SHA-256 and compared in
//!   constant time;
//! - or an Ed25519 key: the client sends `Authorization: OathMesh-Client <assertion>`, a
//!   compact JWS (`typ: om-client+jwt`) with `iss = sub = client id`, `aud = issuer URL`,
//!   a lifetime of at most 60 s and a single-use `jti` (RFC 7523 style);
//! - or a client certificate (RFC 8705 `tls_client_auth`): the TLS listener verifies that it
//!   chains to `tls.client_ca_file`, and the request (with no `Authorization` header)
//!   authenticates as the one client whose `tls_client_auth_*` name the certificate carries.

use crate::config::{ClientConfig, ConfigError};
use crate::single_use::SingleUseStore;
use base64::Engine;
use ed25519_dalek::VerifyingKey;
use oathmesh_core::ReplayCheck;
use oathmesh_core::{MintRequest, b64, glob, keys, signature, strict_json};
use oathmesh_serving::{CertIdentity, PeerCertificate};
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use subtle::ConstantTimeEq;

// One definition of the assertion format, shared with the clients that sign them.
pub use oathmesh_core::client_assertion::{
    ASSERTION_TYPE, MAX_ASSERTION_LIFETIME_SECS, sign_assertion,
};

const ASSERTION_LEEWAY_SECS: i64 = 10;

enum Credential {
    SecretHash([u8; 32]),
    PublicKey(VerifyingKey),
    Certificate(CertIdentity),
}

/// A configured client.
pub struct Client {
    pub config: ClientConfig,
    credential: Credential,
}

impl Client {
    /// `Ok` when every identity-bearing claim of `request` is inside this client's
    /// allow-lists, else the first claim that is not. Deny by default: an `env`, `tenant`,
    /// `scope` item or `delegated_by` needs a pattern that allows it, and `src` is never
    /// taken from a request (only the issuer vouches for provenance, in the CI exchange).
    pub fn may_mint(&self, request: &MintRequest) -> Result<(), &'static str> {
        let c = &self.config;
        let allowed =
            |patterns: &[String], value: &str| patterns.iter().any(|p| glob::matches(p, value));
        let optional = |patterns: &[String], value: &Option<String>| {
            value.as_deref().is_none_or(|v| allowed(patterns, v))
        };
        if !allowed(&c.allowed_sub, &request.sub) {
            return Err("sub");
        }
        if !allowed(&c.allowed_aud, &request.aud) {
            return Err("aud");
        }
        if !allowed(&c.allowed_act, &request.act) {
            return Err("act");
        }
        if !optional(&c.allowed_env, &request.env) {
            return Err("env");
        }
        if !optional(&c.allowed_tenant, &request.tenant) {
            return Err("tenant");
        }
        let scope = request.scope.as_deref().unwrap_or_default();
        if !scope.iter().all(|item| allowed(&c.allowed_scope, item)) {
            return Err("scope");
        }
        if !optional(&c.allowed_delegated_by, &request.delegated_by) {
            return Err("delegated_by");
        }
        if request.src.is_some() {
            return Err("src");
        }
        Ok(())
    }

    /// How many assertion ids of this client may be remembered at once. The rate limit runs
    /// before an id is recorded, so a client can never have more live ids than its burst
    /// plus its rate over an assertion's longest life: this bound is never reached by a
    /// client that keeps to its rate, and a client that does not only blocks itself.
    pub fn assertion_capacity(&self) -> usize {
        let window = (MAX_ASSERTION_LIFETIME_SECS + ASSERTION_LEEWAY_SECS + 1) as f64;
        (self.config.burst + self.config.rate_per_sec * window).ceil() as usize + 1
    }
}

/// A verified assertion whose `jti` is not yet recorded: the caller records it with
/// [`ClientRegistry::spend_assertion`] once every other check and the rate limit passed, so
/// a refused request does not burn it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnspentAssertion {
    pub jti: String,
    /// The last second the assertion is accepted (`exp` + leeway).
    pub until: i64,
}

/// All clients.
pub struct ClientRegistry {
    clients: HashMap<String, Client>,
    issuer_url: String,
    /// Compared against when a client id is unknown, so timing does not reveal which ids exist.
    decoy: [u8; 32],
    /// Verified against when an assertion names an unknown client or one without a key, so
    /// those cost the same signature check as a bad signature and answer the same.
    decoy_key: VerifyingKey,
}

/// Why authentication failed. Deliberately coarse in what reaches the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthError {
    /// No usable credential in the request.
    Missing,
    /// A malformed Basic credential, an unknown client or a wrong secret.
    Secret,
    /// A signed assertion was refused (the metrics count these by reason).
    Assertion(AssertionReject),
    /// The verified client certificate names no configured client, or several.
    Certificate(&'static str),
}

impl AuthError {
    /// The message the caller gets: what kind of credential failed, never which part of a
    /// secret or which client ids exist.
    pub fn message(self) -> &'static str {
        match self {
            AuthError::Missing => {
                "no client credential (HTTP Basic, OathMesh-Client assertion or client certificate)"
            }
            AuthError::Secret => "unknown client or wrong secret",
            AuthError::Assertion(reject) => reject.message(),
            AuthError::Certificate(why) => why,
        }
    }
}

/// Why a client assertion was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AssertionReject {
    Malformed,
    Header,
    /// An unknown client, a client without a public key, or a bad signature: one answer
    /// and the same work for all three, so client ids cannot be enumerated.
    UnknownClientOrSignature,
    Claims,
    Lifetime,
    Expired,
    Replayed,
    ReplayCacheUnavailable,
}

impl AssertionReject {
    /// A stable label for the metrics.
    pub fn reason(self) -> &'static str {
        match self {
            AssertionReject::Malformed => "malformed",
            AssertionReject::Header => "header",
            AssertionReject::UnknownClientOrSignature => "unknown_client_or_signature",
            AssertionReject::Claims => "claims",
            AssertionReject::Lifetime => "lifetime",
            AssertionReject::Expired => "expired",
            AssertionReject::Replayed => "replayed",
            AssertionReject::ReplayCacheUnavailable => "replay_cache_unavailable",
        }
    }

    fn message(self) -> &'static str {
        match self {
            AssertionReject::Malformed => "malformed assertion",
            AssertionReject::Header => "assertion header must be alg EdDSA, typ om-client+jwt",
            AssertionReject::UnknownClientOrSignature => {
                "unknown client or invalid assertion signature"
            }
            AssertionReject::Claims => {
                "assertion needs iss = sub = the client id, aud = the issuer URL, iat, exp and jti"
            }
            AssertionReject::Lifetime => "assertion lifetime or jti out of bounds",
            AssertionReject::Expired => "assertion expired or not yet valid",
            AssertionReject::Replayed => "assertion already used",
            AssertionReject::ReplayCacheUnavailable => "assertion replay cache unavailable",
        }
    }
}

fn hex_decode32(hex: &str) -> Option<[u8; 32]> {
    let bytes: Vec<u8> = (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok())
        .collect::<Option<_>>()?;
    bytes.try_into().ok()
}

impl ClientRegistry {
    pub fn new(configs: &[ClientConfig], issuer_url: &str) -> Result<ClientRegistry, ConfigError> {
        let mut clients = HashMap::new();
        for config in configs {
            let at = |e: &dyn std::fmt::Display| ConfigError(format!("client {}: {e}", config.id));
            let credential = match (
                &config.secret_sha256,
                &config.public_key_pem,
                config.certificate_identity()?,
            ) {
                (Some(hash), _, _) => Credential::SecretHash(
                    hex_decode32(hash).ok_or_else(|| at(&"bad secret_sha256"))?,
                ),
                (None, Some(pem), _) => {
                    Credential::PublicKey(keys::verifying_key_from_pem(pem).map_err(|e| at(&e))?)
                }
                (None, None, Some(name)) => Credential::Certificate(name),
                (None, None, None) => return Err(at(&"no credential")),
            };
            clients.insert(
                config.id.clone(),
                Client {
                    config: config.clone(),
                    credential,
                },
            );
        }
        Ok(ClientRegistry {
            clients,
            issuer_url: issuer_url.to_owned(),
            decoy: [0u8; 32],
            decoy_key: keys::signing_key_from_pem(&keys::generate_key().private_pem)
                .map_err(|e| ConfigError(format!("cannot make the decoy key: {e}")))?
                .verifying_key(),
        })
    }

    /// Authenticates a request at `now` (Unix seconds): by its `Authorization` header when it
    /// has one, else by the verified client certificate of its connection.
    pub fn authenticate(
        &self,
        header: Option<&str>,
        certificate: Option<&PeerCertificate>,
        now: i64,
    ) -> Result<(&Client, Option<UnspentAssertion>), AuthError> {
        let Some(header) = header else {
            return match certificate {
                Some(cert) => self.authenticate_certificate(cert).map(|c| (c, None)),
                None => Err(AuthError::Missing),
            };
        };
        let (scheme, value) = header.split_once(' ').ok_or(AuthError::Missing)?;
        if scheme.eq_ignore_ascii_case("Basic") {
            self.authenticate_secret(value.trim()).map(|c| (c, None))
        } else if scheme.eq_ignore_ascii_case("OathMesh-Client") {
            self.authenticate_assertion(value.trim(), now)
                .map(|(c, unspent)| (c, Some(unspent)))
        } else {
            Err(AuthError::Missing)
        }
    }

    /// The one client whose `tls_client_auth_*` name the certificate carries. Configuration
    /// refuses two clients with the same name, but a DN and a SAN can still both match one
    /// certificate: then no client is chosen.
    fn authenticate_certificate(&self, cert: &PeerCertificate) -> Result<&Client, AuthError> {
        let mut matching = self.clients.values().filter(
            |c| matches!(&c.credential, Credential::Certificate(name) if name.matches(cert)),
        );
        match (matching.next(), matching.next()) {
            (Some(client), None) => Ok(client),
            (None, _) => Err(AuthError::Certificate(
                "no client is configured for this client certificate",
            )),
            (Some(_), Some(_)) => Err(AuthError::Certificate(
                "this client certificate matches several clients",
            )),
        }
    }

    fn authenticate_secret(&self, value: &str) -> Result<&Client, AuthError> {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(value)
            .map_err(|_| AuthError::Secret)?;
        let decoded = String::from_utf8(decoded).map_err(|_| AuthError::Secret)?;
        let (id, secret) = decoded.split_once(':').ok_or(AuthError::Secret)?;
        let presented: [u8; 32] = Sha256::digest(secret.as_bytes()).into();
        let client = self.clients.get(id);
        let expected = match client.map(|c| &c.credential) {
            Some(Credential::SecretHash(hash)) => hash,
            _ => &self.decoy,
        };
        let matches: bool = presented.ct_eq(expected).into();
        match client {
            Some(c) if matches && matches!(c.credential, Credential::SecretHash(_)) => Ok(c),
            _ => Err(AuthError::Secret),
        }
    }

    fn authenticate_assertion(
        &self,
        assertion: &str,
        now: i64,
    ) -> Result<(&Client, UnspentAssertion), AuthError> {
        let bad = AuthError::Assertion;
        use AssertionReject as R;
        let segments = oathmesh_core::token::split(assertion).map_err(|_| bad(R::Malformed))?;
        let header = b64::decode(segments.header)
            .and_then(|b| strict_json::parse(&b).ok())
            .ok_or(bad(R::Malformed))?;
        let alg_ok = matches!(
            header.get("alg").and_then(Value::as_str),
            Some("EdDSA" | "Ed25519")
        );
        let typ_ok = header
            .get("typ")
            .and_then(Value::as_str)
            .is_some_and(|t| t.eq_ignore_ascii_case(ASSERTION_TYPE));
        if !alg_ok || !typ_ok || header.get("crit").is_some() {
            return Err(bad(R::Header));
        }
        let claims = b64::decode(segments.payload)
            .and_then(|b| strict_json::parse(&b).ok())
            .ok_or(bad(R::Malformed))?;
        let text = |k: &str| claims.get(k).and_then(Value::as_str);
        let int = |k: &str| claims.get(k).and_then(Value::as_i64);
        let id = text("iss").ok_or(bad(R::Claims))?;
        let client = self.clients.get(id);
        let key = match client.map(|c| &c.credential) {
            Some(Credential::PublicKey(key)) => Some(key),
            _ => None,
        };
        let sig = b64::decode(segments.signature).unwrap_or_default();
        // Always one signature check, against the decoy when there is no real key.
        let verified = signature::verify(
            key.unwrap_or(&self.decoy_key),
            segments.signing_input.as_bytes(),
            &sig,
        );
        let (Some(client), Some(_), true) = (client, key, verified) else {
            return Err(bad(R::UnknownClientOrSignature));
        };
        if text("sub") != Some(id) || text("aud") != Some(self.issuer_url.as_str()) {
            return Err(bad(R::Claims));
        }
        let (Some(iat), Some(exp), Some(jti)) = (int("iat"), int("exp"), text("jti")) else {
            return Err(bad(R::Claims));
        };
        let lifetime = exp.checked_sub(iat);
        if !lifetime.is_some_and(|l| l > 0 && l <= MAX_ASSERTION_LIFETIME_SECS)
            || jti.is_empty()
            || jti.len() > 128
        {
            return Err(bad(R::Lifetime));
        }
        let until = exp.saturating_add(ASSERTION_LEEWAY_SECS);
        if now > until || iat > now.saturating_add(ASSERTION_LEEWAY_SECS) {
            return Err(bad(R::Expired));
        }
        Ok((
            client,
            UnspentAssertion {
                jti: jti.to_owned(),
                until,
            },
        ))
    }

    /// Records a verified assertion's `jti` in `store` (partitioned by client, bounded per
    /// client); a second use is `Replayed`.
    pub fn spend_assertion(
        &self,
        store: &dyn SingleUseStore,
        client: &Client,
        assertion: &UnspentAssertion,
        now: i64,
    ) -> Result<(), AssertionReject> {
        let partition = format!("client:{}", client.config.id);
        match store.record(
            &partition,
            &assertion.jti,
            assertion.until,
            now,
            client.assertion_capacity(),
        ) {
            Ok(ReplayCheck::Fresh) => Ok(()),
            Ok(ReplayCheck::Replayed) => Err(AssertionReject::Replayed),
            Err(e) => {
                tracing::error!(error = %e, client = %client.config.id, "assertion single-use store unavailable");
                Err(AssertionReject::ReplayCacheUnavailable)
            }
        }
    }
}

/// Lower-case hex SHA-256, for writing `secret_sha256` into a config.
pub fn sha256_hex(secret: &str) -> String {
    Sha256::digest(secret.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
