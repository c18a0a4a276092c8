//! Who is calling the issuer. Each client authenticates with its own credential, never a
//! shared secret:
//! - a secret, sent as HTTP Basic `id:secret`, stored only as its SHA-256 and compared in
//!   constant time;
//! - or an Ed25519 key: the client sends `Authorization: OathMesh-Client <assertion>`, a
//!   compact JWS (`typ: om-client+jwt`) with `iss = sub = client id`, `aud = issuer URL`,
//!   a lifetime of at most 60 s and a single-use `jti` (RFC 7523 style).

use crate::config::ClientConfig;
use base64::Engine;
use ed25519_dalek::VerifyingKey;
use oathmesh_core::{
    MemoryReplayCache, ReplayCache, ReplayCheck, b64, glob, keys, signature, strict_json,
};
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
#[derive(Debug, PartialEq, Eq)]
pub enum AuthError {
    /// No usable credential in the request.
    Missing,
    /// Unknown client, wrong secret, bad or replayed assertion.
    Invalid(&'static str),
}

fn hex_decode32(hex: &str) -> Option<[u8; 32]> {
    let bytes: Vec<u8> = (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok())
        .collect::<Option<_>>()?;
    bytes.try_into().ok()
}

impl ClientRegistry {
    pub fn new(configs: &[ClientConfig], issuer_url: &str) -> Result<ClientRegistry, String> {
        let mut clients = HashMap::new();
        for config in configs {
            let credential = match (&config.secret_sha256, &config.public_key_pem) {
                (Some(hash), _) => Credential::SecretHash(
                    hex_decode32(hash)
                        .ok_or_else(|| format!("client {}: bad secret_sha256", config.id))?,
                ),
                (None, Some(pem)) => Credential::PublicKey(
                    keys::verifying_key_from_pem(pem)
                        .map_err(|e| format!("client {}: {e}", config.id))?,
                ),
                (None, None) => return Err(format!("client {}: no credential", config.id)),
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

    /// Authenticates the `Authorization` header value at `now` (Unix seconds).
    pub fn authenticate(&self, header: Option<&str>, now: i64) -> Result<&Client, AuthError> {
        let header = header.ok_or(AuthError::Missing)?;
        let (scheme, value) = header.split_once(' ').ok_or(AuthError::Missing)?;
        if scheme.eq_ignore_ascii_case("Basic") {
            self.authenticate_secret(value.trim())
        } else if scheme.eq_ignore_ascii_case("OathMesh-Client") {
            self.authenticate_assertion(value.trim(), now)
        } else {
            Err(AuthError::Missing)
        }
    }

    fn authenticate_secret(&self, value: &str) -> Result<&Client, AuthError> {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(value)
            .map_err(|_| AuthError::Invalid("malformed Basic credential"))?;
        let decoded = String::from_utf8(decoded)
            .map_err(|_| AuthError::Invalid("malformed Basic credential"))?;
        let (id, secret) = decoded
            .split_once(':')
            .ok_or(AuthError::Invalid("malformed Basic credential"))?;
        let presented: [u8; 32] = Sha256::digest(secret.as_bytes()).into();
        let client = self.clients.get(id);
        let expected = match client.map(|c| &c.credential) {
            Some(Credential::SecretHash(hash)) => hash,
            _ => &self.decoy,
        };
        let matches: bool = presented.ct_eq(expected).into();
        match client {
            Some(c) if matches && matches!(c.credential, Credential::SecretHash(_)) => Ok(c),
            _ => Err(AuthError::Invalid("unknown client or wrong secret")),
        }
    }

    fn authenticate_assertion(&self, assertion: &str, now: i64) -> Result<&Client, AuthError> {
        let bad = |why| AuthError::Invalid(why);
        let segments =
            oathmesh_core::token::split(assertion).map_err(|_| bad("malformed assertion"))?;
        let header = b64::decode(segments.header)
            .and_then(|b| strict_json::parse(&b).ok())
            .ok_or(bad("malformed assertion header"))?;
        let alg_ok = matches!(
            header.get("alg").and_then(Value::as_str),
            Some("EdDSA" | "Ed25519")
        );
        let typ_ok = header
            .get("typ")
            .and_then(Value::as_str)
            .is_some_and(|t| t.eq_ignore_ascii_case(ASSERTION_TYPE));
        if !alg_ok || !typ_ok || header.get("crit").is_some() {
            return Err(bad("assertion header must be alg EdDSA, typ om-client+jwt"));
        }
        let claims = b64::decode(segments.payload)
            .and_then(|b| strict_json::parse(&b).ok())
            .ok_or(bad("malformed assertion claims"))?;
        let text = |k: &str| claims.get(k).and_then(Value::as_str);
        let int = |k: &str| claims.get(k).and_then(Value::as_i64);
        let id = text("iss").ok_or(bad("assertion has no iss"))?;
        let client = self.clients.get(id).ok_or(bad("unknown client"))?;
        let Credential::PublicKey(key) = &client.credential else {
            return Err(bad("client has no public key"));
        };
        let sig = b64::decode(segments.signature).unwrap_or_default();
        if !signature::verify(key, segments.signing_input.as_bytes(), &sig) {
            return Err(bad("assertion signature invalid"));
        }
        if text("sub") != Some(id) || text("aud") != Some(self.issuer_url.as_str()) {
            return Err(bad("assertion sub must equal iss, aud the issuer URL"));
        }
        let (Some(iat), Some(exp), Some(jti)) = (int("iat"), int("exp"), text("jti")) else {
            return Err(bad("assertion needs iat, exp and jti"));
        };
        if exp <= iat
            || exp - iat > MAX_ASSERTION_LIFETIME_SECS
            || jti.is_empty()
            || jti.len() > 128
        {
            return Err(bad("assertion lifetime or jti out of bounds"));
        }
        if now > exp + ASSERTION_LEEWAY_SECS || iat > now + ASSERTION_LEEWAY_SECS {
            return Err(bad("assertion expired or not yet valid"));
        }
        let scoped_jti = format!("{id}\u{0}{jti}");
        match self
            .used_assertions
            .check_and_record(&scoped_jti, exp + ASSERTION_LEEWAY_SECS, now)
        {
            Ok(ReplayCheck::Fresh) => Ok(client),
            Ok(ReplayCheck::Replayed) => Err(bad("assertion already used")),
            Err(_) => Err(bad("assertion replay cache unavailable")),
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
