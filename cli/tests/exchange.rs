//! The CI quickstarts run as written: the issuer config from each page (pointed at a local
//! OIDC provider instead of GitHub or GitLab) served by `oathmesh serve`, and the page's own
//! `oathmesh exchange` line run by bash with the variables the CI would set. The printed
//! Oath Token is then checked by the core verifier.

use oathmesh_core::{Verifier, VerifyContext};
use oathmesh_issuer::exchange::local_provider::{
    GithubJob, LocalProvider, gitlab_claims, shared_keys,
};
use serde_json::json;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const ISSUER: &str = "https://issuer.example.com";
const API: &str = "https://deploy.example.com";

fn doc(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../docs/quickstarts")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The first fenced block of `lang` in `text`.
fn block(text: &str, lang: &str) -> String {
    let start = text
        .find(&format!("```{lang}\n"))
        .unwrap_or_else(|| panic!("no {lang} block"))
        + lang.len()
        + 4;
    let len = text[start..].find("```").expect("closed block");
    text[start..start + len].to_owned()
}

/// The page's `TOKEN="$(oathmesh exchange ...)"` line.
fn exchange_line(yaml: &str) -> String {
    let line = yaml
        .lines()
        .find(|l| l.contains("oathmesh exchange"))
        .expect("an oathmesh exchange line");
    let line = line.trim().trim_start_matches("- ").to_owned();
    assert!(line.starts_with("TOKEN=\"$(oathmesh exchange "), "{line}");
    line
}

fn http_get(port: u16, path: &str) -> Option<(u16, String)> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    let request = format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    let status = response.split_whitespace().nth(1)?.parse().ok()?;
    let body = response.split_once("\r\n\r\n").map(|(_, b)| b.to_owned())?;
    Some((status, body))
}

struct Issuer {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Drop for Issuer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `oathmesh serve` with the page's TOML, its `[exchange.<provider>]` pointed at `provider`.
fn serve_page_config(toml: &str, section: &str, issuer: &str, jwks_url: &str) -> Issuer {
    let bin = env!("CARGO_BIN_EXE_oathmesh");
    let dir = tempfile::tempdir().unwrap();
    let rotated = Command::new(bin)
        .args(["keys", "rotate", "--dir"])
        .arg(dir.path().join("keys"))
        .output()
        .unwrap();
    assert!(rotated.status.success());
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    assert!(toml.contains("listen = \"0.0.0.0:4000\""));
    let header = format!("[exchange.{section}]\n");
    assert!(toml.contains(&header), "{toml}");
    let config = toml
        .replace(
            "listen = \"0.0.0.0:4000\"",
            &format!("listen = \"127.0.0.1:{port}\""),
        )
        .replace(
            &header,
            &format!("{header}issuer = \"{issuer}\"\njwks_url = \"{jwks_url}\"\n"),
        );
    std::fs::write(dir.path().join("issuer.toml"), config).unwrap();
    let child = Command::new(bin)
        .arg("serve")
        .arg("--config")
        .arg(dir.path().join("issuer.toml"))
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let server = Issuer {
        child,
        port,
        _dir: dir,
    };
    let started = Instant::now();
    while http_get(port, "/healthz").is_none_or(|(s, _)| s != 200) {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "issuer did not start"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    server
}

/// Runs the page's line in bash, as the CI would, then prints `$TOKEN`.
fn run_line(line: &str, issuer: &Issuer, env: &[(&str, &str)]) -> Output {
    let bin_dir = Path::new(env!("CARGO_BIN_EXE_oathmesh")).parent().unwrap();
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut command = Command::new("bash");
    command
        .arg("-c")
        .arg(format!("set -e\n{line}\nprintf %s \"$TOKEN\""))
        .env("PATH", path)
        .env(
            "OATHMESH_ISSUER",
            format!("http://127.0.0.1:{}", issuer.port),
        )
        .env_remove("ACTIONS_ID_TOKEN_REQUEST_URL")
        .env_remove("ACTIONS_ID_TOKEN_REQUEST_TOKEN")
        .env_remove("OATHMESH_ID_TOKEN");
    for (k, v) in env {
        command.env(k, v);
    }
    command.output().unwrap()
}

fn verifier(issuer: &Issuer) -> Verifier {
    let (_, jwks) = http_get(issuer.port, "/.well-known/jwks.json").unwrap();
    let config = json!({"audience": API, "trusted_issuers": [ISSUER], "jwks": serde_json::from_str::<serde_json::Value>(&jwks).unwrap()});
    Verifier::from_json(config.to_string().as_bytes()).unwrap()
}

fn text(out: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn the_github_actions_quickstart_runs_as_written() {
    let page = doc("github-actions.md");
    let workflow = block(&page, "yaml");
    assert!(workflow.contains("permissions:\n  id-token: write"));
    let provider = LocalProvider::start();
    let issuer = serve_page_config(
        &block(&page, "toml"),
        "github",
        provider.issuer(),
        &provider.github_jwks_url(),
    );
    let line = exchange_line(&workflow);
    let request_url = provider.github_request_url();
    let ci_env = [
        ("ACTIONS_ID_TOKEN_REQUEST_URL", request_url.as_str()),
        (
            "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
            provider.github_request_token(),
        ),
    ];
    let out = run_line(&line, &issuer, &ci_env);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    let verifier = verifier(&issuer);
    let caller = verifier.verify(&stdout, &VerifyContext::default()).unwrap();
    assert_eq!(caller.subject, "job://github/octo-org/octo-repo/deploy.yml");
    assert_eq!(caller.env.as_deref(), Some("prod"));
    assert_eq!(caller.action, "deploy");
    assert!(
        page.contains(&format!("`sub`: `{}`", caller.subject)),
        "the page shows the subject the job gets"
    );
    // Each run requests a fresh ID token, so the step can run again.
    let again = run_line(&line, &issuer, &ci_env);
    assert!(again.status.success(), "{}", text(&again).1);

    // A job in another environment is refused: exit 1, the code and field on stderr.
    provider.set_github_job(GithubJob {
        repository: "octo-org/octo-repo".into(),
        workflow_file: "deploy.yml".into(),
        git_ref: "refs/heads/main".into(),
        environment: Some("staging".into()),
    });
    let denied = run_line(&line, &issuer, &ci_env);
    let (stdout, stderr) = text(&denied);
    assert_eq!(denied.status.code(), Some(1), "{stderr}");
    assert!(stdout.is_empty());
    assert!(
        stderr.contains("exchange_denied") && stderr.contains("environment `staging`"),
        "{stderr}"
    );

    // Without `id-token: write` the variables are missing: exit 2 and what to add.
    let unset = run_line(&line, &issuer, &[]);
    let (_, stderr) = text(&unset);
    assert_eq!(unset.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("id-token: write"), "{stderr}");
}

#[test]
fn the_gitlab_ci_quickstart_runs_as_written() {
    let page = doc("gitlab-ci.md");
    let job = block(&page, "yaml");
    assert!(job.contains(&format!("OATHMESH_ID_TOKEN:\n      aud: {ISSUER}")));
    let provider = LocalProvider::start();
    let issuer = serve_page_config(
        &block(&page, "toml"),
        "gitlab",
        provider.issuer(),
        &provider.gitlab_jwks_url(),
    );
    let line = exchange_line(&job);
    let now = oathmesh_core::Clock::now_secs(&oathmesh_core::SystemClock);
    let id_token = shared_keys()[0].sign(&gitlab_claims(
        provider.issuer(),
        ISSUER,
        now,
        "my-group/my-project",
        "main",
        Some("production"),
    ));
    let out = run_line(&line, &issuer, &[("OATHMESH_ID_TOKEN", &id_token)]);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    let caller = verifier(&issuer)
        .verify(&stdout, &VerifyContext::default())
        .unwrap();
    assert_eq!(caller.subject, "job://gitlab/my-group/my-project");
    assert_eq!(caller.env.as_deref(), Some("production"));
    assert!(page.contains(&format!("`sub`: `{}`", caller.subject)));
    // The same ID token a second time is a replay.
    let replay = run_line(&line, &issuer, &[("OATHMESH_ID_TOKEN", &id_token)]);
    let (_, stderr) = text(&replay);
    assert_eq!(replay.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("id_token_invalid") && stderr.contains("replayed"),
        "{stderr}"
    );
    // Without `id_tokens:` in the job: exit 2 and what to add.
    let unset = run_line(&line, &issuer, &[]);
    let (_, stderr) = text(&unset);
    assert_eq!(unset.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("id_tokens: OATHMESH_ID_TOKEN"), "{stderr}");
}
