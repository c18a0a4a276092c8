//! Accepting connections: HTTP/1.1 with hard limits on the request head, a slow-loris
//! timeout, and graceful shutdown that lets in-flight requests finish.

use crate::GatewayError;
use crate::config::GatewayConfig;
use crate::proxy::Gateway;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::net::TcpListener;

/// A gateway with its listening socket open, not yet serving: tests bind to port 0 and read
/// the chosen address before serving.
pub struct BoundGateway {
    listener: TcpListener,
    gateway: Gateway,
    http: http1::Builder,
    shutdown_grace: Duration,
}

/// Builds the gateway (verifier and upstream client) and opens the listening socket.
pub async fn bind(config: &GatewayConfig) -> Result<BoundGateway, GatewayError> {
    let gateway = Gateway::new(config)?;
    bind_with(config, gateway).await
}

/// [`bind`] with a gateway built by the caller ([`Gateway::with_verifier`]).
pub async fn bind_with(
    config: &GatewayConfig,
    gateway: Gateway,
) -> Result<BoundGateway, GatewayError> {
    let listener = TcpListener::bind(config.listen)
        .await
        .map_err(|e| GatewayError::Io(format!("cannot listen on {}: {e}", config.listen)))?;
    Ok(BoundGateway {
        listener,
        gateway,
        http: http_builder(config),
        shutdown_grace: config.shutdown_grace,
    })
}

/// Binds and serves until `shutdown` completes, then drains in-flight requests for at most
/// `shutdown_grace`.
pub async fn run(
    config: GatewayConfig,
    shutdown: impl Future<Output = ()>,
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

impl BoundGateway {
    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("a bound socket has an address")
    }

    pub fn gateway(&self) -> &Gateway {
        &self.gateway
    }

    pub async fn serve(self, shutdown: impl Future<Output = ()>) -> Result<(), GatewayError> {
        let BoundGateway {
            listener,
            gateway,
            http,
            shutdown_grace,
        } = self;
        // Fetching issuers' key sets is blocking I/O: do it off the async workers, while
        // already accepting (a request that arrives first fetches the keys itself).
        let warming = gateway.clone();
        tokio::task::spawn_blocking(move || {
            for result in warming.verifier().prewarm() {
                if result.ok {
                    tracing::info!(issuer = %result.issuer, keys = result.keys, "issuer keys loaded");
                } else {
                    tracing::warn!(issuer = %result.issuer, error = ?result.error, "issuer keys not loaded yet");
                }
            }
        });
        tracing::info!(listen = %listener.local_addr().map_err(|e| GatewayError::Io(e.to_string()))?, "gateway listening");
        let graceful = GracefulShutdown::new();
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                accepted = listener.accept() => {
                    let (stream, peer) = match accepted {
                        Ok(accepted) => accepted,
                        Err(error) => {
                            // Out of file descriptors and the like: back off instead of spinning.
                            tracing::warn!(%error, "accept failed");
                            tokio::time::sleep(Duration::from_millis(50)).await;
                            continue;
                        }
                    };
                    let _ = stream.set_nodelay(true);
                    let gateway = gateway.clone();
                    let service = service_fn(move |request| {
                        let gateway = gateway.clone();
                        async move { Ok::<_, Infallible>(gateway.handle(request, Some(peer)).await) }
                    });
                    let connection = graceful.watch(http.serve_connection(TokioIo::new(stream), service));
                    tokio::spawn(async move {
                        if let Err(error) = connection.await {
                            tracing::debug!(%error, %peer, "connection ended with an error");
                        }
                    });
                }
                () = &mut shutdown => break,
            }
        }
        drop(listener);
        tracing::info!("shutting down: draining in-flight requests");
        tokio::select! {
            () = graceful.shutdown() => tracing::info!("all connections closed"),
            () = tokio::time::sleep(shutdown_grace) => {
                tracing::warn!(grace_ms = shutdown_grace.as_millis() as u64, "grace period over; closing remaining connections");
            }
        }
        Ok(())
    }
}
