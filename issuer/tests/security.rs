//! Issuer hardening over real HTTP on loopback: deny-by-default identity claims, assertion
//! ids spent only by requests that pass, one answer for every assertion-auth failure,
//! no-store on token responses, and override-name collisions refused at start.

mod common;

use common::*;
use oathmesh_core::{VerifyContext, keys};
use oathmesh_issuer::IssuerConfig;
use oathmesh_issuer::clients::{sha256_hex, sign_assertion};
use serde_json::{Value, json};

fn now() -> i64 {
    oathmesh_core::Clock::now_secs(&oathmesh_core::SystemClock)
}

fn with(extra: Value) -> Value {
    let mut body = charge();
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    body
}

#[tokio::test]
async fn identity_claims_are_deny_by_default() {
    // `reporting` lists no env, tenant, scope or delegated_by: each is refused.
    let s = start("").await;
    let reporting =
        json!({"sub": "svc://reporting", "aud": "https://ledger.internal", "act": "read"});
    for (i, (claim, value)) in [
        ("env", json!("prod")),
        ("tenant", json!("acme")),
        ("scope", json!(["admin"])),
        ("delegated_by", json!("user://finance-lead")),
    ]
    .into_iter()
    .enumerate()
    {
        let mut body = reporting.clone();
        body[claim] = value;
        let assertion =
            sign_assertion(&s.client_key, "reporting", ISSUER, now(), &format!("d-{i}"));
        let (status, err) = s
            .post(
                "/v1/token",
                Some(&format!("OathMesh-Client {assertion}")),
                &body.to_string(),
            )
            .await;
        assert_eq!(
            (status, err["error"].as_str()),
            (403, Some("mint_denied")),
            "{claim}"
        );
        assert!(err["message"].as_str().unwrap().contains(claim), "{err}");
    }
    // `checkout` may use what its lists name, and nothing else.
    for (extra, denied) in [
        (json!({"env": "prod"}), "env"),
        (json!({"tenant": "globex"}), "tenant"),
        (json!({"scope": ["payments:write", "admin"]}), "scope"),
        (json!({"delegated_by": "user://admin"}), "delegated_by"),
        (
            json!({"src": {"type": "github_actions", "repo": "acme/prod-infra"}}),
            "src",
        ),
    ] {
        let (status, err) = s.mint(with(extra.clone())).await;
        assert_eq!(
            (status, err["error"].as_str()),
            (403, Some("mint_denied")),
            "{extra}"
        );
        assert!(err["message"].as_str().unwrap().contains(denied), "{err}");
    }
    let (status, minted) = s
        .mint(with(json!({"env": "staging", "tenant": "acme", "scope": ["payments:write"], "delegated_by": "user://finance/lead"})))
        .await;
    assert_eq!(status, 200, "{minted}");
    let caller = s
        .verifier("https://payments.internal")
        .await
        .verify(minted["token"].as_str().unwrap(), &VerifyContext::default())
        .unwrap();
    assert_eq!(caller.env.as_deref(), Some("staging"));
    assert_eq!(caller.tenant.as_deref(), Some("acme"));
}

/// A client with its own key, at a rate that lets three requests through.
fn limited_key_client(public_pem: &str) -> String {
    format!(
        r#"
[[clients]]
id = "batch"
public_key_pem = """{public_pem}"""
allowed_sub = ["svc://batch"]
allowed_aud = ["https://ledger.internal"]
allowed_act = ["read"]
rate_per_sec = 0.01
burst = 3
"#
    )
}

#[tokio::test]
async fn refused_requests_do_not_burn_assertions() {
    let key = keys::signing_key_from_pem(&keys::generate_key().private_pem).unwrap();
    let s = start(&limited_key_client(&keys::describe_key(&key).public_pem)).await;
    let body = json!({"sub": "svc://batch", "aud": "https://ledger.internal", "act": "read"});
    let auth = |jti: &str| {
        format!(
            "OathMesh-Client {}",
            sign_assertion(&key, "batch", ISSUER, now(), jti)
        )
    };
    // Refused for its body (outside the allow-list): the assertion stays unspent.
    let denied = json!({"sub": "svc://other", "aud": "https://ledger.internal", "act": "read"});
    let (status, _) = s
        .post("/v1/token", Some(&auth("j-1")), &denied.to_string())
        .await;
    assert_eq!(status, 403);
    let (status, ok) = s
        .post("/v1/token", Some(&auth("j-1")), &body.to_string())
        .await;
    assert_eq!(
        status, 200,
        "an assertion refused for its body is still usable: {ok}"
    );
    // Rate limited: the 429s do not burn their jtis...
    assert_eq!(
        s.post("/v1/token", Some(&auth("j-2")), &body.to_string())
            .await
            .0,
        200
    );
    for i in 0..20 {
        let (status, err) = s
            .post(
                "/v1/token",
                Some(&auth(&format!("flood-{i}"))),
                &body.to_string(),
            )
            .await;
        assert_eq!((status, err["error"].as_str()), (429, Some("rate_limited")));
    }
    let store = s.state.single_use_len("client:batch");
    assert_eq!(
        store, 2,
        "only the two successful assertions are remembered"
    );
    // Another client is unaffected by this one's flood.
    assert_eq!(s.mint(charge()).await.0, 200);
}

#[tokio::test]
async fn assertion_failures_look_the_same_whatever_the_client() {
    let s = start(&format!(
        r#"
[[clients]]
id = "secret-only"
secret_sha256 = "{}"
allowed_sub = ["svc://x"]
allowed_aud = ["*"]
allowed_act = ["*"]
"#,
        sha256_hex("s")
    ))
    .await;
    let body = json!({"sub": "svc://reporting", "aud": "https://ledger.internal", "act": "read"})
        .to_string();
    let stranger = keys::signing_key_from_pem(&keys::generate_key().private_pem).unwrap();
    let mut answers = Vec::new();
    for (who, key) in [
        ("nobody", &s.client_key),      // unknown client
        ("secret-only", &s.client_key), // client without a public key
        ("reporting", &stranger),       // a bad signature for a real key client
    ] {
        let assertion = sign_assertion(key, who, ISSUER, now(), "same");
        let (status, err) = s
            .post(
                "/v1/token",
                Some(&format!("OathMesh-Client {assertion}")),
                &body,
            )
            .await;
        answers.push((status, err.to_string()));
    }
    assert_eq!(answers[0].0, 401);
    assert!(answers.iter().all(|a| a == &answers[0]), "{answers:#?}");
    assert!(!answers[0].1.contains("public key"), "{}", answers[0].1);
}

#[tokio::test]
async fn token_responses_are_never_cached() {
    let s = start("").await;
    for auth in [Some(basic("checkout", SECRET)), None] {
        let mut request = s
            .http
            .post(format!("{}/v1/token", s.base))
            .header("content-type", "application/json")
            .body(charge().to_string());
        if let Some(auth) = &auth {
            request = request.header("authorization", auth);
        }
        let resp = request.send().await.unwrap();
        assert_eq!(resp.status(), if auth.is_some() { 200 } else { 401 });
        assert_eq!(resp.headers()["cache-control"], "no-store");
        assert_eq!(resp.headers()["pragma"], "no-cache");
    }
    let resp = s
        .http
        .post(format!("{}/v1/exchange/github", s.base))
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()["cache-control"], "no-store");
}

#[test]
fn override_name_collisions_are_refused_naming_both_clients() {
    let toml = |second: &str| {
        format!(
            r#"
issuer = "{ISSUER}"
key_dir = "keys"
[[clients]]
id = "deploy-bot"
secret_sha256 = "{h}"
allowed_sub = ["svc://deploy"]
allowed_aud = ["*"]
allowed_act = ["*"]
[[clients]]
id = "{second}"
secret_sha256 = "{h}"
allowed_sub = ["svc://deploy"]
allowed_aud = ["*"]
allowed_act = ["*"]
"#,
            h = "ab".repeat(32)
        )
    };
    for other in ["deploy_bot", "Deploy.Bot"] {
        let err = IssuerConfig::from_toml(&toml(other))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("deploy-bot")
                && err.contains(other)
                && err.contains("OATHMESH_CLIENT_DEPLOY_BOT_SECRET_SHA256"),
            "{err}"
        );
    }
    IssuerConfig::from_toml(&toml("deploy-robot")).unwrap();
}
