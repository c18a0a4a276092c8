//! The gateway on TLS with a private CA made at test start: TLS in, TLS (with a client
//! certificate) to an HTTPS upstream, required client certificates, a certificate swapped
//! under a bounded load with no failed request, and `/healthz` and `/metrics` on their own
//! listener, scraped and parsed.

mod support;

use oathmesh_gateway::GatewayConfig;
use oathmesh_serving::test_pki::{IssuedCert, TestCa};
use oathmesh_serving::tls::ClientTlsSettings;
use oathmesh_serving::{ClientCertMode, ServerTls, TlsSettings};
use serde_json::Value;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use support::*;

/// A gateway configuration with `[tls]` from files in `dir`.
fn tls_config(trust: &Trust, upstream: &str, dir: &Path, ca: &TestCa) -> GatewayConfig {
    let mut config = GatewayConfig::new(upstream, trust.verifier_doc().to_string()).unwrap();
    config.listen = "127.0.0.1:0".parse().unwrap();
    config.shutdown_grace = Duration::from_secs(5);
    let (cert, key) = ca.server_cert(&[]).write(dir, "gateway");
    let mut tls = TlsSettings::new(cert, key);
    tls.reload_poll_secs = 1;
    config.tls = Some(tls);
    config
}

fn https_client(ca: &TestCa, identity: Option<&IssuedCert>) -> reqwest::Client {
    let mut builder = reqwest::Client::builder()
        .use_rustls_tls()
        .tls_built_in_root_certs(false)
        .tls_info(true)
        .add_root_certificate(reqwest::Certificate::from_pem(ca.cert_pem().as_bytes()).unwrap());
    if let Some(cert) = identity {
        let pem = format!("{}{}", cert.cert_pem, cert.key_pem);
        builder = builder.identity(reqwest::Identity::from_pem(pem.as_bytes()).unwrap());
    }
    builder.build().unwrap()
}

fn url(addr: std::net::SocketAddr, path: &str) -> String {
    format!("https://localhost:{}{path}", addr.port())
}

fn peer_certificate(response: &reqwest::Response) -> Vec<u8> {
    response
        .extensions()
        .get::<reqwest::tls::TlsInfo>()
        .and_then(|info| info.peer_certificate())
        .expect("a TLS response carries the server certificate")
        .to_vec()
}

#[tokio::test]
async fn tls_in_and_mutual_tls_to_an_https_upstream() {
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new("OathMesh test CA");
    let ca_file = ca.write(dir.path(), "ca");
    // The upstream requires a client certificate from the same CA.
    let (up_cert, up_key) = ca.server_cert(&[]).write(dir.path(), "upstream");
    let mut up_tls = TlsSettings::new(up_cert, up_key);
    up_tls.client_ca_file = Some(ca_file.clone());
    let upstream =
        start_tls_upstream(ServerTls::load(up_tls, "tls", ClientCertMode::Required).unwrap()).await;
    let (client_cert, client_key) = ca
        .client_cert("gateway", &[])
        .write(dir.path(), "gw-client");

    let trust = Trust::new();
    let mut config = tls_config(
        &trust,
        &format!("https://localhost:{}", upstream.addr.port()),
        dir.path(),
        &ca,
    );
    config.upstream_tls = ClientTlsSettings {
        ca_file: Some(ca_file),
        client_cert_file: Some(client_cert),
        client_key_file: Some(client_key),
    };
    let gateway = start_gateway(config).await;
    let http = https_client(&ca, None);

    let response = http
        .get(url(gateway.addr, "/orders/7"))
        .header("authorization", auth(&trust.mint("read")))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let seen: Value = response.json().await.unwrap();
    assert_eq!(seen["path"], "/orders/7");
    assert_eq!(seen["headers"]["x-forwarded-proto"][0], "https");
    assert_eq!(seen["headers"]["x-oathmesh-subject"][0], "svc://checkout");
    assert_eq!(
        seen["headers"]["x-test-client-subject"][0], "CN=gateway,O=OathMesh tests",
        "the gateway presented its client certificate to the upstream"
    );

    // A denied request is answered by the gateway over TLS with the core's error.
    let denied = http
        .get(url(gateway.addr, "/orders/7"))
        .header("authorization", auth(&trust.mint("delete")))
        .send()
        .await
        .unwrap();
    assert_eq!(denied.status(), 403);
    let body: Value = denied.json().await.unwrap();
    assert_eq!(body["error"], "policy_denied");

    // A client that does not trust the private CA gets no answer at all.
    let untrusting = reqwest::Client::builder().use_rustls_tls().build().unwrap();
    assert!(untrusting.get(url(gateway.addr, "/")).send().await.is_err());
}

#[tokio::test]
async fn an_upstream_certificate_from_an_untrusted_ca_is_502() {
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new("OathMesh test CA");
    let rogue = TestCa::new("rogue CA");
    let (cert, key) = rogue.server_cert(&[]).write(dir.path(), "upstream");
    let upstream = start_tls_upstream(
        ServerTls::load(TlsSettings::new(cert, key), "tls", ClientCertMode::Required).unwrap(),
    )
    .await;
    let trust = Trust::new();
    let mut config = tls_config(
        &trust,
        &format!("https://localhost:{}", upstream.addr.port()),
        dir.path(),
        &ca,
    );
    config.upstream_tls.ca_file = Some(ca.write(dir.path(), "ca"));
    let gateway = start_gateway(config).await;
    let response = https_client(&ca, None)
        .get(url(gateway.addr, "/"))
        .header("authorization", auth(&trust.mint("read")))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 502);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "upstream_unavailable");
}

#[tokio::test]
async fn the_gateway_can_require_client_certificates() {
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new("OathMesh test CA");
    let clients_ca = TestCa::new("clients CA");
    let upstream = start_upstream().await;
    let trust = Trust::new();
    let mut config = tls_config(
        &trust,
        &format!("http://{}", upstream.addr),
        dir.path(),
        &ca,
    );
    config.tls.as_mut().unwrap().client_ca_file = Some(clients_ca.write(dir.path(), "clients"));
    let gateway = start_gateway(config).await;
    let token = trust.mint("read");

    for (case, identity) in [
        ("no certificate", None),
        (
            "a certificate from another CA",
            Some(ca.client_cert("svc", &[])),
        ),
    ] {
        let result = https_client(&ca, identity.as_ref())
            .get(url(gateway.addr, "/"))
            .header("authorization", auth(&token))
            .send()
            .await;
        assert!(result.is_err(), "{case}: the handshake must fail");
    }
    let good = https_client(&ca, Some(&clients_ca.client_cert("svc", &[])))
        .get(url(gateway.addr, "/"))
        .header("authorization", auth(&token))
        .send()
        .await
        .unwrap();
    assert_eq!(good.status(), 200);
}

/// Swaps the certificate while clients keep sending: every request succeeds, and new
/// connections see the new certificate within a few polls.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn certificate_reload_under_load_fails_no_request() {
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new("OathMesh test CA");
    let upstream = start_upstream().await;
    let trust = Trust::new();
    let config = tls_config(
        &trust,
        &format!("http://{}", upstream.addr),
        dir.path(),
        &ca,
    );
    let gateway = start_gateway(config).await;
    let addr = gateway.addr;

    let old_der = {
        let response = https_client(&ca, None)
            .get(url(addr, "/healthz"))
            .send()
            .await
            .unwrap();
        peer_certificate(&response)
    };

    // Four clients: each sends 150 requests with fresh tokens, opening a new connection every
    // 10 requests (a new client) and reusing it in between (keep-alive across the swap).
    let failures = Arc::new(AtomicUsize::new(0));
    let sent = Arc::new(AtomicUsize::new(0));
    let mut load = Vec::new();
    for _ in 0..4 {
        let ca_pem = ca.cert_pem().to_owned();
        let tokens: Vec<String> = (0..150).map(|_| trust.mint("read")).collect();
        let failures = failures.clone();
        let sent = sent.clone();
        load.push(tokio::spawn(async move {
            let started = Instant::now();
            let mut http = None;
            for (i, token) in tokens.iter().enumerate() {
                if i % 10 == 0 {
                    http = Some(
                        reqwest::Client::builder()
                            .use_rustls_tls()
                            .tls_built_in_root_certs(false)
                            .add_root_certificate(
                                reqwest::Certificate::from_pem(ca_pem.as_bytes()).unwrap(),
                            )
                            .build()
                            .unwrap(),
                    );
                }
                let result = http
                    .as_ref()
                    .unwrap()
                    .get(url(addr, "/orders"))
                    .header("authorization", auth(token))
                    .send()
                    .await;
                sent.fetch_add(1, Ordering::Relaxed);
                if !matches!(&result, Ok(r) if r.status() == 200) {
                    failures.fetch_add(1, Ordering::Relaxed);
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
                assert!(
                    started.elapsed() < Duration::from_secs(60),
                    "bounded in time"
                );
            }
        }));
    }

    // Swap when the load is under way: key first, then certificate, each by rename, as a
    // certificate manager would (a poll between the two sees a mismatched pair and keeps
    // the old certificate).
    while sent.load(Ordering::Relaxed) < 100 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let fresh = ca.server_cert(&["gateway.internal"]);
    let tls = dir.path();
    std::fs::write(tls.join("next.key"), &fresh.key_pem).unwrap();
    std::fs::write(tls.join("next.crt"), &fresh.cert_pem).unwrap();
    std::fs::rename(tls.join("next.key"), tls.join("gateway.key")).unwrap();
    std::fs::rename(tls.join("next.crt"), tls.join("gateway.crt")).unwrap();

    let deadline = Instant::now() + Duration::from_secs(10);
    let new_der = loop {
        let response = https_client(&ca, None)
            .get(url(addr, "/healthz"))
            .send()
            .await
            .unwrap();
        let der = peer_certificate(&response);
        if der != old_der || Instant::now() > deadline {
            break der;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(
        new_der, fresh.der,
        "new connections see the new certificate"
    );

    for task in load {
        task.await.unwrap();
    }
    assert_eq!(sent.load(Ordering::Relaxed), 600);
    assert_eq!(
        failures.load(Ordering::Relaxed),
        0,
        "no request failed across the swap"
    );
}

#[tokio::test]
async fn healthz_and_metrics_on_their_own_listener_parse() {
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new("OathMesh test CA");
    let upstream = start_upstream().await;
    let trust = Trust::new();
    let mut config = tls_config(
        &trust,
        &format!("http://{}", upstream.addr),
        dir.path(),
        &ca,
    );
    config.metrics_listen = Some("127.0.0.1:0".parse().unwrap());
    let bound = oathmesh_gateway::bind(&config).await.unwrap();
    let (addr, metrics_addr) = (bound.local_addr(), bound.metrics_addr().unwrap());
    tokio::spawn(bound.serve(std::future::pending()));
    let http = https_client(&ca, None);

    for (token, expected) in [
        (trust.mint("read"), 200),
        (trust.mint("read"), 200),
        (trust.mint("delete"), 403),
        (trust.mint_expired(), 401),
    ] {
        let response = http
            .get(url(addr, "/orders"))
            .header("authorization", auth(&token))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), expected);
    }
    // With metrics_listen set, the main listener forwards /metrics like any path (so it
    // needs a token), and the operations endpoints answer on the other listener.
    let on_main = http.get(url(addr, "/metrics")).send().await.unwrap();
    assert_eq!(on_main.status(), 401);
    let health = http
        .get(url(metrics_addr, "/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    let response = http
        .get(url(metrics_addr, "/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.headers()["content-type"],
        oathmesh_serving::metrics::CONTENT_TYPE
    );
    let text = response.text().await.unwrap();
    let samples = oathmesh_serving::metrics::parse(&text).expect("the exposition parses");
    let value = |name: &str, labels: &[(&str, &str)]| {
        oathmesh_serving::metrics::value_of(&samples, name, labels)
    };
    let requests = "oathmesh_gateway_requests_total";
    assert_eq!(
        value(requests, &[("outcome", "forwarded"), ("code", "200")]),
        Some(2.0),
        "{text}"
    );
    assert_eq!(
        value(
            requests,
            &[("outcome", "denied"), ("code", "policy_denied")]
        ),
        Some(1.0)
    );
    assert_eq!(
        value(
            requests,
            &[("outcome", "denied"), ("code", "token_expired")]
        ),
        Some(1.0)
    );
    assert_eq!(
        value(
            requests,
            &[("outcome", "denied"), ("code", "claim_missing:token")]
        ),
        Some(1.0)
    );
    assert_eq!(
        value("oathmesh_gateway_verify_duration_seconds_count", &[]),
        Some(5.0)
    );
    assert_eq!(
        value("oathmesh_gateway_upstream_duration_seconds_count", &[]),
        Some(2.0)
    );
}
