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
use std::os::unix::fs::OpenOptionsExt;
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

/// The largest request body read (YARA rules included); a larger one is
/// answered 413 by the framework before authentication, without an audit
/// line.
const MAX_BODY: usize = 4 << 20;

/// Everything a request may use.
struct Agent {
    verifier: Verifier,
    allow: BTreeSet<Capability>,
    quarantine: Quarantine,
    docker: Docker,
    nft: Nft,
    sinkhole: Sinkhole,
    scan: scan::ScanLimits,
    audit: Mutex<fs::File>,
    audit_path: PathBuf,
    /// `<state>/journal/`: the answers of changing requests, by request.
    journal: PathBuf,
    journal_turns: Mutex<std::collections::HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
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
    create_private_dir(&config.state_dir)?;
    let quarantine_dir = config.state_dir.join("quarantine");
    // The agent's own state, key and binary are never quarantined.
    let mut protected = config.protected_paths.clone();
    protected.push(config.state_dir.clone());
    protected.push(config.secret_file.clone());
    if let Ok(exe) = std::env::current_exe() {
        protected.push(exe);
    }
    let protected: Vec<PathBuf> = protected
        .into_iter()
        .map(|path| std::path::absolute(&path).unwrap_or(path))
        .collect();
    let quarantine = Quarantine::open(
        quarantine_dir.clone(),
        &protected,
        config.scan.max_file_bytes,
    )
    .map_err(|err| anyhow::anyhow!("quarantine store: {err}"))?;
    let journal = config.state_dir.join("journal");
    create_private_dir(&journal)?;
    prune_journal(&journal);
    let audit_path = config.state_dir.join("audit.log");
    let audit = fs::OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(&audit_path)
        .with_context(|| format!("opening {}", audit_path.display()))?;
    let agent = Arc::new(Agent {
        verifier: Verifier::new(config.key_id.clone(), secret).since(unix_now()),
        allow: config.allow.clone(),
        quarantine,
        docker: Docker::new(config.docker_socket.clone()),
        nft: Nft::new(config.nft.clone()),
        sinkhole: Sinkhole::new(&config.dns),
        scan: config.scan.clone(),
        audit: Mutex::new(audit),
        audit_path: audit_path.clone(),
        journal,
        journal_turns: Mutex::default(),
    });
    let addr = listener.local_addr()?;
    let app = Router::new()
        .fallback(handle)
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY))
        .with_state(agent);
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

/// How long journal entries are kept: retries of a task end well before.
const JOURNAL_DAYS: u64 = 7;

fn create_private_dir(dir: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    fs::set_permissions(dir, fs::Permissions::from_mode(0o700))
        .with_context(|| format!("securing {}", dir.display()))
}

/// Removes journal entries older than [`JOURNAL_DAYS`].
fn prune_journal(dir: &Path) {
    let horizon = std::time::Duration::from_secs(JOURNAL_DAYS * 86_400);
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let old = entry
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age > horizon);
        if old {
            let _ = fs::remove_file(entry.path());
        }
    }
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
    // A repeat of a request (same route and body, so the same task's
    // idempotency key) is answered from the journal: a retry after a lost
    // answer gets the first answer, revert token material included,
    // instead of "nothing changed". Repeats wait for the first to finish.
    let journal = (path != route::SNAPSHOT).then(|| journal_id(path, &body));
    let _turn = match &journal {
        Some(id) => Some(agent.journal_turn(id).lock_owned().await),
        None => None,
    };
    if let Some(id) = &journal
        && let Some(answer) = agent.journal_read(id)
    {
        entry.idempotency_key = idempotency_key(&body);
        return Ok((answer, "repeat: answered from the journal".to_owned()));
    }
    let result = dispatch(agent, path, body, entry).await;
    if let (Ok((answer, _)), Some(id)) = (&result, &journal) {
        agent.journal_write(id, answer);
    }
    result
}

async fn dispatch(
    agent: &Arc<Agent>,
    path: &str,
    body: Bytes,
    entry: &mut AuditEntry,
) -> Result<(Value, String), AgentError> {
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
                // Every time: a firewall reload may have flushed the
                // table, and the setup is one idempotent transaction.
                agent.nft.ensure()?;
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
    // A path taken from the process (its `exe`) must be the file it runs:
    // a process in a container or running a deleted binary names a path
    // that is, on this host, some other file.
    if request.path.is_none()
        && let Some(pid) = kill.pid
    {
        use std::os::unix::fs::MetadataExt;
        let running = fs::metadata(format!("/proc/{pid}/exe")).ok();
        let named = fs::symlink_metadata(&path).ok();
        let same = matches!((&running, &named), (Some(r), Some(n)) if r.dev() == n.dev() && r.ino() == n.ino());
        if running.is_some() && !same {
            return Err(AgentError::Conflict(format!(
                "pid {pid} does not run the file at {path} on this host (it runs in a container, \
                 or its executable was deleted or replaced); name the file with `path`. \
                 Nothing was done"
            )));
        }
    }
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

/// The journal entry of a request: SHA-256 of its route and body.
fn journal_id(path: &str, body: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    let mut hasher = Sha256::new();
    hasher.update(path.as_bytes());
    hasher.update([0]);
    hasher.update(body);
    hex::encode(hasher.finalize())
}

/// The idempotency key of a body, for the audit line of a repeat.
fn idempotency_key(body: &[u8]) -> Option<String> {
    let value: Value = serde_json::from_slice(body).ok()?;
    value["idempotency_key"]
        .as_str()
        .or(value["kill"]["idempotency_key"].as_str())
        .map(str::to_owned)
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
        let dir = self.journal.with_file_name("snapshots");
        create_private_dir(&dir).map_err(|err| AgentError::Internal(format!("{err:#}")))?;
        let name: String = key
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
            .take(64)
            .collect();
        let path = dir.join(format!("{}-{name}.json", unix_now()));
        let bytes = serde_json::to_vec(snapshot)
            .map_err(|err| AgentError::Internal(format!("encoding the snapshot: {err}")))?;
        {
            fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .mode(0o600)
                .open(&path)
                .and_then(|mut file| file.write_all(&bytes))
                .map_err(|err| AgentError::io(path.display(), &err))?;
        }
        Ok(path.display().to_string())
    }

    fn journal_turn(&self, id: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut turns = self.journal_turns.lock().unwrap_or_else(|p| p.into_inner());
        // Forget turns nobody holds, so the map stays small.
        turns.retain(|_, turn| Arc::strong_count(turn) > 1);
        turns.entry(id.to_owned()).or_default().clone()
    }

    fn journal_read(&self, id: &str) -> Option<Value> {
        let bytes = fs::read(self.journal.join(format!("{id}.json"))).ok()?;
        serde_json::from_slice(&bytes).ok()
    }

    fn journal_write(&self, id: &str, answer: &Value) {
        let path = self.journal.join(format!("{id}.json"));
        let staged = self.journal.join(format!("{id}.tmp"));
        let written = fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&staged)
            .and_then(|mut file| {
                file.write_all(answer.to_string().as_bytes())?;
                file.sync_all()
            })
            .and_then(|()| fs::rename(&staged, &path));
        if let Err(err) = written {
            tracing::error!(path = %path.display(), error = %err, "journal write failed");
        }
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
            "route": shorten(&entry.route),
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
            // A failed authentication is worth an operator's attention; a
            // refusal of an authenticated request is the agent doing its job.
            Some(err @ AgentError::Unauthorized(_)) => {
                let route = shorten(&entry.route);
                tracing::warn!(%route, remote = %entry.remote, error = %err, "agent refused an unauthenticated request")
            }
            Some(err) => {
                tracing::info!(route = %entry.route, code = err.code(), error = %err, "agent refused")
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

/// At most 200 characters of an untrusted route, for the audit log.
fn shorten(route: &str) -> String {
    let mut short: String = route.chars().take(200).collect();
    if short.len() < route.len() {
        short.push_str("...");
    }
    short
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
