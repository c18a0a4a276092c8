//! Shared state comes from the verifier document the gateway passes through: two gateways
//! with one `redis_url` share single use and revocation, and a Redis that is down fails
//! closed. Needs `redis-server` (scripts/test-gateway.sh installs it).

mod support;

use http::StatusCode;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use support::*;

/// A private Redis on a free loopback port, without persistence, killed on drop.
struct Redis {
    port: u16,
    child: Child,
    _dir: tempfile::TempDir,
}

impl Redis {
    fn start() -> Redis {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let dir = tempfile::tempdir().unwrap();
        let child = Command::new("redis-server")
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .arg("--dir")
            .arg(dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server is installed (scripts/test-gateway.sh installs it)");
        let redis = Redis {
            port,
            child,
            _dir: dir,
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while redis.command(&["PING"]).as_deref() != Some("+PONG") {
            assert!(Instant::now() < deadline, "redis-server did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        redis
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// One RESP command; the first line of the reply.
    fn command(&self, args: &[&str]) -> Option<String> {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).ok()?;
        stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
        let mut request = format!("*{}\r\n", args.len());
        for arg in args {
            request.push_str(&format!("${}\r\n{arg}\r\n", arg.len()));
        }
        stream.write_all(request.as_bytes()).ok()?;
        let mut buf = [0u8; 512];
        let n = stream.read(&mut buf).ok()?;
        String::from_utf8_lossy(&buf[..n])
            .split("\r\n")
            .next()
            .map(str::to_owned)
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn with_redis(
    trust: &Trust,
    upstream: std::net::SocketAddr,
    url: &str,
) -> oathmesh_gateway::GatewayConfig {
    let mut doc = trust.verifier_doc();
    doc["redis_url"] = url.into();
    let mut config = trust.gateway_config(upstream);
    config.verifier_json = doc.to_string().into_bytes();
    config
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gateways_sharing_redis_share_single_use_and_revocation() {
    let redis = Redis::start();
    let trust = Trust::new();
    let upstream = start_upstream().await;
    let a = start_gateway(with_redis(&trust, upstream.addr, &redis.url())).await;
    let b = start_gateway(with_redis(&trust, upstream.addr, &redis.url())).await;

    let token = auth(&trust.mint("read"));
    let reply = send(a.addr, "GET", "/", &[("authorization", &token)], "").await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    let reply = send(b.addr, "GET", "/", &[("authorization", &token)], "").await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        reply.json()["error"],
        "replay_detected",
        "the other gateway saw the token in Redis"
    );

    assert_eq!(
        redis
            .command(&[
                "HSET",
                "oathmesh:revocations",
                "svc://checkout",
                "2026-01-01T00:00:00Z"
            ])
            .as_deref(),
        Some(":1")
    );
    for gateway in [&a, &b] {
        let reply = send(
            gateway.addr,
            "GET",
            "/",
            &[("authorization", &auth(&trust.mint("read")))],
            "",
        )
        .await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
        assert_eq!(reply.json()["error"], "subject_revoked");
        assert_eq!(reply.json()["step"], "13.5");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_down_fails_closed_with_503() {
    let trust = Trust::new();
    let upstream = start_upstream().await;
    let nowhere = format!("redis://{}/", dead_port().await);
    let gateway = start_gateway(with_redis(&trust, upstream.addr, &nowhere)).await;
    let reply = send(
        gateway.addr,
        "GET",
        "/",
        &[("authorization", &auth(&trust.mint("read")))],
        "",
    )
    .await;
    assert_eq!(
        reply.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{:?}",
        reply.body
    );
    let body = reply.json();
    assert_eq!(body["error"], "revocation_unavailable");
    assert!(body["request_id"].is_string());
    assert!(
        body.get("headers").is_none(),
        "the upstream was never called"
    );
}
