//! The wire format (PROTOCOL §1): splitting a compact JWS, decoding its header (step 02) and
//! claims (step 03) into typed structs, and encoding them for issuance.
//!
//! Decoding only checks shape and types; claim *formats* are checked by [`crate::claims`] at
//! step 11, so the pipeline can report the issuer check (step 04) before format errors.

use crate::b64;
use crate::error::{ErrorKind, Step, VerifyError};
use crate::strict_json;
use serde::Serialize;
use serde_json::{Map, Value};

/// Largest accepted token, in bytes.
pub const MAX_TOKEN_BYTES: usize = 8192;
/// Largest accepted header segment, in bytes.
pub const MAX_HEADER_SEGMENT_BYTES: usize = 1024;
/// The `typ` every Oath Token carries.
pub const TOKEN_TYPE: &str = "om+jwt";
/// Longest accepted `kid`.
pub const MAX_KID_CHARS: usize = 128;

/// The two names of the one signature algorithm (RFC 8037 `EdDSA`, RFC 9864 `Ed25519`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Algorithm {
    EdDSA,
    Ed25519,
}

impl Algorithm {
    pub fn parse(name: &str) -> Option<Algorithm> {
        match name {
            "EdDSA" => Some(Algorithm::EdDSA),
            "Ed25519" => Some(Algorithm::Ed25519),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Algorithm::EdDSA => "EdDSA",
            Algorithm::Ed25519 => "Ed25519",
        }
    }
}

/// The JOSE header of an Oath Token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    pub alg: Algorithm,
    pub kid: String,
}

/// Where a CI-minted identity came from (`src`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Source {
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub repo: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub workflow: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sha: Option<String>,
}

/// The claims of an Oath Token, as typed values. Decoding fills what is present with the
/// right type; presence and formats are checked later (step 11).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Claims {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sub: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub aud: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub act: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iat: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nbf: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exp: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jti: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub env: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub src: Option<Source>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delegated_by: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rqh: Option<String>,
}

/// The three segments of a token, as received.
#[derive(Debug, Clone, Copy)]
pub struct Segments<'a> {
    pub header: &'a str,
    pub payload: &'a str,
    pub signature: &'a str,
    /// `header "." payload`: the exact bytes the signature covers.
    pub signing_input: &'a str,
}

fn malformed(step: Step, message: &'static str) -> VerifyError {
    VerifyError::new(ErrorKind::TokenMalformed, step, message)
}

/// Step 01: size limits, exactly three segments, base64url alphabet only.
pub fn split(token: &str) -> Result<Segments<'_>, VerifyError> {
    const STEP: Step = Step::Format01;
    if token.len() > MAX_TOKEN_BYTES {
        return Err(malformed(STEP, "the token is larger than 8192 bytes"));
    }
    let mut parts = token.split('.');
    let (Some(header), Some(payload), Some(signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(malformed(
            STEP,
            "the token must have exactly three dot-separated segments",
        ));
    };
    if header.len() > MAX_HEADER_SEGMENT_BYTES {
        return Err(malformed(
            STEP,
            "the header segment is larger than 1024 bytes",
        ));
    }
    if !(b64::is_alphabet(header) && b64::is_alphabet(payload) && b64::is_alphabet(signature)) {
        return Err(malformed(
            STEP,
            "the token contains characters outside the base64url alphabet",
        ));
    }
    Ok(Segments {
        header,
        payload,
        signature,
        signing_input: &token[..header.len() + 1 + payload.len()],
    })
}

/// Decodes one segment into a JSON object, rejecting duplicate keys.
fn decode_object(
    segment: &str,
    step: Step,
    what: &'static str,
) -> Result<Map<String, Value>, VerifyError> {
    let bytes = b64::decode(segment).ok_or_else(|| {
        malformed(
            step,
            match what {
                "header" => "the header segment is not canonical unpadded base64url",
                _ => "the payload segment is not canonical unpadded base64url",
            },
        )
    })?;
    match strict_json::parse(&bytes) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(malformed(
            step,
            match what {
                "header" => "the header is not a JSON object",
                _ => "the payload is not a JSON object",
            },
        )),
        Err(err) if strict_json::is_duplicate_key(&err) => Err(malformed(
            step,
            match what {
                "header" => "the header repeats a member name",
                _ => "the payload repeats a claim name",
            },
        )),
        Err(_) => Err(malformed(
            step,
            match what {
                "header" => "the header is not valid UTF-8 JSON",
                _ => "the payload is not valid UTF-8 JSON",
            },
        )),
    }
}

/// Step 02: the JOSE header. Checked in this order: JSON, `crit`, `typ`, `alg`, `kid`.
pub fn decode_header(segment: &str) -> Result<Header, VerifyError> {
    const STEP: Step = Step::JoseHeader02;
    let map = decode_object(segment, STEP, "header")?;
    if map.contains_key("crit") {
        return Err(malformed(
            STEP,
            "the header has `crit`; OathMesh understands no JOSE extensions",
        ));
    }
    match map.get("typ") {
        Some(Value::String(typ)) if typ.eq_ignore_ascii_case(TOKEN_TYPE) => {}
        Some(Value::String(_)) => return Err(malformed(STEP, "the header `typ` is not om+jwt")),
        _ => return Err(malformed(STEP, "the header has no string `typ`")),
    }
    let alg = match map.get("alg") {
        Some(Value::String(name)) => Algorithm::parse(name).ok_or_else(|| {
            VerifyError::new(
                ErrorKind::AlgorithmNotAllowed,
                STEP,
                "the header `alg` is not EdDSA or Ed25519",
            )
        })?,
        _ => return Err(malformed(STEP, "the header has no string `alg`")),
    };
    let kid = match map.get("kid") {
        Some(Value::String(kid)) if is_valid_kid(kid) => kid.clone(),
        _ => {
            return Err(malformed(
                STEP,
                "the header `kid` must be 1 to 128 printable ASCII characters",
            ));
        }
    };
    Ok(Header { alg, kid })
}

/// A kid is 1..=128 printable ASCII characters (0x20..=0x7E).
pub fn is_valid_kid(kid: &str) -> bool {
    !kid.is_empty() && kid.len() <= MAX_KID_CHARS && kid.bytes().all(|b| (0x20..=0x7e).contains(&b))
}

/// Step 03: the claims object and each claim's JSON type. Types are checked in a fixed claim
/// order so the reported claim never depends on the order of keys in the JSON text.
pub fn decode_claims(segment: &str) -> Result<Claims, VerifyError> {
    let mut map = decode_object(segment, Step::Payload03, "payload")?;
    Ok(Claims {
        iss: take_string(&mut map, "iss")?,
        sub: take_string(&mut map, "sub")?,
        aud: take_string(&mut map, "aud")?,
        act: take_string(&mut map, "act")?,
        iat: take_integer(&mut map, "iat")?,
        exp: take_integer(&mut map, "exp")?,
        jti: take_string(&mut map, "jti")?,
        nbf: take_integer(&mut map, "nbf")?,
        scope: take_string_array(&mut map, "scope")?,
        reason: take_string(&mut map, "reason")?,
        env: take_string(&mut map, "env")?,
        tenant: take_string(&mut map, "tenant")?,
        src: take_source(&mut map)?,
        delegated_by: take_string(&mut map, "delegated_by")?,
        rqh: take_string(&mut map, "rqh")?,
    })
}

fn wrong_type(claim: &'static str, expected: &'static str) -> VerifyError {
    VerifyError::claim_invalid(
        claim,
        Step::Payload03,
        format!("the claim `{claim}` must be {expected}"),
    )
}

fn take_string(
    map: &mut Map<String, Value>,
    claim: &'static str,
) -> Result<Option<String>, VerifyError> {
    match map.remove(claim) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(wrong_type(claim, "a string")),
    }
}

fn take_integer(
    map: &mut Map<String, Value>,
    claim: &'static str,
) -> Result<Option<i64>, VerifyError> {
    match map.remove(claim) {
        None => Ok(None),
        // `as_i64` is None for floats (`1.0`, `1e3`) and for integers beyond i64.
        Some(Value::Number(n)) => n
            .as_i64()
            .map(Some)
            .ok_or_else(|| wrong_type(claim, "an integer number of Unix seconds")),
        Some(_) => Err(wrong_type(claim, "an integer number of Unix seconds")),
    }
}

fn take_string_array(
    map: &mut Map<String, Value>,
    claim: &'static str,
) -> Result<Option<Vec<String>>, VerifyError> {
    match map.remove(claim) {
        None => Ok(None),
        Some(Value::Array(items)) => items
            .into_iter()
            .map(|item| match item {
                Value::String(s) => Ok(s),
                _ => Err(wrong_type(claim, "an array of strings")),
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some),
        Some(_) => Err(wrong_type(claim, "an array of strings")),
    }
}

fn take_source(map: &mut Map<String, Value>) -> Result<Option<Source>, VerifyError> {
    let mut object = match map.remove("src") {
        None => return Ok(None),
        Some(Value::Object(object)) => object,
        Some(_) => return Err(wrong_type("src", "an object")),
    };
    let mut field = |name: &'static str| match object.remove(name) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(wrong_type("src", "an object whose members are strings")),
    };
    Ok(Some(Source {
        kind: field("type")?,
        repo: field("repo")?,
        workflow: field("workflow")?,
        run_id: field("run_id")?,
        sha: field("sha")?,
    }))
}

/// The header segment an issuer emits for `kid` (always `alg: EdDSA`, `typ: om+jwt`).
pub fn encode_header(kid: &str) -> String {
    #[derive(Serialize)]
    struct Wire<'a> {
        alg: &'static str,
        typ: &'static str,
        kid: &'a str,
    }
    let json = serde_json::to_vec(&Wire {
        alg: "EdDSA",
        typ: TOKEN_TYPE,
        kid,
    })
    .expect("header serializes");
    b64::encode(&json)
}

/// The payload segment for `claims`.
pub fn encode_claims(claims: &Claims) -> String {
    b64::encode(&serde_json::to_vec(claims).expect("claims serialize"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seg(json: &str) -> String {
        b64::encode(json.as_bytes())
    }

    #[test]
    fn split_enforces_shape_and_limits() {
        assert!(split("a.b.c").is_ok());
        for bad in ["a.b", "a.b.c.d", "a.b+.c", "a.b.c=", &"a".repeat(9000)] {
            let err = split(bad).unwrap_err();
            assert_eq!(err.code(), "token_malformed", "{bad}");
            assert_eq!(err.step(), Step::Format01);
        }
        let big_header = format!("{}.b.c", "a".repeat(1025));
        assert_eq!(split(&big_header).unwrap_err().code(), "token_malformed");
        let s = split("aa.bb.cc").unwrap();
        assert_eq!(s.signing_input, "aa.bb");
    }

    #[test]
    fn header_rules() {
        let ok = decode_header(&seg(r#"{"alg":"EdDSA","typ":"OM+JWT","kid":"k1"}"#)).unwrap();
        assert_eq!(
            ok,
            Header {
                alg: Algorithm::EdDSA,
                kid: "k1".into()
            }
        );
        let ok = decode_header(&seg(
            r#"{"alg":"Ed25519","typ":"om+jwt","kid":"k1","jku":"https://evil"}"#,
        ))
        .unwrap();
        assert_eq!(ok.alg, Algorithm::Ed25519);
        let cases = [
            (
                r#"{"alg":"none","typ":"om+jwt","kid":"k"}"#,
                "algorithm_not_allowed",
            ),
            (
                r#"{"alg":"HS256","typ":"om+jwt","kid":"k"}"#,
                "algorithm_not_allowed",
            ),
            (
                r#"{"alg":"eddsa","typ":"om+jwt","kid":"k"}"#,
                "algorithm_not_allowed",
            ),
            (
                r#"{"alg":"EdDSA","typ":"JWT","kid":"k"}"#,
                "token_malformed",
            ),
            (r#"{"alg":"EdDSA","kid":"k"}"#, "token_malformed"),
            (r#"{"alg":"EdDSA","typ":"om+jwt"}"#, "token_malformed"),
            (
                r#"{"alg":"EdDSA","typ":"om+jwt","kid":""}"#,
                "token_malformed",
            ),
            (
                r#"{"alg":"EdDSA","typ":"om+jwt","kid":"k","crit":["b64"]}"#,
                "token_malformed",
            ),
            (
                r#"{"alg":"EdDSA","typ":"om+jwt","kid":"k","kid":"j"}"#,
                "token_malformed",
            ),
            (r#"["alg"]"#, "token_malformed"),
        ];
        for (json, code) in cases {
            let err = decode_header(&seg(json)).unwrap_err();
            assert_eq!(err.code(), code, "{json}");
            assert_eq!(err.step(), Step::JoseHeader02);
        }
        let long_kid = format!(
            r#"{{"alg":"EdDSA","typ":"om+jwt","kid":"{}"}}"#,
            "k".repeat(129)
        );
        assert!(decode_header(&seg(&long_kid)).is_err());
    }

    #[test]
    fn claim_types() {
        let c = decode_claims(&seg(
            r#"{"iss":"i","sub":"svc://a","aud":"a","act":"x","iat":1,"exp":2,"jti":"j","scope":["a"],"src":{"type":"t"},"extra":[1]}"#,
        ))
        .unwrap();
        assert_eq!(c.iat, Some(1));
        assert_eq!(c.src.unwrap().kind.as_deref(), Some("t"));
        let cases = [
            (r#"{"aud":["a"]}"#, "claim_invalid:aud"),
            (r#"{"iat":1.0}"#, "claim_invalid:iat"),
            (r#"{"exp":"2"}"#, "claim_invalid:exp"),
            (r#"{"exp":1e3}"#, "claim_invalid:exp"),
            (r#"{"nbf":99999999999999999999}"#, "claim_invalid:nbf"),
            (r#"{"scope":"a b"}"#, "claim_invalid:scope"),
            (r#"{"scope":[1]}"#, "claim_invalid:scope"),
            (r#"{"src":{"repo":7}}"#, "claim_invalid:src"),
            (r#"{"env":null}"#, "claim_invalid:env"),
            // Fixed order: `iss` is reported before `exp` whatever the key order.
            (r#"{"exp":"x","iss":5}"#, "claim_invalid:iss"),
            (r#"{"a":1,"a":1}"#, "token_malformed"),
            (r#"[]"#, "token_malformed"),
        ];
        for (json, code) in cases {
            let err = decode_claims(&seg(json)).unwrap_err();
            assert_eq!(err.code(), code, "{json}");
            assert_eq!(err.step(), Step::Payload03);
        }
        assert_eq!(decode_claims("!!").unwrap_err().code(), "token_malformed");
    }

    #[test]
    fn encode_round_trips() {
        let claims = Claims {
            iss: Some("https://i".into()),
            scope: Some(vec!["a".into()]),
            iat: Some(5),
            ..Claims::default()
        };
        assert_eq!(decode_claims(&encode_claims(&claims)).unwrap(), claims);
        assert_eq!(decode_header(&encode_header("kid-1")).unwrap().kid, "kid-1");
    }
}
