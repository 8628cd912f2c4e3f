//! The offline check's host snapshot.

use super::AgentError;

/// Collects the snapshot of this host.
pub fn collect() -> Result<serde_json::Value, AgentError> {
    Err(AgentError::Unavailable(
        "snapshots are not built yet".into(),
    ))
}
