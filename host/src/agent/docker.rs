//! Stopping and starting containers through the Docker Engine API on its
//! unix socket.
//!
//! Each operation opens its own connections to the socket (HTTP/1.1, one
//! request per connection) and makes three requests:
//!
//! 1. `GET /version`, unversioned, to learn the engine's API range;
//! 2. `POST /v{api}/containers/{id}/stop?t=N` or `.../start`, where Docker
//!    answers 204 when it changed the container, 304 when it was already
//!    in that state and 404 when there is no such container;
//! 3. `GET /v{api}/containers/{id}/json`, for the full id, the name and
//!    the state afterwards.
//!
//! The API version is negotiated rather than fixed because engines refuse
//! versions outside their range on both sides: Docker 29 refuses anything
//! older than 1.44, Docker 24 anything newer than 1.43. The agent uses the
//! engine's own version, capped at [`NEWEST_API`]; the three routes above
//! behave the same in every version from 1.24 on (Docker Engine API
//! reference, "Containers" section).

use std::path::{Path, PathBuf};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Limited};
use hyper::{Method, StatusCode};
use hyper_util::rt::TokioIo;
use riposte_sdk::agent::ContainerReport;
use serde::Deserialize;
use tokio::net::UnixStream;

use super::AgentError;

/// The newest Engine API version the agent asks for (Docker 27.1).
pub const NEWEST_API: (u32, u32) = (1, 47);

/// Time allowed to connect to the socket.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Time allowed for an answer, on top of a stop's own wait.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(30);

/// What a stop without `timeout_seconds` may wait for: Docker then uses
/// the container's `StopTimeout`, 10 s unless the container sets another.
const DEFAULT_STOP_WAIT: Duration = Duration::from_secs(60);

/// Largest `timeout_seconds` accepted for a stop.
pub const MAX_STOP_TIMEOUT: u32 = 600;

/// Largest answer read; an inspect document is a few kilobytes.
const MAX_ANSWER_BYTES: usize = 1024 * 1024;

/// Longest container id or name accepted.
const MAX_ID_LEN: usize = 255;

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

    /// The socket this engine is reached through.
    pub fn socket(&self) -> &Path {
        &self.socket
    }

    /// Stops container `id` (an id, an id prefix or a name); an already
    /// stopped one is not changed. Docker sends SIGTERM, waits
    /// `timeout_seconds` (the container's own `StopTimeout` when absent),
    /// then sends SIGKILL.
    ///
    /// Errors: `invalid-input` for a malformed id or a timeout above
    /// [`MAX_STOP_TIMEOUT`], `not-found` for an unknown container,
    /// `unavailable` when the socket cannot be reached, `internal` for any
    /// other refusal, with Docker's message.
    pub async fn stop(
        &self,
        id: &str,
        timeout_seconds: Option<u32>,
    ) -> Result<ContainerReport, AgentError> {
        check_id(id)?;
        let wait = match timeout_seconds {
            Some(seconds) if seconds > MAX_STOP_TIMEOUT => {
                return Err(AgentError::InvalidInput(format!(
                    "`timeout_seconds` {seconds} is too long; expected at most \
                     {MAX_STOP_TIMEOUT} seconds"
                )));
            }
            Some(seconds) => Duration::from_secs(seconds.into()),
            None => DEFAULT_STOP_WAIT,
        };
        let query = match timeout_seconds {
            Some(seconds) => format!("?t={seconds}"),
            None => String::new(),
        };

        let api = self.negotiate().await?;
        let path = format!("/v{api}/containers/{id}/stop{query}");
        let changed = self.change(&path, id, ANSWER_TIMEOUT + wait).await?;

        let report = self.inspect(&api, id, changed).await?;
        tracing::info!(container = %report.id, changed, "container stopped");
        Ok(report)
    }

    /// Starts container `id`; an already running one is not changed.
    /// Errors as for [`Docker::stop`].
    pub async fn start(&self, id: &str) -> Result<ContainerReport, AgentError> {
        check_id(id)?;

        let api = self.negotiate().await?;
        let path = format!("/v{api}/containers/{id}/start");
        let changed = self.change(&path, id, ANSWER_TIMEOUT).await?;

        let report = self.inspect(&api, id, changed).await?;
        tracing::info!(container = %report.id, changed, "container started");
        Ok(report)
    }

    /// The API version to use, as `1.47`.
    async fn negotiate(&self) -> Result<String, AgentError> {
        #[derive(Deserialize)]
        struct Version {
            #[serde(rename = "ApiVersion")]
            api: String,
            #[serde(rename = "MinAPIVersion", default)]
            min_api: Option<String>,
        }

        let answer = self.call(Method::GET, "/version", ANSWER_TIMEOUT).await?;
        if answer.status != StatusCode::OK {
            return Err(answer.refusal("GET /version"));
        }
        let version: Version = answer.json("GET /version")?;
        let newest = parse_version(&version.api)?;
        let oldest = match &version.min_api {
            Some(min) => parse_version(min)?,
            None => (1, 0),
        };
        let (major, minor) = newest.min(NEWEST_API).max(oldest);
        Ok(format!("{major}.{minor}"))
    }

    /// Posts a stop or start: true when Docker changed the container,
    /// false when it was already in that state.
    async fn change(&self, path: &str, id: &str, timeout: Duration) -> Result<bool, AgentError> {
        let answer = self.call(Method::POST, path, timeout).await?;
        match answer.status {
            StatusCode::NO_CONTENT => Ok(true),
            StatusCode::NOT_MODIFIED => Ok(false),
            StatusCode::NOT_FOUND => Err(answer.not_found(id)),
            _ => Err(answer.refusal(&format!("POST {path}"))),
        }
    }

    /// The container's report after a change.
    async fn inspect(
        &self,
        api: &str,
        id: &str,
        changed: bool,
    ) -> Result<ContainerReport, AgentError> {
        #[derive(Deserialize)]
        struct Inspect {
            #[serde(rename = "Id")]
            id: String,
            #[serde(rename = "Name")]
            name: String,
            #[serde(rename = "State")]
            state: State,
        }
        #[derive(Deserialize)]
        struct State {
            #[serde(rename = "Status")]
            status: String,
        }

        let path = format!("/v{api}/containers/{id}/json");
        let answer = self.call(Method::GET, &path, ANSWER_TIMEOUT).await?;
        match answer.status {
            StatusCode::OK => {}
            // Removed between the change and the inspect (`--rm`).
            StatusCode::NOT_FOUND => return Err(answer.not_found(id)),
            _ => return Err(answer.refusal(&format!("GET {path}"))),
        }
        let inspect: Inspect = answer.json(&format!("GET {path}"))?;
        Ok(ContainerReport {
            id: inspect.id,
            name: inspect.name.trim_start_matches('/').to_owned(),
            changed,
            state: inspect.state.status,
        })
    }

    /// One request on a fresh connection, answered within `timeout`.
    async fn call(
        &self,
        method: Method,
        path: &str,
        timeout: Duration,
    ) -> Result<Answer, AgentError> {
        let socket = self.socket.display();
        let stream =
            match tokio::time::timeout(CONNECT_TIMEOUT, UnixStream::connect(&self.socket)).await {
                Ok(Ok(stream)) => stream,
                Ok(Err(err)) => {
                    return Err(AgentError::Unavailable(format!(
                        "cannot reach the Docker Engine at `{socket}`: {err}; \
                     is Docker installed and running, and may the agent use its socket?"
                    )));
                }
                Err(_) => {
                    return Err(AgentError::Unavailable(format!(
                        "the Docker Engine at `{socket}` did not accept a connection within {} s",
                        CONNECT_TIMEOUT.as_secs()
                    )));
                }
            };

        let exchange = async {
            let (mut sender, connection) =
                hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
            // The connection task ends with the exchange: one request per
            // connection.
            tokio::spawn(connection);
            let request = hyper::Request::builder()
                .method(method.clone())
                .uri(path)
                .header(hyper::header::HOST, "docker")
                .header(
                    hyper::header::USER_AGENT,
                    concat!("riposte-agent/", env!("CARGO_PKG_VERSION")),
                )
                .body(Empty::<Bytes>::new())
                .expect("a request from a checked path is valid");
            let answer = sender.send_request(request).await?;
            let status = answer.status();
            let body = Limited::new(answer.into_body(), MAX_ANSWER_BYTES)
                .collect()
                .await?
                .to_bytes();
            Ok::<_, Box<dyn std::error::Error + Send + Sync>>(Answer { status, body })
        };
        match tokio::time::timeout(timeout, exchange).await {
            Ok(Ok(answer)) => Ok(answer),
            Ok(Err(err)) => Err(AgentError::Internal(format!(
                "{method} {path} to the Docker Engine at `{socket}` failed: {err}"
            ))),
            Err(_) => Err(AgentError::Internal(format!(
                "the Docker Engine at `{socket}` did not answer {method} {path} within {} s",
                timeout.as_secs()
            ))),
        }
    }
}

/// An answer read whole.
struct Answer {
    status: StatusCode,
    body: Bytes,
}

impl Answer {
    /// The body decoded as `T`.
    fn json<T: serde::de::DeserializeOwned>(&self, what: &str) -> Result<T, AgentError> {
        serde_json::from_slice(&self.body).map_err(|err| {
            AgentError::Internal(format!(
                "the Docker Engine's answer to {what} is not what the Engine API describes: {err}"
            ))
        })
    }

    /// Docker's `message`, or the start of the body when it has none.
    fn message(&self) -> String {
        #[derive(Deserialize)]
        struct ErrorBody {
            message: String,
        }
        match serde_json::from_slice::<ErrorBody>(&self.body) {
            Ok(body) => body.message,
            Err(_) => String::from_utf8_lossy(&self.body)
                .chars()
                .take(200)
                .collect(),
        }
    }

    fn not_found(&self, id: &str) -> AgentError {
        AgentError::NotFound(format!("no container `{id}`: {}", self.message()))
    }

    fn refusal(&self, what: &str) -> AgentError {
        AgentError::Internal(format!(
            "the Docker Engine answered {what} with {}: {}",
            self.status,
            self.message()
        ))
    }
}

/// Checks a container id or name: `[a-zA-Z0-9][a-zA-Z0-9_.-]*`, the
/// characters Docker allows in names, which also covers hex ids. Every
/// accepted character is unreserved in a URI path (RFC 3986, 2.3), so an
/// accepted id needs no percent-encoding.
pub fn check_id(id: &str) -> Result<(), AgentError> {
    let mut chars = id.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphanumeric());
    let rest_ok = chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
    if first_ok && rest_ok && id.len() <= MAX_ID_LEN {
        return Ok(());
    }
    Err(AgentError::InvalidInput(format!(
        "container `{}` is not a container id or name; expected letters, digits, `_`, `.` \
         and `-`, starting with a letter or digit, at most {MAX_ID_LEN} characters, \
         such as `4f2a9c1d7e3b` or `web-1`",
        id.escape_debug()
    )))
}

/// Parses an Engine API version such as `1.45`.
fn parse_version(text: &str) -> Result<(u32, u32), AgentError> {
    let parsed = text
        .split_once('.')
        .and_then(|(major, minor)| Some((major.parse().ok()?, minor.parse().ok()?)));
    parsed.ok_or_else(|| {
        AgentError::Internal(format!(
            "the Docker Engine reports API version `{}`; expected one such as `1.45`",
            text.escape_debug()
        ))
    })
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::convert::Infallible;
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::sync::{Arc, Mutex};

    use http_body_util::Full;
    use hyper::body::Incoming;
    use hyper::{Request, Response};
    use serde_json::json;
    use tokio::net::UnixListener;

    use super::*;

    /// A fake container.
    struct Container {
        name: String,
        running: bool,
        /// Stop answers 500, as when AppArmor denies the signal.
        wedged: bool,
    }

    /// A fake Docker Engine on a unix socket in its own temporary
    /// directory, keeping container state and answering inspect, stop and
    /// start with the Engine API's status codes.
    struct FakeEngine {
        dir: PathBuf,
        socket: PathBuf,
        requests: Arc<Mutex<Vec<String>>>,
        server: tokio::task::JoinHandle<()>,
    }

    impl FakeEngine {
        /// An engine whose newest API version is `api`.
        fn start(containers: BTreeMap<String, Container>, api: &'static str) -> Self {
            static NEXT: AtomicU32 = AtomicU32::new(0);
            let dir = std::env::temp_dir().join(format!(
                "riposte-docker-test-{}-{}",
                std::process::id(),
                NEXT.fetch_add(1, Ordering::Relaxed)
            ));
            std::fs::create_dir_all(&dir).unwrap();
            let socket = dir.join("docker.sock");
            let listener = UnixListener::bind(&socket).unwrap();

            let containers = Arc::new(Mutex::new(containers));
            let requests = Arc::new(Mutex::new(Vec::new()));
            let seen = requests.clone();
            let server = tokio::spawn(async move {
                loop {
                    let Ok((stream, _)) = listener.accept().await else {
                        return;
                    };
                    let containers = containers.clone();
                    let seen = seen.clone();
                    let service = hyper::service::service_fn(move |request: Request<Incoming>| {
                        let line = format!("{} {}", request.method(), request.uri());
                        seen.lock().unwrap().push(line);
                        let answer = answer(&mut containers.lock().unwrap(), api, &request);
                        async move { Ok::<_, Infallible>(answer) }
                    });
                    tokio::spawn(
                        hyper::server::conn::http1::Builder::new()
                            .serve_connection(TokioIo::new(stream), service),
                    );
                }
            });
            Self {
                dir,
                socket,
                requests,
                server,
            }
        }

        fn docker(&self) -> Docker {
            Docker::new(self.socket.clone())
        }

        fn requests(&self) -> Vec<String> {
            self.requests.lock().unwrap().clone()
        }
    }

    impl Drop for FakeEngine {
        fn drop(&mut self) {
            self.server.abort();
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }

    /// The engine's answer to one request.
    fn answer(
        containers: &mut BTreeMap<String, Container>,
        api: &str,
        request: &Request<Incoming>,
    ) -> Response<Full<Bytes>> {
        let reply = |status: StatusCode, body: Option<serde_json::Value>| {
            let body = body.map(|b| b.to_string()).unwrap_or_default();
            Response::builder()
                .status(status)
                .header("content-type", "application/json")
                .body(Full::new(Bytes::from(body)))
                .unwrap()
        };
        let path = request.uri().path();
        if request.method() == Method::GET && path == "/version" {
            let body = json!({"ApiVersion": api, "MinAPIVersion": "1.24"});
            return reply(StatusCode::OK, Some(body));
        }
        // Like Docker, any version from 1.24 to the engine's own is served;
        // others are refused as a real engine refuses them.
        let Some((version, rest)) = path
            .strip_prefix("/v")
            .and_then(|p| p.split_once("/containers/"))
        else {
            let message = format!("page not found: {path}");
            return reply(StatusCode::NOT_FOUND, Some(json!({"message": message})));
        };
        let supported =
            parse_version(version).is_ok_and(|v| (1, 24) <= v && v <= parse_version(api).unwrap());
        if !supported {
            let message = format!("client version {version} is not supported");
            return reply(StatusCode::BAD_REQUEST, Some(json!({"message": message})));
        }
        let Some((name, action)) = rest.split_once('/') else {
            return reply(
                StatusCode::NOT_FOUND,
                Some(json!({"message": "page not found"})),
            );
        };

        // Docker resolves a full id, a unique id prefix or a name.
        let found = containers
            .iter_mut()
            .find(|(id, c)| id.as_str() == name || id.starts_with(name) || c.name == name);
        let Some((id, container)) = found else {
            let message = format!("No such container: {name}");
            return reply(StatusCode::NOT_FOUND, Some(json!({"message": message})));
        };
        match (request.method().clone(), action) {
            (Method::GET, "json") => {
                let status = if container.running {
                    "running"
                } else {
                    "exited"
                };
                let body = json!({
                    "Id": id,
                    "Name": format!("/{}", container.name),
                    "State": {"Status": status, "Running": container.running},
                });
                reply(StatusCode::OK, Some(body))
            }
            (Method::POST, "stop") if container.wedged => {
                let message = format!("cannot stop container: {id}: permission denied");
                reply(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    Some(json!({"message": message})),
                )
            }
            (Method::POST, "stop") | (Method::POST, "start") => {
                let wanted = action == "start";
                if container.running == wanted {
                    return reply(StatusCode::NOT_MODIFIED, None);
                }
                container.running = wanted;
                reply(StatusCode::NO_CONTENT, None)
            }
            _ => reply(
                StatusCode::NOT_FOUND,
                Some(json!({"message": "page not found"})),
            ),
        }
    }

    const WEB_ID: &str = "4f2a9c1d7e3b5a6f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f7";
    const DB_ID: &str = "9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a2f1e0d9c8b7a6f5e4d3c2b1a0f9e8d";

    fn engine() -> FakeEngine {
        let mut containers = BTreeMap::new();
        containers.insert(
            WEB_ID.to_owned(),
            Container {
                name: "web-1".into(),
                running: true,
                wedged: false,
            },
        );
        containers.insert(
            DB_ID.to_owned(),
            Container {
                name: "db".into(),
                running: true,
                wedged: true,
            },
        );
        FakeEngine::start(containers, "1.45")
    }

    #[tokio::test]
    async fn stop_then_stop_again_then_start() {
        let engine = engine();
        let docker = engine.docker();

        let stopped = docker.stop("web-1", Some(3)).await.unwrap();
        assert_eq!(
            stopped,
            ContainerReport {
                id: WEB_ID.into(),
                name: "web-1".into(),
                changed: true,
                state: "exited".into(),
            }
        );
        assert_eq!(
            engine.requests(),
            [
                "GET /version".to_owned(),
                "POST /v1.45/containers/web-1/stop?t=3".to_owned(),
                "GET /v1.45/containers/web-1/json".to_owned(),
            ]
        );

        let again = docker.stop(&WEB_ID[..12], None).await.unwrap();
        assert!(!again.changed, "{again:?}");
        assert_eq!(again.state, "exited");
        assert_eq!(again.id, WEB_ID);
        assert!(
            engine
                .requests()
                .contains(&format!("POST /v1.45/containers/{}/stop", &WEB_ID[..12])),
            "{:?}",
            engine.requests()
        );

        let started = docker.start("web-1").await.unwrap();
        assert!(started.changed, "{started:?}");
        assert_eq!(started.state, "running");
        let again = docker.start("web-1").await.unwrap();
        assert!(!again.changed, "{again:?}");
        assert_eq!(again.state, "running");
    }

    #[tokio::test]
    async fn unknown_container_is_not_found() {
        let engine = engine();
        let docker = engine.docker();

        let err = docker.stop("nope", None).await.unwrap_err();
        assert!(matches!(err, AgentError::NotFound(_)), "{err:?}");
        assert!(err.to_string().contains("No such container: nope"), "{err}");
        let err = docker.start("nope").await.unwrap_err();
        assert!(matches!(err, AgentError::NotFound(_)), "{err:?}");
    }

    #[tokio::test]
    async fn engine_refusal_is_internal_with_dockers_message() {
        let engine = engine();
        let err = engine.docker().stop("db", None).await.unwrap_err();
        assert!(matches!(err, AgentError::Internal(_)), "{err:?}");
        assert!(err.to_string().contains("500"), "{err}");
        assert!(err.to_string().contains("permission denied"), "{err}");
    }

    #[tokio::test]
    async fn bad_ids_are_refused_before_any_request() {
        let engine = engine();
        let docker = engine.docker();
        for id in [
            "",
            "../../version",
            "web-1/../db",
            "web 1",
            "-web",
            "_web",
            ".web",
            "web?t=0",
            "web%2f",
            "wéb",
            &"a".repeat(256),
        ] {
            let err = docker.stop(id, None).await.unwrap_err();
            assert!(matches!(err, AgentError::InvalidInput(_)), "{id}: {err:?}");
            let err = docker.start(id).await.unwrap_err();
            assert!(matches!(err, AgentError::InvalidInput(_)), "{id}: {err:?}");
        }
        for id in ["web-1", "a", "my_app.v2-1", WEB_ID] {
            check_id(id).unwrap();
        }
        let err = docker.stop("web-1", Some(MAX_STOP_TIMEOUT + 1)).await;
        assert!(matches!(err, Err(AgentError::InvalidInput(_))), "{err:?}");
        assert!(engine.requests().is_empty(), "{:?}", engine.requests());
    }

    #[tokio::test]
    async fn missing_socket_is_unavailable_and_named() {
        let engine = engine();
        let socket = engine.dir.join("absent.sock");
        let err = Docker::new(socket.clone())
            .stop("web-1", None)
            .await
            .unwrap_err();
        assert!(matches!(err, AgentError::Unavailable(_)), "{err:?}");
        assert!(
            err.to_string().contains(&socket.display().to_string()),
            "{err}"
        );
    }

    #[tokio::test]
    async fn api_version_is_the_engines_capped_at_the_newest_known() {
        for (engine_api, used) in [("1.51", "1.47"), ("1.43", "1.43")] {
            let mut containers = BTreeMap::new();
            containers.insert(
                WEB_ID.to_owned(),
                Container {
                    name: "web-1".into(),
                    running: false,
                    wedged: false,
                },
            );
            let engine = FakeEngine::start(containers, engine_api);
            let report = engine.docker().start("web-1").await.unwrap();
            assert!(report.changed, "{report:?}");
            assert_eq!(
                engine.requests()[1],
                format!("POST /v{used}/containers/web-1/start")
            );
        }
        assert!(parse_version("1").is_err());
        assert!(parse_version("v1.45").is_err());
    }
}
