//! TLS with rustls (ring provider; no OpenSSL): TLS 1.2 and 1.3 only, ALPN `http/1.1`.
//!
//! - [`server`]: a listener's certificate, reloaded without dropping connections;
//! - [`client`]: outgoing HTTPS (the gateway to its upstream) trusting the public roots plus an
//!   optional CA bundle, with an optional client certificate;
//! - [`files`]: reading PEM certificates, keys and bundles, with errors naming the key.

pub mod client;
pub mod files;
pub mod server;

pub use client::{ClientTlsSettings, client_config};
pub use files::TlsError;
pub use server::{ClientCertMode, ServerTls, TlsSettings};

use std::sync::Arc;

/// The only protocol versions OathMesh speaks.
pub static PROTOCOL_VERSIONS: &[&rustls::SupportedProtocolVersion] =
    &[&rustls::version::TLS13, &rustls::version::TLS12];

/// The one ALPN protocol the servers speak (they are HTTP/1.1 servers).
pub const ALPN_HTTP11: &[u8] = b"http/1.1";

/// The crypto provider every OathMesh TLS configuration uses, named explicitly so that no
/// process-wide default (or a second provider pulled in by a dependency) decides.
pub fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}
