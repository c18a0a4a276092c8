//! Header rewriting between the caller and the upstream: hop-by-hop headers (RFC 9110 §7.6.1)
//! are dropped both ways; the caller's credentials and any `X-OathMesh-*` header it sent are
//! dropped, so the upstream only ever sees identity headers the gateway wrote after verifying.

use crate::errors::ProxyError;
use http::Uri;
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use oathmesh_core::Caller;

pub const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
pub const X_OATHMESH_SUBJECT: HeaderName = HeaderName::from_static("x-oathmesh-subject");
pub const X_OATHMESH_ISSUER: HeaderName = HeaderName::from_static("x-oathmesh-issuer");
pub const X_OATHMESH_ACTION: HeaderName = HeaderName::from_static("x-oathmesh-action");
pub const X_OATHMESH_TOKEN_ID: HeaderName = HeaderName::from_static("x-oathmesh-token-id");
pub const X_OATHMESH_ENV: HeaderName = HeaderName::from_static("x-oathmesh-env");
pub const X_OATHMESH_TENANT: HeaderName = HeaderName::from_static("x-oathmesh-tenant");
pub const X_OATHMESH_SCOPE: HeaderName = HeaderName::from_static("x-oathmesh-scope");

const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
const X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");
const X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");

/// Header names are lowercase in `http`, so a prefix test on the name catches every casing
/// the caller used.
const OATHMESH_PREFIX: &str = "x-oathmesh-";

/// Longest `X-Request-Id` taken from a caller; anything else is replaced by a fresh id.
const MAX_REQUEST_ID_LEN: usize = 128;

const HOP_BY_HOP: [HeaderName; 9] = [
    header::CONNECTION,
    HeaderName::from_static("keep-alive"),
    HeaderName::from_static("proxy-connection"),
    header::PROXY_AUTHENTICATE,
    header::PROXY_AUTHORIZATION,
    header::TE,
    header::TRAILER,
    header::TRANSFER_ENCODING,
    header::UPGRADE,
];

/// The configured request-head limits.
#[derive(Debug, Clone, Copy)]
pub struct HeadLimits {
    pub max_uri_bytes: usize,
    pub max_headers: usize,
    pub max_header_bytes: usize,
}

/// 414 for a long target, 431 for too many header fields or bytes.
pub fn check_head(uri: &Uri, headers: &HeaderMap, limits: HeadLimits) -> Result<(), ProxyError> {
    let target_len = uri.path_and_query().map_or(0, |pq| pq.as_str().len())
        + uri.authority().map_or(0, |a| a.as_str().len());
    if target_len > limits.max_uri_bytes {
        return Err(ProxyError::UriTooLong);
    }
    if headers.len() > limits.max_headers {
        return Err(ProxyError::HeadersTooLarge);
    }
    let bytes: usize = headers
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len())
        .sum();
    if bytes > limits.max_header_bytes {
        return Err(ProxyError::HeadersTooLarge);
    }
    Ok(())
}

/// The value of the one `Authorization` header. Several are treated as none (so the caller
/// gets `claim_missing:token`): which one counts would otherwise be ambiguous.
pub fn authorization(headers: &HeaderMap) -> Option<&str> {
    let mut values = headers.get_all(header::AUTHORIZATION).iter();
    let first = values.next()?;
    if values.next().is_some() {
        return None;
    }
    first.to_str().ok()
}

/// The caller's `X-Request-Id` when it is one short printable value, else a fresh random id.
pub fn request_id(headers: &HeaderMap) -> String {
    let mut values = headers.get_all(X_REQUEST_ID).iter();
    if let (Some(value), None) = (values.next(), values.next()) {
        let bytes = value.as_bytes();
        if (1..=MAX_REQUEST_ID_LEN).contains(&bytes.len())
            && bytes.iter().all(|b| b.is_ascii_graphic())
        {
            return String::from_utf8_lossy(bytes).into_owned();
        }
    }
    new_request_id()
}

fn new_request_id() -> String {
    let mut raw = [0u8; 16];
    getrandom::getrandom(&mut raw).expect("the OS random source is available");
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut id = String::with_capacity(32);
    for b in raw {
        id.push(HEX[usize::from(b >> 4)] as char);
        id.push(HEX[usize::from(b & 15)] as char);
    }
    id
}

/// Drops hop-by-hop headers, including those the `Connection` header names.
pub fn remove_hop_by_hop(headers: &mut HeaderMap) {
    let listed: Vec<HeaderName> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|name| HeaderName::from_bytes(name.trim().as_bytes()).ok())
        .collect();
    for name in listed.iter().chain(HOP_BY_HOP.iter()) {
        headers.remove(name);
    }
}

/// Drops every `X-OathMesh-*` header, whatever its case.
pub fn remove_oathmesh(headers: &mut HeaderMap) {
    let forged: Vec<HeaderName> = headers
        .keys()
        .filter(|name| name.as_str().starts_with(OATHMESH_PREFIX))
        .cloned()
        .collect();
    for name in forged {
        headers.remove(name);
    }
}

/// Turns the caller's request head into the upstream's: credentials, forged identity and
/// hop-by-hop headers out; verified identity, request id and forwarding headers in.
pub fn rewrite_request_headers(
    headers: &mut HeaderMap,
    caller: &Caller,
    request_id: &str,
    client_ip: Option<std::net::IpAddr>,
    proto: &'static str,
) -> Result<(), ProxyError> {
    remove_hop_by_hop(headers);
    headers.remove(header::AUTHORIZATION);
    remove_oathmesh(headers);

    let identity = [
        (X_OATHMESH_SUBJECT, Some(caller.subject.as_str())),
        (X_OATHMESH_ISSUER, Some(caller.issuer.as_str())),
        (X_OATHMESH_ACTION, Some(caller.action.as_str())),
        (X_OATHMESH_TOKEN_ID, Some(caller.token_id.as_str())),
        (X_OATHMESH_ENV, caller.env.as_deref()),
        (X_OATHMESH_TENANT, caller.tenant.as_deref()),
    ];
    for (name, value) in identity {
        if let Some(value) = value {
            headers.insert(name, header_value(value)?);
        }
    }
    if !caller.scope.is_empty() {
        headers.insert(X_OATHMESH_SCOPE, header_value(&caller.scope.join(" "))?);
    }

    headers.insert(
        X_REQUEST_ID,
        HeaderValue::from_str(request_id).expect("request ids are printable ASCII"),
    );
    if let Some(host) = headers.remove(header::HOST) {
        headers.insert(X_FORWARDED_HOST, host);
    }
    headers.insert(X_FORWARDED_PROTO, HeaderValue::from_static(proto));
    if let Some(ip) = client_ip {
        append_forwarded_for(headers, ip);
    }
    Ok(())
}

/// Claims are UTF-8 text; header values are bytes without control characters. UTF-8 passes
/// as is (obs-text); a control character cannot be forwarded faithfully, so it is refused.
fn header_value(text: &str) -> Result<HeaderValue, ProxyError> {
    HeaderValue::from_bytes(text.as_bytes()).map_err(|_| ProxyError::ClaimNotForwardable)
}

fn append_forwarded_for(headers: &mut HeaderMap, ip: std::net::IpAddr) {
    let value = match headers.get(&X_FORWARDED_FOR).and_then(|v| v.to_str().ok()) {
        Some(previous) => format!("{previous}, {ip}"),
        None => ip.to_string(),
    };
    if let Ok(value) = HeaderValue::from_str(&value) {
        headers.insert(X_FORWARDED_FOR, value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caller() -> Caller {
        Caller {
            issuer: "https://issuer.internal".into(),
            subject: "svc://checkout".into(),
            audience: "https://billing.internal".into(),
            action: "charge".into(),
            token_id: "jti-1".into(),
            issued_at: 0,
            expires_at: 60,
            scope: vec!["a".into(), "b".into()],
            env: Some("prod".into()),
            tenant: None,
            reason: None,
            source: None,
            delegated_by: None,
            policy_rule: None,
        }
    }

    #[test]
    fn rewrite_strips_forgeries_and_injects_identity() {
        let mut h = HeaderMap::new();
        h.insert(header::AUTHORIZATION, "OathMesh a.b.c".parse().unwrap());
        h.insert("X-OathMesh-Subject", "svc://forged".parse().unwrap());
        h.insert("x-oathmesh-tenant", "forged".parse().unwrap());
        h.insert("X-OATHMESH-SOMETHING-ELSE", "forged".parse().unwrap());
        h.insert(header::CONNECTION, "close, x-secret-hop".parse().unwrap());
        h.insert("x-secret-hop", "1".parse().unwrap());
        h.insert(header::HOST, "gateway.example".parse().unwrap());
        h.insert("x-app", "kept".parse().unwrap());
        rewrite_request_headers(
            &mut h,
            &caller(),
            "rid",
            Some([127, 0, 0, 1].into()),
            "http",
        )
        .unwrap();
        assert!(h.get(header::AUTHORIZATION).is_none());
        assert_eq!(h["x-oathmesh-subject"], "svc://checkout");
        assert!(
            h.get("x-oathmesh-tenant").is_none(),
            "no tenant claim, no header"
        );
        assert!(h.get("x-oathmesh-something-else").is_none());
        assert_eq!(h["x-oathmesh-scope"], "a b");
        assert_eq!(h["x-oathmesh-env"], "prod");
        assert!(h.get("x-secret-hop").is_none());
        assert!(h.get(header::CONNECTION).is_none());
        assert_eq!(h["x-app"], "kept");
        assert_eq!(h["x-forwarded-host"], "gateway.example");
        assert_eq!(h["x-forwarded-for"], "127.0.0.1");
        assert_eq!(h["x-request-id"], "rid");
    }

    #[test]
    fn control_characters_in_claims_are_refused() {
        let mut c = caller();
        c.tenant = Some("a\nX-Injected: 1".into());
        let err =
            rewrite_request_headers(&mut HeaderMap::new(), &c, "rid", None, "http").unwrap_err();
        assert_eq!(err, ProxyError::ClaimNotForwardable);
    }

    #[test]
    fn request_ids() {
        let mut h = HeaderMap::new();
        assert_eq!(request_id(&h).len(), 32);
        assert_ne!(request_id(&h), request_id(&h));
        h.insert(X_REQUEST_ID, "abc-123".parse().unwrap());
        assert_eq!(request_id(&h), "abc-123");
        h.insert(X_REQUEST_ID, "has space".parse().unwrap());
        assert_eq!(request_id(&h).len(), 32);
        h.insert(X_REQUEST_ID, "x".repeat(129).parse().unwrap());
        assert_eq!(request_id(&h).len(), 32);
    }

    #[test]
    fn several_authorization_headers_count_as_none() {
        let mut h = HeaderMap::new();
        h.append(header::AUTHORIZATION, "OathMesh a.b.c".parse().unwrap());
        assert_eq!(authorization(&h), Some("OathMesh a.b.c"));
        h.append(header::AUTHORIZATION, "OathMesh d.e.f".parse().unwrap());
        assert_eq!(authorization(&h), None);
    }
}
