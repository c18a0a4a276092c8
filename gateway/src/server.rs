//! Accepting connections: HTTP/1.1 (on TLS when `[tls]` is set) with hard limits on the
//! request head, a slow-loris timeout, graceful shutdown that lets in-flight requests finish,
//! and the operations endpoints (`/healthz`, `/metrics`) on the main listener or on
//! `metrics_listen`.

use crate::GatewayError;
use crate::body::{GatewayBody, full};
use crate::config::GatewayConfig;
use crate::proxy::Gateway;
use bytes::Bytes;
use http::{HeaderValue, Method, Request, Response, StatusCode, header};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioTimer;
use oathmesh_serving::{ClientCertMode, ConnectionInfo, ServeOptions, ServerTls, serve_http1};
use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;

/// A gateway with its listening sockets open, not yet serving: tests bind to port 0 and read
/// the chosen addresses before serving.
pub struct BoundGateway {
    listener: TcpListener,
    metrics_listener: Option<TcpListener>,
    gateway: Gateway,
    http: http1::Builder,
    tls: Option<Arc<ServerTls>>,
    handshake_timeout: Duration,
    shutdown_grace: Duration,
}

/// Builds the gateway (verifier and upstream client), loads the TLS files, and opens the
/// listening sockets.
pub async fn bind(config: &GatewayConfig) -> Result<BoundGateway, GatewayError> {
    let gateway = Gateway::new(config)?;
    bind_with(config, gateway).await
}

/// [`bind`] with a gateway built by the caller ([`Gateway::with_verifier`]).
pub async fn bind_with(
    config: &GatewayConfig,
    gateway: Gateway,
) -> Result<BoundGateway, GatewayError> {
    // Client certificates, when `client_ca_file` is set, are required unless the file says
    // `client_cert = "optional"`: the gateway has no other use for an optional one.
    let tls = match &config.tls {
        Some(settings) => Some(ServerTls::load(
            settings.clone(),
            "tls",
            ClientCertMode::Required,
        )?),
        None => None,
    };
    let listen = |addr: SocketAddr| async move {
        TcpListener::bind(addr)
            .await
            .map_err(|source| GatewayError::Listen { addr, source })
    };
    let listener = listen(config.listen).await?;
    let metrics_listener = match config.metrics_listen {
        Some(addr) => Some(listen(addr).await?),
        None => None,
    };
    Ok(BoundGateway {
        listener,
        metrics_listener,
        gateway,
        http: http_builder(config),
        tls,
        handshake_timeout: config.header_read_timeout,
        shutdown_grace: config.shutdown_grace,
    })
}

/// Binds and serves until `shutdown` completes, then drains in-flight requests for at most
/// `shutdown_grace`.
pub async fn run(
    config: GatewayConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), GatewayError> {
    bind(&config).await?.serve(shutdown).await
}

/// The configured limits answer with JSON (414/431) from the handler; hyper's own parser
/// limits sit well above them, as a backstop against floods too large to even parse, and
/// answer those with an empty 431/414.
fn http_builder(config: &GatewayConfig) -> http1::Builder {
    let mut http = http1::Builder::new();
    let head_bytes = config.max_header_bytes.saturating_add(config.max_uri_bytes);
    http.timer(TokioTimer::new())
        .keep_alive(true)
        .header_read_timeout(config.header_read_timeout)
        .max_headers(config.max_headers.saturating_mul(4).max(400))
        // hyper refuses buffers under 8 KiB.
        .max_buf_size(head_bytes.saturating_mul(4).max(64 * 1024));
    http
}

/// `GET /healthz` and `GET /metrics`, or `None` for any other request.
fn ops_response<B>(gateway: &Gateway, request: &Request<B>) -> Option<Response<GatewayBody>> {
    if request.method() != Method::GET {
        return None;
    }
    let (content_type, body) = match request.uri().path() {
        "/healthz" => (
            "application/json",
            Bytes::from_static(b"{\"status\":\"ok\"}"),
        ),
        "/metrics" => (
            oathmesh_serving::metrics::CONTENT_TYPE,
            Bytes::from(gateway.metrics().render()),
        ),
        _ => return None,
    };
    let mut response = Response::new(full(body));
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Some(response)
}

fn not_found() -> Response<GatewayBody> {
    let mut response = Response::new(full(Bytes::from_static(
        b"{\"error\":\"not_found\",\"message\":\"this listener serves /healthz and /metrics only\"}",
    )));
    *response.status_mut() = StatusCode::NOT_FOUND;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

impl BoundGateway {
    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("a bound socket has an address")
    }

    /// The `metrics_listen` address, when configured.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics_listener
            .as_ref()
            .map(|l| l.local_addr().expect("a bound socket has an address"))
    }

    pub fn gateway(&self) -> &Gateway {
        &self.gateway
    }

    pub async fn serve(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), GatewayError> {
        let BoundGateway {
            listener,
            metrics_listener,
            gateway,
            http,
            tls,
            handshake_timeout,
            shutdown_grace,
        } = self;
        // Fetching issuers' key sets is blocking I/O: do it off the async workers, while
        // already accepting (a request that arrives first fetches the keys itself).
        let warming = gateway.clone();
        tokio::task::spawn_blocking(move || {
            for result in warming.verifier().prewarm() {
                if result.ok {
                    warming.metrics().jwks_fetch("fetched");
                    tracing::info!(issuer = %result.issuer, keys = result.keys, "issuer keys loaded");
                } else {
                    warming.metrics().jwks_fetch("fetch_failed");
                    tracing::warn!(issuer = %result.issuer, error = ?result.error, "issuer keys not loaded yet");
                }
            }
        });
        if let Some(tls) = &tls {
            tls.spawn_watcher();
        }
        let options = ServeOptions {
            http,
            handshake_timeout,
            shutdown_grace,
            name: "gateway",
        };
        let stopped = oathmesh_serving::reload::SharedShutdown::new(shutdown);
        let ops_on_main = metrics_listener.is_none();
        let metrics_task = metrics_listener.map(|listener| {
            let gateway = gateway.clone();
            let options = ServeOptions {
                name: "gateway metrics",
                ..options.clone()
            };
            tokio::spawn(serve_http1(
                listener,
                tls.clone(),
                options,
                move |_info| {
                    let gateway = gateway.clone();
                    service_fn(move |request: Request<hyper::body::Incoming>| {
                        let response = ops_response(&gateway, &request).unwrap_or_else(not_found);
                        async move { Ok::<_, Infallible>(response) }
                    })
                },
                stopped.clone().wait(),
            ))
        });
        serve_http1(
            listener,
            tls,
            options,
            move |info: ConnectionInfo| {
                let gateway = gateway.clone();
                let info = Arc::new(info);
                service_fn(move |request: Request<hyper::body::Incoming>| {
                    let gateway = gateway.clone();
                    let info = info.clone();
                    async move {
                        if ops_on_main && let Some(response) = ops_response(&gateway, &request) {
                            return Ok::<_, Infallible>(response);
                        }
                        Ok::<_, Infallible>(gateway.handle(request, Some(&info)).await)
                    }
                })
            },
            stopped.wait(),
        )
        .await;
        if let Some(task) = metrics_task {
            let _ = task.await;
        }
        Ok(())
    }
}
