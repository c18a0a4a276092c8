//! The verifier: built once from the configuration document, then shared by every thread
//! (uniffi objects are `Arc`s; the core verifier is `Send + Sync`).

use crate::caller::Caller;
use crate::errors::{OathMeshError, verify_error};
use crate::request_id::request_id_for;
use oathmesh_core::{RequestParts, VerifyContext};
use std::sync::Arc;

/// The request a token is bound to (`rqh`): method exactly as received, path and query as
/// sent, body as the wire bytes.
#[derive(Debug, Clone, uniffi::Record)]
pub struct BoundRequest {
    pub method: String,
    pub path_and_query: String,
    pub body: Vec<u8>,
}

/// What a route asks of a verification besides the token.
#[derive(Debug, Clone, Default, uniffi::Record)]
pub struct VerifyOptions {
    /// The request as received; without it a bound token fails (`binding_mismatch`).
    #[uniffi(default = None)]
    pub request: Option<BoundRequest>,
    /// Correlates the audit event and the failure response; a fresh id when absent.
    #[uniffi(default = None)]
    pub request_id: Option<String>,
    /// When set, the token's `act` must equal it.
    #[uniffi(default = None)]
    pub action: Option<String>,
}

#[derive(uniffi::Object)]
pub struct Verifier {
    inner: oathmesh_core::Verifier,
}

/// One trusted issuer's JWKS prewarm result.
#[derive(Debug, Clone, uniffi::Record)]
pub struct PrewarmResult {
    pub issuer: String,
    pub ok: bool,
    pub keys: u64,
    pub error: Option<String>,
}

impl Verifier {
    fn run(
        &self,
        options: &VerifyOptions,
        call: impl FnOnce(
            &oathmesh_core::Verifier,
            &VerifyContext<'_>,
        ) -> Result<oathmesh_core::Caller, oathmesh_core::VerifyError>,
    ) -> Result<Caller, OathMeshError> {
        let request = options.request.as_ref().map(|r| RequestParts {
            method: &r.method,
            path_and_query: &r.path_and_query,
            body: &r.body,
        });
        let ctx = VerifyContext {
            request,
            request_id: options.request_id.as_deref(),
            required_action: options.action.as_deref(),
        };
        call(&self.inner, &ctx).map(Caller::from).map_err(|err| {
            let id = match &options.request_id {
                Some(id) => id.clone(),
                None => request_id_for(Vec::new()),
            };
            verify_error(&err, &id)
        })
    }
}

#[uniffi::export]
impl Verifier {
    /// `config_json`: the verifier configuration document (docs/configuration.md).
    #[uniffi::constructor]
    pub fn new(config_json: String) -> Result<Arc<Self>, OathMeshError> {
        let inner = oathmesh_core::Verifier::from_json(config_json.as_bytes())?;
        Ok(Arc::new(Verifier { inner }))
    }

    /// The conformance runner's constructor: also accepts the `testing` block (fixed clock,
    /// pre-spent jtis, simulated outages). Never for production use.
    #[uniffi::constructor]
    pub fn for_conformance(config_json: String) -> Result<Arc<Self>, OathMeshError> {
        // TODO(core): switch to oathmesh_core::Verifier::for_conformance once the core
        // separates it from from_json.
        let inner = oathmesh_core::Verifier::from_json(config_json.as_bytes())?;
        Ok(Arc::new(Verifier { inner }))
    }

    pub fn audience(&self) -> String {
        self.inner.audience().to_owned()
    }

    pub fn leeway_secs(&self) -> i64 {
        self.inner.leeway_secs()
    }

    /// True when every token must be bound to its request (so adapters read the body).
    pub fn requires_binding(&self) -> bool {
        self.inner.requires_binding()
    }

    /// True when verifying `token` needs the request (it carries `rqh`, or binding is
    /// required): adapters read the body only then.
    pub fn needs_request(&self, token: String) -> bool {
        self.inner.needs_request(&token)
    }

    /// Fetches every trusted issuer's JWKS now; empty for static keys.
    pub fn prewarm(&self) -> Vec<PrewarmResult> {
        self.inner
            .prewarm()
            .into_iter()
            .map(|r| PrewarmResult {
                issuer: r.issuer,
                ok: r.ok,
                keys: r.keys as u64,
                error: r.error,
            })
            .collect()
    }

    /// Verifies a bare token.
    pub fn verify(&self, token: String, options: VerifyOptions) -> Result<Caller, OathMeshError> {
        self.run(&options, |v, ctx| v.verify(&token, ctx))
    }

    /// Verifies the request's `Authorization` header values (empty: none was sent).
    pub fn verify_authorization(
        &self,
        authorization: Vec<String>,
        options: VerifyOptions,
    ) -> Result<Caller, OathMeshError> {
        // TODO(core): hand the whole list to the core once it takes one (duplicate headers
        // are then refused as `claim_invalid:token`). Until then several values are joined,
        // which the core refuses as a malformed token: fail closed either way.
        let header = match authorization.as_slice() {
            [] => None,
            [one] => Some(one.clone()),
            many => Some(many.join(", ")),
        };
        self.run(&options, |v, ctx| {
            v.verify_authorization(header.as_deref(), ctx)
        })
    }
}
