//! `oathmesh exchange`: inside a CI job, trade the provider's OIDC ID token for an Oath Token
//! (docs/protocol.md, "CI OIDC exchange"). No stored secret: GitHub Actions hands the job a short-lived request
//! token (`permissions: id-token: write`), GitLab CI an ID token in a variable (`id_tokens:`).
//!
//! Exit codes: 0 the token is printed; 1 the issuer refused (its code, message and fix on
//! stderr); 2 the job is not set up (missing variables, unreachable issuer or provider).

use crate::errors::CliError;
use crate::flags::{BindFlags, TargetFlags};
use clap::Args;
use oathmesh_issuer::exchange::client::{self, ClientError, ExchangeAsk};
use std::process::ExitCode;

/// Where GitLab jobs put the ID token unless told otherwise (`id_tokens: OATHMESH_ID_TOKEN:`).
pub const DEFAULT_ID_TOKEN_ENV: &str = "OATHMESH_ID_TOKEN";

#[derive(Args)]
pub struct ExchangeArgs {
    /// The CI provider whose ID token is exchanged.
    #[arg(long, value_parser = ["github", "gitlab"])]
    provider: String,
    /// Where to reach the issuer (its base URL).
    #[arg(long)]
    issuer: String,
    #[command(flatten)]
    target: TargetFlags,
    /// Environment variable holding the ID token. GitLab default: OATHMESH_ID_TOKEN. GitHub
    /// default: none (the token is requested with ACTIONS_ID_TOKEN_REQUEST_URL and _TOKEN).
    #[arg(long)]
    id_token_env: Option<String>,
    /// GitHub: the audience to request the ID token for (default: what the issuer's
    /// discovery document says it expects).
    #[arg(long)]
    id_token_audience: Option<String>,
    #[command(flatten)]
    bind: BindFlags,
    /// Print the issuer's JSON answer instead of the bare token.
    #[arg(long)]
    json: bool,
}

fn env(name: &str) -> Result<String, CliError> {
    std::env::var(name)
        .ok()
        .filter(|v| !v.is_empty())
        .ok_or_else(|| CliError::MissingEnv(name.to_owned()))
}

fn id_token(args: &ExchangeArgs) -> Result<String, CliError> {
    if let Some(name) = &args.id_token_env {
        return env(name);
    }
    if args.provider == "gitlab" {
        return env(DEFAULT_ID_TOKEN_ENV).map_err(|e| {
            CliError::Exchange(format!("{e}: add `id_tokens: {DEFAULT_ID_TOKEN_ENV}: aud: <issuer audience>` to the job, or name the variable with --id-token-env"))
        });
    }
    let (url, token) = match (
        env("ACTIONS_ID_TOKEN_REQUEST_URL"),
        env("ACTIONS_ID_TOKEN_REQUEST_TOKEN"),
    ) {
        (Ok(url), Ok(token)) => (url, token),
        _ => {
            return Err(CliError::Usage(
                "ACTIONS_ID_TOKEN_REQUEST_URL and ACTIONS_ID_TOKEN_REQUEST_TOKEN are not set: \
                 give the job `permissions: id-token: write`",
            ));
        }
    };
    let audience = match &args.id_token_audience {
        Some(a) => a.clone(),
        None => client::id_token_audience(&args.issuer, "github")
            .map_err(|e| CliError::Exchange(e.to_string()))?,
    };
    client::github_id_token(&url, &token, &audience).map_err(|e| CliError::Exchange(e.to_string()))
}

pub fn run(args: ExchangeArgs) -> Result<ExitCode, CliError> {
    let id_token = id_token(&args)?;
    let rqh = args.bind.rqh()?;
    let ask = ExchangeAsk {
        aud: &args.target.aud,
        act: &args.target.act,
        ttl_hint: args.target.ttl,
        rqh: rqh.as_deref(),
    };
    match client::exchange(&args.issuer, &args.provider, &id_token, &ask) {
        Ok(answer) => {
            if args.json {
                println!("{answer}");
            } else {
                println!("{}", answer["token"].as_str().unwrap_or_default());
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(refused @ ClientError::Refused { .. }) => {
            eprintln!("oathmesh: exchange {refused}");
            Ok(ExitCode::from(1))
        }
        Err(ClientError::Failed(why)) => Err(CliError::Exchange(why)),
    }
}
