//! `oathmesh`: generate keys, mint, verify and inspect Oath Tokens.
//!
//! Exit codes: 0 success (token allowed), 1 token denied, 2 usage or configuration error.

mod client_cmd;
mod errors;
mod exchange;
mod flags;
mod inspect;
mod keyfiles;
mod servers;
mod shared;

use clap::{Args, Parser, Subcommand};
use errors::{CliError, read_file, read_text};
use oathmesh_core::{Issuer, LocalSigner, RequestParts, SourceRequest, Verifier, VerifyContext};
use serde_json::json;
use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

#[derive(Parser)]
#[command(
    name = "oathmesh",
    version,
    about = "Short-lived, signed identity for every machine call."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Generate an Ed25519 signing key (PKCS#8 PEM, mode 0600), its public key and a JWKS.
    Keygen(KeygenArgs),
    /// Mint a signed Oath Token.
    Mint(MintArgs),
    /// Verify tokens (arguments, or one per line on stdin) and print each caller as JSON.
    Verify(VerifyArgs),
    /// Decode a token WITHOUT verifying it, and explain each field.
    Inspect(InspectArgs),
    /// Revoke a subject in the shared Redis revocation list.
    Revoke(shared::RevokeArgs),
    /// Lift a subject's revocation in the shared Redis revocation list.
    Unrevoke(shared::RevokeArgs),
    /// List the revoked subjects in the shared Redis revocation list (JSON lines).
    Revocations(shared::RedisArgs),
    /// Policy files.
    #[command(subcommand)]
    Policy(shared::PolicyCommand),
    /// Audit logs.
    #[command(subcommand)]
    Audit(shared::AuditCommand),
    /// Get a token from a running issuer with this client's credential.
    Token(client_cmd::TokenArgs),
    /// In a CI job: trade the GitHub Actions or GitLab CI ID token for an Oath Token.
    Exchange(exchange::ExchangeArgs),
    /// Run the issuer server (docs/issuer.md).
    Serve(servers::ServeArgs),
    /// Run the gateway: a verifying reverse proxy for upstreams that know nothing of OathMesh.
    Gateway(servers::GatewayArgs),
    /// Manage an issuer's signing keys.
    #[command(subcommand)]
    Keys(servers::KeysCommand),
}

#[derive(Args)]
struct KeygenArgs {
    /// Where to write the private key; `<stem>.pub.pem` and `jwks.json` go beside it.
    #[arg(long)]
    out: PathBuf,
    /// Overwrite existing files.
    #[arg(long)]
    force: bool,
}

#[derive(Args)]
struct MintArgs {
    /// PKCS#8 PEM private key.
    #[arg(long)]
    key: PathBuf,
    /// Issuer URL (`iss`).
    #[arg(long)]
    iss: String,
    #[command(flatten)]
    claims: flags::ClaimFlags,
    /// Request binding hash (`sha256:...`) computed elsewhere; or use --bind-method.
    #[arg(long, conflicts_with = "bind_method")]
    rqh: Option<String>,
    #[command(flatten)]
    bind: flags::BindFlags,
    /// Source type (with --src-repo), e.g. github_actions.
    #[arg(long)]
    src_type: Option<String>,
    /// Source repository, e.g. acme/payments.
    #[arg(long)]
    src_repo: Option<String>,
    /// Key id to put in the header (default: the key's RFC 7638 thumbprint).
    #[arg(long)]
    kid: Option<String>,
    /// Print the issuer response JSON instead of the bare token.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
struct VerifyArgs {
    /// A verifier configuration document (docs/configuration.md); replaces the flags below.
    #[arg(long, conflicts_with_all = ["jwks", "iss", "aud", "policy", "ca_file"])]
    config: Option<PathBuf>,
    /// JWKS file with the issuer's public keys. Without it the keys are fetched from each
    /// trusted issuer's https://<iss>/.well-known/jwks.json.
    #[arg(long)]
    jwks: Option<PathBuf>,
    /// PEM bundle of extra CAs to trust when fetching the JWKS (a private CA), in addition to
    /// the public roots.
    #[arg(long, conflicts_with = "jwks")]
    ca_file: Option<PathBuf>,
    /// Trusted issuer URL (repeatable).
    #[arg(long, required_unless_present = "config")]
    iss: Vec<String>,
    /// This service's audience.
    #[arg(long, required_unless_present = "config")]
    aud: Option<String>,
    /// Policy file (JSON).
    #[arg(long)]
    policy: Option<PathBuf>,
    /// Clock-skew allowance in seconds (0..60).
    #[arg(long, default_value_t = 10)]
    leeway: i64,
    /// Refuse tokens that are not bound to the request.
    #[arg(long)]
    require_binding: bool,
    /// The request to check a binding against: method (with --path, --body-file).
    #[arg(long, requires = "path")]
    method: Option<String>,
    /// Path and query of the request, exactly as received.
    #[arg(long, requires = "method")]
    path: Option<String>,
    /// Body of the request (default: empty).
    #[arg(long, requires = "method")]
    body_file: Option<PathBuf>,
    /// Tokens to verify, in order, with one verifier (so a repeated token is a replay).
    /// Reads one token per line from stdin when none is given.
    tokens: Vec<String>,
}

#[derive(Args)]
struct InspectArgs {
    /// The token (or stdin when absent).
    token: Option<String>,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // Servers set up their own logs once their configuration says which format.
    if !matches!(cli.command, Command::Serve(_) | Command::Gateway(_)) {
        oathmesh_serving::logging::init(oathmesh_serving::LogFormat::Text, "warn");
    }
    let result = match cli.command {
        Command::Keygen(args) => keygen(args),
        Command::Mint(args) => mint(args),
        Command::Verify(args) => verify(args),
        Command::Inspect(args) => inspect::run(args.token, args.json),
        Command::Revoke(args) => shared::revoke(args),
        Command::Unrevoke(args) => shared::unrevoke(args),
        Command::Revocations(args) => shared::revocations(args),
        Command::Policy(command) => shared::policy(command),
        Command::Audit(command) => shared::audit(command),
        Command::Token(args) => client_cmd::run(args),
        Command::Exchange(args) => exchange::run(args),
        Command::Serve(args) => servers::serve(args),
        Command::Gateway(args) => Ok(servers::gateway(args)),
        Command::Keys(command) => servers::keys(command),
    };
    match result {
        Ok(code) => code,
        Err(error) => {
            eprintln!("oathmesh: {error}");
            ExitCode::from(2)
        }
    }
}

fn keygen(args: KeygenArgs) -> Result<ExitCode, CliError> {
    let written = keyfiles::write_new_key(&args.out, args.force)?;
    println!("kid: {}", written.kid);
    println!("private key: {} (mode 0600)", written.private.display());
    println!("public key:  {}", written.public.display());
    println!("jwks:        {}", written.jwks.display());
    Ok(ExitCode::SUCCESS)
}

fn mint(args: MintArgs) -> Result<ExitCode, CliError> {
    let pem = read_text(&args.key, "key")?;
    let signer = LocalSigner::from_pem(&pem, args.kid)?;
    let issuer = Issuer::new(args.iss, Arc::new(signer))?;
    let rqh = match &args.rqh {
        Some(rqh) => Some(rqh.clone()),
        None => args.bind.rqh()?,
    };
    let mut request = args.claims.mint_request(rqh);
    request.src = (args.src_type.is_some() || args.src_repo.is_some()).then(|| SourceRequest {
        kind: args.src_type,
        repo: args.src_repo,
        ..SourceRequest::default()
    });
    let minted = issuer.mint(&request)?;
    if args.json {
        println!(
            "{}",
            serde_json::to_string(&minted).expect("a minted token serializes")
        );
    } else {
        println!("{}", minted.token);
    }
    Ok(ExitCode::SUCCESS)
}

fn verifier_config(args: &VerifyArgs) -> Result<Vec<u8>, CliError> {
    if let Some(path) = &args.config {
        return read_file(path, "config");
    }
    let mut doc = json!({
        "audience": args.aud,
        "trusted_issuers": args.iss,
        "leeway": args.leeway,
        "require_binding": args.require_binding,
    });
    match (&args.jwks, &args.ca_file) {
        (Some(path), _) => {
            doc["jwks"] = serde_json::from_slice(&read_file(path, "jwks")?).map_err(|source| {
                CliError::Json {
                    what: "jwks",
                    source,
                }
            })?;
        }
        // SEAM (core): the JWKS fetcher's CA bundle key, as the core names it.
        (None, Some(ca_file)) => doc["jwks_fetch"] = json!({ "ca_file": ca_file }),
        (None, None) => {}
    }
    if let Some(policy) = &args.policy {
        doc["policy_file"] = json!(policy);
    }
    Ok(serde_json::to_vec(&doc).expect("a JSON value serializes"))
}

fn verify(args: VerifyArgs) -> Result<ExitCode, CliError> {
    let verifier = Verifier::from_json(&verifier_config(&args)?)?;
    let body = match &args.body_file {
        Some(p) => read_file(p, "body")?,
        None => Vec::new(),
    };
    let ctx = VerifyContext {
        request: match (&args.method, &args.path) {
            (Some(method), Some(path)) => Some(RequestParts {
                method,
                path_and_query: path,
                body: &body,
            }),
            _ => None,
        },
        ..VerifyContext::default()
    };
    let tokens = if args.tokens.is_empty() {
        let mut input = String::new();
        std::io::stdin()
            .read_to_string(&mut input)
            .map_err(CliError::Stdin)?;
        input
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(str::to_owned)
            .collect()
    } else {
        args.tokens.clone()
    };
    if tokens.is_empty() {
        return Err(CliError::Usage("no token given (argument or stdin)"));
    }
    let mut all_allowed = true;
    for token in &tokens {
        match verifier.verify(token, &ctx) {
            Ok(caller) => println!("{}", caller.to_json()),
            Err(err) => {
                all_allowed = false;
                eprintln!("{}", err.to_json(None));
            }
        }
    }
    Ok(if all_allowed {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
