//! Starting a real issuer on loopback for the integration tests.
#![allow(dead_code)]

use base64::Engine;
use oathmesh_core::{Verifier, keys};
use oathmesh_issuer::clients::sha256_hex;
use oathmesh_issuer::{IssuerConfig, keyring, state_from_config};
use serde_json::{Value, json};
use std::sync::Arc;

pub const ISSUER: &str = "https://issuer.test";
pub const SECRET: &str = "checkout-secret-0123456789abcdef0123456789abcdef";
pub const ADMIN: &str = "admin-token-0123456789abcdef0123456789abcdef";

pub struct Server {
    pub base: String,
    pub state: Arc<oathmesh_issuer::AppState>,
    pub dir: tempfile::TempDir,
    pub client_key: ed25519_dalek::SigningKey,
    pub http: reqwest::Client,
}

pub async fn start(extra_client_toml: &str) -> Server {
    start_with("", extra_client_toml).await
}

/// `top_level_toml` goes before the first `[[clients]]` table.
pub async fn start_with(top_level_toml: &str, extra_client_toml: &str) -> Server {
    let dir = tempfile::tempdir().unwrap();
    keyring::rotate(&dir.path().join("keys"), 1_000).unwrap();
    let client_key = keys::signing_key_from_pem(&keys::generate_key().private_pem).unwrap();
    let public_pem = keys::describe_key(&client_key).public_pem;
    let toml = format!(
        r#"
issuer = "{ISSUER}"
key_dir = "{keys}"
admin_token_sha256 = "{admin}"
key_poll_secs = 1
{top_level_toml}

[[clients]]
id = "checkout"
secret_sha256 = "{secret}"
allowed_sub = ["svc://checkout"]
allowed_aud = ["https://*.internal"]
allowed_act = ["charge", "refund"]
allowed_scope = ["payments:*"]
allowed_env = ["staging"]
allowed_tenant = ["acme"]
allowed_delegated_by = ["user://finance/*"]

[[clients]]
id = "reporting"
public_key_pem = """{public_pem}"""
allowed_sub = ["svc://reporting"]
allowed_aud = ["https://ledger.internal"]
allowed_act = ["read"]
{extra_client_toml}
"#,
        keys = dir.path().join("keys").display(),
        admin = sha256_hex(ADMIN),
        secret = sha256_hex(SECRET),
    );
    let config = IssuerConfig::from_toml(&toml).unwrap();
    let state = state_from_config(config).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(oathmesh_issuer::serve(
        state.clone(),
        listener,
        None,
        std::future::pending(),
    ));
    Server {
        base,
        state,
        dir,
        client_key,
        http: reqwest::Client::new(),
    }
}

pub fn basic(id: &str, secret: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{id}:{secret}"))
    )
}

impl Server {
    pub async fn post(&self, path: &str, auth: Option<&str>, body: &str) -> (u16, Value) {
        let mut req = self
            .http
            .post(format!("{}{path}", self.base))
            .header("content-type", "application/json")
            .body(body.to_owned());
        if let Some(a) = auth {
            req = req.header("authorization", a);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    pub async fn mint(&self, body: Value) -> (u16, Value) {
        self.post(
            "/v1/token",
            Some(&basic("checkout", SECRET)),
            &body.to_string(),
        )
        .await
    }

    pub async fn get(&self, path: &str) -> (u16, String) {
        let resp = self
            .http
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .unwrap();
        (resp.status().as_u16(), resp.text().await.unwrap())
    }

    pub async fn verifier(&self, audience: &str) -> Verifier {
        let (_, jwks) = self.get("/.well-known/jwks.json").await;
        let config = json!({"audience": audience, "trusted_issuers": [ISSUER], "jwks": serde_json::from_str::<Value>(&jwks).unwrap()});
        Verifier::from_json(config.to_string().as_bytes()).unwrap()
    }
}

pub fn charge() -> Value {
    json!({"sub": "svc://checkout", "aud": "https://payments.internal", "act": "charge"})
}
