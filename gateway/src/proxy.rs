//! One request through the gateway: limits, verification (with the body only when the token
//! is bound or binding is required), header rewriting, forwarding, and the response back.

use crate::GatewayError;
use crate::body::{BoxError, GatewayBody, full, stream};
use crate::config::GatewayConfig;
use crate::errors::{ProxyError, verify_error_response};
use crate::headers::{self, HeadLimits, X_REQUEST_ID};
use crate::metrics::{GatewayMetrics, Outcome};
use bytes::Bytes;
use http::uri::{Authority, PathAndQuery, Scheme};
use http::{HeaderValue, Request, Response, Uri, header};
use http_body_util::{BodyExt, Limited};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use oathmesh_core::{Caller, RequestParts, Verifier, VerifyContext, VerifyError};
use oathmesh_serving::ConnectionInfo;
use std::borrow::Cow;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The verifying proxy. Cheap to clone: every clone shares one verifier (so one replay
/// cache) and one upstream connection pool.
#[derive(Clone)]
pub struct Gateway {
    inner: Arc<Inner>,
}

struct Inner {
    verifier: Verifier,
    client: Client<HttpsConnector<HttpConnector>, GatewayBody>,
    upstream_scheme: Scheme,
    upstream_authority: Authority,
    /// The upstream URL's path without its trailing `/` (`""` for none), put before every
    /// forwarded path.
    upstream_prefix: String,
    limits: HeadLimits,
    max_body_bytes: usize,
    upstream_timeout: Duration,
    metrics: GatewayMetrics,
}

/// Idle upstream connections kept per host: enough for a busy sidecar, bounded for memory.
const POOL_MAX_IDLE_PER_HOST: usize = 256;
const POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(60);

impl Gateway {
    /// Builds the verifier from `config.verifier_json` and the upstream client.
    pub fn new(config: &GatewayConfig) -> Result<Gateway, GatewayError> {
        let verifier =
            Verifier::from_json(&config.verifier_json).map_err(GatewayError::Verifier)?;
        Gateway::with_verifier(config, verifier)
    }

    /// Uses a verifier built by the embedder (for example with extra audit sinks); the
    /// config's `verifier_json` is ignored.
    pub fn with_verifier(
        config: &GatewayConfig,
        verifier: Verifier,
    ) -> Result<Gateway, GatewayError> {
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        connector.set_connect_timeout(Some(config.upstream_connect_timeout));
        connector.enforce_http(false);
        let tls = oathmesh_serving::tls::client_config(&config.upstream_tls, "upstream_tls")?;
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .wrap_connector(connector);
        let client = Client::builder(TokioExecutor::new())
            .pool_timer(TokioTimer::new())
            .pool_idle_timeout(POOL_IDLE_TIMEOUT)
            .pool_max_idle_per_host(POOL_MAX_IDLE_PER_HOST)
            .build(connector);
        let upstream_scheme = config.upstream.scheme().cloned().unwrap_or(Scheme::HTTP);
        let upstream_authority = config
            .upstream
            .authority()
            .cloned()
            .expect("GatewayConfig checks the upstream has a host");
        let upstream_prefix = config.upstream.path().trim_end_matches('/').to_owned();
        let gateway = Gateway {
            inner: Arc::new(Inner {
                verifier,
                client,
                upstream_scheme,
                upstream_authority,
                upstream_prefix,
                limits: HeadLimits {
                    max_uri_bytes: config.max_uri_bytes,
                    max_headers: config.max_headers,
                    max_header_bytes: config.max_header_bytes,
                },
                max_body_bytes: config.max_body_bytes,
                upstream_timeout: config.upstream_timeout,
                metrics: GatewayMetrics::default(),
            }),
        };
        // Count the verifier's backend events (JWKS, Redis breaker, policy reloads). A weak
        // reference: the subscription lives in the verifier, which the gateway owns.
        let weak = Arc::downgrade(&gateway.inner);
        gateway.inner.verifier.subscribe_ops(move |event| {
            if let Some(inner) = weak.upgrade() {
                inner.metrics.backend_event(event.event, event.state);
            }
        });
        Ok(gateway)
    }

    pub fn verifier(&self) -> &Verifier {
        &self.inner.verifier
    }

    pub fn metrics(&self) -> &GatewayMetrics {
        &self.inner.metrics
    }

    /// Handles one request from `client` (the peer address, for `X-Forwarded-For`, and
    /// whether it came over TLS, for `X-Forwarded-Proto`).
    pub async fn handle<B>(
        &self,
        request: Request<B>,
        client: Option<&ConnectionInfo>,
    ) -> Response<GatewayBody>
    where
        B: http_body::Body<Data = Bytes> + Send + 'static,
        B::Error: Into<BoxError>,
    {
        let started = Instant::now();
        let request_id = headers::request_id(request.headers());
        let method = request.method().clone();
        // The path only: queries can carry secrets, and no log line may.
        let path = request.uri().path().to_owned();
        let metrics = &self.inner.metrics;
        let response = match self.forward(request, client, &request_id).await {
            Ok(response) => {
                let status = response.status();
                metrics.request(Outcome::Forwarded, status_label(status));
                response
            }
            Err(Refusal::Verify(error)) => {
                tracing::info!(
                    request_id = %request_id, %method, %path,
                    code = %error.code(), step = error.step().as_str(),
                    "request denied"
                );
                metrics.request(Outcome::Denied, error.code());
                verify_error_response(&error, &request_id)
            }
            Err(Refusal::Proxy(error)) => {
                tracing::warn!(
                    request_id = %request_id, %method, %path, code = error.code(),
                    "request failed"
                );
                metrics.request(Outcome::Failed, Cow::Borrowed(error.code()));
                error.response(&request_id)
            }
        };
        tracing::debug!(
            request_id = %request_id, %method, %path,
            status = response.status().as_u16(),
            latency_us = started.elapsed().as_micros() as u64,
            "request done"
        );
        response
    }

    async fn forward<B>(
        &self,
        request: Request<B>,
        client: Option<&ConnectionInfo>,
        request_id: &str,
    ) -> Result<Response<GatewayBody>, Refusal>
    where
        B: http_body::Body<Data = Bytes> + Send + 'static,
        B::Error: Into<BoxError>,
    {
        let inner = &*self.inner;
        headers::check_head(request.uri(), request.headers(), inner.limits)?;
        let (mut parts, body) = request.into_parts();
        let authorization = headers::authorization(&parts.headers);
        let path_and_query = parts
            .uri
            .path_and_query()
            .map_or("/", PathAndQuery::as_str)
            .to_owned();

        // Bodies are buffered only when the binding check needs them; otherwise they stream.
        let (caller, body) = if inner
            .verifier
            .needs_request_for_authorization(authorization)
        {
            let bytes = self.read_bounded(&parts.headers, body).await?;
            let request = RequestParts {
                method: parts.method.as_str(),
                path_and_query: &path_and_query,
                body: &bytes,
            };
            (
                self.verify(authorization, Some(request), request_id)?,
                full(bytes),
            )
        } else {
            (self.verify(authorization, None, request_id)?, stream(body))
        };

        headers::rewrite_request_headers(
            &mut parts.headers,
            &caller,
            request_id,
            client.map(|c| c.peer.ip()),
            if client.is_some_and(|c| c.tls) {
                "https"
            } else {
                "http"
            },
        )?;
        parts.uri = self.upstream_uri(&path_and_query)?;
        parts.version = http::Version::HTTP_11;
        let upstream_request = Request::from_parts(parts, body);

        let sent = inner.client.request(upstream_request);
        let upstream_started = Instant::now();
        let answered = tokio::time::timeout(inner.upstream_timeout, sent).await;
        inner
            .metrics
            .upstream_answered_in(upstream_started.elapsed().as_secs_f64());
        let response = match answered {
            Err(_elapsed) => return Err(ProxyError::UpstreamTimeout.into()),
            Ok(Err(error)) => {
                tracing::warn!(request_id, error = %error_chain(&error), "upstream request failed");
                return Err(ProxyError::UpstreamUnavailable.into());
            }
            Ok(Ok(response)) => response,
        };
        let (mut parts, body) = response.into_parts();
        headers::remove_hop_by_hop(&mut parts.headers);
        if !parts.headers.contains_key(X_REQUEST_ID) {
            parts.headers.insert(
                X_REQUEST_ID,
                HeaderValue::from_str(request_id).expect("request ids are printable ASCII"),
            );
        }
        Ok(Response::from_parts(parts, stream(body)))
    }

    /// The verifier is synchronous CPU work (tens of microseconds with static keys), so it
    /// runs right on the request's task.
    fn verify(
        &self,
        authorization: Option<&str>,
        request: Option<RequestParts<'_>>,
        request_id: &str,
    ) -> Result<Caller, VerifyError> {
        let context = VerifyContext {
            request,
            request_id: Some(request_id),
            required_action: None,
        };
        let started = Instant::now();
        let result = self
            .inner
            .verifier
            .verify_authorization(authorization, &context);
        self.inner
            .metrics
            .verified_in(started.elapsed().as_secs_f64());
        result
    }

    /// Reads the whole body, refusing (413) before reading when `Content-Length` is already
    /// over the limit, and as soon as the limit is crossed otherwise.
    async fn read_bounded<B>(&self, headers: &http::HeaderMap, body: B) -> Result<Bytes, ProxyError>
    where
        B: http_body::Body<Data = Bytes> + Send + 'static,
        B::Error: Into<BoxError>,
    {
        let max = self.inner.max_body_bytes;
        let declared = headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|len| len > max as u64) {
            return Err(ProxyError::BodyTooLarge);
        }
        match Limited::new(body, max).collect().await {
            Ok(collected) => Ok(collected.to_bytes()),
            Err(error) if error.is::<http_body_util::LengthLimitError>() => {
                Err(ProxyError::BodyTooLarge)
            }
            Err(_) => Err(ProxyError::BodyReadFailed),
        }
    }

    fn upstream_uri(&self, path_and_query: &str) -> Result<Uri, ProxyError> {
        let inner = &*self.inner;
        let target = format!("{}{}", inner.upstream_prefix, path_and_query);
        Uri::builder()
            .scheme(inner.upstream_scheme.clone())
            .authority(inner.upstream_authority.clone())
            .path_and_query(target)
            .build()
            .map_err(|_| ProxyError::RequestTargetInvalid)
    }
}

/// The upstream's status as a label, without allocating for the common ones.
fn status_label(status: http::StatusCode) -> Cow<'static, str> {
    match status.as_u16() {
        200 => Cow::Borrowed("200"),
        201 => Cow::Borrowed("201"),
        204 => Cow::Borrowed("204"),
        304 => Cow::Borrowed("304"),
        404 => Cow::Borrowed("404"),
        other => Cow::Owned(other.to_string()),
    }
}

/// Why a request was not forwarded.
enum Refusal {
    Verify(VerifyError),
    Proxy(ProxyError),
}

impl From<VerifyError> for Refusal {
    fn from(error: VerifyError) -> Self {
        Refusal::Verify(error)
    }
}

impl From<ProxyError> for Refusal {
    fn from(error: ProxyError) -> Self {
        Refusal::Proxy(error)
    }
}

/// `client error (Connect): tcp connect error: Connection refused`: the useful part of a
/// hyper error is in its sources.
fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
