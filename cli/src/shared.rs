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
    /// Check an HMAC-chained audit log; report its seq range and segment links, or the first
    /// tampered or missing line (exit 1). Several files are checked as one chain, oldest
    /// first (rotated segments, then the live file).
    Verify {
        /// File holding the audit HMAC key (mode 0600).
        #[arg(long, alias = "key")]
        key_file: PathBuf,
        /// The log must end at this seq (compare with an outside record of the last seq).
        #[arg(long)]
        expect_last_seq: Option<u64>,
        /// A checkpoint `SEQ` or `SEQ:HASH` (as printed in `last:` by an earlier run) the log
        /// must continue from: that line is in the log, or its first line links to it.
        #[arg(long)]
        since: Option<String>,
        #[arg(required = true)]
        files: Vec<PathBuf>,
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
    let AuditCommand::Verify {
        key_file,
        expect_last_seq,
        since,
        files,
    } = command;
    let key = audit_chain::read_key_file(&key_file)
        .map_err(|e| CliError::read("audit key", &key_file, e))?;
    audit_chain::check_key(&key).map_err(CliError::Audit)?;
    let since = since.as_deref().map(parse_checkpoint).transpose()?;
    let mut previous: Option<(u64, String)> = None;
    let mut total = audit_chain::LogReport::default();
    for (index, file) in files.iter().enumerate() {
        let last = index + 1 == files.len();
        // Strict: the bytes as they are; a non-UTF-8 line is an error, never decoded lossily.
        let bytes = read_file(file, "audit log")?;
        let expect = audit_chain::Expectations {
            last_seq: expect_last_seq.filter(|_| last),
            since: since.clone().filter(|_| index == 0),
            links_from: previous.clone(),
        };
        let report = match audit_chain::verify_bytes(&key, &bytes, &expect) {
            Ok(report) => report,
            Err(broken) => {
                println!("{}:{}: {}", file.display(), broken.line, broken.reason);
                return Ok(ExitCode::from(1));
            }
        };
        for segment in &report.segments {
            let link = if !segment.linked {
                "a new chain, not linked to anything before it".to_owned()
            } else if segment.reason == "genesis" {
                "the start of the chain".to_owned()
            } else {
                format!(
                    "links to seq {} (hash {})",
                    segment.first_seq - 1,
                    segment.links_to
                )
            };
            println!(
                "segment: {}:{}: seq {}, {}: {}{}",
                file.display(),
                segment.line,
                segment.first_seq,
                segment.reason,
                link,
                segment
                    .detail
                    .as_ref()
                    .map_or(String::new(), |d| format!(" ({d})"))
            );
        }
        for line in &report.gap_lines {
            println!(
                "WARNING: {}:{line}: the writer recorded lost events (queue full or write failed)",
                file.display()
            );
        }
        if report.partial_last_line {
            println!(
                "WARNING: {}: the last line is incomplete (a partial write: crash or full disk); it is not counted",
                file.display()
            );
        }
        if index == 0 {
            total.first_seq = report.first_seq;
        }
        total.events += report.events;
        total.lost += report.lost;
        total.last_seq = report.last_seq;
        total.last_hash = report.last_hash.clone();
        total.segments.extend(report.segments.iter().cloned());
        previous = Some((report.last_seq, report.last_hash));
    }
    println!(
        "OK: {} events, chain intact: seq {}..{}, {} segment{}{}",
        total.events,
        total.first_seq,
        total.last_seq,
        total.segments.len(),
        if total.segments.len() == 1 { "" } else { "s" },
        if total.lost > 0 {
            format!(", {} events recorded as lost", total.lost)
        } else {
            String::new()
        }
    );
    println!("last: {}:{}", total.last_seq, total.last_hash);
    Ok(ExitCode::SUCCESS)
}

fn parse_checkpoint(text: &str) -> Result<(u64, Option<String>), CliError> {
    let (seq, hash) = match text.split_once(':') {
        Some((seq, hash)) => (seq, Some(hash)),
        None => (text, None),
    };
    let seq = seq.parse::<u64>().map_err(|_| {
        CliError::Audit("--since: give SEQ or SEQ:HASH, as printed by `last:`".into())
    })?;
    if let Some(hash) = hash
        && (hash.len() != 64 || !hash.bytes().all(|b| b.is_ascii_hexdigit()))
    {
        return Err(CliError::Audit(
            "--since: the hash is 64 hex digits, as printed by `last:`".into(),
        ));
    }
    Ok((seq, hash.map(str::to_ascii_lowercase)))
}
