//! The one body type the gateway sends both ways: either a buffered body (checked for a
//! request binding) or the peer's body streamed through untouched.

use bytes::Bytes;
use http_body_util::{BodyExt, Full, combinators::UnsyncBoxBody};

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A request or response body, boxed so buffered and streamed bodies share one type.
pub type GatewayBody = UnsyncBoxBody<Bytes, BoxError>;

/// A body held in memory.
pub fn full(bytes: Bytes) -> GatewayBody {
    Full::new(bytes)
        .map_err(|never| match never {})
        .boxed_unsync()
}

/// A peer's body, streamed frame by frame.
pub fn stream<B>(body: B) -> GatewayBody
where
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    body.map_err(Into::into).boxed_unsync()
}
