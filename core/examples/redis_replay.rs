//! What the shared Redis replay cache costs per verification, against the in-memory cache,
//! measured in the same run, interleaved so machine noise hits both alike.
//!
//! `OATHMESH_TEST_REDIS_URL=redis://127.0.0.1:6379/ cargo run --release -p oathmesh-core --example redis_replay`
//! (without the variable it starts a private `redis-server` on a free loopback port).

use oathmesh_core::redis_store::{OnError, RedisPool, RedisReplayCache, RedisRevocationList};
use oathmesh_core::*;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

const ISS: &str = "https://issuer.bench";
const AUD: &str = "https://api.bench";
const ROUNDS: usize = 5;
const PER_ROUND: usize = 4000;

fn main() {
    let (url, mut child, _dir) = redis();
    let key = generate_key();
    let issuer = Issuer::new(
        ISS,
        Arc::new(LocalSigner::from_pem(&key.private_pem, None).unwrap()),
    )
    .unwrap();
    let keys = || {
        let mut set = KeySet::default();
        set.insert(keys::verifying_key_from_pem(&key.public_pem).unwrap(), None);
        Arc::new(StaticKeys::shared(set))
    };
    let pool = || RedisPool::new(&url, Duration::from_millis(250)).unwrap();
    let memory = Verifier::new(VerifierConfig::new(AUD, vec![ISS.into()], keys())).unwrap();
    let mut config = VerifierConfig::new(AUD, vec![ISS.into()], keys());
    config.replay_cache = Arc::new(RedisReplayCache::new(
        pool(),
        1_000_000,
        OnError::Reject,
        Arc::new(SystemClock),
        OpsReporter::new(),
    ));
    let redis_replay = Verifier::new(config).unwrap();
    let mut config = VerifierConfig::new(AUD, vec![ISS.into()], keys());
    config.replay_cache = Arc::new(RedisReplayCache::new(
        pool(),
        1_000_000,
        OnError::Reject,
        Arc::new(SystemClock),
        OpsReporter::new(),
    ));
    config.revocation = Some(Arc::new(RedisRevocationList::new(pool())));
    let redis_both = Verifier::new(config).unwrap();

    let mint = |n: usize| -> Vec<String> {
        (0..n)
            .map(|_| {
                issuer
                    .mint(&MintRequest {
                        sub: "svc://bench".into(),
                        aud: AUD.into(),
                        act: "go".into(),
                        ..Default::default()
                    })
                    .unwrap()
                    .token
            })
            .collect()
    };
    let run = |v: &Verifier, tokens: &[String]| -> Duration {
        let started = Instant::now();
        for t in tokens {
            v.verify(t, &VerifyContext::default()).expect("allowed");
        }
        started.elapsed()
    };
    // Warm up connections and caches.
    run(&redis_both, &mint(200));
    run(&redis_replay, &mint(200));
    run(&memory, &mint(200));
    let (mut m, mut r, mut b) = (Duration::ZERO, Duration::ZERO, Duration::ZERO);
    for _ in 0..ROUNDS {
        m += run(&memory, &mint(PER_ROUND));
        r += run(&redis_replay, &mint(PER_ROUND));
        b += run(&redis_both, &mint(PER_ROUND));
    }
    let per = |d: Duration| d.as_secs_f64() * 1e6 / (ROUNDS * PER_ROUND) as f64;
    println!(
        "verify, in-memory replay cache:            {:8.1} us",
        per(m)
    );
    println!(
        "verify, Redis replay cache (1 round trip): {:8.1} us  ({:.1}x)",
        per(r),
        per(r) / per(m)
    );
    println!(
        "verify, Redis replay + revocation (2 RTT): {:8.1} us  ({:.1}x)",
        per(b),
        per(b) / per(m)
    );
    println!("Redis round trip on loopback ~ {:.1} us", per(r) - per(m));
    if let Some(c) = &mut child {
        let _ = c.kill();
        let _ = c.wait();
    }
}

fn redis() -> (
    String,
    Option<std::process::Child>,
    Option<std::path::PathBuf>,
) {
    if let Ok(url) = std::env::var("OATHMESH_TEST_REDIS_URL") {
        return (url, None, None);
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dir = std::env::temp_dir().join(format!("oathmesh-bench-redis-{port}"));
    std::fs::create_dir_all(&dir).unwrap();
    let child = Command::new("redis-server")
        .args([
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
        ])
        .arg("--dir")
        .arg(&dir)
        .stdout(Stdio::null())
        .spawn()
        .expect("redis-server");
    std::thread::sleep(Duration::from_millis(300));
    (format!("redis://127.0.0.1:{port}/"), Some(child), Some(dir))
}
