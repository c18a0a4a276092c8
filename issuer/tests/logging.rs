//! Logs name clients, subjects and token ids, never tokens or secrets. Its own test binary,
//! so the global subscriber sees every log line.

mod common;

use common::*;
use serde_json::json;
use std::io::Write;
use std::sync::{Arc, Mutex};

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn logs_never_contain_tokens_or_secrets() {
    let captured = Captured::default();
    let writer = captured.clone();
    tracing::subscriber::set_global_default(
        tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_max_level(tracing::Level::TRACE)
            .finish(),
    )
    .unwrap();
    let s = start("").await;
    s.mint(json!({"sub": "svc://reporting", "aud": "https://payments.internal", "act": "charge"}))
        .await;
    s.post(
        "/v1/token",
        Some(&basic("checkout", "wrong-secret")),
        &charge().to_string(),
    )
    .await;
    let (_, body) = s.mint(charge()).await;
    let token = body["token"].as_str().unwrap().to_owned();
    s.post(
        "/v1/admin/revoke",
        Some(&format!("Bearer {ADMIN}")),
        &json!({"sub": "svc://other"}).to_string(),
    )
    .await;
    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(logs.contains("minted"), "{logs}");
    assert!(logs.contains("mint outside the client's allow-list"));
    assert!(logs.contains("subject revoked"));
    for secret in [token.as_str(), SECRET, "wrong-secret", ADMIN] {
        assert!(!logs.contains(secret));
    }
    for segment in token.split('.') {
        assert!(!logs.contains(segment));
    }
}
