//! The wire format (PROTOCOL §1): splitting a compact JWS, decoding its header (step 02) and
//! claims (step 03) into typed structs, and encoding them for issuance.
//!
//! Decoding only checks shape and types; claim *formats* are checked by [`crate::wire::claims`] at
//! step 11, so the pipeline can report the issuer check (step 04) before format errors.

use crate::verify::error::{ErrorKind, Step, VerifyError};
use crate::wire::b64;
use crate::wire::raw_json::{self, Fields, NOT_AN_OBJECT, Raw, RawObject, RawStrings};
use crate::wire::strict_json::DUPLICATE_KEY;
use serde::Serialize;
use serde::de::MapAccess;

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

/// Which segment is being decoded, for error messages.
#[derive(Clone, Copy)]
enum Segment {
    Header,
    Payload,
}

/// Decodes one segment into the typed fields `T`, rejecting duplicate keys at any depth.
fn parse_segment<T: Fields>(segment: &str, step: Step, which: Segment) -> Result<T, VerifyError> {
    let header = matches!(which, Segment::Header);
    let bytes = b64::decode(segment).ok_or_else(|| {
        malformed(
            step,
            if header {
                "the header segment is not canonical unpadded base64url"
            } else {
                "the payload segment is not canonical unpadded base64url"
            },
        )
    })?;
    raw_json::parse_object::<T>(&bytes).map_err(|err| {
        let text = err.to_string();
        let message = match (header, text.as_str()) {
            (true, t) if t.starts_with(DUPLICATE_KEY) => "the header repeats a member name",
            (false, t) if t.starts_with(DUPLICATE_KEY) => "the payload repeats a claim name",
            (true, t) if t.starts_with(NOT_AN_OBJECT) => "the header is not a JSON object",
            (false, t) if t.starts_with(NOT_AN_OBJECT) => "the payload is not a JSON object",
            (true, _) => "the header is not valid UTF-8 JSON",
            (false, _) => "the payload is not valid UTF-8 JSON",
        };
        malformed(step, message)
    })
}

#[derive(Default)]
struct RawHeader {
    alg: Option<Raw>,
    typ: Option<Raw>,
    kid: Option<Raw>,
    crit: bool,
}

impl Fields for RawHeader {
    const NAMES: &'static [&'static str] = &["alg", "typ", "kid", "crit"];
    fn set<'de, A: MapAccess<'de>>(&mut self, index: usize, map: &mut A) -> Result<(), A::Error> {
        match index {
            0 => raw_json::take(map, &mut self.alg),
            1 => raw_json::take(map, &mut self.typ),
            2 => raw_json::take(map, &mut self.kid),
            _ => raw_json::mark(map, &mut self.crit),
        }
    }
}

/// Step 02: the JOSE header. Checked in this order: JSON, `crit`, `typ`, `alg`, `kid`.
pub fn decode_header(segment: &str) -> Result<Header, VerifyError> {
    const STEP: Step = Step::JoseHeader02;
    let raw: RawHeader = parse_segment(segment, STEP, Segment::Header)?;
    if raw.crit {
        return Err(malformed(
            STEP,
            "the header has `crit`; OathMesh understands no JOSE extensions",
        ));
    }
    match &raw.typ {
        Some(Raw::Str(typ)) if typ.eq_ignore_ascii_case(TOKEN_TYPE) => {}
        Some(Raw::Str(_)) => return Err(malformed(STEP, "the header `typ` is not om+jwt")),
        _ => return Err(malformed(STEP, "the header has no string `typ`")),
    }
    let alg = match &raw.alg {
        Some(Raw::Str(name)) => Algorithm::parse(name).ok_or_else(|| {
            VerifyError::new(
                ErrorKind::AlgorithmNotAllowed,
                STEP,
                "the header `alg` is not EdDSA or Ed25519",
            )
        })?,
        _ => return Err(malformed(STEP, "the header has no string `alg`")),
    };
    let kid = match raw.kid {
        Some(Raw::Str(kid)) if is_valid_kid(&kid) => kid,
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

#[derive(Default)]
struct RawClaims {
    iss: Option<Raw>,
    sub: Option<Raw>,
    aud: Option<Raw>,
    act: Option<Raw>,
    iat: Option<Raw>,
    exp: Option<Raw>,
    jti: Option<Raw>,
    nbf: Option<Raw>,
    scope: Option<RawStrings>,
    reason: Option<Raw>,
    env: Option<Raw>,
    tenant: Option<Raw>,
    src: Option<RawObject<RawSource>>,
    delegated_by: Option<Raw>,
    rqh: Option<Raw>,
}

impl Fields for RawClaims {
    const NAMES: &'static [&'static str] = &[
        "iss",
        "sub",
        "aud",
        "act",
        "iat",
        "exp",
        "jti",
        "nbf",
        "scope",
        "reason",
        "env",
        "tenant",
        "src",
        "delegated_by",
        "rqh",
    ];
    fn set<'de, A: MapAccess<'de>>(&mut self, index: usize, map: &mut A) -> Result<(), A::Error> {
        match index {
            0 => raw_json::take(map, &mut self.iss),
            1 => raw_json::take(map, &mut self.sub),
            2 => raw_json::take(map, &mut self.aud),
            3 => raw_json::take(map, &mut self.act),
            4 => raw_json::take(map, &mut self.iat),
            5 => raw_json::take(map, &mut self.exp),
            6 => raw_json::take(map, &mut self.jti),
            7 => raw_json::take(map, &mut self.nbf),
            8 => raw_json::take(map, &mut self.scope),
            9 => raw_json::take(map, &mut self.reason),
            10 => raw_json::take(map, &mut self.env),
            11 => raw_json::take(map, &mut self.tenant),
            12 => raw_json::take(map, &mut self.src),
            13 => raw_json::take(map, &mut self.delegated_by),
            _ => raw_json::take(map, &mut self.rqh),
        }
    }
}

#[derive(Default)]
struct RawSource {
    kind: Option<Raw>,
    repo: Option<Raw>,
    workflow: Option<Raw>,
    run_id: Option<Raw>,
    sha: Option<Raw>,
}

impl Fields for RawSource {
    const NAMES: &'static [&'static str] = &["type", "repo", "workflow", "run_id", "sha"];
    fn set<'de, A: MapAccess<'de>>(&mut self, index: usize, map: &mut A) -> Result<(), A::Error> {
        match index {
            0 => raw_json::take(map, &mut self.kind),
            1 => raw_json::take(map, &mut self.repo),
            2 => raw_json::take(map, &mut self.workflow),
            3 => raw_json::take(map, &mut self.run_id),
            _ => raw_json::take(map, &mut self.sha),
        }
    }
}

/// Step 03: the claims object and each claim's JSON type. Types are checked in a fixed claim
/// order so the reported claim never depends on the order of keys in the JSON text.
pub fn decode_claims(segment: &str) -> Result<Claims, VerifyError> {
    let raw: RawClaims = parse_segment(segment, Step::Payload03, Segment::Payload)?;
    Ok(Claims {
        iss: string(raw.iss, "iss")?,
        sub: string(raw.sub, "sub")?,
        aud: string(raw.aud, "aud")?,
        act: string(raw.act, "act")?,
        iat: integer(raw.iat, "iat")?,
        exp: integer(raw.exp, "exp")?,
        jti: string(raw.jti, "jti")?,
        nbf: integer(raw.nbf, "nbf")?,
        scope: match raw.scope {
            None => None,
            Some(RawStrings(Some(items))) => Some(items),
            Some(RawStrings(None)) => return Err(wrong_type("scope", "an array of strings")),
        },
        reason: string(raw.reason, "reason")?,
        env: string(raw.env, "env")?,
        tenant: string(raw.tenant, "tenant")?,
        src: match raw.src {
            None => None,
            Some(RawObject(Some(src))) => Some(source(src)?),
            Some(RawObject(None)) => return Err(wrong_type("src", "an object")),
        },
        delegated_by: string(raw.delegated_by, "delegated_by")?,
        rqh: string(raw.rqh, "rqh")?,
    })
}

fn wrong_type(claim: &'static str, expected: &'static str) -> VerifyError {
    VerifyError::claim_invalid(
        claim,
        Step::Payload03,
        format!("the claim `{claim}` must be {expected}"),
    )
}

fn string(raw: Option<Raw>, claim: &'static str) -> Result<Option<String>, VerifyError> {
    match raw {
        None => Ok(None),
        Some(Raw::Str(s)) => Ok(Some(s)),
        Some(_) => Err(wrong_type(claim, "a string")),
    }
}

fn integer(raw: Option<Raw>, claim: &'static str) -> Result<Option<i64>, VerifyError> {
    match raw {
        None => Ok(None),
        Some(Raw::Int(n)) => Ok(Some(n)),
        Some(_) => Err(wrong_type(claim, "an integer number of Unix seconds")),
    }
}

fn source(raw: RawSource) -> Result<Source, VerifyError> {
    let field = |raw: Option<Raw>| match raw {
        None => Ok(None),
        Some(Raw::Str(s)) => Ok(Some(s)),
        Some(_) => Err(wrong_type("src", "an object whose members are strings")),
    };
    Ok(Source {
        kind: field(raw.kind)?,
        repo: field(raw.repo)?,
        workflow: field(raw.workflow)?,
        run_id: field(raw.run_id)?,
        sha: field(raw.sha)?,
    })
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
