//! The CI side of the exchange, blocking (what `oathmesh exchange` runs inside a job):
//! ask the issuer which audience it expects, get the ID token from the CI provider, and trade
//! it for an Oath Token. Tokens never appear in errors.

use serde_json::{Value, json};
use std::time::Duration;

/// A failed step, in words for a CI log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientError {
    /// The issuer answered with a refusal (`{"error", "message", "fix"}`).
    Refused {
        status: u16,
        code: String,
        message: String,
        fix: String,
    },
    /// Anything else: connection failures, unexpected answers.
    Failed(String),
}

impl std::fmt::Display for ClientError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ClientError::Refused {
                status,
                code,
                message,
                fix,
            } => write!(f, "refused (HTTP {status} {code}): {message}. Fix: {fix}"),
            ClientError::Failed(why) => f.write_str(why),
        }
    }
}

/// A proxy from the environment is used, except for loopback (where a CI proxy would only
/// get in the way).
fn agent(url: &str) -> ureq::Agent {
    let loopback = url
        .split_once("://")
        .is_some_and(|(_, rest)| super::provider_keys::is_loopback(rest));
    ureq::Agent::new_with_config(
        ureq::Agent::config_builder()
            .timeout_global(Some(Duration::from_secs(30)))
            .http_status_as_error(false)
            .proxy(if loopback {
                None
            } else {
                ureq::Proxy::try_from_env()
            })
            .build(),
    )
}

fn read_json(
    response: ureq::http::Response<ureq::Body>,
    what: &str,
) -> Result<(u16, Value), ClientError> {
    let status = response.status().as_u16();
    let body = response
        .into_body()
        .with_config()
        .limit(256 * 1024)
        .read_to_vec()
        .map_err(|e| ClientError::Failed(format!("{what}: reading the answer failed: {e}")))?;
    let value = serde_json::from_slice(&body).map_err(|_| {
        ClientError::Failed(format!(
            "{what}: HTTP {status} with a body that is not JSON"
        ))
    })?;
    Ok((status, value))
}

/// Percent-encodes a query parameter value (RFC 3986 unreserved characters stay as they are).
pub fn query_encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The `aud` the issuer expects on `provider`'s ID tokens, from its discovery document.
pub fn id_token_audience(issuer_base: &str, provider: &str) -> Result<String, ClientError> {
    let url = format!(
        "{}/.well-known/oathmesh-issuer",
        issuer_base.trim_end_matches('/')
    );
    let what = format!("GET {url}");
    let response = agent(&url)
        .get(&url)
        .call()
        .map_err(|e| ClientError::Failed(format!("{what} failed: {e}")))?;
    let (status, doc) = read_json(response, &what)?;
    if status != 200 {
        return Err(ClientError::Failed(format!(
            "{what} answered HTTP {status}"
        )));
    }
    doc.pointer(&format!("/exchange/{provider}/id_token_audience"))
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| {
            ClientError::Failed(format!(
                "the issuer at {issuer_base} does not offer the {provider} exchange"
            ))
        })
}

/// GitHub Actions: `GET $ACTIONS_ID_TOKEN_REQUEST_URL&audience=<aud>` with
/// `Authorization: bearer $ACTIONS_ID_TOKEN_REQUEST_TOKEN`, answered `{"value": "<jwt>"}`.
/// The job needs `permissions: id-token: write` for the two variables to exist.
pub fn github_id_token(
    request_url: &str,
    request_token: &str,
    audience: &str,
) -> Result<String, ClientError> {
    let separator = if request_url.contains('?') { '&' } else { '?' };
    let url = format!(
        "{request_url}{separator}audience={}",
        query_encode(audience)
    );
    let what = "requesting the GitHub ID token";
    let response = agent(&url)
        .get(&url)
        .header("authorization", &format!("bearer {request_token}"))
        .header("accept", "application/json")
        .call()
        .map_err(|e| ClientError::Failed(format!("{what} failed: {e}")))?;
    let (status, body) = read_json(response, what)?;
    if status != 200 {
        return Err(ClientError::Failed(format!("{what}: HTTP {status}")));
    }
    body.get("value")
        .and_then(Value::as_str)
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
        .ok_or_else(|| ClientError::Failed(format!("{what}: the answer has no `value`")))
}

/// What the job asks for.
#[derive(Debug, Clone, Default)]
pub struct ExchangeAsk<'a> {
    pub aud: &'a str,
    pub act: &'a str,
    pub ttl_hint: Option<i64>,
    pub rqh: Option<&'a str>,
}

/// `POST {issuer}/v1/exchange/{provider}`; the issuer's answer (`token`, `expires_in`, ...).
pub fn exchange(
    issuer_base: &str,
    provider: &str,
    id_token: &str,
    ask: &ExchangeAsk<'_>,
) -> Result<Value, ClientError> {
    let url = format!(
        "{}/v1/exchange/{provider}",
        issuer_base.trim_end_matches('/')
    );
    let mut body = json!({"id_token": id_token, "aud": ask.aud, "act": ask.act});
    if let Some(ttl) = ask.ttl_hint {
        body["ttl_hint"] = json!(ttl);
    }
    if let Some(rqh) = ask.rqh {
        body["rqh"] = json!(rqh);
    }
    let what = format!("POST {url}");
    let response = agent(&url)
        .post(&url)
        .header("content-type", "application/json")
        .send(body.to_string().as_bytes())
        .map_err(|e| ClientError::Failed(format!("{what} failed: {e}")))?;
    let (status, answer) = read_json(response, &what)?;
    if status == 200 && answer.get("token").and_then(Value::as_str).is_some() {
        return Ok(answer);
    }
    let text = |k: &str| {
        answer
            .get(k)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned()
    };
    Err(ClientError::Refused {
        status,
        code: text("error"),
        message: text("message"),
        fix: text("fix"),
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn encodes_audiences_for_a_query() {
        assert_eq!(
            super::query_encode("https://issuer.example.com/a b"),
            "https%3A%2F%2Fissuer.example.com%2Fa%20b"
        );
    }
}
