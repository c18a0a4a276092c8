//! The accept loop both servers run: HTTP/1.1 on plain TCP or on TLS, one task per
//! connection, and graceful shutdown (stop accepting, let in-flight requests finish for at
//! most a grace period).
//!
//! The TLS handshake runs on the connection's task under a timeout, so a slow or silent
//! client never holds up the loop; each handshake takes the TLS configuration current at that
//! moment, which is how a reloaded certificate reaches new connections while established ones
//! carry on.

use crate::client_identity::PeerCertificate;
use crate::tls::ServerTls;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::HttpService;
use hyper_util::rt::TokioIo;
use hyper_util::server::graceful::GracefulShutdown;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;

/// What a request handler may know about its connection.
#[derive(Debug, Clone)]
pub struct ConnectionInfo {
    pub peer: SocketAddr,
    /// Whether the connection is TLS.
    pub tls: bool,
    /// The client certificate, when the listener asks for one and the client sent one that
    /// chains to the configured CAs (rustls has verified it before this is filled in).
    pub client_certificate: Option<Arc<PeerCertificate>>,
}

/// How connections are served.
#[derive(Clone)]
pub struct ServeOptions {
    /// The HTTP/1.1 settings (limits, timeouts, keep-alive).
    pub http: http1::Builder,
    /// Longest a TLS handshake may take.
    pub handshake_timeout: Duration,
    /// How long in-flight requests may run after shutdown is asked for.
    pub shutdown_grace: Duration,
    /// For log lines: `issuer`, `gateway`, `metrics`.
    pub name: &'static str,
}

/// Serves `listener` until `shutdown` resolves, then drains. `make_service` builds the
/// service of one connection from what is known about it.
pub async fn serve_http1<M, S>(
    listener: TcpListener,
    tls: Option<Arc<ServerTls>>,
    options: ServeOptions,
    make_service: M,
    shutdown: impl Future<Output = ()>,
) where
    M: Fn(ConnectionInfo) -> S + Send + Sync + 'static,
    S: HttpService<Incoming> + Send + 'static,
    S::Future: Send + 'static,
    S::ResBody: Send + 'static,
    <S::ResBody as hyper::body::Body>::Data: Send,
    <S::ResBody as hyper::body::Body>::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let make_service = Arc::new(make_service);
    let graceful = GracefulShutdown::new();
    let name = options.name;
    if let Ok(addr) = listener.local_addr() {
        tracing::info!(listen = %addr, tls = tls.is_some(), "{name} listening");
    }
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(accepted) => accepted,
                    Err(error) => {
                        // Out of file descriptors and the like: back off instead of spinning.
                        tracing::warn!(%error, "{name}: accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                let watcher = graceful.watcher();
                let make_service = make_service.clone();
                let http = options.http.clone();
                let acceptor = tls.as_ref().map(|t| t.acceptor());
                let handshake_timeout = options.handshake_timeout;
                tokio::spawn(async move {
                    let Some(acceptor) = acceptor else {
                        let info = ConnectionInfo { peer, tls: false, client_certificate: None };
                        let connection = http.serve_connection(TokioIo::new(stream), make_service(info));
                        if let Err(error) = watcher.watch(connection).await {
                            tracing::debug!(%error, %peer, "{name}: connection ended with an error");
                        }
                        return;
                    };
                    let stream = match tokio::time::timeout(handshake_timeout, acceptor.accept(stream)).await {
                        Ok(Ok(stream)) => stream,
                        Ok(Err(error)) => {
                            tracing::debug!(%error, %peer, "{name}: TLS handshake failed");
                            return;
                        }
                        Err(_) => {
                            tracing::debug!(%peer, "{name}: TLS handshake timed out");
                            return;
                        }
                    };
                    let client_certificate = stream
                        .get_ref()
                        .1
                        .peer_certificates()
                        .and_then(|chain| chain.first())
                        .and_then(|leaf| match PeerCertificate::from_der(leaf) {
                            Ok(cert) => Some(Arc::new(cert)),
                            Err(error) => {
                                tracing::warn!(%error, %peer, "{name}: verified client certificate does not parse; treated as absent");
                                None
                            }
                        });
                    let info = ConnectionInfo { peer, tls: true, client_certificate };
                    let connection = http.serve_connection(TokioIo::new(stream), make_service(info));
                    if let Err(error) = watcher.watch(connection).await {
                        tracing::debug!(%error, %peer, "{name}: connection ended with an error");
                    }
                });
            }
            () = &mut shutdown => break,
        }
    }
    drop(listener);
    tracing::info!("{name}: shutting down, draining in-flight requests");
    let grace = options.shutdown_grace;
    tokio::select! {
        () = graceful.shutdown() => tracing::info!("{name}: all connections closed"),
        () = tokio::time::sleep(grace) => {
            tracing::warn!(grace_ms = grace.as_millis() as u64, "{name}: grace period over; closing remaining connections");
        }
    }
}
