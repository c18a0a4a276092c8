//! The issuer on TLS with a private CA made at test start: clients authenticate by
//! certificate (RFC 8705 `tls_client_auth`) or by secret on the same listener, a certificate
//! naming no client is `invalid_client`, one from another CA never completes the handshake,
//! and `/metrics` on its own TLS listener parses and counts mints by client and outcome.

mod common;

use common::{ISSUER, SECRET, basic, charge};
use oathmesh_core::{Verifier, VerifyContext};
use oathmesh_issuer::clients::sha256_hex;
use oathmesh_issuer::{IssuerConfig, keyring, state_from_config};
use oathmesh_serving::test_pki::{IssuedCert, TestCa};
use serde_json::{Value, json};

struct TlsIssuer {
    base: String,
    metrics_base: String,
    ca: TestCa,
    _dir: tempfile::TempDir,
}

const DEPLOYER_URI: &str = "spiffe://oathmesh.test/deployer";

/// Writes the TLS files and the configuration into a folder (relative paths, resolved
/// against the file's folder as an operator's would be) and serves it on two listeners.
async fn start_tls_issuer() -> TlsIssuer {
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new("OathMesh test CA");
    std::fs::create_dir(dir.path().join("tls")).unwrap();
    ca.write(&dir.path().join("tls"), "clients-ca");
    ca.server_cert(&[]).write(&dir.path().join("tls"), "issuer");
    keyring::rotate(&dir.path().join("keys"), 1_000).unwrap();
    let toml = format!(
        r#"
issuer = "{ISSUER}"
key_dir = "keys"
metrics_listen = "127.0.0.1:0"

[tls]
cert_file = "tls/issuer.crt"
key_file = "tls/issuer.key"
client_ca_file = "tls/clients-ca.crt"

[[clients]]
id = "checkout"
secret_sha256 = "{secret}"
allowed_sub = ["svc://checkout"]
allowed_aud = ["https://*.internal"]
allowed_act = ["charge"]

[[clients]]
id = "deployer"
tls_client_auth_san_uri = "{DEPLOYER_URI}"
allowed_sub = ["svc://deployer"]
allowed_aud = ["https://*.internal"]
allowed_act = ["deploy"]

[[clients]]
id = "auditor"
tls_client_auth_subject_dn = "CN=auditor, O=OathMesh tests"
allowed_sub = ["svc://auditor"]
allowed_aud = ["https://*.internal"]
allowed_act = ["read"]
"#,
        secret = sha256_hex(SECRET),
    );
    let file = dir.path().join("issuer.toml");
    std::fs::write(&file, toml).unwrap();
    let config = IssuerConfig::from_file(&file).unwrap();
    assert_eq!(
        config.key_dir,
        dir.path().join("keys"),
        "key_dir is beside the file"
    );
    let state = state_from_config(config).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let metrics = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!(
        "https://localhost:{}",
        listener.local_addr().unwrap().port()
    );
    let metrics_base = format!("https://localhost:{}", metrics.local_addr().unwrap().port());
    tokio::spawn(oathmesh_issuer::serve(
        state,
        listener,
        Some(metrics),
        std::future::pending(),
    ));
    TlsIssuer {
        base,
        metrics_base,
        ca,
        _dir: dir,
    }
}

fn client(trusting: &TestCa, identity: Option<&IssuedCert>) -> reqwest::Client {
    let mut builder = reqwest::Client::builder()
        .use_rustls_tls()
        .tls_built_in_root_certs(false)
        .add_root_certificate(
            reqwest::Certificate::from_pem(trusting.cert_pem().as_bytes()).unwrap(),
        );
    if let Some(cert) = identity {
        let pem = format!("{}{}", cert.cert_pem, cert.key_pem);
        builder = builder.identity(reqwest::Identity::from_pem(pem.as_bytes()).unwrap());
    }
    builder.build().unwrap()
}

async fn mint(
    http: &reqwest::Client,
    base: &str,
    auth: Option<&str>,
    body: Value,
) -> Result<(u16, Value), reqwest::Error> {
    let mut request = http
        .post(format!("{base}/v1/token"))
        .header("content-type", "application/json")
        .body(body.to_string());
    if let Some(auth) = auth {
        request = request.header("authorization", auth);
    }
    let response = request.send().await?;
    let status = response.status().as_u16();
    Ok((status, response.json().await.unwrap_or(Value::Null)))
}

fn deploy() -> Value {
    json!({"sub": "svc://deployer", "aud": "https://ci.internal", "act": "deploy"})
}

#[tokio::test]
async fn a_client_certificate_authenticates_and_a_wrong_one_is_refused() {
    let s = start_tls_issuer().await;

    // The certificate naming the deployer's SAN URI mints for the deployer only.
    let deployer = s.ca.client_cert("deployer", &[DEPLOYER_URI]);
    let http = client(&s.ca, Some(&deployer));
    let (status, body) = mint(&http, &s.base, None, deploy()).await.unwrap();
    assert_eq!(status, 200, "{body}");
    let (status, body) = mint(&http, &s.base, None, charge()).await.unwrap();
    assert_eq!(
        (status, body["error"].as_str()),
        (403, Some("mint_denied")),
        "{body}"
    );

    // The token verifies against the JWKS the TLS listener serves.
    let jwks: Value = http
        .get(format!("{}/.well-known/jwks.json", s.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let (_, minted) = mint(&http, &s.base, None, deploy()).await.unwrap();
    let verifier = Verifier::from_json(
        json!({"audience": "https://ci.internal", "trusted_issuers": [ISSUER], "jwks": jwks})
            .to_string()
            .as_bytes(),
    )
    .unwrap();
    let caller = verifier
        .verify(minted["token"].as_str().unwrap(), &VerifyContext::default())
        .unwrap();
    assert_eq!(caller.subject, "svc://deployer");

    // A subject DN matcher, written with other spacing, matches the RFC 4514 form.
    let auditor = client(&s.ca, Some(&s.ca.client_cert("auditor", &[])));
    let read = json!({"sub": "svc://auditor", "aud": "https://ledger.internal", "act": "read"});
    let (status, body) = mint(&auditor, &s.base, None, read).await.unwrap();
    assert_eq!(status, 200, "{body}");

    // A certificate from the right CA that names no client: invalid_client.
    let stranger = client(
        &s.ca,
        Some(
            &s.ca
                .client_cert("deployer", &["spiffe://oathmesh.test/someone-else"]),
        ),
    );
    let (status, body) = mint(&stranger, &s.base, None, deploy()).await.unwrap();
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_client")),
        "{body}"
    );
    assert!(
        body["message"].as_str().unwrap().contains("certificate"),
        "{body}"
    );

    // A certificate from another CA never gets past the handshake.
    let other_ca = TestCa::new("someone else's CA");
    let forged = client(
        &s.ca,
        Some(&other_ca.client_cert("deployer", &[DEPLOYER_URI])),
    );
    assert!(mint(&forged, &s.base, None, deploy()).await.is_err());

    // Without a certificate, secrets still work on the same listener (client_cert optional),
    // and no credential at all is invalid_client.
    let plain = client(&s.ca, None);
    let (status, body) = mint(&plain, &s.base, Some(&basic("checkout", SECRET)), charge())
        .await
        .unwrap();
    assert_eq!(status, 200, "{body}");
    let (status, body) = mint(&plain, &s.base, None, deploy()).await.unwrap();
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_client")),
        "{body}"
    );

    // A client that does not trust the private CA cannot talk to the issuer at all.
    let untrusting = reqwest::Client::builder().use_rustls_tls().build().unwrap();
    assert!(
        mint(
            &untrusting,
            &s.base,
            Some(&basic("checkout", SECRET)),
            charge()
        )
        .await
        .is_err()
    );

    // Discovery advertises certificate authentication.
    let doc: Value = plain
        .get(format!("{}/.well-known/oathmesh-issuer", s.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        doc["client_auth_methods"]
            .as_array()
            .unwrap()
            .contains(&json!("tls_client_auth")),
        "{doc}"
    );

    // /metrics lives on its own TLS listener only, parses, and counts by client and outcome.
    let on_main = plain
        .get(format!("{}/metrics", s.base))
        .send()
        .await
        .unwrap();
    assert_eq!(on_main.status(), 404);
    let text = plain
        .get(format!("{}/metrics", s.metrics_base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let samples = oathmesh_serving::metrics::parse(&text).expect("the exposition parses");
    let value = |client: &str, outcome: &str| {
        oathmesh_serving::metrics::value_of(
            &samples,
            "oathmesh_issuer_mint_requests_total",
            &[("client", client), ("outcome", outcome)],
        )
    };
    assert_eq!(value("deployer", "ok"), Some(2.0), "{text}");
    assert_eq!(value("deployer", "mint_denied"), Some(1.0), "{text}");
    assert_eq!(value("auditor", "ok"), Some(1.0), "{text}");
    assert_eq!(value("checkout", "ok"), Some(1.0), "{text}");
    assert_eq!(value("", "invalid_client"), Some(2.0), "{text}");
    let health = plain
        .get(format!("{}/healthz", s.metrics_base))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
}

#[test]
fn tls_client_auth_needs_a_client_ca_and_one_name() {
    let base = |extra_tls: &str, client: &str| {
        format!(
            "issuer = \"{ISSUER}\"\nkey_dir = \"keys\"\n{extra_tls}\n[[clients]]\nid = \"c\"\n{client}\nallowed_sub = [\"svc://c\"]\nallowed_aud = [\"a\"]\nallowed_act = [\"x\"]\n"
        )
    };
    let tls = "[tls]\ncert_file = \"c.crt\"\nkey_file = \"c.key\"\nclient_ca_file = \"ca.crt\"\n";
    for (text, expected) in [
        (
            base("", "tls_client_auth_san_dns = \"c.internal\""),
            "tls_client_auth needs [tls] with client_ca_file",
        ),
        (
            base(
                tls,
                "tls_client_auth_san_dns = \"c.internal\"\ntls_client_auth_san_uri = \"spiffe://x\"",
            ),
            "give one tls_client_auth_* name",
        ),
        (
            base(tls, "tls_client_auth_subject_dn = \"Nickname=c\""),
            "tls_client_auth_subject_dn: attribute type `Nickname`",
        ),
        (
            base(tls, "tls_client_auth_san_ip = \"not-an-ip\""),
            "tls_client_auth_san_ip: not an IP address",
        ),
        (
            base(
                tls,
                &format!(
                    "tls_client_auth_san_dns = \"c.internal\"\nsecret_sha256 = \"{}\"",
                    "0".repeat(64)
                ),
            ),
            "give exactly one credential",
        ),
    ] {
        let error = IssuerConfig::from_toml(&text).unwrap_err().to_string();
        assert!(error.contains(expected), "{error}");
    }
}

#[test]
fn a_bad_tls_file_is_a_configuration_error_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    keyring::rotate(&dir.path().join("keys"), 1).unwrap();
    let ca = TestCa::new("ca");
    let server = ca.server_cert(&[]);
    server.write(dir.path(), "server");
    let other = ca.server_cert(&[]);
    std::fs::write(dir.path().join("other.key"), &other.key_pem).unwrap();
    for (tls, expected) in [
        (
            "cert_file = \"missing.crt\"\nkey_file = \"server.key\"",
            "tls.cert_file: cannot read",
        ),
        (
            "cert_file = \"server.key\"\nkey_file = \"server.key\"",
            "tls.cert_file:",
        ),
        (
            "cert_file = \"server.crt\"\nkey_file = \"other.key\"",
            "tls.key_file: does not fit the certificate",
        ),
        (
            "cert_file = \"server.crt\"\nkey_file = \"server.key\"\nclient_cert = \"required\"",
            "tls.client_cert: needs client_ca_file",
        ),
    ] {
        let file = dir.path().join("issuer.toml");
        std::fs::write(
            &file,
            format!("issuer = \"{ISSUER}\"\nkey_dir = \"keys\"\n[tls]\n{tls}\n"),
        )
        .unwrap();
        let config = IssuerConfig::from_file(&file).unwrap();
        let error = state_from_config(config)
            .err()
            .expect("refused")
            .to_string();
        assert!(error.contains(expected), "{tls}: {error}");
        assert!(
            !error.contains("PRIVATE KEY"),
            "no key material in errors: {error}"
        );
    }
}
