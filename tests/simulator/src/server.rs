//! The HTTP side: a loopback HTTP/1.1 server (hyper) whose requests go
//! through the provider pipeline.
//!
//! Owns the shared state behind one `Mutex`, the accept loop, reading each
//! request whole, the per-request pipeline (authenticate, apply an injected
//! fault, dispatch, record, log) and turning its outcome into an answer or
//! a closed connection. Requests are routed to a provider by their
//! `Authorization` scheme (then by their provider-specific headers), and
//! answered in that provider's shape.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::HeaderMap;
use hyper::body::Incoming;
use hyper::header::{AUTHORIZATION, CONTENT_TYPE, HOST, HeaderValue};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::Handled;
use crate::aliyun::acs3::Received;
use crate::aliyun::error::ApiError;
use crate::aliyun::{self, Aliyun};
use crate::fault::{Fault, Faults};
use crate::huawei::{self, Huawei};
use crate::tencent::{self, Tencent};
use crate::time::Clock;

/// Largest body read; the WAF rule arrays riposte sends are far smaller.
const MAX_BODY: usize = 4 * 1024 * 1024;

/// The state every connection shares.
#[derive(Debug)]
pub(crate) struct State {
    pub(crate) clock: Clock,
    pub(crate) max_skew: Duration,
    pub(crate) aliyun: Aliyun,
    pub(crate) tencent: Tencent,
    pub(crate) huawei: Huawei,
    pub(crate) faults: Faults,
    pub(crate) rate_limit: crate::fault::RateLimit,
    pub(crate) handled: Vec<Handled>,
}

/// The state plus what makes request ids unique.
#[derive(Debug)]
pub(crate) struct Shared {
    state: Mutex<State>,
    seed: String,
    counter: AtomicU64,
}

impl Shared {
    /// Wraps `state`; `seed` makes this simulator's request ids differ from
    /// another's.
    pub(crate) fn new(state: State, seed: String) -> Self {
        Self {
            state: Mutex::new(state),
            seed,
            counter: AtomicU64::new(0),
        }
    }

    /// The state; a panic while it was held does not make it unusable.
    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A fresh request id shaped like Alibaba's (`8906582E-6722-409A-…`).
    fn next_request_id(&self) -> String {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        let digest = hex::encode_upper(Sha256::digest(format!("{}/{n}", self.seed)));
        format!(
            "{}-{}-{}-{}-{}",
            &digest[0..8],
            &digest[8..12],
            &digest[12..16],
            &digest[16..20],
            &digest[20..32]
        )
    }
}

/// The connection is closed without an answer (an injected fault).
#[derive(Debug, thiserror::Error)]
#[error("connection dropped by an injected fault")]
struct Dropped;

/// What the pipeline decided for one request. A success holds the
/// action's fields (Alibaba, Tencent) or the whole body (Huawei).
enum Outcome {
    Success(Value),
    Failure(ApiError),
    Dropped,
}

/// The provider a request is addressed to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Provider {
    Aliyun,
    Tencent,
    Huawei,
}

impl Provider {
    /// By the `Authorization` scheme, else by the provider's own headers;
    /// Alibaba when nothing tells.
    fn of(headers: &HeaderMap) -> Self {
        let scheme = headers
            .get(AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.split(' ').next())
            .unwrap_or("");
        match scheme {
            "ACS3-HMAC-SHA256" => Provider::Aliyun,
            "TC3-HMAC-SHA256" => Provider::Tencent,
            "SDK-HMAC-SHA256" => Provider::Huawei,
            _ if headers.contains_key("x-tc-action") => Provider::Tencent,
            _ if headers.contains_key("x-sdk-date") => Provider::Huawei,
            _ => Provider::Aliyun,
        }
    }
}

/// The provider's answer to a request over the rate limit.
fn throttled(provider: Provider) -> ApiError {
    match provider {
        Provider::Aliyun => ApiError::new(
            400,
            "Throttling.User",
            "Request was denied due to user flow control.",
        ),
        Provider::Tencent => ApiError::new(
            200,
            "RequestLimitExceeded",
            "the number of requests exceeds the frequency limit",
        ),
        Provider::Huawei => ApiError::new(
            429,
            "APIGW.0308",
            "The throttling threshold has been reached",
        ),
    }
}

/// Who a verified request came from.
enum Identity {
    Aliyun(crate::aliyun::acs3::Verified),
    Tencent(crate::tencent::tc3::Verified),
    /// The account of the AK.
    Huawei(String),
}

impl Identity {
    /// What the rate limit counts by.
    fn credential(&self) -> String {
        match self {
            Identity::Aliyun(verified) => format!("aliyun/{}", verified.access_key_id),
            Identity::Tencent(verified) => format!("tencent/{}", verified.secret_id),
            Identity::Huawei(account) => format!("huawei/{account}"),
        }
    }
}

/// Accepts connections on `listener` until the runtime shuts down.
pub(crate) async fn accept_loop(listener: std::net::TcpListener, shared: Arc<Shared>) {
    let listener = match tokio::net::TcpListener::from_std(listener) {
        Ok(listener) => listener,
        Err(err) => {
            tracing::error!(%err, "simulator cannot listen");
            return;
        }
    };
    loop {
        match listener.accept().await {
            Ok((stream, peer)) => {
                tracing::trace!(%peer, "simulator connection");
                tokio::spawn(serve_connection(stream, Arc::clone(&shared)));
            }
            Err(err) => {
                tracing::warn!(%err, "simulator accept failed");
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
}

async fn serve_connection(stream: tokio::net::TcpStream, shared: Arc<Shared>) {
    let service = hyper::service::service_fn(move |request| {
        let shared = Arc::clone(&shared);
        async move { respond(&shared, request).await }
    });
    let served = hyper::server::conn::http1::Builder::new()
        .serve_connection(TokioIo::new(stream), service)
        .await;
    if let Err(err) = served {
        tracing::debug!(%err, "simulator connection ended");
    }
}

async fn respond(
    shared: &Shared,
    request: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Dropped> {
    let (parts, body) = request.into_parts();
    let request_id = shared.next_request_id();
    let host_id = parts
        .headers
        .get(HOST)
        .and_then(|value| value.to_str().ok())
        .unwrap_or("simulator")
        .to_owned();
    let provider = Provider::of(&parts.headers);
    let header = |name: &str| {
        parts
            .headers
            .get(name)
            .and_then(|value| value.to_str().ok())
            .unwrap_or("")
            .to_owned()
    };
    let action = match provider {
        Provider::Aliyun => header("x-acs-action"),
        Provider::Tencent => header("x-tc-action"),
        Provider::Huawei => huawei::operation_name(parts.method.as_str(), parts.uri.path()),
    };
    let outcome = match Limited::new(body, MAX_BODY).collect().await {
        Ok(collected) => {
            let body = collected.to_bytes();
            let received = Received {
                method: parts.method.as_str(),
                path: parts.uri.path(),
                query: parts.uri.query().unwrap_or(""),
                headers: &parts.headers,
                body: &body,
            };
            process(shared, provider, &received).await
        }
        Err(err) => Outcome::Failure(ApiError::invalid_parameter(
            "body",
            format!("cannot read the body (at most {MAX_BODY} bytes): {err}"),
        )),
    };
    record(shared, &action, &request_id, &outcome);
    let (status, body) = match (provider, outcome) {
        (_, Outcome::Dropped) => return Err(Dropped),
        (Provider::Aliyun, Outcome::Success(fields)) => {
            (200, aliyun::success_body(&request_id, object(fields)))
        }
        (Provider::Aliyun, Outcome::Failure(err)) => (err.status, err.body(&request_id, &host_id)),
        (Provider::Tencent, Outcome::Success(fields)) => {
            (200, tencent::success_body(&request_id, object(fields)))
        }
        // Tencent answers errors with HTTP 200 and `Response.Error`.
        (Provider::Tencent, Outcome::Failure(err)) => (200, tencent::error_body(&request_id, &err)),
        (Provider::Huawei, Outcome::Success(body)) => (200, body),
        (Provider::Huawei, Outcome::Failure(err)) => {
            (err.status, huawei::error_body(&request_id, &err))
        }
    };
    Ok(json(status, &request_id, &body))
}

fn object(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

/// Authenticate, suffer an injected fault, dispatch.
async fn process(shared: &Shared, provider: Provider, received: &Received<'_>) -> Outcome {
    let authenticated = {
        let mut state = shared.lock();
        let (now, skew) = (state.clock.now(), state.max_skew);
        let identity = match provider {
            Provider::Aliyun => state
                .aliyun
                .authenticate(received, now, skew)
                .map(Identity::Aliyun),
            Provider::Tencent => state
                .tencent
                .authenticate(received, now)
                .map(Identity::Tencent),
            Provider::Huawei => state
                .huawei
                .authenticate(received, now)
                .map(Identity::Huawei),
        };
        identity.and_then(|identity| {
            if state
                .rate_limit
                .admit(&identity.credential(), std::time::Instant::now())
            {
                Ok((identity, state.faults.take()))
            } else {
                Err(throttled(provider))
            }
        })
    };
    let (verified, fault) = match authenticated {
        Ok(pair) => pair,
        Err(err) => return Outcome::Failure(err),
    };
    match &fault {
        Some(Fault::Latency(delay)) => tokio::time::sleep(*delay).await,
        Some(Fault::Error {
            status,
            code,
            message,
        }) => return Outcome::Failure(ApiError::new(*status, code.clone(), message.clone())),
        Some(Fault::Drop) => return Outcome::Dropped,
        Some(Fault::DropAfterHandling) | None => {}
    }
    let result = {
        let mut state = shared.lock();
        let now = state.clock.now();
        match &verified {
            Identity::Aliyun(verified) => state
                .aliyun
                .dispatch(verified, received, now)
                .map(Value::Object),
            Identity::Tencent(verified) => state
                .tencent
                .dispatch(verified, received)
                .map(Value::Object),
            Identity::Huawei(account) => state.huawei.dispatch(account, received),
        }
    };
    match (fault, result) {
        (Some(Fault::DropAfterHandling), _) => Outcome::Dropped,
        (_, Ok(fields)) => Outcome::Success(fields),
        (_, Err(err)) => Outcome::Failure(err),
    }
}

fn record(shared: &Shared, action: &str, request_id: &str, outcome: &Outcome) {
    let (code, status) = match outcome {
        Outcome::Success(_) => ("OK", 200),
        Outcome::Failure(err) => (err.code.as_str(), err.status),
        Outcome::Dropped => ("Dropped", 0),
    };
    match outcome {
        Outcome::Failure(err) => {
            tracing::info!(action, code, status, request_id, message = %err.message, "simulator answered an error");
        }
        _ => tracing::info!(
            action,
            code,
            status,
            request_id,
            "simulator handled a request"
        ),
    }
    shared.lock().handled.push(Handled {
        action: action.to_owned(),
        code: code.to_owned(),
        status,
        at: std::time::Instant::now(),
    });
}

fn json(status: u16, request_id: &str, body: &Value) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body.to_string())));
    *response.status_mut() =
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let headers = response.headers_mut();
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("application/json;charset=utf-8"),
    );
    if let Ok(value) = HeaderValue::from_str(request_id) {
        headers.insert("x-acs-request-id", value.clone());
        headers.insert("x-request-id", value);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aliyun::waf::Waf;
    use std::collections::{BTreeMap, BTreeSet};

    fn shared() -> Shared {
        let state = State {
            clock: Clock::System,
            max_skew: Duration::from_secs(900),
            aliyun: Aliyun::new(
                BTreeMap::new(),
                Waf::new(BTreeMap::new(), 1),
                crate::aliyun::cloudfw::Cloudfw::new(1, 10),
                crate::aliyun::ecs::Ecs::new(BTreeMap::new(), 1),
                crate::aliyun::slb::Slb::new(BTreeMap::new(), None),
                crate::aliyun::ddoscoo::Ddoscoo::new(BTreeSet::new(), 1),
                crate::aliyun::cdn::Cdn::new(BTreeSet::new(), BTreeSet::new(), 1),
            ),
            tencent: Tencent::new(
                &BTreeMap::new(),
                tencent::cfw::Cfw::new(1),
                tencent::waf::Waf::new(BTreeSet::new(), 1),
            ),
            huawei: Huawei::new(
                BTreeMap::new(),
                BTreeMap::new(),
                huawei::cfw::Cfw::new(BTreeMap::new(), 1),
                huawei::waf::Waf::new(BTreeMap::new(), 1),
            ),
            faults: Faults::default(),
            rate_limit: crate::fault::RateLimit::default(),
            handled: Vec::new(),
        };
        Shared::new(state, "seed".into())
    }

    #[test]
    fn request_ids_are_unique_and_shaped_like_alibaba() {
        let shared = shared();
        let (a, b) = (shared.next_request_id(), shared.next_request_id());
        assert_ne!(a, b);
        let lengths: Vec<usize> = a.split('-').map(str::len).collect();
        assert_eq!(lengths, [8, 4, 4, 4, 12]);
        assert!(
            a.bytes()
                .all(|c| c == b'-' || c.is_ascii_digit() || c.is_ascii_uppercase())
        );
    }

    #[test]
    fn routes_by_authorization_scheme_then_headers() {
        let headers = |pairs: &[(&'static str, &'static str)]| {
            let mut map = HeaderMap::new();
            for (name, value) in pairs {
                map.insert(*name, HeaderValue::from_static(value));
            }
            map
        };
        let cases = [
            (
                headers(&[("authorization", "TC3-HMAC-SHA256 Credential=x")]),
                Provider::Tencent,
            ),
            (
                headers(&[("authorization", "SDK-HMAC-SHA256 Access=x")]),
                Provider::Huawei,
            ),
            (
                headers(&[
                    ("authorization", "ACS3-HMAC-SHA256 Credential=x"),
                    ("x-tc-action", "A"),
                ]),
                Provider::Aliyun,
            ),
            (headers(&[("x-tc-action", "A")]), Provider::Tencent),
            (
                headers(&[("x-sdk-date", "20191115T033655Z")]),
                Provider::Huawei,
            ),
            (headers(&[]), Provider::Aliyun),
        ];
        for (headers, provider) in cases {
            assert_eq!(Provider::of(&headers), provider, "{headers:?}");
        }
    }

    #[test]
    fn answers_json_with_the_status() {
        let response = json(418, "RID", &serde_json::json!({"a": 1}));
        assert_eq!(response.status(), 418);
        assert_eq!(response.headers()["x-acs-request-id"], "RID");
        let response = json(1000, "RID", &Value::Null);
        assert_eq!(response.status(), 500);
    }
}
