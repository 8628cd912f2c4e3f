//! Calling Tencent Cloud API 3.0 from a component: sign with
//! `TC3-HMAC-SHA256`, send a JSON body through the host's gate, and
//! classify the provider's errors into typed failures.
//!
//! Tencent answers errors with HTTP 200 and
//! `{"Response":{"Error":{"Code","Message"},"RequestId"}}`, so success is
//! decided by the body, never by the status. Error codes follow the common
//! list published under every product
//! (<https://www.tencentcloud.com/document/api/1131/45350>,
//! `shared/reference/providers.md` §2.2): `AuthFailure.*` and
//! `UnauthorizedOperation*` are permission problems, `ResourceNotFound*`
//! not found, `LimitExceeded*` a full quota, `RequestLimitExceeded*`
//! throttling.

use std::time::Duration;

use serde_json::Value;

use crate::failure;
use crate::http::{self, Url};
use crate::sign::{self, Credential, tc3};
use crate::types::{Failure, FailureKind};

/// The content type Tencent's documentation signs and sends.
pub const CONTENT_TYPE: &str = "application/json; charset=utf-8";

/// One product endpoint and API version, e.g. `cfw` `2019-09-04`.
pub struct ApiClient<'a> {
    credential: &'a dyn Credential,
    endpoint: Url,
    service: &'a str,
    version: &'a str,
    region: Option<&'a str>,
    timeout: Duration,
}

impl<'a> ApiClient<'a> {
    /// A client for `endpoint` (e.g. `https://cfw.tencentcloudapi.com`),
    /// signing for `service` (the endpoint's first label, `cfw`, `waf`) and
    /// speaking API `version`. `region` is sent as `X-TC-Region` when the
    /// product is regional.
    pub fn new(
        credential: &'a dyn Credential,
        endpoint: &str,
        service: &'a str,
        version: &'a str,
        region: Option<&'a str>,
    ) -> Result<Self, Failure> {
        let endpoint = Url::parse(endpoint)
            .map_err(|err| failure::invalid_input(format!("target endpoint: {err}")))?;
        Ok(Self {
            credential,
            endpoint,
            service,
            version,
            region,
            timeout: http::DEFAULT_TIMEOUT,
        })
    }

    /// Sets the time allowed for connecting and for each wait on the
    /// response.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Calls `action` with `params` as the JSON body and returns the
    /// answer's `Response` object (without `Error`).
    ///
    /// Each call reads the clock and signs afresh, so calling again after a
    /// failure is a valid new attempt.
    pub fn call(&self, action: &str, params: &Value) -> Result<Value, Failure> {
        let body = serde_json::to_vec(params)
            .map_err(|err| failure::internal(format!("encoding `{action}`: {err}")))?;
        let request = sign::Request::new("POST", self.endpoint.authority.clone(), "/")
            .body(CONTENT_TYPE, body);
        let api = tc3::Api {
            service: self.service,
            action,
            version: self.version,
            region: self.region,
        };
        let signed = tc3::sign(self.credential, &api, &request, crate::clock::now())
            .map_err(|err| failure::internal(format!("signing `{action}`: {err}")))?;
        let response = crate::transport::send_signed(&self.endpoint.scheme, signed, self.timeout)?;
        read_answer(action, response.status, &response.body)
    }
}

/// Reads a Tencent answer: the `Response` object on success, a typed
/// failure when it holds `Error` or is not Tencent's shape.
pub fn read_answer(action: &str, status: u16, body: &[u8]) -> Result<Value, Failure> {
    let parsed: Option<Value> = serde_json::from_slice(body).ok();
    let Some(Value::Object(mut outer)) = parsed else {
        return Err(unexpected(action, status, body));
    };
    let Some(Value::Object(response)) = outer.remove("Response") else {
        return Err(unexpected(action, status, body));
    };
    let request_id = response
        .get("RequestId")
        .and_then(Value::as_str)
        .unwrap_or("-");
    if let Some(error) = response.get("Error") {
        let code = error["Code"].as_str().unwrap_or("");
        let message = error["Message"].as_str().unwrap_or("");
        return Err(classify(action, code, message, request_id));
    }
    if !(200..300).contains(&status) {
        return Err(unexpected(action, status, body));
    }
    Ok(Value::Object(response))
}

fn unexpected(action: &str, status: u16, body: &[u8]) -> Failure {
    let text: String = String::from_utf8_lossy(body).chars().take(200).collect();
    let mut failure = failure::internal(format!(
        "{action} failed: HTTP {status} with a body that is not a Tencent Cloud answer: `{text}`"
    ));
    failure.retryable = status >= 500;
    failure
}

/// Turns a Tencent Cloud error into a typed failure whose message keeps the
/// code, the message and the request id.
pub fn classify(action: &str, code: &str, message: &str, request_id: &str) -> Failure {
    let kind = classify_code(code);
    let mut failure = failure::new(
        kind,
        format!("{action} failed: {code}: {message} [RequestId {request_id}]"),
    );
    // A stale timestamp is fixed by signing again with a fresh clock read.
    if code == "AuthFailure.SignatureExpire" {
        failure.retryable = true;
    }
    if code.starts_with("InternalError") || code == "ResourceUnavailable.ServiceBusy" {
        failure.retryable = true;
    }
    failure
}

fn classify_code(code: &str) -> FailureKind {
    let family = code.split('.').next().unwrap_or("");
    match family {
        "RequestLimitExceeded" => FailureKind::Throttled,
        "AuthFailure" if code == "AuthFailure.SignatureExpire" => FailureKind::InvalidInput,
        "AuthFailure" | "UnauthorizedOperation" | "OperationDenied" => {
            FailureKind::PermissionDenied
        }
        "ResourceNotFound" => FailureKind::NotFound,
        "LimitExceeded" | "ResourceInsufficient" => FailureKind::QuotaExceeded,
        "ResourceInUse" => FailureKind::Conflict,
        "InvalidParameter"
        | "InvalidParameterValue"
        | "MissingParameter"
        | "UnknownParameter"
        | "UnsupportedOperation"
        | "InvalidAction" => FailureKind::InvalidInput,
        _ => FailureKind::Internal,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_the_common_codes() {
        let cases = [
            ("RequestLimitExceeded", FailureKind::Throttled, true),
            (
                "RequestLimitExceeded.UinLimitExceeded",
                FailureKind::Throttled,
                true,
            ),
            (
                "AuthFailure.UnauthorizedOperation",
                FailureKind::PermissionDenied,
                false,
            ),
            (
                "UnauthorizedOperation",
                FailureKind::PermissionDenied,
                false,
            ),
            (
                "AuthFailure.SignatureFailure",
                FailureKind::PermissionDenied,
                false,
            ),
            (
                "AuthFailure.SignatureExpire",
                FailureKind::InvalidInput,
                true,
            ),
            ("ResourceNotFound", FailureKind::NotFound, false),
            ("LimitExceeded", FailureKind::QuotaExceeded, false),
            ("InvalidParameterValue", FailureKind::InvalidInput, false),
            ("ResourceInUse", FailureKind::Conflict, false),
            ("InternalError", FailureKind::Internal, true),
            ("FailedOperation", FailureKind::Internal, false),
        ];
        for (code, kind, retryable) in cases {
            let failure = classify("Op", code, "msg", "rid-1");
            assert_eq!(
                (failure.kind, failure.retryable),
                (kind, retryable),
                "{code}"
            );
            assert!(failure.message.contains(code) && failure.message.contains("rid-1"));
        }
    }

    #[test]
    fn errors_come_with_status_200() {
        let body =
            br#"{"Response":{"Error":{"Code":"LimitExceeded","Message":"full"},"RequestId":"r9"}}"#;
        let failure = read_answer("CreateX", 200, body).unwrap_err();
        assert_eq!(failure.kind, FailureKind::QuotaExceeded);
        assert!(
            failure.message.contains("[RequestId r9]"),
            "{}",
            failure.message
        );

        let ok = br#"{"Response":{"RuleId":7,"RequestId":"r1"}}"#;
        assert_eq!(read_answer("CreateX", 200, ok).unwrap()["RuleId"], 7);
    }

    #[test]
    fn a_body_that_is_not_tencents_shape_is_internal() {
        let failure = read_answer("CreateX", 502, b"<html>bad gateway</html>").unwrap_err();
        assert_eq!(failure.kind, FailureKind::Internal);
        assert!(failure.retryable && failure.message.contains("HTTP 502"));
        let failure = read_answer("CreateX", 200, br#"{"RuleId":1}"#).unwrap_err();
        assert!(!failure.retryable);
    }
}
