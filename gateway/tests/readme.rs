//! The README's quickstart files, run as written: its `verifier.json` and `gateway.toml`
//! against a real upstream, with a token signed by a freshly generated key.

mod support;

use http::StatusCode;
use oathmesh_core::{Issuer, MintRequest, generate_key};
use oathmesh_gateway::GatewayConfig;
use std::path::Path;
use support::*;

/// The fenced block whose info string is `<lang> <name>`.
fn readme_block(lang: &str, name: &str) -> String {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let fence = format!("```{lang} {name}\n");
    let start = readme
        .find(&fence)
        .unwrap_or_else(|| panic!("README has no {fence:?} block"))
        + fence.len();
    let end = start + readme[start..].find("```").unwrap();
    readme[start..end].to_owned()
}

#[tokio::test]
async fn quickstart_files_work_as_written() {
    let dir = tempfile::tempdir().unwrap();
    let key = generate_key();
    std::fs::create_dir(dir.path().join("keys")).unwrap();
    let jwks = serde_json::json!({"keys": [key.jwk]});
    let jwks_path = dir.path().join("keys/jwks.json");
    std::fs::write(&jwks_path, jwks.to_string()).unwrap();
    // The README's path is relative to the gateway's working directory; tests share one, so
    // point it at this test's folder instead of changing directory.
    let verifier = readme_block("json", "verifier.json")
        .replace("keys/jwks.json", jwks_path.to_str().unwrap());
    std::fs::write(dir.path().join("verifier.json"), verifier).unwrap();
    let toml = readme_block("toml", "gateway.toml");

    let upstream = start_upstream().await;
    let upstream_url = format!("http://{}", upstream.addr);
    // The README's ports may be taken: move both with the documented environment overrides.
    let config = GatewayConfig::from_toml_str(&toml, dir.path(), |name| match name {
        "OATHMESH_GATEWAY_LISTEN" => Some("127.0.0.1:0".to_owned()),
        "OATHMESH_GATEWAY_UPSTREAM" => Some(upstream_url.clone()),
        _ => None,
    })
    .expect("the README's gateway.toml loads");
    assert_eq!(config.max_body_bytes, 1_048_576);
    let gateway = start_gateway(config).await;

    let issuer = Issuer::from_json(
        serde_json::json!({"issuer": "https://issuer.internal", "private_key_pem": key.private_pem})
            .to_string()
            .as_bytes(),
    )
    .unwrap();
    let token = issuer
        .mint(&MintRequest {
            sub: "svc://checkout".into(),
            aud: "https://orders.internal".into(),
            act: "read".into(),
            ..Default::default()
        })
        .unwrap()
        .token;
    let header = auth(&token);

    let reply = send(gateway.addr, "GET", "/", &[("authorization", &header)], "").await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    assert_eq!(
        reply.upstream_header("x-oathmesh-subject").unwrap(),
        ["svc://checkout"]
    );

    let reply = send(gateway.addr, "GET", "/", &[("authorization", &header)], "").await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert_eq!(reply.json()["error"], "replay_detected");

    let reply = send(gateway.addr, "GET", "/", &[], "").await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert_eq!(reply.json()["error"], "claim_missing:token");

    let write = issuer
        .mint(&MintRequest {
            sub: "svc://checkout".into(),
            aud: "https://orders.internal".into(),
            act: "write".into(),
            ..Default::default()
        })
        .unwrap()
        .token;
    let reply = send(
        gateway.addr,
        "POST",
        "/",
        &[("authorization", &auth(&write))],
        "x",
    )
    .await;
    assert_eq!(
        reply.status,
        StatusCode::FORBIDDEN,
        "the README's policy allows only reads"
    );
}
