//! A local OIDC provider standing in for GitHub Actions and GitLab CI: RSA keys generated at
//! run time, the JWKS served over real HTTP on loopback at the providers' own paths
//! (`/.well-known/jwks`, `/oauth/discovery/keys`), ID tokens signed with the claim sets the
//! providers document, and GitHub's job token endpoint (what `ACTIONS_ID_TOKEN_REQUEST_URL`
//! points at). For tests and for trying the exchange without a CI; its keys are throwaway
//! and only trusted by an issuer whose `jwks_url` points here.

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use oathmesh_core::b64;
use rsa::traits::PublicKeyParts;
use rsa::{Pkcs1v15Sign, RsaPrivateKey};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

/// An RSA signing key with its `kid`.
pub struct ProviderKey {
    pub kid: String,
    private: RsaPrivateKey,
}

impl ProviderKey {
    /// A fresh 2048-bit key from the OS RNG.
    pub fn generate(kid: &str) -> ProviderKey {
        let private = RsaPrivateKey::new(&mut rand_core::OsRng, 2048).expect("RSA key generation");
        ProviderKey {
            kid: kid.to_owned(),
            private,
        }
    }

    /// The public JWK, as GitHub publishes it.
    pub fn jwk(&self) -> Value {
        json!({
            "kty": "RSA",
            "alg": "RS256",
            "use": "sig",
            "kid": self.kid,
            "n": b64::encode(&self.private.n().to_bytes_be()),
            "e": b64::encode(&self.private.e().to_bytes_be()),
        })
    }

    /// A compact JWS of `claims` under `header`, signed RS256 whatever the header says
    /// (tests set other `alg`s to check they are refused).
    pub fn sign_with_header(&self, header: &Value, claims: &Value) -> String {
        let input = format!(
            "{}.{}",
            b64::encode(header.to_string().as_bytes()),
            b64::encode(claims.to_string().as_bytes())
        );
        let digest = Sha256::digest(input.as_bytes());
        let signature = self
            .private
            .sign(Pkcs1v15Sign::new::<Sha256>(), &digest)
            .expect("RSA signing");
        format!("{input}.{}", b64::encode(&signature))
    }

    /// An RS256 ID token with this key's `kid`.
    pub fn sign(&self, claims: &Value) -> String {
        self.sign_with_header(
            &json!({"typ": "JWT", "alg": "RS256", "kid": self.kid, "x5t": "local-provider"}),
            claims,
        )
    }
}

/// Three keys made once per process (2048-bit generation is the slow part of a test run):
/// `[0]` is published from the start, `[1]` is for rotations, `[2]` is never published.
pub fn shared_keys() -> &'static [ProviderKey; 3] {
    static KEYS: OnceLock<[ProviderKey; 3]> = OnceLock::new();
    KEYS.get_or_init(|| {
        [
            ProviderKey::generate("local-key-1"),
            ProviderKey::generate("local-key-2"),
            ProviderKey::generate("local-key-unpublished"),
        ]
    })
}

/// GitHub's documented ID token claims for a job in `repository` running `workflow_file`
/// on `git_ref`, in `environment` when given. Ids are strings, as GitHub sends them.
pub fn github_claims(
    issuer: &str,
    aud: &str,
    now: i64,
    repository: &str,
    workflow_file: &str,
    git_ref: &str,
    environment: Option<&str>,
) -> Value {
    let owner = repository.split('/').next().unwrap_or_default();
    let workflow_ref = format!("{repository}/.github/workflows/{workflow_file}@{git_ref}");
    let sub = match environment {
        Some(env) => format!("repo:{repository}:environment:{env}"),
        None => format!("repo:{repository}:ref:{git_ref}"),
    };
    let mut claims = json!({
        "jti": new_jti(),
        "sub": sub,
        "aud": aud,
        "ref": git_ref,
        "sha": "8a9f3c6a2d1e4b7f9c0d5e6f7a8b9c0d1e2f3a4b",
        "repository": repository,
        "repository_owner": owner,
        "repository_owner_id": "65",
        "repository_visibility": "private",
        "repository_id": "74",
        "actor_id": "12",
        "actor": "octocat",
        "run_id": "8012345678",
        "run_number": "10",
        "run_attempt": "1",
        "runner_environment": "github-hosted",
        "workflow": "Deploy",
        "workflow_ref": workflow_ref,
        "workflow_sha": "8a9f3c6a2d1e4b7f9c0d5e6f7a8b9c0d1e2f3a4b",
        "job_workflow_ref": workflow_ref,
        "job_workflow_sha": "8a9f3c6a2d1e4b7f9c0d5e6f7a8b9c0d1e2f3a4b",
        "head_ref": "",
        "base_ref": "",
        "event_name": "push",
        "ref_type": "branch",
        "ref_protected": "true",
        "iss": issuer,
        "nbf": now - 600,
        "exp": now + 300,
        "iat": now,
    });
    if let Some(env) = environment {
        claims["environment"] = json!(env);
    }
    claims
}

/// GitLab's documented ID token claims for a pipeline of `project_path` on branch
/// `branch`, in `environment` when given. Most ids are strings; `runner_id` is a number.
pub fn gitlab_claims(
    issuer: &str,
    aud: &str,
    now: i64,
    project_path: &str,
    branch: &str,
    environment: Option<&str>,
) -> Value {
    let namespace = project_path.rsplit_once('/').map_or("", |(ns, _)| ns);
    let mut claims = json!({
        "namespace_id": "72",
        "namespace_path": namespace,
        "project_id": "20",
        "project_path": project_path,
        "user_id": "1",
        "user_login": "sample-user",
        "user_email": "sample-user@example.com",
        "user_access_level": "maintainer",
        "pipeline_id": "574",
        "pipeline_source": "push",
        "job_id": "302",
        "ref": branch,
        "ref_type": "branch",
        "ref_path": format!("refs/heads/{branch}"),
        "ref_protected": "true",
        "runner_id": 1,
        "runner_environment": "gitlab-hosted",
        "sha": "714a629c0b401fdce83e847fc9589983fc6f46bc",
        "project_visibility": "private",
        "ci_config_ref_uri": format!("gitlab.example.com/{project_path}//.gitlab-ci.yml@refs/heads/{branch}"),
        "ci_config_sha": "714a629c0b401fdce83e847fc9589983fc6f46bc",
        "jti": new_jti(),
        "iat": now,
        "nbf": now - 5,
        "exp": now + 3600,
        "iss": issuer,
        "sub": format!("project_path:{project_path}:ref_type:branch:ref:{branch}"),
        "aud": aud,
    });
    if let Some(env) = environment {
        claims["environment"] = json!(env);
        claims["environment_protected"] = json!("true");
        claims["deployment_tier"] = json!("production");
        claims["environment_action"] = json!("start");
    }
    claims
}

fn new_jti() -> String {
    oathmesh_core::issuer::new_jti().expect("OS RNG")
}

/// What GitHub's token endpoint signs for the job: the job fields of [`github_claims`].
#[derive(Debug, Clone)]
pub struct GithubJob {
    pub repository: String,
    pub workflow_file: String,
    pub git_ref: String,
    pub environment: Option<String>,
}

struct Shared {
    base: String,
    published: Mutex<Vec<usize>>,
    job: Mutex<GithubJob>,
    request_token: String,
    jwks_requests: AtomicU64,
}

/// A running local provider. Its server runs on its own thread (with its own runtime), so
/// one provider can serve many tests and blocking callers; it stops when dropped.
pub struct LocalProvider {
    shared: Arc<Shared>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl LocalProvider {
    /// Starts on `127.0.0.1:<free port>`, publishing `shared_keys()[0]`.
    pub fn start() -> LocalProvider {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        listener.set_nonblocking(true).expect("nonblocking");
        let base = format!("http://{}", listener.local_addr().expect("local addr"));
        let shared = Arc::new(Shared {
            base,
            published: Mutex::new(vec![0]),
            job: Mutex::new(GithubJob {
                repository: "octo-org/octo-repo".into(),
                workflow_file: "deploy.yml".into(),
                git_ref: "refs/heads/main".into(),
                environment: Some("prod".into()),
            }),
            request_token: format!("local-request-token-{}", new_jti()),
            jwks_requests: AtomicU64::new(0),
        });
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let app = Router::new()
            .route("/.well-known/jwks", get(jwks))
            .route("/oauth/discovery/keys", get(jwks))
            .route("/idtoken", get(github_token_endpoint))
            .with_state(shared.clone());
        std::thread::Builder::new()
            .name("local-oidc-provider".into())
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("runtime");
                runtime.block_on(async move {
                    let listener =
                        tokio::net::TcpListener::from_std(listener).expect("tokio listener");
                    let _ = axum::serve(listener, app)
                        .with_graceful_shutdown(async {
                            let _ = stopped.await;
                        })
                        .await;
                });
            })
            .expect("provider thread");
        LocalProvider {
            shared,
            stop: Some(stop),
        }
    }

    /// `http://127.0.0.1:<port>`: the provider's issuer (`iss`).
    pub fn issuer(&self) -> &str {
        &self.shared.base
    }

    /// GitHub's JWKS path on this provider.
    pub fn github_jwks_url(&self) -> String {
        format!("{}/.well-known/jwks", self.shared.base)
    }

    /// GitLab's JWKS path on this provider.
    pub fn gitlab_jwks_url(&self) -> String {
        format!("{}/oauth/discovery/keys", self.shared.base)
    }

    /// What a GitHub job sees as `ACTIONS_ID_TOKEN_REQUEST_URL` (with a query, like GitHub's).
    pub fn github_request_url(&self) -> String {
        format!("{}/idtoken?api-version=2.0", self.shared.base)
    }

    /// What a GitHub job sees as `ACTIONS_ID_TOKEN_REQUEST_TOKEN`.
    pub fn github_request_token(&self) -> &str {
        &self.shared.request_token
    }

    /// Which of [`shared_keys`] the JWKS lists.
    pub fn publish(&self, indexes: &[usize]) {
        *self
            .shared
            .published
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = indexes.to_vec();
    }

    /// The job the token endpoint signs for.
    pub fn set_github_job(&self, job: GithubJob) {
        *self.shared.job.lock().unwrap_or_else(|p| p.into_inner()) = job;
    }

    /// JWKS documents served so far.
    pub fn jwks_requests(&self) -> u64 {
        self.shared.jwks_requests.load(Ordering::SeqCst)
    }
}

impl Drop for LocalProvider {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

async fn jwks(State(shared): State<Arc<Shared>>) -> Json<Value> {
    shared.jwks_requests.fetch_add(1, Ordering::SeqCst);
    let published = shared
        .published
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone();
    let keys: Vec<Value> = published.iter().map(|&i| shared_keys()[i].jwk()).collect();
    Json(json!({"keys": keys}))
}

/// GitHub's token endpoint: `GET <request url>&audience=<aud>` with the request token as a
/// bearer credential; answers `{"count": .., "value": "<jwt>"}`.
async fn github_token_endpoint(
    State(shared): State<Arc<Shared>>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, t)| t);
    if presented != Some(shared.request_token.as_str()) {
        return (StatusCode::UNAUTHORIZED, "bad request token").into_response();
    }
    let job = shared.job.lock().unwrap_or_else(|p| p.into_inner()).clone();
    let owner = job.repository.split('/').next().unwrap_or_default();
    let aud = query
        .get("audience")
        .cloned()
        .unwrap_or_else(|| format!("https://github.com/{owner}"));
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    let claims = github_claims(
        &shared.base,
        &aud,
        now,
        &job.repository,
        &job.workflow_file,
        &job.git_ref,
        job.environment.as_deref(),
    );
    let token = shared_keys()[0].sign(&claims);
    Json(json!({"count": 1, "value": token})).into_response()
}
