//! Hostile or broken peers: a caller flooding headers or sending huge targets, an upstream
//! that is down or too slow. Every refusal the gateway writes itself is JSON.

mod support;

use http::StatusCode;
use std::time::{Duration, Instant};
use support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

fn assert_proxy_error(reply: &Reply, status: StatusCode, code: &str) {
    assert_eq!(reply.status, status, "{:?}", reply.body);
    assert_eq!(reply.headers["content-type"], "application/json");
    let body = reply.json();
    assert_eq!(body["error"], code, "{body}");
    assert!(
        body["message"].is_string() && body["fix"].is_string(),
        "{body}"
    );
    let request_id = body["request_id"].as_str().expect("request_id");
    assert_eq!(reply.headers["x-request-id"], request_id);
}

#[tokio::test]
async fn upstream_down_is_502_json() {
    let trust = Trust::new();
    let gateway = start_gateway(trust.gateway_config(dead_port().await)).await;
    let reply = send(
        gateway.addr,
        "GET",
        "/",
        &[
            ("authorization", &auth(&trust.mint("read"))),
            ("x-request-id", "down-1"),
        ],
        "",
    )
    .await;
    assert_proxy_error(&reply, StatusCode::BAD_GATEWAY, "upstream_unavailable");
    assert_eq!(reply.json()["request_id"], "down-1");
}

#[tokio::test]
async fn a_denied_request_never_contacts_the_upstream() {
    // Verification happens first: with the upstream down, a bad token still gets 401.
    let trust = Trust::new();
    let gateway = start_gateway(trust.gateway_config(dead_port().await)).await;
    let reply = send(gateway.addr, "GET", "/", &[], "").await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert_eq!(reply.json()["error"], "claim_missing:token");
}

#[tokio::test]
async fn upstream_slow_is_504_json() {
    let trust = Trust::new();
    let upstream = start_upstream().await;
    let mut config = trust.gateway_config(upstream.addr);
    config.upstream_timeout = Duration::from_millis(200);
    let gateway = start_gateway(config).await;
    let started = Instant::now();
    let reply = send(
        gateway.addr,
        "GET",
        "/slow/3000",
        &[("authorization", &auth(&trust.mint("read")))],
        "",
    )
    .await;
    assert_proxy_error(&reply, StatusCode::GATEWAY_TIMEOUT, "upstream_timeout");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "answered at the timeout, not after the upstream"
    );
    // An upstream within the timeout is fine.
    let reply = send(
        gateway.addr,
        "GET",
        "/slow/10",
        &[("authorization", &auth(&trust.mint("read")))],
        "",
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK);
}

#[tokio::test]
async fn upstream_that_hangs_up_is_502() {
    let trust = Trust::new();
    // Accepts, reads the request, and closes without answering.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let mut buf = [0u8; 4096];
            let _ = stream.read(&mut buf).await;
            drop(stream);
        }
    });
    let gateway = start_gateway(trust.gateway_config(addr)).await;
    let reply = send(
        gateway.addr,
        "GET",
        "/",
        &[("authorization", &auth(&trust.mint("read")))],
        "",
    )
    .await;
    assert_proxy_error(&reply, StatusCode::BAD_GATEWAY, "upstream_unavailable");
}

#[tokio::test]
async fn header_flood_by_count_is_431_json() {
    let trust = Trust::new();
    let upstream = start_upstream().await;
    let gateway = start_gateway(trust.gateway_config(upstream.addr)).await;
    let names: Vec<String> = (0..300).map(|i| format!("x-flood-{i}")).collect();
    let token = auth(&trust.mint("read"));
    let mut headers: Vec<(&str, &str)> = names.iter().map(|n| (n.as_str(), "1")).collect();
    headers.push(("authorization", &token));
    let reply = send(gateway.addr, "GET", "/", &headers, "").await;
    assert_proxy_error(
        &reply,
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
        "headers_too_large",
    );
}

#[tokio::test]
async fn header_flood_by_size_is_431_json() {
    let trust = Trust::new();
    let upstream = start_upstream().await;
    let gateway = start_gateway(trust.gateway_config(upstream.addr)).await;
    let big = "v".repeat(100 * 1024);
    let reply = send(gateway.addr, "GET", "/", &[("x-big", &big)], "").await;
    assert_proxy_error(
        &reply,
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
        "headers_too_large",
    );
    // Many mid-sized headers adding up past the byte limit.
    let names: Vec<String> = (0..50).map(|i| format!("x-part-{i}")).collect();
    let value = "w".repeat(1024);
    let headers: Vec<(&str, &str)> = names.iter().map(|n| (n.as_str(), value.as_str())).collect();
    let reply = send(gateway.addr, "GET", "/", &headers, "").await;
    assert_proxy_error(
        &reply,
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
        "headers_too_large",
    );
}

/// Far past any limit, the parser refuses before the gateway sees a request: still a 431,
/// and the connection is closed instead of buffering megabytes.
#[tokio::test]
async fn header_flood_past_the_parser_is_refused() {
    let trust = Trust::new();
    let upstream = start_upstream().await;
    let gateway = start_gateway(trust.gateway_config(upstream.addr)).await;
    let mut stream = TcpStream::connect(gateway.addr).await.unwrap();
    let mut head = String::from("GET / HTTP/1.1\r\nhost: x\r\n");
    for i in 0..20_000 {
        head.push_str(&format!("x-flood-{i}: {}\r\n", "f".repeat(40)));
    }
    head.push_str("\r\n");
    // The gateway may close while we still write; what it answered before is what counts.
    let _ = stream.write_all(head.as_bytes()).await;
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut answer)).await;
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 431"), "{answer:?}");
}

#[tokio::test]
async fn very_long_url_is_414_json() {
    let trust = Trust::new();
    let upstream = start_upstream().await;
    let gateway = start_gateway(trust.gateway_config(upstream.addr)).await;
    let path = format!("/search?q={}", "a".repeat(20 * 1024));
    let reply = send(
        gateway.addr,
        "GET",
        &path,
        &[("authorization", &auth(&trust.mint("read")))],
        "",
    )
    .await;
    assert_proxy_error(&reply, StatusCode::URI_TOO_LONG, "uri_too_long");
}

#[tokio::test]
async fn url_past_the_parser_is_refused() {
    let trust = Trust::new();
    let upstream = start_upstream().await;
    let gateway = start_gateway(trust.gateway_config(upstream.addr)).await;
    let mut stream = TcpStream::connect(gateway.addr).await.unwrap();
    let request = format!("GET /{} HTTP/1.1\r\nhost: x\r\n\r\n", "a".repeat(70 * 1024));
    let _ = stream.write_all(request.as_bytes()).await;
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut answer)).await;
    let answer = String::from_utf8_lossy(&answer);
    assert!(
        answer.starts_with("HTTP/1.1 414") || answer.starts_with("HTTP/1.1 431"),
        "{answer:?}"
    );
}

#[tokio::test]
async fn limits_are_configurable() {
    let trust = Trust::new();
    let upstream = start_upstream().await;
    let mut config = trust.gateway_config(upstream.addr);
    config.max_uri_bytes = 64;
    config.max_headers = 5;
    let gateway = start_gateway(config).await;
    let token = auth(&trust.mint("read"));
    let reply = send(
        gateway.addr,
        "GET",
        &format!("/{}", "a".repeat(80)),
        &[("authorization", &token)],
        "",
    )
    .await;
    assert_proxy_error(&reply, StatusCode::URI_TOO_LONG, "uri_too_long");
    let headers = [
        ("authorization", token.as_str()),
        ("a", "1"),
        ("b", "1"),
        ("c", "1"),
        ("d", "1"),
        ("e", "1"),
    ];
    let reply = send(gateway.addr, "GET", "/", &headers, "").await;
    assert_proxy_error(
        &reply,
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
        "headers_too_large",
    );
    // Under the limits, the same token still works: refusals by limit do not spend it.
    let reply = send(gateway.addr, "GET", "/", &[("authorization", &token)], "").await;
    assert_eq!(reply.status, StatusCode::OK);
}

#[tokio::test]
async fn several_authorization_headers_are_refused() {
    let trust = Trust::new();
    let upstream = start_upstream().await;
    let gateway = start_gateway(trust.gateway_config(upstream.addr)).await;
    let (a, b) = (auth(&trust.mint("read")), auth(&trust.mint("read")));
    let reply = send(
        gateway.addr,
        "GET",
        "/",
        &[("authorization", &a), ("authorization", &b)],
        "",
    )
    .await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert_eq!(reply.json()["error"], "claim_missing:token");
}

#[tokio::test]
async fn control_characters_in_a_claim_never_reach_the_upstream() {
    let trust = Trust::new();
    let upstream = start_upstream().await;
    let gateway = start_gateway(trust.gateway_config(upstream.addr)).await;
    let injected = oathmesh_core::MintRequest {
        sub: "svc://checkout".into(),
        aud: AUD.into(),
        act: "read".into(),
        tenant: Some("acme\r\nx-oathmesh-subject: svc://admin".into()),
        ..Default::default()
    };
    // The issuer refuses to mint it...
    let refused = trust.issuer.mint(&injected).unwrap_err();
    assert_eq!(refused.code(), "claim_invalid:tenant");
    // ...and a token signed some other way is refused by the gateway's verifier (step 11),
    // so the header injection never reaches the upstream.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let claims = oathmesh_core::Claims {
        iss: Some(ISS.into()),
        sub: Some(injected.sub.clone()),
        aud: Some(injected.aud.clone()),
        act: Some(injected.act.clone()),
        iat: Some(now),
        exp: Some(now + 60),
        jti: Some("hand-signed".into()),
        tenant: injected.tenant.clone(),
        ..Default::default()
    };
    let signer = oathmesh_core::LocalSigner::from_pem(&trust.key.private_pem, None).unwrap();
    let input = format!(
        "{}.{}",
        oathmesh_core::token::encode_header(oathmesh_core::Signer::kid(&signer)),
        oathmesh_core::token::encode_claims(&claims)
    );
    let signature = oathmesh_core::Signer::sign(&signer, input.as_bytes()).unwrap();
    let token = format!("{input}.{}", oathmesh_core::b64::encode(&signature));
    let reply = send(
        gateway.addr,
        "GET",
        "/",
        &[("authorization", &auth(&token))],
        "",
    )
    .await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{:?}", reply.body);
    let body = reply.json();
    assert_eq!(body["error"], "claim_invalid:tenant", "{body}");
    assert_eq!(body["step"], "11", "{body}");
}
