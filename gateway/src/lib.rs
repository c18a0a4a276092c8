//! # oathmesh-gateway
//!
//! A verifying reverse proxy (docs/gateway.md) for upstreams that know nothing of OathMesh.
//! Every request's `Authorization: OathMesh <token>` goes through the core's verifier; a
//! denied request gets the core's JSON error (docs/protocol.md, "Pipeline") and never reaches
//! the upstream. An allowed
//! one reaches it without `Authorization` and without any `X-OathMesh-*` header the caller
//! sent, and with `X-OathMesh-Subject`, `-Issuer`, `-Action`, `-Token-Id`, `-Env`, `-Tenant`
//! and `-Scope` set from the verified token.
//!
//! ```no_run
//! # async fn demo() -> Result<(), oathmesh_gateway::GatewayError> {
//! let config = oathmesh_gateway::GatewayConfig::from_toml_file("gateway.toml".as_ref())?;
//! oathmesh_gateway::run(config, async { tokio::signal::ctrl_c().await.unwrap() }).await
//! # }
//! ```

mod body;
mod cli;
pub mod config;
mod errors;
pub mod headers;
pub mod metrics;
mod proxy;
mod server;

pub use body::{BoxError, GatewayBody};
pub use cli::{main_from_args, main_with_config_file};
pub use config::GatewayConfig;
pub use errors::ProxyError;
pub use proxy::Gateway;
pub use server::{BoundGateway, bind, bind_with, run};

/// Why the gateway could not start.
#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    /// The gateway's TOML configuration.
    #[error("gateway configuration: {0}")]
    Config(#[from] config::ConfigError),
    /// The verifier configuration document, as the core reports it.
    #[error("verifier configuration: {0}")]
    Verifier(oathmesh_core::ConfigError),
    /// A `[tls]` or `[upstream_tls]` file.
    #[error("gateway configuration: {0}")]
    Tls(#[from] oathmesh_serving::TlsError),
    /// Listening failed.
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: std::net::SocketAddr,
        source: std::io::Error,
    },
    /// The runtime could not start.
    #[error("cannot start the runtime: {0}")]
    Runtime(std::io::Error),
}
