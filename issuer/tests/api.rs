//! The issuer over real HTTP on loopback: clients, allow-lists, limits, revocation, rotation.

mod common;

use common::*;
use oathmesh_core::{VerifyContext, keys};
use oathmesh_issuer::clients::{sha256_hex, sign_assertion};
use oathmesh_issuer::keyring;
use serde_json::{Value, json};

#[tokio::test]
async fn a_client_mints_a_token_receivers_accept() {
    let s = start("").await;
    let (status, body) = s.mint(json!({"sub": "svc://checkout", "aud": "https://payments.internal", "act": "charge", "ttl_hint": 9999, "scope": ["payments:write"]})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["token_type"], "OathMesh");
    assert_eq!(body["expires_in"], 300);
    let caller = s
        .verifier("https://payments.internal")
        .await
        .verify(body["token"].as_str().unwrap(), &VerifyContext::default())
        .unwrap();
    assert_eq!(caller.subject, "svc://checkout");
    assert_eq!(caller.issuer, ISSUER);
    assert_eq!(caller.scope, vec!["payments:write"]);
    // Content-Type with parameters is fine.
    let resp = s
        .http
        .post(format!("{}/v1/token", s.base))
        .header("content-type", "application/json; charset=utf-8")
        .header("authorization", basic("checkout", SECRET))
        .body(charge().to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
}

#[tokio::test]
async fn clients_cannot_authenticate_as_others_or_mint_outside_their_list() {
    let s = start("").await;
    let body = charge().to_string();
    for (auth, code) in [
        (None, "invalid_client"),
        (Some(basic("checkout", "wrong")), "invalid_client"),
        (Some(basic("nobody", SECRET)), "invalid_client"),
        (Some("Basic !!!".to_owned()), "invalid_client"),
        (Some("Bearer x".to_owned()), "invalid_client"),
    ] {
        let (status, err) = s.post("/v1/token", auth.as_deref(), &body).await;
        assert_eq!(
            (status, err["error"].as_str().unwrap()),
            (401, code),
            "{auth:?}"
        );
        assert!(err["fix"].as_str().unwrap().len() > 10);
    }
    for (req, field) in [
        (
            json!({"sub": "svc://reporting", "aud": "https://payments.internal", "act": "charge"}),
            "sub",
        ),
        (
            json!({"sub": "svc://checkout", "aud": "https://payments.example.com", "act": "charge"}),
            "aud",
        ),
        (
            json!({"sub": "svc://checkout", "aud": "https://payments.internal", "act": "admin"}),
            "act",
        ),
    ] {
        let (status, err) = s.mint(req).await;
        assert_eq!(status, 403);
        assert_eq!(err["error"], "mint_denied");
        assert!(err["message"].as_str().unwrap().contains(field));
    }
}

#[tokio::test]
async fn bad_bodies_are_refused_with_json_errors() {
    let s = start("").await;
    let auth = basic("checkout", SECRET);
    let big = format!(
        r#"{{"sub":"svc://checkout","aud":"https://payments.internal","act":"charge","reason":"{}"}}"#,
        "x".repeat(70_000)
    );
    for (body, status, code) in [
        (big.as_str(), 413, "payload_too_large"),
        ("{", 400, "invalid_request"),
        (
            r#"{"sub":"svc://checkout","aud":"https://payments.internal","act":"charge","exp":1}"#,
            400,
            "invalid_request",
        ),
        (
            r#"{"sub":"svc://checkout","sub":"svc://checkout","aud":"https://payments.internal","act":"charge"}"#,
            400,
            "invalid_request",
        ),
        (
            r#"{"sub":"svc://checkout","aud":"https://payments.internal","act":"charge","rqh":"sha256:nope"}"#,
            400,
            "claim_invalid:rqh",
        ),
        (
            r#"{"sub":"svc://checkout","aud":"https://payments.internal","act":"charge","scope":["payments:two words"]}"#,
            400,
            "claim_invalid:scope",
        ),
    ] {
        let (got, err) = s.post("/v1/token", Some(&auth), body).await;
        assert_eq!(
            (got, err["error"].as_str().unwrap_or("")),
            (status, code),
            "{body:.60}"
        );
    }
    let resp = s
        .http
        .post(format!("{}/v1/token", s.base))
        .header("content-type", "text/plain")
        .header("authorization", &auth)
        .body(charge().to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 415);
    let (status, _) = s.get("/v1/nothing").await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn per_client_rate_limit() {
    let s = start(&format!(
        r#"
[[clients]]
id = "slow"
secret_sha256 = "{}"
allowed_sub = ["svc://slow"]
allowed_aud = ["*"]
allowed_act = ["*"]
rate_per_sec = 0.5
burst = 2
"#,
        sha256_hex("slow-secret")
    ))
    .await;
    let body = json!({"sub": "svc://slow", "aud": "https://a.internal", "act": "x"}).to_string();
    let auth = basic("slow", "slow-secret");
    assert_eq!(s.post("/v1/token", Some(&auth), &body).await.0, 200);
    assert_eq!(s.post("/v1/token", Some(&auth), &body).await.0, 200);
    let resp = s
        .http
        .post(format!("{}/v1/token", s.base))
        .header("content-type", "application/json")
        .header("authorization", &auth)
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 429);
    assert!(resp.headers().get("retry-after").is_some());
    // Another client is unaffected.
    assert_eq!(s.mint(charge()).await.0, 200);
}

#[tokio::test]
async fn key_clients_sign_single_use_assertions() {
    let s = start("").await;
    let body = json!({"sub": "svc://reporting", "aud": "https://ledger.internal", "act": "read"})
        .to_string();
    let now = oathmesh_core::Clock::now_secs(&oathmesh_core::SystemClock);
    let assertion = sign_assertion(&s.client_key, "reporting", ISSUER, now, "a-1");
    let auth = format!("OathMesh-Client {assertion}");
    let (status, minted) = s.post("/v1/token", Some(&auth), &body).await;
    assert_eq!(status, 200, "{minted}");
    let (status, err) = s.post("/v1/token", Some(&auth), &body).await;
    assert_eq!(
        (status, err["error"].as_str().unwrap()),
        (401, "invalid_client"),
        "a replayed assertion is refused"
    );
    let stale = sign_assertion(&s.client_key, "reporting", ISSUER, now - 600, "a-2");
    assert_eq!(
        s.post(
            "/v1/token",
            Some(&format!("OathMesh-Client {stale}")),
            &body
        )
        .await
        .0,
        401
    );
    let wrong_aud = sign_assertion(
        &s.client_key,
        "reporting",
        "https://other-issuer",
        now,
        "a-3",
    );
    assert_eq!(
        s.post(
            "/v1/token",
            Some(&format!("OathMesh-Client {wrong_aud}")),
            &body
        )
        .await
        .0,
        401
    );
    let other_key = keys::signing_key_from_pem(&keys::generate_key().private_pem).unwrap();
    let forged = sign_assertion(&other_key, "reporting", ISSUER, now, "a-4");
    assert_eq!(
        s.post(
            "/v1/token",
            Some(&format!("OathMesh-Client {forged}")),
            &body
        )
        .await
        .0,
        401
    );
    // A key client cannot fall back to a secret.
    assert_eq!(
        s.post("/v1/token", Some(&basic("reporting", "")), &body)
            .await
            .0,
        401
    );
}

#[tokio::test]
async fn admin_revocation_stops_minting_and_is_published() {
    let s = start("").await;
    let sub = json!({"sub": "svc://checkout"}).to_string();
    assert_eq!(s.post("/v1/admin/revoke", None, &sub).await.0, 401);
    assert_eq!(
        s.post("/v1/admin/revoke", Some("Bearer wrong"), &sub)
            .await
            .0,
        401
    );
    assert_eq!(
        s.post("/v1/admin/revoke", Some(&basic("checkout", SECRET)), &sub)
            .await
            .0,
        401,
        "client credentials are not admin credentials"
    );
    let (status, _) = s
        .post("/v1/admin/revoke", Some(&format!("Bearer {ADMIN}")), &sub)
        .await;
    assert_eq!(status, 200);
    let (status, err) = s.mint(charge()).await;
    assert_eq!(
        (status, err["error"].as_str().unwrap()),
        (403, "subject_revoked")
    );
    let (_, list) = s.get("/v1/revoked-subjects").await;
    let list: Value = serde_json::from_str(&list).unwrap();
    assert_eq!(list["subjects"][0]["sub"], "svc://checkout");
    assert!(
        list["subjects"][0]["revoked_at"]
            .as_str()
            .unwrap()
            .ends_with('Z')
    );
    let resp = s
        .http
        .delete(format!("{}/v1/admin/revoke", s.base))
        .header("content-type", "application/json")
        .header("authorization", format!("Bearer {ADMIN}"))
        .body(sub)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(s.mint(charge()).await.0, 200);
}

#[tokio::test]
async fn rotation_keeps_in_flight_tokens_valid() {
    let s = start("").await;
    let (_, before) = s.mint(charge()).await;
    let old_kid = s.state.reload_keys_if_changed().unwrap();
    assert_eq!(old_kid, None, "nothing changed yet");
    let now = oathmesh_core::Clock::now_secs(&oathmesh_core::SystemClock);
    let (_, new_kid) = keyring::rotate(&s.dir.path().join("keys"), now).unwrap();
    // The watcher polls every second; wait for it rather than calling reload directly.
    let mut rotated = false;
    for _ in 0..50 {
        let (_, jwks) = s.get("/.well-known/jwks.json").await;
        if jwks.contains(&new_kid) {
            rotated = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(rotated, "the running server picked up the new key");
    let (_, after) = s.mint(charge()).await;
    let verifier = s.verifier("https://payments.internal").await;
    for token in [&before["token"], &after["token"]] {
        verifier
            .verify(token.as_str().unwrap(), &VerifyContext::default())
            .unwrap();
    }
    let header = oathmesh_core::token::split(after["token"].as_str().unwrap())
        .unwrap()
        .header;
    assert_eq!(
        oathmesh_core::token::decode_header(header).unwrap().kid,
        new_kid
    );
}

#[tokio::test]
async fn discovery_health_and_metrics() {
    let s = start("").await;
    let (_, doc) = s.get("/.well-known/oathmesh-issuer").await;
    let doc: Value = serde_json::from_str(&doc).unwrap();
    assert_eq!(doc["jwks_uri"], format!("{ISSUER}/.well-known/jwks.json"));
    assert_eq!(doc["max_ttl_seconds"], 300);
    assert_eq!(s.get("/healthz").await.0, 200);
    s.mint(charge()).await;
    s.mint(json!({"sub": "svc://nope", "aud": "https://payments.internal", "act": "charge"}))
        .await;
    let (_, text) = s.get("/metrics").await;
    let samples = oathmesh_serving::metrics::parse(&text).expect("a valid exposition");
    let value = |name: &str, outcome: &str| {
        oathmesh_serving::metrics::value_of(&samples, name, &[("outcome", outcome)])
    };
    assert_eq!(
        value("oathmesh_issuer_mint_requests_total", "ok"),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        value("oathmesh_issuer_mint_requests_total", "mint_denied"),
        Some(1.0)
    );
    assert!(text.contains("oathmesh_issuer_mint_duration_seconds_count 1\n"));
}
