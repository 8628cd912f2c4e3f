//! Deep clean: scanning paths with YARA rules and SHA-256 lists.

use std::path::Path;

use riposte_sdk::agent::{QuarantineRecord, ScanReport, ScanRequest};

use super::AgentError;

/// Bounds of one scan.
#[derive(Debug, Clone)]
pub struct ScanLimits {
    /// Regular files read at most; the scan stops with a note beyond.
    pub max_files: u64,
    /// Files larger than this are listed as unreadable, not read.
    pub max_file_bytes: u64,
}

/// Scans `request.paths`; `quarantine` is called for each matching file
/// when the request asks for quarantine, with the file and its SHA-256.
pub fn scan(
    request: &ScanRequest,
    limits: &ScanLimits,
    quarantine: &mut dyn FnMut(&Path, &str) -> Result<QuarantineRecord, AgentError>,
) -> Result<ScanReport, AgentError> {
    let _ = (request, limits, quarantine);
    Err(AgentError::Unavailable("scanning is not built yet".into()))
}
