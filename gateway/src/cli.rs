//! `oathmesh gateway --config gateway.toml`: the entry point the `oathmesh` CLI calls.

use crate::GatewayError;
use crate::config::GatewayConfig;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

const USAGE: &str = "usage: oathmesh gateway --config <gateway.toml>

Runs the OathMesh verifying reverse proxy (docs/gateway.md lists every key).
  -c, --config <FILE>  the gateway's TOML configuration; relative paths in it are relative
                       to its folder
  -h, --help           print this help
Environment overrides: OATHMESH_GATEWAY_<KEY> for listen, upstream, verifier_file,
verifier_json, redis_url, max_body_bytes, metrics_listen, log_format and the other scalar
keys. Logs go to stderr (log_format = \"text\" or \"json\"); OATHMESH_LOG is a tracing
EnvFilter (e.g. `debug`, `oathmesh_gateway=debug,info`). SIGHUP reloads the TLS files.";

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
    let config = match GatewayConfig::from_toml_file(path) {
        Ok(config) => config,
        Err(error) => {
            eprintln!("oathmesh gateway: {}", GatewayError::Config(error));
            return ExitCode::from(2);
        }
    };
    oathmesh_serving::logging::init(config.log_format, "info");
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
    match runtime.block_on(crate::run(
        config,
        oathmesh_serving::reload::shutdown_signal(),
    )) {
        Ok(()) => ExitCode::SUCCESS,
        Err(
            error @ (GatewayError::Verifier(_) | GatewayError::Config(_) | GatewayError::Tls(_)),
        ) => {
            eprintln!("oathmesh gateway: {error}");
            ExitCode::from(2)
        }
        Err(error) => {
            eprintln!("oathmesh gateway: {error}");
            ExitCode::from(1)
        }
    }
}
