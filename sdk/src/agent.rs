//! The riposte endpoint agent's HTTP API: the request and answer bodies
//! that `riposte agent` serves and components send, and a signed client
//! for components.
//!
//! Every route is `POST` with a JSON body and a JSON answer, signed with
//! [`crate::sign::agent`]. A refusal is a non-2xx status with an
//! [`ErrorBody`]:
//!
//! | status | `error` | meaning |
//! |---|---|---|
//! | 400 | `invalid-input` | the body is not what the route expects |
//! | 401 | `unauthorized` | bad signature, unknown key, stale time, replayed nonce |
//! | 403 | `refused` | the agent is not configured to allow this, or the object is protected |
//! | 404 | `not-found` | no such process, file, container or quarantine entry |
//! | 409 | `conflict` | the object is not the one named (a reused pid, a changed file) |
//! | 503 | `unavailable` | a facility is missing here (Docker socket, `nft`) |
//! | 500 | `internal` | anything else |
//!
//! Operations that change something carry the task's idempotency key; the
//! agent answers a repeat of the same key with the first answer's effect
//! (an already quarantined file, an element already in the set) instead of
//! failing or acting twice.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::failure;
use crate::http::{self, Url};
use crate::sign::{self, Credential};
use crate::types::{Failure, FailureKind};

/// Route paths.
pub mod route {
    /// [`KillRequest`](super::KillRequest) -> [`KillReport`](super::KillReport).
    pub const KILL: &str = "/v1/process/kill";
    /// [`QuarantineRequest`](super::QuarantineRequest) -> [`QuarantineRecord`](super::QuarantineRecord).
    pub const QUARANTINE: &str = "/v1/file/quarantine";
    /// [`RestoreRequest`](super::RestoreRequest) -> [`RestoreReport`](super::RestoreReport).
    pub const RESTORE: &str = "/v1/file/restore";
    /// [`KillAndQuarantineRequest`](super::KillAndQuarantineRequest) ->
    /// [`KillAndQuarantineReport`](super::KillAndQuarantineReport).
    pub const KILL_AND_QUARANTINE: &str = "/v1/process/kill-and-quarantine";
    /// [`ContainerRequest`](super::ContainerRequest) -> [`ContainerReport`](super::ContainerReport).
    pub const CONTAINER_STOP: &str = "/v1/container/stop";
    /// [`ContainerRequest`](super::ContainerRequest) -> [`ContainerReport`](super::ContainerReport).
    pub const CONTAINER_START: &str = "/v1/container/start";
    /// [`ScanRequest`](super::ScanRequest) -> [`ScanReport`](super::ScanReport).
    pub const SCAN: &str = "/v1/scan";
    /// [`SnapshotRequest`](super::SnapshotRequest) -> a JSON host snapshot.
    pub const SNAPSHOT: &str = "/v1/snapshot";
    /// [`NetRequest`](super::NetRequest) -> [`NetReport`](super::NetReport).
    pub const NET_ADD: &str = "/v1/net/add";
    /// [`NetRequest`](super::NetRequest) -> [`NetReport`](super::NetReport).
    pub const NET_REMOVE: &str = "/v1/net/remove";
    /// [`DnsRequest`](super::DnsRequest) -> [`DnsReport`](super::DnsReport).
    pub const DNS_ADD: &str = "/v1/dns/add";
    /// [`DnsRequest`](super::DnsRequest) -> [`DnsReport`](super::DnsReport).
    pub const DNS_REMOVE: &str = "/v1/dns/remove";
}

/// Kill one process by pid, or every process running an executable with a
/// given SHA-256.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KillRequest {
    /// The task's idempotency key, for the agent's audit log.
    pub idempotency_key: String,
    /// The process to kill. Exactly one of `pid` and `sha256` is set.
    #[serde(default)]
    pub pid: Option<u32>,
    /// When the process started, as the alert saw it: seconds since boot
    /// (`12345` or `12345.67`) or an RFC 3339 time. With `pid`, a process
    /// that started at another time is a reused pid and is not killed.
    #[serde(default)]
    pub start_time: Option<String>,
    /// The executable path the process must be running.
    #[serde(default)]
    pub exe: Option<String>,
    /// Kill every process whose executable has this SHA-256 (lower-case
    /// hex); with `pid`, the process's executable must have it.
    #[serde(default)]
    pub sha256: Option<String>,
    /// How long to wait after SIGTERM before SIGKILL, in milliseconds
    /// (default 2000, at most 30000).
    #[serde(default)]
    pub grace_ms: Option<u64>,
}

/// One process the agent signalled.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KilledProcess {
    /// Its pid.
    pub pid: u32,
    /// Its executable path.
    pub exe: String,
    /// The last signal it needed: `TERM` or `KILL`.
    pub signal: String,
}

/// What a kill did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KillReport {
    /// The processes that were running and are now gone.
    pub killed: Vec<KilledProcess>,
    /// Why matching processes were left alone (pid 1, the agent, kernel
    /// threads), one line each.
    #[serde(default)]
    pub spared: Vec<String>,
}

/// Move a file into the agent's quarantine store.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QuarantineRequest {
    /// The task's idempotency key: a repeat answers the first record.
    pub idempotency_key: String,
    /// Absolute path of the file.
    pub path: String,
    /// The SHA-256 the file must have (lower-case hex); a file with other
    /// content is a conflict and stays where it is.
    #[serde(default)]
    pub sha256: Option<String>,
}

/// A quarantined file, as the agent keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuarantineRecord {
    /// The quarantine entry's id, for restore.
    pub id: String,
    /// Where the file was.
    pub original_path: String,
    /// SHA-256 of its content.
    pub sha256: String,
    /// Its size in bytes.
    pub size: u64,
    /// Its permission bits (`0o7777` part of `st_mode`).
    pub mode: u32,
    /// Owner user id.
    pub uid: u32,
    /// Owner group id.
    pub gid: u32,
    /// Modification time, Unix seconds.
    pub modified: i64,
    /// When it was quarantined, Unix seconds.
    pub quarantined_at: u64,
}

/// Put a quarantined file back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RestoreRequest {
    /// The task's idempotency key, for the audit log.
    pub idempotency_key: String,
    /// The quarantine entry's id.
    pub id: String,
}

/// What a restore did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RestoreReport {
    /// Where the file is again.
    pub path: String,
    /// False when the entry was already restored (nothing changed).
    pub restored: bool,
}

/// Kill a process, then quarantine a file (its executable by default).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KillAndQuarantineRequest {
    /// Which processes to kill.
    pub kill: KillRequest,
    /// The file to quarantine; the killed process's executable when absent.
    #[serde(default)]
    pub path: Option<String>,
}

/// What kill-and-quarantine did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KillAndQuarantineReport {
    /// The kill.
    pub kill: KillReport,
    /// The quarantined file.
    pub quarantined: QuarantineRecord,
}

/// Stop or start a container.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContainerRequest {
    /// The task's idempotency key, for the audit log.
    pub idempotency_key: String,
    /// The container's id or name.
    pub id: String,
    /// Seconds Docker waits after SIGTERM before SIGKILL on stop.
    #[serde(default)]
    pub timeout_seconds: Option<u32>,
}

/// What a container stop or start did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContainerReport {
    /// The container's full id.
    pub id: String,
    /// Its name, without the leading `/`.
    pub name: String,
    /// False when it was already in the requested state.
    pub changed: bool,
    /// Its state afterwards, as Docker reports it (`exited`, `running`).
    pub state: String,
}

/// Scan paths with YARA rules and SHA-256 lists.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScanRequest {
    /// The task's idempotency key: quarantine entries are named from it.
    pub idempotency_key: String,
    /// Absolute files or directories to scan (directories recursively,
    /// without following symbolic links).
    pub paths: Vec<String>,
    /// YARA rule source (compiled by the agent with `yara-x`).
    #[serde(default)]
    pub yara: Option<String>,
    /// SHA-256 values (lower-case hex) that match on their own.
    #[serde(default)]
    pub sha256: Vec<String>,
    /// Quarantine each matching file.
    #[serde(default)]
    pub quarantine: bool,
}

/// One matching file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScanMatch {
    /// The file.
    pub path: String,
    /// Its SHA-256.
    pub sha256: String,
    /// The YARA rules that matched.
    pub rules: Vec<String>,
    /// Whether its SHA-256 is on the request's list.
    pub hash_listed: bool,
    /// Its quarantine entry, when the request asked to quarantine.
    #[serde(default)]
    pub quarantined: Option<QuarantineRecord>,
    /// Why it could not be quarantined, when it could not.
    #[serde(default)]
    pub error: Option<String>,
}

/// What a scan found.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScanReport {
    /// Regular files read.
    pub files_scanned: u64,
    /// The matches.
    pub matches: Vec<ScanMatch>,
    /// Paths that could not be read, with the reason.
    #[serde(default)]
    pub unreadable: Vec<String>,
}

/// Collect a host snapshot.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SnapshotRequest {
    /// The task's idempotency key, for the audit log.
    pub idempotency_key: String,
}

/// Block or allow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// Drop traffic / answer the sinkhole.
    Block,
    /// Always let through.
    Allow,
}

/// Add an address or network to (or remove it from) the agent's nftables
/// block or allow set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetRequest {
    /// The task's idempotency key, for the audit log.
    pub idempotency_key: String,
    /// An IPv4 or IPv6 address or CIDR network.
    pub address: String,
    /// Which set.
    pub verdict: Verdict,
    /// Element timeout in seconds; none means until removed.
    #[serde(default)]
    pub timeout_seconds: Option<u64>,
}

/// What an nftables change did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetReport {
    /// `<family> <table> <set>` the element is in (or was removed from).
    pub set: String,
    /// The element as nftables spells it.
    pub element: String,
    /// False when the set already had (or already lacked) the element.
    pub changed: bool,
    /// The nft script the agent ran.
    pub commands: Vec<String>,
}

/// Add a domain to (or remove it from) the agent's managed resolver
/// section.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DnsRequest {
    /// The task's idempotency key, for the audit log.
    pub idempotency_key: String,
    /// A domain name.
    pub domain: String,
    /// Sinkhole it, or pin it to its real answer.
    pub verdict: Verdict,
}

/// What a resolver change did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DnsReport {
    /// The file with the managed section.
    pub file: String,
    /// The lines for the domain in the managed section afterwards.
    pub lines: Vec<String>,
    /// False when the section already said (or already lacked) it.
    pub changed: bool,
}

/// The body of every refusal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// One of the codes in the module table.
    pub error: String,
    /// What was wrong and what was expected.
    pub message: String,
}

/// A signed client for one agent, for components.
pub struct AgentClient<'a> {
    credential: &'a dyn Credential,
    endpoint: Url,
    timeout: Duration,
}

impl<'a> AgentClient<'a> {
    /// A client for the agent at `endpoint`, e.g. `http://10.0.0.5:7443`.
    pub fn new(credential: &'a dyn Credential, endpoint: &str) -> Result<Self, Failure> {
        let endpoint = Url::parse(endpoint)
            .map_err(|err| failure::invalid_input(format!("target endpoint: {err}")))?;
        Ok(Self {
            credential,
            endpoint,
            timeout: Duration::from_secs(60),
        })
    }

    /// Sets the time allowed for connecting and for each wait on the
    /// answer (60 s by default: a kill waits out its grace period, a scan
    /// reads files).
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Sends `body` to `route` and decodes the answer. Each call signs
    /// afresh, so a retry is a valid new request.
    pub fn call<Q, A>(&self, route: &str, body: &Q) -> Result<A, Failure>
    where
        Q: Serialize,
        A: serde::de::DeserializeOwned,
    {
        let bytes = serde_json::to_vec(body)
            .map_err(|err| failure::internal(format!("encoding {route}: {err}")))?;
        let signature = sign::agent::sign(
            self.credential,
            "POST",
            route,
            crate::clock::now(),
            crate::clock::nonce(),
            &bytes,
        )
        .map_err(|err| failure::internal(format!("signing {route}: {err}")))?;
        let url = format!(
            "{}://{}{route}",
            self.endpoint.scheme, self.endpoint.authority
        );
        let mut request = http::Request::post(&url)?.timeout(self.timeout);
        for (name, value) in &signature.headers {
            request = request.header(name, value);
        }
        let response = request.body("application/json", bytes).send()?;
        if response.is_success() {
            return response.json();
        }
        let error: ErrorBody = response.json().unwrap_or_else(|_| ErrorBody {
            error: String::new(),
            message: response.text().chars().take(200).collect(),
        });
        Err(classify(route, response.status, &error))
    }
}

/// Turns an agent refusal into a typed failure.
pub fn classify(route: &str, status: u16, error: &ErrorBody) -> Failure {
    let (kind, retryable) = match (status, error.error.as_str()) {
        (401, _) | (_, "unauthorized") => (FailureKind::PermissionDenied, false),
        (403, _) | (_, "refused") => (FailureKind::PermissionDenied, false),
        (400, _) | (_, "invalid-input") => (FailureKind::InvalidInput, false),
        (404, _) | (_, "not-found") => (FailureKind::NotFound, false),
        (409, _) | (_, "conflict") => (FailureKind::Conflict, false),
        (429, _) => (FailureKind::Throttled, true),
        (503, _) | (_, "unavailable") => (FailureKind::Unreachable, true),
        _ => (FailureKind::Internal, true),
    };
    let mut failure = failure::new(
        kind,
        format!(
            "agent refused {route} ({status} {}): {}",
            error.error, error.message
        ),
    );
    failure.retryable = retryable;
    failure
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_map_to_failure_kinds_that_drive_retries() {
        let body = |code: &str| ErrorBody {
            error: code.into(),
            message: "why".into(),
        };
        let reused = classify(route::KILL, 409, &body("conflict"));
        assert_eq!(reused.kind, FailureKind::Conflict);
        assert!(!reused.retryable);
        let docker = classify(route::CONTAINER_STOP, 503, &body("unavailable"));
        assert_eq!(docker.kind, FailureKind::Unreachable);
        assert!(docker.retryable);
        let auth = classify(route::KILL, 401, &body("unauthorized"));
        assert_eq!(auth.kind, FailureKind::PermissionDenied);
        assert!(
            auth.message.contains("/v1/process/kill"),
            "{}",
            auth.message
        );
    }

    #[test]
    fn requests_with_unknown_fields_are_refused() {
        let err = serde_json::from_str::<KillRequest>(r#"{"idempotency_key":"k","pid":1,"sig":9}"#)
            .unwrap_err();
        assert!(err.to_string().contains("sig"), "{err}");
    }
}
