//! `NativeVerifier`: the core verifier behind a JS class.

use crate::audit::BufferedSink;
use crate::errors::{throw_config_error, throw_verify_error};
use napi::bindgen_prelude::*;
use napi_derive::napi;
use oathmesh_core::token;
use oathmesh_core::{
    AuditSink, Caller, PrewarmResult, RequestParts, Source, Verifier, VerifyContext,
    token_from_authorization,
};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;

/// The request a token may be bound to (PROTOCOL §4), exactly as received.
#[napi(object)]
pub struct RequestPartsInput {
    pub method: String,
    /// The request target's path and query, percent-encoding untouched.
    pub path_and_query: String,
    /// The raw body bytes; absent means an empty body.
    pub body: Option<Buffer>,
}

/// `src` of a verified token; absent members are `undefined`.
#[napi(object)]
pub struct CallerSource {
    #[napi(js_name = "type")]
    pub kind: Option<String>,
    pub repo: Option<String>,
    pub workflow: Option<String>,
    pub run_id: Option<String>,
    pub sha: Option<String>,
}

/// The verified caller (docs/configuration.md "Caller"), in camelCase.
#[napi(object)]
pub struct NativeCaller {
    pub issuer: String,
    pub subject: String,
    pub audience: String,
    pub action: String,
    pub token_id: String,
    /// Unix seconds.
    pub issued_at: i64,
    /// Unix seconds.
    pub expires_at: i64,
    pub scope: Vec<String>,
    pub env: Either<String, Null>,
    pub tenant: Either<String, Null>,
    pub reason: Either<String, Null>,
    pub source: Either<CallerSource, Null>,
    pub delegated_by: Either<String, Null>,
    /// The rule that allowed the call; `null` when no policy is configured.
    pub policy_rule: Either<String, Null>,
}

fn nullable<T>(value: Option<T>) -> Either<T, Null> {
    value.map_or(Either::B(Null), Either::A)
}

impl From<Caller> for NativeCaller {
    fn from(c: Caller) -> Self {
        NativeCaller {
            issuer: c.issuer,
            subject: c.subject,
            audience: c.audience,
            action: c.action,
            token_id: c.token_id,
            issued_at: c.issued_at,
            expires_at: c.expires_at,
            scope: c.scope,
            env: nullable(c.env),
            tenant: nullable(c.tenant),
            reason: nullable(c.reason),
            source: nullable(c.source.map(|s: Source| CallerSource {
                kind: s.kind,
                repo: s.repo,
                workflow: s.workflow,
                run_id: s.run_id,
                sha: s.sha,
            })),
            delegated_by: nullable(c.delegated_by),
            policy_rule: nullable(c.policy_rule),
        }
    }
}

/// A verifier built once from the JSON configuration document (keys and policy parsed once).
/// `verify` is synchronous: the whole pipeline takes tens of microseconds, less than a hop to
/// the libuv thread pool would cost.
#[napi]
pub struct NativeVerifier {
    /// Shared with `prewarm` tasks running on the libuv pool.
    inner: Arc<Verifier>,
    require_binding: bool,
    audit: Option<(
        BufferedSink,
        FunctionRef<Unknown<'static>, Unknown<'static>>,
    )>,
}

#[napi]
impl NativeVerifier {
    /// `configJson` is the snake_case document of docs/configuration.md. `onAudit`, when
    /// given, receives every audit event (the documented snake_case shape) synchronously,
    /// right after the verification that produced it. Exceptions it throws are swallowed: a
    /// failing sink never changes a result (PROTOCOL §8).
    #[napi(
        constructor,
        catch_unwind,
        ts_args_type = "configJson: string, onAudit?: ((event: Record<string, unknown>) => void) | undefined | null"
    )]
    pub fn new(
        env: Env,
        config_json: String,
        on_audit: Option<Function<Unknown<'static>, Unknown<'static>>>,
    ) -> Result<Self> {
        let buffered = on_audit.as_ref().map(|_| BufferedSink::default());
        let sinks: Vec<Box<dyn AuditSink>> = buffered
            .iter()
            .map(|s| Box::new(s.clone()) as Box<dyn AuditSink>)
            .collect();
        let inner = Verifier::from_json_with_sinks(config_json.as_bytes(), sinks)
            .map_err(|e| throw_config_error(&env, &e))?;
        // The core accepted the document, so `require_binding` is absent or a boolean.
        let require_binding = serde_json::from_str::<serde_json::Value>(&config_json)
            .ok()
            .and_then(|doc| {
                doc.get("require_binding")
                    .and_then(serde_json::Value::as_bool)
            })
            .unwrap_or(false);
        let audit = match (buffered, on_audit) {
            (Some(sink), Some(callback)) => Some((sink, callback.create_ref()?)),
            _ => None,
        };
        Ok(NativeVerifier {
            inner: Arc::new(inner),
            require_binding,
            audit,
        })
    }

    /// This service's audience.
    #[napi(getter)]
    pub fn audience(&self) -> String {
        self.inner.audience().to_owned()
    }

    /// Whether the configuration refuses tokens without `rqh`.
    #[napi(getter)]
    pub fn require_binding(&self) -> bool {
        self.require_binding
    }

    /// Fetches every trusted issuer's JWKS now (JWKS fetching), on the libuv pool, so the
    /// first `verify` does not wait for a fetch on the JS thread. Empty for static keys.
    #[napi(catch_unwind, ts_return_type = "Promise<Array<IssuerKeys>>")]
    pub fn prewarm(&self) -> AsyncTask<PrewarmTask> {
        AsyncTask::new(PrewarmTask {
            verifier: Arc::clone(&self.inner),
        })
    }

    /// Successful policy file reloads since construction.
    #[napi(getter)]
    pub fn policy_reloads(&self) -> i64 {
        i64::try_from(self.inner.policy_reloads()).unwrap_or(i64::MAX)
    }

    /// Changed policy files that failed to load (the last good policy stayed in force).
    #[napi(getter)]
    pub fn policy_reload_errors(&self) -> i64 {
        i64::try_from(self.inner.policy_reload_errors()).unwrap_or(i64::MAX)
    }

    /// Runs the whole pipeline on a token. Throws an `Error` with `code`, `step`, `fix`,
    /// `status` on failure.
    #[napi(catch_unwind)]
    pub fn verify(
        &self,
        env: Env,
        token: String,
        request: Option<RequestPartsInput>,
        request_id: Option<String>,
        required_action: Option<String>,
    ) -> Result<NativeCaller> {
        let ctx = context(
            request.as_ref(),
            request_id.as_deref(),
            required_action.as_deref(),
        );
        let result = self.inner.verify(&token, &ctx);
        self.finish(&env, result)
    }

    /// Verifies the value of an `Authorization` header (`null`: no header was sent).
    #[napi(catch_unwind)]
    pub fn verify_authorization(
        &self,
        env: Env,
        header: Option<String>,
        request: Option<RequestPartsInput>,
        request_id: Option<String>,
        required_action: Option<String>,
    ) -> Result<NativeCaller> {
        let ctx = context(
            request.as_ref(),
            request_id.as_deref(),
            required_action.as_deref(),
        );
        let result = self.inner.verify_authorization(header.as_deref(), &ctx);
        self.finish(&env, result)
    }

    /// Whether verifying this `Authorization` header needs the request (method, path, body):
    /// true when binding is required or the token carries `rqh`. Lets framework adapters
    /// skip buffering the body for unbound tokens. Decides nothing about validity: a header
    /// that cannot be decoded answers false and then fails verification on its own.
    #[napi(catch_unwind)]
    pub fn wants_request(&self, header: Option<String>) -> bool {
        if self.require_binding {
            return true;
        }
        let Ok(token) = token_from_authorization(header.as_deref()) else {
            return false;
        };
        token::split(token)
            .and_then(|segments| token::decode_claims(segments.payload))
            .is_ok_and(|claims| claims.rqh.is_some())
    }

    fn finish(
        &self,
        env: &Env,
        result: std::result::Result<Caller, oathmesh_core::VerifyError>,
    ) -> Result<NativeCaller> {
        self.deliver_audit(env);
        match result {
            Ok(caller) => Ok(caller.into()),
            Err(err) => Err(throw_verify_error(env, &err)),
        }
    }

    fn deliver_audit(&self, env: &Env) {
        let Some((sink, callback)) = &self.audit else {
            return;
        };
        let events = sink.drain();
        if events.is_empty() {
            return;
        }
        let Ok(callback) = callback.borrow_back(env) else {
            return;
        };
        for event in events {
            if let Ok(value) = env.to_js_value(&event) {
                // A throwing callback is cleared by napi-rs and ignored here on purpose.
                let _ = callback.call(value);
            }
        }
    }
}

fn context<'a>(
    request: Option<&'a RequestPartsInput>,
    request_id: Option<&'a str>,
    required_action: Option<&'a str>,
) -> VerifyContext<'a> {
    VerifyContext {
        request: request.map(|r| RequestParts {
            method: &r.method,
            path_and_query: &r.path_and_query,
            body: r.body.as_deref().unwrap_or_default(),
        }),
        request_id,
        required_action,
    }
}

/// The outcome of loading one issuer's keys (`prewarm`).
#[napi(object)]
pub struct IssuerKeys {
    pub issuer: String,
    pub ok: bool,
    /// Usable keys now held for the issuer.
    pub keys: u32,
    pub error: Option<String>,
}

pub struct PrewarmTask {
    verifier: Arc<Verifier>,
}

impl Task for PrewarmTask {
    type Output = Vec<PrewarmResult>;
    type JsValue = Vec<IssuerKeys>;

    fn compute(&mut self) -> Result<Self::Output> {
        catch_unwind(AssertUnwindSafe(|| self.verifier.prewarm())).map_err(|panic| {
            Error::from_reason(format!(
                "OathMesh prewarm panicked: {}",
                crate::panic_message(&*panic)
            ))
        })
    }

    fn resolve(&mut self, _env: Env, output: Self::Output) -> Result<Self::JsValue> {
        Ok(output
            .into_iter()
            .map(|r| IssuerKeys {
                issuer: r.issuer,
                ok: r.ok,
                keys: u32::try_from(r.keys).unwrap_or(u32::MAX),
                error: r.error,
            })
            .collect())
    }
}
