//! Full pipeline cost against the raw Ed25519 operation it is built on, in the same run:
//! - `verify/full` (memory replay cache, 10-rule policy where the last rule matches) vs
//!   `verify/raw_verify_strict` on the same token bytes;
//! - `verify/full_with_audit` adds an audit sink that serialises every event;
//! - `mint/issuer` vs `mint/raw_sign` over the same signing input.
//!
//! Each verify iteration gets a freshly minted token (untimed setup), because a token is
//! single-use and re-verifying one would measure the replay rejection instead.

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use ed25519_dalek::{Signature, Signer as _, SigningKey};
use oathmesh_core::*;
use std::hint::black_box;
use std::sync::Arc;

const ISS: &str = "https://issuer.bench";
const AUD: &str = "https://api.bench";

fn policy() -> Arc<Policy> {
    let mut rules: Vec<String> = (0..9)
        .map(|i| format!(r#"{{"name":"r{i}","allow":false,"match":{{"sub":"svc://other-{i}/*","act":"write"}}}}"#))
        .collect();
    rules.push(r#"{"name":"checkout","allow":true,"match":{"sub":"svc://checkout*","act":"charge","scope":["payments:write"]}}"#.into());
    let doc = format!(r#"{{"version":1,"rules":[{}]}}"#, rules.join(","));
    Arc::new(Policy::from_json(doc.as_bytes()).unwrap())
}

fn setup() -> (Issuer, SigningKey, Verifier, Verifier) {
    let generated = generate_key();
    let signing = keys::signing_key_from_pem(&generated.private_pem).unwrap();
    let issuer = Issuer::new(
        ISS,
        Arc::new(LocalSigner::new(signing.clone(), None).unwrap()),
    )
    .unwrap();
    let mut set = KeySet::default();
    set.insert(signing.verifying_key(), None);
    let keys: Arc<dyn KeySource> = Arc::new(StaticKeys::shared(set));
    let build = |audit: bool| {
        let mut config = VerifierConfig::new(AUD, vec![ISS.to_owned()], keys.clone());
        config.policy = Some(policy());
        if audit {
            config
                .audit_sinks
                .push(Box::new(CallbackSink(|e: &AuditEvent| {
                    black_box(e.to_json());
                })));
        }
        Verifier::new(config).unwrap()
    };
    (issuer, signing, build(false), build(true))
}

fn request() -> MintRequest {
    MintRequest {
        sub: "svc://checkout".into(),
        aud: AUD.into(),
        act: "charge".into(),
        scope: Some(vec!["payments:write".into()]),
        env: Some("prod".into()),
        ..MintRequest::default()
    }
}

fn benches(c: &mut Criterion) {
    let (issuer, signing, verifier, audited) = setup();
    let req = request();
    let fresh = || issuer.mint(&req).unwrap().token;

    let mut group = c.benchmark_group("verify");
    group.bench_function("raw_verify_strict", |b| {
        b.iter_batched(
            fresh,
            |token| {
                let (input, sig) = token.rsplit_once('.').unwrap();
                let sig: [u8; 64] = b64::decode(sig).unwrap().try_into().unwrap();
                signing
                    .verifying_key()
                    .verify_strict(input.as_bytes(), &Signature::from_bytes(&sig))
                    .unwrap();
            },
            BatchSize::SmallInput,
        )
    });
    group.bench_function("full", |b| {
        b.iter_batched(
            fresh,
            |token| verifier.verify(&token, &VerifyContext::default()).unwrap(),
            BatchSize::SmallInput,
        )
    });
    group.bench_function("full_with_audit", |b| {
        b.iter_batched(
            fresh,
            |token| audited.verify(&token, &VerifyContext::default()).unwrap(),
            BatchSize::SmallInput,
        )
    });
    group.finish();

    let sample = fresh();
    let (input, _) = sample.rsplit_once('.').unwrap();
    let input = input.to_owned();
    let mut group = c.benchmark_group("mint");
    group.bench_function("raw_sign", |b| {
        b.iter(|| signing.sign(black_box(input.as_bytes())))
    });
    group.bench_function("issuer", |b| {
        b.iter(|| issuer.mint(black_box(&req)).unwrap())
    });
    group.finish();
}

criterion_group!(benches_group, benches);
criterion_main!(benches_group);
