//! # oathmesh-serving
//!
//! What the OathMesh servers (`oathmesh serve`, `oathmesh gateway`) share, so each rule of
//! running a server is written once:
//! - [`tls`]: listeners with rustls (TLS 1.2 and 1.3, ALPN `http/1.1`), certificates reloaded
//!   when their files change or on SIGHUP, optional client certificates, and the client-side
//!   configuration for outgoing HTTPS (a CA bundle beside the public roots);
//! - [`client_identity`]: who a verified client certificate names (RFC 4514 subject, SANs),
//!   matched against configuration (RFC 8705 `tls_client_auth` style);
//! - [`listener`]: the accept loop serving HTTP/1.1 on plain TCP or TLS, with graceful shutdown;
//! - [`reload`]: polling plus SIGHUP, and the shutdown signal;
//! - [`logging`]: `log_format = "text" | "json"`, `OATHMESH_LOG` as an EnvFilter everywhere;
//! - [`metrics`]: counters and histograms in the Prometheus text format;
//! - [`paths`]: a relative path in a configuration file means "beside that file".

pub mod client_identity;
pub mod listener;
pub mod logging;
pub mod metrics;
pub mod paths;
pub mod reload;
pub mod tls;

#[cfg(feature = "test-pki")]
pub mod test_pki;

pub use client_identity::{CertIdentity, PeerCertificate};
pub use listener::{ConnectionInfo, ServeOptions, serve_http1};
pub use logging::LogFormat;
pub use tls::{ClientCertMode, ServerTls, TlsError, TlsSettings};
