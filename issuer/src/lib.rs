//! # oathmesh-issuer
//!
//! The issuer server (docs/issuer.md): clients authenticate with their own credential (a
//! secret, a signed assertion or a TLS client certificate) and mint Oath Tokens inside their
//! allow-list; receivers fetch the JWKS and the revocation list. Keys rotate by dropping a
//! new file into the key folder (`oathmesh keys rotate`); the server notices within
//! `key_poll_secs` (or at once on SIGHUP) without a restart, and the TLS certificate reloads
//! the same way.

pub mod api;
pub mod clients;
pub mod config;
pub mod errors;
pub mod exchange;
pub mod keyring;
pub mod metrics;
pub mod ratelimit;
pub mod revocations;
pub mod single_use;

pub use api::{AppState, Endpoints, router, router_for};
pub use config::{ClientConfig, ConfigError, IssuerConfig};
pub use errors::{ApiError, ErrorCode};

use oathmesh_core::SystemClock;
use oathmesh_serving::{ConnectionInfo, ServeOptions, serve_http1};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;

/// Why the issuer cannot start or run.
#[derive(Debug, thiserror::Error)]
pub enum IssuerError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Keys(#[from] keyring::KeyError),
    #[error("issuer config: {0}")]
    Tls(#[from] oathmesh_serving::TlsError),
    #[error("issuer config: redis_url: {}", .0.message())]
    Revocations(oathmesh_core::ConfigError),
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: std::net::SocketAddr,
        source: std::io::Error,
    },
    #[error("cannot start the runtime: {0}")]
    Runtime(std::io::Error),
}

/// Builds the state: revocations in Redis when `redis_url` is set (else in memory), and the
/// system clock.
pub fn state_from_config(config: IssuerConfig) -> Result<Arc<AppState>, IssuerError> {
    let revocations =
        revocations::from_config(config.redis_url.as_deref()).map_err(IssuerError::Revocations)?;
    let single_use =
        single_use::from_config(config.redis_url.as_deref()).map_err(IssuerError::Revocations)?;
    Ok(Arc::new(AppState::new(
        config,
        revocations,
        single_use,
        Arc::new(SystemClock),
    )?))
}

/// Serves the API on `listener` (and `/metrics` on `metrics_listener` instead, when given)
/// until `shutdown` resolves, then drains in-flight requests for `shutdown_grace_ms`. TLS,
/// when configured, applies to both listeners; key and certificate files are watched.
/// The connection limits (`max_connections`, `header_read_timeout_ms`,
/// `keep_alive_max_requests`) apply to each listener.
pub async fn serve(
    state: Arc<AppState>,
    listener: TcpListener,
    metrics_listener: Option<TcpListener>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    spawn_key_watcher(state.clone());
    if let Some(tls) = &state.tls {
        tls.spawn_watcher();
    }
    let header_read_timeout = Duration::from_millis(state.config.header_read_timeout_ms);
    let options = ServeOptions {
        http: http_builder(header_read_timeout),
        // A TLS handshake is part of getting to the request head: the same bound.
        handshake_timeout: header_read_timeout,
        shutdown_grace: Duration::from_millis(state.config.shutdown_grace_ms),
        name: "issuer",
    };
    let stopped = oathmesh_serving::reload::SharedShutdown::new(shutdown);
    let main_endpoints = if metrics_listener.is_some() {
        Endpoints::WithoutMetrics
    } else {
        Endpoints::All
    };
    let limits = ConnectionLimits::new(&state.config);
    let metrics = metrics_listener.map(|listener| {
        let router = router_for(state.clone(), Endpoints::MetricsOnly);
        let options = ServeOptions {
            name: "issuer metrics",
            ..options.clone()
        };
        let limits = ConnectionLimits::new(&state.config);
        tokio::spawn(serve_http1(
            listener,
            state.tls.clone(),
            options,
            move |info| connection_service(router.clone(), info, limits.clone()),
            stopped.clone().wait(),
        ))
    });
    let router = router_for(state.clone(), main_endpoints);
    serve_http1(
        listener,
        state.tls.clone(),
        options,
        move |info| connection_service(router.clone(), info, limits.clone()),
        stopped.wait(),
    )
    .await;
    if let Some(metrics) = metrics {
        let _ = metrics.await;
    }
}

/// hyper's header-read timeout runs from the moment a connection waits for a request head,
/// so it bounds a slow head (slowloris) and an idle keep-alive connection alike.
fn http_builder(header_read_timeout: Duration) -> hyper::server::conn::http1::Builder {
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(hyper_util::rt::TokioTimer::new())
        .keep_alive(true)
        .header_read_timeout(header_read_timeout);
    http
}

/// Per listener: how many connections may be open, and how many requests one may carry.
#[derive(Clone)]
struct ConnectionLimits {
    open: Arc<tokio::sync::Semaphore>,
    max_requests: u64,
}

impl ConnectionLimits {
    fn new(config: &IssuerConfig) -> Self {
        ConnectionLimits {
            open: Arc::new(tokio::sync::Semaphore::new(config.max_connections)),
            max_requests: config.keep_alive_max_requests,
        }
    }
}

/// The router as a hyper service for one connection: each request carries the
/// [`ConnectionInfo`] (peer, client certificate) as an extension. Over `max_connections`,
/// the connection gets one 503 and is closed; its last allowed request is answered with
/// `Connection: close`.
fn connection_service(
    router: axum::Router,
    info: ConnectionInfo,
    limits: ConnectionLimits,
) -> impl hyper::service::Service<
    hyper::Request<hyper::body::Incoming>,
    Response = axum::response::Response,
    Error = std::convert::Infallible,
    Future = impl Future<Output = Result<axum::response::Response, std::convert::Infallible>> + Send,
> + Clone {
    // Held for as long as hyper keeps the service, i.e. the connection.
    let permit = limits.open.clone().try_acquire_owned().ok().map(Arc::new);
    if permit.is_none() {
        tracing::warn!(peer = %info.peer, "issuer: connection limit reached; refusing a connection");
    }
    let served = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let max_requests = limits.max_requests;
    hyper::service::service_fn(move |mut request: hyper::Request<hyper::body::Incoming>| {
        let router = router.clone();
        let full = permit.is_none();
        let n = served.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
        request.extensions_mut().insert(info.clone());
        async move {
            let mut response = if full {
                axum::response::IntoResponse::into_response(ApiError::new(
                    ErrorCode::Overloaded,
                    "the issuer has too many open connections",
                    "Retry shortly; reuse one keep-alive connection instead of opening many.",
                ))
            } else {
                tower::ServiceExt::oneshot(router, request).await?
            };
            if full || n >= max_requests {
                response.headers_mut().insert(
                    hyper::header::CONNECTION,
                    hyper::header::HeaderValue::from_static("close"),
                );
            }
            Ok::<_, std::convert::Infallible>(response)
        }
    })
}

/// Polls the key folder, and reloads at once on SIGHUP.
fn spawn_key_watcher(state: Arc<AppState>) {
    let poll = Duration::from_secs(state.config.key_poll_secs.max(1));
    oathmesh_serving::reload::spawn_watcher(poll, move |trigger| {
        if trigger == oathmesh_serving::reload::Trigger::Hangup {
            tracing::info!("SIGHUP: reloading keys");
        }
        match state.reload_keys_if_changed() {
            Ok(Some(kid)) => tracing::info!(kid = %kid, "signing key reloaded"),
            Ok(None) => {}
            Err(e) => {
                tracing::error!(error = %e, "key reload failed; the previous keys stay in use")
            }
        }
    });
}

/// Runs the issuer from a config file until Ctrl-C or SIGTERM (what `oathmesh serve` calls):
/// logs as the file's `log_format` says, on a multi-threaded runtime.
pub fn run_from_file(path: &std::path::Path) -> Result<(), IssuerError> {
    let config = IssuerConfig::from_file(path)?;
    oathmesh_serving::logging::init(config.log_format, "info");
    let listen = config.listen;
    let metrics_listen = config.metrics_listen;
    let state = state_from_config(config)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(IssuerError::Runtime)?;
    runtime.block_on(async move {
        let bind = |addr| async move {
            TcpListener::bind(addr)
                .await
                .map_err(|source| IssuerError::Listen { addr, source })
        };
        let listener = bind(listen).await?;
        let metrics_listener = match metrics_listen {
            Some(addr) => Some(bind(addr).await?),
            None => None,
        };
        serve(
            state,
            listener,
            metrics_listener,
            oathmesh_serving::reload::shutdown_signal(),
        )
        .await;
        Ok(())
    })
}
