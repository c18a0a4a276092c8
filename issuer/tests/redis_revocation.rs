//! With `redis_url`, an admin revocation lands in the shared Redis hash that receivers read:
//! a verifier configured with the same Redis refuses the subject at once.

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
