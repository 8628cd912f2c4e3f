//! The recording endpoint: a small REST store on `127.0.0.1` that records
//! every request, so that any component calling an HTTP API can be checked
//! without knowing the API.
//!
//! Semantics (what a webhook, ticketing or blocklist API commonly does):
//! - `POST /a/b` creates `/a/b/N` (201, `Location: /a/b/N`, body
//!   `{"id": "N", "location": "/a/b/N"}`); a second `POST` with the same
//!   `Idempotency-Key` header to the same path creates nothing and answers
//!   200 with the first answer (as in the IETF draft
//!   `draft-ietf-httpapi-idempotency-key-header`);
//! - `PUT` stores the body at the path (201 new, 200 replaced);
//! - `DELETE` removes the path (204), or answers 404 when it is absent;
//! - `GET` and `HEAD` read (200 or 404) and change nothing.
//!
//! Injected faults answer the next request instead: 403, 429 with
//! `Retry-After: 2`, or 503.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

use super::backend::{Backend, Fault, Observed, settings_for};
use crate::runtime::gate::HostGrant;
use crate::runtime::secrets::SecretValue;
use crate::runtime::wit;

/// The pause a throttled answer asks for, in seconds.
const RETRY_AFTER_SECONDS: u64 = 2;

/// The collection path of the target's endpoint.
const HOOK_PATH: &str = "/conformance/hooks";

/// The secret a component that needs a credential is given.
const CREDENTIAL: &str = "conformance-webhook";

/// One request as the endpoint received it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointRequest {
    /// Method, upper case.
    pub method: String,
    /// Path and query.
    pub target: String,
    /// Header names (lower case) and values.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

#[derive(Debug, Default)]
struct Store {
    /// Path to body.
    resources: BTreeMap<String, Vec<u8>>,
    /// (collection, idempotency key) to the answer of the first POST.
    keys: HashMap<(String, String), String>,
    next_id: u64,
    faults: VecDeque<Fault>,
    requests: Vec<EndpointRequest>,
}

/// A running recording endpoint; stops when dropped.
pub struct RecordingEndpoint {
    addr: SocketAddr,
    store: Arc<Mutex<Store>>,
    secret: String,
    server: tokio::task::JoinHandle<()>,
}

impl std::fmt::Debug for RecordingEndpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecordingEndpoint")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl RecordingEndpoint {
    /// Binds `127.0.0.1` on a port the OS picks and serves on the current
    /// tokio runtime.
    pub async fn start() -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?;
        let addr = listener.local_addr()?;
        let store = Arc::new(Mutex::new(Store {
            next_id: 1,
            ..Store::default()
        }));
        let shared = store.clone();
        let app = axum::Router::new().fallback(
            move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
                let store = shared.clone();
                async move { handle(&store, method, uri, headers, body) }
            },
        );
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        let secret: String = (0..32).map(|_| fastrand::alphanumeric()).collect();
        Ok(Self {
            addr,
            store,
            secret,
            server,
        })
    }

    /// The address served.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The URL components are given as their target's endpoint.
    pub fn url(&self) -> String {
        format!("http://{}{HOOK_PATH}", self.addr)
    }

    /// Every request received so far, with headers and bodies.
    pub fn received(&self) -> Vec<EndpointRequest> {
        self.lock().requests.clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Store> {
        self.store
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Drop for RecordingEndpoint {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl Backend for RecordingEndpoint {
    fn name(&self) -> String {
        format!("the recording endpoint on {}", self.url())
    }

    fn grants(&self) -> Vec<HostGrant> {
        let grant = format!("http://{}", self.addr);
        vec![grant.parse().expect("a loopback origin is a valid grant")]
    }

    fn secrets(&self) -> Vec<(String, SecretValue)> {
        let value = SecretValue::new("conformance-key", self.secret.clone().into_bytes());
        vec![(CREDENTIAL.into(), value)]
    }

    fn target(&self, action: &wit::ActionInfo) -> wit::Target {
        wit::Target {
            id: "conformance".into(),
            provider: "webhook".into(),
            account: "conformance".into(),
            region: String::new(),
            resource: HOOK_PATH.into(),
            endpoint: self.url(),
            credential: Some(CREDENTIAL.into()),
            settings: settings_for(action, |_| None),
        }
    }

    fn state(&self) -> BTreeSet<String> {
        self.lock()
            .resources
            .iter()
            .map(|(path, body)| format!("{path} sha256:{}", hex::encode(Sha256::digest(body))))
            .collect()
    }

    fn requests(&self) -> Vec<Observed> {
        self.lock()
            .requests
            .iter()
            .map(|request| Observed {
                summary: format!("{} {}", request.method, request.target),
                changes_state: !matches!(request.method.as_str(), "GET" | "HEAD" | "OPTIONS"),
            })
            .collect()
    }

    fn inject(&self, fault: Fault) -> bool {
        self.lock().faults.push_back(fault);
        true
    }

    fn clear_faults(&self) {
        self.lock().faults.clear();
    }

    fn retry_after_ms(&self) -> Option<u64> {
        Some(RETRY_AFTER_SECONDS * 1000)
    }
}

fn handle(
    store: &Mutex<Store>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut store = store
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    store.requests.push(EndpointRequest {
        method: method.as_str().to_owned(),
        target: uri
            .path_and_query()
            .map_or_else(|| uri.path().to_owned(), |pq| pq.as_str().to_owned()),
        headers: headers
            .iter()
            .map(|(name, value)| {
                let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
                (name.as_str().to_owned(), value)
            })
            .collect(),
        body: body.to_vec(),
    });
    if let Some(fault) = store.faults.pop_front() {
        return fault_answer(fault);
    }

    let path = uri.path().trim_end_matches('/').to_owned();
    let path = if path.is_empty() {
        "/".to_owned()
    } else {
        path
    };
    match method {
        Method::GET | Method::HEAD => match store.resources.get(&path) {
            Some(body) => (StatusCode::OK, body.clone()).into_response(),
            None => StatusCode::NOT_FOUND.into_response(),
        },
        Method::POST => {
            let key = headers
                .get("idempotency-key")
                .and_then(|value| value.to_str().ok())
                .map(str::to_owned);
            if let Some(key) = &key
                && let Some(answer) = store.keys.get(&(path.clone(), key.clone()))
            {
                return created(StatusCode::OK, answer);
            }
            let id = store.next_id;
            store.next_id += 1;
            let location = format!("{}/{id}", path.trim_end_matches('/'));
            store.resources.insert(location.clone(), body.to_vec());
            if let Some(key) = key {
                store.keys.insert((path, key), location.clone());
            }
            created(StatusCode::CREATED, &location)
        }
        Method::PUT | Method::PATCH => {
            let existed = store.resources.insert(path, body.to_vec()).is_some();
            if existed {
                StatusCode::OK.into_response()
            } else {
                StatusCode::CREATED.into_response()
            }
        }
        Method::DELETE => match store.resources.remove(&path) {
            Some(_) => StatusCode::NO_CONTENT.into_response(),
            None => StatusCode::NOT_FOUND.into_response(),
        },
        _ => StatusCode::METHOD_NOT_ALLOWED.into_response(),
    }
}

fn created(status: StatusCode, location: &str) -> Response {
    let id = location.rsplit('/').next().unwrap_or_default();
    let body = serde_json::json!({ "id": id, "location": location }).to_string();
    let mut response = (status, body).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    if let Ok(value) = HeaderValue::from_str(location) {
        headers.insert(header::LOCATION, value);
    }
    response
}

fn fault_answer(fault: Fault) -> Response {
    let (status, message) = match fault {
        Fault::Forbidden => (StatusCode::FORBIDDEN, "the credential is not allowed here"),
        Fault::Throttled => (StatusCode::TOO_MANY_REQUESTS, "slow down"),
        Fault::Unavailable => (StatusCode::SERVICE_UNAVAILABLE, "try again later"),
    };
    let body = serde_json::json!({ "error": message }).to_string();
    let mut response = (status, body).into_response();
    if fault == Fault::Throttled {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECONDS));
    }
    response
}
