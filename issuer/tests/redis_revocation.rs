//! With `redis_url`: an admin revocation lands in the shared Redis hash that receivers read
//! (a verifier on the same Redis refuses the subject at once), and spent client-assertion
//! ids are shared by every issuer process, failing closed when Redis is unreachable.

mod common;

use common::*;
use oathmesh_core::VerifyContext;
use serde_json::json;

fn redis_url() -> String {
    std::env::var("OATHMESH_TEST_REDIS_URL")
        .expect("OATHMESH_TEST_REDIS_URL: run through scripts/test-issuer.sh, which starts Redis")
}

#[tokio::test]
async fn admin_revocation_is_shared_through_redis() {
    let url = redis_url();
    let s = start_with(&format!("redis_url = \"{url}\"\n"), "").await;
    let (_, minted) = s.mint(charge()).await;
    let token = minted["token"].as_str().unwrap().to_owned();
    let (_, jwks) = s.get("/.well-known/jwks.json").await;
    let receiver = oathmesh_core::Verifier::from_json(
        json!({
            "audience": "https://payments.internal",
            "trusted_issuers": [ISSUER],
            "jwks": serde_json::from_str::<serde_json::Value>(&jwks).unwrap(),
            "redis_url": url,
        })
        .to_string()
        .as_bytes(),
    )
    .unwrap();
    let sub = json!({"sub": "svc://checkout"}).to_string();
    let (status, _) = s
        .post("/v1/admin/revoke", Some(&format!("Bearer {ADMIN}")), &sub)
        .await;
    assert_eq!(status, 200);
    let err = receiver
        .verify(&token, &VerifyContext::default())
        .unwrap_err();
    assert_eq!(err.code(), "subject_revoked");
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
    let (_, fresh) = s.mint(charge()).await;
    receiver
        .verify(fresh["token"].as_str().unwrap(), &VerifyContext::default())
        .unwrap();
}

/// A second issuer on the same state (key folder, clients) and the same Redis.
async fn second_issuer(s: &Server) -> String {
    let state = oathmesh_issuer::state_from_config(s.state.config.clone()).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(oathmesh_issuer::serve(
        state,
        listener,
        None,
        std::future::pending(),
    ));
    base
}

#[tokio::test]
async fn assertion_ids_are_single_use_across_issuers_through_redis() {
    use oathmesh_issuer::clients::sign_assertion;
    let url = redis_url();
    let s = start_with(&format!("redis_url = \"{url}\"\n"), "").await;
    let other = second_issuer(&s).await;
    let now = oathmesh_core::Clock::now_secs(&oathmesh_core::SystemClock);
    let jti = format!("shared-{now}-{}", std::process::id());
    let assertion = sign_assertion(&s.client_key, "reporting", ISSUER, now, &jti);
    let auth = format!("OathMesh-Client {assertion}");
    let body = json!({"sub": "svc://reporting", "aud": "https://ledger.internal", "act": "read"})
        .to_string();
    let (status, minted) = s.post("/v1/token", Some(&auth), &body).await;
    assert_eq!(status, 200, "{minted}");
    let resp = s
        .http
        .post(format!("{other}/v1/token"))
        .header("content-type", "application/json")
        .header("authorization", &auth)
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(
        resp.status(),
        401,
        "the second issuer knows the assertion is spent"
    );
    let err: serde_json::Value = resp.json().await.unwrap();
    assert!(
        err["message"].as_str().unwrap().contains("already used"),
        "{err}"
    );
    // The record expires one second after the assertion's last accepted second, absolutely.
    let client = redis::Client::open(url.as_str()).unwrap();
    let mut conn = client.get_connection().unwrap();
    let key = oathmesh_issuer::single_use::RedisSingleUse::key("client:reporting", &jti);
    let expire_at: i64 = redis::cmd("PEXPIRETIME")
        .arg(&key)
        .query(&mut conn)
        .unwrap();
    let until = now + oathmesh_core::client_assertion::ASSERTION_LIFETIME_SECS + 10;
    assert_eq!(expire_at, (until + 1) * 1000);
}

#[tokio::test]
async fn an_unreachable_redis_refuses_instead_of_minting() {
    use oathmesh_issuer::clients::sign_assertion;
    // A port nothing listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let s = start_with(&format!("redis_url = \"redis://127.0.0.1:{port}/\"\n"), "").await;
    let now = oathmesh_core::Clock::now_secs(&oathmesh_core::SystemClock);
    let assertion = sign_assertion(&s.client_key, "reporting", ISSUER, now, "down-1");
    let body = json!({"sub": "svc://reporting", "aud": "https://ledger.internal", "act": "read"})
        .to_string();
    let (status, err) = s
        .post(
            "/v1/token",
            Some(&format!("OathMesh-Client {assertion}")),
            &body,
        )
        .await;
    assert_eq!(status, 503, "{err}");
    assert!(err.get("token").is_none());
}
