//! The conformance vectors: signed tokens, the verifier configuration each is checked
//! against, and the outcome every binding must report.
//!
//! Deterministic by construction: fixed seed keys, a fixed clock, fixed token ids. The
//! expected outcome of each vector is written here by hand (it is the specification);
//! `generate()` also runs every vector through the real core and refuses to emit a file
//! where the core disagrees.

use ed25519_dalek::{Signer, SigningKey};
use oathmesh_core::{RequestParts, Verifier, VerifyContext, b64, canonical_request_hash, keys};
use serde_json::{Map, Value, json};

/// 2026-01-01T00:00:00Z: the clock of every vector.
pub const NOW: i64 = 1_767_225_600;
pub const ISSUER: &str = "https://issuer.oathmesh.test";
pub const AUDIENCE: &str = "https://payments.oathmesh.test";
const LEEWAY: i64 = 10;

struct Key {
    signing: SigningKey,
    kid: String,
}

impl Key {
    fn from_seed(seed: u8) -> Key {
        let signing = SigningKey::from_bytes(&[seed; 32]);
        let kid = keys::thumbprint(&signing.verifying_key());
        Key { signing, kid }
    }

    fn jwk(&self) -> Value {
        serde_json::to_value(keys::Jwk::new(&self.signing.verifying_key(), &self.kid)).unwrap()
    }
}

/// What a vector expects.
enum Expect {
    Allow {
        policy_rule: Option<&'static str>,
    },
    Deny {
        code: &'static str,
        step: &'static str,
        status: u16,
    },
}

fn deny(code: &'static str, step: &'static str) -> Expect {
    let status = match code {
        "policy_denied" => 403,
        "jwks_unavailable" | "revocation_unavailable" | "replay_cache_unavailable" => 503,
        _ => 401,
    };
    Expect::Deny { code, step, status }
}

fn allow() -> Expect {
    Expect::Allow { policy_rule: None }
}

/// How the token is presented.
enum Presented {
    Token(String),
    Authorization(Option<String>),
}

struct Vector {
    name: &'static str,
    description: &'static str,
    presented: Presented,
    /// The claims the token carries, for building the expected caller of allow vectors.
    claims: Value,
    request: Option<Value>,
    config: Value,
    expect: Expect,
}

struct Builder {
    a: Key,
    b: Key,
    vectors: Vec<Vector>,
}

fn header_for(kid: &str) -> Value {
    json!({"alg": "EdDSA", "typ": "om+jwt", "kid": kid})
}

fn text(v: &Value) -> String {
    serde_json::to_string(v).unwrap()
}

/// `b64(header).b64(payload).b64(sig)` over raw JSON text, so vectors can carry inputs no
/// well-behaved encoder would produce (duplicate keys, floats, bad UTF-8).
fn sign_raw(header: &[u8], payload: &[u8], key: &SigningKey) -> String {
    let input = format!("{}.{}", b64::encode(header), b64::encode(payload));
    let sig = key.sign(input.as_bytes()).to_bytes();
    format!("{input}.{}", b64::encode(&sig))
}

impl Builder {
    fn claims(&self, name: &str) -> Value {
        json!({
            "iss": ISSUER,
            "sub": "svc://checkout",
            "aud": AUDIENCE,
            "act": "charge",
            "iat": NOW - 10,
            "nbf": NOW - 10,
            "exp": NOW + 110,
            "jti": format!("vec-{name}"),
        })
    }

    fn config(&self) -> Value {
        json!({
            "audience": AUDIENCE,
            "trusted_issuers": [ISSUER],
            "jwks": {"keys": [self.a.jwk()]},
            "leeway": LEEWAY,
            "testing": {"now": NOW},
        })
    }

    fn sign(&self, claims: &Value) -> String {
        sign_raw(
            text(&header_for(&self.a.kid)).as_bytes(),
            text(claims).as_bytes(),
            &self.a.signing,
        )
    }

    fn push(
        &mut self,
        name: &'static str,
        description: &'static str,
        presented: Presented,
        claims: Value,
        config: Value,
        expect: Expect,
    ) {
        self.vectors.push(Vector {
            name,
            description,
            presented,
            claims,
            request: None,
            config,
            expect,
        });
    }

    /// A token signed by key A with the default claims changed by `edit`.
    fn claims_case(
        &mut self,
        name: &'static str,
        description: &'static str,
        edit: impl FnOnce(&mut Map<String, Value>),
        expect: Expect,
    ) {
        let mut claims = self.claims(name);
        edit(claims.as_object_mut().unwrap());
        let token = self.sign(&claims);
        let config = self.config();
        self.push(
            name,
            description,
            Presented::Token(token),
            claims,
            config,
            expect,
        );
    }

    /// The default token, checked against a configuration changed by `edit`.
    fn config_case(
        &mut self,
        name: &'static str,
        description: &'static str,
        edit: impl FnOnce(&mut Map<String, Value>),
        expect: Expect,
    ) {
        let claims = self.claims(name);
        let token = self.sign(&claims);
        let mut config = self.config();
        edit(config.as_object_mut().unwrap());
        self.push(
            name,
            description,
            Presented::Token(token),
            claims,
            config,
            expect,
        );
    }

    /// A raw token string (malformed inputs).
    fn raw_case(
        &mut self,
        name: &'static str,
        description: &'static str,
        token: String,
        expect: Expect,
    ) {
        let claims = self.claims(name);
        let config = self.config();
        self.push(
            name,
            description,
            Presented::Token(token),
            claims,
            config,
            expect,
        );
    }

    fn header_case(
        &mut self,
        name: &'static str,
        description: &'static str,
        header: &str,
        expect: Expect,
    ) {
        let claims = self.claims(name);
        let token = sign_raw(header.as_bytes(), text(&claims).as_bytes(), &self.a.signing);
        self.raw_case(name, description, token, expect);
    }

    fn payload_case(
        &mut self,
        name: &'static str,
        description: &'static str,
        payload: &[u8],
        expect: Expect,
    ) {
        let token = sign_raw(
            text(&header_for(&self.a.kid)).as_bytes(),
            payload,
            &self.a.signing,
        );
        self.raw_case(name, description, token, expect);
    }

    fn auth_case(
        &mut self,
        name: &'static str,
        description: &'static str,
        header: Option<String>,
        expect: Expect,
    ) {
        let claims = self.claims(name);
        let config = self.config();
        self.push(
            name,
            description,
            Presented::Authorization(header),
            claims,
            config,
            expect,
        );
    }

    fn request_case(
        &mut self,
        name: &'static str,
        description: &'static str,
        bound_to: Option<(&str, &str, &str)>,
        sent: Option<(&str, &str, &str)>,
        require: bool,
        expect: Expect,
    ) {
        let mut claims = self.claims(name);
        if let Some((m, p, b)) = bound_to {
            claims["rqh"] = canonical_request_hash(m, p, b.as_bytes()).into();
        }
        let token = self.sign(&claims);
        let mut config = self.config();
        if require {
            config["require_binding"] = true.into();
        }
        self.vectors.push(Vector {
            name,
            description,
            presented: Presented::Token(token),
            claims,
            request: sent.map(|(m, p, b)| json!({"method": m, "path_and_query": p, "body": b})),
            config,
            expect,
        });
    }
}

fn policy(rules: Value) -> Value {
    json!({"version": 1, "rules": rules})
}

fn build() -> Builder {
    let mut v = Builder {
        a: Key::from_seed(0xA1),
        b: Key::from_seed(0xB2),
        vectors: Vec::new(),
    };
    let a_kid = v.a.kid.clone();

    // Allowed tokens.
    v.claims_case(
        "allow-minimal",
        "Only the required claims, signed by the trusted key.",
        |_| {},
        allow(),
    );
    v.claims_case("allow-all-claims", "Every optional claim is carried into the caller context.", |c| {
        c.insert("scope".into(), json!(["payments:write", "payments:read"]));
        c.insert("env".into(), json!("prod"));
        c.insert("tenant".into(), json!("acme"));
        c.insert("reason".into(), json!("nightly settlement"));
        c.insert("src".into(), json!({"type": "github_actions", "repo": "acme/payments", "workflow": "settle.yml", "run_id": "42", "sha": "0123456789abcdef0123456789abcdef01234567"}));
        c.insert("delegated_by".into(), json!("user://alice"));
        c.insert("x-vendor-extension".into(), json!({"ignored": true}));
    }, allow());
    let claims = v.claims("allow-alg-ed25519");
    let header = json!({"alg": "Ed25519", "typ": "om+jwt", "kid": a_kid});
    let token = sign_raw(
        text(&header).as_bytes(),
        text(&claims).as_bytes(),
        &v.a.signing,
    );
    let config = v.config();
    v.push(
        "allow-alg-ed25519",
        "The RFC 9864 algorithm name Ed25519 is accepted like EdDSA.",
        Presented::Token(token),
        claims,
        config,
        allow(),
    );
    let claims = v.claims("allow-typ-case-insensitive");
    let header = json!({"alg": "EdDSA", "typ": "OM+JWT", "kid": a_kid, "jku": "https://attacker.example/jwks.json"});
    let token = sign_raw(
        text(&header).as_bytes(),
        text(&claims).as_bytes(),
        &v.a.signing,
    );
    let config = v.config();
    v.push(
        "allow-typ-case-insensitive",
        "typ compares case-insensitively; jku is never used to find keys.",
        Presented::Token(token),
        claims,
        config,
        allow(),
    );
    let claims = v.claims("allow-authorization-header");
    let token = v.sign(&claims);
    let config = v.config();
    v.push(
        "allow-authorization-header",
        "Authorization: OathMesh <token>.",
        Presented::Authorization(Some(format!("OathMesh {token}"))),
        claims,
        config,
        allow(),
    );
    let claims = v.claims("allow-authorization-scheme-case");
    let token = v.sign(&claims);
    let config = v.config();
    v.push(
        "allow-authorization-scheme-case",
        "The auth scheme is case-insensitive (RFC 9110).",
        Presented::Authorization(Some(format!("oAtHmEsH {token}"))),
        claims,
        config,
        allow(),
    );
    v.claims_case(
        "allow-lifetime-300",
        "exp - iat = 300 s, the cap, is accepted.",
        |c| {
            c.insert("exp".into(), json!(NOW + 290));
        },
        allow(),
    );
    v.claims_case(
        "allow-exp-plus-leeway-exact",
        "now == exp + leeway is still valid.",
        |c| {
            c.insert("iat".into(), json!(NOW - 100));
            c.insert("nbf".into(), json!(NOW - 100));
            c.insert("exp".into(), json!(NOW - LEEWAY));
        },
        allow(),
    );
    v.claims_case(
        "allow-iat-now-plus-leeway-exact",
        "iat == now + leeway is still valid.",
        |c| {
            c.insert("iat".into(), json!(NOW + LEEWAY));
            c.insert("nbf".into(), json!(NOW + LEEWAY));
            c.insert("exp".into(), json!(NOW + LEEWAY + 60));
        },
        allow(),
    );
    let a_jwk = v.a.jwk();
    let mut jwk = a_jwk.clone();
    v.config_case(
        "allow-jwk-without-alg-or-kid-is-thumbprint",
        "A JWK without alg is usable; without kid it is known by its RFC 7638 thumbprint.",
        |c| {
            jwk.as_object_mut().unwrap().remove("alg");
            jwk.as_object_mut().unwrap().remove("kid");
            c.insert("jwks".into(), json!({"keys": [jwk]}));
        },
        allow(),
    );
    v.config_case(
        "allow-policy-empty-match",
        "A rule with an empty match matches every token.",
        |c| {
            c.insert(
                "policy".into(),
                policy(json!([{"name": "allow-all", "allow": true, "match": {}}])),
            );
        },
        Expect::Allow {
            policy_rule: Some("allow-all"),
        },
    );
    v.claims_case(
        "allow-policy-rule-named",
        "The deciding rule is reported in the caller context.",
        |c| {
            c.insert("scope".into(), json!(["deploy"]));
            c.insert("env".into(), json!("prod"));
            c.insert("sub".into(), json!("job://github/acme/payments/deploy.yml"));
            c.insert("act".into(), json!("deploy"));
            c.insert(
                "src".into(),
                json!({"type": "github_actions", "repo": "acme/payments"}),
            );
        },
        Expect::Allow {
            policy_rule: Some("ci-deploys"),
        },
    );
    let last = v.vectors.last_mut().unwrap();
    last.config["policy"] = policy(json!([
        {"name": "no-staging", "allow": false, "match": {"env": "staging"}},
        {"name": "ci-deploys", "allow": true, "match": {"sub": "job://github/acme/*", "act": "deploy", "env": "prod", "scope": ["deploy"], "src": {"type": "github_actions", "repo": "acme/*"}}},
        {"name": "default", "allow": false}
    ]));

    // The Authorization header (before step 01).
    v.auth_case(
        "authorization-missing",
        "No Authorization header at all.",
        None,
        deny("claim_missing:token", "00"),
    );
    let token = v.sign(&v.claims("authorization-bearer"));
    v.auth_case(
        "authorization-bearer",
        "The Bearer scheme is not accepted.",
        Some(format!("Bearer {token}")),
        deny("claim_missing:token", "00"),
    );
    v.auth_case(
        "authorization-two-spaces",
        "Exactly one space after the scheme.",
        Some(format!("OathMesh  {token}")),
        deny("claim_missing:token", "00"),
    );

    // Step 01: shape.
    v.raw_case(
        "format-two-segments",
        "A token needs exactly three segments.",
        "eyJhbGciOiJFZERTQSJ9.e30".into(),
        deny("token_malformed", "01"),
    );
    v.raw_case(
        "format-four-segments",
        "A token needs exactly three segments.",
        format!("{token}.AAAA"),
        deny("token_malformed", "01"),
    );
    let padded = {
        let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
        parts[1].push('=');
        parts.join(".")
    };
    v.raw_case(
        "format-padding",
        "Base64 padding is outside the base64url alphabet.",
        padded,
        deny("token_malformed", "01"),
    );
    let plus = token.replacen('-', "+", 1).replacen('_', "/", 1);
    let plus = if plus == token {
        format!("{}+", token)
    } else {
        plus
    };
    v.raw_case(
        "format-standard-base64-alphabet",
        "'+' and '/' are not base64url.",
        plus,
        deny("token_malformed", "01"),
    );
    let (big, exact) = sized_tokens(&v);
    v.raw_case(
        "format-oversize-8193",
        "One byte over the 8192-byte limit.",
        big,
        deny("token_malformed", "01"),
    );
    v.raw_case(
        "format-exactly-8192",
        "Exactly 8192 bytes is within the limit.",
        exact.0,
        allow(),
    );
    v.vectors.last_mut().unwrap().claims = exact.1;
    let huge_header =
        json!({"alg": "EdDSA", "typ": "om+jwt", "kid": a_kid, "pad": "x".repeat(800)});
    v.header_case(
        "format-header-over-1024",
        "The header segment may not exceed 1024 bytes.",
        &text(&huge_header),
        deny("token_malformed", "01"),
    );

    // Step 02: header.
    let seg_claims = text(&v.claims("header-non-canonical-base64"));
    let good_header = b64::encode(text(&header_for(&a_kid)).as_bytes());
    let mut noncanonical = good_header.clone();
    let last_char = noncanonical.pop().unwrap();
    noncanonical.push(bump_trailing_bits(last_char));
    let input = format!("{noncanonical}.{}", b64::encode(seg_claims.as_bytes()));
    let sig = b64::encode(&v.a.signing.sign(input.as_bytes()).to_bytes());
    v.raw_case(
        "header-non-canonical-base64",
        "Non-zero trailing bits in the header segment.",
        format!("{input}.{sig}"),
        deny("token_malformed", "02"),
    );
    v.header_case(
        "header-not-json",
        "The header is not JSON.",
        "not json",
        deny("token_malformed", "02"),
    );
    v.header_case(
        "header-duplicate-kid",
        "Duplicate member names are refused, not resolved.",
        &format!(
            r#"{{"alg":"EdDSA","typ":"om+jwt","kid":"{a_kid}","kid":"{}"}}"#,
            v.b.kid
        ),
        deny("token_malformed", "02"),
    );
    v.header_case(
        "header-crit",
        "crit names extensions we do not understand.",
        &format!(r#"{{"alg":"EdDSA","typ":"om+jwt","kid":"{a_kid}","crit":["exp"]}}"#),
        deny("token_malformed", "02"),
    );
    v.header_case(
        "header-typ-jwt",
        "typ must be om+jwt: a generic JWT is not an Oath Token.",
        &format!(r#"{{"alg":"EdDSA","typ":"JWT","kid":"{a_kid}"}}"#),
        deny("token_malformed", "02"),
    );
    v.header_case(
        "header-kid-missing",
        "kid is required.",
        r#"{"alg":"EdDSA","typ":"om+jwt"}"#,
        deny("token_malformed", "02"),
    );
    let none_claims = text(&v.claims("alg-none"));
    let none_token = format!(
        "{}.{}.",
        b64::encode(format!(r#"{{"alg":"none","typ":"om+jwt","kid":"{a_kid}"}}"#).as_bytes()),
        b64::encode(none_claims.as_bytes())
    );
    v.raw_case(
        "alg-none",
        "Unsigned tokens are refused.",
        none_token,
        deny("algorithm_not_allowed", "02"),
    );
    v.header_case(
        "alg-hs256",
        "HMAC (the classic public-key-as-secret confusion) is refused.",
        &format!(r#"{{"alg":"HS256","typ":"om+jwt","kid":"{a_kid}"}}"#),
        deny("algorithm_not_allowed", "02"),
    );
    v.header_case(
        "alg-es256",
        "Other asymmetric algorithms are refused.",
        &format!(r#"{{"alg":"ES256","typ":"om+jwt","kid":"{a_kid}"}}"#),
        deny("algorithm_not_allowed", "02"),
    );
    v.header_case(
        "alg-case-variant",
        "alg names are case-sensitive.",
        &format!(r#"{{"alg":"eddsa","typ":"om+jwt","kid":"{a_kid}"}}"#),
        deny("algorithm_not_allowed", "02"),
    );

    // Step 03: payload.
    v.payload_case(
        "payload-not-json",
        "The payload is not JSON.",
        b"{\"iss\":",
        deny("token_malformed", "03"),
    );
    v.payload_case(
        "payload-not-object",
        "The payload must be a JSON object.",
        b"[1,2,3]",
        deny("token_malformed", "03"),
    );
    v.payload_case(
        "payload-invalid-utf8",
        "The payload must be UTF-8.",
        b"{\"iss\":\"https://issuer.oathmesh.test\",\"sub\":\"svc://\xff\"}",
        deny("token_malformed", "03"),
    );
    let dup = text(&v.claims("payload-duplicate-sub")).replacen(
        "\"sub\":\"svc://checkout\"",
        "\"sub\":\"svc://checkout\",\"sub\":\"svc://admin\"",
        1,
    );
    v.payload_case(
        "payload-duplicate-sub",
        "Duplicate claims are refused: no parser gets to pick one.",
        dup.as_bytes(),
        deny("token_malformed", "03"),
    );
    v.claims_case(
        "claim-aud-array",
        "aud must be a single string.",
        |c| {
            c.insert("aud".into(), json!([AUDIENCE]));
        },
        deny("claim_invalid:aud", "03"),
    );
    let float = text(&v.claims("claim-iat-float")).replacen(
        &format!("\"iat\":{}", NOW - 10),
        &format!("\"iat\":{}.0", NOW - 10),
        1,
    );
    v.payload_case(
        "claim-iat-float",
        "Times are JSON integers, never floats.",
        float.as_bytes(),
        deny("claim_invalid:iat", "03"),
    );
    v.claims_case(
        "claim-exp-string",
        "exp must be a number.",
        |c| {
            c.insert("exp".into(), json!((NOW + 100).to_string()));
        },
        deny("claim_invalid:exp", "03"),
    );
    v.claims_case(
        "claim-scope-string",
        "scope must be an array of strings.",
        |c| {
            c.insert("scope".into(), json!("payments:write"));
        },
        deny("claim_invalid:scope", "03"),
    );

    // Step 04: issuer.
    v.claims_case(
        "issuer-missing",
        "iss is required.",
        |c| {
            c.remove("iss");
        },
        deny("claim_missing:iss", "04"),
    );
    v.claims_case(
        "issuer-empty",
        "An empty string counts as absent.",
        |c| {
            c.insert("iss".into(), json!(""));
        },
        deny("claim_missing:iss", "04"),
    );
    v.claims_case(
        "issuer-untrusted",
        "An issuer not in the trusted list.",
        |c| {
            c.insert("iss".into(), json!("https://evil.example"));
        },
        deny("issuer_untrusted", "04"),
    );
    v.claims_case(
        "issuer-trailing-slash",
        "Issuers compare exactly: a trailing slash is a different issuer.",
        |c| {
            c.insert("iss".into(), json!(format!("{ISSUER}/")));
        },
        deny("issuer_untrusted", "04"),
    );

    // Step 11: presence and formats.
    v.claims_case(
        "claim-sub-missing",
        "sub is required.",
        |c| {
            c.remove("sub");
        },
        deny("claim_missing:sub", "11"),
    );
    v.claims_case(
        "claim-first-missing-wins",
        "With act and jti both absent, act (earlier in the order) is reported.",
        |c| {
            c.remove("jti");
            c.remove("act");
        },
        deny("claim_missing:act", "11"),
    );
    v.claims_case(
        "claim-jti-empty",
        "An empty jti counts as absent.",
        |c| {
            c.insert("jti".into(), json!(""));
        },
        deny("claim_missing:jti", "11"),
    );
    v.claims_case(
        "claim-exp-missing",
        "exp is required.",
        |c| {
            c.remove("exp");
        },
        deny("claim_missing:exp", "11"),
    );
    v.claims_case(
        "claim-sub-bad-scheme",
        "Subjects use the agent/svc/job/tool/user schemes.",
        |c| {
            c.insert("sub".into(), json!("root://admin"));
        },
        deny("claim_invalid:sub", "11"),
    );
    v.claims_case(
        "claim-act-whitespace",
        "act may not contain whitespace.",
        |c| {
            c.insert("act".into(), json!("charge all"));
        },
        deny("claim_invalid:act", "11"),
    );
    v.claims_case(
        "claim-lifetime-301",
        "exp - iat = 301 s exceeds the cap, even from a trusted issuer.",
        |c| {
            c.insert("exp".into(), json!(NOW + 291));
        },
        deny("claim_invalid:exp", "11"),
    );
    v.claims_case(
        "claim-exp-before-iat",
        "exp must be later than iat.",
        |c| {
            c.insert("exp".into(), json!(NOW - 10));
        },
        deny("claim_invalid:exp", "11"),
    );
    v.claims_case(
        "claim-delegated-by-not-user",
        "delegated_by must be a user:// subject.",
        |c| {
            c.insert("delegated_by".into(), json!("svc://robot"));
        },
        deny("claim_invalid:delegated_by", "11"),
    );
    v.claims_case(
        "claim-rqh-format",
        "rqh is sha256: plus 64 lowercase hex digits.",
        |c| {
            c.insert("rqh".into(), json!("sha256:ABC"));
        },
        deny("claim_invalid:rqh", "11"),
    );

    v.claims_case(
        "claim-scope-with-space",
        "A scope is one word: scopes travel space-separated, so a space would forge a second scope.",
        |c| {
            c.insert("scope".into(), json!(["payments:read admin"]));
        },
        deny("claim_invalid:scope", "11"),
    );
    v.claims_case(
        "claim-env-control-character",
        "env, tenant and src members may not carry control characters (CR/LF header injection).",
        |c| {
            c.insert(
                "env".into(),
                json!("prod\r\nX-OathMesh-Subject: svc://admin"),
            );
        },
        deny("claim_invalid:env", "11"),
    );

    // Step 05: keys.
    let claims = v.claims("key-unknown-kid");
    let token = sign_raw(
        text(&header_for("no-such-kid")).as_bytes(),
        text(&claims).as_bytes(),
        &v.a.signing,
    );
    v.raw_case(
        "key-unknown-kid",
        "The JWKS has no key with this kid.",
        token,
        deny("key_not_found", "05"),
    );
    let claims = v.claims("key-from-untrusted-keypair");
    let token = sign_raw(
        text(&header_for(&v.b.kid)).as_bytes(),
        text(&claims).as_bytes(),
        &v.b.signing,
    );
    v.raw_case(
        "key-from-untrusted-keypair",
        "Signed by a key the verifier was never given.",
        token,
        deny("key_not_found", "05"),
    );
    v.config_case(
        "key-per-issuer-set-no-fallback",
        "An issuer with its own key set never falls back to the shared keys.",
        |c| {
            c.insert("issuer_jwks".into(), json!({ISSUER: {"keys": []}}));
        },
        deny("key_not_found", "05"),
    );
    v.config_case(
        "key-jwks-unavailable",
        "The key source is down: fail closed with 503.",
        |c| {
            c.insert(
                "testing".into(),
                json!({"now": NOW, "unavailable": ["jwks"]}),
            );
        },
        deny("jwks_unavailable", "05"),
    );

    // Step 06: algorithm agreement and signature.
    let mut jwk = a_jwk.clone();
    v.config_case(
        "key-jwk-alg-rs256",
        "A JWK whose alg is not EdDSA/Ed25519 cannot verify an EdDSA token.",
        |c| {
            jwk["alg"] = json!("RS256");
            c.insert("jwks".into(), json!({"keys": [jwk]}));
        },
        deny("algorithm_not_allowed", "06"),
    );
    let claims = v.claims("signature-tampered-payload");
    let good = v.sign(&claims);
    let mut tampered_claims = claims.clone();
    tampered_claims["act"] = json!("refund");
    let parts: Vec<&str> = good.split('.').collect();
    let tampered = format!(
        "{}.{}.{}",
        parts[0],
        b64::encode(text(&tampered_claims).as_bytes()),
        parts[2]
    );
    v.raw_case(
        "signature-tampered-payload",
        "The payload was changed after signing.",
        tampered,
        deny("signature_invalid", "06"),
    );
    let claims = v.claims("signature-wrong-key");
    let token = sign_raw(
        text(&header_for(&a_kid)).as_bytes(),
        text(&claims).as_bytes(),
        &v.b.signing,
    );
    v.raw_case(
        "signature-wrong-key",
        "Claims the trusted kid but signed with another key.",
        token,
        deny("signature_invalid", "06"),
    );
    let claims = v.claims("signature-non-canonical-s");
    let good = v.sign(&claims);
    v.raw_case(
        "signature-non-canonical-s",
        "S + L: the same signature malleated; strict verification refuses it.",
        malleate(&good),
        deny("signature_invalid", "06"),
    );
    let claims = v.claims("signature-truncated");
    let good = v.sign(&claims);
    let (input, sig) = good.rsplit_once('.').unwrap();
    let short = b64::encode(&b64::decode(sig).unwrap()[..63]);
    v.raw_case(
        "signature-truncated",
        "A 63-byte signature.",
        format!("{input}.{short}"),
        deny("signature_invalid", "06"),
    );
    v.raw_case(
        "signature-empty",
        "An empty signature segment.",
        format!("{input}."),
        deny("signature_invalid", "06"),
    );
    let mut sig_nc = sig.to_owned();
    let last_char = sig_nc.pop().unwrap();
    sig_nc.push(bump_trailing_bits(last_char));
    v.raw_case(
        "signature-non-canonical-base64",
        "The signature segment has non-zero trailing bits.",
        format!("{input}.{sig_nc}"),
        deny("signature_invalid", "06"),
    );

    // Steps 08, 09: time.
    v.claims_case(
        "time-expired-by-one-second",
        "now == exp + leeway + 1.",
        |c| {
            c.insert("iat".into(), json!(NOW - 100));
            c.insert("nbf".into(), json!(NOW - 100));
            c.insert("exp".into(), json!(NOW - LEEWAY - 1));
        },
        deny("token_expired", "08"),
    );
    v.claims_case(
        "time-iat-future-by-one-second",
        "iat == now + leeway + 1.",
        |c| {
            c.insert("iat".into(), json!(NOW + LEEWAY + 1));
            c.insert("nbf".into(), json!(NOW + LEEWAY + 1));
            c.insert("exp".into(), json!(NOW + LEEWAY + 61));
        },
        deny("token_not_yet_valid", "09"),
    );
    v.claims_case(
        "time-nbf-future",
        "nbf later than now + leeway.",
        |c| {
            c.insert("nbf".into(), json!(NOW + LEEWAY + 1));
        },
        deny("token_not_yet_valid", "09"),
    );
    v.config_case(
        "time-leeway-zero",
        "With leeway 0, one second past exp is expired.",
        |c| {
            c.insert("leeway".into(), json!(0));
            c.insert("testing".into(), json!({"now": NOW + 111}));
        },
        deny("token_expired", "08"),
    );

    // Step 10: audience.
    v.claims_case(
        "audience-mismatch",
        "Minted for another service.",
        |c| {
            c.insert("aud".into(), json!("https://ledger.oathmesh.test"));
        },
        deny("audience_mismatch", "10"),
    );
    v.claims_case(
        "audience-prefix",
        "Audiences compare exactly, not by prefix.",
        |c| {
            c.insert("aud".into(), json!(format!("{AUDIENCE}/v1")));
        },
        deny("audience_mismatch", "10"),
    );

    // Step 12: request binding.
    let body = r#"{"amount":100,"currency":"EUR"}"#;
    v.request_case(
        "binding-match",
        "A bound token on the request it was minted for.",
        Some(("POST", "/v1/charges?idempotency=7&customer=c1", body)),
        Some(("POST", "/v1/charges?idempotency=7&customer=c1", body)),
        false,
        allow(),
    );
    v.request_case(
        "binding-query-order",
        "Query pairs are sorted, so their order in the request does not matter.",
        Some(("POST", "/v1/charges?idempotency=7&customer=c1", body)),
        Some(("post", "/v1/charges?customer=c1&idempotency=7", body)),
        true,
        allow(),
    );
    v.request_case(
        "binding-tampered-body",
        "The body differs from the one the token was minted for.",
        Some(("POST", "/v1/charges", body)),
        Some((
            "POST",
            "/v1/charges",
            r#"{"amount":100000,"currency":"EUR"}"#,
        )),
        false,
        deny("binding_mismatch", "12"),
    );
    v.request_case(
        "binding-percent-encoding",
        "The path is compared as sent: %2F is not /.",
        Some(("GET", "/v1/files/a%2Fb", "")),
        Some(("GET", "/v1/files/a/b", "")),
        false,
        deny("binding_mismatch", "12"),
    );
    v.request_case(
        "binding-no-request",
        "A bound token with no request to check it against is refused.",
        Some(("POST", "/v1/charges", body)),
        None,
        false,
        deny("binding_mismatch", "12"),
    );
    v.request_case(
        "binding-required-absent",
        "The receiver requires binding and the token has no rqh.",
        None,
        Some(("POST", "/v1/charges", body)),
        true,
        deny("binding_required", "12"),
    );

    // Step 13.5: revocation.
    v.config_case(
        "revoked-subject",
        "The subject has been revoked.",
        |c| {
            c.insert("revoked_subjects".into(), json!(["svc://checkout"]));
        },
        deny("subject_revoked", "13.5"),
    );
    v.config_case(
        "revocation-unavailable",
        "The revocation store is down: fail closed with 503.",
        |c| {
            c.insert(
                "testing".into(),
                json!({"now": NOW, "unavailable": ["revocation"]}),
            );
        },
        deny("revocation_unavailable", "13.5"),
    );

    // Step 14: policy.
    v.config_case("policy-deny-rule", "An explicit deny rule matches first.", |c| {
        c.insert("policy".into(), policy(json!([
            {"name": "no-charges-from-checkout", "allow": false, "match": {"sub": "svc://checkout", "act": "charge"}},
            {"name": "allow-all", "allow": true}
        ])));
    }, deny("policy_denied", "14"));
    v.config_case(
        "policy-default-deny",
        "No rule matches: default deny.",
        |c| {
            c.insert(
                "policy".into(),
                policy(
                    json!([{"name": "only-refunds", "allow": true, "match": {"act": "refund"}}]),
                ),
            );
        },
        deny("policy_denied", "14"),
    );
    v.config_case(
        "policy-absent-claim-never-matches",
        "A pattern, even *, never matches an absent claim.",
        |c| {
            c.insert(
                "policy".into(),
                policy(json!([{"name": "any-env", "allow": true, "match": {"env": "*"}}])),
            );
        },
        deny("policy_denied", "14"),
    );

    // Step 13: replay.
    v.config_case(
        "replay-seen-jti",
        "The jti was already used.",
        |c| {
            c.insert(
                "testing".into(),
                json!({"now": NOW, "seen_jtis": ["vec-replay-seen-jti"]}),
            );
        },
        deny("replay_detected", "13"),
    );
    v.config_case(
        "replay-cache-full",
        "A replay cache full of live entries refuses rather than evicts.",
        |c| {
            c.insert(
                "replay_cache".into(),
                json!({"type": "memory", "capacity": 1}),
            );
            c.insert(
                "testing".into(),
                json!({"now": NOW, "seen_jtis": ["another-live-token"]}),
            );
        },
        deny("replay_cache_unavailable", "13"),
    );
    v.config_case(
        "replay-cache-unavailable",
        "The replay store is down: fail closed with 503.",
        |c| {
            c.insert(
                "testing".into(),
                json!({"now": NOW, "unavailable": ["replay_cache"]}),
            );
        },
        deny("replay_cache_unavailable", "13"),
    );

    // Precedence: where two checks fail, the earlier step wins.
    v.claims_case(
        "precedence-types-before-issuer",
        "aud has the wrong type and iss is untrusted: step 03 runs before 04.",
        |c| {
            c.insert("aud".into(), json!([AUDIENCE]));
            c.insert("iss".into(), json!("https://evil.example"));
        },
        deny("claim_invalid:aud", "03"),
    );
    v.claims_case(
        "precedence-issuer-before-formats",
        "Untrusted issuer and a bad subject: step 04 runs before 11.",
        |c| {
            c.insert("iss".into(), json!("https://evil.example"));
            c.insert("sub".into(), json!("root://admin"));
        },
        deny("issuer_untrusted", "04"),
    );
    let claims = {
        let mut c = v.claims("precedence-signature-before-expiry");
        c["exp"] = json!(NOW - 60);
        c["iat"] = json!(NOW - 100);
        c
    };
    let token = sign_raw(
        text(&header_for(&a_kid)).as_bytes(),
        text(&claims).as_bytes(),
        &v.b.signing,
    );
    v.raw_case("precedence-signature-before-expiry", "Expired and badly signed: the signature (06) is reported, never an expiry an attacker chose.", token, deny("signature_invalid", "06"));
    v.claims_case(
        "precedence-expiry-before-audience",
        "Expired and for another audience: 08 before 10.",
        |c| {
            c.insert("exp".into(), json!(NOW - 60));
            c.insert("iat".into(), json!(NOW - 100));
            c.insert("aud".into(), json!("https://ledger.oathmesh.test"));
        },
        deny("token_expired", "08"),
    );
    v.config_case("precedence-revocation-before-policy-and-replay", "Revoked, denied by policy and replayed: 13.5 wins.", |c| {
        c.insert("revoked_subjects".into(), json!(["svc://checkout"]));
        c.insert("policy".into(), policy(json!([])));
        c.insert("testing".into(), json!({"now": NOW, "seen_jtis": ["vec-precedence-revocation-before-policy-and-replay"]}));
    }, deny("subject_revoked", "13.5"));
    v.config_case("precedence-policy-before-replay", "Denied by policy and replayed: 14 runs before the replay record (13), so a denied token is never burned.", |c| {
        c.insert("policy".into(), policy(json!([])));
        c.insert("testing".into(), json!({"now": NOW, "seen_jtis": ["vec-precedence-policy-before-replay"]}));
    }, deny("policy_denied", "14"));
    v
}

/// The oversize (8193-byte) token and an exactly-8192-byte valid token with its claims.
fn sized_tokens(v: &Builder) -> (String, (String, Value)) {
    let target = oathmesh_core::token::MAX_TOKEN_BYTES;
    let base = v.claims("format-exactly-8192");
    for pad in 5000..7000 {
        for extra in 0..3 {
            let mut c = base.clone();
            c["pad"] = json!("p".repeat(pad));
            c["jti"] = json!(format!("vec-format-exactly-8192{}", "x".repeat(extra)));
            let token = v.sign(&c);
            if token.len() == target {
                let mut big = base.clone();
                big["jti"] = json!("vec-format-oversize-8193");
                for pad2 in pad..pad + 10 {
                    big["pad"] = json!("p".repeat(pad2));
                    let t = v.sign(&big);
                    if t.len() == target + 1 {
                        return (t, (token, c));
                    }
                    if t.len() > target + 1 {
                        big["jti"] = json!("vec-format-oversize-8193x");
                    }
                }
            }
        }
    }
    panic!("no padding reaches the size boundary");
}

/// Flips the lowest unused bit of the last base64url character (the encoding of the last
/// byte group leaves 2 or 4 bits unused).
fn bump_trailing_bits(c: char) -> char {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let i = ALPHABET.iter().position(|&a| a as char == c).unwrap();
    ALPHABET[i ^ 1] as char
}

/// Adds the group order L to S: a different encoding of an equivalent signature, which
/// `verify_strict` must reject.
fn malleate(token: &str) -> String {
    const L: [u8; 32] = [
        0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde,
        0x14, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
    ];
    let (input, sig) = token.rsplit_once('.').unwrap();
    let mut sig = b64::decode(sig).unwrap();
    let mut carry = 0u16;
    for i in 0..32 {
        let sum = u16::from(sig[32 + i]) + u16::from(L[i]) + carry;
        sig[32 + i] = sum as u8;
        carry = sum >> 8;
    }
    assert_eq!(carry, 0, "S + L fits in 256 bits because S < L < 2^253");
    format!("{input}.{}", b64::encode(&sig))
}

fn expected_caller(claims: &Value, policy_rule: Option<&str>) -> Value {
    let get = |k: &str| claims.get(k).cloned().unwrap_or(Value::Null);
    json!({
        "issuer": get("iss"),
        "subject": get("sub"),
        "audience": get("aud"),
        "action": get("act"),
        "token_id": get("jti"),
        "issued_at": get("iat"),
        "expires_at": get("exp"),
        "scope": claims.get("scope").cloned().unwrap_or(json!([])),
        "env": get("env"),
        "tenant": get("tenant"),
        "reason": get("reason"),
        "source": get("src"),
        "delegated_by": get("delegated_by"),
        "policy_rule": policy_rule,
    })
}

impl Vector {
    fn to_json(&self) -> Value {
        let mut out = Map::new();
        out.insert("name".into(), json!(self.name));
        out.insert("description".into(), json!(self.description));
        match &self.presented {
            Presented::Token(t) => out.insert("token".into(), json!(t)),
            Presented::Authorization(h) => out.insert("authorization".into(), json!(h)),
        };
        out.insert(
            "request".into(),
            self.request.clone().unwrap_or(Value::Null),
        );
        out.insert("config".into(), self.config.clone());
        let expect = match &self.expect {
            Expect::Allow { policy_rule } => {
                json!({"outcome": "allow", "caller": expected_caller(&self.claims, *policy_rule)})
            }
            Expect::Deny { code, step, status } => {
                json!({"outcome": "deny", "code": code, "step": step, "http_status": status})
            }
        };
        out.insert("expect".into(), expect);
        Value::Object(out)
    }
}

/// Runs one vector (in the JSON form every binding reads) through the Rust core and returns
/// the outcome in the same shape as `expect`.
pub fn run_vector(vector: &Value) -> Value {
    let config = serde_json::to_vec(&vector["config"]).unwrap();
    let verifier = Verifier::from_json(&config).expect("vector config is valid");
    let request = vector["request"].as_object().map(|r| {
        (
            r["method"].as_str().unwrap().to_owned(),
            r["path_and_query"].as_str().unwrap().to_owned(),
            r["body"].as_str().unwrap().to_owned(),
        )
    });
    let ctx = VerifyContext {
        request: request.as_ref().map(|(m, p, b)| RequestParts {
            method: m,
            path_and_query: p,
            body: b.as_bytes(),
        }),
        ..VerifyContext::default()
    };
    let result = match vector.get("token") {
        Some(token) => verifier.verify(token.as_str().unwrap(), &ctx),
        None => verifier.verify_authorization(vector["authorization"].as_str(), &ctx),
    };
    match result {
        Ok(caller) => json!({"outcome": "allow", "caller": serde_json::to_value(&caller).unwrap()}),
        Err(e) => {
            json!({"outcome": "deny", "code": e.code(), "step": e.step().as_str(), "http_status": e.http_status()})
        }
    }
}

/// The whole vector file. Panics if the core disagrees with any written expectation.
pub fn generate() -> Value {
    let vectors: Vec<Value> = build().vectors.iter().map(Vector::to_json).collect();
    let mut names = std::collections::HashSet::new();
    for v in &vectors {
        assert!(
            names.insert(v["name"].as_str().unwrap().to_owned()),
            "duplicate vector name {}",
            v["name"]
        );
        let got = run_vector(v);
        assert_eq!(
            got, v["expect"],
            "vector {} disagrees with the core",
            v["name"]
        );
    }
    json!({
        "format": 1,
        "description": "OathMesh conformance vectors. Each config is the verifier configuration document (docs/configuration.md) passed to the core as-is. Regenerate with `cargo run -p oathmesh-conformance`; never edit by hand.",
        "issuer": ISSUER,
        "audience": AUDIENCE,
        "now": NOW,
        "vectors": vectors,
    })
}

/// The file's exact text.
pub fn render() -> String {
    let mut text = serde_json::to_string_pretty(&generate()).unwrap();
    text.push('\n');
    text
}

/// Where the committed file lives.
pub fn vectors_path() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("vectors.json")
}
