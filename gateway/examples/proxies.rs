//! The gateway against the proxies a platform team already runs, in one run on loopback
//! (docs/benchmarks.md, "Gateway vs nginx and a Go proxy"):
//! - nginx (Debian's) as a plain reverse proxy, no authentication;
//! - a Go `httputil.ReverseProxy` checking the token with golang-jwt v5 (`gateway/bench/goproxy`);
//! - `oathmesh gateway` (full pipeline: signature, claims, memory replay cache, a policy).
//!
//! Each proxy in turn, plain HTTP then TLS (keep-alive connections, so handshakes are
//! amortised), serves the same paced load to the same upstream. Reported per proxy: p50/p99
//! latency and the proxy process's CPU time per request (user + system from /proc/<pid>/stat),
//! plus one `verify_strict` measured in this process in the same run, the yardstick of the
//! target: gateway CPU/request <= nginx CPU/request + 1.1 x verify_strict.
//!
//! `cargo run --release -p oathmesh-gateway --example proxies -- [--requests N] [--rate R]
//!  [--connections C]`. Bounded by the request count and 60 s per run; loopback only. nginx
//! and Go are skipped (and said so) when not installed.

#[path = "bench/mod.rs"]
mod bench;

use bench::{AUD, ChildServer, ISS, RunResult, drive, drive_over, mint_tokens, runtime};
use ed25519_dalek::{Signature, VerifyingKey};
use oathmesh_core::{Issuer, generate_key};
use oathmesh_serving::test_pki::TestCa;
use rustls_pki_types::pem::PemObject;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

struct Options {
    requests: usize,
    rate: f64,
    connections: usize,
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("--serve-upstream") => bench::serve_upstream(),
        Some("--serve-gateway") => bench::serve_gateway(&args[1], &args[2], &args[3..]),
        _ => compare(parse(&args)),
    }
}

fn parse(args: &[String]) -> Options {
    let mut options = Options {
        requests: 10_000,
        rate: 1_000.0,
        connections: 10,
    };
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        let value = |it: &mut std::slice::Iter<String>| -> usize {
            it.next()
                .and_then(|v| v.parse().ok())
                .unwrap_or_else(|| panic!("{flag} needs a number"))
        };
        match flag.as_str() {
            "--requests" => options.requests = value(&mut it).clamp(100, 200_000),
            "--rate" => options.rate = value(&mut it).clamp(10, 20_000) as f64,
            "--connections" => options.connections = value(&mut it).clamp(1, 200),
            other => panic!("unknown option {other}"),
        }
    }
    options
}

/// CPU time (user + system) of the calling thread, in clock ticks.
fn thread_cpu_ticks() -> u64 {
    let stat = std::fs::read_to_string("/proc/thread-self/stat").unwrap();
    let fields: Vec<&str> = stat[stat.rfind(')').unwrap() + 2..]
        .split_whitespace()
        .collect();
    fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap()
}

/// CPU microseconds of one strict Ed25519 verification of a real token, on this thread.
fn verify_strict_us(issuer: &Issuer, jwk_x: &str) -> f64 {
    let token = mint_tokens(issuer, 1).remove(0);
    let (signing_input, signature) = token.rsplit_once('.').unwrap();
    let b64 = |s: &str| {
        use base64::Engine;
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(s)
            .unwrap()
    };
    let key = VerifyingKey::from_bytes(&b64(jwk_x).try_into().unwrap()).unwrap();
    let signature = Signature::from_slice(&b64(signature)).unwrap();
    let n = 20_000;
    let before = thread_cpu_ticks();
    for _ in 0..n {
        key.verify_strict(signing_input.as_bytes(), &signature)
            .unwrap();
        std::hint::black_box(&signature);
    }
    let ticks = thread_cpu_ticks() - before;
    ticks as f64 * 10_000.0 / n as f64
}

fn nginx_conf(dir: &Path, port: u16, upstream: &str, tls: Option<(&Path, &Path)>) -> PathBuf {
    let (listen, certs) = match tls {
        Some((cert, key)) => (
            format!("127.0.0.1:{port} ssl"),
            format!(
                "ssl_certificate {}; ssl_certificate_key {}; ssl_protocols TLSv1.2 TLSv1.3;",
                cert.display(),
                key.display()
            ),
        ),
        None => (format!("127.0.0.1:{port}"), String::new()),
    };
    let d = dir.display();
    let conf = format!(
        "worker_processes 1; master_process off; daemon off; pid {d}/nginx.pid;
error_log {d}/nginx-error.log warn;
events {{ worker_connections 1024; }}
http {{
  access_log off;
  client_body_temp_path {d}/body; proxy_temp_path {d}/proxy; fastcgi_temp_path {d}/fcgi;
  uwsgi_temp_path {d}/uwsgi; scgi_temp_path {d}/scgi;
  upstream up {{ server {upstream}; keepalive 64; }}
  server {{
    listen {listen}; {certs}
    location / {{ proxy_pass http://up; proxy_http_version 1.1; proxy_set_header Connection \"\"; }}
  }}
}}
"
    );
    let path = dir.join(format!("nginx-{port}.conf"));
    std::fs::write(&path, conf).unwrap();
    path
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn available(program: &str) -> bool {
    Command::new(program)
        .arg(if program == "go" { "version" } else { "-v" })
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Builds the Go proxy into `dir` (modules through the Go proxy, like any Go build).
fn build_go_proxy(dir: &Path) -> Option<PathBuf> {
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("bench/goproxy");
    let out = dir.join("goproxy");
    let built = Command::new("go")
        .args(["build", "-o"])
        .arg(&out)
        .arg(".")
        .current_dir(source)
        .env("GOFLAGS", "-mod=mod")
        .status()
        .ok()?;
    built.success().then_some(out)
}

struct Row {
    proxy: &'static str,
    tls: bool,
    result: RunResult,
    cpu_us: f64,
}

fn compare(options: Options) {
    let dir = tempfile::tempdir().unwrap();
    let key = generate_key();
    let jwk_x = key.jwk.x.clone();
    let issuer = Issuer::from_json(
        serde_json::json!({"issuer": ISS, "private_key_pem": key.private_pem})
            .to_string()
            .as_bytes(),
    )
    .unwrap();
    let verifier = serde_json::json!({
        "audience": AUD,
        "trusted_issuers": [ISS],
        "jwks": {"keys": [key.jwk]},
        "policy": {"version": 1, "rules": [
            {"name": "checkout-reads", "allow": true, "match": {"sub": "svc://checkout", "act": "read"}}
        ]}
    })
    .to_string();
    let ca = TestCa::new("bench CA");
    let (cert, tls_key) = ca.server_cert(&[]).write(dir.path(), "proxy");
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(rustls_pki_types::CertificateDer::from_pem_slice(ca.cert_pem().as_bytes()).unwrap())
        .unwrap();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(
        rustls::ClientConfig::builder_with_provider(oathmesh_serving::tls::provider())
            .with_protocol_versions(oathmesh_serving::tls::PROTOCOL_VERSIONS)
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth(),
    ));

    let upstream = ChildServer::spawn(&["--serve-upstream"]);
    let upstream_addr = upstream.addr.to_string();
    let go = if available("go") {
        build_go_proxy(dir.path())
    } else {
        None
    };
    let nginx = available("nginx");
    println!(
        "{} requests per run at {:.0} req/s over {} keep-alive connections; nginx {}, Go proxy {}",
        options.requests,
        options.rate,
        options.connections,
        if nginx {
            "found"
        } else {
            "NOT INSTALLED (skipped)"
        },
        if go.is_some() {
            "built"
        } else {
            "NOT BUILT (skipped)"
        },
    );
    let verify_us = verify_strict_us(&issuer, &jwk_x);
    println!("one verify_strict: {verify_us:.1} us of CPU (this process, same run)");

    let runtime = runtime();
    let mut rows = Vec::new();
    for tls in [false, true] {
        let tls_args = [
            cert.to_string_lossy().into_owned(),
            tls_key.to_string_lossy().into_owned(),
        ];
        let mut servers: Vec<(&'static str, ChildServer)> = Vec::new();
        if nginx {
            let port = free_port();
            let conf = nginx_conf(
                dir.path(),
                port,
                &upstream_addr,
                tls.then_some((cert.as_path(), tls_key.as_path())),
            );
            let mut command = Command::new("nginx");
            command.arg("-p").arg(dir.path()).arg("-c").arg(conf);
            servers.push((
                "nginx (no auth)",
                ChildServer::spawn_listening_on(
                    command,
                    format!("127.0.0.1:{port}").parse().unwrap(),
                ),
            ));
        }
        if let Some(go) = &go {
            let mut command = Command::new(go);
            command.args([
                "-listen",
                "127.0.0.1:0",
                "-upstream",
                &format!("http://{upstream_addr}"),
                "-jwk-x",
                &jwk_x,
                "-iss",
                ISS,
                "-aud",
                AUD,
            ]);
            if tls {
                command.arg("-cert").arg(&cert).arg("-key").arg(&tls_key);
            }
            servers.push((
                "Go httputil + golang-jwt",
                ChildServer::spawn_command(command),
            ));
        }
        let mut gateway_args = vec!["--serve-gateway", upstream_addr.as_str(), verifier.as_str()];
        if tls {
            gateway_args.extend(tls_args.iter().map(String::as_str));
        }
        servers.push(("oathmesh gateway", ChildServer::spawn(&gateway_args)));

        for (name, server) in servers {
            let connector = tls.then(|| connector.clone());
            let deadline = || Instant::now() + Duration::from_secs(60);
            let warm = Arc::new(mint_tokens(&issuer, 1_000));
            runtime.block_on(drive_over(
                server.addr,
                connector.clone(),
                1_000,
                options.connections,
                Some(warm),
                deadline(),
                Some(options.rate * 2.0),
            ));
            let tokens = Arc::new(mint_tokens(&issuer, options.requests));
            let before = server.cpu_ticks().unwrap();
            let result = runtime.block_on(drive_over(
                server.addr,
                connector,
                options.requests,
                options.connections,
                Some(tokens),
                deadline(),
                Some(options.rate),
            ));
            let ticks = server.cpu_ticks().unwrap() - before;
            let cpu_us = ticks as f64 * 10_000.0 / result.latencies_us.len().max(1) as f64;
            rows.push(Row {
                proxy: name,
                tls,
                result,
                cpu_us,
            });
        }
    }
    // The upstream alone, for reference (no proxy in the path).
    let direct = runtime.block_on(drive(
        upstream.addr,
        options.requests.min(5_000),
        options.connections,
        None,
        Instant::now() + Duration::from_secs(60),
        Some(options.rate),
    ));

    println!(
        "\n| proxy | TLS | p50 ms | p99 ms | CPU µs/request | errors |\n|---|---|---|---|---|---|"
    );
    for row in &rows {
        println!(
            "| {} | {} | {:.3} | {:.3} | {:.0} | {} |",
            row.proxy,
            if row.tls { "yes" } else { "no" },
            row.result.percentile(0.5),
            row.result.percentile(0.99),
            row.cpu_us,
            row.result.errors
        );
    }
    println!(
        "| (upstream direct) | no | {:.3} | {:.3} | | {} |",
        direct.percentile(0.5),
        direct.percentile(0.99),
        direct.errors
    );
    for tls in [false, true] {
        let cpu = |name: &str| {
            rows.iter()
                .find(|r| r.tls == tls && r.proxy.starts_with(name))
                .map(|r| r.cpu_us)
        };
        if let (Some(gateway), Some(nginx)) = (cpu("oathmesh"), cpu("nginx")) {
            let budget = nginx + 1.1 * verify_us;
            println!(
                "TLS {}: gateway {gateway:.0} µs vs nginx + 1.1 x verify_strict = {budget:.0} µs ({}); extra over nginx = {:.2} x verify_strict",
                if tls { "yes" } else { "no" },
                if gateway <= budget {
                    "within target"
                } else {
                    "OVER target"
                },
                (gateway - nginx) / verify_us
            );
        }
        if let (Some(gateway), Some(go)) = (cpu("oathmesh"), cpu("Go")) {
            println!(
                "TLS {}: gateway / Go proxy CPU = {:.2}",
                if tls { "yes" } else { "no" },
                gateway / go
            );
        }
    }
}
