//! # oathmesh-gateway
//!
//! A verifying reverse proxy (PROTOCOL §11) for upstreams that know nothing of OathMesh.
//! Every request's `Authorization: OathMesh <token>` goes through the core's verifier; a
//! denied request gets the PROTOCOL §2 JSON error and never reaches the upstream. An allowed
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
mod proxy;
mod server;

pub use body::{BoxError, GatewayBody};
pub use cli::{main_from_args, main_with_config_file};
pub use config::GatewayConfig;
pub use errors::ProxyError;
pub use proxy::Gateway;
pub use server::{BoundGateway, bind, bind_with, run};

/// Why the gateway could not start.
#[derive(Debug)]
pub enum GatewayError {
    /// The gateway's TOML configuration.
    Config(config::ConfigError),
    /// The verifier configuration document, as the core reports it.
    Verifier(oathmesh_core::ConfigError),
    /// Listening failed.
    Io(String),
}

impl std::fmt::Display for GatewayError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            GatewayError::Config(e) => write!(f, "gateway configuration: {e}"),
            GatewayError::Verifier(e) => write!(f, "verifier configuration: {e}"),
            GatewayError::Io(e) => f.write_str(e),
        }
    }
}

impl std::error::Error for GatewayError {}

impl From<config::ConfigError> for GatewayError {
    fn from(error: config::ConfigError) -> Self {
        GatewayError::Config(error)
    }
}
