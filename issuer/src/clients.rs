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
use base64::Engine;
use ed25519_dalek::VerifyingKey;
use oathmesh_core::{
    MemoryReplayCache, ReplayCache, ReplayCheck, b64, glob, keys, signature, strict_json,
};
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
    /// True when this client may mint `sub` for `aud` and `act`.
    pub fn may_mint(&self, sub: &str, aud: &str, act: &str) -> Result<(), &'static str> {
        let allowed =
            |patterns: &[String], value: &str| patterns.iter().any(|p| glob::matches(p, value));
        if !allowed(&self.config.allowed_sub, sub) {
            return Err("sub");
        }
        if !allowed(&self.config.allowed_aud, aud) {
            return Err("aud");
        }
        if !allowed(&self.config.allowed_act, act) {
            return Err("act");
        }
        Ok(())
    }
}

/// All clients, and the memory of assertion ids already used.
pub struct ClientRegistry {
    clients: HashMap<String, Client>,
    issuer_url: String,
    used_assertions: MemoryReplayCache,
    /// Compared against when a client id is unknown, so timing does not reveal which ids exist.
    decoy: [u8; 32],
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
    UnknownClient,
    NoPublicKey,
    Signature,
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
            AssertionReject::UnknownClient => "unknown_client",
            AssertionReject::NoPublicKey => "no_public_key",
            AssertionReject::Signature => "signature",
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
            AssertionReject::UnknownClient => "unknown client",
            AssertionReject::NoPublicKey => "client has no public key",
            AssertionReject::Signature => "assertion signature invalid",
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
            used_assertions: MemoryReplayCache::new(1_000_000),
            decoy: [0u8; 32],
        })
    }

    /// Authenticates a request at `now` (Unix seconds): by its `Authorization` header when it
    /// has one, else by the verified client certificate of its connection.
    pub fn authenticate(
        &self,
        header: Option<&str>,
        certificate: Option<&PeerCertificate>,
        now: i64,
    ) -> Result<&Client, AuthError> {
        let Some(header) = header else {
            return match certificate {
                Some(cert) => self.authenticate_certificate(cert),
                None => Err(AuthError::Missing),
            };
        };
        let (scheme, value) = header.split_once(' ').ok_or(AuthError::Missing)?;
        if scheme.eq_ignore_ascii_case("Basic") {
            self.authenticate_secret(value.trim())
        } else if scheme.eq_ignore_ascii_case("OathMesh-Client") {
            self.authenticate_assertion(value.trim(), now)
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

    fn authenticate_assertion(&self, assertion: &str, now: i64) -> Result<&Client, AuthError> {
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
        let client = self.clients.get(id).ok_or(bad(R::UnknownClient))?;
        let Credential::PublicKey(key) = &client.credential else {
            return Err(bad(R::NoPublicKey));
        };
        let sig = b64::decode(segments.signature).unwrap_or_default();
        if !signature::verify(key, segments.signing_input.as_bytes(), &sig) {
            return Err(bad(R::Signature));
        }
        if text("sub") != Some(id) || text("aud") != Some(self.issuer_url.as_str()) {
            return Err(bad(R::Claims));
        }
        let (Some(iat), Some(exp), Some(jti)) = (int("iat"), int("exp"), text("jti")) else {
            return Err(bad(R::Claims));
        };
        if exp <= iat
            || exp - iat > MAX_ASSERTION_LIFETIME_SECS
            || jti.is_empty()
            || jti.len() > 128
        {
            return Err(bad(R::Lifetime));
        }
        if now > exp + ASSERTION_LEEWAY_SECS || iat > now + ASSERTION_LEEWAY_SECS {
            return Err(bad(R::Expired));
        }
        let scoped_jti = format!("{id}\u{0}{jti}");
        match self
            .used_assertions
            .check_and_record(&scoped_jti, exp + ASSERTION_LEEWAY_SECS, now)
        {
            Ok(ReplayCheck::Fresh) => Ok(client),
            Ok(ReplayCheck::Replayed) => Err(bad(R::Replayed)),
            Err(_) => Err(bad(R::ReplayCacheUnavailable)),
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
