//! JWKS fetching against a real HTTP server on loopback, with the clock under test control.
#![cfg(feature = "jwks-fetch")]

mod support;

use oathmesh_core::jwks_fetch::{FetchingKeys, JwksFetchSettings};
use oathmesh_core::*;
use std::sync::{Arc, Mutex};
use support::*;

struct Setup {
    server: JwksServer,
    keys: FetchingKeys,
    verifier: Verifier,
    clock: Arc<FixedClock>,
    events: Arc<Mutex<Vec<&'static str>>>,
}

fn setup(reply: Reply) -> Setup {
    let server = JwksServer::start(reply);
    let clock = Arc::new(FixedClock::at_secs(NOW));
    let ops = OpsReporter::new();
    let events = Arc::new(Mutex::new(Vec::new()));
    let seen = events.clone();
    ops.subscribe(move |e| seen.lock().unwrap().push(e.state));
    let keys = FetchingKeys::new(
        &[server.issuer()],
        JwksFetchSettings::default(),
        clock.clone(),
        ops,
    )
    .unwrap();
    let mut config = VerifierConfig::new(AUD, vec![server.issuer()], Arc::new(keys.clone()));
    config.clock = clock.clone();
    Setup {
        verifier: Verifier::new(config).unwrap(),
        server,
        keys,
        clock,
        events,
    }
}

impl Setup {
    fn verify(&self, key: &Key) -> String {
        let token = key.mint(&self.server.issuer(), "svc://checkout", self.clock.clone());
        code(self.verifier.verify(&token, &VerifyContext::default()))
    }
}

#[test]
fn keys_are_fetched_once_and_cached_while_fresh_then_refreshed_in_the_background() {
    let key = Key::new("k1");
    let s = setup(Reply::Json(jwks_of(&[&key])));
    assert_eq!(
        s.keys.url_of(&s.server.issuer()),
        Some(
            format!(
                "http://127.0.0.1:{}/tenant-a/.well-known/jwks.json",
                s.server.port
            )
            .as_str()
        )
    );
    for _ in 0..20 {
        assert_eq!(s.verify(&key), "allow");
    }
    assert_eq!(s.server.hits(), 1);
    s.clock.advance_secs(59);
    assert_eq!(s.verify(&key), "allow");
    assert_eq!(s.server.hits(), 1, "still fresh at 59 s");
    s.clock.advance_secs(2);
    // Stale: served at once, refreshed off the verifying thread.
    assert_eq!(s.verify(&key), "allow");
    eventually("the background refresh", || s.keys.fetch_count() == 2);
    assert_eq!(s.server.hits(), 2);
}

#[test]
fn concurrent_first_lookups_share_one_fetch() {
    let key = Key::new("k1");
    let s = Arc::new(setup(Reply::Json(jwks_of(&[&key]))));
    let tokens: Vec<String> = (0..8)
        .map(|_| key.mint(&s.server.issuer(), "svc://a", s.clock.clone()))
        .collect();
    let barrier = Arc::new(std::sync::Barrier::new(8));
    let threads: Vec<_> = tokens
        .into_iter()
        .map(|token| {
            let (s, barrier) = (s.clone(), barrier.clone());
            std::thread::spawn(move || {
                barrier.wait();
                code(s.verifier.verify(&token, &VerifyContext::default()))
            })
        })
        .collect();
    for t in threads {
        assert_eq!(t.join().unwrap(), "allow");
    }
    assert_eq!(s.server.hits(), 1);
}

#[test]
fn a_down_server_serves_stale_keys_for_an_hour_then_jwks_unavailable() {
    let key = Key::new("k1");
    let mut s = setup(Reply::Json(jwks_of(&[&key])));
    assert_eq!(s.verify(&key), "allow");
    s.server.shut_down();
    s.clock.advance_secs(120);
    assert_eq!(s.verify(&key), "allow", "stale-if-error");
    eventually("the failed refresh", || s.keys.fetch_count() == 2);
    s.clock.advance_secs(1800);
    assert_eq!(s.verify(&key), "allow", "still within the hour");
    s.clock.advance_secs(1700); // 3620 s after the last good fetch
    assert_eq!(s.verify(&key), "jwks_unavailable");
    let err = s
        .verifier
        .verify(
            &key.mint(&s.server.issuer(), "svc://a", s.clock.clone()),
            &VerifyContext::default(),
        )
        .unwrap_err();
    assert_eq!(err.http_status(), 503);
    assert!(s.events.lock().unwrap().contains(&"fetch_failed"));
}

#[test]
fn recovery_after_an_outage_replaces_the_keys() {
    let old = Key::new("old");
    let new = Key::new("new");
    let s = setup(Reply::Hangup);
    assert_eq!(s.verify(&old), "jwks_unavailable");
    // Within 10 s of a failure the issuer is not asked again.
    assert_eq!(s.verify(&old), "jwks_unavailable");
    assert_eq!(s.server.hits(), 1);
    s.server.set(Reply::Json(jwks_of(&[&old, &new])));
    s.clock.advance_secs(10);
    assert_eq!(s.verify(&new), "allow");
    assert_eq!(s.verify(&old), "allow");
    assert!(s.events.lock().unwrap().contains(&"fetch_recovered"));
}

#[test]
fn junk_oversize_and_wrong_types_are_refused_and_keep_the_last_good_keys() {
    let key = Key::new("k1");
    let rsa = r#"{"keys":[{"kty":"RSA","kid":"r","n":"AQAB","e":"AQAB"}]}"#.to_owned();
    let oversize = format!(r#"{{"keys":[],"pad":"{}"}}"#, "x".repeat(70 * 1024));
    let bad = [
        ("junk", Reply::Json("<html>not json</html>".into())),
        ("wrong type", Reply::Json(r#"{"keys":"k1"}"#.into())),
        ("array", Reply::Json("[1,2]".into())),
        ("no Ed25519 key", Reply::Json(rsa)),
        (
            "short x",
            Reply::Json(r#"{"keys":[{"kty":"OKP","crv":"Ed25519","kid":"k1","x":"AAAA"}]}"#.into()),
        ),
        ("oversize", Reply::Json(oversize)),
        ("500", Reply::Status(500)),
        ("redirect", Reply::Status(302)),
    ];
    for (what, reply) in bad.iter().cloned() {
        let s = setup(reply);
        assert_eq!(s.verify(&key), "jwks_unavailable", "{what}");
    }
    // A bad document after a good one does not replace the good keys.
    let s = setup(Reply::Json(jwks_of(&[&key])));
    assert_eq!(s.verify(&key), "allow");
    for (what, reply) in bad {
        s.server.set(reply);
        s.clock.advance_secs(61);
        let before = s.keys.fetch_count();
        assert_eq!(s.verify(&key), "allow", "{what}");
        eventually("the refresh", || s.keys.fetch_count() > before);
    }
}

#[test]
fn an_unknown_kid_flood_costs_at_most_one_fetch_per_ten_seconds() {
    let key = Key::new("k1");
    let s = setup(Reply::Json(jwks_of(&[&key])));
    assert_eq!(s.verify(&key), "allow");
    for i in 0..300 {
        let stranger = Key::new(&format!("made-up-{i}"));
        assert_eq!(s.verify(&stranger), "key_not_found");
    }
    assert_eq!(s.server.hits(), 2, "the first fetch and one refetch");
    s.clock.advance_secs(10);
    for i in 0..50 {
        assert_eq!(s.verify(&Key::new(&format!("again-{i}"))), "key_not_found");
    }
    assert_eq!(s.server.hits(), 3);
    // A key that really was added is found by that one refetch.
    let rotated = Key::new("rotated");
    s.server.set(Reply::Json(jwks_of(&[&key, &rotated])));
    s.clock.advance_secs(10);
    assert_eq!(s.verify(&rotated), "allow");
    assert_eq!(s.server.hits(), 4);
}

#[test]
fn prewarm_reports_each_issuer() {
    let key = Key::new("k1");
    let good = JwksServer::start(Reply::Json(jwks_of(&[&key])));
    let bad = JwksServer::start(Reply::Status(503));
    let doc = serde_json::json!({
        "audience": AUD,
        "trusted_issuers": [good.issuer(), bad.issuer()],
    });
    let verifier = Verifier::from_json(doc.to_string().as_bytes()).unwrap();
    let results = verifier.prewarm();
    assert_eq!(results.len(), 2);
    let by_issuer = |iss: &str| results.iter().find(|r| r.issuer == iss).unwrap().clone();
    let g = by_issuer(&good.issuer());
    assert!(g.ok && g.keys == 1 && g.error.is_none(), "{g:?}");
    let b = by_issuer(&bad.issuer());
    assert!(
        !b.ok && b.error.as_deref().unwrap().contains("503"),
        "{b:?}"
    );
    // A prewarmed verifier answers from the cache.
    let clock = Arc::new(FixedClock::at_secs(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64,
    ));
    let token = key.mint(&good.issuer(), "svc://a", clock);
    assert!(verifier.verify(&token, &VerifyContext::default()).is_ok());
    assert_eq!(good.hits(), 1);
    // Static keys have nothing to prewarm.
    let static_doc = serde_json::json!({
        "audience": AUD, "trusted_issuers": ["https://x"], "jwks": {"keys": [key.jwk()]},
    });
    assert!(
        Verifier::from_json(static_doc.to_string().as_bytes())
            .unwrap()
            .prewarm()
            .is_empty()
    );
}
