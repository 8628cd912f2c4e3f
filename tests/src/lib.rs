//! Shared pieces of riposte's integration tests and benchmarks: the paths
//! of the guest components built by `build.rs`, a scriptable HTTP server on
//! loopback, a runtime wired to a loopback-only network, and log capture.

use std::collections::HashMap;
use std::io::Write;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use riposte::runtime::gate::{LoopbackOnlyConnector, Network, StaticResolver};
use riposte::runtime::secrets::SecretStore;
use riposte::runtime::{Runtime, RuntimeConfig, wit};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

pub mod api;
pub mod bulk;
pub mod endpoint;
pub mod engine;

/// Paths of the guest components, built for wasm32-wasip2 by `build.rs`.
pub mod guests {
    include!(concat!(env!("OUT_DIR"), "/guests.rs"));
}

/// Reads a guest component's bytes.
pub fn wasm(path: &str) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|err| panic!("reading {path}: {err}"))
}

/// The bytes of a component written in another language, built by
/// `build.rs` with componentize-py or componentize-js. Panics, loudly and
/// with the reason, when its toolchain was missing or the build failed:
/// these tests are never skipped.
pub fn foreign(built: Result<&str, &str>) -> Vec<u8> {
    match built {
        Ok(path) => wasm(path),
        Err(reason) => panic!(
            "\n\n*** a Python or JavaScript component could not be built ***\n{reason}\n\
             hint: `./scripts/guest-toolchains` installs componentize-py and componentize-js, \
             then rebuild (`touch wit/component.wit`)\n"
        ),
    }
}

/// One request as the loopback server received it.
#[derive(Debug, Clone)]
pub struct Recorded {
    /// Method, upper case.
    pub method: String,
    /// Request target (path and query).
    pub target: String,
    /// Header names (lower case) and values, in order, duplicates kept.
    pub headers: Vec<(String, String)>,
    /// Body bytes.
    pub body: Vec<u8>,
}

impl Recorded {
    /// All values of header `name`.
    pub fn header_values(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
            .collect()
    }

    /// The single value of header `name`, if there is one.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.header_values(name).first().copied()
    }
}

/// How the loopback server answers.
#[derive(Debug, Clone)]
pub enum Behaviour {
    /// Status, content type and body.
    Respond(u16, &'static str, String),
    /// A redirect to `location`.
    Redirect(String),
    /// Accept the connection and never answer.
    Tarpit,
}

/// A one-behaviour HTTP/1.1 server on 127.0.0.1, port chosen by the OS.
/// Records every request it reads. Stops when dropped.
pub struct LoopbackServer {
    /// Where it listens.
    pub addr: SocketAddr,
    requests: Arc<Mutex<Vec<Recorded>>>,
    accepted: Arc<Mutex<usize>>,
    task: tokio::task::JoinHandle<()>,
}

impl LoopbackServer {
    /// Starts a server answering every request with `behaviour`.
    pub async fn start(behaviour: Behaviour) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let accepted = Arc::new(Mutex::new(0));
        let (log, count) = (requests.clone(), accepted.clone());
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                *count.lock().unwrap() += 1;
                let (behaviour, log) = (behaviour.clone(), log.clone());
                tokio::spawn(serve(stream, behaviour, log));
            }
        });
        Self {
            addr,
            requests,
            accepted,
            task,
        }
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// Requests read so far.
    pub fn requests(&self) -> Vec<Recorded> {
        self.requests.lock().unwrap().clone()
    }

    /// Connections accepted so far.
    pub fn accepted(&self) -> usize {
        *self.accepted.lock().unwrap()
    }
}

impl Drop for LoopbackServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn serve(mut stream: TcpStream, behaviour: Behaviour, log: Arc<Mutex<Vec<Recorded>>>) {
    if let Behaviour::Tarpit = behaviour {
        // Hold the connection open without reading or answering, bounded
        // so that a test that forgets it does not hang forever.
        tokio::time::sleep(Duration::from_secs(120)).await;
        return;
    }
    let Some(request) = read_request(&mut stream).await else {
        return;
    };
    log.lock().unwrap().push(request);
    let response = match behaviour {
        Behaviour::Respond(status, content_type, body) => format!(
            "HTTP/1.1 {status} X\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\n\
             connection: close\r\n\r\n{body}",
            body.len()
        ),
        Behaviour::Redirect(location) => format!(
            "HTTP/1.1 302 Found\r\nlocation: {location}\r\ncontent-length: 0\r\n\
             connection: close\r\n\r\n"
        ),
        Behaviour::Tarpit => unreachable!(),
    };
    let _ = stream.write_all(response.as_bytes()).await;
    let _ = stream.shutdown().await;
}

async fn read_request(stream: &mut TcpStream) -> Option<Recorded> {
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buffer.extend_from_slice(&chunk[..n]);
        if let Some(pos) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            break pos;
        }
        if buffer.len() > 1 << 20 {
            return None;
        }
    };
    let head = String::from_utf8_lossy(&buffer[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let mut start = lines.next()?.split(' ');
    let method = start.next()?.to_string();
    let target = start.next()?.to_string();
    let headers: Vec<(String, String)> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let length: usize = headers
        .iter()
        .find(|(k, _)| k == "content-length")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = buffer[head_end + 4..].to_vec();
    while body.len() < length {
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            break;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    Some(Recorded {
        method,
        target,
        headers,
        body,
    })
}

/// A runtime whose gate resolves names from `names` only and dials
/// loopback only, whatever the gate decides.
pub fn loopback_runtime(
    config: RuntimeConfig,
    names: &[(&str, &[IpAddr])],
    secrets: SecretStore,
) -> (Runtime, LoopbackOnlyConnector) {
    init_logs();
    let mut resolver = StaticResolver::new();
    for (name, addrs) in names {
        resolver = resolver.with(name, addrs);
    }
    let connector = LoopbackOnlyConnector::new();
    let network = Network::new(Arc::new(resolver), Arc::new(connector.clone()));
    let runtime = Runtime::new(config, network, secrets).expect("building the runtime");
    (runtime, connector)
}

/// An action request for `action` on IP `ip`, with a target of no
/// endpoint, and `parameters`.
pub fn request(action: &str, ip: &str, parameters: &[(&str, &str)]) -> wit::ActionRequest {
    let task_id = format!("task-{}", unique());
    wit::ActionRequest {
        action: action.into(),
        idempotency_key: format!("key-{task_id}"),
        task_id,
        attempt: 1,
        entity: wit::Entity {
            kind: wit::EntityKind::Ip,
            value: ip.into(),
            attributes: Vec::new(),
        },
        target: wit::Target {
            id: "target-1".into(),
            provider: "test".into(),
            account: "acct".into(),
            region: "cn-hangzhou".into(),
            resource: "res".into(),
            endpoint: String::new(),
            credential: None,
            settings: Vec::new(),
        },
        duration_seconds: None,
        parameters: parameters
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    }
}

fn unique() -> u64 {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    NEXT.fetch_add(1, std::sync::atomic::Ordering::SeqCst)
}

static LOGS: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();

#[derive(Clone)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Installs (once per test binary) a global subscriber that records every
/// event at every level, with the safety directives the daemon applies, so
/// tests can assert on what riposte would log.
pub fn init_logs() {
    LOGS.get_or_init(|| {
        let buffer = Arc::new(Mutex::new(Vec::new()));
        let writer = Capture(buffer.clone());
        let mut filter = tracing_subscriber::EnvFilter::new("trace");
        for directive in riposte::runtime::LOG_SAFETY_DIRECTIVES {
            filter = filter.add_directive(directive.parse().unwrap());
        }
        let subscriber = tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish();
        let _ = tracing::subscriber::set_global_default(subscriber);
        buffer
    });
}

/// Everything logged so far in this test binary.
pub fn logs() -> String {
    let buffer = LOGS.get().expect("init_logs was called");
    String::from_utf8_lossy(&buffer.lock().unwrap()).into_owned()
}

/// Secrets for tests: `name` maps to a credential with `public_id` and
/// `secret`.
pub fn secrets(entries: &[(&str, &str, &str)]) -> SecretStore {
    let store = SecretStore::new();
    for (name, public_id, secret) in entries {
        store.insert(
            *name,
            riposte::runtime::secrets::SecretValue::new(*public_id, secret.as_bytes().to_vec()),
        );
    }
    store
}

/// Parses `key=value` pairs of a form or query string (no decoding).
pub fn pairs(text: &str) -> HashMap<String, String> {
    text.split('&')
        .filter_map(|pair| pair.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Every file under `dir`, at any depth.
pub fn files_under(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else {
                files.push(path);
            }
        }
    }
    files
}
