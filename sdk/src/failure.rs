//! Constructors for typed failures, so that components classify errors the
//! same way.

use crate::types::{Failure, FailureKind};

/// A failure of `kind` with `message`; retryable as the kind usually is.
///
/// Throttling, unreachable providers and timeouts are retryable by default;
/// everything else is not, because repeating the same request gives the
/// same answer.
pub fn new(kind: FailureKind, message: impl Into<String>) -> Failure {
    let retryable = matches!(
        kind,
        FailureKind::Throttled | FailureKind::Unreachable | FailureKind::Timeout
    );
    Failure {
        kind,
        message: message.into(),
        retryable,
        retry_after_ms: None,
    }
}

/// The request or entity is not valid for this action; never retryable.
pub fn invalid_input(message: impl Into<String>) -> Failure {
    new(FailureKind::InvalidInput, message)
}

/// A fault of the component or an answer it does not understand.
pub fn internal(message: impl Into<String>) -> Failure {
    new(FailureKind::Internal, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transient_kinds_are_retryable_and_others_are_not() {
        assert!(new(FailureKind::Throttled, "slow down").retryable);
        assert!(new(FailureKind::Unreachable, "dns").retryable);
        assert!(new(FailureKind::Timeout, "late").retryable);
        assert!(!new(FailureKind::PermissionDenied, "no").retryable);
        assert!(!invalid_input("bad").retryable);
        assert!(!internal("bug").retryable);
    }
}
