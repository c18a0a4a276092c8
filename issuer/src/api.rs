//! The HTTP API (docs/issuer.md). Refusals are `{"error", "message", "fix"}` with a stable
//! [`ErrorCode`].

use crate::IssuerError;
use crate::clients::{AuthError, ClientRegistry};
use crate::config::IssuerConfig;
use crate::errors::{ApiError, ErrorCode};
use crate::exchange::{Exchanger, ProviderKind};
use crate::keyring::{self, KeyError, Keyring};
use crate::metrics::Metrics;
use crate::ratelimit::RateLimiter;
use crate::revocations::RevocationStore;
use crate::single_use::SingleUseStore;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use oathmesh_core::{Clock, MintRequest, keys};
use oathmesh_serving::{ClientCertMode, ConnectionInfo, ServerTls};
use serde_json::json;
use sha2::{Digest, Sha256};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};
use subtle::ConstantTimeEq;

/// Everything the handlers share.
pub struct AppState {
    pub config: IssuerConfig,
    keyring: RwLock<Arc<Keyring>>,
    clients: ClientRegistry,
    pub(crate) limiter: RateLimiter,
    pub metrics: Metrics,
    pub(crate) revocations: Arc<dyn RevocationStore>,
    /// Spent client-assertion and CI ID-token ids (in Redis with `redis_url`).
    pub(crate) single_use: Arc<dyn SingleUseStore>,
    admin_hash: Option<[u8; 32]>,
    /// When set, `/metrics` needs `Authorization: Bearer <token>` with this SHA-256.
    metrics_hash: Option<[u8; 32]>,
    /// When set, `/v1/revoked-subjects` needs a bearer token with this SHA-256.
    revoked_subjects_hash: Option<[u8; 32]>,
    pub(crate) clock: Arc<dyn Clock>,
    /// The CI OIDC exchange (docs/protocol.md, CI OIDC exchange).
    pub exchanger: Exchanger,
    /// The listener's TLS (from `[tls]`), reloaded while serving.
    pub tls: Option<Arc<ServerTls>>,
}

impl AppState {
    pub fn new(
        config: IssuerConfig,
        revocations: Arc<dyn RevocationStore>,
        single_use: Arc<dyn SingleUseStore>,
        clock: Arc<dyn Clock>,
    ) -> Result<AppState, IssuerError> {
        let keyring = Keyring::load(
            &config.key_dir,
            &config.issuer,
            config.allow_readable_private_keys,
        )?;
        let clients = ClientRegistry::new(&config.clients, &config.issuer)?;
        let exchanger = Exchanger::new(&config.exchange, &config.issuer, clock.clone())?;
        let tls = match &config.tls {
            Some(settings) => Some(ServerTls::load(
                settings.clone(),
                "tls",
                ClientCertMode::Optional,
            )?),
            None => None,
        };
        let admin_hash = config.admin_token_sha256.as_deref().map(hash_from_hex);
        let metrics_hash = config.metrics_token_sha256.as_deref().map(hash_from_hex);
        let revoked_subjects_hash = config
            .revoked_subjects_token_sha256
            .as_deref()
            .map(hash_from_hex);
        Ok(AppState {
            config,
            keyring: RwLock::new(Arc::new(keyring)),
            clients,
            limiter: RateLimiter::default(),
            metrics: Metrics::default(),
            revocations,
            single_use,
            admin_hash,
            metrics_hash,
            revoked_subjects_hash,
            clock,
            exchanger,
            tls,
        })
    }

    /// Credential ids remembered as spent in `partition` (`client:<id>`,
    /// `exchange:<provider>`); 0 when the store cannot say (Redis).
    pub fn single_use_len(&self, partition: &str) -> usize {
        self.single_use.remembered(partition).unwrap_or(0)
    }

    /// The issuer that signs right now.
    pub(crate) fn active_issuer(&self) -> Arc<oathmesh_core::Issuer> {
        self.keyring().active.clone()
    }

    fn keyring(&self) -> Arc<Keyring> {
        self.keyring
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Re-reads the key folder if it changed; returns the active kid after the check.
    pub fn reload_keys_if_changed(&self) -> Result<Option<String>, KeyError> {
        let current = self.keyring();
        if keyring::fingerprint(&self.config.key_dir) == current.fingerprint {
            return Ok(None);
        }
        let fresh = Keyring::load(
            &self.config.key_dir,
            &self.config.issuer,
            self.config.allow_readable_private_keys,
        )?;
        let kid = fresh.active.kid().to_owned();
        *self.keyring.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(fresh);
        Ok(Some(kid))
    }

    /// Whether clients can authenticate with certificates (`tls.client_ca_file` is set).
    fn accepts_client_certificates(&self) -> bool {
        self.tls
            .as_ref()
            .is_some_and(|t| t.client_cert_mode().is_some())
    }
}

/// 64 hex digits (checked by the config) as bytes.
fn hash_from_hex(h: &str) -> [u8; 32] {
    let mut out = [0u8; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&h[2 * i..2 * i + 2], 16).unwrap_or(0);
    }
    out
}

/// Which endpoints a router serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoints {
    /// Everything, `/metrics` included.
    All,
    /// Everything but `/metrics` (served on `metrics_listen` instead).
    WithoutMetrics,
    /// Only `/metrics` and `/healthz` (the `metrics_listen` listener).
    MetricsOnly,
}

fn not_found() -> ApiError {
    ApiError::new(
        ErrorCode::NotFound,
        "no such endpoint",
        "See GET /.well-known/oathmesh-issuer for the API.",
    )
}

/// The whole API on one listener (what tests and embedders use).
pub fn router(state: Arc<AppState>) -> Router {
    router_for(state, Endpoints::All)
}

pub fn router_for(state: Arc<AppState>, endpoints: Endpoints) -> Router {
    let health = || async { Json(json!({"status": "ok"})) };
    if endpoints == Endpoints::MetricsOnly {
        return Router::new()
            .route("/metrics", get(metrics))
            .route("/healthz", get(health))
            .fallback(|| async { not_found() })
            .with_state(state);
    }
    let token_routes = Router::new()
        .route("/v1/token", post(mint))
        .route("/v1/exchange/{provider}", post(crate::exchange::exchange))
        .layer(axum::middleware::map_response(no_store));
    let api = Router::new()
        .merge(token_routes)
        .route("/.well-known/jwks.json", get(jwks))
        .route("/.well-known/oathmesh-issuer", get(discovery))
        .route("/v1/revoked-subjects", get(revoked_subjects))
        .route(
            "/v1/admin/revoke",
            post(admin_revoke).delete(admin_unrevoke),
        )
        .route("/healthz", get(health));
    let api = if endpoints == Endpoints::All {
        api.route("/metrics", get(metrics))
    } else {
        api
    };
    api.fallback(|| async { not_found() }).with_state(state)
}

fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|media| media.trim().eq_ignore_ascii_case("application/json"))
}

pub(crate) async fn read_json_body(
    state: &AppState,
    headers: &HeaderMap,
    body: Body,
) -> Result<axum::body::Bytes, ApiError> {
    if !is_json(headers) {
        return Err(ApiError::new(
            ErrorCode::UnsupportedMediaType,
            "the request body must be application/json",
            "Send Content-Type: application/json.",
        ));
    }
    let limit = Duration::from_millis(state.config.body_read_timeout_ms);
    let Ok(read) = tokio::time::timeout(
        limit,
        axum::body::to_bytes(body, state.config.max_body_bytes),
    )
    .await
    else {
        return Err(ApiError::new(
            ErrorCode::RequestTimeout,
            format!(
                "the request body did not arrive within {} ms",
                state.config.body_read_timeout_ms
            ),
            "Send the whole body at once; mint requests are a few hundred bytes.",
        ));
    };
    read.map_err(|_| {
        ApiError::new(
            ErrorCode::PayloadTooLarge,
            format!(
                "the request body exceeds {} bytes",
                state.config.max_body_bytes
            ),
            "Send a smaller request; mint requests are a few hundred bytes.",
        )
    })
}

async fn mint(
    State(state): State<Arc<AppState>>,
    connection: Option<Extension<ConnectionInfo>>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<serde_json::Value>, ApiError> {
    let started = Instant::now();
    let certificate = connection
        .as_ref()
        .and_then(|Extension(c)| c.client_certificate.as_deref());
    let mut client_id = None;
    let result = mint_checked(&state, certificate, &headers, body, &mut client_id).await;
    state.metrics.mint_request(
        client_id.as_deref(),
        result.as_ref().map(|_| ()).map_err(|e| e.code),
        started.elapsed().as_secs_f64(),
    );
    result
}

/// The mint itself; `client_id` is filled in once the client is authenticated, for metrics.
async fn mint_checked(
    state: &AppState,
    certificate: Option<&oathmesh_serving::PeerCertificate>,
    headers: &HeaderMap,
    body: Body,
    client_id: &mut Option<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let now = state.clock.now_secs();
    let authorization = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let (client, unspent) = state
        .clients
        .authenticate(authorization, certificate, now)
        .map_err(|e| auth_refusal(state, e))?;
    *client_id = Some(client.config.id.clone());
    if let Err(wait) = state.limiter.take(
        &client.config.id,
        client.config.rate_per_sec,
        client.config.burst,
        Instant::now(),
    ) {
        return Err(ApiError::new(
            ErrorCode::RateLimited,
            "this client is over its mint rate",
            "Slow down; retry after the Retry-After seconds.",
        )
        .with_retry_after(wait.ceil().max(1.0) as u64));
    }
    let bytes = read_json_body(state, headers, body).await?;
    let request = MintRequest::from_json(&bytes).map_err(|e| ApiError::from_mint_error(&e))?;
    if let Err(field) = client.may_mint(&request) {
        tracing::warn!(client = %client.config.id, field, "mint outside the client's allow-list");
        let (message, fix) = if field == "src" {
            (
                "`src` is set only by the issuer (the CI exchange), never by a mint request".into(),
                "Drop `src` from the request; CI jobs get provenance through /v1/exchange.",
            )
        } else {
            (
                format!("this client may not mint that `{field}`"),
                "Ask the platform team to extend this client's allow-list (allowed_sub, allowed_aud, allowed_act, allowed_env, allowed_tenant, allowed_scope, allowed_delegated_by), or mint an identity it owns.",
            )
        };
        return Err(ApiError::new(ErrorCode::MintDenied, message, fix));
    }
    match state.revocations.is_revoked(&request.sub) {
        Ok(false) => {}
        Ok(true) => {
            return Err(ApiError::new(
                ErrorCode::SubjectRevoked,
                "the subject is revoked",
                "Ask the platform team to review the revocation.",
            ));
        }
        Err(e) => {
            tracing::error!(error = %e, "revocation store unavailable");
            return Err(ApiError::revocation_unavailable());
        }
    }
    // Last: the assertion is spent only by a request that passed every other check and the
    // rate limit, so refused requests do not burn it (and cannot fill the store).
    if let Some(unspent) = &unspent {
        state
            .clients
            .spend_assertion(state.single_use.as_ref(), client, unspent, now)
            .map_err(|reject| auth_refusal(state, AuthError::Assertion(reject)))?;
    }
    let issuer = state.active_issuer();
    let minted = issuer
        .mint(&request)
        .map_err(|e| ApiError::from_mint_error(&e))?;
    tracing::info!(client = %client.config.id, sub = %request.sub, aud = %request.aud, act = %request.act, jti = %minted.jti, kid = %issuer.kid(), "minted");
    Ok(Json(
        json!({"token": minted.token, "expires_in": minted.expires_in, "token_type": minted.token_type}),
    ))
}

/// The refusal of a failed client authentication. A lost replay store is a 503 (retry),
/// everything else `invalid_client`.
fn auth_refusal(state: &AppState, e: AuthError) -> ApiError {
    if let AuthError::Assertion(reject) = e {
        state.metrics.assertion_rejected(reject);
        if reject == crate::clients::AssertionReject::ReplayCacheUnavailable {
            return ApiError::new(
                ErrorCode::ReplayCacheUnavailable,
                "the assertion single-use store is unreachable",
                "Retry shortly with a new assertion.",
            );
        }
    }
    ApiError::new(
        ErrorCode::InvalidClient,
        e.message(),
        "Authenticate with this client's own secret, signed assertion or client certificate.",
    )
}

/// RFC 6749 §5.1: a response that carries a token (or may) is never stored by a cache.
async fn no_store(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    response
}

async fn jwks(State(state): State<Arc<AppState>>) -> Response {
    let keys = state.keyring().published(state.clock.now_secs());
    let mut response = keys::jwks_json(&keys).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    // Receivers cache for 60 s; a short max-age keeps rotations visible.
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=60"),
    );
    response
}

async fn discovery(State(state): State<Arc<AppState>>) -> Json<serde_json::Value> {
    let issuer = state.config.issuer.trim_end_matches('/');
    Json(json!({
        "issuer": state.config.issuer,
        "jwks_uri": format!("{issuer}/.well-known/jwks.json"),
        "token_endpoint": format!("{issuer}/v1/token"),
        "revoked_subjects_endpoint": format!("{issuer}/v1/revoked-subjects"),
        "algs": ["EdDSA"],
        "token_type": "om+jwt",
        "max_ttl_seconds": oathmesh_core::claims::MAX_LIFETIME_SECS,
        "default_ttl_seconds": oathmesh_core::issuer::DEFAULT_TTL_SECS,
        "binding_modes": ["rqh-sha256"],
        "client_auth_methods": client_auth_methods(&state),
        "exchange": exchange_discovery(&state, issuer),
    }))
}

/// `tls_client_auth` only when the listener verifies client certificates.
fn client_auth_methods(state: &AppState) -> Vec<&'static str> {
    let mut methods = vec!["client_secret_basic", "ed25519_client_assertion"];
    if state.accepts_client_certificates() {
        methods.push("tls_client_auth");
    }
    methods
}

/// Per configured provider: where to exchange, and the `aud` the ID token must carry (what
/// `oathmesh exchange` requests from GitHub).
fn exchange_discovery(state: &AppState, issuer: &str) -> serde_json::Value {
    let mut out = serde_json::Map::new();
    for kind in [ProviderKind::Github, ProviderKind::Gitlab] {
        if let Some(p) = state.exchanger.provider(kind) {
            out.insert(
                kind.name().into(),
                json!({
                    "endpoint": format!("{issuer}/v1/exchange/{}", kind.name()),
                    "id_token_audience": p.audience,
                    "id_token_issuer": p.issuer,
                }),
            );
        }
    }
    serde_json::Value::Object(out)
}

async fn revoked_subjects(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
) -> Result<Json<serde_json::Value>, ApiError> {
    if let Some(expected) = &state.revoked_subjects_hash {
        require_bearer(&headers, expected, "revoked_subjects_token")?;
    }
    let list = state
        .revocations
        .list()
        .map_err(|_| ApiError::revocation_unavailable())?;
    let subjects: Vec<_> = list
        .into_iter()
        .map(|(sub, at)| json!({"sub": sub, "revoked_at": at}))
        .collect();
    Ok(Json(json!({"subjects": subjects})))
}

/// The bearer token in `headers`, compared in constant time (as SHA-256) with `expected`.
fn require_bearer(
    headers: &HeaderMap,
    expected: &[u8; 32],
    which: &'static str,
) -> Result<(), ApiError> {
    let unauthorized = || {
        let (code, message, fix) = if which == "admin token" {
            (
                ErrorCode::InvalidAdmin,
                "the admin credential is missing or wrong",
                "Send Authorization: Bearer <admin token>.",
            )
        } else {
            (
                ErrorCode::InvalidToken,
                "this endpoint needs its bearer token",
                "Send Authorization: Bearer <token> (metrics_token_sha256 / revoked_subjects_token_sha256 in the issuer config).",
            )
        };
        ApiError::new(code, message, fix)
    };
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("Bearer"))
        .map(|(_, token)| token.trim())
        .ok_or_else(unauthorized)?;
    let digest: [u8; 32] = Sha256::digest(presented.as_bytes()).into();
    if bool::from(digest.ct_eq(expected)) {
        Ok(())
    } else {
        Err(unauthorized())
    }
}

fn require_admin(state: &AppState, headers: &HeaderMap) -> Result<(), ApiError> {
    let expected = state.admin_hash.ok_or_else(|| {
        ApiError::new(
            ErrorCode::AdminDisabled,
            "no admin credential is configured",
            "Set admin_token_sha256 in the issuer config.",
        )
    })?;
    require_bearer(headers, &expected, "admin token")
}

async fn admin_subject(
    state: &AppState,
    headers: &HeaderMap,
    body: Body,
) -> Result<String, ApiError> {
    require_admin(state, headers)?;
    let bytes = read_json_body(state, headers, body).await?;
    let doc = oathmesh_core::strict_json::parse(&bytes).ok();
    let sub = doc
        .as_ref()
        .and_then(|d| d.get("sub"))
        .and_then(|s| s.as_str())
        .filter(|s| oathmesh_core::claims::is_valid_subject(s))
        .ok_or_else(|| {
            ApiError::new(
                ErrorCode::InvalidRequest,
                "expected {\"sub\": \"svc://...\"}",
                "Send the subject to revoke.",
            )
        })?;
    Ok(sub.to_owned())
}

async fn admin_revoke(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<serde_json::Value>, ApiError> {
    let sub = admin_subject(&state, &headers, body).await?;
    state
        .revocations
        .revoke(&sub, state.clock.now_secs())
        .map_err(|_| ApiError::revocation_unavailable())?;
    state.metrics.revocation_changed();
    tracing::warn!(sub = %sub, "subject revoked");
    Ok(Json(json!({"sub": sub, "revoked": true})))
}

async fn admin_unrevoke(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<serde_json::Value>, ApiError> {
    let sub = admin_subject(&state, &headers, body).await?;
    let lifted = state
        .revocations
        .unrevoke(&sub)
        .map_err(|_| ApiError::revocation_unavailable())?;
    state.metrics.revocation_changed();
    tracing::warn!(sub = %sub, lifted, "revocation lifted");
    Ok(Json(
        json!({"sub": sub, "revoked": false, "was_revoked": lifted}),
    ))
}

async fn metrics(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    if let Some(expected) = &state.metrics_hash
        && let Err(e) = require_bearer(&headers, expected, "metrics_token")
    {
        return e.into_response();
    }
    let mut response = state.metrics.render().into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(oathmesh_serving::metrics::CONTENT_TYPE),
    );
    response
}
