//! `POST /v1/exchange/{provider}`: the HTTP side of the exchange. Every refusal is an
//! `{"error", "message", "fix"}` body with a stable code:
//! 404 `exchange_disabled`, 413/415/400 for the body (400 `claim_invalid:<claim>` for an
//! `aud`, `act` or `rqh` that breaks its rule), 401 `id_token_invalid` (the message
//! names the check), 503 `provider_unavailable`, 422 `identity_unmappable`, 429
//! `rate_limited`, 403 `exchange_denied` (the message names the rule field), 403
//! `subject_revoked`.

use super::id_token::{self, Expectations, IdTokenError};
use super::identity::{self, MappingError};
use super::{ExchangeRequest, ProviderKind, RequestError, rules};
use crate::api::{AppState, read_json_body};
use crate::errors::{ApiError, ErrorCode};
use axum::Json;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
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
            ErrorCode::NotFound,
            "no such exchange: the providers are github and gitlab",
            "POST to /v1/exchange/github or /v1/exchange/gitlab.",
        ));
    };
    let result = run(&state, kind, &headers, body).await;
    state.metrics.exchanged(
        kind.name(),
        result.as_ref().map(|_| ()).map_err(|e| e.code),
        started.elapsed().as_secs_f64(),
    );
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
            ErrorCode::ExchangeDisabled,
            format!(
                "this issuer has no [exchange.{}] configuration",
                kind.name()
            ),
            "Ask the platform team to configure the exchange for this provider.",
        ));
    };
    let bytes = read_json_body(state, headers, body).await?;
    let request = ExchangeRequest::from_json(&bytes).map_err(|e| match e {
        RequestError::Shape(why) => ApiError::new(
            ErrorCode::InvalidRequest,
            why,
            "Send {id_token, aud, act} and optionally ttl_hint and rqh, nothing else.",
        ),
        RequestError::Claim(claim, why) => ApiError::new(
            ErrorCode::ClaimInvalid(claim),
            why,
            "Fix the named claim; docs/protocol.md gives each claim's format.",
        ),
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
                ErrorCode::InternalError,
                "the ID token check did not complete",
                "Retry; report it if it persists.",
            )
        })?
    };
    let verified = verified.map_err(|e| match e {
        IdTokenError::Invalid(why) => {
            tracing::warn!(provider = kind.name(), reason = %why, "ID token refused");
            ApiError::new(ErrorCode::IdTokenInvalid, why, FIX_ID_TOKEN)
        }
        IdTokenError::ProviderUnavailable(why) => {
            tracing::error!(provider = kind.name(), error = %why, "provider keys unavailable");
            ApiError::new(
                ErrorCode::ProviderUnavailable,
                "the CI provider's signing keys could not be fetched",
                "Retry shortly; the platform team can check the issuer's jwks_url.",
            )
        }
    })?;

    let job = identity::map(kind, &verified.claims).map_err(|e| match e {
        MappingError::Claim(why) => {
            ApiError::new(ErrorCode::IdTokenInvalid, why, FIX_ID_TOKEN)
        }
        MappingError::Unmappable(why) => ApiError::new(
            ErrorCode::IdentityUnmappable,
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
            ErrorCode::ExchangeDenied,
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
            ErrorCode::RateLimited,
            "this CI identity is over its exchange rate",
            "Slow down; retry after the Retry-After seconds.",
        )
        .with_retry_after(wait.ceil().max(1.0) as u64));
    }

    match state.revocations.is_revoked(&job.subject) {
        Ok(false) => {}
        Ok(true) => {
            return Err(ApiError::new(
                ErrorCode::SubjectRevoked,
                format!("the subject {} is revoked", job.subject),
                "Ask the platform team to review the revocation.",
            ));
        }
        Err(e) => {
            tracing::error!(error = %e, "revocation store unavailable");
            return Err(ApiError::revocation_unavailable());
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
    let minted = issuer
        .mint(&mint_request)
        .map_err(|e| ApiError::from_mint_error(&e))?;

    // Last: only an exchange that succeeds uses up the ID token.
    match state.exchanger.record_use(
        state.single_use.as_ref(),
        kind,
        &verified.replay_key,
        verified.remember_until,
        now,
    ) {
        Ok(ReplayCheck::Fresh) => {}
        Ok(ReplayCheck::Replayed) => {
            tracing::warn!(provider = kind.name(), sub = %job.subject, "ID token replayed");
            return Err(ApiError::new(
                ErrorCode::IdTokenInvalid,
                "replayed: this ID token was already exchanged",
                FIX_ID_TOKEN,
            ));
        }
        Err(e) => {
            tracing::error!(error = %e, "exchange replay cache unavailable");
            return Err(ApiError::new(
                ErrorCode::ReplayCacheUnavailable,
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
