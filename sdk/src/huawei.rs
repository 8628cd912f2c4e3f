//! Calling Huawei Cloud REST APIs from a component: sign with
//! `SDK-HMAC-SHA256` (APIG AK/SK), send through the host's gate, and
//! classify the provider's errors into typed failures.
//!
//! Huawei answers errors with a 4xx/5xx status and
//! `{"error_code","error_msg"}` (`shared/reference/providers.md` §3).
//! Gateway codes (APIG error page,
//! <https://support.huaweicloud.com/devg-apisign/api-sign-errorcode.html>):
//! `APIGW.0301` authentication failed (also "signature expired"),
//! `APIGW.0306` access denied, `APIGW.0308` throttled (429), `APIGW.0310`
//! project unavailable to this credential. Product codes: CFW
//! `CFW.00200005` "操作内容不存在" is not found
//! (<https://support.huaweicloud.com/intl/zh-cn/api-cfw/DeleteBlackWhiteList.html>);
//! WAF answers 404 for missing resources, 400 `WAF.00011016` for a
//! duplicate name and 403 "资源配额不足" for a full quota
//! (<https://support.huaweicloud.com/api-waf/ErrorCode.html>).

use std::time::Duration;

use serde_json::Value;

use crate::failure;
use crate::http::{self, Url};
use crate::sign::{self, Credential, huawei};
use crate::types::{Failure, FailureKind};

/// A Huawei Cloud service endpoint, e.g.
/// `https://cfw.cn-north-4.myhuaweicloud.com`.
pub struct ApiClient<'a> {
    credential: &'a dyn Credential,
    endpoint: Url,
    timeout: Duration,
}

/// One call: the operation's name (for messages), method, decoded path,
/// query pairs and optional JSON body.
#[derive(Debug, Clone)]
pub struct Call<'a> {
    /// The operation's name in Huawei's API reference, e.g.
    /// `AddBlackWhiteList`; used in failure messages only.
    pub operation: &'a str,
    /// `GET`, `POST`, `PUT` or `DELETE`.
    pub method: &'a str,
    /// The decoded path, e.g. `/v1/{project_id}/black-white-list`.
    pub path: String,
    /// Query parameters, decoded; the signer encodes and sorts them.
    pub query: Vec<(&'a str, String)>,
    /// The JSON body, if any.
    pub body: Option<Value>,
}

impl<'a> ApiClient<'a> {
    /// A client for `endpoint`.
    pub fn new(credential: &'a dyn Credential, endpoint: &str) -> Result<Self, Failure> {
        let endpoint = Url::parse(endpoint)
            .map_err(|err| failure::invalid_input(format!("target endpoint: {err}")))?;
        Ok(Self {
            credential,
            endpoint,
            timeout: http::DEFAULT_TIMEOUT,
        })
    }

    /// Sets the time allowed for connecting and for each wait on the
    /// response.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Makes `call` and returns the decoded JSON answer (`null` for an
    /// empty body).
    ///
    /// Each call reads the clock and signs afresh (a new `X-Sdk-Date`), so
    /// calling again after a failure is a valid new attempt.
    pub fn call(&self, call: &Call<'_>) -> Result<Value, Failure> {
        let mut request = sign::Request::new(
            call.method,
            self.endpoint.authority.clone(),
            call.path.clone(),
        );
        for (name, value) in &call.query {
            request = request.query(*name, value.clone());
        }
        if let Some(body) = &call.body {
            let bytes = serde_json::to_vec(body).map_err(|err| {
                failure::internal(format!("encoding `{}`: {err}", call.operation))
            })?;
            request = request.body("application/json", bytes);
        }
        let signed = huawei::sign(self.credential, &request, crate::clock::now())
            .map_err(|err| failure::internal(format!("signing `{}`: {err}", call.operation)))?;
        let response = crate::transport::send_signed(&self.endpoint.scheme, signed, self.timeout)?;
        if response.is_success() {
            if response.body.iter().all(u8::is_ascii_whitespace) {
                return Ok(Value::Null);
            }
            return response.json();
        }
        let error: Value = serde_json::from_slice(&response.body).unwrap_or_default();
        let request_id = error["request_id"]
            .as_str()
            .or_else(|| response.header("x-request-id"))
            .unwrap_or("-");
        Err(classify(
            call.operation,
            response.status,
            error["error_code"].as_str().unwrap_or(""),
            error["error_msg"].as_str().unwrap_or(""),
            request_id,
        ))
    }
}

/// Turns a Huawei Cloud error answer into a typed failure whose message
/// keeps the code, the message and the request id.
pub fn classify(
    operation: &str,
    status: u16,
    code: &str,
    message: &str,
    request_id: &str,
) -> Failure {
    let kind = classify_code(status, code, message);
    let mut failure = failure::new(
        kind,
        format!("{operation} failed: {code} ({status}): {message} [request_id {request_id}]"),
    );
    if is_expired(code, message) || (kind == FailureKind::Internal && status >= 500) {
        failure.retryable = true;
    }
    failure
}

fn is_expired(code: &str, message: &str) -> bool {
    matches!(code, "APIGW.0301" | "APIGW.0303") && message.contains("expired")
}

fn classify_code(status: u16, code: &str, message: &str) -> FailureKind {
    let lower = message.to_ascii_lowercase();
    if code == "APIGW.0308" || status == 429 {
        FailureKind::Throttled
    } else if code == "APIGW.0310" {
        FailureKind::CrossAccount
    } else if lower.contains("quota") || message.contains("配额") {
        FailureKind::QuotaExceeded
    } else if is_expired(code, message) {
        FailureKind::InvalidInput
    } else if code == "CFW.00200005" || status == 404 {
        FailureKind::NotFound
    } else if code.ends_with(".00011016") || status == 409 {
        FailureKind::Conflict
    } else if status == 401 || status == 403 {
        FailureKind::PermissionDenied
    } else if status == 400 {
        FailureKind::InvalidInput
    } else {
        FailureKind::Internal
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_gateway_and_product_codes() {
        let cases = [
            (
                429,
                "APIGW.0308",
                "The throttling threshold has been reached",
                FailureKind::Throttled,
                true,
            ),
            (
                401,
                "APIGW.0301",
                "Incorrect IAM authentication information: verify aksk signature fail",
                FailureKind::PermissionDenied,
                false,
            ),
            (
                401,
                "APIGW.0301",
                "Incorrect IAM authentication information: signature expired",
                FailureKind::InvalidInput,
                true,
            ),
            (
                403,
                "APIGW.0306",
                "API access denied",
                FailureKind::PermissionDenied,
                false,
            ),
            (
                403,
                "APIGW.0310",
                "project unavailable",
                FailureKind::CrossAccount,
                false,
            ),
            (
                400,
                "CFW.00200005",
                "操作内容不存在",
                FailureKind::NotFound,
                false,
            ),
            (
                404,
                "WAF.00014002",
                "resource.not.found",
                FailureKind::NotFound,
                false,
            ),
            (
                403,
                "WAF.00022002",
                "resource quota insufficient 资源配额不足",
                FailureKind::QuotaExceeded,
                false,
            ),
            (
                400,
                "WAF.00011016",
                "name.duplicate",
                FailureKind::Conflict,
                false,
            ),
            (
                400,
                "WAF.00011007",
                "ip.illegal",
                FailureKind::InvalidInput,
                false,
            ),
            (
                500,
                "CFW.00109000",
                "system error",
                FailureKind::Internal,
                true,
            ),
        ];
        for (status, code, message, kind, retryable) in cases {
            let failure = classify("Op", status, code, message, "rq-1");
            assert_eq!(
                (failure.kind, failure.retryable),
                (kind, retryable),
                "{code} {message}"
            );
            assert!(failure.message.contains(code) && failure.message.contains("rq-1"));
        }
    }
}
