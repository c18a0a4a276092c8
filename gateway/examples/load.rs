//! Gateway overhead on loopback: the same requests at 50 concurrent connections, straight to
//! an upstream and through the gateway, with p50/p99 latency, throughput, and the gateway's
//! resident memory. Not a test: run it by hand.
//!
//! `cargo run --release -p oathmesh-gateway --example load -- [--requests N] [--connections C]
//!  [--rounds R] [--max-seconds S]`
//!
//! The upstream and the gateway run as child processes (this same binary in another mode), so
//! the gateway's RSS is its own. Tokens are single-use, so one token per gateway request is
//! minted before the clock starts. Every loop is bounded by a request count and a deadline,
//! and only loopback addresses are used.

use bytes::Bytes;
use http::Request;
use http_body_util::{BodyExt, Empty, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use oathmesh_core::{Issuer, MintRequest, generate_key};
use oathmesh_gateway::GatewayConfig;
use std::convert::Infallible;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use tokio::net::{TcpListener, TcpStream};

const ISS: &str = "https://issuer.bench";
const AUD: &str = "https://upstream.bench";

struct Options {
    requests: usize,
    connections: usize,
    rounds: usize,
    max_seconds: u64,
    /// Total requests per second across all connections; `None` sends as fast as answers
    /// come back (closed loop, which saturates the machine).
    rate: Option<f64>,
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("--serve-upstream") => serve_upstream(),
        Some("--serve-gateway") => serve_gateway(&args[1], &args[2]),
        _ => bench(parse_options(&args)),
    }
}

fn parse_options(args: &[String]) -> Options {
    let mut options = Options {
        requests: 20_000,
        connections: 50,
        rounds: 3,
        max_seconds: 60,
        rate: None,
    };
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        let value = |it: &mut std::slice::Iter<String>| -> usize {
            it.next()
                .and_then(|v| v.parse().ok())
                .unwrap_or_else(|| panic!("{flag} needs a number"))
        };
        match flag.as_str() {
            "--requests" => options.requests = value(&mut it).clamp(1, 1_000_000),
            "--connections" => options.connections = value(&mut it).clamp(1, 1000),
            "--rounds" => options.rounds = value(&mut it).clamp(1, 20),
            "--max-seconds" => options.max_seconds = value(&mut it).clamp(1, 600) as u64,
            "--rate" => options.rate = Some(value(&mut it).clamp(1, 1_000_000) as f64),
            other => panic!("unknown option {other}"),
        }
    }
    options
}

// ---------------------------------------------------------------- child processes

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// Resolves when the parent closes our stdin (it exited or is done with us).
async fn parent_gone() {
    let _ = tokio::task::spawn_blocking(|| {
        let mut sink = String::new();
        while std::io::stdin().read_line(&mut sink).is_ok_and(|n| n > 0) {}
    })
    .await;
}

/// A minimal upstream: 200 with a two-byte body.
fn serve_upstream() {
    runtime().block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        println!("LISTENING {}", listener.local_addr().unwrap());
        let accept = async {
            loop {
                let (stream, _) = listener.accept().await.unwrap();
                let _ = stream.set_nodelay(true);
                tokio::spawn(async move {
                    let service = service_fn(|_: Request<Incoming>| async {
                        Ok::<_, Infallible>(hyper::Response::new(Full::new(Bytes::from_static(
                            b"ok",
                        ))))
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        };
        tokio::select! {
            () = accept => {}
            () = parent_gone() => {}
        }
    });
}

fn serve_gateway(upstream: &str, verifier_json: &str) {
    let mut config =
        GatewayConfig::new(&format!("http://{upstream}"), verifier_json.as_bytes()).unwrap();
    config.listen = "127.0.0.1:0".parse().unwrap();
    runtime().block_on(async {
        let bound = oathmesh_gateway::bind(&config).await.unwrap();
        println!("LISTENING {}", bound.local_addr());
        bound.serve(parent_gone()).await.unwrap();
    });
}

/// A child process of this binary, killed on drop.
struct ChildServer {
    child: Child,
    addr: SocketAddr,
}

impl ChildServer {
    fn spawn(args: &[&str]) -> ChildServer {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.as_mut().unwrap())
            .read_line(&mut line)
            .unwrap();
        let addr = line
            .trim()
            .strip_prefix("LISTENING ")
            .unwrap_or_else(|| panic!("child said {line:?}"))
            .parse()
            .unwrap();
        ChildServer { child, addr }
    }

    fn proc_status(&self, field: &str) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).ok()?;
        let line = status.lines().find(|l| l.starts_with(field))?;
        line.split_whitespace().nth(1)?.parse().ok()
    }

    /// User plus system CPU time, in clock ticks (100 Hz on Linux).
    fn cpu_ticks(&self) -> Option<u64> {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.child.id())).ok()?;
        let after_name = &stat[stat.rfind(')')? + 2..];
        let fields: Vec<&str> = after_name.split_whitespace().collect();
        Some(fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?)
    }
}

impl Drop for ChildServer {
    fn drop(&mut self) {
        drop(self.child.stdin.take());
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// ---------------------------------------------------------------- load

struct RunResult {
    latencies_us: Vec<u64>,
    errors: u64,
    elapsed: Duration,
}

impl RunResult {
    fn percentile(&self, p: f64) -> f64 {
        let mut sorted = self.latencies_us.clone();
        sorted.sort_unstable();
        if sorted.is_empty() {
            return f64::NAN;
        }
        let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
        sorted[index] as f64 / 1000.0
    }

    fn throughput(&self) -> f64 {
        self.latencies_us.len() as f64 / self.elapsed.as_secs_f64()
    }
}

/// `requests` GETs over `connections` keep-alive connections; request `i` carries
/// `tokens[i]` when tokens are given. With a `rate`, each connection sends on its own
/// schedule (staggered), else as soon as its previous answer is in. Latency is measured
/// from the actual send. Stops at the count or the deadline.
async fn drive(
    addr: SocketAddr,
    requests: usize,
    connections: usize,
    tokens: Option<Arc<Vec<String>>>,
    deadline: Instant,
    rate: Option<f64>,
) -> RunResult {
    let interval = rate.map(|r| Duration::from_secs_f64(connections as f64 / r));
    let next = Arc::new(AtomicUsize::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..connections {
        let (next, errors, tokens) = (next.clone(), errors.clone(), tokens.clone());
        let first = tokio::time::Instant::now()
            + interval.map_or(Duration::ZERO, |i| i.mul_f64(c as f64 / connections as f64));
        tasks.push(tokio::spawn(async move {
            let stream = TcpStream::connect(addr).await.unwrap();
            stream.set_nodelay(true).unwrap();
            let (mut sender, connection) =
                hyper::client::conn::http1::handshake(TokioIo::new(stream))
                    .await
                    .unwrap();
            tokio::spawn(connection);
            let mut latencies = Vec::new();
            let mut scheduled = first;
            loop {
                if let Some(interval) = interval {
                    tokio::time::sleep_until(scheduled).await;
                    scheduled += interval;
                }
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= requests || Instant::now() > deadline {
                    break;
                }
                let mut request = Request::get("/orders/42?view=full").header("host", "bench");
                if let Some(tokens) = &tokens {
                    request = request.header("authorization", format!("OathMesh {}", tokens[i]));
                }
                let request = request.body(Empty::<Bytes>::new()).unwrap();
                let sent = Instant::now();
                let ok = match sender.send_request(request).await {
                    Ok(response) => {
                        let status = response.status();
                        response.into_body().collect().await.is_ok() && status.is_success()
                    }
                    Err(_) => false,
                };
                if ok {
                    latencies.push(sent.elapsed().as_micros() as u64);
                } else {
                    errors.fetch_add(1, Ordering::Relaxed);
                    if sender.ready().await.is_err() {
                        break;
                    }
                }
            }
            latencies
        }));
    }
    let mut latencies_us = Vec::with_capacity(requests);
    for task in tasks {
        latencies_us.extend(task.await.unwrap());
    }
    RunResult {
        latencies_us,
        errors: errors.load(Ordering::Relaxed),
        elapsed: started.elapsed(),
    }
}

fn mint_tokens(issuer: &Issuer, n: usize) -> Vec<String> {
    (0..n)
        .map(|_| {
            issuer
                .mint(&MintRequest {
                    sub: "svc://checkout".into(),
                    aud: AUD.into(),
                    act: "read".into(),
                    ttl_hint: Some(300),
                    scope: Some(vec!["orders:read".into()]),
                    ..Default::default()
                })
                .unwrap()
                .token
        })
        .collect()
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(|a, b| a.partial_cmp(b).unwrap());
    values[values.len() / 2]
}

fn bench(options: Options) {
    let key = generate_key();
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
    let upstream = ChildServer::spawn(&["--serve-upstream"]);
    let gateway = ChildServer::spawn(&["--serve-gateway", &upstream.addr.to_string(), &verifier]);
    let rss_idle_kb = gateway.proc_status("VmRSS:").unwrap_or(0);

    let warmup = 2_000.min(options.requests);
    let minted = Instant::now();
    let total_tokens = warmup + options.requests * options.rounds;
    let mut tokens = mint_tokens(&issuer, total_tokens).into_iter();
    let mint_rate = total_tokens as f64 / minted.elapsed().as_secs_f64();
    println!(
        "{} requests per run, {} connections, {}, {} rounds; {} tokens pre-minted ({:.0}/s)",
        options.requests,
        options.connections,
        options.rate.map_or("closed loop".to_owned(), |r| format!(
            "{r:.0} req/s offered"
        )),
        options.rounds,
        total_tokens,
        mint_rate
    );

    let runtime = runtime();
    let max_rss_kb = Arc::new(AtomicU64::new(rss_idle_kb));
    let sampling = Arc::new(AtomicBool::new(true));
    let sampler = {
        let (max_rss_kb, sampling) = (max_rss_kb.clone(), sampling.clone());
        let path = format!("/proc/{}/status", gateway.child.id());
        std::thread::spawn(move || {
            while sampling.load(Ordering::Relaxed) {
                if let Some(kb) = std::fs::read_to_string(&path).ok().and_then(|s| {
                    s.lines()
                        .find(|l| l.starts_with("VmRSS:"))
                        .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
                }) {
                    max_rss_kb.fetch_max(kb, Ordering::Relaxed);
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        })
    };

    let deadline = || Instant::now() + Duration::from_secs(options.max_seconds);
    runtime.block_on(async {
        let warm: Vec<String> = tokens.by_ref().take(warmup).collect();
        let n = options.connections;
        drive(upstream.addr, warmup, n, None, deadline(), None).await;
        drive(
            gateway.addr,
            warmup,
            n,
            Some(Arc::new(warm)),
            deadline(),
            None,
        )
        .await;
    });

    let (mut direct, mut through) = (Vec::new(), Vec::new());
    let mut gateway_cpu_us_per_request = Vec::new();
    println!(
        "\n{:<8} {:<9} {:>9} {:>9} {:>12} {:>7}",
        "round", "target", "p50 ms", "p99 ms", "req/s", "errors"
    );
    for round in 1..=options.rounds {
        let round_tokens: Vec<String> = tokens.by_ref().take(options.requests).collect();
        let d = runtime.block_on(drive(
            upstream.addr,
            options.requests,
            options.connections,
            None,
            deadline(),
            options.rate,
        ));
        let cpu_before = gateway.cpu_ticks();
        let g = runtime.block_on(drive(
            gateway.addr,
            options.requests,
            options.connections,
            Some(Arc::new(round_tokens)),
            deadline(),
            options.rate,
        ));
        if let (Some(before), Some(after)) = (cpu_before, gateway.cpu_ticks()) {
            // Clock ticks are 10 ms: coarse, but over thousands of requests it averages out.
            gateway_cpu_us_per_request
                .push((after - before) as f64 * 10_000.0 / g.latencies_us.len().max(1) as f64);
        }
        for (name, r) in [("direct", &d), ("gateway", &g)] {
            println!(
                "{:<8} {:<9} {:>9.3} {:>9.3} {:>12.0} {:>7}",
                round,
                name,
                r.percentile(0.50),
                r.percentile(0.99),
                r.throughput(),
                r.errors
            );
        }
        direct.push(d);
        through.push(g);
    }
    sampling.store(false, Ordering::Relaxed);
    sampler.join().unwrap();
    let peak_kb = gateway.proc_status("VmHWM:").unwrap_or(0);

    let med =
        |runs: &[RunResult], f: &dyn Fn(&RunResult) -> f64| median(runs.iter().map(f).collect());
    let (d50, d99, dtp) = (
        med(&direct, &|r| r.percentile(0.5)),
        med(&direct, &|r| r.percentile(0.99)),
        med(&direct, &|r| r.throughput()),
    );
    let (g50, g99, gtp) = (
        med(&through, &|r| r.percentile(0.5)),
        med(&through, &|r| r.percentile(0.99)),
        med(&through, &|r| r.throughput()),
    );
    println!("\nmedian of {} rounds:", options.rounds);
    println!("  direct:  p50 {d50:.3} ms  p99 {d99:.3} ms  {dtp:.0} req/s");
    println!("  gateway: p50 {g50:.3} ms  p99 {g99:.3} ms  {gtp:.0} req/s");
    println!(
        "  overhead: p50 +{:.3} ms  p99 +{:.3} ms  throughput x{:.2} of direct",
        g50 - d50,
        g99 - d99,
        gtp / dtp
    );
    if !gateway_cpu_us_per_request.is_empty() {
        println!(
            "  gateway CPU: {:.0} us per request",
            median(gateway_cpu_us_per_request)
        );
    }
    println!(
        "  gateway RSS: idle {:.1} MB, max sampled under load {:.1} MB, peak (VmHWM) {:.1} MB",
        rss_idle_kb as f64 / 1024.0,
        max_rss_kb.load(Ordering::Relaxed) as f64 / 1024.0,
        peak_kb as f64 / 1024.0
    );
}
