//! Ed25519 keys (PROTOCOL §3): PKCS#8/SPKI PEM, JWKs, RFC 7638 thumbprints, static key sets.

use crate::error::ConfigError;
use crate::wire::b64;
use crate::wire::strict_json;
use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;
use ed25519_dalek::pkcs8::{
    DecodePrivateKey, DecodePublicKey, EncodePrivateKey, EncodePublicKey, KeypairBytes,
};
use ed25519_dalek::{SigningKey, VerifyingKey};
use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::collections::HashMap;

/// The RFC 7638 thumbprint of an Ed25519 public key: base64url(SHA-256 of the canonical JWK
/// `{"crv":"Ed25519","kty":"OKP","x":...}`). Deterministic, so every replica that loads the
/// same key advertises the same `kid`.
pub fn thumbprint(key: &VerifyingKey) -> String {
    let canonical = format!(
        r#"{{"crv":"Ed25519","kty":"OKP","x":"{}"}}"#,
        b64::encode(key.as_bytes())
    );
    b64::encode(&Sha256::digest(canonical.as_bytes()))
}

/// A public key as published in a JWKS.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Jwk {
    pub kty: &'static str,
    pub crv: &'static str,
    pub alg: &'static str,
    #[serde(rename = "use")]
    pub use_: &'static str,
    pub kid: String,
    pub x: String,
}

impl Jwk {
    pub fn new(key: &VerifyingKey, kid: &str) -> Jwk {
        Jwk {
            kty: "OKP",
            crv: "Ed25519",
            alg: "EdDSA",
            use_: "sig",
            kid: kid.to_owned(),
            x: b64::encode(key.as_bytes()),
        }
    }
}

/// Serializes `{"keys":[...]}`.
pub fn jwks_json(keys: &[Jwk]) -> String {
    #[derive(Serialize)]
    struct Doc<'a> {
        keys: &'a [Jwk],
    }
    serde_json::to_string_pretty(&Doc { keys }).expect("jwks serializes")
}

/// Parses a PKCS#8 PEM Ed25519 private key (what `openssl genpkey -algorithm Ed25519` writes).
pub fn signing_key_from_pem(pem: &str) -> Result<SigningKey, ConfigError> {
    SigningKey::from_pkcs8_pem(pem.trim()).map_err(|_| {
        ConfigError::new("private key: not a PKCS#8 PEM Ed25519 private key (BEGIN PRIVATE KEY)")
    })
}

/// Parses an SPKI PEM Ed25519 public key.
pub fn verifying_key_from_pem(pem: &str) -> Result<VerifyingKey, ConfigError> {
    VerifyingKey::from_public_key_pem(pem.trim()).map_err(|_| {
        ConfigError::new("public key: not an SPKI PEM Ed25519 public key (BEGIN PUBLIC KEY)")
    })
}

/// A fresh key pair in the forms operators store and publish.
pub struct GeneratedKey {
    /// PKCS#8 PEM; write it with mode 0600.
    pub private_pem: String,
    /// SPKI PEM.
    pub public_pem: String,
    /// The RFC 7638 thumbprint.
    pub kid: String,
    pub jwk: Jwk,
}

impl std::fmt::Debug for GeneratedKey {
    // Never print the private key, even in a debug log.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GeneratedKey")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

/// Generates an Ed25519 key from the operating system's RNG.
pub fn generate_key() -> GeneratedKey {
    let key = SigningKey::generate(&mut rand_core::OsRng);
    describe_key(&key)
}

/// The PEM, kid and JWK forms of an existing key.
pub fn describe_key(key: &SigningKey) -> GeneratedKey {
    let public = key.verifying_key();
    let kid = thumbprint(&public);
    GeneratedKey {
        // PKCS#8 v1 (RFC 8410 OneAsymmetricKey without the optional public key), exactly
        // what `openssl genpkey` writes: OpenSSL 3.0 and Node's crypto refuse the v2 form.
        private_pem: KeypairBytes {
            secret_key: key.to_bytes(),
            public_key: None,
        }
        .to_pkcs8_pem(LineEnding::LF)
        .expect("ed25519 key encodes")
        .to_string(),
        public_pem: public
            .to_public_key_pem(LineEnding::LF)
            .expect("ed25519 key encodes"),
        jwk: Jwk::new(&public, &kid),
        kid,
    }
}

/// What a JWK's `alg` member allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JwkAlg {
    /// Absent: usable with either EdDSA name.
    Unspecified,
    /// `EdDSA` or `Ed25519`.
    Ed25519,
    /// Any other value: the key may not be used (step 06, `algorithm_not_allowed`).
    Other,
}

/// A usable verification key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PublicKey {
    pub key: VerifyingKey,
    pub alg: JwkAlg,
}

/// The keys of one issuer, by kid. Parsed once.
#[derive(Debug, Clone, Default)]
pub struct KeySet {
    keys: HashMap<String, PublicKey>,
}

/// The largest JWKS document accepted, from a file or the network.
pub const MAX_JWKS_BYTES: usize = 64 * 1024;

impl KeySet {
    pub fn get(&self, kid: &str) -> Option<PublicKey> {
        self.keys.get(kid).copied()
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    pub fn kids(&self) -> impl Iterator<Item = &str> {
        self.keys.keys().map(String::as_str)
    }

    /// Adds a key under `kid` (its thumbprint when `None`).
    pub fn insert(&mut self, key: VerifyingKey, kid: Option<&str>) {
        let kid = kid.map_or_else(|| thumbprint(&key), str::to_owned);
        self.keys.insert(
            kid,
            PublicKey {
                key,
                alg: JwkAlg::Ed25519,
            },
        );
    }

    /// Parses a JWKS document. Keys that are not OKP/Ed25519 with a 32-byte `x` are skipped
    /// (a JWKS may carry RSA keys for other consumers); a document that is not a JWKS at all,
    /// or has a duplicate kid, is an error.
    pub fn from_jwks_json(bytes: &[u8]) -> Result<KeySet, ConfigError> {
        if bytes.len() > MAX_JWKS_BYTES {
            return Err(ConfigError::new("jwks: document larger than 64 KiB"));
        }
        let doc = strict_json::parse(bytes)
            .map_err(|e| ConfigError::new(format!("jwks: not valid JSON ({e})")))?;
        KeySet::from_jwks_value(&doc)
    }

    pub fn from_jwks_value(doc: &Value) -> Result<KeySet, ConfigError> {
        let Some(keys) = doc.get("keys").and_then(Value::as_array) else {
            return Err(ConfigError::new(
                "jwks: expected an object with a `keys` array",
            ));
        };
        let mut set = KeySet::default();
        for jwk in keys {
            let Some((kid, key)) = parse_jwk(jwk) else {
                continue;
            };
            if set.keys.contains_key(&kid) {
                return Err(ConfigError::new(format!("jwks: duplicate kid {kid:?}")));
            }
            set.keys.insert(kid, key);
        }
        Ok(set)
    }

    /// Parses one or more concatenated SPKI PEM public keys; each kid is the key's thumbprint.
    pub fn from_public_pems(pems: &[String]) -> Result<KeySet, ConfigError> {
        let mut set = KeySet::default();
        for pem in pems {
            for block in split_pem_blocks(pem) {
                set.insert(verifying_key_from_pem(block)?, None);
            }
        }
        Ok(set)
    }
}

fn split_pem_blocks(text: &str) -> Vec<&str> {
    const END: &str = "-----END PUBLIC KEY-----";
    let mut blocks = Vec::new();
    let mut rest = text;
    while let Some(end) = rest.find(END) {
        blocks.push(rest[..end + END.len()].trim());
        rest = &rest[end + END.len()..];
    }
    if blocks.is_empty() {
        blocks.push(text.trim());
    }
    blocks
}

fn parse_jwk(jwk: &Value) -> Option<(String, PublicKey)> {
    let field = |name| jwk.get(name).and_then(Value::as_str);
    if field("kty")? != "OKP" || field("crv")? != "Ed25519" {
        return None;
    }
    let x: [u8; 32] = b64::decode(field("x")?)?.try_into().ok()?;
    let key = VerifyingKey::from_bytes(&x).ok()?;
    let alg = match jwk.get("alg") {
        None => JwkAlg::Unspecified,
        Some(Value::String(a)) if a == "EdDSA" || a == "Ed25519" => JwkAlg::Ed25519,
        Some(_) => JwkAlg::Other,
    };
    let kid = match jwk.get("kid") {
        Some(Value::String(kid)) if crate::wire::token::is_valid_kid(kid) => kid.clone(),
        Some(_) => return None,
        None => thumbprint(&key),
    };
    Some((kid, PublicKey { key, alg }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thumbprint_matches_rfc8037_example() {
        // RFC 8037 Appendix A.3: the thumbprint of the example Ed25519 key.
        let x = b64::decode("11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo").unwrap();
        let key = VerifyingKey::from_bytes(&x.try_into().unwrap()).unwrap();
        assert_eq!(
            thumbprint(&key),
            "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"
        );
    }

    #[test]
    fn pem_round_trip_and_kid() {
        let generated = generate_key();
        let key = signing_key_from_pem(&generated.private_pem).unwrap();
        assert_eq!(thumbprint(&key.verifying_key()), generated.kid);
        let public = verifying_key_from_pem(&generated.public_pem).unwrap();
        assert_eq!(public, key.verifying_key());
        assert!(!format!("{generated:?}").contains("PRIVATE"));
        assert!(
            signing_key_from_pem("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----")
                .is_err()
        );
    }

    #[test]
    fn generated_pem_is_pkcs8_v1_like_openssl() {
        // v1 with an Ed25519 key is always 48 DER bytes: 30 2e 02 01 00 ...
        let pem = generate_key().private_pem;
        let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
        assert!(body.starts_with("MC4CAQAw"), "{body}");
    }

    #[test]
    fn openssl_style_pem_loads() {
        // Written by `openssl genpkey -algorithm Ed25519` (RFC 8410 §10.3 example key).
        let pem = "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEINTuctv5E1hK1bbY8fdp+K06/nwoy/HU++CXqI9EdVhC\n-----END PRIVATE KEY-----\n";
        assert!(signing_key_from_pem(pem).is_ok());
    }

    #[test]
    fn jwks_parsing_skips_foreign_keys() {
        let a = generate_key();
        let doc = format!(
            r#"{{"keys":[{},{{"kty":"RSA","n":"x","e":"AQAB","kid":"rsa"}},{{"kty":"OKP","crv":"Ed25519","x":"short","kid":"bad"}},{{"kty":"OKP","crv":"Ed25519","x":"{}","kid":"weird","alg":"RS256"}}]}}"#,
            serde_json::to_string(&a.jwk).unwrap(),
            a.jwk.x
        );
        let set = KeySet::from_jwks_json(doc.as_bytes()).unwrap();
        assert_eq!(set.len(), 2);
        assert_eq!(set.get(&a.kid).unwrap().alg, JwkAlg::Ed25519);
        assert_eq!(set.get("weird").unwrap().alg, JwkAlg::Other);
        assert!(set.get("rsa").is_none());
    }

    #[test]
    fn jwks_errors() {
        assert!(KeySet::from_jwks_json(b"[]").is_err());
        assert!(KeySet::from_jwks_json(br#"{"keys":[],"keys":[]}"#).is_err());
        assert!(KeySet::from_jwks_json(&vec![b' '; MAX_JWKS_BYTES + 1]).is_err());
        let a = generate_key();
        let jwk = serde_json::to_string(&a.jwk).unwrap();
        let dup = format!(r#"{{"keys":[{jwk},{jwk}]}}"#);
        assert!(KeySet::from_jwks_json(dup.as_bytes()).is_err());
    }

    #[test]
    fn pem_sets() {
        let a = generate_key();
        let b = generate_key();
        let set =
            KeySet::from_public_pems(&[format!("{}\n{}", a.public_pem, b.public_pem)]).unwrap();
        assert_eq!(set.len(), 2);
        assert!(set.get(&a.kid).is_some() && set.get(&b.kid).is_some());
    }
}
