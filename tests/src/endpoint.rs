//! A loopback endpoint that counts side effects: every POST the counter
//! fixture sends (`/block`, `/unblock`, `/kill`) is recorded with its
//! idempotency key and arrival time, and the endpoint can be told to
//! throttle, fail or slow down.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;

/// One request the endpoint answered.
#[derive(Debug, Clone)]
pub struct Hit {
    /// `/block`, `/unblock` or `/kill`.
    pub path: String,
    /// The task's idempotency key.
    pub key: String,
    /// The entity value.
    pub value: String,
    pub attempt: u32,
    pub at: Instant,
    /// The status the endpoint answered with.
    pub status: u16,
}

#[derive(Debug, Default)]
struct State {
    hits: Vec<Hit>,
    /// Answer this many of the next requests with 429.
    throttle: usize,
    /// Answer this many of the next requests with 503.
    unavailable: usize,
    latency: Duration,
    /// Requests being answered now, and the most at any moment.
    in_flight: usize,
    max_in_flight: usize,
}

/// The endpoint; dropped, it stops listening.
pub struct CountingEndpoint {
    port: u16,
    state: Arc<Mutex<State>>,
    task: tokio::task::JoinHandle<()>,
}

impl CountingEndpoint {
    /// Listens on 127.0.0.1 on a port the system picks.
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let state = Arc::new(Mutex::new(State::default()));
        let shared = state.clone();
        let task = tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                let state = shared.clone();
                tokio::spawn(async move {
                    let Some(request) = super::read_request(&mut stream).await else {
                        return;
                    };
                    let latency = {
                        let mut state = state.lock().unwrap();
                        state.in_flight += 1;
                        state.max_in_flight = state.max_in_flight.max(state.in_flight);
                        state.latency
                    };
                    if !latency.is_zero() {
                        tokio::time::sleep(latency).await;
                    }
                    let status = answer(&state, &request);
                    state.lock().unwrap().in_flight -= 1;
                    let response = format!(
                        "HTTP/1.1 {status} X\r\ncontent-length: 2\r\nretry-after-ms: 100\r\n\
                         connection: close\r\n\r\n{{}}"
                    );
                    let _ = stream.write_all(response.as_bytes()).await;
                    let _ = stream.shutdown().await;
                });
            }
        });
        Self { port, state, task }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The base URL targets use.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Every request so far.
    pub fn hits(&self) -> Vec<Hit> {
        self.state.lock().unwrap().hits.clone()
    }

    /// Requests to `path` answered with success.
    pub fn done(&self, path: &str) -> Vec<Hit> {
        self.hits()
            .into_iter()
            .filter(|hit| hit.path == path && hit.status == 200)
            .collect()
    }

    /// The most requests the endpoint was answering at one moment.
    pub fn max_in_flight(&self) -> usize {
        self.state.lock().unwrap().max_in_flight
    }

    /// Answers the next `n` requests with 429 (retry after 100 ms).
    pub fn throttle_next(&self, n: usize) {
        self.state.lock().unwrap().throttle = n;
    }

    /// Answers the next `n` requests with 503.
    pub fn fail_next(&self, n: usize) {
        self.state.lock().unwrap().unavailable = n;
    }

    /// Waits this long before answering each request.
    pub fn set_latency(&self, latency: Duration) {
        self.state.lock().unwrap().latency = latency;
    }

    /// Waits until `check` holds on the hits, or panics after `limit`.
    pub async fn wait_for(&self, what: &str, limit: Duration, check: impl Fn(&[Hit]) -> bool) {
        let start = Instant::now();
        loop {
            if check(&self.hits()) {
                return;
            }
            assert!(
                start.elapsed() < limit,
                "timed out after {limit:?} waiting for {what}"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

impl Drop for CountingEndpoint {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn answer(state: &Mutex<State>, request: &super::Recorded) -> u16 {
    let body: serde_json::Value = serde_json::from_slice(&request.body).unwrap_or_default();
    let field = |name: &str| body[name].as_str().unwrap_or_default().to_string();
    let mut state = state.lock().unwrap();
    let status = if state.throttle > 0 {
        state.throttle -= 1;
        429
    } else if state.unavailable > 0 {
        state.unavailable -= 1;
        503
    } else {
        200
    };
    state.hits.push(Hit {
        path: request.target.clone(),
        key: field("key"),
        value: field("value"),
        attempt: u32::try_from(body["attempt"].as_u64().unwrap_or(0)).unwrap_or(0),
        at: Instant::now(),
        status,
    });
    status
}
