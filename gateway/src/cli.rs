//! `oathmesh gateway --config gateway.toml`: the entry point the `oathmesh` CLI calls.

use crate::GatewayError;
use crate::config::GatewayConfig;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

const USAGE: &str = "usage: oathmesh gateway --config <gateway.toml>

Runs the OathMesh verifying reverse proxy. Environment overrides: OATHMESH_GATEWAY_LISTEN,
OATHMESH_GATEWAY_UPSTREAM, OATHMESH_GATEWAY_VERIFIER_FILE, OATHMESH_GATEWAY_VERIFIER_JSON,
OATHMESH_GATEWAY_REDIS_URL, OATHMESH_GATEWAY_MAX_BODY_BYTES, ... (see gateway/README.md).
Logs go to stderr; set OATHMESH_LOG (e.g. `debug`) to change the level.";

/// Runs the gateway from command-line arguments (without the program and subcommand names):
/// `--config <path>`. Exit codes: 0 after a clean shutdown (Ctrl-C or SIGTERM), 1 when the
/// gateway cannot start or fails, 2 for usage or configuration errors.
pub fn main_from_args<I, S>(args: I) -> ExitCode
where
    I: IntoIterator<Item = S>,
    S: Into<OsString>,
{
    let mut config: Option<PathBuf> = None;
    let mut args = args.into_iter().map(Into::into);
    while let Some(arg) = args.next() {
        match arg.to_str() {
            Some("--config" | "-c") => config = args.next().map(PathBuf::from),
            Some(flag) if flag.starts_with("--config=") => {
                config = Some(PathBuf::from(&flag["--config=".len()..]));
            }
            Some("--help" | "-h") => {
                println!("{USAGE}");
                return ExitCode::SUCCESS;
            }
            _ => {
                eprintln!("unexpected argument {arg:?}\n{USAGE}");
                return ExitCode::from(2);
            }
        }
    }
    match config {
        Some(path) => main_with_config_file(&path),
        None => {
            eprintln!("--config is required\n{USAGE}");
            ExitCode::from(2)
        }
    }
}

/// Loads the TOML file (plus environment overrides) and runs the gateway until Ctrl-C or
/// SIGTERM, on a multi-threaded runtime with logs on stderr.
pub fn main_with_config_file(path: &Path) -> ExitCode {
    init_logging();
    let config = match GatewayConfig::from_toml_file(path) {
        Ok(config) => config,
        Err(error) => {
            eprintln!("oathmesh gateway: {}", GatewayError::Config(error));
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("oathmesh gateway: cannot start the runtime: {error}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(crate::run(config, shutdown_signal())) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error @ GatewayError::Verifier(_)) | Err(error @ GatewayError::Config(_)) => {
            eprintln!("oathmesh gateway: {error}");
            ExitCode::from(2)
        }
        Err(error) => {
            eprintln!("oathmesh gateway: {error}");
            ExitCode::from(1)
        }
    }
}

/// Logs to stderr; a no-op when the embedding program already installed a subscriber.
fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("OATHMESH_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
    tracing::info!("shutdown requested");
}
