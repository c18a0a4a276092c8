//! # oathmesh-issuer
//!
//! The issuer server (PROTOCOL §9): clients authenticate with their own credential and mint
//! Oath Tokens inside their allow-list; receivers fetch the JWKS and the revocation list.
//! Keys rotate by dropping a new file into the key folder (`oathmesh keys rotate`); the server
//! notices within `key_poll_secs` (or at once on SIGHUP) without a restart.

pub mod api;
pub mod clients;
pub mod config;
pub mod exchange;
pub mod keyring;
pub mod metrics;
pub mod ratelimit;
pub mod revocations;

pub use api::{AppState, router};
pub use config::{ClientConfig, IssuerConfig};

use oathmesh_core::SystemClock;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

/// Builds the state: revocations in Redis when `redis_url` is set (else in memory), and the
/// system clock.
pub fn state_from_config(config: IssuerConfig) -> Result<Arc<AppState>, String> {
    let revocations = revocations::from_config(config.redis_url.as_deref())?;
    Ok(Arc::new(AppState::new(
        config,
        revocations,
        Arc::new(SystemClock),
    )?))
}

/// Serves until `shutdown` resolves, then drains in-flight requests.
pub async fn serve(
    state: Arc<AppState>,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    spawn_key_watcher(state.clone());
    axum::serve(listener, router(state))
        .with_graceful_shutdown(shutdown)
        .await
}

/// Polls the key folder, and reloads at once on SIGHUP.
fn spawn_key_watcher(state: Arc<AppState>) {
    let poll = Duration::from_secs(state.config.key_poll_secs.max(1));
    tokio::spawn(async move {
        #[cfg(unix)]
        let mut hangup =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).ok();
        loop {
            #[cfg(unix)]
            {
                let hup = async {
                    match hangup.as_mut() {
                        Some(s) => {
                            s.recv().await;
                        }
                        None => std::future::pending::<()>().await,
                    }
                };
                tokio::select! {
                    _ = tokio::time::sleep(poll) => {}
                    _ = hup => tracing::info!("SIGHUP: reloading keys"),
                }
            }
            #[cfg(not(unix))]
            tokio::time::sleep(poll).await;
            match state.reload_keys_if_changed() {
                Ok(Some(kid)) => tracing::info!(kid = %kid, "signing key reloaded"),
                Ok(None) => {}
                Err(e) => {
                    tracing::error!(error = %e, "key reload failed; the previous keys stay in use")
                }
            }
        }
    });
}

/// Runs the issuer from a config file until Ctrl-C or SIGTERM (what `oathmesh serve` calls).
pub fn run_from_file(path: &std::path::Path) -> Result<(), String> {
    let config = IssuerConfig::from_file(path).map_err(|e| e.to_string())?;
    let listen = config.listen;
    let state = state_from_config(config)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .map_err(|e| format!("listen {listen}: {e}"))?;
        tracing::info!(%listen, "issuer listening");
        serve(state, listener, shutdown_signal())
            .await
            .map_err(|e| e.to_string())
    })
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("SIGTERM handler");
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = tokio::signal::ctrl_c().await;
}
