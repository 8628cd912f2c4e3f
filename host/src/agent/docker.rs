//! Stopping and starting containers through the Docker Engine API on its
//! unix socket.

use std::path::PathBuf;

use riposte_sdk::agent::ContainerReport;

use super::AgentError;

/// A Docker Engine reached through a unix socket.
#[derive(Debug, Clone)]
pub struct Docker {
    socket: PathBuf,
}

impl Docker {
    /// The engine listening on `socket` (usually `/var/run/docker.sock`).
    pub fn new(socket: PathBuf) -> Self {
        Self { socket }
    }

    /// Stops container `id`; an already stopped one is not changed.
    pub async fn stop(
        &self,
        id: &str,
        timeout_seconds: Option<u32>,
    ) -> Result<ContainerReport, AgentError> {
        let _ = (id, timeout_seconds);
        Err(AgentError::Unavailable(format!(
            "container control through {} is not built yet",
            self.socket.display()
        )))
    }

    /// Starts container `id`; an already running one is not changed.
    pub async fn start(&self, id: &str) -> Result<ContainerReport, AgentError> {
        self.stop(id, None).await
    }
}
