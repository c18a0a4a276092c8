//! The CI OIDC exchange end to end: a local OIDC provider (RSA keys made at test time, JWKS
//! over real HTTP on loopback, GitHub's and GitLab's documented claim sets) and a real issuer
//! on loopback. Accepted exchanges are checked by the core verifier; every refusal by code.

mod common;

use common::*;
use hmac::{Hmac, Mac};
use oathmesh_core::{Clock, FixedClock, MemoryRevocationList, VerifyContext, b64};
use oathmesh_issuer::exchange::local_provider::{
    LocalProvider, github_claims, gitlab_claims, shared_keys,
};
use oathmesh_issuer::{AppState, IssuerConfig, keyring};
use serde_json::{Value, json};
use std::sync::{Arc, OnceLock};

const DEPLOY_AUD: &str = "https://deploy.internal";

/// One provider for the whole binary (its server runs on its own thread).
fn provider() -> &'static LocalProvider {
    static PROVIDER: OnceLock<LocalProvider> = OnceLock::new();
    PROVIDER.get_or_init(LocalProvider::start)
}

fn now() -> i64 {
    oathmesh_core::SystemClock.now_secs()
}

/// The exchange sections: GitHub and GitLab both trust `p`, with one rule each.
fn exchange_toml(p: &LocalProvider) -> String {
    format!(
        r#"
[exchange.github]
issuer = "{iss}"
jwks_url = "{gh}"

[[exchange.github.rules]]
repository = "octo-org/*"
repository_owner_id = "65"
refs = ["refs/heads/main", "refs/tags/v*"]
environments = ["prod"]
aud = ["https://*.internal"]
act = ["deploy", "read"]

[exchange.gitlab]
issuer = "{iss}"
jwks_url = "{gl}"
audience = "https://issuer.test/gitlab"

[[exchange.gitlab.rules]]
project = "my-group/*"
namespace_id = "72"
refs = ["refs/heads/main"]
aud = ["https://*.internal"]
act = ["deploy"]
"#,
        iss = p.issuer(),
        gh = p.github_jwks_url(),
        gl = p.gitlab_jwks_url(),
    )
}

fn github_token(repo: &str, workflow: &str, git_ref: &str, env: Option<&str>) -> String {
    let p = provider();
    shared_keys()[0].sign(&github_claims(
        p.issuer(),
        ISSUER,
        now(),
        repo,
        workflow,
        git_ref,
        env,
    ))
}

fn default_github_claims() -> Value {
    github_claims(
        provider().issuer(),
        ISSUER,
        now(),
        "octo-org/octo-repo",
        "deploy.yml",
        "refs/heads/main",
        Some("prod"),
    )
}

fn ask(id_token: &str, act: &str) -> String {
    json!({"id_token": id_token, "aud": DEPLOY_AUD, "act": act}).to_string()
}

async fn exchange(s: &Server, provider: &str, body: &str) -> (u16, Value) {
    s.post(&format!("/v1/exchange/{provider}"), None, body)
        .await
}

fn expect_refusal(got: &(u16, Value), status: u16, code: &str, says: &str, case: &str) {
    assert_eq!(got.0, status, "{case}: {}", got.1);
    assert_eq!(got.1["error"], code, "{case}: {}", got.1);
    let message = got.1["message"].as_str().unwrap_or("");
    assert!(message.contains(says), "{case}: {message:?} lacks {says:?}");
    assert!(got.1["fix"].as_str().unwrap_or("").len() > 10, "{case}");
}

#[tokio::test]
async fn a_github_job_gets_an_oath_token_the_core_accepts() {
    let s = start(&exchange_toml(provider())).await;
    let token = github_token(
        "octo-org/octo-repo",
        "deploy.yml",
        "refs/heads/main",
        Some("prod"),
    );
    let body = json!({"id_token": token, "aud": DEPLOY_AUD, "act": "deploy", "ttl_hint": 60, "rqh": oathmesh_core::canonical_request_hash("POST", "/v1/deploy", b"{}")});
    let (status, answer) = exchange(&s, "github", &body.to_string()).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["expires_in"], 60);
    assert_eq!(answer["sub"], "job://github/octo-org/octo-repo/deploy.yml");
    let caller = s
        .verifier(DEPLOY_AUD)
        .await
        .verify(
            answer["token"].as_str().unwrap(),
            &VerifyContext {
                request: Some(oathmesh_core::RequestParts {
                    method: "POST",
                    path_and_query: "/v1/deploy",
                    body: b"{}",
                }),
                ..VerifyContext::default()
            },
        )
        .unwrap();
    assert_eq!(caller.subject, "job://github/octo-org/octo-repo/deploy.yml");
    assert_eq!(caller.issuer, ISSUER);
    assert_eq!(caller.action, "deploy");
    assert_eq!(caller.env.as_deref(), Some("prod"));
    let src = serde_json::to_value(caller.source.unwrap()).unwrap();
    assert_eq!(
        src,
        json!({"type": "github_actions", "repo": "octo-org/octo-repo", "workflow": "deploy.yml", "run_id": "8012345678", "sha": "8a9f3c6a2d1e4b7f9c0d5e6f7a8b9c0d1e2f3a4b"})
    );
    // Tags match the rule's `refs/tags/v*`.
    let tag = github_token(
        "octo-org/octo-repo",
        "release.yml",
        "refs/tags/v1.2.0",
        Some("prod"),
    );
    let (status, answer) = exchange(&s, "github", &ask(&tag, "read")).await;
    assert_eq!(status, 200, "{answer}");
    // Metrics count exchanges by provider and outcome.
    let (_, metrics) = s.get("/metrics").await;
    assert!(
        metrics.contains("oathmesh_issuer_exchanges_total{provider=\"github\",outcome=\"ok\"} 2\n"),
        "{metrics}"
    );
}

#[tokio::test]
async fn a_gitlab_job_gets_an_oath_token_the_core_accepts() {
    let s = start(&exchange_toml(provider())).await;
    let claims = gitlab_claims(
        provider().issuer(),
        "https://issuer.test/gitlab",
        now(),
        "my-group/my-project",
        "main",
        Some("production"),
    );
    let (status, answer) = exchange(
        &s,
        "gitlab",
        &ask(&shared_keys()[0].sign(&claims), "deploy"),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    let caller = s
        .verifier(DEPLOY_AUD)
        .await
        .verify(answer["token"].as_str().unwrap(), &VerifyContext::default())
        .unwrap();
    assert_eq!(caller.subject, "job://gitlab/my-group/my-project");
    assert_eq!(caller.env.as_deref(), Some("production"));
    let src = serde_json::to_value(caller.source.unwrap()).unwrap();
    assert_eq!(
        src,
        json!({"type": "gitlab_ci", "repo": "my-group/my-project", "workflow": "main", "run_id": "574", "sha": "714a629c0b401fdce83e847fc9589983fc6f46bc"})
    );
    // GitLab's audience is configured separately: a token for the GitHub audience is refused.
    let wrong = gitlab_claims(
        provider().issuer(),
        ISSUER,
        now(),
        "my-group/my-project",
        "main",
        None,
    );
    let got = exchange(&s, "gitlab", &ask(&shared_keys()[0].sign(&wrong), "deploy")).await;
    expect_refusal(&got, 401, "id_token_invalid", "wrong aud", "gitlab aud");
    // Discovery tells CI jobs which audience to request.
    let (_, discovery) = s.get("/.well-known/oathmesh-issuer").await;
    let discovery: Value = serde_json::from_str(&discovery).unwrap();
    assert_eq!(discovery["exchange"]["github"]["id_token_audience"], ISSUER);
    assert_eq!(
        discovery["exchange"]["gitlab"]["id_token_audience"],
        "https://issuer.test/gitlab"
    );
}

fn with(mut claims: Value, key: &str, value: Value) -> Value {
    claims[key] = value;
    claims
}

fn hs256_with_public_key(claims: &Value) -> String {
    // The classic confusion attack: HMAC keyed with the provider's public key.
    let header = json!({"alg": "HS256", "typ": "JWT", "kid": shared_keys()[0].kid});
    let input = format!(
        "{}.{}",
        b64::encode(header.to_string().as_bytes()),
        b64::encode(claims.to_string().as_bytes())
    );
    let mut mac =
        Hmac::<sha2::Sha256>::new_from_slice(shared_keys()[0].jwk().to_string().as_bytes())
            .unwrap();
    mac.update(input.as_bytes());
    format!("{input}.{}", b64::encode(&mac.finalize().into_bytes()))
}

#[tokio::test]
async fn bad_id_tokens_are_refused_with_the_failed_check() {
    let s = start(&exchange_toml(provider())).await;
    let key = &shared_keys()[0];
    let t = now();
    let good = default_github_claims();
    let none = format!(
        "{}.{}.",
        b64::encode(br#"{"alg":"none","typ":"JWT"}"#),
        b64::encode(good.to_string().as_bytes())
    );
    let tampered = {
        let token = key.sign(&good);
        let (input, _) = token.rsplit_once('.').unwrap();
        let forged = key.sign(&with(good.clone(), "repository", json!("octo-org/other")));
        let (_, other_sig) = forged.rsplit_once('.').unwrap();
        format!("{input}.{other_sig}")
    };
    let swapped_payload = {
        let token = key.sign(&good);
        let parts: Vec<&str> = token.split('.').collect();
        let evil = with(good.clone(), "repository", json!("octo-org/secrets"));
        format!(
            "{}.{}.{}",
            parts[0],
            b64::encode(evil.to_string().as_bytes()),
            parts[2]
        )
    };
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "wrong aud",
            key.sign(&with(
                good.clone(),
                "aud",
                json!("https://github.com/octo-org"),
            )),
            "wrong aud",
        ),
        (
            "aud array of two",
            key.sign(&with(good.clone(), "aud", json!([ISSUER, "https://other"]))),
            "wrong aud",
        ),
        (
            "expired",
            key.sign(&with(
                with(good.clone(), "exp", json!(t - 120)),
                "iat",
                json!(t - 420),
            )),
            "expired",
        ),
        (
            "future iat",
            key.sign(&with(
                with(good.clone(), "iat", json!(t + 600)),
                "exp",
                json!(t + 900),
            )),
            "issued in the future",
        ),
        (
            "future nbf",
            key.sign(&with(good.clone(), "nbf", json!(t + 600))),
            "not yet valid",
        ),
        (
            "wrong iss",
            key.sign(&with(
                good.clone(),
                "iss",
                json!("https://token.actions.githubusercontent.com"),
            )),
            "wrong iss",
        ),
        ("HS256", hs256_with_public_key(&good), "alg not allowed"),
        ("alg none", none, "alg not allowed"),
        (
            "RS512 label",
            key.sign_with_header(&json!({"alg": "RS512", "kid": key.kid}), &good),
            "alg not allowed",
        ),
        ("unknown kid", shared_keys()[2].sign(&good), "unknown kid"),
        (
            "published kid, other key",
            shared_keys()[2].sign_with_header(&json!({"alg": "RS256", "kid": key.kid}), &good),
            "bad signature",
        ),
        ("tampered signature", tampered, "bad signature"),
        ("swapped payload", swapped_payload, "bad signature"),
        ("not a JWS", "not-a-token".into(), "malformed"),
        (
            "float exp",
            key.sign(&with(good.clone(), "exp", json!(1e12))),
            "integer",
        ),
        (
            "no repository",
            key.sign(&{
                let mut c = good.clone();
                c.as_object_mut().unwrap().remove("repository");
                c
            }),
            "repository",
        ),
    ];
    for (case, token, says) in cases {
        let got = exchange(&s, "github", &ask(&token, "deploy")).await;
        expect_refusal(&got, 401, "id_token_invalid", says, case);
    }
    let (_, metrics) = s.get("/metrics").await;
    assert!(
        metrics.contains(
            "oathmesh_issuer_exchanges_total{provider=\"github\",outcome=\"id_token_invalid\"} 16\n"
        ),
        "{metrics}"
    );
}

#[tokio::test]
async fn jobs_outside_the_rules_are_denied_naming_the_field() {
    let s = start(&exchange_toml(provider())).await;
    let cases = [
        (
            "repository",
            github_token(
                "evil-org/octo-repo",
                "deploy.yml",
                "refs/heads/main",
                Some("prod"),
            ),
            "deploy",
            DEPLOY_AUD,
            "evil-org/octo-repo",
        ),
        (
            "ref",
            github_token(
                "octo-org/octo-repo",
                "deploy.yml",
                "refs/heads/feature",
                Some("prod"),
            ),
            "deploy",
            DEPLOY_AUD,
            "refs/heads/feature",
        ),
        (
            "pull request ref",
            github_token(
                "octo-org/octo-repo",
                "deploy.yml",
                "refs/pull/7/merge",
                Some("prod"),
            ),
            "deploy",
            DEPLOY_AUD,
            "ref `refs/pull/7/merge`",
        ),
        (
            "environment",
            github_token(
                "octo-org/octo-repo",
                "deploy.yml",
                "refs/heads/main",
                Some("staging"),
            ),
            "deploy",
            DEPLOY_AUD,
            "environment `staging`",
        ),
        (
            "no environment",
            github_token("octo-org/octo-repo", "deploy.yml", "refs/heads/main", None),
            "deploy",
            DEPLOY_AUD,
            "environment `(none)`",
        ),
        (
            "act",
            github_token(
                "octo-org/octo-repo",
                "deploy.yml",
                "refs/heads/main",
                Some("prod"),
            ),
            "drop-tables",
            DEPLOY_AUD,
            "act `drop-tables`",
        ),
        (
            "aud",
            github_token(
                "octo-org/octo-repo",
                "deploy.yml",
                "refs/heads/main",
                Some("prod"),
            ),
            "deploy",
            "https://deploy.example.com",
            "aud `https://deploy.example.com`",
        ),
    ];
    for (case, token, act, aud, says) in cases {
        let body = json!({"id_token": token, "aud": aud, "act": act}).to_string();
        let got = exchange(&s, "github", &body).await;
        expect_refusal(&got, 403, "exchange_denied", says, case);
    }
    // GitLab: a project outside the rule, and a branch outside it.
    for (project, branch, says) in [
        ("other-group/app", "main", "project `other-group/app`"),
        ("my-group/app", "dev", "ref `refs/heads/dev`"),
    ] {
        let claims = gitlab_claims(
            provider().issuer(),
            "https://issuer.test/gitlab",
            now(),
            project,
            branch,
            None,
        );
        let got = exchange(
            &s,
            "gitlab",
            &ask(&shared_keys()[0].sign(&claims), "deploy"),
        )
        .await;
        expect_refusal(&got, 403, "exchange_denied", says, project);
    }
}

#[tokio::test]
async fn an_id_token_is_exchanged_once_and_a_refusal_does_not_burn_it() {
    let s = start(&exchange_toml(provider())).await;
    let token = github_token(
        "octo-org/octo-repo",
        "deploy.yml",
        "refs/heads/main",
        Some("prod"),
    );
    let refused = exchange(&s, "github", &ask(&token, "not-allowed")).await;
    assert_eq!(refused.0, 403);
    let first = exchange(&s, "github", &ask(&token, "deploy")).await;
    assert_eq!(first.0, 200, "{}", first.1);
    let again = exchange(&s, "github", &ask(&token, "read")).await;
    expect_refusal(&again, 401, "id_token_invalid", "replayed", "replay");
    // Without a `jti`, the token itself is remembered.
    let mut claims = default_github_claims();
    claims.as_object_mut().unwrap().remove("jti");
    let no_jti = shared_keys()[0].sign(&claims);
    assert_eq!(exchange(&s, "github", &ask(&no_jti, "deploy")).await.0, 200);
    let again = exchange(&s, "github", &ask(&no_jti, "deploy")).await;
    expect_refusal(
        &again,
        401,
        "id_token_invalid",
        "replayed",
        "replay without jti",
    );
}

#[tokio::test]
async fn bodies_are_strict_and_small() {
    let s = start(&exchange_toml(provider())).await;
    let token = github_token(
        "octo-org/octo-repo",
        "deploy.yml",
        "refs/heads/main",
        Some("prod"),
    );
    let big =
        json!({"id_token": token, "aud": DEPLOY_AUD, "act": "deploy", "rqh": "x".repeat(70_000)})
            .to_string();
    let unknown = json!({"id_token": token, "aud": DEPLOY_AUD, "act": "deploy", "sub": "job://github/octo-org/x"}).to_string();
    let duplicate =
        format!(r#"{{"id_token":"{token}","aud":"{DEPLOY_AUD}","act":"deploy","act":"read"}}"#);
    for (case, body, status, code) in [
        ("oversize", big.as_str(), 413, "payload_too_large"),
        ("unknown key", unknown.as_str(), 400, "invalid_request"),
        ("duplicate key", duplicate.as_str(), 400, "invalid_request"),
        ("not JSON", "{", 400, "invalid_request"),
        (
            "missing act",
            &json!({"id_token": token, "aud": DEPLOY_AUD}).to_string(),
            400,
            "invalid_request",
        ),
        (
            "bad rqh",
            &json!({"id_token": token, "aud": DEPLOY_AUD, "act": "deploy", "rqh": "sha256:no"})
                .to_string(),
            400,
            "claim_invalid:rqh",
        ),
    ] {
        let (got, err) = exchange(&s, "github", body).await;
        assert_eq!(
            (got, err["error"].as_str().unwrap_or("")),
            (status, code),
            "{case}"
        );
    }
    let resp = s
        .http
        .post(format!("{}/v1/exchange/github", s.base))
        .header("content-type", "text/plain")
        .body(ask(&token, "deploy"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 415);
    // None of the refusals above used up the token.
    assert_eq!(exchange(&s, "github", &ask(&token, "deploy")).await.0, 200);
    // Unknown providers, and providers this issuer does not configure.
    assert_eq!(
        exchange(&s, "circleci", &ask(&token, "deploy")).await.0,
        404
    );
    let bare = start("").await;
    let got = exchange(&bare, "github", &ask(&token, "deploy")).await;
    assert_eq!(
        (got.0, got.1["error"].as_str()),
        (404, Some("exchange_disabled"))
    );
}

#[tokio::test]
async fn unusual_workflow_names_map_to_valid_distinct_subjects() {
    let s = start(&exchange_toml(provider())).await;
    let verifier = s.verifier(DEPLOY_AUD).await;
    let mut subjects = Vec::new();
    for workflow in [
        "deploy prod.yml",
        "déploiement 🚀.yml",
        "deploy_prod.yml",
        "a@b.yml",
    ] {
        let token = github_token(
            "octo-org/octo-repo",
            workflow,
            "refs/heads/main",
            Some("prod"),
        );
        let (status, answer) = exchange(&s, "github", &ask(&token, "deploy")).await;
        assert_eq!(status, 200, "{workflow}: {answer}");
        let caller = verifier
            .verify(answer["token"].as_str().unwrap(), &VerifyContext::default())
            .unwrap();
        assert!(oathmesh_core::claims::is_valid_subject(&caller.subject));
        assert!(
            caller
                .subject
                .starts_with("job://github/octo-org/octo-repo/")
        );
        // The original name is kept in `src.workflow`.
        assert_eq!(caller.source.unwrap().workflow.as_deref(), Some(workflow));
        subjects.push(caller.subject);
    }
    assert!(
        subjects[0].starts_with("job://github/octo-org/octo-repo/deploy_prod.yml-_"),
        "{}",
        subjects[0]
    );
    assert_eq!(
        subjects[2],
        "job://github/octo-org/octo-repo/deploy_prod.yml"
    );
    let unique: std::collections::HashSet<_> = subjects.iter().collect();
    assert_eq!(unique.len(), subjects.len(), "{subjects:?}");
    // A name too long for a subject is refused rather than cut.
    let long = format!("{}.yml", "w".repeat(240));
    let token = github_token("octo-org/octo-repo", &long, "refs/heads/main", Some("prod"));
    let got = exchange(&s, "github", &ask(&token, "deploy")).await;
    expect_refusal(
        &got,
        422,
        "identity_unmappable",
        "256",
        "long workflow name",
    );
}

#[tokio::test]
async fn revoked_ci_subjects_cannot_exchange() {
    let s = start(&exchange_toml(provider())).await;
    let (status, _) = s
        .post(
            "/v1/admin/revoke",
            Some(&format!("Bearer {ADMIN}")),
            &json!({"sub": "job://github/octo-org/octo-repo/deploy.yml"}).to_string(),
        )
        .await;
    assert_eq!(status, 200);
    let token = github_token(
        "octo-org/octo-repo",
        "deploy.yml",
        "refs/heads/main",
        Some("prod"),
    );
    let got = exchange(&s, "github", &ask(&token, "deploy")).await;
    expect_refusal(&got, 403, "subject_revoked", "revoked", "revoked");
    // Another workflow of the same repository is a different subject.
    let other = github_token(
        "octo-org/octo-repo",
        "ci.yml",
        "refs/heads/main",
        Some("prod"),
    );
    assert_eq!(exchange(&s, "github", &ask(&other, "deploy")).await.0, 200);
}

/// An issuer on loopback with a clock the test moves.
async fn start_with_clock(exchange: &str, clock: Arc<FixedClock>) -> (Server, Arc<AppState>) {
    let dir = tempfile::tempdir().unwrap();
    keyring::rotate(&dir.path().join("keys"), 1_000).unwrap();
    let toml = format!(
        "issuer = \"{ISSUER}\"\nkey_dir = \"{}\"\n{exchange}",
        dir.path().join("keys").display()
    );
    let config = IssuerConfig::from_toml(&toml).unwrap();
    let state = Arc::new(
        AppState::new(
            config,
            Arc::new(MemoryRevocationList::new()),
            Arc::new(oathmesh_issuer::single_use::MemorySingleUse::default()),
            clock,
        )
        .unwrap(),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(oathmesh_issuer::serve(
        state.clone(),
        listener,
        None,
        std::future::pending(),
    ));
    let server = Server {
        base,
        state: state.clone(),
        dir,
        client_key: oathmesh_core::keys::signing_key_from_pem(
            &oathmesh_core::generate_key().private_pem,
        )
        .unwrap(),
        http: reqwest::Client::new(),
    };
    (server, state)
}

#[tokio::test]
async fn provider_keys_are_cached_refetched_for_new_kids_at_most_every_ten_seconds() {
    let own = LocalProvider::start();
    let clock = Arc::new(FixedClock::at_secs(now()));
    let (s, state) = start_with_clock(&exchange_toml(&own), clock.clone()).await;
    let fetches = || {
        state
            .exchanger
            .provider(oathmesh_issuer::exchange::ProviderKind::Github)
            .unwrap()
            .keys
            .fetch_count()
    };
    let own_issuer = own.issuer().to_owned();
    let sign = |index: usize, t: i64| {
        shared_keys()[index].sign(&github_claims(
            &own_issuer,
            ISSUER,
            t,
            "octo-org/octo-repo",
            "deploy.yml",
            "refs/heads/main",
            Some("prod"),
        ))
    };
    assert_eq!(
        exchange(&s, "github", &ask(&sign(0, clock.now_secs()), "deploy"))
            .await
            .0,
        200
    );
    assert_eq!(
        exchange(&s, "github", &ask(&sign(0, clock.now_secs()), "deploy"))
            .await
            .0,
        200
    );
    assert_eq!(fetches(), 1, "fresh keys are reused");
    // The provider rotates: key 2 appears. The first unknown kid refetches and finds it.
    own.publish(&[0, 1]);
    assert_eq!(
        exchange(&s, "github", &ask(&sign(1, clock.now_secs()), "deploy"))
            .await
            .0,
        200
    );
    assert_eq!(fetches(), 2);
    // Made-up kids: that refetch used this 10 s's budget, so none of these fetches.
    for _ in 0..5 {
        let got = exchange(&s, "github", &ask(&sign(2, clock.now_secs()), "deploy")).await;
        expect_refusal(
            &got,
            401,
            "id_token_invalid",
            "unknown kid",
            "unpublished key",
        );
    }
    assert_eq!(fetches(), 2);
    // After the interval, one more refetch for an unknown kid, then none again.
    clock.advance_secs(11);
    for _ in 0..3 {
        let got = exchange(&s, "github", &ask(&sign(2, clock.now_secs()), "deploy")).await;
        expect_refusal(
            &got,
            401,
            "id_token_invalid",
            "unknown kid",
            "after the interval",
        );
    }
    assert_eq!(fetches(), 3);
    // Past freshness (300 s) the keys are fetched again; a provider outage then keeps the
    // last good keys (stale-if-error) instead of failing every job.
    clock.advance_secs(301);
    drop(own);
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    assert_eq!(
        exchange(&s, "github", &ask(&sign(0, clock.now_secs()), "deploy"))
            .await
            .0,
        200
    );
    assert_eq!(fetches(), 4);
}

#[tokio::test]
async fn an_unreachable_provider_is_a_503() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let toml = exchange_toml(provider()).replace(
        &provider().github_jwks_url(),
        &format!("http://127.0.0.1:{port}/.well-known/jwks"),
    );
    let s = start(&toml).await;
    let token = github_token(
        "octo-org/octo-repo",
        "deploy.yml",
        "refs/heads/main",
        Some("prod"),
    );
    let got = exchange(&s, "github", &ask(&token, "deploy")).await;
    expect_refusal(
        &got,
        503,
        "provider_unavailable",
        "could not be fetched",
        "provider down",
    );
}

#[test]
fn exchange_configs_are_validated() {
    let base = format!("issuer = \"{ISSUER}\"\nkey_dir = \"keys\"\n");
    let rule = "[[exchange.github.rules]]\nrepository = \"a/*\"\nrepository_id = \"1\"\nrefs = [\"*\"]\naud = [\"*\"]\nact = [\"*\"]\n";
    for (extra, want) in [
        ("[exchange.github]\nrules = []\n".to_owned(), "at least one rule"),
        (format!("[exchange.github]\njwks_url = \"http://jwks.example.com/k\"\n{rule}"), "plain http"),
        (format!("[exchange.github]\nleeway_secs = 3600\n{rule}"), "leeway_secs"),
        ("[exchange.github]\n[[exchange.github.rules]]\nproject = \"a/*\"\nrefs = [\"*\"]\naud = [\"*\"]\nact = [\"*\"]\n".to_owned(), "repository"),
        ("[exchange.github]\n[[exchange.github.rules]]\nrepository = \"a/*\"\nrepository_id = \"1\"\naud = [\"*\"]\nact = [\"*\"]\n".to_owned(), "refs"),
        ("[exchange.github]\n[[exchange.github.rules]]\nrepository = \"a/*\"\nrefs = [\"*\"]\naud = [\"*\"]\nact = [\"*\"]\n".to_owned(), "repository_owner_id"),
        ("[exchange.gitlab]\n[[exchange.gitlab.rules]]\nproject = \"g/*\"\nrefs = [\"*\"]\naud = [\"*\"]\nact = [\"*\"]\n".to_owned(), "namespace_id"),
        ("[exchange.gitlab]\n[[exchange.gitlab.rules]]\nproject = \"g/*\"\nrepository_id = \"1\"\nrefs = [\"*\"]\naud = [\"*\"]\nact = [\"*\"]\n".to_owned(), "gitlab rules name ids"),
        (format!("[exchange.github]\n{}", rule.replace("act = [\"*\"]", "act = []")), "act"),
        (format!("[exchange.github]\nsecret = 1\n{rule}"), "unknown field"),
        ("[exchange.gitlab]\n[[exchange.gitlab.rules]]\nproject = \"g/*\"\nproject_id = \"2\"\nworkflows = [\"x\"]\nrefs = [\"*\"]\naud = [\"*\"]\nact = [\"*\"]\n".to_owned(), "GitHub only"),
    ] {
        let err = IssuerConfig::from_toml(&format!("{base}{extra}")).unwrap_err().to_string();
        assert!(err.contains(want), "{extra}: {err}");
    }
    let ok = IssuerConfig::from_toml(&format!("{base}[exchange.github]\n{rule}")).unwrap();
    let github = ok.exchange.github.unwrap();
    assert_eq!(
        github.jwks_url_or_default(oathmesh_issuer::exchange::ProviderKind::Github),
        "https://token.actions.githubusercontent.com/.well-known/jwks"
    );
    assert_eq!(github.leeway_secs, 60);
}

#[tokio::test]
async fn each_ci_identity_has_its_own_exchange_rate() {
    let toml = exchange_toml(provider()).replacen(
        "[exchange.github]\n",
        "[exchange.github]\nrate_per_sec = 0.01\nburst = 2\n",
        1,
    );
    let s = start(&toml).await;
    let fresh = |workflow: &str| {
        github_token(
            "octo-org/octo-repo",
            workflow,
            "refs/heads/main",
            Some("prod"),
        )
    };
    for _ in 0..2 {
        assert_eq!(
            exchange(&s, "github", &ask(&fresh("deploy.yml"), "deploy"))
                .await
                .0,
            200
        );
    }
    let limited = fresh("deploy.yml");
    let resp = s
        .http
        .post(format!("{}/v1/exchange/github", s.base))
        .header("content-type", "application/json")
        .body(ask(&limited, "deploy"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 429);
    assert!(resp.headers().get("retry-after").is_some());
    // Another workflow is another subject with its own bucket.
    assert_eq!(
        exchange(&s, "github", &ask(&fresh("ci.yml"), "deploy"))
            .await
            .0,
        200
    );
    // A job no rule allows never gets a bucket: it is denied, not rate limited.
    for _ in 0..4 {
        let denied = github_token("evil-org/x", "deploy.yml", "refs/heads/main", Some("prod"));
        assert_eq!(exchange(&s, "github", &ask(&denied, "deploy")).await.0, 403);
    }
}
