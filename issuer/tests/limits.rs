//! Connection limits over raw TCP on loopback: a slowloris head, an idle keep-alive
//! connection, a slow body, the connection cap and the requests-per-connection cap; and the
//! optional bearer tokens of `/metrics` and `/v1/revoked-subjects`.

mod common;

use common::*;
use oathmesh_issuer::clients::sha256_hex;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const LIMITS: &str = "header_read_timeout_ms = 1000\nbody_read_timeout_ms = 1000\nmax_connections = 4\nkeep_alive_max_requests = 3\n";

fn addr(s: &Server) -> String {
    s.base.trim_start_matches("http://").to_owned()
}

/// Reads until the server closes the connection (or 10 s pass); what arrived, and when.
async fn read_until_closed(stream: &mut TcpStream) -> (String, Duration) {
    let started = Instant::now();
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    while started.elapsed() < Duration::from_secs(10) {
        match tokio::time::timeout(Duration::from_millis(100), stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => break,
            Ok(Ok(n)) => out.extend_from_slice(&buf[..n]),
            Err(_) => {}
        }
    }
    (
        String::from_utf8_lossy(&out).into_owned(),
        started.elapsed(),
    )
}

#[tokio::test]
async fn a_slowloris_head_is_cut_off() {
    let s = start_with(LIMITS, "").await;
    let mut stream = TcpStream::connect(addr(&s)).await.unwrap();
    stream
        .write_all(b"POST /v1/token HTTP/1.1\r\n")
        .await
        .unwrap();
    let started = Instant::now();
    let mut cut_off = false;
    // One header line every 300 ms, for up to 6 s: the 1 s head timeout must end it.
    for i in 0..20 {
        tokio::time::sleep(Duration::from_millis(300)).await;
        if stream
            .write_all(format!("X-Slow-{i}: x\r\n").as_bytes())
            .await
            .is_err()
        {
            cut_off = true;
            break;
        }
        let mut probe = [0u8; 1];
        if let Ok(Ok(0)) =
            tokio::time::timeout(Duration::from_millis(1), stream.read(&mut probe)).await
        {
            cut_off = true;
            break;
        }
    }
    let took = started.elapsed();
    assert!(cut_off, "the connection stayed open for {took:?}");
    assert!(took < Duration::from_secs(3), "cut off only after {took:?}");
}

#[tokio::test]
async fn idle_keep_alive_connections_and_slow_bodies_are_closed() {
    let s = start_with(LIMITS, "").await;
    // Idle: one request, then nothing.
    let mut stream = TcpStream::connect(addr(&s)).await.unwrap();
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let (text, took) = read_until_closed(&mut stream).await;
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    assert!(
        took < Duration::from_secs(3),
        "idle connection kept {took:?}"
    );
    // Slow body: the head promises 100 bytes, 10 arrive.
    let mut stream = TcpStream::connect(addr(&s)).await.unwrap();
    let head = format!(
        "POST /v1/token HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nAuthorization: {}\r\nContent-Length: 100\r\n\r\n{{\"sub\":\"s",
        basic("checkout", SECRET)
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let (text, took) = read_until_closed(&mut stream).await;
    assert!(text.starts_with("HTTP/1.1 408"), "{text}");
    assert!(text.contains("request_timeout"), "{text}");
    assert!(took < Duration::from_secs(3), "{took:?}");
}

#[tokio::test]
async fn connections_and_requests_per_connection_are_capped() {
    let s = start_with(LIMITS, "").await;
    // Four idle connections take every slot (each has sent a byte of a head, so it is
    // accepted and served).
    let mut held = Vec::new();
    for _ in 0..4 {
        let mut c = TcpStream::connect(addr(&s)).await.unwrap();
        c.write_all(b"G").await.unwrap();
        held.push(c);
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut fifth = TcpStream::connect(addr(&s)).await.unwrap();
    fifth
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let (text, _) = read_until_closed(&mut fifth).await;
    assert!(text.starts_with("HTTP/1.1 503"), "{text}");
    assert!(text.contains("overloaded"), "{text}");
    drop(held);
    tokio::time::sleep(Duration::from_millis(200)).await;
    // Three requests on one connection, the third answered with Connection: close.
    let mut stream = TcpStream::connect(addr(&s)).await.unwrap();
    stream
        .write_all(
            b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
                .repeat(4)
                .as_slice(),
        )
        .await
        .unwrap();
    let (text, _) = read_until_closed(&mut stream).await;
    assert_eq!(text.matches("HTTP/1.1 200").count(), 3, "{text}");
    assert!(
        text.to_ascii_lowercase().contains("connection: close"),
        "{text}"
    );
}

#[tokio::test]
async fn metrics_and_revoked_subjects_can_require_a_token() {
    let open = start("").await;
    assert_eq!(open.get("/metrics").await.0, 200);
    assert_eq!(open.get("/v1/revoked-subjects").await.0, 200);
    let s = start_with(
        &format!(
            "metrics_token_sha256 = \"{}\"\nrevoked_subjects_token_sha256 = \"{}\"\n",
            sha256_hex("scrape"),
            sha256_hex("poll")
        ),
        "",
    )
    .await;
    for (path, token) in [("/metrics", "scrape"), ("/v1/revoked-subjects", "poll")] {
        let (status, body) = s.get(path).await;
        assert_eq!(status, 401, "{path}");
        assert!(body.contains("invalid_token"), "{body}");
        let with = |t: &str| {
            s.http
                .get(format!("{}{path}", s.base))
                .header("authorization", format!("Bearer {t}"))
                .send()
        };
        assert_eq!(with("wrong").await.unwrap().status(), 401, "{path}");
        assert_eq!(with(token).await.unwrap().status(), 200, "{path}");
    }
}
