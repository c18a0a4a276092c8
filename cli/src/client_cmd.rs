//! `oathmesh token`: mint a token from a running issuer with this client's credential, the
//! way services do before each call (the core's issuer client, as every SDK uses it).

use crate::errors::{CliError, read_text};
use crate::flags::{BindFlags, ClaimFlags};
use clap::Args;
use oathmesh_core::client::IssuerClient;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Args)]
pub struct TokenArgs {
    /// The issuer URL (`iss`).
    #[arg(long)]
    issuer: String,
    /// Where to reach the issuer when it differs from its URL.
    #[arg(long)]
    token_url: Option<String>,
    /// This client's id in the issuer's configuration.
    #[arg(long)]
    client_id: String,
    /// Environment variable holding the client secret (never pass secrets as arguments:
    /// they show up in process listings).
    #[arg(long, conflicts_with = "client_key")]
    client_secret_env: Option<String>,
    /// PKCS#8 PEM Ed25519 key of the client (signs a single-use assertion).
    #[arg(long)]
    client_key: Option<PathBuf>,
    /// PEM bundle of extra CAs to trust for the issuer's certificate (a private CA), in
    /// addition to the public roots.
    #[arg(long)]
    ca_file: Option<PathBuf>,
    #[command(flatten)]
    claims: ClaimFlags,
    #[command(flatten)]
    bind: BindFlags,
}

pub fn run(args: TokenArgs) -> Result<ExitCode, CliError> {
    let mut config = serde_json::json!({"issuer_url": args.issuer, "client_id": args.client_id});
    if let Some(url) = &args.token_url {
        config["token_url"] = url.clone().into();
    }
    if let Some(ca_file) = &args.ca_file {
        // SEAM (core): the issuer client's CA bundle key (COMMON contract: `ca_file`).
        config["ca_file"] = ca_file.to_string_lossy().into_owned().into();
    }
    match (&args.client_secret_env, &args.client_key) {
        (Some(var), None) => {
            let secret = std::env::var(var).map_err(|_| CliError::MissingEnv(var.clone()))?;
            config["client_secret"] = secret.into();
        }
        (None, Some(path)) => {
            config["client_key_pem"] = read_text(path, "client key")?.into();
        }
        _ => {
            return Err(CliError::Usage(
                "give --client-secret-env VAR or --client-key FILE",
            ));
        }
    }
    let client = IssuerClient::from_json(config.to_string().as_bytes())?;
    let request = args.claims.mint_request(None);
    let minted = match args.bind.request()? {
        Some((method, path, body)) => client.mint_for_request(&request, &method, &path, &body),
        None => client.mint(&request),
    };
    match minted {
        Ok(token) => {
            println!("{}", token.token);
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            let body = serde_json::json!({"error": e.code, "status": e.status, "message": e.message, "fix": e.fix});
            eprintln!("{body}");
            Ok(ExitCode::from(1))
        }
    }
}
