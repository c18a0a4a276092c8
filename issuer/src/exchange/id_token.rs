//! Verifying a CI provider's OIDC ID token: RS256 only, a key from the provider's JWKS,
//! `iss` exact, `aud` exactly the configured audience, `exp`/`iat`/`nbf` with leeway.
//! The single-use (`jti`) check comes later, once the exchange is known to be allowed, so a
//! refused request does not burn the token.

use super::provider_keys::{KeyError, ProviderKeys};
use oathmesh_core::{b64, strict_json};
use rsa::Pkcs1v15Sign;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use std::sync::Arc;

/// Longest accepted ID token (GitHub's and GitLab's are 1-3 KiB).
pub const MAX_ID_TOKEN_BYTES: usize = 16 * 1024;

/// What an ID token is checked against.
pub struct Expectations<'a> {
    pub issuer: &'a str,
    pub audience: &'a str,
    pub leeway_secs: i64,
    pub now: i64,
}

/// Why an ID token was refused. The message names the check and never echoes the token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdTokenError {
    /// The token failed a check: answered 401 `id_token_invalid`.
    Invalid(String),
    /// The provider's keys could not be fetched: answered 503 `provider_unavailable`.
    ProviderUnavailable(String),
}

fn invalid(message: impl Into<String>) -> IdTokenError {
    IdTokenError::Invalid(message.into())
}

/// A verified ID token's claims, and a value naming it for the single-use check.
#[derive(Debug)]
pub struct VerifiedIdToken {
    pub claims: Map<String, Value>,
    /// The `jti`, or when absent the SHA-256 of the signing input (so a token without `jti`
    /// is still used once).
    pub replay_key: String,
    /// Until when the replay record must be kept (`exp` + leeway).
    pub remember_until: i64,
}

fn decode_json(segment: &str, what: &str) -> Result<Map<String, Value>, IdTokenError> {
    let bytes = b64::decode(segment)
        .ok_or_else(|| invalid(format!("malformed: {what} is not base64url")))?;
    match strict_json::parse(&bytes) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(invalid(format!("malformed: {what} is not a JSON object"))),
    }
}

/// Runs every check except single use. `keys` is consulted only for a well-formed RS256
/// header, so garbage never causes a JWKS fetch.
pub fn verify(
    token: &str,
    keys: &ProviderKeys,
    expect: &Expectations<'_>,
) -> Result<VerifiedIdToken, IdTokenError> {
    if token.is_empty() || token.len() > MAX_ID_TOKEN_BYTES {
        return Err(invalid(format!(
            "malformed: an ID token is 1 to {MAX_ID_TOKEN_BYTES} bytes"
        )));
    }
    let mut parts = token.split('.');
    let (Some(header_b64), Some(payload_b64), Some(signature_b64), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(invalid(
            "malformed: an ID token is three dot-separated segments (a JWS)",
        ));
    };
    let header = decode_json(header_b64, "header")?;
    let alg = header.get("alg").and_then(Value::as_str).unwrap_or("");
    if alg != "RS256" {
        return Err(invalid(format!(
            "alg not allowed: `{}` (CI ID tokens are RS256)",
            alg.chars().take(16).collect::<String>()
        )));
    }
    if header.contains_key("crit") {
        return Err(invalid("malformed: the header has `crit` extensions"));
    }
    let kid = header
        .get("kid")
        .and_then(Value::as_str)
        .filter(|k| !k.is_empty() && k.len() <= 256)
        .ok_or_else(|| invalid("malformed: the header has no `kid`"))?;
    let key = keys.lookup(kid).map_err(|e| match e {
        KeyError::UnknownKid => invalid("unknown kid: the provider's JWKS has no such key"),
        KeyError::Unavailable(why) => IdTokenError::ProviderUnavailable(why),
    })?;
    let signature =
        b64::decode(signature_b64).ok_or_else(|| invalid("bad signature: not base64url"))?;
    let signing_input = &token[..header_b64.len() + 1 + payload_b64.len()];
    let digest = Sha256::digest(signing_input.as_bytes());
    verify_rs256(&key, &digest, &signature)?;

    let claims = decode_json(payload_b64, "payload")?;
    check_claims(&claims, expect)?;
    let exp = claims.get("exp").and_then(Value::as_i64).unwrap_or(0);
    let replay_key = match claims.get("jti") {
        Some(Value::String(jti)) if !jti.is_empty() && jti.len() <= 256 => format!("jti:{jti}"),
        None => format!(
            "sha256:{}",
            digest
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<String>()
        ),
        Some(_) => return Err(invalid("malformed: `jti` must be a non-empty string")),
    };
    Ok(VerifiedIdToken {
        claims,
        replay_key,
        remember_until: exp.saturating_add(expect.leeway_secs),
    })
}

fn verify_rs256(
    key: &Arc<rsa::RsaPublicKey>,
    digest: &[u8],
    signature: &[u8],
) -> Result<(), IdTokenError> {
    use rsa::traits::PublicKeyParts;
    // PKCS#1 v1.5 signatures are exactly the modulus length; anything else is not one.
    if signature.len() != key.size() {
        return Err(invalid("bad signature: wrong length for the key"));
    }
    key.verify(Pkcs1v15Sign::new::<Sha256>(), digest, signature)
        .map_err(|_| invalid("bad signature: it does not verify with the provider's key"))
}

fn check_claims(
    claims: &Map<String, Value>,
    expect: &Expectations<'_>,
) -> Result<(), IdTokenError> {
    let leeway = expect.leeway_secs;
    match claims.get("iss").and_then(Value::as_str) {
        Some(iss) if iss == expect.issuer => {}
        Some(_) => return Err(invalid(format!("wrong iss: expected `{}`", expect.issuer))),
        None => return Err(invalid("wrong iss: the token has no `iss`")),
    }
    // A single audience: a string, or an array of exactly one. A token minted for several
    // audiences could be replayed by any of them.
    let aud_ok = match claims.get("aud") {
        Some(Value::String(a)) => a == expect.audience,
        Some(Value::Array(list)) => list.len() == 1 && list[0].as_str() == Some(expect.audience),
        _ => false,
    };
    if !aud_ok {
        return Err(invalid(format!(
            "wrong aud: the ID token must be requested for exactly `{}`",
            expect.audience
        )));
    }
    let int = |name: &str| -> Result<Option<i64>, IdTokenError> {
        match claims.get(name) {
            None => Ok(None),
            Some(v) => v
                .as_i64()
                .map(Some)
                .ok_or_else(|| invalid(format!("malformed: `{name}` must be an integer"))),
        }
    };
    let exp = int("exp")?.ok_or_else(|| invalid("malformed: the token has no `exp`"))?;
    let iat = int("iat")?.ok_or_else(|| invalid("malformed: the token has no `iat`"))?;
    if expect.now > exp.saturating_add(leeway) {
        return Err(invalid("expired: `exp` is in the past"));
    }
    if iat > expect.now.saturating_add(leeway) {
        return Err(invalid(
            "issued in the future: `iat` is ahead of the issuer's clock",
        ));
    }
    if int("nbf")?.is_some_and(|nbf| nbf > expect.now.saturating_add(leeway)) {
        return Err(invalid("not yet valid: `nbf` is in the future"));
    }
    if exp <= iat {
        return Err(invalid("malformed: `exp` is not after `iat`"));
    }
    Ok(())
}
