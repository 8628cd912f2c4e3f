//! Calling Alibaba Cloud RPC-style APIs from a component: sign with
//! `ACS3-HMAC-SHA256`, send through the host's gate, and classify the
//! provider's errors into typed failures.
//!
//! Error codes follow `shared/reference/providers.md` §1.3, which cites the
//! Alibaba Cloud error-code pages. Alibaba answers throttling with HTTP 400,
//! so classification goes by `Code`, never by status alone.

use std::time::Duration;

use crate::failure;
use crate::http::{self, Url};
use crate::sign::{self, Credential, acs3};
use crate::types::{Failure, FailureKind};

/// An RPC endpoint of one product and API version.
pub struct RpcClient<'a> {
    credential: &'a dyn Credential,
    endpoint: Url,
    version: &'a str,
    timeout: Duration,
}

impl<'a> RpcClient<'a> {
    /// A client for `endpoint` (e.g. `https://wafopenapi.cn-hangzhou.aliyuncs.com`)
    /// speaking API `version` (e.g. `2021-10-01`).
    pub fn new(
        credential: &'a dyn Credential,
        endpoint: &str,
        version: &'a str,
    ) -> Result<Self, Failure> {
        let endpoint = Url::parse(endpoint)
            .map_err(|err| failure::invalid_input(format!("target endpoint: {err}")))?;
        Ok(Self {
            credential,
            endpoint,
            version,
            timeout: http::DEFAULT_TIMEOUT,
        })
    }

    /// Sets the time allowed for connecting and for each wait on the
    /// response.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Calls `action` with scalar parameters in the query and `formData`
    /// parameters in a form body, and returns the decoded JSON answer.
    ///
    /// Each call signs afresh (new date and nonce), so calling again after a
    /// failure is a valid new attempt.
    pub fn call(
        &self,
        action: &str,
        query: &[(&str, &str)],
        form: &[(&str, &str)],
    ) -> Result<serde_json::Value, Failure> {
        let mut request = sign::Request::new("POST", self.endpoint.authority.clone(), "/");
        for (name, value) in query {
            request = request.query(*name, *value);
        }
        if !form.is_empty() {
            request = request.body(
                "application/x-www-form-urlencoded",
                sign::form_urlencode(form),
            );
        }
        let api = acs3::Api {
            action,
            version: self.version,
        };
        let signed = acs3::sign(
            self.credential,
            &api,
            &request,
            crate::clock::now(),
            crate::clock::nonce(),
        )
        .map_err(|err| failure::internal(format!("signing `{action}`: {err}")))?;

        let url = format!(
            "{}://{}{}",
            self.endpoint.scheme, signed.authority, signed.path_and_query
        );
        let mut outgoing = http::Request::new(&signed.method, &url)?.timeout(self.timeout);
        for (name, value) in &signed.headers {
            if !name.eq_ignore_ascii_case("content-type") {
                outgoing = outgoing.header(name, value);
            }
        }
        let content_type = signed.header("content-type").unwrap_or("").to_string();
        if !signed.body.is_empty() || !content_type.is_empty() {
            outgoing = outgoing.body(&content_type, signed.body);
        }

        let response = outgoing.send()?;
        if response.is_success() {
            return response.json();
        }
        let error: serde_json::Value = response.json().unwrap_or_default();
        let code = error["Code"].as_str().unwrap_or("");
        let message = error["Message"].as_str().unwrap_or("");
        let request_id = error["RequestId"].as_str().unwrap_or("-");
        Err(classify(action, response.status, code, message, request_id))
    }
}

/// Turns an Alibaba Cloud error answer into a typed failure. The message
/// keeps the provider's code, message and request id, which support asks
/// for.
pub fn classify(action: &str, status: u16, code: &str, message: &str, request_id: &str) -> Failure {
    let kind = classify_code(status, code);
    let mut failure = failure::new(
        kind,
        format!("{action} failed: {code} ({status}): {message} [RequestId {request_id}]"),
    );
    // A stale date or a reused nonce is fixed by signing again.
    if matches!(code, "InvalidTimeStamp.Expired" | "SignatureNonceUsed") {
        failure.retryable = true;
    }
    if kind == FailureKind::Internal && status >= 500 {
        failure.retryable = true;
    }
    failure
}

fn classify_code(status: u16, code: &str) -> FailureKind {
    let lower = code.to_ascii_lowercase();
    if lower.starts_with("throttling") || lower.contains("flowcontrol") {
        FailureKind::Throttled
    } else if lower.starts_with("forbidden")
        || lower.starts_with("nopermission")
        || lower.starts_with("actionunauthorized")
        || lower.starts_with("invalidaccesskeyid")
        || lower == "signaturedoesnotmatch"
        || lower == "incompletesignature"
    {
        FailureKind::PermissionDenied
    } else if lower.contains("notfound") || lower.contains("notexist") || status == 404 {
        FailureKind::NotFound
    } else if lower.contains("quota") || lower.contains("exceed") {
        FailureKind::QuotaExceeded
    } else if lower.contains("alreadyexist") || lower.contains("conflict") || status == 409 {
        FailureKind::Conflict
    } else if lower.starts_with("invalidparameter")
        || lower.starts_with("missing")
        || lower.starts_with("invalid")
    {
        FailureKind::InvalidInput
    } else {
        FailureKind::Internal
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_documented_codes() {
        let cases = [
            (400, "Throttling.User", FailureKind::Throttled, true),
            (400, "Throttling", FailureKind::Throttled, true),
            (403, "Forbidden.RAM", FailureKind::PermissionDenied, false),
            (
                404,
                "InvalidAccessKeyId.NotFound",
                FailureKind::PermissionDenied,
                false,
            ),
            (
                400,
                "SignatureDoesNotMatch",
                FailureKind::PermissionDenied,
                false,
            ),
            (
                400,
                "InvalidTimeStamp.Expired",
                FailureKind::InvalidInput,
                true,
            ),
            (400, "SignatureNonceUsed", FailureKind::Internal, true),
            (404, "Waf.NotFound.Instance", FailureKind::NotFound, false),
            (400, "Waf.Quota.Exceeded", FailureKind::QuotaExceeded, false),
            (400, "InvalidParameter", FailureKind::InvalidInput, false),
            (500, "InternalError", FailureKind::Internal, true),
            (503, "ServiceUnavailable", FailureKind::Internal, true),
        ];
        for (status, code, kind, retryable) in cases {
            let failure = classify("Op", status, code, "msg", "rid");
            assert_eq!(failure.kind, kind, "{code}");
            assert_eq!(failure.retryable, retryable, "{code}");
            assert!(failure.message.contains(code) && failure.message.contains("rid"));
        }
    }
}
