//! The CLI against real shared state: two verifier processes sharing one Redis, revocation
//! from one process seen by another, `policy validate` and `audit verify`.

use oathmesh_core::{Issuer, LocalSigner, MintRequest, generate_key};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Output, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

const ISS: &str = "https://issuer.test";
const AUD: &str = "https://api.test";

fn oathmesh(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_oathmesh"))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

/// The test script's Redis when given, else a private one for this test.
struct Redis {
    url: String,
    child: Option<Child>,
    _dir: tempfile::TempDir,
}

impl Redis {
    fn get() -> Redis {
        let dir = tempfile::tempdir().unwrap();
        if let Ok(url) = std::env::var("OATHMESH_TEST_REDIS_URL")
            && !url.is_empty()
        {
            return Redis {
                url,
                child: None,
                _dir: dir,
            };
        }
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new("redis-server")
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
            ])
            .arg("--dir")
            .arg(dir.path())
            .stdout(Stdio::null())
            .spawn()
            .expect("redis-server is needed (scripts/test-rust.sh installs it)");
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", port))
            .and_then(|mut s| {
                s.write_all(b"PING\r\n")?;
                let mut b = [0u8; 7];
                s.read_exact(&mut b)
            })
            .is_err()
        {
            assert!(Instant::now() < deadline, "redis-server did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        Redis {
            url: format!("redis://127.0.0.1:{port}/"),
            child: Some(child),
            _dir: dir,
        }
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        if let Some(child) = &mut self.child {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

struct Fleet {
    dir: tempfile::TempDir,
    issuer: Issuer,
    config: std::path::PathBuf,
}

fn fleet(redis: &Redis, extra: serde_json::Value) -> Fleet {
    let key = generate_key();
    let dir = tempfile::tempdir().unwrap();
    let mut doc = serde_json::json!({
        "audience": AUD, "trusted_issuers": [ISS], "jwks": {"keys": [key.jwk]},
        "redis_url": redis.url,
    });
    for (k, v) in extra.as_object().unwrap() {
        doc[k] = v.clone();
    }
    let config = dir.path().join("verifier.json");
    std::fs::write(&config, doc.to_string()).unwrap();
    let issuer = Issuer::new(
        ISS,
        Arc::new(LocalSigner::from_pem(&key.private_pem, None).unwrap()),
    )
    .unwrap();
    Fleet {
        dir,
        issuer,
        config,
    }
}

impl Fleet {
    fn mint(&self, sub: &str) -> String {
        self.issuer
            .mint(&MintRequest {
                sub: sub.into(),
                aud: AUD.into(),
                act: "charge".into(),
                ..Default::default()
            })
            .unwrap()
            .token
    }

    fn verify_process(&self, tokens: &[String]) -> Child {
        let mut child = Command::new(env!("CARGO_BIN_EXE_oathmesh"))
            .args(["verify", "--config"])
            .arg(&self.config)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        let input: String = tokens.iter().map(|t| format!("{t}\n")).collect();
        std::thread::spawn(move || stdin.write_all(input.as_bytes()));
        child
    }
}

#[test]
fn two_verifier_processes_accept_each_token_exactly_once() {
    let redis = Redis::get();
    let fleet = fleet(&redis, serde_json::json!({}));
    let tokens: Vec<String> = (0..60).map(|_| fleet.mint("svc://checkout")).collect();
    let mut reversed = tokens.clone();
    reversed.reverse();
    let a = fleet.verify_process(&tokens);
    let b = fleet.verify_process(&reversed);
    let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
    let allowed = |o: &Output| String::from_utf8_lossy(&o.stdout).lines().count();
    let replays = |o: &Output| {
        String::from_utf8_lossy(&o.stderr)
            .matches("replay_detected")
            .count()
    };
    assert_eq!(
        allowed(&a) + allowed(&b),
        tokens.len(),
        "each token allowed once in total"
    );
    assert_eq!(
        replays(&a) + replays(&b),
        tokens.len(),
        "and refused as a replay once"
    );
    let mut ids: Vec<String> = [&a, &b]
        .iter()
        .flat_map(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .map(str::to_owned)
                .collect::<Vec<_>>()
        })
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(&l).unwrap()["token_id"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), tokens.len());
}

#[test]
fn a_revocation_made_by_one_process_is_seen_by_another() {
    let redis = Redis::get();
    let fleet = fleet(&redis, serde_json::json!({}));
    let subject = format!("svc://cli-revoked-{}", std::process::id());
    let out = oathmesh(&["revoke", "--redis", &redis.url, &subject]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = fleet
        .verify_process(&[fleet.mint(&subject)])
        .wait_with_output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("subject_revoked"));

    let listed = oathmesh(&["revocations", "--redis", &redis.url]);
    let text = String::from_utf8_lossy(&listed.stdout);
    let line = text.lines().find(|l| l.contains(&subject)).expect("listed");
    let entry: serde_json::Value = serde_json::from_str(line).unwrap();
    assert!(entry["revoked_at"].as_str().unwrap().ends_with('Z'));

    assert!(
        oathmesh(&["unrevoke", "--redis", &redis.url, &subject])
            .status
            .success()
    );
    let out = fleet
        .verify_process(&[fleet.mint(&subject)])
        .wait_with_output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // A dead Redis is an operator error (exit 2) for the admin commands.
    let dead = oathmesh(&["revocations", "--redis", "redis://127.0.0.1:1/"]);
    assert_eq!(dead.status.code(), Some(2));
}

#[test]
fn policy_validate_reports_json_and_pkl_files() {
    let examples = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/examples");
    let ok = oathmesh(&[
        "policy",
        "validate",
        examples.join("policy.json").to_str().unwrap(),
    ]);
    assert!(ok.status.success());
    assert!(String::from_utf8_lossy(&ok.stdout).contains("4 rules"));
    let pkl = oathmesh(&[
        "policy",
        "validate",
        examples.join("policy.pkl").to_str().unwrap(),
    ]);
    assert!(
        pkl.status.success(),
        "{}",
        String::from_utf8_lossy(&pkl.stderr)
    );
    assert!(String::from_utf8_lossy(&pkl.stdout).contains("4 rules"));
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.json");
    std::fs::write(
        &bad,
        r#"{"version": 1, "rules": [{"name": "x", "allow": true, "match": {"sbu": "x"}}]}"#,
    )
    .unwrap();
    let out = oathmesh(&["policy", "validate", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("policy.rules[0].match.sbu"));
}

#[test]
fn audit_verify_finds_the_first_tampered_or_missing_line() {
    let redis = Redis::get();
    let dir = tempfile::tempdir().unwrap();
    let key_file = dir.path().join("audit.key");
    std::fs::write(&key_file, "a-long-enough-audit-key-for-tests\n").unwrap();
    // Audit keys readable by others are refused.
    std::fs::set_permissions(
        &key_file,
        std::os::unix::fs::PermissionsExt::from_mode(0o600),
    )
    .unwrap();
    let log = dir.path().join("audit.ndjson");
    let fleet = fleet(
        &redis,
        serde_json::json!({"audit": {"file": log, "hmac_key_file": key_file}}),
    );
    let tokens: Vec<String> = (0..3).map(|_| fleet.mint("svc://a")).collect();
    let mut all = tokens.clone();
    all.push(tokens[0].clone());
    fleet.verify_process(&all).wait_with_output().unwrap();
    // A second process appends to the same chain.
    fleet
        .verify_process(&[fleet.mint("svc://b")])
        .wait_with_output()
        .unwrap();
    let verify = |path: &std::path::Path| {
        oathmesh(&[
            "audit",
            "verify",
            "--key-file",
            key_file.to_str().unwrap(),
            path.to_str().unwrap(),
        ])
    };
    let ok = verify(&log);
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stdout)
    );
    assert!(String::from_utf8_lossy(&ok.stdout).contains("OK: 5 events"));

    let text = std::fs::read_to_string(&log).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let tampered = dir.path().join("tampered.ndjson");
    let mut edited = lines.clone();
    let changed = lines[3].replace("\"outcome\":\"deny\"", "\"outcome\":\"allow\"");
    assert_ne!(changed, lines[3]);
    edited[3] = &changed;
    std::fs::write(&tampered, edited.join("\n") + "\n").unwrap();
    let out = verify(&tampered);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains(":4: hmac mismatch"));

    let mut missing = lines.clone();
    missing.remove(1);
    std::fs::write(&tampered, missing.join("\n") + "\n").unwrap();
    let out = verify(&tampered);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains(":2: seq is 3 where 2 was expected"));
    let _ = fleet.dir;
}
