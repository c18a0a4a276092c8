//! End-to-end behaviour of the pipeline through the public API: real keys, real signatures.

use oathmesh_core::*;
use proptest::prelude::*;
use std::sync::{Arc, Mutex};

const ISS: &str = "https://issuer.test";
const AUD: &str = "https://api.test";

struct Fixture {
    issuer: Issuer,
    key: GeneratedKey,
    clock: Arc<FixedClock>,
}

fn fixture() -> Fixture {
    let key = generate_key();
    let clock = Arc::new(FixedClock::at_secs(1_800_000_000));
    let issuer = Issuer::new(
        ISS,
        Arc::new(LocalSigner::from_pem(&key.private_pem, None).unwrap()),
    )
    .unwrap()
    .with_clock(clock.clone());
    Fixture { issuer, key, clock }
}

impl Fixture {
    fn config(&self) -> VerifierConfig {
        let mut keys = KeySet::default();
        keys.insert(
            keys::verifying_key_from_pem(&self.key.public_pem).unwrap(),
            None,
        );
        let mut config = VerifierConfig::new(
            AUD,
            vec![ISS.to_owned()],
            Arc::new(StaticKeys::shared(keys)),
        );
        config.clock = self.clock.clone();
        config
    }

    fn verifier(&self) -> Verifier {
        Verifier::new(self.config()).unwrap()
    }

    fn mint(&self, edit: impl FnOnce(&mut MintRequest)) -> String {
        let mut req = MintRequest {
            sub: "svc://checkout".into(),
            aud: AUD.into(),
            act: "charge".into(),
            ..MintRequest::default()
        };
        edit(&mut req);
        self.issuer.mint(&req).unwrap().token
    }
}

fn code(r: Result<Caller, VerifyError>) -> String {
    r.map(|_| "allow".to_owned())
        .unwrap_or_else(|e| e.code().into_owned())
}

#[test]
fn minted_tokens_verify_once() {
    let f = fixture();
    let v = f.verifier();
    let token = f.mint(|r| {
        r.scope = Some(vec!["payments:write".into()]);
        r.env = Some("prod".into());
    });
    let caller = v.verify(&token, &VerifyContext::default()).unwrap();
    assert_eq!(caller.subject, "svc://checkout");
    assert_eq!(caller.issuer, ISS);
    assert_eq!(caller.scope, vec!["payments:write"]);
    assert_eq!(caller.expires_at - caller.issued_at, 120);
    assert_eq!(caller.policy_rule, None);
    assert_eq!(
        code(v.verify(&token, &VerifyContext::default())),
        "replay_detected"
    );
}

#[test]
fn expiry_follows_the_clock_and_leeway() {
    let f = fixture();
    let v = f.verifier();
    let token = f.mint(|r| r.ttl_hint = Some(30));
    f.clock.advance_secs(41);
    assert_eq!(
        code(v.verify(&token, &VerifyContext::default())),
        "token_expired"
    );
    let token = f.mint(|r| r.ttl_hint = Some(30));
    f.clock.advance_secs(40);
    assert_eq!(code(v.verify(&token, &VerifyContext::default())), "allow");
}

#[test]
fn a_failed_verification_does_not_burn_the_token() {
    let f = fixture();
    let v = f.verifier();
    let body = br#"{"amount":5}"#;
    let rqh = canonical_request_hash("POST", "/pay", body);
    let token = f.mint(|r| r.rqh = Some(rqh));
    let wrong = VerifyContext {
        request: Some(RequestParts {
            method: "POST",
            path_and_query: "/pay",
            body: b"{}",
        }),
        ..VerifyContext::default()
    };
    assert_eq!(code(v.verify(&token, &wrong)), "binding_mismatch");
    let right = VerifyContext {
        request: Some(RequestParts {
            method: "POST",
            path_and_query: "/pay",
            body,
        }),
        ..VerifyContext::default()
    };
    assert_eq!(code(v.verify(&token, &right)), "allow");
}

#[test]
fn needs_request_tells_adapters_when_to_buffer_the_body() {
    let f = fixture();
    let v = f.verifier();
    let unbound = f.mint(|_| {});
    let bound = f.mint(|r| r.rqh = Some(canonical_request_hash("GET", "/", b"")));
    assert!(!v.needs_request(&unbound));
    assert!(v.needs_request(&bound));
    assert!(!v.needs_request("garbage"));
    assert!(v.needs_request_for_authorization(Some(&format!("OathMesh {bound}"))));
    assert!(!v.needs_request_for_authorization(None));
    let mut config = f.config();
    config.require_binding = true;
    let strict = Verifier::new(config).unwrap();
    assert!(strict.requires_binding());
    assert!(strict.needs_request(&unbound));
}

#[test]
fn required_action_is_enforced_in_the_core() {
    let f = fixture();
    let v = f.verifier();
    let token = f.mint(|_| {});
    let ctx = VerifyContext {
        required_action: Some("refund"),
        ..VerifyContext::default()
    };
    let err = v.verify(&token, &ctx).unwrap_err();
    assert_eq!(err.code(), "policy_denied");
    assert_eq!(err.http_status(), 403);
    assert_eq!(err.policy_rule(), Some("required_action"));
}

#[test]
fn revocation_takes_effect_immediately() {
    let f = fixture();
    let list = Arc::new(MemoryRevocationList::new());
    let mut config = f.config();
    config.revocation = Some(list.clone());
    let v = Verifier::new(config).unwrap();
    assert_eq!(
        code(v.verify(&f.mint(|_| {}), &VerifyContext::default())),
        "allow"
    );
    list.revoke("svc://checkout", "2027-01-15T08:00:00Z");
    assert_eq!(
        code(v.verify(&f.mint(|_| {}), &VerifyContext::default())),
        "subject_revoked"
    );
    list.unrevoke("svc://checkout");
    assert_eq!(
        code(v.verify(&f.mint(|_| {}), &VerifyContext::default())),
        "allow"
    );
}

#[test]
fn audit_sees_every_outcome_and_never_the_token() {
    let f = fixture();
    let events = Arc::new(Mutex::new(Vec::<String>::new()));
    let sink_events = events.clone();
    let mut config = f.config();
    config
        .audit_sinks
        .push(Box::new(CallbackSink(move |e: &AuditEvent| {
            sink_events.lock().unwrap().push(e.to_json());
        })));
    config.policy = Some(Arc::new(
        Policy::from_json(
            br#"{"version":1,"rules":[{"name":"charges","allow":true,"match":{"act":"charge"}}]}"#,
        )
        .unwrap(),
    ));
    let v = Verifier::new(config).unwrap();
    let token = f.mint(|_| {});
    let refund = f.mint(|r| r.act = "refund".into());
    let ctx = VerifyContext {
        request_id: Some("req-1"),
        ..VerifyContext::default()
    };
    v.verify(&token, &ctx).unwrap();
    v.verify(&token, &ctx).unwrap_err();
    v.verify(&refund, &ctx).unwrap_err();
    v.verify("garbage", &ctx).unwrap_err();
    v.verify_authorization(None, &ctx).unwrap_err();
    let events = events.lock().unwrap();
    assert_eq!(events.len(), 5);
    let parsed: Vec<serde_json::Value> = events
        .iter()
        .map(|e| serde_json::from_str(e).unwrap())
        .collect();
    assert_eq!(parsed[0]["outcome"], "allow");
    assert_eq!(parsed[0]["policy_rule"], "charges");
    assert_eq!(parsed[0]["sub"], "svc://checkout");
    assert_eq!(parsed[0]["request_id"], "req-1");
    assert_eq!(parsed[1]["code"], "replay_detected");
    assert_eq!(parsed[1]["step"], "13");
    assert_eq!(parsed[2]["code"], "policy_denied");
    assert_eq!(parsed[2]["policy_rule"], "default");
    assert_eq!(parsed[3]["code"], "token_malformed");
    assert_eq!(parsed[4]["code"], "claim_missing:token");
    for (event, json) in events.iter().zip(&parsed) {
        let ts = json["timestamp"].as_str().unwrap();
        assert!(ts.ends_with('Z') && ts.len() == 24, "{ts}");
        for secret in [&token, &refund] {
            assert!(!event.contains(secret.as_str()));
            for segment in secret.split('.') {
                assert!(
                    !event.contains(segment),
                    "audit event leaks a token segment"
                );
            }
        }
        assert!(!event.contains(&f.key.jwk.x));
    }
}

#[test]
fn errors_never_echo_the_token() {
    let f = fixture();
    let v = f.verifier();
    let token = f.mint(|r| r.aud = "https://other".into());
    let err = v.verify(&token, &VerifyContext::default()).unwrap_err();
    let json = err.to_json(Some("r"));
    assert!(!json.contains(&token));
    assert!(!err.message().contains("https://other"));
}

#[test]
fn many_threads_share_one_verifier() {
    let f = fixture();
    let v = Arc::new(f.verifier());
    let tokens: Vec<String> = (0..400).map(|_| f.mint(|_| {})).collect();
    let tokens = Arc::new(tokens);
    let handles: Vec<_> = (0..8)
        .map(|_| {
            let (v, tokens) = (v.clone(), tokens.clone());
            std::thread::spawn(move || {
                tokens
                    .iter()
                    .filter(|t| v.verify(t, &VerifyContext::default()).is_ok())
                    .count()
            })
        })
        .collect();
    let accepted: usize = handles.into_iter().map(|h| h.join().unwrap()).sum();
    // Every thread tries every token: each is accepted exactly once overall.
    assert_eq!(accepted, 400);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn decoding_any_bytes_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let text = String::from_utf8_lossy(&bytes);
        if let Ok(segments) = token::split(&text) {
            let _ = token::decode_header(segments.header);
            let _ = token::decode_claims(segments.payload);
        }
        let _ = strict_json::parse(&bytes);
        let _ = b64::decode(&text);
    }

    #[test]
    fn any_three_segment_string_gets_a_typed_error(a in "[A-Za-z0-9_-]{0,64}", b in "[A-Za-z0-9_-]{0,64}", c in "[A-Za-z0-9_-]{0,90}") {
        let f = fixture();
        let err = f.verifier().verify(&format!("{a}.{b}.{c}"), &VerifyContext::default()).unwrap_err();
        prop_assert!(matches!(err.http_status(), 401 | 403 | 503));
        prop_assert!(!err.fix().is_empty());
    }

    #[test]
    fn any_json_payload_is_decoded_or_refused_with_a_typed_error(json in "\\{(\"[a-z]{1,4}\":(1|\"x\"|\\[\\]|null|1\\.5|\\{\\}),?){0,6}\\}") {
        let seg = b64::encode(json.as_bytes());
        match token::decode_claims(&seg) {
            Ok(_) => {}
            Err(e) => prop_assert!(e.code().starts_with("token_malformed") || e.code().starts_with("claim_invalid:")),
        }
    }

    #[test]
    fn flipping_any_byte_of_a_token_is_refused(index in 0usize..200, bit in 0u8..8) {
        let f = fixture();
        let token = f.mint(|_| {});
        let mut bytes = token.into_bytes();
        let i = index % bytes.len();
        bytes[i] ^= 1 << bit;
        if let Ok(t) = String::from_utf8(bytes) {
            prop_assert!(f.verifier().verify(&t, &VerifyContext::default()).is_err());
        }
    }
}
