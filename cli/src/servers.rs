//! The long-running commands: the issuer server, the gateway, and key rotation.

use crate::errors::CliError;
use clap::{Args, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Args)]
pub struct ServeArgs {
    /// Issuer configuration (TOML, docs/issuer.md); relative paths in it are relative to its
    /// folder, secrets may come from the environment instead. SIGHUP reloads keys and TLS.
    #[arg(long)]
    pub config: PathBuf,
}

#[derive(Args)]
pub struct GatewayArgs {
    /// Gateway configuration (TOML, docs/gateway.md): listen address, upstream, verifier
    /// document, TLS, limits. Relative paths in it are relative to its folder.
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

/// Logs as the file's `log_format` says, filtered by `OATHMESH_LOG`.
pub fn serve(args: ServeArgs) -> Result<ExitCode, CliError> {
    oathmesh_issuer::run_from_file(&args.config)?;
    Ok(ExitCode::SUCCESS)
}

pub fn keys(command: KeysCommand) -> Result<ExitCode, CliError> {
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
    // The gateway sets up its own logging (log_format, OATHMESH_LOG).
    oathmesh_gateway::main_with_config_file(&args.config)
}
