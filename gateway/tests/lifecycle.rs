//! Starting, stopping and logging: graceful shutdown finishes in-flight requests, the CLI
//! entry point reports usage errors, and no log line ever holds a token.

mod support;

use http::StatusCode;
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use support::*;

#[tokio::test]
async fn graceful_shutdown_finishes_in_flight_requests() {
    let trust = Trust::new();
    let upstream = start_upstream().await;
    let gateway = start_gateway(trust.gateway_config(upstream.addr)).await;
    let addr = gateway.addr;
    let token = auth(&trust.mint("read"));
    let in_flight = tokio::spawn(async move {
        send(addr, "GET", "/slow/400", &[("authorization", &token)], "").await
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    tokio::time::timeout(Duration::from_secs(5), gateway.stop())
        .await
        .expect("shutdown completes once in-flight requests are done");
    let reply = in_flight.await.unwrap();
    assert_eq!(
        reply.status,
        StatusCode::OK,
        "the in-flight request was not cut off"
    );
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "no longer accepting after shutdown"
    );
}

#[test]
fn cli_entry_point_reports_usage_and_configuration_errors() {
    use std::process::ExitCode;
    assert_eq!(
        oathmesh_gateway::main_from_args(["--help"]),
        ExitCode::SUCCESS
    );
    assert_eq!(
        oathmesh_gateway::main_from_args(Vec::<String>::new()),
        ExitCode::from(2)
    );
    assert_eq!(
        oathmesh_gateway::main_from_args(["--bogus"]),
        ExitCode::from(2)
    );
    assert_eq!(
        oathmesh_gateway::main_from_args(["--config", "/nonexistent/gateway.toml"]),
        ExitCode::from(2)
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("gateway.toml");
    std::fs::write(
        &path,
        "upstream = \"http://127.0.0.1:1\"\nverifier_json = '{\"audience\": \"a\"}'\nlisten = \"127.0.0.1:0\"\n",
    )
    .unwrap();
    assert_eq!(
        oathmesh_gateway::main_from_args(["--config".into(), path.into_os_string()]),
        ExitCode::from(2),
        "a verifier document the core refuses (no trusted_issuers) is a configuration error"
    );
}

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

/// Runs on one thread so the test's log subscriber sees every task the gateway spawns.
#[tokio::test(flavor = "current_thread")]
async fn no_token_in_any_log_line() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let trust = Trust::new();
    let upstream = start_upstream().await;
    let gateway = start_gateway(trust.gateway_config(upstream.addr)).await;
    let good = trust.mint("read");
    let denied = trust.mint("delete");
    let bound = trust.mint_bound("POST", "/orders?card=4111111111111111", b"secret-body");
    let mut tokens = vec![good.clone(), denied.clone(), bound.clone()];
    for (path, token) in [
        ("/ok?api_key=hunter2", &good),
        ("/no", &denied),
        ("/ok", &good),
    ] {
        send(
            gateway.addr,
            "GET",
            path,
            &[("authorization", &auth(token))],
            "",
        )
        .await;
    }
    send(
        gateway.addr,
        "POST",
        "/orders?card=4111111111111111",
        &[("authorization", &auth(&bound))],
        "tampered",
    )
    .await;
    let dead = start_gateway(trust.gateway_config(dead_port().await)).await;
    let down = trust.mint("read");
    send(
        dead.addr,
        "GET",
        "/",
        &[("authorization", &auth(&down))],
        "",
    )
    .await;
    tokens.push(down);

    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(
        logs.contains("request denied"),
        "denials are logged: {logs}"
    );
    assert!(
        logs.contains("upstream_unavailable"),
        "upstream failures are logged: {logs}"
    );
    for token in &tokens {
        let signature = token.rsplit('.').next().unwrap();
        assert!(
            !logs.contains(signature),
            "a token leaked into the logs:\n{logs}"
        );
    }
    for secret in ["hunter2", "4111111111111111", "secret-body", "tampered"] {
        assert!(
            !logs.contains(secret),
            "{secret} leaked into the logs:\n{logs}"
        );
    }
}
