//! The `oathmesh` binary, driven as users drive it: real files, real processes, exit codes.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

fn oathmesh(args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_oathmesh"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut pipe = child.stdin.take().unwrap();
    pipe.write_all(stdin.unwrap_or_default()).unwrap();
    drop(pipe);
    child.wait_with_output().unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

const ISS: &str = "https://issuer.test";
const AUD: &str = "https://api.test";

fn keygen(dir: &Path) {
    let key = dir.join("key.pem");
    let out = oathmesh(&["keygen", "--out", key.to_str().unwrap()], None);
    assert!(out.status.success(), "{}", stderr(&out));
}

fn mint(dir: &Path, extra: &[&str]) -> String {
    let key = dir.join("key.pem");
    let mut args = vec![
        "mint",
        "--key",
        key.to_str().unwrap(),
        "--iss",
        ISS,
        "--sub",
        "svc://checkout",
        "--aud",
        AUD,
        "--act",
        "charge",
    ];
    args.extend_from_slice(extra);
    let out = oathmesh(&args, None);
    assert!(out.status.success(), "{}", stderr(&out));
    stdout(&out).trim().to_owned()
}

fn verify(dir: &Path, extra: &[&str], tokens: &[&str]) -> Output {
    let jwks = dir.join("jwks.json");
    let mut args = vec![
        "verify",
        "--jwks",
        jwks.to_str().unwrap(),
        "--iss",
        ISS,
        "--aud",
        AUD,
    ];
    args.extend_from_slice(extra);
    args.extend_from_slice(tokens);
    oathmesh(&args, None)
}

#[test]
fn keygen_writes_private_key_0600_and_refuses_to_overwrite() {
    let dir = tempfile::tempdir().unwrap();
    keygen(dir.path());
    for f in ["key.pem", "key.pub.pem", "jwks.json"] {
        assert!(dir.path().join(f).exists(), "{f}");
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join("key.pem"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let pem = std::fs::read_to_string(dir.path().join("key.pem")).unwrap();
    assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----"));
    let again = oathmesh(
        &[
            "keygen",
            "--out",
            dir.path().join("key.pem").to_str().unwrap(),
        ],
        None,
    );
    assert_eq!(again.status.code(), Some(2));
    assert_eq!(
        std::fs::read_to_string(dir.path().join("key.pem")).unwrap(),
        pem
    );
}

#[test]
fn keygen_creates_missing_parent_folders_0700() {
    // The README's first command, `keygen --out keys/issuer.pem`, on a fresh checkout.
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("keys/nested/issuer.pem");
    let out = oathmesh(&["keygen", "--out", key.to_str().unwrap()], None);
    assert!(out.status.success(), "{}", stderr(&out));
    for f in ["issuer.pem", "issuer.pub.pem", "jwks.json"] {
        assert!(dir.path().join("keys/nested").join(f).is_file(), "{f}");
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        for d in ["keys", "keys/nested"] {
            let mode = std::fs::metadata(dir.path().join(d))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o700, "{d}");
        }
    }
}

#[test]
fn version_is_the_workspace_version() {
    let out = oathmesh(&["--version"], None);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out).trim(), "oathmesh 0.2.0");
}

#[test]
fn refused_keygen_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("jwks.json"), "{}").unwrap();
    let out = oathmesh(
        &[
            "keygen",
            "--out",
            dir.path().join("other.pem").to_str().unwrap(),
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("jwks.json"));
    assert!(!dir.path().join("other.pem").exists());
    assert!(!dir.path().join("other.pub.pem").exists());
}

#[test]
fn mint_then_verify_allows_once() {
    let dir = tempfile::tempdir().unwrap();
    keygen(dir.path());
    let token = mint(dir.path(), &["--scope", "a,b", "--env", "prod"]);
    let out = verify(dir.path(), &[], &[&token]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let caller: serde_json::Value = serde_json::from_str(stdout(&out).trim()).unwrap();
    assert_eq!(caller["subject"], "svc://checkout");
    assert_eq!(caller["scope"], serde_json::json!(["a", "b"]));
    // One verifier, the same token twice: the second is a replay.
    let out = verify(dir.path(), &[], &[&token, &token]);
    assert_eq!(out.status.code(), Some(1));
    let err: serde_json::Value = serde_json::from_str(stderr(&out).trim()).unwrap();
    assert_eq!(err["error"], "replay_detected");
    assert_eq!(err["step"], "13");
    assert!(!stderr(&out).contains(&token));
}

#[test]
fn token_from_stdin_and_policy_deny() {
    let dir = tempfile::tempdir().unwrap();
    keygen(dir.path());
    let policy = dir.path().join("policy.json");
    std::fs::write(
        &policy,
        r#"{"version":1,"rules":[{"name":"refunds-only","allow":true,"match":{"act":"refund"}}]}"#,
    )
    .unwrap();
    let token = mint(dir.path(), &[]);
    let jwks = dir.path().join("jwks.json");
    let out = oathmesh(
        &[
            "verify",
            "--jwks",
            jwks.to_str().unwrap(),
            "--iss",
            ISS,
            "--aud",
            AUD,
            "--policy",
            policy.to_str().unwrap(),
        ],
        Some(format!("{token}\n").as_bytes()),
    );
    assert_eq!(out.status.code(), Some(1));
    let err: serde_json::Value = serde_json::from_str(stderr(&out).trim()).unwrap();
    assert_eq!(err["error"], "policy_denied");
}

#[test]
fn bound_tokens_need_the_request() {
    let dir = tempfile::tempdir().unwrap();
    keygen(dir.path());
    let body = dir.path().join("body.json");
    std::fs::write(&body, br#"{"amount":1}"#).unwrap();
    let b = body.to_str().unwrap();
    let token = mint(
        dir.path(),
        &[
            "--bind-method",
            "POST",
            "--bind-path",
            "/pay?x=1",
            "--bind-body-file",
            b,
        ],
    );
    let out = verify(
        dir.path(),
        &["--method", "POST", "--path", "/pay?x=1", "--body-file", b],
        &[&token],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let token = mint(
        dir.path(),
        &[
            "--bind-method",
            "POST",
            "--bind-path",
            "/pay?x=1",
            "--bind-body-file",
            b,
        ],
    );
    let out = verify(
        dir.path(),
        &["--method", "POST", "--path", "/pay?x=2", "--body-file", b],
        &[&token],
    );
    assert!(stderr(&out).contains("binding_mismatch"));
}

#[test]
fn hostile_inputs_get_typed_errors_never_panics() {
    let dir = tempfile::tempdir().unwrap();
    keygen(dir.path());
    let token = mint(dir.path(), &[]);
    let (input, _) = token.rsplit_once('.').unwrap();
    let cases: Vec<(String, &str)> = vec![
        ("x".repeat(10_000), "token_malformed"),
        ("a.b".into(), "token_malformed"),
        ("é.é.é".into(), "token_malformed"),
        (format!("{input}.AAAA"), "signature_invalid"),
        (token[..token.len() - 10].to_owned(), "signature_invalid"),
    ];
    for (t, code) in cases {
        let out = verify(dir.path(), &[], &[&t]);
        assert_eq!(out.status.code(), Some(1), "{t:.40}");
        assert!(stderr(&out).contains(code), "{code}: {}", stderr(&out));
        assert!(!stderr(&out).contains("panicked"));
    }
    // Non-UTF-8 on stdin is a usage error, not a crash.
    let jwks = dir.path().join("jwks.json");
    let out = oathmesh(
        &[
            "verify",
            "--jwks",
            jwks.to_str().unwrap(),
            "--iss",
            ISS,
            "--aud",
            AUD,
        ],
        Some(b"\xff\xfe.\x00.x"),
    );
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn configuration_errors_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    keygen(dir.path());
    let out = verify(dir.path(), &["--leeway", "99"], &["a.b.c"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("leeway"));
    let out = oathmesh(
        &[
            "verify",
            "--jwks",
            "/nonexistent",
            "--iss",
            ISS,
            "--aud",
            AUD,
            "a.b.c",
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(2));
    let out = oathmesh(&["verify"], None);
    assert_eq!(out.status.code(), Some(2));
    let key = dir.path().join("key.pem");
    let out = oathmesh(
        &[
            "mint",
            "--key",
            key.to_str().unwrap(),
            "--iss",
            ISS,
            "--sub",
            "root://x",
            "--aud",
            AUD,
            "--act",
            "a",
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("claim_invalid:sub"));
}

#[test]
fn every_conformance_vector_through_the_cli() {
    let dir = tempfile::tempdir().unwrap();
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../conformance-vectors/vectors.json");
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let mut ran = 0;
    for v in doc["vectors"].as_array().unwrap() {
        let Some(token) = v["token"].as_str() else {
            continue;
        };
        let config = dir.path().join("config.json");
        std::fs::write(&config, v["config"].to_string()).unwrap();
        let body = dir.path().join("body");
        let mut args = vec![
            "verify".to_owned(),
            "--config".into(),
            config.to_str().unwrap().into(),
        ];
        if let Some(r) = v["request"].as_object() {
            std::fs::write(&body, r["body"].as_str().unwrap()).unwrap();
            args.extend([
                "--method".into(),
                r["method"].as_str().unwrap().into(),
                "--path".into(),
                r["path_and_query"].as_str().unwrap().into(),
                "--body-file".into(),
                body.to_str().unwrap().into(),
            ]);
        }
        args.push(token.to_owned());
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = oathmesh(&args, None);
        let expect = &v["expect"];
        if expect["outcome"] == "allow" {
            assert_eq!(
                out.status.code(),
                Some(0),
                "{}: {}",
                v["name"],
                stderr(&out)
            );
            let caller: serde_json::Value = serde_json::from_str(stdout(&out).trim()).unwrap();
            assert_eq!(caller, expect["caller"], "{}", v["name"]);
        } else {
            assert_eq!(out.status.code(), Some(1), "{}", v["name"]);
            let err: serde_json::Value = serde_json::from_str(stderr(&out).trim()).unwrap();
            assert_eq!(err["error"], expect["code"], "{}", v["name"]);
            assert_eq!(err["step"], expect["step"], "{}", v["name"]);
        }
        ran += 1;
    }
    assert!(ran >= 80, "{ran}");
}

#[test]
fn inspect_explains_without_verifying() {
    let dir = tempfile::tempdir().unwrap();
    keygen(dir.path());
    let token = mint(dir.path(), &["--reason", "nightly"]);
    let out = oathmesh(&["inspect", &token], None);
    assert!(out.status.success());
    let text = stdout(&out);
    assert!(text.starts_with("NOT VERIFIED"));
    assert!(
        text.contains("svc://checkout")
            && text.contains("lifetime    120 s")
            && text.contains("nightly")
    );
    let out = oathmesh(&["inspect", "--json"], Some(token.as_bytes()));
    let doc: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(doc["verified"], false);
    assert_eq!(doc["claims"]["act"], "charge");
    let out = oathmesh(&["inspect", "not-a-token"], None);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("token_malformed"));
}
