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
    Ok(Arc::new(AppState::new(
        config,
        revocations,
        Arc::new(SystemClock),
    )?))
}

/// Longest a client may take to finish a TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Serves the API on `listener` (and `/metrics` on `metrics_listener` instead, when given)
/// until `shutdown` resolves, then drains in-flight requests for `shutdown_grace_ms`. TLS,
/// when configured, applies to both listeners; key and certificate files are watched.
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
    let options = ServeOptions {
        http: http_builder(),
        handshake_timeout: HANDSHAKE_TIMEOUT,
        shutdown_grace: Duration::from_millis(state.config.shutdown_grace_ms),
        name: "issuer",
    };
    let stopped = oathmesh_serving::reload::SharedShutdown::new(shutdown);
    let main_endpoints = if metrics_listener.is_some() {
        Endpoints::WithoutMetrics
    } else {
        Endpoints::All
    };
    let metrics = metrics_listener.map(|listener| {
        let router = router_for(state.clone(), Endpoints::MetricsOnly);
        let options = ServeOptions {
            name: "issuer metrics",
            ..options.clone()
        };
        tokio::spawn(serve_http1(
            listener,
            state.tls.clone(),
            options,
            move |info| connection_service(router.clone(), info),
            stopped.clone().wait(),
        ))
    });
    let router = router_for(state.clone(), main_endpoints);
    serve_http1(
        listener,
        state.tls.clone(),
        options,
        move |info| connection_service(router.clone(), info),
        stopped.wait(),
    )
    .await;
    if let Some(metrics) = metrics {
        let _ = metrics.await;
    }
}

fn http_builder() -> hyper::server::conn::http1::Builder {
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(hyper_util::rt::TokioTimer::new())
        .keep_alive(true)
        .header_read_timeout(Duration::from_secs(10));
    http
}

/// The router as a hyper service for one connection: each request carries the
/// [`ConnectionInfo`] (peer, client certificate) as an extension.
fn connection_service(
    router: axum::Router,
    info: ConnectionInfo,
) -> impl hyper::service::Service<
    hyper::Request<hyper::body::Incoming>,
    Response = axum::response::Response,
    Error = std::convert::Infallible,
    Future = impl Future<Output = Result<axum::response::Response, std::convert::Infallible>> + Send,
> + Clone {
    hyper::service::service_fn(move |mut request: hyper::Request<hyper::body::Incoming>| {
        request.extensions_mut().insert(info.clone());
        tower::ServiceExt::oneshot(router.clone(), request)
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
