//! Issuer throughput on loopback: the server on ONE thread (a current-thread runtime, so it
//! can use at most one core), a bounded number of authenticated mint requests from 32
//! keep-alive connections, and the mints per second that come back. Not a test.
//!
//! `cargo run --release -p oathmesh-issuer --example mint_load -- [requests]`

use base64::Engine;
use oathmesh_issuer::clients::sha256_hex;
use oathmesh_issuer::{IssuerConfig, keyring, state_from_config};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

const CONNECTIONS: usize = 32;
const SECRET: &str = "load-secret-0123456789abcdef0123456789abcdef";

fn main() {
    let requests: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(50_000);
    let dir = tempfile::tempdir().unwrap();
    keyring::rotate(&dir.path().join("keys"), 1).unwrap();
    let config = IssuerConfig::from_toml(&format!(
        "issuer = \"https://issuer.bench\"\nkey_dir = \"{}\"\n[[clients]]\nid = \"load\"\nsecret_sha256 = \"{}\"\nallowed_sub = [\"svc://load\"]\nallowed_aud = [\"https://api.bench\"]\nallowed_act = [\"read\"]\nrate_per_sec = 1e9\nburst = 1e9\n",
        dir.path().join("keys").display(),
        sha256_hex(SECRET)
    ))
    .unwrap();
    let state = state_from_config(config).unwrap();
    let (addr_tx, addr_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            addr_tx.send(listener.local_addr().unwrap()).unwrap();
            oathmesh_issuer::serve(state, listener, None, std::future::pending()).await;
        });
    });
    let addr = addr_rx.recv().unwrap();
    let url = format!("http://{addr}/v1/token");
    let auth = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("load:{SECRET}"))
    );
    let body = r#"{"sub":"svc://load","aud":"https://api.bench","act":"read"}"#;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let done = Arc::new(AtomicUsize::new(0));
    let failed = Arc::new(AtomicUsize::new(0));
    let deadline = Instant::now() + Duration::from_secs(60);
    let started = Instant::now();
    runtime.block_on(async {
        let client = reqwest::Client::builder()
            .pool_max_idle_per_host(CONNECTIONS)
            .build()
            .unwrap();
        let tasks: Vec<_> = (0..CONNECTIONS)
            .map(|_| {
                let (client, url, auth, done, failed) = (
                    client.clone(),
                    url.clone(),
                    auth.clone(),
                    done.clone(),
                    failed.clone(),
                );
                tokio::spawn(async move {
                    while done.fetch_add(1, Ordering::Relaxed) < requests
                        && Instant::now() < deadline
                    {
                        let ok = client
                            .post(&url)
                            .header("authorization", &auth)
                            .header("content-type", "application/json")
                            .body(body)
                            .send()
                            .await
                            .is_ok_and(|r| r.status() == 200);
                        if !ok {
                            failed.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
    });
    let elapsed = started.elapsed().as_secs_f64();
    let sent = done.load(Ordering::Relaxed).min(requests);
    println!(
        "requests: {sent}, failed: {}, seconds: {elapsed:.2}",
        failed.load(Ordering::Relaxed)
    );
    println!(
        "mints/s (server on one thread): {:.0}",
        sent as f64 / elapsed
    );
}
