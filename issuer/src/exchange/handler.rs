//! `POST /v1/exchange/{provider}`: the HTTP side of the exchange. Every refusal is an
//! `{"error", "message", "fix"}` body with a stable code:
//! 404 `exchange_disabled`, 413/415/400 for the body, 401 `id_token_invalid` (the message
//! names the check), 503 `provider_unavailable`, 422 `identity_unmappable`, 429
//! `rate_limited`, 403 `exchange_denied` (the message names the rule field), 403
//! `subject_revoked`.

use super::id_token::{self, Expectations, IdTokenError};
use super::identity::{self, MappingError};
use super::{ExchangeRequest, ProviderKind, rules};
use crate::api::{ApiError, AppState, read_json_body};
use axum::Json;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use oathmesh_core::{MintRequest, ReplayCheck};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Instant;

const FIX_ID_TOKEN: &str = "Request a fresh ID token for the issuer's audience (see GET /.well-known/oathmesh-issuer) and send it once.";

pub(crate) async fn exchange(
    State(state): State<Arc<AppState>>,
    Path(provider): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<Value>, ApiError> {
    let started = Instant::now();
    let Some(kind) = ProviderKind::parse(&provider) else {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            "no such exchange: the providers are github and gitlab",
            "POST to /v1/exchange/github or /v1/exchange/gitlab.",
        ));
    };
    let result = run(&state, kind, &headers, body).await;
    match &result {
        Ok(_) => {
            state.metrics.exchanged(kind.name(), "ok");
            state.metrics.minted(started.elapsed().as_secs_f64());
        }
        Err(e) => state.metrics.exchanged(kind.name(), e.code),
    }
    result
}

async fn run(
    state: &Arc<AppState>,
    kind: ProviderKind,
    headers: &HeaderMap,
    body: Body,
) -> Result<Json<Value>, ApiError> {
    let Some(provider) = state.exchanger.provider(kind) else {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "exchange_disabled",
            format!(
                "this issuer has no [exchange.{}] configuration",
                kind.name()
            ),
            "Ask the platform team to configure the exchange for this provider.",
        ));
    };
    let bytes = read_json_body(state, headers, body).await?;
    let request = ExchangeRequest::from_json(&bytes).map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            e,
            "Send {id_token, aud, act} and optionally ttl_hint and rqh, nothing else.",
        )
    })?;

    let now = state.clock.now_secs();
    // Key lookup may fetch the provider's JWKS over HTTP: keep it off the async workers.
    let verified = {
        let state = state.clone();
        let token = request.id_token.clone();
        tokio::task::spawn_blocking(move || {
            let provider = state
                .exchanger
                .provider(kind)
                .expect("provider checked above");
            id_token::verify(
                &token,
                &provider.keys,
                &Expectations {
                    issuer: &provider.issuer,
                    audience: &provider.audience,
                    leeway_secs: provider.config.leeway_secs,
                    now,
                },
            )
        })
        .await
        .map_err(|_| {
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal_error",
                "the ID token check did not complete",
                "Retry; report it if it persists.",
            )
        })?
    };
    let verified = verified.map_err(|e| match e {
        IdTokenError::Invalid(why) => {
            tracing::warn!(provider = kind.name(), reason = %why, "ID token refused");
            ApiError::new(
                StatusCode::UNAUTHORIZED,
                "id_token_invalid",
                why,
                FIX_ID_TOKEN,
            )
        }
        IdTokenError::ProviderUnavailable(why) => {
            tracing::error!(provider = kind.name(), error = %why, "provider keys unavailable");
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "provider_unavailable",
                "the CI provider's signing keys could not be fetched",
                "Retry shortly; the platform team can check the issuer's jwks_url.",
            )
        }
    })?;

    let job = identity::map(kind, &verified.claims).map_err(|e| match e {
        MappingError::Claim(why) => {
            ApiError::new(StatusCode::UNAUTHORIZED, "id_token_invalid", why, FIX_ID_TOKEN)
        }
        MappingError::Unmappable(why) => ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "identity_unmappable",
            why,
            "Rename the workflow file or project so the subject fits 256 characters (see docs/protocol.md).",
        ),
    })?;

    if let Err(denied) = rules::check(
        kind,
        &provider.config.rules,
        &job,
        &request.aud,
        &request.act,
    ) {
        tracing::warn!(provider = kind.name(), sub = %job.subject, field = denied.field, "exchange denied by rules");
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "exchange_denied",
            denied.message,
            "Ask the platform team to add an exchange rule for this job, or ask for an aud/act a rule allows.",
        ));
    }

    // After the rules, so only allowed identities get a bucket (anyone can get a GitHub ID
    // token for some repository; they must not grow the limiter's table).
    if let Err(wait) = state.limiter.take(
        &format!("exchange:{}", job.subject),
        provider.config.rate_per_sec,
        provider.config.burst,
        Instant::now(),
    ) {
        return Err(ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            "this CI identity is over its exchange rate",
            "Slow down; retry after the Retry-After seconds.",
        )
        .with_retry_after(wait.ceil().max(1.0) as u64));
    }

    match state.revocations.is_revoked(&job.subject) {
        Ok(false) => {}
        Ok(true) => {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "subject_revoked",
                format!("the subject {} is revoked", job.subject),
                "Ask the platform team to review the revocation.",
            ));
        }
        Err(e) => {
            tracing::error!(error = %e, "revocation store unavailable");
            return Err(ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "revocation_unavailable",
                "the revocation store is unreachable",
                "Retry shortly.",
            ));
        }
    }

    let mint_request = MintRequest {
        sub: job.subject.clone(),
        aud: request.aud.clone(),
        act: request.act.clone(),
        ttl_hint: request.ttl_hint,
        env: job.environment.clone(),
        rqh: request.rqh.clone(),
        src: Some(job.src.clone()),
        ..MintRequest::default()
    };
    let issuer = state.active_issuer();
    let minted = issuer.mint(&mint_request).map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            e.to_string(),
            "Fix the named claim; see docs/protocol.md for claim formats.",
        )
    })?;

    // Last: only an exchange that succeeds uses up the ID token.
    match state
        .exchanger
        .record_use(kind, &verified.replay_key, verified.remember_until, now)
    {
        Ok(ReplayCheck::Fresh) => {}
        Ok(ReplayCheck::Replayed) => {
            tracing::warn!(provider = kind.name(), sub = %job.subject, "ID token replayed");
            return Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "id_token_invalid",
                "replayed: this ID token was already exchanged",
                FIX_ID_TOKEN,
            ));
        }
        Err(e) => {
            tracing::error!(error = %e, "exchange replay cache unavailable");
            return Err(ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "replay_cache_unavailable",
                "the issuer cannot record the ID token's use",
                "Retry shortly.",
            ));
        }
    }
    tracing::info!(provider = kind.name(), sub = %job.subject, aud = %request.aud, act = %request.act, jti = %minted.jti, kid = %issuer.kid(), "exchanged");
    Ok(Json(json!({
        "token": minted.token,
        "expires_in": minted.expires_in,
        "token_type": minted.token_type,
        "sub": job.subject,
    })))
}
