//! Puts a [`SignedRequest`](crate::sign::SignedRequest) on the wire through
//! the host's gate, exactly as signed: the signed authority, path, headers
//! and body bytes, nothing re-encoded.

use std::time::Duration;

use crate::http::{self, Response};
use crate::sign::SignedRequest;
use crate::types::Failure;

/// Sends `signed` over `scheme` (`http` or `https`) and reads the whole
/// answer; a 4xx or 5xx answer is returned, not an error, so that callers
/// can read the provider's error body.
pub(crate) fn send_signed(
    scheme: &str,
    signed: SignedRequest,
    timeout: Duration,
) -> Result<Response, Failure> {
    let url = format!("{scheme}://{}{}", signed.authority, signed.path_and_query);
    let mut outgoing = http::Request::new(&signed.method, &url)?.timeout(timeout);
    for (name, value) in &signed.headers {
        if !name.eq_ignore_ascii_case("content-type") {
            outgoing = outgoing.header(name, value);
        }
    }
    let content_type = signed.header("content-type").unwrap_or("").to_string();
    if !signed.body.is_empty() || !content_type.is_empty() {
        outgoing = outgoing.body(&content_type, signed.body);
    }
    Ok(outgoing.send()?)
}
