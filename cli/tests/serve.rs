//! `oathmesh serve` and `oathmesh keys rotate` as processes: the issuer answers on loopback
//! and mints a token that `oathmesh verify` accepts with the JWKS the issuer serves.

mod support;

use support::{Killed, free_port};

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn http(port: u16, request: &str) -> Option<(u16, String)> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    stream.write_all(request.as_bytes()).ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    let status = response.split_whitespace().nth(1)?.parse().ok()?;
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    Some((status, body))
}

#[test]
fn serve_mints_tokens_that_verify() {
    let bin = env!("CARGO_BIN_EXE_oathmesh");
    let dir = tempfile::tempdir().unwrap();
    let keys = dir.path().join("keys");
    let out = Command::new(bin)
        .args(["keys", "rotate", "--dir", keys.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(out.status.success());
    let port = free_port();
    // sha256("s3cret-s3cret-s3cret-s3cret-s3cret")
    let secret = "s3cret-s3cret-s3cret-s3cret-s3cret";
    let hash = {
        use std::fmt::Write as _;
        let digest = <sha2::Sha256 as sha2::Digest>::digest(secret.as_bytes());
        digest.iter().fold(String::new(), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
    };
    std::fs::write(
        dir.path().join("issuer.toml"),
        format!(
            "issuer = \"https://issuer.test\"\nlisten = \"127.0.0.1:{port}\"\nkey_dir = \"keys\"\n\n[[clients]]\nid = \"app\"\nsecret_sha256 = \"{hash}\"\nallowed_sub = [\"svc://app\"]\nallowed_aud = [\"https://api.test\"]\nallowed_act = [\"read\"]\n"
        ),
    )
    .unwrap();
    let _server = Killed(
        Command::new(bin)
            .args([
                "serve",
                "--config",
                dir.path().join("issuer.toml").to_str().unwrap(),
            ])
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let started = Instant::now();
    while http(
        port,
        "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .is_none()
    {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "issuer did not start"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let body = r#"{"sub":"svc://app","aud":"https://api.test","act":"read"}"#;
    let basic = "YXBwOnMzY3JldC1zM2NyZXQtczNjcmV0LXMzY3JldC1zM2NyZXQ="; // app:secret
    let (status, minted) = http(
        port,
        &format!("POST /v1/token HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: Basic {basic}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}", body.len()),
    )
    .unwrap();
    assert_eq!(status, 200, "{minted}");
    let token = serde_json::from_str::<serde_json::Value>(&minted).unwrap()["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let (_, jwks) = http(
        port,
        "GET /.well-known/jwks.json HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("jwks.json"), jwks).unwrap();
    client_sdk_mints_one_token_per_call(port, secret, dir.path());
    let token_cmd = |sub: &str| {
        Command::new(bin)
            .env("DEMO_SECRET", secret)
            .args([
                "token",
                "--issuer",
                "https://issuer.test",
                "--token-url",
                &format!("http://127.0.0.1:{port}"),
                "--client-id",
                "app",
                "--client-secret-env",
                "DEMO_SECRET",
                "--sub",
                sub,
                "--aud",
                "https://api.test",
                "--act",
                "read",
            ])
            .output()
            .unwrap()
    };
    let ok = token_cmd("svc://app");
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&ok.stdout)
            .trim()
            .split('.')
            .count(),
        3
    );
    let denied = token_cmd("svc://other");
    assert_eq!(denied.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&denied.stderr).contains("mint_denied"));
    let verify = Command::new(bin)
        .args([
            "verify",
            "--jwks",
            dir.path().join("jwks.json").to_str().unwrap(),
            "--iss",
            "https://issuer.test",
            "--aud",
            "https://api.test",
            &token,
        ])
        .output()
        .unwrap();
    assert!(
        verify.status.success(),
        "{}",
        String::from_utf8_lossy(&verify.stderr)
    );
}

/// The core's issuer client against the real server: secret auth, one token per call,
/// request binding, and typed errors.
fn client_sdk_mints_one_token_per_call(port: u16, secret: &str, dir: &std::path::Path) {
    use oathmesh_core::client::IssuerClient;
    use oathmesh_core::{MintRequest, RequestParts, Verifier, VerifyContext};
    let config = serde_json::json!({
        "issuer_url": "https://issuer.test",
        "token_url": format!("http://127.0.0.1:{port}"),
        "client_id": "app",
        "client_secret": secret,
    });
    let client = IssuerClient::from_json(config.to_string().as_bytes()).unwrap();
    let request = MintRequest {
        sub: "svc://app".into(),
        aud: "https://api.test".into(),
        act: "read".into(),
        ..Default::default()
    };
    let a = client.mint(&request).unwrap();
    let b = client.mint(&request).unwrap();
    assert_ne!(a.token, b.token, "never reuses a token");
    assert!(a.authorization().starts_with("OathMesh "));
    let bound = client
        .mint_for_request(&request, "POST", "/items?x=1", b"{}")
        .unwrap();
    let (_, jwks) = http(
        port,
        "GET /.well-known/jwks.json HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .unwrap();
    let verifier = Verifier::from_json(
        serde_json::json!({"audience": "https://api.test", "trusted_issuers": ["https://issuer.test"], "jwks": serde_json::from_str::<serde_json::Value>(&jwks).unwrap()})
            .to_string()
            .as_bytes(),
    )
    .unwrap();
    let ctx = VerifyContext {
        request: Some(RequestParts {
            method: "POST",
            path_and_query: "/items?x=1",
            body: b"{}",
        }),
        ..Default::default()
    };
    verifier.verify(&bound.token, &ctx).unwrap();
    let denied = client
        .mint(&MintRequest {
            sub: "svc://other".into(),
            ..request.clone()
        })
        .unwrap_err();
    assert_eq!((denied.code.as_str(), denied.status), ("mint_denied", 403));
    assert!(!denied.fix.is_empty());
    let wrong = IssuerClient::from_json(serde_json::json!({"issuer_url": "https://issuer.test", "token_url": format!("http://127.0.0.1:{port}"), "client_id": "app", "client_secret": "nope"}).to_string().as_bytes()).unwrap();
    assert_eq!(wrong.mint(&request).unwrap_err().code, "invalid_client");
    let down = IssuerClient::from_json(serde_json::json!({"issuer_url": "http://127.0.0.1:9", "client_id": "app", "client_secret": secret, "timeout_ms": 500}).to_string().as_bytes()).unwrap();
    let err = down.mint(&request).unwrap_err();
    assert_eq!((err.code.as_str(), err.status), ("issuer_unavailable", 503));
    assert!(IssuerClient::from_json(br#"{"issuer_url":"x","client_id":"a"}"#).is_err());
    let _ = dir;
}
