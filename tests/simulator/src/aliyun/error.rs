//! Alibaba Cloud error answers: code, HTTP status and message.
//!
//! The gateway codes and statuses follow `shared/reference/providers.md`
//! §1.3 (sources: <https://help.aliyun.com/en/polardb/client-error-codes>,
//! <https://help.aliyun.com/en/document_detail/434846.html>,
//! <https://developer.aliyun.com/ask/278265>). The answer body is
//! `{"RequestId","HostId","Code","Message","Recommend"}` (§7 item 5; JSON
//! example in <https://www.alibabacloud.com/help/doc-detail/25933.htm>).

/// An error answer in Alibaba's shape.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{code}` (HTTP {status}): {message}")]
pub struct ApiError {
    /// HTTP status of the answer.
    pub status: u16,
    /// Alibaba error code, e.g. `SignatureDoesNotMatch`.
    pub code: String,
    /// Human-readable message.
    pub message: String,
}

impl ApiError {
    /// An error with any status, code and message.
    pub fn new(status: u16, code: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            status,
            code: code.into(),
            message: message.into(),
        }
    }

    /// `IncompleteSignature` (400): the `Authorization` header or the set of
    /// signed headers is malformed.
    pub fn incomplete_signature(message: impl Into<String>) -> Self {
        Self::new(400, "IncompleteSignature", message)
    }

    /// `SignatureDoesNotMatch` (400; some product pages say 403, §1.3).
    pub fn signature_mismatch(message: impl Into<String>) -> Self {
        Self::new(400, "SignatureDoesNotMatch", message)
    }

    /// `InvalidAccessKeyId.NotFound` (404).
    pub fn access_key_not_found(access_key_id: &str) -> Self {
        Self::new(
            404,
            "InvalidAccessKeyId.NotFound",
            format!("access key id `{access_key_id}` does not exist"),
        )
    }

    /// `MissingParameter` (400) naming the missing parameter.
    pub fn missing_parameter(name: &str) -> Self {
        Self::new(
            400,
            "MissingParameter",
            format!(
                "the input parameter `{name}` that is mandatory for this request is not supplied"
            ),
        )
    }

    /// `InvalidParameter` (400) naming the parameter and why.
    pub fn invalid_parameter(name: &str, why: impl std::fmt::Display) -> Self {
        Self::new(
            400,
            "InvalidParameter",
            format!("the specified parameter `{name}` is not valid: {why}"),
        )
    }

    /// A not-found error (404) with a product-specific code.
    pub fn not_found(code: &str, message: impl Into<String>) -> Self {
        Self::new(404, code, message)
    }

    /// The JSON answer body for this error.
    pub fn body(&self, request_id: &str, host_id: &str) -> serde_json::Value {
        serde_json::json!({
            "RequestId": request_id,
            "HostId": host_id,
            "Code": self.code,
            "Message": self.message,
            // Real answers link a troubleshooting page here; the simulator
            // names itself instead of inventing a URL.
            "Recommend": format!("riposte-simulator: {}", self.code),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_has_alibaba_shape() {
        let error = ApiError::access_key_not_found("AK");
        let body = error.body("RID", "waf.example");
        assert_eq!(body["Code"], "InvalidAccessKeyId.NotFound");
        assert_eq!(body["RequestId"], "RID");
        assert_eq!(body["HostId"], "waf.example");
        assert!(body["Message"].as_str().unwrap().contains("`AK`"));
        assert_eq!(error.status, 404);
        assert_eq!(
            error.to_string(),
            "`InvalidAccessKeyId.NotFound` (HTTP 404): access key id `AK` does not exist"
        );
    }
}
