//! `oathmesh token`: mint a token from a running issuer with this client's credential, the
//! way services do before each call (the core's issuer client, as every SDK uses it).

use clap::Args;
use oathmesh_core::client::IssuerClient;
use oathmesh_core::{MintRequest, SourceRequest};
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
    #[arg(long)]
    client_id: String,
    /// Environment variable holding the client secret (never pass secrets as arguments:
    /// they show up in process listings).
    #[arg(long, conflicts_with = "client_key")]
    client_secret_env: Option<String>,
    /// PKCS#8 PEM Ed25519 key of the client (signs a single-use assertion).
    #[arg(long)]
    client_key: Option<PathBuf>,
    #[arg(long)]
    sub: String,
    #[arg(long)]
    aud: String,
    #[arg(long)]
    act: String,
    #[arg(long)]
    ttl: Option<i64>,
    #[arg(long, value_delimiter = ',')]
    scope: Vec<String>,
    #[arg(long)]
    env: Option<String>,
    /// Bind to this request: method (with --bind-path, --bind-body-file).
    #[arg(long, requires = "bind_path")]
    bind_method: Option<String>,
    #[arg(long)]
    bind_path: Option<String>,
    #[arg(long)]
    bind_body_file: Option<PathBuf>,
}

pub fn run(args: TokenArgs) -> Result<ExitCode, String> {
    let mut config = serde_json::json!({"issuer_url": args.issuer, "client_id": args.client_id});
    if let Some(url) = &args.token_url {
        config["token_url"] = url.clone().into();
    }
    match (&args.client_secret_env, &args.client_key) {
        (Some(var), None) => {
            let secret =
                std::env::var(var).map_err(|_| format!("environment variable {var} is not set"))?;
            config["client_secret"] = secret.into();
        }
        (None, Some(path)) => {
            let pem =
                std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
            config["client_key_pem"] = pem.into();
        }
        _ => return Err("give --client-secret-env VAR or --client-key FILE".into()),
    }
    let client =
        IssuerClient::from_json(config.to_string().as_bytes()).map_err(|e| e.to_string())?;
    let request = MintRequest {
        sub: args.sub,
        aud: args.aud,
        act: args.act,
        ttl_hint: args.ttl,
        scope: (!args.scope.is_empty()).then_some(args.scope),
        env: args.env,
        src: None::<SourceRequest>,
        ..MintRequest::default()
    };
    let minted = match (&args.bind_method, &args.bind_path) {
        (Some(method), Some(path)) => {
            let body = match &args.bind_body_file {
                Some(p) => std::fs::read(p).map_err(|e| format!("{}: {e}", p.display()))?,
                None => Vec::new(),
            };
            client.mint_for_request(&request, method, path, &body)
        }
        _ => client.mint(&request),
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
