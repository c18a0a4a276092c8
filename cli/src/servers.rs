//! The long-running commands: the issuer server and key rotation for it.

use clap::{Args, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Args)]
pub struct ServeArgs {
    /// Issuer configuration (TOML); secrets may come from the environment instead.
    #[arg(long)]
    pub config: PathBuf,
}

#[derive(Args)]
pub struct GatewayArgs {
    /// Gateway configuration (TOML): listen address, upstream, verifier document, limits.
    #[arg(long)]
    pub config: PathBuf,
}

#[derive(Subcommand)]
pub enum KeysCommand {
    /// Add a new signing key to an issuer key folder; the running issuer starts signing with
    /// it within seconds (or at once on SIGHUP) and keeps publishing the old one for 360 s.
    Rotate {
        /// The issuer's `key_dir`.
        #[arg(long)]
        dir: PathBuf,
    },
}

/// Structured logs on stderr; `RUST_LOG`-style filtering via `OATHMESH_LOG` (default info).
fn init_logging() {
    let level = std::env::var("OATHMESH_LOG")
        .ok()
        .and_then(|l| l.parse::<tracing::Level>().ok())
        .unwrap_or(tracing::Level::INFO);
    let _ = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_max_level(level)
        .try_init();
}

pub fn serve(args: ServeArgs) -> Result<ExitCode, String> {
    init_logging();
    oathmesh_issuer::run_from_file(&args.config)?;
    Ok(ExitCode::SUCCESS)
}

pub fn keys(command: KeysCommand) -> Result<ExitCode, String> {
    match command {
        KeysCommand::Rotate { dir } => {
            let now = oathmesh_core::Clock::now_secs(&oathmesh_core::SystemClock);
            let (path, kid) = oathmesh_issuer::keyring::rotate(&dir, now)?;
            println!("new active key: {} (kid {kid}, mode 0600)", path.display());
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Runs the verifying reverse proxy until Ctrl-C or SIGTERM.
pub fn gateway(args: GatewayArgs) -> ExitCode {
    // The gateway sets up its own logging (same OATHMESH_LOG variable).
    oathmesh_gateway::main_with_config_file(&args.config)
}
