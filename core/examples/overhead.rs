//! Interleaved A/B timing of the full pipeline against raw `verify_strict` on the same
//! tokens, so machine load affects both sides equally. `cargo run --release --example overhead`.

use ed25519_dalek::Signature;
use oathmesh_core::*;
use std::sync::Arc;
use std::time::{Duration, Instant};

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(20_000);
    let generated = generate_key();
    let signing = keys::signing_key_from_pem(&generated.private_pem).unwrap();
    let issuer = Issuer::new(
        "https://i",
        Arc::new(LocalSigner::new(signing.clone(), None).unwrap()),
    )
    .unwrap();
    let mut set = KeySet::default();
    set.insert(signing.verifying_key(), None);
    let mut config = VerifierConfig::new(
        "https://a",
        vec!["https://i".into()],
        Arc::new(StaticKeys::shared(set)),
    );
    let mut rules: Vec<String> = (0..9)
        .map(|i| {
            format!(r#"{{"name":"r{i}","allow":false,"match":{{"sub":"svc://other-{i}/*"}}}}"#)
        })
        .collect();
    rules.push(r#"{"name":"ok","allow":true,"match":{"sub":"svc://checkout"}}"#.into());
    config.policy = Some(Arc::new(
        Policy::from_json(format!(r#"{{"version":1,"rules":[{}]}}"#, rules.join(",")).as_bytes())
            .unwrap(),
    ));
    let verifier = Verifier::new(config).unwrap();
    let req = MintRequest {
        sub: "svc://checkout".into(),
        aud: "https://a".into(),
        act: "charge".into(),
        scope: Some(vec!["x".into()]),
        ..Default::default()
    };
    let tokens: Vec<String> = (0..n).map(|_| issuer.mint(&req).unwrap().token).collect();
    let vk = signing.verifying_key();
    let (mut raw, mut full) = (Duration::ZERO, Duration::ZERO);
    for t in &tokens {
        let start = Instant::now();
        let (input, sig) = t.rsplit_once('.').unwrap();
        let sig: [u8; 64] = b64::decode(sig).unwrap().try_into().unwrap();
        vk.verify_strict(input.as_bytes(), &Signature::from_bytes(&sig))
            .unwrap();
        raw += start.elapsed();
        let start = Instant::now();
        verifier.verify(t, &VerifyContext::default()).unwrap();
        full += start.elapsed();
    }
    println!(
        "raw verify_strict: {:.2} us/op",
        raw.as_secs_f64() * 1e6 / n as f64
    );
    println!(
        "full verify:       {:.2} us/op",
        full.as_secs_f64() * 1e6 / n as f64
    );
    println!(
        "ratio full/raw:    {:.3}",
        full.as_secs_f64() / raw.as_secs_f64()
    );
}
