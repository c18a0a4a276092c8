//! The gateway verifies with the core, rewrites identity headers and forwards: every case
//! runs over real HTTP on loopback, with tokens signed by the core's issuer.

mod support;

use bytes::Bytes;
use http::StatusCode;
use oathmesh_core::MintRequest;
use support::*;

const FORGED_HEADERS: [&str; 8] = [
    "X-OathMesh-Subject",
    "X-OathMesh-Issuer",
    "X-OathMesh-Action",
    "X-OathMesh-Token-Id",
    "X-OathMesh-Env",
    "X-OathMesh-Tenant",
    "X-OathMesh-Scope",
    "X-OathMesh-Admin",
];

async fn setup() -> (Trust, Server, Server) {
    let trust = Trust::new();
    let upstream = start_upstream().await;
    let gateway = start_gateway(trust.gateway_config(upstream.addr)).await;
    (trust, upstream, gateway)
}

/// Checks a verification error body (docs/protocol.md, "Pipeline") and returns it.
fn assert_denied(reply: &Reply, status: u16, code: &str, step: &str) -> serde_json::Value {
    assert_eq!(reply.status.as_u16(), status, "{:?}", reply.body);
    assert_eq!(reply.headers["content-type"], "application/json");
    let body = reply.json();
    assert_eq!(body["error"], code, "{body}");
    assert_eq!(body["step"], step, "{body}");
    assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()));
    assert!(body["fix"].as_str().is_some_and(|m| !m.is_empty()));
    let request_id = body["request_id"].as_str().expect("request_id");
    assert_eq!(reply.headers["x-request-id"], request_id);
    body
}

#[tokio::test]
async fn allowed_request_reaches_upstream_with_verified_identity_only() {
    let (trust, _upstream, gateway) = setup().await;
    let token = trust.mint_with(MintRequest {
        sub: "svc://checkout".into(),
        aud: AUD.into(),
        act: "read".into(),
        scope: Some(vec!["orders:read".into(), "orders:list".into()]),
        env: Some("prod".into()),
        tenant: Some("acme".into()),
        ..Default::default()
    });
    let reply = send(
        gateway.addr,
        "GET",
        "/orders/42?b=2&a=1",
        &[
            ("authorization", &auth(&token)),
            ("x-app", "kept"),
            ("x-request-id", "req-123"),
        ],
        "",
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    let seen = reply.json();
    assert_eq!(seen["method"], "GET");
    assert_eq!(
        seen["path"], "/orders/42?b=2&a=1",
        "target forwarded exactly"
    );
    let header = |name: &str| reply.upstream_header(name).map(|v| v.join(","));
    assert_eq!(
        header("authorization"),
        None,
        "the token never reaches the upstream"
    );
    assert_eq!(
        header("x-oathmesh-subject").as_deref(),
        Some("svc://checkout")
    );
    assert_eq!(header("x-oathmesh-issuer").as_deref(), Some(ISS));
    assert_eq!(header("x-oathmesh-action").as_deref(), Some("read"));
    assert_eq!(header("x-oathmesh-env").as_deref(), Some("prod"));
    assert_eq!(header("x-oathmesh-tenant").as_deref(), Some("acme"));
    assert_eq!(
        header("x-oathmesh-scope").as_deref(),
        Some("orders:read orders:list")
    );
    let token_id = header("x-oathmesh-token-id").expect("token id");
    assert!(!token_id.is_empty() && !token.contains(&format!(".{token_id}.")));
    assert_eq!(header("x-request-id").as_deref(), Some("req-123"));
    assert_eq!(header("x-app").as_deref(), Some("kept"));
    assert_eq!(header("x-forwarded-for").as_deref(), Some("127.0.0.1"));
    assert_eq!(header("x-forwarded-host"), Some(gateway.addr.to_string()));
    assert_eq!(reply.headers["x-request-id"], "req-123");
    assert!(
        reply.headers.get("keep-alive").is_none(),
        "hop-by-hop header from upstream dropped"
    );
}

#[tokio::test]
async fn absent_optional_claims_send_no_header() {
    let (trust, _upstream, gateway) = setup().await;
    let reply = send(
        gateway.addr,
        "GET",
        "/",
        &[("authorization", &auth(&trust.mint("read")))],
        "",
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK);
    for name in ["x-oathmesh-env", "x-oathmesh-tenant", "x-oathmesh-scope"] {
        assert_eq!(reply.upstream_header(name), None, "{name}");
    }
    let request_id = reply.upstream_header("x-request-id").unwrap().join("");
    assert_eq!(request_id.len(), 32, "generated when the caller sent none");
    assert_eq!(reply.headers["x-request-id"], request_id.as_str());
}

#[tokio::test]
async fn each_forged_oathmesh_header_is_stripped() {
    let (trust, _upstream, gateway) = setup().await;
    for name in FORGED_HEADERS {
        for spelling in [
            name.to_owned(),
            name.to_ascii_lowercase(),
            name.to_ascii_uppercase(),
        ] {
            let token = trust.mint("read");
            let reply = send(
                gateway.addr,
                "GET",
                "/",
                &[
                    ("authorization", &auth(&token)),
                    (&spelling, "forged-by-caller"),
                ],
                "",
            )
            .await;
            assert_eq!(reply.status, StatusCode::OK);
            let seen = reply
                .upstream_header(&name.to_ascii_lowercase())
                .unwrap_or_default();
            assert!(
                !seen.iter().any(|v| v.contains("forged")),
                "{spelling} reached the upstream: {seen:?}"
            );
        }
    }
}

#[tokio::test]
async fn forged_headers_on_a_denied_request_never_reach_upstream() {
    let (_trust, _upstream, gateway) = setup().await;
    let reply = send(
        gateway.addr,
        "GET",
        "/",
        &[("x-oathmesh-subject", "svc://admin")],
        "",
    )
    .await;
    assert_denied(&reply, 401, "claim_missing:token", "00");
}

#[tokio::test]
async fn missing_and_malformed_authorization() {
    let (_trust, _upstream, gateway) = setup().await;
    let reply = send(gateway.addr, "GET", "/", &[], "").await;
    let body = assert_denied(&reply, 401, "claim_missing:token", "00");
    assert_eq!(reply.headers["www-authenticate"], "OathMesh");
    assert_eq!(body["request_id"].as_str().unwrap().len(), 32);

    let reply = send(
        gateway.addr,
        "GET",
        "/",
        &[("authorization", "Bearer abc")],
        "",
    )
    .await;
    assert_denied(&reply, 401, "claim_missing:token", "00");

    let reply = send(
        gateway.addr,
        "GET",
        "/",
        &[("authorization", "OathMesh not-a-token")],
        "",
    )
    .await;
    assert_denied(&reply, 401, "token_malformed", "01");
}

#[tokio::test]
async fn expired_token() {
    let (trust, _upstream, gateway) = setup().await;
    let reply = send(
        gateway.addr,
        "GET",
        "/",
        &[
            ("authorization", &auth(&trust.mint_expired())),
            ("x-request-id", "exp-1"),
        ],
        "",
    )
    .await;
    let body = assert_denied(&reply, 401, "token_expired", "08");
    assert_eq!(body["request_id"], "exp-1");
}

#[tokio::test]
async fn wrong_audience() {
    let (trust, _upstream, gateway) = setup().await;
    let token = trust.mint_with(MintRequest {
        sub: "svc://checkout".into(),
        aud: "https://billing.internal".into(),
        act: "read".into(),
        ..Default::default()
    });
    let reply = send(
        gateway.addr,
        "GET",
        "/",
        &[("authorization", &auth(&token))],
        "",
    )
    .await;
    assert_denied(&reply, 401, "audience_mismatch", "10");
}

#[tokio::test]
async fn untrusted_signer() {
    let (_trust, _upstream, gateway) = setup().await;
    let stranger = Trust::new();
    let reply = send(
        gateway.addr,
        "GET",
        "/",
        &[("authorization", &auth(&stranger.mint("read")))],
        "",
    )
    .await;
    assert_denied(&reply, 401, "key_not_found", "05");
}

#[tokio::test]
async fn replayed_token() {
    let (trust, _upstream, gateway) = setup().await;
    let token = trust.mint("read");
    let first = send(
        gateway.addr,
        "GET",
        "/",
        &[("authorization", &auth(&token))],
        "",
    )
    .await;
    assert_eq!(first.status, StatusCode::OK);
    let again = send(
        gateway.addr,
        "GET",
        "/",
        &[("authorization", &auth(&token))],
        "",
    )
    .await;
    assert_denied(&again, 401, "replay_detected", "13");
}

#[tokio::test]
async fn policy_denial_is_403() {
    let (trust, _upstream, gateway) = setup().await;
    let reply = send(
        gateway.addr,
        "DELETE",
        "/orders/1",
        &[("authorization", &auth(&trust.mint("delete")))],
        "",
    )
    .await;
    let body = assert_denied(&reply, 403, "policy_denied", "14");
    assert!(
        body["message"].as_str().unwrap().contains("no-deletes"),
        "{body}"
    );
}

#[tokio::test]
async fn bound_token_with_the_right_body_is_delivered_intact() {
    let (trust, _upstream, gateway) = setup().await;
    let body = br#"{"item":"book","qty":2}"#;
    let token = trust.mint_bound("POST", "/orders?tenant=acme", body);
    let reply = send(
        gateway.addr,
        "POST",
        "/orders?tenant=acme",
        &[
            ("authorization", &auth(&token)),
            ("content-type", "application/json"),
        ],
        &body[..],
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    let seen = reply.json();
    assert_eq!(seen["body"], r#"{"item":"book","qty":2}"#);
    assert_eq!(seen["method"], "POST");
    assert_eq!(
        reply.upstream_header("content-length").unwrap(),
        vec![body.len().to_string()]
    );
}

#[tokio::test]
async fn bound_token_with_a_tampered_body_is_refused() {
    let (trust, _upstream, gateway) = setup().await;
    let token = trust.mint_bound("POST", "/orders", br#"{"qty":1}"#);
    let reply = send(
        gateway.addr,
        "POST",
        "/orders",
        &[("authorization", &auth(&token))],
        r#"{"qty":1000}"#,
    )
    .await;
    assert_denied(&reply, 401, "binding_mismatch", "12");
    // A tampered path fails the same way.
    let token = trust.mint_bound("POST", "/orders", b"x");
    let reply = send(
        gateway.addr,
        "POST",
        "/orders?admin=1",
        &[("authorization", &auth(&token))],
        "x",
    )
    .await;
    assert_denied(&reply, 401, "binding_mismatch", "12");
}

#[tokio::test]
async fn bound_body_over_the_limit_is_413_json() {
    let trust = Trust::new();
    let upstream = start_upstream().await;
    let mut config = trust.gateway_config(upstream.addr);
    config.max_body_bytes = 1024;
    let gateway = start_gateway(config).await;
    let big = vec![b'a'; 4096];
    let token = trust.mint_bound("POST", "/upload", &big);

    // Declared by Content-Length: refused before reading.
    let reply = send(
        gateway.addr,
        "POST",
        "/upload",
        &[("authorization", &auth(&token))],
        big.clone(),
    )
    .await;
    assert_eq!(reply.status, StatusCode::PAYLOAD_TOO_LARGE);
    let body = reply.json();
    assert_eq!(body["error"], "body_too_large");
    assert!(body["request_id"].is_string() && body["fix"].is_string());

    // Chunked, with no length given: refused once the limit is crossed. The token was not
    // spent by the first attempt, since verification never ran.
    let chunks = chunked(big.chunks(512).map(Bytes::copy_from_slice).collect());
    let request = http::Request::post("/upload")
        .header("authorization", auth(&token))
        .body(chunks)
        .unwrap();
    let reply = send_request(gateway.addr, request).await;
    assert_eq!(reply.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(reply.json()["error"], "body_too_large");
}

#[tokio::test]
async fn unbound_bodies_stream_through_beyond_the_binding_limit() {
    let trust = Trust::new();
    let upstream = start_upstream().await;
    let mut config = trust.gateway_config(upstream.addr);
    config.max_body_bytes = 1024;
    let gateway = start_gateway(config).await;
    let chunks: Vec<Bytes> = (0..64)
        .map(|i| Bytes::from(vec![b'a' + (i % 26) as u8; 16 * 1024]))
        .collect();
    let expected: Vec<u8> = chunks.iter().flat_map(|c| c.iter().copied()).collect();
    let request = http::Request::post("/upload")
        .header("authorization", auth(&trust.mint("create")))
        .body(chunked(chunks))
        .unwrap();
    let reply = send_request(gateway.addr, request).await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    let seen = reply.json();
    assert_eq!(seen["body_len"], expected.len());
    assert_eq!(seen["body"].as_str().unwrap().as_bytes(), &expected[..]);
    assert_eq!(
        seen["headers"].get("transfer-encoding").unwrap()[0],
        "chunked"
    );
}

#[tokio::test]
async fn large_responses_stream_back_intact() {
    let (trust, _upstream, gateway) = setup().await;
    let n = 3 * 1024 * 1024 + 7;
    let reply = send(
        gateway.addr,
        "GET",
        &format!("/big/{n}"),
        &[("authorization", &auth(&trust.mint("read")))],
        "",
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.body.len(), n);
    assert!(
        reply
            .body
            .iter()
            .enumerate()
            .all(|(i, b)| *b == (i % 251) as u8)
    );
}

#[tokio::test]
async fn required_binding_refuses_unbound_tokens() {
    let trust = Trust::new();
    let upstream = start_upstream().await;
    let mut doc = trust.verifier_doc();
    doc["require_binding"] = true.into();
    let mut config = trust.gateway_config(upstream.addr);
    config.verifier_json = doc.to_string().into_bytes();
    let gateway = start_gateway(config).await;
    let reply = send(
        gateway.addr,
        "POST",
        "/a",
        &[("authorization", &auth(&trust.mint("create")))],
        "x",
    )
    .await;
    assert_denied(&reply, 401, "binding_required", "12");
    let token = trust.mint_bound("POST", "/a", b"x");
    let reply = send(
        gateway.addr,
        "POST",
        "/a",
        &[("authorization", &auth(&token))],
        "x",
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.json()["body"], "x");
}

#[tokio::test]
async fn upstream_path_prefix_is_kept() {
    let trust = Trust::new();
    let upstream = start_upstream().await;
    let mut config = trust.gateway_config(upstream.addr);
    config.upstream = format!("http://{}/api/", upstream.addr).parse().unwrap();
    let gateway = start_gateway(config).await;
    let reply = send(
        gateway.addr,
        "GET",
        "/orders?x=1",
        &[("authorization", &auth(&trust.mint("read")))],
        "",
    )
    .await;
    assert_eq!(reply.json()["path"], "/api/orders?x=1");
}
