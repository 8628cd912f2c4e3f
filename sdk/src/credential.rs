use crate::bindings::riposte::component::secrets::{Secret, SecretError};
use crate::sign::{Credential, SignError};

/// A credential held by the host: the component sees the public key id and
/// asks the host for MACs; the secret never enters the component's memory.
pub struct HostCredential {
    secret: Secret,
    key_id: String,
}

impl HostCredential {
    /// Opens the secret named `name` (usually `request.target.credential`).
    ///
    /// Fails when no such secret exists or this call was not granted it; the
    /// host does not say which, so a component cannot probe for names.
    pub fn open(name: &str) -> Result<Self, SecretError> {
        let secret = Secret::open(name)?;
        let key_id = secret.public_id();
        Ok(Self { secret, key_id })
    }
}

impl From<SecretError> for crate::types::Failure {
    /// A credential the component may not open: an operator has to grant
    /// it (or fix the target), so a retry cannot help.
    fn from(err: SecretError) -> Self {
        let reason = match err {
            SecretError::NotGranted => {
                "the credential is not granted to this component for this \
                                        target (or does not exist)"
            }
            SecretError::Unavailable => "the host could not use the credential",
        };
        let mut failure = crate::failure::new(crate::types::FailureKind::PermissionDenied, reason);
        failure.retryable = false;
        failure
    }
}

impl std::fmt::Debug for HostCredential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HostCredential")
            .field("key_id", &self.key_id)
            .finish_non_exhaustive()
    }
}

impl Credential for HostCredential {
    fn key_id(&self) -> String {
        self.key_id.clone()
    }

    fn hmac_sha256(&self, key_prefix: &[u8], data: &[u8]) -> Result<[u8; 32], SignError> {
        let mac = self
            .secret
            .hmac_sha256(key_prefix, data)
            .map_err(|err| SignError::new(format!("host refused hmac-sha256: {err:?}")))?;
        mac.try_into()
            .map_err(|_| SignError::new("host returned an hmac-sha256 of the wrong length"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{Failure, FailureKind};

    #[test]
    fn a_refused_credential_is_a_permission_failure_that_is_not_retried() {
        let failure = Failure::from(SecretError::NotGranted);
        assert_eq!(failure.kind, FailureKind::PermissionDenied);
        assert!(!failure.retryable);
        assert!(
            failure.message.contains("not granted"),
            "{}",
            failure.message
        );
    }
}
