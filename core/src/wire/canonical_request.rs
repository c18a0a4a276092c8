//! Request binding (PROTOCOL §4): a token may carry `rqh`, the hash of the one request it
//! was minted for, so a stolen token cannot be spent on a different method, path, query or
//! body.

use sha2::{Digest, Sha256};
use std::fmt::Write;

/// The parts of an HTTP request that a binding covers, exactly as received.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RequestParts<'a> {
    pub method: &'a str,
    /// The request target's path and query, as sent (`/a%2Fb?x=1&y=2`).
    pub path_and_query: &'a str,
    pub body: &'a [u8],
}

fn lower_hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(out, "{b:02x}");
    }
    out
}

/// The four-line canonical request:
/// `METHOD \n PATH \n SORTED-QUERY \n hex(sha256(body))`.
pub fn canonical_request(method: &str, path_and_query: &str, body: &[u8]) -> String {
    let (path, query) = match path_and_query.split_once('?') {
        Some((path, query)) => (path, query),
        None => (path_and_query, ""),
    };
    let path = if path.is_empty() { "/" } else { path };
    // Pairs are sorted by (key, value) bytewise, percent-encoding untouched. Empty pairs
    // (`a=1&&b=2`) are kept: "exactly as sent" means no normalisation beyond the order.
    let mut pairs: Vec<(&str, &str, &str)> = query
        .split('&')
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (k, v, pair)
        })
        .collect();
    // `a` and `a=` have equal (key, value); the raw text breaks the tie so the order is total.
    pairs.sort_unstable_by(|a, b| {
        (a.0.as_bytes(), a.1.as_bytes(), a.2.as_bytes()).cmp(&(
            b.0.as_bytes(),
            b.1.as_bytes(),
            b.2.as_bytes(),
        ))
    });
    let sorted_query = pairs.iter().map(|p| p.2).collect::<Vec<_>>().join("&");
    format!(
        "{}\n{}\n{}\n{}",
        method.to_ascii_uppercase(),
        path,
        sorted_query,
        lower_hex(&Sha256::digest(body))
    )
}

/// `sha256:<hex>` of the canonical request: the value of the `rqh` claim.
pub fn canonical_request_hash(method: &str, path_and_query: &str, body: &[u8]) -> String {
    let canonical = canonical_request(method, path_and_query, body);
    format!(
        "sha256:{}",
        lower_hex(&Sha256::digest(canonical.as_bytes()))
    )
}

impl RequestParts<'_> {
    pub fn hash(&self) -> String {
        canonical_request_hash(self.method, self.path_and_query, self.body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EMPTY_SHA: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    #[test]
    fn canonical_form() {
        assert_eq!(
            canonical_request("get", "", b""),
            format!("GET\n/\n\n{EMPTY_SHA}")
        );
        assert_eq!(
            canonical_request("GET", "/a?", b""),
            format!("GET\n/a\n\n{EMPTY_SHA}")
        );
        assert_eq!(
            canonical_request("POST", "/v1/x?b=2&a=9&a=1", b""),
            format!("POST\n/v1/x\na=1&a=9&b=2\n{EMPTY_SHA}")
        );
    }

    #[test]
    fn percent_encoding_is_untouched() {
        let a = canonical_request("GET", "/files/a%2Fb?q=%41", b"");
        assert!(a.contains("/files/a%2Fb\nq=%41\n"));
        assert_ne!(
            canonical_request_hash("GET", "/files/a%2Fb", b""),
            canonical_request_hash("GET", "/files/a/b", b"")
        );
        assert_ne!(
            canonical_request_hash("GET", "/?q=%41", b""),
            canonical_request_hash("GET", "/?q=A", b"")
        );
    }

    #[test]
    fn repeated_keys_empty_values_and_flags() {
        let c = canonical_request("GET", "/?z&a=&a=b&a", b"");
        assert!(c.contains("\na&a=&a=b&z\n"), "{c}");
        // Order of the pairs in the request does not matter; their contents do.
        assert_eq!(
            canonical_request_hash("GET", "/?a=1&b=2", b""),
            canonical_request_hash("GET", "/?b=2&a=1", b"")
        );
        assert_ne!(
            canonical_request_hash("GET", "/?a=1", b""),
            canonical_request_hash("GET", "/?a=1&a=1", b"")
        );
    }

    #[test]
    fn body_and_method_matter() {
        let h = canonical_request_hash("POST", "/pay", br#"{"amount":1}"#);
        assert!(h.starts_with("sha256:") && h.len() == 71);
        assert_ne!(
            h,
            canonical_request_hash("POST", "/pay", br#"{"amount":100}"#)
        );
        assert_ne!(h, canonical_request_hash("PUT", "/pay", br#"{"amount":1}"#));
        assert_eq!(
            h,
            canonical_request_hash("post", "/pay", br#"{"amount":1}"#)
        );
    }

    #[test]
    fn known_answer() {
        // sha256("GET\n/\n\n" + EMPTY_SHA), computed independently with `sha256sum`.
        assert_eq!(
            canonical_request_hash("GET", "/", b""),
            "sha256:7ab4e29f815aa5cca74727c3b5bbea3e2fa3d33ea85848c546d53ea2c67e0e77"
        );
    }
}
