//! Issuance: a validated mint request becomes a signed Oath Token. Signing goes through the
//! [`Signer`] trait so a KMS or HSM can hold the key; [`LocalSigner`] keeps it in memory.

use crate::clock::{Clock, FixedClock, SystemClock};
use crate::error::ConfigError;
use crate::issue::error::MintError;
use crate::keys::{self, Jwk};
use crate::wire::b64;
use crate::wire::claims::{self, MAX_LIFETIME_SECS};
use crate::wire::strict_json;
use crate::wire::token::{self, Claims, Source};
use ed25519_dalek::{Signer as _, SigningKey};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::sync::Arc;

/// TTL used when the caller gives no (or a non-positive) `ttl_hint`.
pub const DEFAULT_TTL_SECS: i64 = 120;

/// Signs token bytes. Implementations must be thread-safe; `sign` may block on a remote KMS.
pub trait Signer: Send + Sync {
    /// The key id placed in the token header.
    fn kid(&self) -> &str;
    /// An Ed25519 signature over `message`.
    fn sign(&self, message: &[u8]) -> Result<[u8; 64], MintError>;
    /// The public key, as published in the issuer's JWKS.
    fn public_jwk(&self) -> Jwk;
}

/// An Ed25519 key held in process memory (zeroed on drop by ed25519-dalek).
pub struct LocalSigner {
    key: SigningKey,
    kid: String,
}

impl LocalSigner {
    /// Uses the RFC 7638 thumbprint as kid unless `kid` is given.
    pub fn new(key: SigningKey, kid: Option<String>) -> Result<Self, ConfigError> {
        let kid = kid.unwrap_or_else(|| keys::thumbprint(&key.verifying_key()));
        if !token::is_valid_kid(&kid) {
            return Err(ConfigError::new(
                "kid: must be 1 to 128 printable ASCII characters",
            ));
        }
        Ok(LocalSigner { key, kid })
    }

    pub fn from_pem(pem: &str, kid: Option<String>) -> Result<Self, ConfigError> {
        LocalSigner::new(keys::signing_key_from_pem(pem)?, kid)
    }
}

impl Signer for LocalSigner {
    fn kid(&self) -> &str {
        &self.kid
    }

    fn sign(&self, message: &[u8]) -> Result<[u8; 64], MintError> {
        Ok(self.key.sign(message).to_bytes())
    }

    fn public_jwk(&self) -> Jwk {
        Jwk::new(&self.key.verifying_key(), &self.kid)
    }
}

/// What a caller asks to be minted. Callers never choose `iat`, `exp` or `jti`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct MintRequest {
    pub sub: String,
    pub aud: String,
    pub act: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl_hint: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rqh: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub src: Option<SourceRequest>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delegated_by: Option<String>,
}

/// `src` as a mint request carries it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SourceRequest {
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repo: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workflow: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha: Option<String>,
}

impl MintRequest {
    /// Parses a mint request from JSON, rejecting duplicate and unknown keys.
    pub fn from_json(bytes: &[u8]) -> Result<MintRequest, MintError> {
        let value = strict_json::parse(bytes).map_err(|e| MintError::InvalidClaim {
            claim: "request",
            message: format!("not valid JSON: {e}"),
        })?;
        serde_json::from_value(value).map_err(|e| MintError::InvalidClaim {
            claim: "request",
            message: e.to_string(),
        })
    }
}

/// A signed token and what the caller needs to use it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MintedToken {
    pub token: String,
    pub expires_in: i64,
    pub token_type: &'static str,
    #[serde(skip)]
    pub jti: String,
    #[serde(skip)]
    pub expires_at: i64,
}

/// Signs Oath Tokens for one issuer URL.
pub struct Issuer {
    issuer: String,
    signer: Arc<dyn Signer>,
    /// The header never changes for a signer, so it is encoded once.
    header_segment: String,
    clock: Arc<dyn Clock>,
}

/// An issuer as bindings configure it: one JSON document.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct IssuerConfigDoc {
    issuer: String,
    #[serde(default)]
    private_key_pem: Option<String>,
    #[serde(default)]
    private_key_file: Option<PathBuf>,
    #[serde(default)]
    kid: Option<String>,
    #[serde(default)]
    testing: Option<IssuerTesting>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct IssuerTesting {
    now: i64,
}

impl Issuer {
    pub fn new(issuer: impl Into<String>, signer: Arc<dyn Signer>) -> Result<Issuer, ConfigError> {
        let issuer = issuer.into();
        if issuer.is_empty() {
            return Err(ConfigError::new("issuer: must be a non-empty URL"));
        }
        Ok(Issuer {
            header_segment: token::encode_header(signer.kid()),
            issuer,
            signer,
            clock: Arc::new(SystemClock),
        })
    }

    /// `{"issuer": URL, "private_key_pem" | "private_key_file": .., "kid"?: ..}`.
    pub fn from_json(bytes: &[u8]) -> Result<Issuer, ConfigError> {
        let value = strict_json::parse(bytes)
            .map_err(|e| ConfigError::new(format!("issuer config: not valid JSON ({e})")))?;
        let doc: IssuerConfigDoc = strict_json::from_value(value)
            .map_err(|e| ConfigError::new(format!("issuer config: {e}")))?;
        let pem = match (doc.private_key_pem, doc.private_key_file) {
            (Some(pem), None) => pem,
            (None, Some(path)) => std::fs::read_to_string(&path).map_err(|e| {
                ConfigError::new(format!(
                    "private_key_file: cannot read {}: {e}",
                    path.display()
                ))
            })?,
            _ => {
                return Err(ConfigError::new(
                    "issuer config: give exactly one of private_key_pem or private_key_file",
                ));
            }
        };
        let mut issuer = Issuer::new(doc.issuer, Arc::new(LocalSigner::from_pem(&pem, doc.kid)?))?;
        if let Some(testing) = doc.testing {
            issuer.clock = Arc::new(FixedClock::at_secs(testing.now));
        }
        Ok(issuer)
    }

    /// Replaces the clock (tests, simulations).
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    pub fn kid(&self) -> &str {
        self.signer.kid()
    }

    pub fn public_jwk(&self) -> Jwk {
        self.signer.public_jwk()
    }

    /// The JWKS document this issuer publishes.
    pub fn jwks_json(&self) -> String {
        keys::jwks_json(&[self.public_jwk()])
    }

    /// `ttl_hint` absent or <= 0: 120 s; otherwise at most 300 s.
    pub fn effective_ttl(ttl_hint: Option<i64>) -> i64 {
        match ttl_hint {
            Some(t) if t > 0 => t.min(MAX_LIFETIME_SECS),
            _ => DEFAULT_TTL_SECS,
        }
    }

    /// Validates the request with the verifier's own rules, then signs.
    pub fn mint(&self, request: &MintRequest) -> Result<MintedToken, MintError> {
        let now = self.clock.now_secs();
        let ttl = Issuer::effective_ttl(request.ttl_hint);
        let jti = new_jti()
            .map_err(|e| MintError::Signer(format!("OS random number generator failed: {e}")))?;
        let claims = Claims {
            iss: Some(self.issuer.clone()),
            sub: Some(request.sub.clone()),
            aud: Some(request.aud.clone()),
            act: Some(request.act.clone()),
            iat: Some(now),
            nbf: Some(now),
            exp: Some(now + ttl),
            jti: Some(jti.clone()),
            scope: request.scope.clone(),
            reason: request.reason.clone(),
            env: request.env.clone(),
            tenant: request.tenant.clone(),
            src: request.src.as_ref().map(|s| Source {
                kind: s.kind.clone(),
                repo: s.repo.clone(),
                workflow: s.workflow.clone(),
                run_id: s.run_id.clone(),
                sha: s.sha.clone(),
            }),
            delegated_by: request.delegated_by.clone(),
            rqh: request.rqh.clone(),
        };
        if let Some(claim) = claims::first_missing(&claims) {
            return Err(MintError::InvalidClaim {
                claim,
                message: format!("`{claim}` is required and must not be empty"),
            });
        }
        claims::check_formats(&claims).map_err(|v| MintError::InvalidClaim {
            claim: v.claim,
            message: v.message.to_owned(),
        })?;
        if claims
            .scope
            .as_ref()
            .is_some_and(|s| s.iter().any(String::is_empty))
        {
            return Err(MintError::InvalidClaim {
                claim: "scope",
                message: "scopes must be non-empty strings".to_owned(),
            });
        }
        let token = self.sign_claims(&claims)?;
        Ok(MintedToken {
            token,
            expires_in: ttl,
            token_type: "OathMesh",
            jti,
            expires_at: now + ttl,
        })
    }

    fn sign_claims(&self, claims: &Claims) -> Result<String, MintError> {
        let payload = token::encode_claims(claims);
        let mut token = String::with_capacity(self.header_segment.len() + payload.len() + 88);
        token.push_str(&self.header_segment);
        token.push('.');
        token.push_str(&payload);
        let signature = self.signer.sign(token.as_bytes())?;
        token.push('.');
        token.push_str(&b64::encode(&signature));
        Ok(token)
    }
}

/// A random UUIDv4 from the OS RNG.
pub fn new_jti() -> Result<String, getrandom::Error> {
    let mut b = [0u8; 16];
    getrandom::getrandom(&mut b)?;
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(36);
    for (i, byte) in b.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            out.push('-');
        }
        out.push(HEX[usize::from(byte >> 4)] as char);
        out.push(HEX[usize::from(byte & 0xf)] as char);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn issuer() -> Issuer {
        let key = keys::generate_key();
        Issuer::new(
            "https://issuer.test",
            Arc::new(LocalSigner::from_pem(&key.private_pem, None).unwrap()),
        )
        .unwrap()
        .with_clock(Arc::new(FixedClock::at_secs(1_000_000)))
    }

    fn request() -> MintRequest {
        MintRequest {
            sub: "svc://billing".into(),
            aud: "https://api".into(),
            act: "read".into(),
            ..MintRequest::default()
        }
    }

    #[test]
    fn ttl_clamping() {
        assert_eq!(Issuer::effective_ttl(None), 120);
        assert_eq!(Issuer::effective_ttl(Some(0)), 120);
        assert_eq!(Issuer::effective_ttl(Some(-5)), 120);
        assert_eq!(Issuer::effective_ttl(Some(30)), 30);
        assert_eq!(Issuer::effective_ttl(Some(300)), 300);
        assert_eq!(Issuer::effective_ttl(Some(301)), 300);
        assert_eq!(Issuer::effective_ttl(Some(i64::MAX)), 300);
    }

    #[test]
    fn mints_times_and_unique_uuid_jtis() {
        let iss = issuer();
        let a = iss
            .mint(&MintRequest {
                ttl_hint: Some(9999),
                ..request()
            })
            .unwrap();
        let b = iss.mint(&request()).unwrap();
        assert_ne!(a.jti, b.jti);
        assert_eq!(a.expires_in, 300);
        assert_eq!(b.expires_in, 120);
        let parts: Vec<_> = a.token.split('.').collect();
        let claims = token::decode_claims(parts[1]).unwrap();
        assert_eq!(claims.iat, Some(1_000_000));
        assert_eq!(claims.nbf, Some(1_000_000));
        assert_eq!(claims.exp, Some(1_000_300));
        let jti = claims.jti.unwrap();
        assert_eq!(jti.len(), 36);
        assert_eq!(&jti[14..15], "4");
        assert!(matches!(&jti[19..20], "8" | "9" | "a" | "b"));
    }

    #[test]
    fn refuses_bad_requests() {
        let iss = issuer();
        let cases = [
            (
                MintRequest {
                    sub: "root://x".into(),
                    ..request()
                },
                "claim_invalid:sub",
            ),
            (
                MintRequest {
                    sub: String::new(),
                    ..request()
                },
                "claim_invalid:sub",
            ),
            (
                MintRequest {
                    act: "two words".into(),
                    ..request()
                },
                "claim_invalid:act",
            ),
            (
                MintRequest {
                    aud: String::new(),
                    ..request()
                },
                "claim_invalid:aud",
            ),
            (
                MintRequest {
                    rqh: Some("sha256:x".into()),
                    ..request()
                },
                "claim_invalid:rqh",
            ),
            (
                MintRequest {
                    delegated_by: Some("svc://x".into()),
                    ..request()
                },
                "claim_invalid:delegated_by",
            ),
            (
                MintRequest {
                    scope: Some(vec![String::new()]),
                    ..request()
                },
                "claim_invalid:scope",
            ),
        ];
        for (req, code) in cases {
            assert_eq!(iss.mint(&req).unwrap_err().code(), code, "{req:?}");
        }
    }

    #[test]
    fn mint_request_json_is_strict() {
        assert!(MintRequest::from_json(br#"{"sub":"svc://a","aud":"a","act":"b"}"#).is_ok());
        assert!(
            MintRequest::from_json(br#"{"sub":"svc://a","aud":"a","act":"b","exp":5}"#).is_err()
        );
        assert!(
            MintRequest::from_json(br#"{"sub":"svc://a","sub":"svc://b","aud":"a","act":"b"}"#)
                .is_err()
        );
        assert!(
            MintRequest::from_json(br#"{"sub":"svc://a","aud":"a","act":"b","ttl_hint":1.5}"#)
                .is_err()
        );
    }

    #[test]
    fn from_json_config() {
        let key = keys::generate_key();
        let doc = serde_json::json!({"issuer": "https://i", "private_key_pem": key.private_pem});
        let iss = Issuer::from_json(doc.to_string().as_bytes()).unwrap();
        assert_eq!(iss.kid(), key.kid);
        let doc = serde_json::json!({"issuer": "https://i"});
        assert!(Issuer::from_json(doc.to_string().as_bytes()).is_err());
        let doc = serde_json::json!({"issuer": "https://i", "private_key_pem": "nope"});
        let err = Issuer::from_json(doc.to_string().as_bytes()).err().unwrap();
        assert!(!err.message().contains("nope"));
    }
}
