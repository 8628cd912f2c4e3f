//! Typed task failures: what a component reported, or what the runtime
//! observed (a trap, a deadline, a limit), in one shape the engine stores.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::bindings::riposte::component::types as wit;

/// The failure categories of the component contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FailureKind {
    /// The credential lacks a permission.
    PermissionDenied,
    /// The target resource does not exist.
    NotFound,
    /// A provider quota is full.
    QuotaExceeded,
    /// The resource belongs to another account.
    CrossAccount,
    /// The request or entity is not valid for the action.
    InvalidInput,
    /// The provider rate-limited the call.
    Throttled,
    /// The provider could not be reached, or the gate refused it.
    Unreachable,
    /// The call or the provider took too long.
    Timeout,
    /// The provider state conflicts with the request.
    Conflict,
    /// Anything else, including traps and limits.
    Internal,
}

impl fmt::Display for FailureKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::PermissionDenied => "permission-denied",
            Self::NotFound => "not-found",
            Self::QuotaExceeded => "quota-exceeded",
            Self::CrossAccount => "cross-account",
            Self::InvalidInput => "invalid-input",
            Self::Throttled => "throttled",
            Self::Unreachable => "unreachable",
            Self::Timeout => "timeout",
            Self::Conflict => "conflict",
            Self::Internal => "internal",
        })
    }
}

impl From<wit::FailureKind> for FailureKind {
    fn from(kind: wit::FailureKind) -> Self {
        match kind {
            wit::FailureKind::PermissionDenied => Self::PermissionDenied,
            wit::FailureKind::NotFound => Self::NotFound,
            wit::FailureKind::QuotaExceeded => Self::QuotaExceeded,
            wit::FailureKind::CrossAccount => Self::CrossAccount,
            wit::FailureKind::InvalidInput => Self::InvalidInput,
            wit::FailureKind::Throttled => Self::Throttled,
            wit::FailureKind::Unreachable => Self::Unreachable,
            wit::FailureKind::Timeout => Self::Timeout,
            wit::FailureKind::Conflict => Self::Conflict,
            wit::FailureKind::Internal => Self::Internal,
        }
    }
}

/// Why a task's call failed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskFailure {
    /// The category.
    pub kind: FailureKind,
    /// For operators; secret values already redacted.
    pub message: String,
    /// Whether a later retry of the same call may succeed.
    pub retryable: bool,
    /// The provider's requested pause before a retry.
    #[serde(default, with = "millis", skip_serializing_if = "Option::is_none")]
    pub retry_after: Option<Duration>,
}

impl TaskFailure {
    /// A failure the runtime itself observed.
    pub fn new(kind: FailureKind, retryable: bool, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            retryable,
            retry_after: None,
        }
    }

    pub(crate) fn from_wit(failure: wit::Failure, redact: impl Fn(&str) -> String) -> Self {
        Self {
            kind: failure.kind.into(),
            message: redact(&failure.message),
            retryable: failure.retryable,
            retry_after: failure.retry_after_ms.map(Duration::from_millis),
        }
    }
}

impl fmt::Display for TaskFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind, self.message)
    }
}

impl std::error::Error for TaskFailure {}

mod millis {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(value: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match value {
            Some(d) => s.serialize_u64(d.as_millis().try_into().unwrap_or(u64::MAX)),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        Ok(Option::<u64>::deserialize(d)?.map(Duration::from_millis))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_serialize_in_wit_spelling() {
        assert_eq!(
            FailureKind::PermissionDenied.to_string(),
            "permission-denied"
        );
        assert_eq!(FailureKind::QuotaExceeded.to_string(), "quota-exceeded");
        let failure = TaskFailure {
            retry_after: Some(Duration::from_millis(1500)),
            ..TaskFailure::new(FailureKind::Throttled, true, "slow down")
        };
        let json = serde_json::to_string(&failure).unwrap();
        assert_eq!(
            json,
            r#"{"kind":"throttled","message":"slow down","retryable":true,"retry_after":1500}"#
        );
        assert_eq!(serde_json::from_str::<TaskFailure>(&json).unwrap(), failure);
    }
}
