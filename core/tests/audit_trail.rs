//! The audit trail under attack and accident (issue 18 items 3-6 and 12, issue 12's deny
//! events): restarts continue the chain, one writer per chain, rotation (our own, logrotate's
//! rename and copytruncate), damaged tails quarantined, a stalled output never stops
//! verification, key and file permissions, and unverified claims marked.

mod support;

use oathmesh_core::audit_chain::{self, Expectations, LogReport};
use oathmesh_core::clock::{Clock, SystemClock};
use oathmesh_core::*;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use support::*;

const ISS: &str = "https://issuer.test";
const HMAC_KEY: &str = "audit-trail-test-key-0123456789";

struct Fleet {
    key: Key,
    dir: tempfile::TempDir,
}

impl Fleet {
    fn new() -> Fleet {
        Fleet {
            key: Key::new("k1"),
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn log(&self) -> PathBuf {
        self.dir.path().join("audit.ndjson")
    }

    fn verifier(&self, audit: serde_json::Value) -> Result<Verifier, ConfigError> {
        let doc = serde_json::json!({
            "audience": AUD, "trusted_issuers": [ISS], "jwks": {"keys": [self.key.jwk()]},
            "audit": audit,
        });
        Verifier::from_json(doc.to_string().as_bytes())
    }

    fn chained(&self) -> Verifier {
        self.verifier(serde_json::json!({"file": self.log(), "hmac_key": HMAC_KEY}))
            .unwrap()
    }

    fn token(&self) -> String {
        let now = Arc::new(FixedClock::at_secs(SystemClock.now_secs()));
        self.key.mint(ISS, "svc://checkout", now)
    }

    fn allow(&self, verifier: &Verifier, n: usize) {
        for _ in 0..n {
            assert_eq!(
                code(verifier.verify(&self.token(), &VerifyContext::default())),
                "allow"
            );
        }
    }
}

fn check(files: &[&Path], expect: Expectations) -> Result<LogReport, String> {
    let mut previous = None;
    let mut last = None;
    for (i, file) in files.iter().enumerate() {
        let bytes = std::fs::read(file).unwrap();
        let e = Expectations {
            links_from: previous.clone(),
            last_seq: expect.last_seq.filter(|_| i + 1 == files.len()),
            since: expect.since.clone().filter(|_| i == 0),
        };
        let report = audit_chain::verify_bytes(HMAC_KEY.as_bytes(), &bytes, &e)
            .map_err(|b| format!("{}:{}: {}", file.display(), b.line, b.reason))?;
        previous = Some((report.last_seq, report.last_hash.clone()));
        last = Some(report);
    }
    Ok(last.unwrap())
}

fn base64url(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn lines(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn a_restart_continues_the_chain_with_a_linked_segment_header() {
    let fleet = Fleet::new();
    fleet.allow(&fleet.chained(), 3);
    fleet.allow(&fleet.chained(), 2); // a new process (the first verifier was dropped)
    let report = check(&[&fleet.log()], Expectations::default()).unwrap();
    assert_eq!(report.events, 5);
    assert_eq!((report.first_seq, report.last_seq), (1, 6));
    assert_eq!(report.segments.len(), 2);
    assert_eq!(report.segments[1].reason, "restart");
    assert_eq!(report.segments[1].first_seq, 4);
    let all = lines(&fleet.log());
    assert_eq!(all[3]["event"], "oathmesh.audit_segment");
    assert_eq!(all[3]["pid"], std::process::id());
}

#[test]
fn events_cut_from_the_end_before_a_restart_are_detected() {
    // The review's attack: drop events 4-5, restart, and the old code said "chain intact".
    let fleet = Fleet::new();
    fleet.allow(&fleet.chained(), 5);
    let text = std::fs::read_to_string(fleet.log()).unwrap();
    let kept: String = text.lines().take(3).map(|l| format!("{l}\n")).collect();
    std::fs::write(fleet.log(), kept).unwrap();
    fleet.allow(&fleet.chained(), 1);
    let err = check(&[&fleet.log()], Expectations::default()).unwrap_err();
    assert!(err.contains(":4: seq is 6 where 4 was expected"), "{err}");
    let header = &lines(&fleet.log())[3];
    assert_eq!(header["reason"], "restart");
    assert!(
        header["detail"]
            .as_str()
            .unwrap()
            .contains("lines were removed from its end"),
        "{header}"
    );
}

#[test]
fn a_cut_tail_without_a_restart_fails_an_outside_record() {
    let fleet = Fleet::new();
    fleet.allow(&fleet.chained(), 5);
    let full = check(&[&fleet.log()], Expectations::default()).unwrap();
    let text = std::fs::read_to_string(fleet.log()).unwrap();
    let kept: String = text.lines().take(3).map(|l| format!("{l}\n")).collect();
    std::fs::write(fleet.log(), kept).unwrap();
    let expect = Expectations {
        last_seq: Some(full.last_seq),
        ..Expectations::default()
    };
    let err = check(&[&fleet.log()], expect).unwrap_err();
    assert!(err.contains("cut from the end"), "{err}");
}

#[test]
fn a_second_writer_takes_its_own_slot_and_both_chains_verify() {
    let fleet = Fleet::new();
    let first = fleet.chained();
    let second = fleet.chained(); // alive at the same time: another worker
    for _ in 0..3 {
        fleet.allow(&first, 1);
        fleet.allow(&second, 1);
    }
    drop((first, second));
    let slot = fleet.dir.path().join("audit.ndjson.writer-1");
    for file in [fleet.log(), slot] {
        let report = check(&[&file], Expectations::default()).unwrap();
        assert_eq!(
            (report.events, report.last_seq),
            (3, 3),
            "{}",
            file.display()
        );
    }
}

#[test]
fn size_rotation_links_the_segments() {
    let fleet = Fleet::new();
    let verifier = fleet
        .verifier(serde_json::json!({
            "file": fleet.log(), "hmac_key": HMAC_KEY, "max_file_bytes": 4096,
        }))
        .unwrap();
    fleet.allow(&verifier, 20);
    drop(verifier);
    let mut rotated: Vec<PathBuf> = std::fs::read_dir(fleet.dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            name.starts_with("audit.ndjson.")
                && name[13..].bytes().all(|b| b.is_ascii_digit() || b == b'-')
        })
        .collect();
    rotated.sort();
    assert!(!rotated.is_empty(), "no rotation happened");
    let mut files: Vec<&Path> = rotated.iter().map(PathBuf::as_path).collect();
    let live = fleet.log();
    files.push(&live);
    let report = check(&files, Expectations::default()).unwrap();
    assert_eq!(report.segments[0].reason, "rotate");
    // A segment checked without its predecessor must not pass as linked to the wrong one.
    if files.len() >= 3 {
        assert!(check(&[files[0], files[2]], Expectations::default()).is_err());
    }
}

#[test]
fn logrotate_rename_and_copytruncate_keep_the_chain_verifiable() {
    let fleet = Fleet::new();
    let verifier = fleet.chained();
    fleet.allow(&verifier, 2);
    // logrotate `create`: the file is renamed away; the writer notices and reopens.
    let renamed = fleet.dir.path().join("audit.ndjson.1");
    std::fs::rename(fleet.log(), &renamed).unwrap();
    fleet.allow(&verifier, 2);
    // logrotate `copytruncate`: copied, then truncated in place under the writer.
    let copy = fleet.dir.path().join("audit.ndjson.2");
    std::fs::copy(fleet.log(), &copy).unwrap();
    std::fs::OpenOptions::new()
        .write(true)
        .open(fleet.log())
        .unwrap()
        .set_len(0)
        .unwrap();
    fleet.allow(&verifier, 2);
    drop(verifier);
    let report = check(&[&renamed, &copy, &fleet.log()], Expectations::default()).unwrap();
    assert_eq!(report.segments[0].reason, "truncated");
    assert_eq!(
        check(&[&copy], Expectations::default()).unwrap().segments[0].reason,
        "reopen"
    );
    assert_eq!(report.last_seq, 8);
}

fn quarantined(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().contains(".damaged-"))
        .collect()
}

#[test]
fn a_partial_last_line_is_quarantined_and_the_service_starts() {
    let fleet = Fleet::new();
    fleet.allow(&fleet.chained(), 3);
    // A crash or a full disk in the middle of a write.
    let mut text = std::fs::read_to_string(fleet.log()).unwrap();
    let partial = text.lines().next().unwrap()[..50].to_owned();
    text.push_str(&partial);
    std::fs::write(fleet.log(), &text).unwrap();
    let verifier = fleet.chained();
    fleet.allow(&verifier, 1);
    drop(verifier);
    let moved = quarantined(fleet.dir.path());
    assert_eq!(moved.len(), 1);
    assert_eq!(std::fs::read_to_string(&moved[0]).unwrap(), text);
    // The new file links to the quarantined file's last good line.
    let head = &lines(&fleet.log())[0];
    assert_eq!(head["reason"], "quarantine");
    assert_eq!(head["seq"], 4);
    let old = check(&[&moved[0]], Expectations::default()).unwrap();
    assert!(old.partial_last_line);
    let report = check(&[&moved[0], &fleet.log()], Expectations::default()).unwrap();
    assert_eq!(report.last_seq, 5);
}

#[test]
fn an_oversized_last_line_is_quarantined_and_the_service_starts() {
    // The old code read only the last 256 KiB to resume: one 300 KB line stopped the start.
    let fleet = Fleet::new();
    fleet.allow(&fleet.chained(), 2);
    let mut text = std::fs::read_to_string(fleet.log()).unwrap();
    text.push_str(&format!("{{\"request_id\":\"{}\"}}\n", "x".repeat(300_000)));
    std::fs::write(fleet.log(), &text).unwrap();
    let verifier = fleet.chained();
    fleet.allow(&verifier, 1);
    drop(verifier);
    assert_eq!(quarantined(fleet.dir.path()).len(), 1);
    assert_eq!(lines(&fleet.log())[0]["reason"], "quarantine");
    check(&[&fleet.log()], Expectations::default()).unwrap();
}

#[test]
fn every_audited_field_is_bounded() {
    let fleet = Fleet::new();
    let verifier = fleet.chained();
    let id = "r".repeat(300_000);
    let ctx = VerifyContext {
        request_id: Some(&id),
        ..VerifyContext::default()
    };
    let _ = verifier.verify_authorization(Some("OathMesh x.y.z"), &ctx);
    // A forged token whose claims are huge (no issuer would mint them): decoded, audited
    // as unverified, bounded.
    let header = base64url(br#"{"alg":"EdDSA","typ":"oath+jwt","kid":"k1"}"#);
    let claims = base64url(
        format!(
            r#"{{"iss":"{ISS}","sub":"svc://{}","jti":"j"}}"#,
            "a".repeat(100_000)
        )
        .as_bytes(),
    );
    let _ = verifier.verify(&format!("{header}.{claims}.AAAA"), &ctx);
    drop(verifier);
    for line in std::fs::read_to_string(fleet.log()).unwrap().lines() {
        assert!(
            line.len() < 8 * 1024,
            "an audit line of {} bytes",
            line.len()
        );
    }
    check(&[&fleet.log()], Expectations::default()).unwrap();
}

#[test]
fn a_stalled_stdout_never_stops_verification() {
    // Child: audit.stdout into a pipe that nobody reads (see `stalled_stdout_child`).
    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "stalled_stdout_child",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("OATHMESH_AUDIT_STALL_CHILD", "1")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if line.starts_with("verified") {
                let _ = tx.send(line);
                return;
            }
        }
    });
    let line = rx.recv_timeout(Duration::from_secs(120));
    let _ = child.kill();
    let _ = child.wait();
    let line = line.expect("verification stopped behind a stalled audit output");
    // "verified N allowed A dropped D"
    let fields: Vec<u64> = line.split(' ').filter_map(|w| w.parse().ok()).collect();
    assert_eq!(fields[0], 3000);
    assert_eq!(fields[1], 3000, "every verification still answered: {line}");
    assert!(fields[2] > 0, "the full queue counts its drops: {line}");
}

#[test]
fn stalled_stdout_child() {
    if std::env::var_os("OATHMESH_AUDIT_STALL_CHILD").is_none() {
        return;
    }
    let fleet = Fleet::new();
    let verifier = fleet
        .verifier(serde_json::json!({
            "stdout": true, "hmac_key": HMAC_KEY, "queue_capacity": 64, "max_wait_ms": 20,
        }))
        .unwrap();
    let token = fleet.token();
    let mut allowed = 0;
    for _ in 0..3000 {
        // The same token: one allow, then replays; each is a verification with an event.
        let r = verifier.verify(&token, &VerifyContext::default());
        if r.is_ok() || code(r) == "replay_detected" {
            allowed += 1;
        }
    }
    let stats = verifier.audit_stats();
    eprintln!("verified 3000 answered {allowed} dropped {}", stats.dropped);
    std::process::exit(0);
}

#[test]
fn write_counters_are_exposed() {
    let fleet = Fleet::new();
    let verifier = fleet.chained();
    fleet.allow(&verifier, 3);
    let stats = verifier.audit_stats();
    assert_eq!((stats.written, stats.dropped, stats.failed), (3, 0, 0));
}

#[cfg(unix)]
#[test]
fn key_files_readable_by_others_are_refused_with_the_chmod() {
    use std::os::unix::fs::PermissionsExt;
    let fleet = Fleet::new();
    let key_file = fleet.dir.path().join("audit.key");
    std::fs::write(&key_file, format!("{HMAC_KEY}\n")).unwrap();
    std::fs::set_permissions(&key_file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let audit = serde_json::json!({"file": fleet.log(), "hmac_key_file": key_file});
    let err = fleet.verifier(audit.clone()).err().unwrap();
    assert!(err.message().contains("chmod 600"), "{}", err.message());
    let mut allowed = audit.clone();
    allowed["allow_insecure_key_permissions"] = true.into();
    fleet.verifier(allowed).unwrap();
    std::fs::set_permissions(&key_file, std::fs::Permissions::from_mode(0o600)).unwrap();
    fleet.verifier(audit).unwrap();
}

#[cfg(unix)]
#[test]
fn audit_files_are_never_opened_through_a_symlink_and_stay_private() {
    use std::os::unix::fs::PermissionsExt;
    let fleet = Fleet::new();
    let target = fleet.dir.path().join("elsewhere");
    std::fs::write(&target, "").unwrap();
    std::os::unix::fs::symlink(&target, fleet.log()).unwrap();
    for audit in [
        serde_json::json!({"file": fleet.log()}),
        serde_json::json!({"file": fleet.log(), "hmac_key": HMAC_KEY}),
    ] {
        let err = fleet.verifier(audit).err().unwrap();
        assert!(err.message().contains("symbolic link"), "{}", err.message());
    }
    // An existing file with loose permissions is tightened to 0600.
    let plain = fleet.dir.path().join("plain.ndjson");
    std::fs::write(&plain, "").unwrap();
    std::fs::set_permissions(&plain, std::fs::Permissions::from_mode(0o644)).unwrap();
    let verifier = fleet.verifier(serde_json::json!({"file": plain})).unwrap();
    fleet.allow(&verifier, 1);
    let mode = std::fs::metadata(&plain).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
}

#[test]
fn deny_events_mark_claims_that_were_not_verified() {
    let fleet = Fleet::new();
    let verifier = fleet.chained();
    let token = fleet.token();
    // A forged signature: the claims decode, but nobody vouched for them.
    let mut forged = token.clone().into_bytes();
    let at = forged.len() - 20; // inside the signature
    forged[at] = if forged[at] == b'A' { b'B' } else { b'A' };
    let forged = String::from_utf8(forged).unwrap();
    let _ = verifier.verify(&forged, &VerifyContext::default());
    verifier.verify(&token, &VerifyContext::default()).unwrap();
    let _ = verifier.verify(&token, &VerifyContext::default()); // replay: after step 06
    drop(verifier);
    let events = lines(&fleet.log());
    assert_eq!(events[0]["outcome"], "deny");
    assert_eq!(events[0]["sub"], "svc://checkout");
    assert_eq!(events[0]["claims_verified"], false);
    assert_eq!(events[1]["claims_verified"], true);
    assert_eq!(events[2]["code"], "replay_detected");
    assert_eq!(events[2]["claims_verified"], true);
}
