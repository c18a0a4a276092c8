//! The gateway's own JSON answers. Verification failures reuse the core's failure body
//! (docs/protocol.md, "Pipeline"); failures of the proxying itself (limits, upstream) use the
//! same shape without `step`, so a caller parses every error the gateway returns the same way.

use crate::body::{GatewayBody, full};
use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode, header};
use oathmesh_core::VerifyError;
use serde::Serialize;

/// A failure of the proxying itself, not of the token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProxyError {
    /// The upstream refused the connection, reset it, or sent something unparseable (502).
    UpstreamUnavailable,
    /// The upstream did not send its response head in time (504).
    UpstreamTimeout,
    /// A body that had to be buffered for request binding is over `max_body_bytes` (413).
    BodyTooLarge,
    /// The request target is over `max_uri_bytes` (414).
    UriTooLong,
    /// Too many header fields, or too many header bytes (431).
    HeadersTooLarge,
    /// The caller's body could not be read (it hung up or sent bad framing) (400).
    BodyReadFailed,
    /// A verified claim cannot be written as an HTTP header (control characters) (400).
    ClaimNotForwardable,
    /// The request target cannot be put after the upstream URL (`OPTIONS *`, ...) (400).
    RequestTargetInvalid,
}

impl ProxyError {
    pub fn code(self) -> &'static str {
        match self {
            ProxyError::UpstreamUnavailable => "upstream_unavailable",
            ProxyError::UpstreamTimeout => "upstream_timeout",
            ProxyError::BodyTooLarge => "body_too_large",
            ProxyError::UriTooLong => "uri_too_long",
            ProxyError::HeadersTooLarge => "headers_too_large",
            ProxyError::BodyReadFailed => "body_read_failed",
            ProxyError::ClaimNotForwardable => "claim_not_forwardable",
            ProxyError::RequestTargetInvalid => "request_target_invalid",
        }
    }

    pub fn status(self) -> StatusCode {
        match self {
            ProxyError::UpstreamUnavailable => StatusCode::BAD_GATEWAY,
            ProxyError::UpstreamTimeout => StatusCode::GATEWAY_TIMEOUT,
            ProxyError::BodyTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ProxyError::UriTooLong => StatusCode::URI_TOO_LONG,
            ProxyError::HeadersTooLarge => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            ProxyError::BodyReadFailed
            | ProxyError::ClaimNotForwardable
            | ProxyError::RequestTargetInvalid => StatusCode::BAD_REQUEST,
        }
    }

    fn message(self) -> &'static str {
        match self {
            ProxyError::UpstreamUnavailable => "the upstream service could not be reached",
            ProxyError::UpstreamTimeout => "the upstream service did not answer in time",
            ProxyError::BodyTooLarge => {
                "the request body is larger than the gateway buffers to check a request binding"
            }
            ProxyError::UriTooLong => "the request target is longer than the gateway accepts",
            ProxyError::HeadersTooLarge => {
                "the request has more header fields or header bytes than the gateway accepts"
            }
            ProxyError::BodyReadFailed => "the request body could not be read",
            ProxyError::ClaimNotForwardable => {
                "a verified claim contains characters that cannot be sent in an HTTP header"
            }
            ProxyError::RequestTargetInvalid => "the request target cannot be forwarded",
        }
    }

    fn fix(self) -> &'static str {
        match self {
            ProxyError::UpstreamUnavailable => {
                "Check that the upstream is running at the gateway's `upstream` URL, then retry."
            }
            ProxyError::UpstreamTimeout => {
                "Retry later, or raise `upstream_timeout_ms` if the upstream is legitimately slow."
            }
            ProxyError::BodyTooLarge => {
                "Send a smaller body, mint the token without `rqh`, or raise `max_body_bytes`."
            }
            ProxyError::UriTooLong => "Move large parameters into the request body.",
            ProxyError::HeadersTooLarge => "Send fewer or smaller headers.",
            ProxyError::BodyReadFailed => "Send the body completely, with valid framing.",
            ProxyError::ClaimNotForwardable => {
                "Mint the token without control characters in iss, jti, env, tenant or scope."
            }
            ProxyError::RequestTargetInvalid => "Send an origin-form target such as `/path?query`.",
        }
    }

    pub fn to_json(self, request_id: &str) -> String {
        #[derive(Serialize)]
        struct Body<'a> {
            error: &'a str,
            message: &'a str,
            fix: &'a str,
            request_id: &'a str,
        }
        serde_json::to_string(&Body {
            error: self.code(),
            message: self.message(),
            fix: self.fix(),
            request_id,
        })
        .expect("error body serializes")
    }

    pub fn response(self, request_id: &str) -> Response<GatewayBody> {
        json_response(self.status(), self.to_json(request_id), request_id)
    }
}

/// The core's answer to a failed verification (docs/protocol.md, "Pipeline").
pub fn verify_error_response(error: &VerifyError, request_id: &str) -> Response<GatewayBody> {
    let status =
        StatusCode::from_u16(error.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = json_response(status, error.to_json(Some(request_id)), request_id);
    if status == StatusCode::UNAUTHORIZED {
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("OathMesh"),
        );
    }
    response
}

fn json_response(status: StatusCode, body: String, request_id: &str) -> Response<GatewayBody> {
    let mut response = Response::new(full(Bytes::from(body)));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Ok(value) = HeaderValue::from_str(request_id) {
        headers.insert(crate::headers::X_REQUEST_ID, value);
    }
    response
}
