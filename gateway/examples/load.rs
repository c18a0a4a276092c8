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

#[path = "bench/mod.rs"]
mod bench;

use bench::{AUD, ChildServer, ISS, RunResult, drive, median, mint_tokens, runtime};
use oathmesh_core::{Issuer, generate_key};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

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
        Some("--serve-upstream") => bench::serve_upstream(),
        Some("--serve-gateway") => bench::serve_gateway(&args[1], &args[2], &args[3..]),
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
