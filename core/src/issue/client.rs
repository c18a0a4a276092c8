//! An HTTP client for the issuer (PROTOCOL §9): authenticates with its own client secret or
//! Ed25519 key and mints **one token per request** (tokens are single-use, so it never
//! caches or reuses one). It can bind a token to the request it is about to send.
//!
//! Blocking by design (a mint is one short HTTP call); bindings wrap it for their async
//! runtimes (a thread in Python and Node, a goroutine in Go).

use crate::clock::{Clock, SystemClock};
use crate::error::ConfigError;
use crate::issue::client_assertion::sign_assertion;
use crate::issue::issuer::{MintRequest, new_jti};
use crate::keys;
use crate::wire::canonical_request::canonical_request_hash;
use crate::wire::strict_json;
use base64::Engine;
use ed25519_dalek::SigningKey;
use serde::Deserialize;
use std::time::Duration;

/// How a client proves who it is.
enum Credential {
    Secret { id: String, secret: String },
    Key { id: String, key: SigningKey },
}

/// Talks to one issuer.
pub struct IssuerClient {
    token_url: String,
    issuer_url: String,
    credential: Credential,
    agent: ureq::Agent,
}

/// `{"issuer_url", "client_id", "client_secret" | "client_key_pem", "timeout_ms"?, "token_url"?}`
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ClientConfigDoc {
    issuer_url: String,
    client_id: String,
    #[serde(default)]
    client_secret: Option<String>,
    #[serde(default)]
    client_key_pem: Option<String>,
    #[serde(default)]
    timeout_ms: Option<u64>,
    /// Where the issuer is reached when it differs from its `iss` URL (a sidecar, a test).
    #[serde(default)]
    token_url: Option<String>,
}

/// A mint that did not produce a token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code} ({status}): {message}")]
pub struct ClientError {
    /// The issuer's error code (`mint_denied`, `invalid_client`, `rate_limited`, ...), or
    /// `issuer_unavailable` when it could not be reached.
    pub code: String,
    /// The HTTP status, or 503 when the issuer could not be reached.
    pub status: u16,
    pub message: String,
    pub fix: String,
}

impl ClientError {
    fn unavailable(message: String) -> Self {
        ClientError {
            code: "issuer_unavailable".to_owned(),
            status: 503,
            message,
            fix: "Check that the issuer is running and reachable, then retry.".to_owned(),
        }
    }
}

/// A minted token.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ClientToken {
    pub token: String,
    pub expires_in: i64,
    pub token_type: String,
}

impl ClientToken {
    /// The `Authorization` header value to send.
    pub fn authorization(&self) -> String {
        format!("OathMesh {}", self.token)
    }
}

impl IssuerClient {
    pub fn from_json(bytes: &[u8]) -> Result<IssuerClient, ConfigError> {
        let value = strict_json::parse(bytes)
            .map_err(|e| ConfigError::new(format!("client config: not valid JSON ({e})")))?;
        let doc: ClientConfigDoc = strict_json::from_value(value)
            .map_err(|e| ConfigError::new(format!("client config: {e}")))?;
        let credential = match (doc.client_secret, doc.client_key_pem) {
            (Some(secret), None) => Credential::Secret {
                id: doc.client_id,
                secret,
            },
            (None, Some(pem)) => Credential::Key {
                id: doc.client_id,
                key: keys::signing_key_from_pem(&pem)?,
            },
            _ => {
                return Err(ConfigError::new(
                    "client config: give exactly one of client_secret and client_key_pem",
                ));
            }
        };
        let base = doc
            .token_url
            .unwrap_or_else(|| doc.issuer_url.trim_end_matches('/').to_owned());
        if !(base.starts_with("https://") || base.starts_with("http://")) {
            return Err(ConfigError::new(
                "client config: issuer_url must be an http(s) URL",
            ));
        }
        let timeout = Duration::from_millis(doc.timeout_ms.unwrap_or(5_000));
        let agent = ureq::Agent::new_with_config(
            ureq::Agent::config_builder()
                .timeout_global(Some(timeout))
                .http_status_as_error(false)
                .max_redirects(0)
                .build(),
        );
        Ok(IssuerClient {
            token_url: format!("{}/v1/token", base.trim_end_matches('/')),
            issuer_url: doc.issuer_url,
            credential,
            agent,
        })
    }

    fn authorization(&self) -> String {
        match &self.credential {
            Credential::Secret { id, secret } => format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(format!("{id}:{secret}"))
            ),
            Credential::Key { id, key } => {
                // A fresh assertion per call: the issuer accepts each jti once.
                let jti = new_jti().unwrap_or_default();
                format!(
                    "OathMesh-Client {}",
                    sign_assertion(key, id, &self.issuer_url, SystemClock.now_secs(), &jti)
                )
            }
        }
    }

    /// Mints one token.
    pub fn mint(&self, request: &MintRequest) -> Result<ClientToken, ClientError> {
        let body = serde_json::to_vec(request).expect("mint request serializes");
        let response = self
            .agent
            .post(&self.token_url)
            .header("content-type", "application/json")
            .header("authorization", &self.authorization())
            .send(&body[..])
            .map_err(|e| {
                ClientError::unavailable(format!("POST {} failed: {e}", self.token_url))
            })?;
        let status = response.status().as_u16();
        let bytes = response
            .into_body()
            .with_config()
            .limit(64 * 1024)
            .read_to_vec()
            .map_err(|e| {
                ClientError::unavailable(format!("reading the issuer's answer failed: {e}"))
            })?;
        if status == 200 {
            return serde_json::from_slice(&bytes).map_err(|e| {
                ClientError::unavailable(format!("the issuer's answer is not a token: {e}"))
            });
        }
        let doc: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
        let text = |k: &str| {
            doc.get(k)
                .and_then(|v| v.as_str())
                .unwrap_or_default()
                .to_owned()
        };
        Err(ClientError {
            code: if doc.get("error").is_some() {
                text("error")
            } else {
                format!("http_{status}")
            },
            status,
            message: text("message"),
            fix: text("fix"),
        })
    }

    /// Mints one token bound to the request about to be sent (`rqh`).
    pub fn mint_for_request(
        &self,
        request: &MintRequest,
        method: &str,
        path_and_query: &str,
        body: &[u8],
    ) -> Result<ClientToken, ClientError> {
        let mut bound = request.clone();
        bound.rqh = Some(canonical_request_hash(method, path_and_query, body));
        self.mint(&bound)
    }
}
