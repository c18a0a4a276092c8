//! The verification pipeline (PROTOCOL §2): fourteen checks, cheap and side-effect-free
//! first, the one with a side effect (recording the `jti`) last, so a token that fails
//! anything else is not burned.

use crate::audit::{self, AuditEvent, AuditSink, FanOutSink, Outcome};
use crate::clock::{self, Clock};
use crate::error::ConfigError;
use crate::keys::JwkAlg;
use crate::keys::signature;
use crate::keys::source::{KeyLookupError, KeySource, PrewarmResult};
use crate::ops::{OpsEvent, OpsReporter};
use crate::policy::Policy;
use crate::policy::watch::{ReloadOutcome, WatchedPolicy};
use crate::state::replay::{ReplayCache, ReplayCheck};
use crate::state::revocation::RevocationList;
use crate::verify::caller::Caller;
use crate::verify::config::VerifierConfig;
use crate::verify::error::{ErrorKind, Step, VerifyError};
use crate::wire::b64;
use crate::wire::canonical_request::RequestParts;
use crate::wire::claims;
use crate::wire::token::{self, Claims};
use std::collections::HashSet;
use std::sync::Arc;
use std::time::Instant;
use subtle::ConstantTimeEq;

/// Per-call inputs besides the token.
#[derive(Debug, Clone, Copy, Default)]
pub struct VerifyContext<'a> {
    /// The request as received, for request binding. Without it, a token carrying `rqh`
    /// fails (`binding_mismatch`): a bound token is never accepted unchecked.
    pub request: Option<RequestParts<'a>>,
    /// Correlates the audit event with the receiver's logs (`X-Request-Id`).
    pub request_id: Option<&'a str>,
    /// When set, the token's `act` must equal it (`policy_denied` otherwise): lets a route
    /// say which action it serves.
    pub required_action: Option<&'a str>,
}

/// Verifies Oath Tokens. Built once (keys and policy parsed once), then shared: it is
/// `Send + Sync` and every method takes `&self`.
pub struct Verifier {
    audience: String,
    trusted_issuers: HashSet<String>,
    keys: Arc<dyn KeySource>,
    leeway: i64,
    replay: Arc<dyn ReplayCache>,
    revocation: Option<Arc<dyn RevocationList>>,
    policy: Option<Arc<Policy>>,
    policy_watch: Option<Arc<WatchedPolicy>>,
    audit: Option<Arc<FanOutSink>>,
    require_binding: bool,
    clock: Arc<dyn Clock>,
    ops: OpsReporter,
}

/// The `Authorization` scheme, matched case-insensitively.
pub const AUTH_SCHEME: &str = "OathMesh";

/// Extracts the token from `Authorization: OathMesh <token>`. The scheme is
/// case-insensitive (RFC 9110) and followed by exactly one space; `Bearer` is refused.
pub fn token_from_authorization(header: Option<&str>) -> Result<&str, VerifyError> {
    let missing = || VerifyError::claim_missing("token", Step::Header00);
    let header = header.ok_or_else(missing)?;
    let (scheme, token) = header.split_once(' ').ok_or_else(missing)?;
    if !scheme.eq_ignore_ascii_case(AUTH_SCHEME) || token.is_empty() || token.starts_with(' ') {
        return Err(missing());
    }
    Ok(token)
}

impl Verifier {
    pub fn new(config: VerifierConfig) -> Result<Verifier, ConfigError> {
        config.validate()?;
        let audit =
            (!config.audit_sinks.is_empty()).then(|| Arc::new(FanOutSink::new(config.audit_sinks)));
        if let Some(sink) = &audit {
            // Breaker and reload state changes go to the same outputs as verifications.
            let sink = sink.clone();
            config.ops.subscribe(move |event| sink.emit_ops(event));
        }
        Ok(Verifier {
            audience: config.audience,
            trusted_issuers: config.trusted_issuers.into_iter().collect(),
            keys: config.keys,
            leeway: config.leeway_secs,
            replay: config.replay_cache,
            revocation: config.revocation,
            policy: config.policy,
            policy_watch: config.policy_watch,
            audit,
            require_binding: config.require_binding,
            clock: config.clock,
            ops: config.ops,
        })
    }

    /// Loads every trusted issuer's keys now (JWKS fetching) and reports each result; a
    /// verifier with static keys has nothing to load and returns an empty list.
    pub fn prewarm(&self) -> Vec<PrewarmResult> {
        self.keys.prewarm()
    }

    /// Calls `f` with every later operational event (circuit breaker, policy reload, JWKS
    /// fetch failures).
    pub fn subscribe_ops(&self, f: impl Fn(&OpsEvent) + Send + Sync + 'static) {
        self.ops.subscribe(f);
    }

    /// Counters of the built-in audit outputs (lines written, events dropped because a queue
    /// was full, failed writes); all zero without audit outputs.
    pub fn audit_stats(&self) -> audit::AuditStats {
        self.audit
            .as_ref()
            .map_or_else(audit::AuditStats::default, |a| a.audit_stats())
    }

    /// Looks at the policy file now instead of waiting for the next once-a-second check.
    /// `None` when the policy is not from a file.
    pub fn reload_policy_now(&self) -> Option<ReloadOutcome> {
        self.policy_watch.as_ref().map(|w| w.check_now())
    }

    /// Changed policy files that could not be loaded (the last good policy stayed).
    pub fn policy_reload_errors(&self) -> u64 {
        self.policy_watch.as_ref().map_or(0, |w| w.reload_errors())
    }

    /// Successful policy file reloads.
    pub fn policy_reloads(&self) -> u64 {
        self.policy_watch.as_ref().map_or(0, |w| w.reloads())
    }

    /// Builds a verifier from the JSON configuration document.
    pub fn from_json(bytes: &[u8]) -> Result<Verifier, ConfigError> {
        Verifier::new(VerifierConfig::from_json(bytes)?)
    }

    /// Builds a verifier from the JSON document plus extra audit sinks (a binding's
    /// host-language callback).
    pub fn from_json_with_sinks(
        bytes: &[u8],
        sinks: Vec<Box<dyn AuditSink>>,
    ) -> Result<Verifier, ConfigError> {
        let mut config = VerifierConfig::from_json(bytes)?;
        config.audit_sinks.extend(sinks);
        Verifier::new(config)
    }

    pub fn audience(&self) -> &str {
        &self.audience
    }

    pub fn leeway_secs(&self) -> i64 {
        self.leeway
    }

    /// True when this verifier refuses tokens without request binding.
    pub fn requires_binding(&self) -> bool {
        self.require_binding
    }

    /// Whether verifying `token` will need the request (method, path, body): true when
    /// binding is required or the token carries `rqh`. Adapters use it to avoid buffering
    /// request bodies for unbound tokens. Malformed tokens answer `false`: verification
    /// fails before binding is checked.
    pub fn needs_request(&self, token: &str) -> bool {
        self.require_binding
            || token::split(token)
                .ok()
                .and_then(|segments| token::decode_claims(segments.payload).ok())
                .is_some_and(|claims| claims.rqh.is_some())
    }

    /// [`Verifier::needs_request`] for an `Authorization` header value.
    pub fn needs_request_for_authorization(&self, header: Option<&str>) -> bool {
        token_from_authorization(header).is_ok_and(|token| self.needs_request(token))
    }

    /// Verifies the value of an `Authorization` header.
    pub fn verify_authorization(
        &self,
        header: Option<&str>,
        ctx: &VerifyContext<'_>,
    ) -> Result<Caller, VerifyError> {
        match token_from_authorization(header) {
            Ok(token) => self.verify(token, ctx),
            Err(err) => {
                self.audit(Instant::now(), None, &Err(err.clone()), ctx);
                Err(err)
            }
        }
    }

    /// Runs the whole pipeline on a token.
    pub fn verify(&self, token: &str, ctx: &VerifyContext<'_>) -> Result<Caller, VerifyError> {
        let started = Instant::now();
        let mut decoded = None;
        let result = self.run(token, ctx, &mut decoded);
        if self.audit.is_some() {
            self.audit(started, decoded.as_ref(), &result, ctx);
        }
        result
    }

    fn audit(
        &self,
        started: Instant,
        claims: Option<&Claims>,
        result: &Result<Caller, VerifyError>,
        ctx: &VerifyContext<'_>,
    ) {
        let Some(sink) = &self.audit else { return };
        let outcome = if result.is_ok() {
            Outcome::Allow
        } else {
            Outcome::Deny
        };
        let mut event = AuditEvent::new(
            outcome,
            claims,
            clock::rfc3339_millis(self.clock.now_millis()),
        );
        match result {
            Ok(caller) => event.policy_rule = caller.policy_rule.clone(),
            Err(err) => event.denied(err.code().into_owned(), err.step(), err.policy_rule()),
        }
        event.set_request_id(ctx.request_id);
        event.latency_us = started.elapsed().as_micros() as u64;
        audit::emit_guarded(sink.as_ref(), &event);
    }

    fn run(
        &self,
        token: &str,
        ctx: &VerifyContext<'_>,
        decoded: &mut Option<Claims>,
    ) -> Result<Caller, VerifyError> {
        // 01: shape; 02: header; 03: claim types.
        let segments = token::split(token)?;
        let header = token::decode_header(segments.header)?;
        let claims = decoded.insert(token::decode_claims(segments.payload)?);

        // 04: issuer, before anything else depends on it.
        let iss = match claims.iss.as_deref() {
            Some(iss) if !iss.is_empty() => iss,
            _ => return Err(VerifyError::claim_missing("iss", Step::Issuer04)),
        };
        if !self.trusted_issuers.contains(iss) {
            return Err(VerifyError::new(
                ErrorKind::IssuerUntrusted,
                Step::Issuer04,
                "the token's issuer is not in this service's trusted issuers",
            ));
        }

        // 11: presence and formats.
        if let Some(claim) = claims::first_missing(claims) {
            return Err(VerifyError::claim_missing(claim, Step::Claims11));
        }
        claims::check_formats(claims).map_err(claims::FormatViolation::into_verify_error)?;

        // 05: the key.
        let key = self.keys.lookup(iss, &header.kid).map_err(|e| match e {
            KeyLookupError::NotFound => VerifyError::new(
                ErrorKind::KeyNotFound,
                Step::Key05,
                "the issuer's key set has no key with the token's kid",
            ),
            KeyLookupError::Unavailable(reason) => VerifyError::new(
                ErrorKind::JwksUnavailable,
                Step::Key05,
                format!("the issuer's key set is unavailable: {reason}"),
            ),
        })?;

        // 06: algorithm agreement and the signature itself.
        if key.alg == JwkAlg::Other {
            return Err(VerifyError::new(
                ErrorKind::AlgorithmNotAllowed,
                Step::Signature06,
                "the key's JWK `alg` is not EdDSA or Ed25519",
            ));
        }
        let signature_invalid = || {
            VerifyError::new(
                ErrorKind::SignatureInvalid,
                Step::Signature06,
                "the signature does not verify with the issuer's key",
            )
        };
        let signature = b64::decode(segments.signature).ok_or_else(signature_invalid)?;
        if !signature::verify(&key.key, segments.signing_input.as_bytes(), &signature) {
            return Err(signature_invalid());
        }

        // 08, 09: time. Required claims are present after step 11.
        let now = self.clock.now_secs();
        let (iat, exp) = (
            claims.iat.unwrap_or_default(),
            claims.exp.unwrap_or_default(),
        );
        if now > exp.saturating_add(self.leeway) {
            return Err(VerifyError::new(
                ErrorKind::TokenExpired,
                Step::Expiry08,
                "the token has expired",
            ));
        }
        let horizon = now.saturating_add(self.leeway);
        if iat > horizon || claims.nbf.is_some_and(|nbf| nbf > horizon) {
            return Err(VerifyError::new(
                ErrorKind::TokenNotYetValid,
                Step::NotBefore09,
                "the token's iat or nbf is in the future",
            ));
        }

        // 10: audience, exactly.
        if claims.aud.as_deref() != Some(self.audience.as_str()) {
            return Err(VerifyError::new(
                ErrorKind::AudienceMismatch,
                Step::Audience10,
                "the token was minted for a different audience",
            ));
        }

        // 12: request binding.
        self.check_binding(claims.rqh.as_deref(), ctx.request.as_ref())?;

        // 13.5: revocation.
        let subject = claims.sub.as_deref().unwrap_or_default();
        if let Some(list) = &self.revocation {
            match list.is_revoked(subject) {
                Ok(false) => {}
                Ok(true) => {
                    return Err(VerifyError::new(
                        ErrorKind::SubjectRevoked,
                        Step::Revocation13_5,
                        "the token's subject has been revoked",
                    ));
                }
                Err(e) => {
                    return Err(VerifyError::new(
                        ErrorKind::RevocationUnavailable,
                        Step::Revocation13_5,
                        format!("the revocation list could not be read: {e}"),
                    ));
                }
            }
        }

        // 14: the route's action, then policy.
        if let Some(required) = ctx.required_action
            && claims.act.as_deref() != Some(required)
        {
            return Err(VerifyError::new(
                ErrorKind::PolicyDenied,
                Step::Policy14,
                format!("this endpoint requires the action `{required}`"),
            )
            .with_policy_rule("required_action"));
        }
        let watched = self.policy_watch.as_ref().map(|w| w.current());
        let policy_rule = match watched.as_ref().or(self.policy.as_ref()) {
            None => None,
            Some(policy) => {
                let decision = policy.evaluate(claims);
                if !decision.allow {
                    return Err(VerifyError::new(
                        ErrorKind::PolicyDenied,
                        Step::Policy14,
                        format!("denied by policy rule `{}`", decision.rule),
                    )
                    .with_policy_rule(decision.rule));
                }
                Some(decision.rule.to_owned())
            }
        };

        // 13: single use. Remembered until no verifier could accept the token any more.
        let jti = claims.jti.as_deref().unwrap_or_default();
        let remember_until = exp.saturating_add(self.leeway).max(now + 1);
        match self.replay.check_and_record(jti, remember_until, now) {
            Ok(ReplayCheck::Fresh) => {}
            Ok(ReplayCheck::Replayed) => {
                return Err(VerifyError::new(
                    ErrorKind::ReplayDetected,
                    Step::Replay13,
                    "this token has already been used",
                ));
            }
            Err(e) => {
                return Err(VerifyError::new(
                    ErrorKind::ReplayCacheUnavailable,
                    Step::Replay13,
                    format!("the replay cache could not record the token: {e}"),
                ));
            }
        }
        Ok(Caller::from_claims(claims, policy_rule))
    }

    fn check_binding(
        &self,
        rqh: Option<&str>,
        request: Option<&RequestParts<'_>>,
    ) -> Result<(), VerifyError> {
        let Some(rqh) = rqh else {
            if self.require_binding {
                return Err(VerifyError::new(
                    ErrorKind::BindingRequired,
                    Step::Binding12,
                    "this service requires request-bound tokens and the token has no `rqh`",
                ));
            }
            return Ok(());
        };
        let Some(request) = request else {
            return Err(VerifyError::new(
                ErrorKind::BindingMismatch,
                Step::Binding12,
                "the token is bound to a request but no request was given to check it against",
            ));
        };
        let actual = request.hash();
        if !bool::from(actual.as_bytes().ct_eq(rqh.as_bytes())) {
            return Err(VerifyError::new(
                ErrorKind::BindingMismatch,
                Step::Binding12,
                "the request does not match the one the token was minted for",
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn authorization_header_parsing() {
        assert_eq!(
            token_from_authorization(Some("OathMesh a.b.c")).unwrap(),
            "a.b.c"
        );
        assert_eq!(
            token_from_authorization(Some("oathmesh a.b.c")).unwrap(),
            "a.b.c"
        );
        assert_eq!(
            token_from_authorization(Some("OATHMESH a.b.c")).unwrap(),
            "a.b.c"
        );
        for bad in [
            None,
            Some(""),
            Some("Bearer a.b.c"),
            Some("OathMesh"),
            Some("OathMesh "),
            Some("OathMesh  a.b.c"),
            Some("OathMesha.b.c"),
        ] {
            let err = token_from_authorization(bad).unwrap_err();
            assert_eq!(err.code(), "claim_missing:token", "{bad:?}");
            assert_eq!(err.step(), Step::Header00);
        }
    }

    fn assert_send_sync<T: Send + Sync>() {}

    #[test]
    fn verifier_is_send_and_sync() {
        assert_send_sync::<Verifier>();
    }
}
