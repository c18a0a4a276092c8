//! The Redis replay cache and revocation list against a real `redis-server` on loopback,
//! including the faults: Redis killed mid-run, Redis too slow, Redis back again.
#![cfg(feature = "redis")]

mod support;

use oathmesh_core::redis_store::*;
use oathmesh_core::*;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use support::*;

const ISS: &str = "https://issuer.test";

struct Setup {
    key: Key,
    clock: Arc<FixedClock>,
    events: Arc<Mutex<Vec<&'static str>>>,
}

impl Setup {
    fn new() -> Setup {
        Setup {
            key: Key::new("k1"),
            clock: Arc::new(FixedClock::at_secs(NOW)),
            events: Arc::new(Mutex::new(Vec::new())),
        }
    }

    fn verifier(
        &self,
        url: &str,
        on_error: OnError,
        timeout_ms: u64,
    ) -> (Verifier, Arc<RedisReplayCache>) {
        let ops = OpsReporter::new();
        let seen = self.events.clone();
        ops.subscribe(move |e| seen.lock().unwrap().push(e.state));
        let pool = RedisPool::new(url, Duration::from_millis(timeout_ms)).unwrap();
        let cache = Arc::new(RedisReplayCache::new(
            pool,
            10_000,
            on_error,
            self.clock.clone(),
            ops,
        ));
        let mut keys = KeySet::default();
        keys.insert(
            keys::verifying_key_from_pem(&self.key.generated.public_pem).unwrap(),
            Some("k1"),
        );
        let mut config =
            VerifierConfig::new(AUD, vec![ISS.into()], Arc::new(StaticKeys::shared(keys)));
        config.clock = self.clock.clone();
        config.replay_cache = cache.clone();
        let revocations = RedisRevocationList::new(
            RedisPool::new(url, Duration::from_millis(timeout_ms)).unwrap(),
        );
        config.revocation = Some(Arc::new(revocations));
        (Verifier::new(config).unwrap(), cache)
    }

    fn token(&self, sub: &str) -> String {
        self.key.mint(ISS, sub, self.clock.clone())
    }
}

fn verify(v: &Verifier, token: &str) -> String {
    code(v.verify(token, &VerifyContext::default()))
}

fn shared_redis() -> (Option<RedisServer>, String) {
    // The test script's instance when given (as bindings use it), else a private one.
    match std::env::var("OATHMESH_TEST_REDIS_URL") {
        Ok(url) if !url.is_empty() => (None, url),
        _ => {
            let server = RedisServer::start();
            let url = server.url();
            (Some(server), url)
        }
    }
}

#[test]
fn each_token_is_accepted_once_across_verifiers_sharing_redis() {
    let (_server, url) = shared_redis();
    let s = Setup::new();
    let (a, _) = s.verifier(&url, OnError::Reject, 1000);
    let (b, _) = s.verifier(&url, OnError::Reject, 1000);
    let tokens: Vec<String> = (0..50).map(|_| s.token("svc://checkout")).collect();
    let mut accepted = 0;
    for token in &tokens {
        for v in [&a, &b, &a] {
            match verify(v, token).as_str() {
                "allow" => accepted += 1,
                "replay_detected" => {}
                other => panic!("unexpected {other}"),
            }
        }
    }
    assert_eq!(accepted, tokens.len());
}

#[test]
fn the_record_lives_until_the_token_could_no_longer_be_accepted() {
    let server = RedisServer::start();
    let s = Setup::new();
    let (v, _) = s.verifier(&server.url(), OnError::Reject, 1000);
    let token = s.token("svc://a");
    assert_eq!(verify(&v, &token), "allow");
    let caller = Verifier::from_json(
        serde_json::json!({"audience": AUD, "trusted_issuers": [ISS], "jwks": {"keys": [s.key.jwk()]}, "testing": {"now": NOW}})
            .to_string()
            .as_bytes(),
    )
    .unwrap()
    .verify(&token, &VerifyContext::default())
    .unwrap();
    let key = format!("oathmesh:replay:{}", caller.token_id);
    let pttl: i64 = server.cmd(&["PTTL", &key]).unwrap()[1..].parse().unwrap();
    // exp - now + leeway: the default lifetime is 120 s and the leeway 10 s.
    assert!(pttl > 125_000 && pttl <= 130_000, "{pttl}");
    assert_eq!(server.cmd(&["GET", &key]).unwrap(), "$1");
}

#[test]
fn revocation_by_one_verifier_is_seen_by_the_other_at_once() {
    let (_server, url) = shared_redis();
    let s = Setup::new();
    let (a, _) = s.verifier(&url, OnError::Reject, 1000);
    let (b, _) = s.verifier(&url, OnError::Reject, 1000);
    let admin = RedisRevocationList::new(RedisPool::new(&url, Duration::from_secs(1)).unwrap());
    let subject = format!("svc://revoked-{}", std::process::id());
    assert_eq!(verify(&a, &s.token(&subject)), "allow");
    admin.revoke(&subject, NOW).unwrap();
    assert_eq!(verify(&b, &s.token(&subject)), "subject_revoked");
    assert_eq!(verify(&a, &s.token(&subject)), "subject_revoked");
    assert!(
        admin
            .list()
            .unwrap()
            .contains(&(subject.clone(), "2027-01-15T08:00:00Z".to_owned()))
    );
    assert!(admin.unrevoke(&subject).unwrap());
    assert!(!admin.unrevoke(&subject).unwrap());
    assert_eq!(verify(&b, &s.token(&subject)), "allow");
}

#[test]
fn redis_killed_mid_run_lets_no_replay_through_and_the_breaker_recovers() {
    let mut server = RedisServer::start();
    let s = Setup::new();
    let (v, cache) = s.verifier(&server.url(), OnError::Fallback, 200);
    // The revocation list is on the same Redis: without it, revocation_unavailable. Use a
    // verifier without revocation for the replay fault.
    let before: Vec<String> = (0..5).map(|_| s.token("svc://a")).collect();
    for t in &before {
        assert_eq!(verify(&v, t), "allow");
    }
    server.kill();
    // Every replay of a token accepted before the outage is still refused.
    for t in &before {
        assert_eq!(verify(&v, t), "revocation_unavailable");
        assert_eq!(
            cache.check_and_record(&jti_of(&s, t), NOW + 200, NOW),
            Ok(ReplayCheck::Replayed)
        );
    }
    // New tokens: the breaker opens after three errors and the in-process cache answers.
    let during: Vec<String> = (0..5).map(|_| s.token("svc://a")).collect();
    for t in &during {
        let jti = jti_of(&s, t);
        assert_eq!(
            cache.check_and_record(&jti, NOW + 200, NOW),
            Ok(ReplayCheck::Fresh)
        );
        assert_eq!(
            cache.check_and_record(&jti, NOW + 200, NOW),
            Ok(ReplayCheck::Replayed)
        );
    }
    assert_eq!(cache.breaker_state(), BreakerState::Open);
    assert_eq!(
        s.events
            .lock()
            .unwrap()
            .iter()
            .filter(|e| **e == "breaker_open")
            .count(),
        1
    );
    // While open, Redis is not asked (no timeouts on the request path).
    let started = Instant::now();
    for _ in 0..100 {
        let t = s.token("svc://a");
        let _ = cache.check_and_record(&jti_of(&s, &t), NOW + 200, NOW);
    }
    assert!(started.elapsed() < Duration::from_secs(2));

    server.restart();
    s.clock.advance_secs(29);
    let t = s.token("svc://a");
    assert_eq!(
        cache.check_and_record(&jti_of(&s, &t), NOW + 300, NOW + 29),
        Ok(ReplayCheck::Fresh)
    );
    assert_eq!(
        cache.breaker_state(),
        BreakerState::Open,
        "no probe before 30 s"
    );
    s.clock.advance_secs(2);
    let after = s.token("svc://a");
    assert_eq!(verify(&v, &after), "allow");
    assert_eq!(cache.breaker_state(), BreakerState::Closed);
    assert!(s.events.lock().unwrap().contains(&"breaker_closed"));
    assert_eq!(verify(&v, &after), "replay_detected");
    // Redis restarted empty, but tokens this process accepted stay single-use.
    for t in before.iter().chain(&during) {
        assert_eq!(verify(&v, t), "replay_detected");
    }
}

fn jti_of(s: &Setup, token: &str) -> String {
    let v = Verifier::from_json(
        serde_json::json!({"audience": AUD, "trusted_issuers": [ISS], "jwks": {"keys": [s.key.jwk()]}, "testing": {"now": s.clock.now_secs()}})
            .to_string()
            .as_bytes(),
    )
    .unwrap();
    v.verify(token, &VerifyContext::default()).unwrap().token_id
}

#[test]
fn reject_mode_answers_replay_cache_unavailable_and_never_allows() {
    let mut server = RedisServer::start();
    let s = Setup::new();
    let pool = RedisPool::new(&server.url(), Duration::from_millis(200)).unwrap();
    let cache = Arc::new(RedisReplayCache::new(
        pool,
        100,
        OnError::Reject,
        s.clock.clone(),
        OpsReporter::new(),
    ));
    let mut keys = KeySet::default();
    keys.insert(
        keys::verifying_key_from_pem(&s.key.generated.public_pem).unwrap(),
        Some("k1"),
    );
    let mut config = VerifierConfig::new(AUD, vec![ISS.into()], Arc::new(StaticKeys::shared(keys)));
    config.clock = s.clock.clone();
    config.replay_cache = cache.clone();
    let v = Verifier::new(config).unwrap();
    let token = s.token("svc://a");
    server.kill();
    for _ in 0..5 {
        let err = v.verify(&token, &VerifyContext::default()).unwrap_err();
        assert_eq!(err.code(), "replay_cache_unavailable");
        assert_eq!(err.http_status(), 503);
    }
    server.restart();
    s.clock.advance_secs(31);
    // Not burned by the refused attempts.
    assert_eq!(verify(&v, &token), "allow");
    assert_eq!(verify(&v, &token), "replay_detected");
}

#[test]
fn a_slow_redis_times_out_quickly_and_fails_closed() {
    let server = RedisServer::start();
    let s = Setup::new();
    let (v, cache) = s.verifier(&server.url(), OnError::Reject, 100);
    assert_eq!(verify(&v, &s.token("svc://a")), "allow");
    // Every client is paused for 1.5 s: each command now waits past the 100 ms timeout.
    assert_eq!(
        server.cmd(&["CLIENT", "PAUSE", "1500", "ALL"]).unwrap(),
        "+OK"
    );
    let started = Instant::now();
    let token = s.token("svc://a");
    let outcome = verify(&v, &token);
    assert!(
        outcome == "revocation_unavailable" || outcome == "replay_cache_unavailable",
        "{outcome}"
    );
    assert!(
        started.elapsed() < Duration::from_millis(1000),
        "{:?}",
        started.elapsed()
    );
    for _ in 0..3 {
        assert!(cache.check_and_record("slow", NOW + 100, NOW).is_err());
    }
    assert_eq!(cache.breaker_state(), BreakerState::Open);
    std::thread::sleep(Duration::from_millis(1600));
    s.clock.advance_secs(31);
    assert_eq!(verify(&v, &token), "allow");
    assert_eq!(cache.breaker_state(), BreakerState::Closed);
}

#[test]
fn the_json_configuration_wires_redis_for_replay_and_revocation() {
    let (_server, url) = shared_redis();
    let s = Setup::new();
    let doc = serde_json::json!({
        "audience": AUD, "trusted_issuers": [ISS], "jwks": {"keys": [s.key.jwk()]},
        "redis_url": url, "testing": {"now": NOW},
    });
    let a = Verifier::from_json(doc.to_string().as_bytes()).unwrap();
    let doc2 = serde_json::json!({
        "audience": AUD, "trusted_issuers": [ISS], "jwks": {"keys": [s.key.jwk()]},
        "replay_cache": {"type": "redis", "url": url, "on_error": "reject", "timeout_ms": 500},
        "revocation": {"type": "redis", "url": url},
        "testing": {"now": NOW},
    });
    let b = Verifier::from_json(doc2.to_string().as_bytes()).unwrap();
    let token = s.token("svc://json");
    assert_eq!(verify(&a, &token), "allow");
    assert_eq!(verify(&b, &token), "replay_detected");
    let subject = format!("svc://json-revoked-{}", std::process::id());
    RedisRevocationList::new(RedisPool::new(&url, Duration::from_secs(1)).unwrap())
        .revoke(&subject, NOW)
        .unwrap();
    assert_eq!(verify(&b, &s.token(&subject)), "subject_revoked");
    // A dead Redis: fail closed at revocation.
    let dead = serde_json::json!({
        "audience": AUD, "trusted_issuers": [ISS], "jwks": {"keys": [s.key.jwk()]},
        "redis_url": format!("redis://127.0.0.1:{}/", free_port()), "testing": {"now": NOW},
    });
    let c = Verifier::from_json(dead.to_string().as_bytes()).unwrap();
    assert_eq!(verify(&c, &s.token("svc://a")), "revocation_unavailable");
}
