//! The agent's HTTP server: authentication, the allow list, dispatch to
//! the action modules, and the audit log.
//!
//! The audit log is `<state>/audit.log`, one JSON object per request and
//! line: time, remote address, key id, route, idempotency key, status,
//! error code and message, and a one-line summary of what changed. It is
//! written for refused requests too (without their bodies), and never
//! holds the key.

use std::collections::BTreeSet;
use std::fs;
use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::Context;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use riposte_sdk::agent::{
    ContainerRequest, DnsRequest, KillAndQuarantineReport, KillAndQuarantineRequest, KillRequest,
    NetRequest, QuarantineRequest, RestoreRequest, ScanRequest, SnapshotRequest, route,
};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::oneshot;

use super::auth::Verifier;
use super::config::{AgentConfig, Capability};
use super::docker::Docker;
use super::nft::Nft;
use super::quarantine::Quarantine;
use super::sinkhole::Sinkhole;
use super::{AgentError, process, scan, snapshot};

/// The largest request body read (YARA rules included).
const MAX_BODY: usize = 4 << 20;

/// Everything a request may use.
struct Agent {
    verifier: Verifier,
    allow: BTreeSet<Capability>,
    quarantine: Quarantine,
    docker: Docker,
    nft: Nft,
    nft_ready: Mutex<bool>,
    sinkhole: Sinkhole,
    scan: scan::ScanLimits,
    audit: Mutex<fs::File>,
    audit_path: PathBuf,
}

/// A running agent.
#[derive(Debug)]
pub struct RunningAgent {
    addr: SocketAddr,
    audit: PathBuf,
    quarantine: PathBuf,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl RunningAgent {
    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Its audit log.
    pub fn audit_log(&self) -> &Path {
        &self.audit
    }

    /// Its quarantine store.
    pub fn quarantine_dir(&self) -> &Path {
        &self.quarantine
    }

    /// The audit log's entries.
    pub fn audit_entries(&self) -> Vec<Value> {
        fs::read_to_string(&self.audit)
            .unwrap_or_default()
            .lines()
            .filter_map(|line| serde_json::from_str(line).ok())
            .collect()
    }

    /// Stops serving and waits for the server task.
    pub async fn stop(mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }

    /// Serves until the process is interrupted (Ctrl-C or SIGTERM).
    pub async fn wait(mut self) {
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for RunningAgent {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
    }
}

/// Reads the agent's secret from `path`, creating it (64 random hex
/// digits, mode 0600) when absent. The secret is the file's first line.
pub fn load_or_create_secret(path: &Path) -> anyhow::Result<Vec<u8>> {
    match fs::read_to_string(path) {
        Ok(text) => {
            let secret = text.lines().next().unwrap_or("").trim().as_bytes().to_vec();
            anyhow::ensure!(
                secret.len() >= 32,
                "{}: the agent key must be at least 32 characters on the first line",
                path.display()
            );
            Ok(secret)
        }
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
            let mut bytes = [0u8; 32];
            crate::vault::fill_random(&mut bytes).map_err(anyhow::Error::msg)?;
            let secret = hex::encode(bytes);
            if let Some(parent) = path.parent() {
                fs::create_dir_all(parent)
                    .with_context(|| format!("creating {}", parent.display()))?;
            }
            crate::vault::write_private(path, format!("{secret}\n").as_bytes())
                .with_context(|| format!("writing {}", path.display()))?;
            Ok(secret.into_bytes())
        }
        Err(err) => Err(err).with_context(|| format!("reading {}", path.display())),
    }
}

/// Starts the agent on `listener` (already bound) with `secret`.
pub async fn start_on(
    config: AgentConfig,
    secret: Vec<u8>,
    listener: TcpListener,
) -> anyhow::Result<RunningAgent> {
    fs::create_dir_all(&config.state_dir)
        .with_context(|| format!("creating {}", config.state_dir.display()))?;
    let quarantine_dir = config.state_dir.join("quarantine");
    let quarantine = Quarantine::open(quarantine_dir.clone(), &config.protected_paths)
        .map_err(|err| anyhow::anyhow!("quarantine store: {err}"))?;
    let audit_path = config.state_dir.join("audit.log");
    let audit = fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&audit_path)
        .with_context(|| format!("opening {}", audit_path.display()))?;
    let agent = Arc::new(Agent {
        verifier: Verifier::new(config.key_id.clone(), secret),
        allow: config.allow.clone(),
        quarantine,
        docker: Docker::new(config.docker_socket.clone()),
        nft: Nft::new(config.nft.clone()),
        nft_ready: Mutex::new(false),
        sinkhole: Sinkhole::new(&config.dns),
        scan: config.scan.clone(),
        audit: Mutex::new(audit),
        audit_path: audit_path.clone(),
    });
    let addr = listener.local_addr()?;
    let app = Router::new().fallback(handle).with_state(agent);
    let (shutdown, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let service = app.into_make_service_with_connect_info::<SocketAddr>();
        let result = axum::serve(listener, service)
            .with_graceful_shutdown(async move {
                let _ = stopped.await;
            })
            .await;
        if let Err(err) = result {
            tracing::error!(error = %err, "agent server stopped");
        }
    });
    tracing::info!(%addr, key_id = %config.key_id, allow = ?config.allow, "agent listening");
    Ok(RunningAgent {
        addr,
        audit: audit_path,
        quarantine: quarantine_dir,
        shutdown: Some(shutdown),
        task: Some(task),
    })
}

/// Starts the agent on `config.listen`, reading or creating its key.
pub async fn start(config: AgentConfig) -> anyhow::Result<RunningAgent> {
    let secret = load_or_create_secret(&config.secret_file)?;
    let listener = TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("binding {}", config.listen))?;
    start_on(config, secret, listener).await
}

async fn handle(
    State(agent): State<Arc<Agent>>,
    ConnectInfo(remote): ConnectInfo<SocketAddr>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri
        .path_and_query()
        .map_or_else(|| uri.path().to_owned(), |p| p.as_str().to_owned());
    let mut entry = AuditEntry {
        remote,
        key_id: None,
        route: path.clone(),
        idempotency_key: None,
    };
    let result = serve(&agent, &method, &path, &headers, body, &mut entry).await;
    let (status, answer, summary, error) = match result {
        Ok((answer, summary)) => (StatusCode::OK, answer, summary, None),
        Err(err) => {
            let body = serde_json::to_value(err.body()).unwrap_or_default();
            (err.status(), body, String::new(), Some(err))
        }
    };
    agent.audit(&entry, status, error.as_ref(), &summary);
    (status, Json(answer)).into_response()
}

struct AuditEntry {
    remote: SocketAddr,
    key_id: Option<String>,
    route: String,
    idempotency_key: Option<String>,
}

async fn serve(
    agent: &Arc<Agent>,
    method: &Method,
    path: &str,
    headers: &HeaderMap,
    body: Bytes,
    entry: &mut AuditEntry,
) -> Result<(Value, String), AgentError> {
    if body.len() > MAX_BODY {
        return Err(AgentError::InvalidInput(format!(
            "the body is {} bytes; at most {MAX_BODY} are read",
            body.len()
        )));
    }
    let key_id = agent
        .verifier
        .verify(method.as_str(), path, headers, &body, unix_now())?;
    entry.key_id = Some(key_id.to_owned());
    if method != Method::POST {
        return Err(AgentError::InvalidInput(format!(
            "{method} {path}: every agent route is POST"
        )));
    }
    let capability = match path {
        route::KILL => Capability::Kill,
        route::QUARANTINE => Capability::Quarantine,
        // What deep clean quarantined, it may also restore.
        route::RESTORE if agent.allow.contains(&Capability::Scan) => Capability::Scan,
        route::RESTORE => Capability::Quarantine,
        route::KILL_AND_QUARANTINE => Capability::Kill,
        route::CONTAINER_STOP | route::CONTAINER_START => Capability::Container,
        route::SCAN => Capability::Scan,
        route::SNAPSHOT => Capability::Snapshot,
        route::NET_ADD | route::NET_REMOVE => Capability::Net,
        route::DNS_ADD | route::DNS_REMOVE => Capability::Dns,
        other => return Err(AgentError::NotFound(format!("no route {other}"))),
    };
    agent.allowed(capability)?;
    if path == route::KILL_AND_QUARANTINE {
        agent.allowed(Capability::Quarantine)?;
    }
    let agent = Arc::clone(agent);
    match path {
        route::KILL => {
            let request: KillRequest = parse(&body, entry)?;
            blocking(move || {
                let report = process::kill(&request)?;
                let summary = format!("killed {:?}", pids(&report.killed));
                Ok((to_value(&report)?, summary))
            })
            .await
        }
        route::QUARANTINE => {
            let request: QuarantineRequest = parse(&body, entry)?;
            blocking(move || {
                let record = agent.quarantine.quarantine(
                    &request.idempotency_key,
                    &request.path,
                    request.sha256.as_deref(),
                )?;
                let summary = format!("quarantined {} as {}", record.original_path, record.id);
                Ok((to_value(&record)?, summary))
            })
            .await
        }
        route::RESTORE => {
            let request: RestoreRequest = parse(&body, entry)?;
            blocking(move || {
                let report = agent.quarantine.restore(&request.id)?;
                let summary = format!("restored {} (changed: {})", report.path, report.restored);
                Ok((to_value(&report)?, summary))
            })
            .await
        }
        route::KILL_AND_QUARANTINE => {
            let request: KillAndQuarantineRequest = parse(&body, entry)?;
            entry.idempotency_key = Some(request.kill.idempotency_key.clone());
            blocking(move || kill_and_quarantine(&agent, &request)).await
        }
        route::CONTAINER_STOP | route::CONTAINER_START => {
            let request: ContainerRequest = parse(&body, entry)?;
            let report = if path == route::CONTAINER_STOP {
                agent
                    .docker
                    .stop(&request.id, request.timeout_seconds)
                    .await?
            } else {
                agent.docker.start(&request.id).await?
            };
            let summary = format!(
                "container {} {} (changed: {})",
                report.name, report.state, report.changed
            );
            Ok((to_value(&report)?, summary))
        }
        route::SCAN => {
            let request: ScanRequest = parse(&body, entry)?;
            blocking(move || {
                let key = request.idempotency_key.clone();
                let mut quarantine = |file: &Path, sha256: &str| {
                    agent
                        .quarantine
                        .quarantine(&key, &file.to_string_lossy(), Some(sha256))
                };
                let report = scan::scan(&request, &agent.scan, &mut quarantine)?;
                let summary = format!(
                    "scanned {} files, {} matches",
                    report.files_scanned,
                    report.matches.len()
                );
                Ok((to_value(&report)?, summary))
            })
            .await
        }
        route::SNAPSHOT => {
            let request: SnapshotRequest = parse(&body, entry)?;
            blocking(move || {
                let sources = snapshot::SnapshotSources::system();
                let mut snapshot = to_value(&snapshot::collect(&sources))?;
                let saved = agent.save_snapshot(&request.idempotency_key, &snapshot)?;
                if let Some(object) = snapshot.as_object_mut() {
                    object.insert("saved_to".into(), Value::String(saved.clone()));
                }
                Ok((snapshot, format!("host snapshot saved to {saved}")))
            })
            .await
        }
        route::NET_ADD | route::NET_REMOVE => {
            let request: NetRequest = parse(&body, entry)?;
            let add = path == route::NET_ADD;
            blocking(move || {
                agent.nft_ready()?;
                let report = if add {
                    agent.nft.add(&request)?
                } else {
                    agent.nft.remove(&request)?
                };
                let summary = format!(
                    "{} {} {} (changed: {})",
                    if add { "added" } else { "removed" },
                    report.element,
                    report.set,
                    report.changed
                );
                Ok((to_value(&report)?, summary))
            })
            .await
        }
        route::DNS_ADD | route::DNS_REMOVE => {
            let request: DnsRequest = parse(&body, entry)?;
            let add = path == route::DNS_ADD;
            blocking(move || {
                let report = if add {
                    agent.sinkhole.add(&request)?
                } else {
                    agent.sinkhole.remove(&request)?
                };
                let summary = format!("{:?} (changed: {})", report.lines, report.changed);
                Ok((to_value(&report)?, summary))
            })
            .await
        }
        other => Err(AgentError::NotFound(format!("no route {other}"))),
    }
}

fn kill_and_quarantine(
    agent: &Agent,
    request: &KillAndQuarantineRequest,
) -> Result<(Value, String), AgentError> {
    let kill = &request.kill;
    // The file to quarantine is fixed before the kill: afterwards the
    // process (and its /proc entry) is gone.
    let path = match (&request.path, &kill.exe, kill.pid) {
        (Some(path), _, _) | (None, Some(path), _) => path.clone(),
        (None, None, Some(pid)) => process::ProcessInfo::read(pid)
            .and_then(|info| info.exe)
            .map(|exe| exe.display().to_string())
            .ok_or_else(|| {
                AgentError::NotFound(format!(
                    "pid {pid} is gone and the request names no file to quarantine"
                ))
            })?,
        (None, None, None) => {
            return Err(AgentError::InvalidInput(
                "kill-and-quarantine names a file (`path` or `kill.exe`) or a `kill.pid`".into(),
            ));
        }
    };
    let killed = process::kill(kill)?;
    let quarantined =
        agent
            .quarantine
            .quarantine(&kill.idempotency_key, &path, kill.sha256.as_deref())?;
    let summary = format!(
        "killed {:?}, quarantined {} as {}",
        pids(&killed.killed),
        quarantined.original_path,
        quarantined.id
    );
    let report = KillAndQuarantineReport {
        kill: killed,
        quarantined,
    };
    Ok((to_value(&report)?, summary))
}

fn pids(killed: &[riposte_sdk::agent::KilledProcess]) -> Vec<u32> {
    killed.iter().map(|k| k.pid).collect()
}

impl Agent {
    fn allowed(&self, capability: Capability) -> Result<(), AgentError> {
        if self.allow.contains(&capability) {
            return Ok(());
        }
        Err(AgentError::Refused(format!(
            "this agent is not configured to allow `{}` (its `allow` list is [{}])",
            capability.name(),
            self.allow
                .iter()
                .map(|c| c.name())
                .collect::<Vec<_>>()
                .join(", ")
        )))
    }

    /// Keeps the whole snapshot in `<state>/snapshots/`, named from the
    /// task's key, since the task's report may have to be shortened.
    fn save_snapshot(&self, key: &str, snapshot: &Value) -> Result<String, AgentError> {
        let dir = self.quarantine.dir().with_file_name("snapshots");
        fs::create_dir_all(&dir).map_err(|err| AgentError::io(dir.display(), &err))?;
        let name: String = key
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
            .take(64)
            .collect();
        let path = dir.join(format!("{}-{name}.json", unix_now()));
        let bytes = serde_json::to_vec(snapshot)
            .map_err(|err| AgentError::Internal(format!("encoding the snapshot: {err}")))?;
        fs::write(&path, bytes).map_err(|err| AgentError::io(path.display(), &err))?;
        Ok(path.display().to_string())
    }

    fn nft_ready(&self) -> Result<(), AgentError> {
        let mut ready = self.nft_ready.lock().unwrap_or_else(|p| p.into_inner());
        if !*ready {
            self.nft.ensure()?;
            *ready = true;
        }
        Ok(())
    }

    fn audit(
        &self,
        entry: &AuditEntry,
        status: StatusCode,
        error: Option<&AgentError>,
        summary: &str,
    ) {
        let line = json!({
            "time": crate::model::Time::now().to_string(),
            "remote": entry.remote.to_string(),
            "key_id": entry.key_id,
            "route": entry.route,
            "idempotency_key": entry.idempotency_key,
            "status": status.as_u16(),
            "error": error.map(AgentError::code),
            "message": error.map(ToString::to_string),
            "summary": summary,
        });
        match error {
            None => {
                tracing::info!(route = %entry.route, key = ?entry.idempotency_key, %summary, "agent action")
            }
            Some(err) => {
                tracing::warn!(route = %entry.route, code = err.code(), error = %err, "agent refused")
            }
        }
        let mut file = self.audit.lock().unwrap_or_else(|p| p.into_inner());
        if let Err(err) = writeln!(file, "{line}") {
            tracing::error!(path = %self.audit_path.display(), error = %err, "audit log write failed");
        }
    }
}

fn parse<T: DeserializeOwned + HasKey>(
    body: &[u8],
    entry: &mut AuditEntry,
) -> Result<T, AgentError> {
    let request: T = serde_json::from_slice(body).map_err(|err| {
        AgentError::InvalidInput(format!(
            "the body is not a {} request: {err}",
            std::any::type_name::<T>()
                .rsplit("::")
                .next()
                .unwrap_or("valid")
        ))
    })?;
    if let Some(key) = request.key() {
        entry.idempotency_key = Some(key.to_owned());
    }
    Ok(request)
}

/// Requests that carry an idempotency key at the top level.
trait HasKey {
    fn key(&self) -> Option<&str>;
}

macro_rules! has_key {
    ($($ty:ty),*) => {$(
        impl HasKey for $ty {
            fn key(&self) -> Option<&str> {
                Some(&self.idempotency_key)
            }
        }
    )*};
}

has_key!(
    KillRequest,
    QuarantineRequest,
    RestoreRequest,
    ContainerRequest,
    ScanRequest,
    SnapshotRequest,
    NetRequest,
    DnsRequest
);

impl HasKey for KillAndQuarantineRequest {
    fn key(&self) -> Option<&str> {
        Some(&self.kill.idempotency_key)
    }
}

fn to_value<T: Serialize>(value: &T) -> Result<Value, AgentError> {
    serde_json::to_value(value).map_err(|err| AgentError::Internal(format!("encoding: {err}")))
}

async fn blocking<F>(work: F) -> Result<(Value, String), AgentError>
where
    F: FnOnce() -> Result<(Value, String), AgentError> + Send + 'static,
{
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|err| AgentError::Internal(format!("the action panicked: {err}")))?
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
