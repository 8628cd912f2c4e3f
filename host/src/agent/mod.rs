//! The endpoint agent (`riposte agent`): a small HTTP server on a Linux
//! host that carries out endpoint actions for handling components.
//!
//! Every request is signed with the agent's key
//! ([`riposte_sdk::sign::agent`]); the agent checks the signature, the
//! clock skew and the nonce before reading the body, refuses any action
//! its configuration does not allow, and appends one line per request to
//! its own audit log. The routes and bodies are
//! [`riposte_sdk::agent`]'s.
//!
//! - [`auth`]: signature, skew and nonce checks;
//! - [`process`]: kill by pid (checked against start time and
//!   executable) or by executable SHA-256;
//! - [`quarantine`]: the quarantine store, quarantine and restore;
//! - [`docker`]: stop and start containers through the Docker Engine API;
//! - [`scan`]: deep clean with YARA rules and SHA-256 lists;
//! - [`snapshot`]: the offline check's host snapshot;
//! - [`nft`]: the nftables block and allow sets;
//! - [`sinkhole`]: the managed resolver section for domains.

pub mod auth;
pub mod config;
pub mod docker;
pub mod nft;
pub mod process;
pub mod quarantine;
pub mod scan;
pub mod server;
pub mod sinkhole;
pub mod snapshot;

use axum::http::StatusCode;
use riposte_sdk::agent::ErrorBody;

/// Why the agent refused or failed a request; each variant is one status
/// and error code of the API.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AgentError {
    /// 400 `invalid-input`.
    #[error("{0}")]
    InvalidInput(String),
    /// 401 `unauthorized`.
    #[error("{0}")]
    Unauthorized(String),
    /// 403 `refused`: not allowed by configuration, or protected.
    #[error("{0}")]
    Refused(String),
    /// 404 `not-found`.
    #[error("{0}")]
    NotFound(String),
    /// 409 `conflict`: the object is not the one named.
    #[error("{0}")]
    Conflict(String),
    /// 503 `unavailable`: a facility this host lacks.
    #[error("{0}")]
    Unavailable(String),
    /// 500 `internal`.
    #[error("{0}")]
    Internal(String),
}

impl AgentError {
    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        match self {
            AgentError::InvalidInput(_) => StatusCode::BAD_REQUEST,
            AgentError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            AgentError::Refused(_) => StatusCode::FORBIDDEN,
            AgentError::NotFound(_) => StatusCode::NOT_FOUND,
            AgentError::Conflict(_) => StatusCode::CONFLICT,
            AgentError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            AgentError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The error code of the API.
    pub fn code(&self) -> &'static str {
        match self {
            AgentError::InvalidInput(_) => "invalid-input",
            AgentError::Unauthorized(_) => "unauthorized",
            AgentError::Refused(_) => "refused",
            AgentError::NotFound(_) => "not-found",
            AgentError::Conflict(_) => "conflict",
            AgentError::Unavailable(_) => "unavailable",
            AgentError::Internal(_) => "internal",
        }
    }

    /// The answer body.
    pub fn body(&self) -> ErrorBody {
        ErrorBody {
            error: self.code().to_owned(),
            message: self.to_string(),
        }
    }

    /// An I/O error on `what`, classified: a missing file is `not-found`,
    /// a permission problem `refused`, anything else `internal`.
    pub fn io(what: impl std::fmt::Display, err: &std::io::Error) -> Self {
        let message = format!("{what}: {err}");
        match err.kind() {
            std::io::ErrorKind::NotFound => AgentError::NotFound(message),
            std::io::ErrorKind::PermissionDenied => AgentError::Refused(message),
            _ => AgentError::Internal(message),
        }
    }
}

/// What the agent modules' tests share.
#[cfg(test)]
pub(crate) mod testing {
    use std::path::{Path, PathBuf};
    use std::sync::atomic::{AtomicU32, Ordering};

    /// A directory under the system's temporary directory, removed on drop.
    pub(crate) struct TempDir(pub(crate) PathBuf);

    impl TempDir {
        pub(crate) fn new(label: &str) -> Self {
            static NEXT: AtomicU32 = AtomicU32::new(0);
            let path = std::env::temp_dir().join(format!(
                "riposte-{label}-test-{}-{}",
                std::process::id(),
                NEXT.fetch_add(1, Ordering::Relaxed)
            ));
            let _ = std::fs::remove_dir_all(&path);
            std::fs::create_dir_all(&path).unwrap();
            Self(path)
        }

        pub(crate) fn path(&self) -> &Path {
            &self.0
        }

        /// Writes `content` to `relative`, creating its directories.
        pub(crate) fn write(&self, relative: &str, content: impl AsRef<[u8]>) -> PathBuf {
            let path = self.0.join(relative);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, content).unwrap();
            path
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}
