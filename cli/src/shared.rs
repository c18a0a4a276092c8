//! Commands for the shared state of a fleet: the Redis revocation list, policy files and the
//! HMAC-chained audit log.

use crate::errors::{CliError, read_file};
use clap::{Args, Subcommand};
use oathmesh_core::audit_chain;
use oathmesh_core::clock::{Clock, SystemClock};
use oathmesh_core::policy_file::load_policy_file;
use oathmesh_core::redis_store::{RedisPool, RedisRevocationList};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

#[derive(Args)]
pub struct RedisArgs {
    /// Redis URL, e.g. redis://127.0.0.1:6379/.
    #[arg(long)]
    redis: String,
}

#[derive(Args)]
pub struct RevokeArgs {
    #[command(flatten)]
    redis: RedisArgs,
    /// The subject, e.g. svc://compromised.
    subject: String,
}

#[derive(Subcommand)]
pub enum PolicyCommand {
    /// Load a policy file (JSON, or Pkl through `pkl eval`) and report errors (exit 1).
    Validate {
        file: PathBuf,
        /// The `pkl` binary (default: $OATHMESH_PKL, then PATH).
        #[arg(long)]
        pkl: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
pub enum AuditCommand {
    /// Check an HMAC-chained audit log; report the first tampered or missing line (exit 1).
    Verify {
        /// File holding the audit HMAC key.
        #[arg(long, alias = "key")]
        key_file: PathBuf,
        file: PathBuf,
    },
}

fn list(redis: &RedisArgs) -> Result<RedisRevocationList, CliError> {
    let pool = RedisPool::new(&redis.redis, Duration::from_secs(2))?;
    Ok(RedisRevocationList::new(pool))
}

pub fn revoke(args: RevokeArgs) -> Result<ExitCode, CliError> {
    list(&args.redis)?.revoke(&args.subject, SystemClock.now_secs())?;
    println!("revoked {}", args.subject);
    Ok(ExitCode::SUCCESS)
}

pub fn unrevoke(args: RevokeArgs) -> Result<ExitCode, CliError> {
    if list(&args.redis)?.unrevoke(&args.subject)? {
        println!("unrevoked {}", args.subject);
    } else {
        println!("{} was not revoked", args.subject);
    }
    Ok(ExitCode::SUCCESS)
}

pub fn revocations(args: RedisArgs) -> Result<ExitCode, CliError> {
    for (subject, revoked_at) in list(&args)?.list()? {
        println!(
            "{}",
            serde_json::json!({"subject": subject, "revoked_at": revoked_at})
        );
    }
    Ok(ExitCode::SUCCESS)
}

pub fn policy(command: PolicyCommand) -> Result<ExitCode, CliError> {
    let PolicyCommand::Validate { file, pkl } = command;
    match load_policy_file(&file, pkl.as_deref()) {
        Ok(policy) => {
            println!("OK: {} ({} rules)", file.display(), policy.rule_count());
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            eprintln!("{}: {}", file.display(), e.message());
            Ok(ExitCode::from(1))
        }
    }
}

pub fn audit(command: AuditCommand) -> Result<ExitCode, CliError> {
    let AuditCommand::Verify { key_file, file } = command;
    let key = audit_chain::read_key_file(&key_file)
        .map_err(|e| CliError::read("audit key", &key_file, e))?;
    audit_chain::check_key(&key).map_err(CliError::Audit)?;
    let bytes = read_file(&file, "audit log")?;
    // Strict: byte edits that are not UTF-8 are an error, never decoded lossily.
    let text = match std::str::from_utf8(&bytes) {
        Ok(text) => text,
        Err(e) => {
            println!(
                "{}: not UTF-8 at byte {}: the log was altered",
                file.display(),
                e.valid_up_to()
            );
            return Ok(ExitCode::from(1));
        }
    };
    match audit_chain::verify_log(&key, text) {
        Ok(count) => {
            println!("OK: {} events, chain intact", count);
            Ok(ExitCode::SUCCESS)
        }
        Err(broken) => {
            println!("{}:{}: {}", file.display(), broken.line, broken.reason);
            Ok(ExitCode::from(1))
        }
    }
}
