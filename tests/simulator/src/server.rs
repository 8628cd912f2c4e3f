//! The HTTP side: a loopback HTTP/1.1 server (hyper) whose requests go
//! through the provider pipeline.
//!
//! Owns the shared state behind one `Mutex`, the accept loop, reading each
//! request whole, the per-request pipeline (authenticate, apply an injected
//! fault, dispatch, record, log) and turning its outcome into an answer or
//! a closed connection. Every request is treated as an Alibaba Cloud RPC
//! call for now; other providers will be routed here by their
//! `Authorization` scheme.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{CONTENT_TYPE, HOST, HeaderValue};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::Handled;
use crate::aliyun::acs3::Received;
use crate::aliyun::error::ApiError;
use crate::aliyun::{self, Aliyun};
use crate::fault::{Fault, Faults};
use crate::time::Clock;

/// Largest body read; the WAF rule arrays riposte sends are far smaller.
const MAX_BODY: usize = 4 * 1024 * 1024;

/// The state every connection shares.
#[derive(Debug)]
pub(crate) struct State {
    pub(crate) clock: Clock,
    pub(crate) max_skew: Duration,
    pub(crate) aliyun: Aliyun,
    pub(crate) faults: Faults,
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

/// What the pipeline decided for one request.
enum Outcome {
    Success(Map<String, Value>),
    Failure(ApiError),
    Dropped,
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
    let action = parts
        .headers
        .get("x-acs-action")
        .and_then(|value| value.to_str().ok())
        .unwrap_or("")
        .to_owned();
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
            process(shared, &received).await
        }
        Err(err) => Outcome::Failure(ApiError::invalid_parameter(
            "body",
            format!("cannot read the body (at most {MAX_BODY} bytes): {err}"),
        )),
    };
    record(shared, &action, &request_id, &outcome);
    match outcome {
        Outcome::Success(fields) => Ok(json(
            200,
            &request_id,
            &aliyun::success_body(&request_id, fields),
        )),
        Outcome::Failure(err) => Ok(json(
            err.status,
            &request_id,
            &err.body(&request_id, &host_id),
        )),
        Outcome::Dropped => Err(Dropped),
    }
}

/// Authenticate, suffer an injected fault, dispatch.
async fn process(shared: &Shared, received: &Received<'_>) -> Outcome {
    let authenticated = {
        let mut state = shared.lock();
        let (now, skew) = (state.clock.now(), state.max_skew);
        state
            .aliyun
            .authenticate(received, now, skew)
            .map(|verified| (verified, state.faults.take()))
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
    let result = shared.lock().aliyun.dispatch(&verified, received);
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
        headers.insert("x-acs-request-id", value);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aliyun::waf::Waf;
    use std::collections::BTreeMap;

    fn shared() -> Shared {
        let state = State {
            clock: Clock::System,
            max_skew: Duration::from_secs(900),
            aliyun: Aliyun::new(BTreeMap::new(), Waf::new(BTreeMap::new(), 1)),
            faults: Faults::default(),
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
    fn answers_json_with_the_status() {
        let response = json(418, "RID", &serde_json::json!({"a": 1}));
        assert_eq!(response.status(), 418);
        assert_eq!(response.headers()["x-acs-request-id"], "RID");
        let response = json(1000, "RID", &Value::Null);
        assert_eq!(response.status(), 500);
    }
}
