//! The HTTP side of the client: one request, one connection, plain
//! HTTP/1.1 over hyper, with a connect timeout and a whole-request
//! timeout. The daemon listens on loopback over plain HTTP, so `https://`
//! is refused with a message rather than half supported.

use std::fmt;
use std::time::Duration;

use bytes::Bytes;
use http::{Method, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use super::Fail;
use super::config::{Settings, Source, Token};

/// How long to wait for the TCP connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// How long a whole request may take, from connecting to the last byte of
/// the answer. Long enough for a 500-line batch the engine must commit.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// One API request, before it is sent.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiRequest {
    pub method: Method,
    /// The path under the server's base, such as `/v1/tasks/42`, with each
    /// segment already percent-encoded.
    pub path: String,
    /// Query parameters, unencoded.
    pub query: Vec<(&'static str, String)>,
    /// Extra headers.
    pub headers: Vec<(&'static str, String)>,
    pub body: Option<Body>,
}

/// A request body and its content type.
#[derive(Debug, Clone, PartialEq)]
pub struct Body {
    pub content_type: &'static str,
    pub bytes: Vec<u8>,
}

impl ApiRequest {
    pub fn new(method: Method, path: impl Into<String>) -> Self {
        Self {
            method,
            path: path.into(),
            query: Vec::new(),
            headers: Vec::new(),
            body: None,
        }
    }

    pub fn get(path: impl Into<String>) -> Self {
        Self::new(Method::GET, path)
    }

    pub fn post(path: impl Into<String>) -> Self {
        Self::new(Method::POST, path)
    }

    /// Adds `name=value` when `value` is set.
    pub fn query(mut self, name: &'static str, value: Option<impl ToString>) -> Self {
        if let Some(value) = value {
            self.query.push((name, value.to_string()));
        }
        self
    }

    /// Sets a JSON body.
    pub fn json(mut self, value: &serde_json::Value) -> Self {
        self.body = Some(Body {
            content_type: "application/json",
            bytes: value.to_string().into_bytes(),
        });
        self
    }

    /// Sets `before`, replacing any earlier one.
    pub fn with_before(mut self, cursor: &str) -> Self {
        self.query.retain(|(name, _)| *name != "before");
        self.query.push(("before", cursor.to_string()));
        self
    }

    /// The path and query as sent.
    pub fn target(&self) -> String {
        let mut target = self.path.clone();
        for (i, (name, value)) in self.query.iter().enumerate() {
            target.push(if i == 0 { '?' } else { '&' });
            target.push_str(name);
            target.push('=');
            target.push_str(&encode(value));
        }
        target
    }
}

/// Percent-encodes everything but RFC 3986's unreserved characters, for a
/// path segment or a query value.
pub fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// What came back.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: StatusCode,
    pub content_type: String,
    pub body: Bytes,
}

/// The daemon's address, parsed from `--server` and friends.
#[derive(Debug, Clone)]
pub struct Server {
    host: String,
    port: u16,
    /// A path prefix such as `/riposte`, without a trailing slash.
    base: String,
    /// Where the address came from.
    source: Source,
}

impl Server {
    /// Parses `http://HOST[:PORT][/BASE]`.
    pub fn parse(url: &str, source: Source) -> Result<Self, Fail> {
        let example = "expected an address such as `http://127.0.0.1:8640`";
        if url.starts_with("https://") {
            return Err(Fail::usage(format!(
                "the server `{url}` (from {source}) uses https, which this client \
                 does not speak yet"
            ))
            .hint("the daemon serves plain HTTP on loopback; use `http://`"));
        }
        let uri: http::Uri = url.parse().map_err(|_| {
            Fail::usage(format!(
                "the server `{url}` (from {source}) is not a URL; {example}"
            ))
        })?;
        if uri.scheme_str() != Some("http") || uri.host().is_none() {
            return Err(Fail::usage(format!(
                "the server `{url}` (from {source}) is not an http URL; {example}"
            )));
        }
        if uri.query().is_some() {
            return Err(Fail::usage(format!(
                "the server `{url}` (from {source}) has a query; {example}"
            )));
        }
        let host = uri.host().unwrap_or_default();
        let host = host.trim_start_matches('[').trim_end_matches(']');
        Ok(Self {
            host: host.to_string(),
            port: uri.port_u16().unwrap_or(80),
            base: uri.path().trim_end_matches('/').to_string(),
            source,
        })
    }

    /// `host:port`, bracketed for IPv6.
    pub fn authority(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

impl fmt::Display for Server {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "http://{}{} (from {})",
            self.authority(),
            self.base,
            self.source
        )
    }
}

/// Sends requests to one server with one token.
pub struct Client {
    pub server: Server,
    pub token: Option<Token>,
    runtime: tokio::runtime::Runtime,
}

impl Client {
    pub fn new(settings: Settings) -> Result<Self, Fail> {
        let server = Server::parse(&settings.server, settings.server_source)?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|err| Fail::request(format!("cannot start the I/O runtime: {err}")))?;
        Ok(Self {
            server,
            token: settings.token,
            runtime,
        })
    }

    /// Sends `request` and reads the whole answer. Any status is an
    /// answer; only a failure to talk to the server is an error.
    pub fn send(&self, request: &ApiRequest) -> Result<Response, Fail> {
        // The timer is made inside the runtime, which it needs.
        let exchange =
            async { tokio::time::timeout(REQUEST_TIMEOUT, self.exchange(request)).await };
        match self.runtime.block_on(exchange) {
            Ok(result) => result,
            Err(_) => Err(Fail::request(format!(
                "no answer from {} within {} s to `{} {}`",
                self.server,
                REQUEST_TIMEOUT.as_secs(),
                request.method,
                request.path
            ))),
        }
    }

    async fn exchange(&self, request: &ApiRequest) -> Result<Response, Fail> {
        let authority = self.server.authority();
        let connect = TcpStream::connect((self.server.host.as_str(), self.server.port));
        let stream = match tokio::time::timeout(CONNECT_TIMEOUT, connect).await {
            Ok(Ok(stream)) => stream,
            Ok(Err(err)) => return Err(self.connect_failed(&err)),
            Err(_) => {
                return Err(Fail::request(format!(
                    "cannot connect to the riposte daemon at {}: no answer within {} s",
                    self.server,
                    CONNECT_TIMEOUT.as_secs()
                )));
            }
        };
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|err| self.broken(request, &err))?;
        // The connection task ends when the exchange does: one request per
        // connection keeps the client simple and a CLI run short.
        tokio::spawn(connection);

        let mut builder = hyper::Request::builder()
            .method(request.method.clone())
            .uri(format!("{}{}", self.server.base, request.target()))
            .header(http::header::HOST, authority)
            .header(http::header::ACCEPT, "application/json")
            .header(
                http::header::USER_AGENT,
                concat!("riposte-cli/", env!("CARGO_PKG_VERSION")),
            );
        if let Some(token) = &self.token {
            builder = builder.header(
                http::header::AUTHORIZATION,
                format!("Bearer {}", token.value()),
            );
        }
        for (name, value) in &request.headers {
            builder = builder.header(*name, value);
        }
        let body = match &request.body {
            Some(body) => {
                builder = builder.header(http::header::CONTENT_TYPE, body.content_type);
                Full::new(Bytes::from(body.bytes.clone()))
            }
            None => Full::new(Bytes::new()),
        };
        let outgoing = builder
            .body(body)
            .map_err(|err| Fail::usage(format!("cannot build the request: {err}")))?;

        let answer = sender
            .send_request(outgoing)
            .await
            .map_err(|err| self.broken(request, &err))?;
        let status = answer.status();
        let content_type = answer
            .headers()
            .get(http::header::CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default()
            .to_string();
        let body = answer
            .into_body()
            .collect()
            .await
            .map_err(|err| self.broken(request, &err))?
            .to_bytes();
        Ok(Response {
            status,
            content_type,
            body,
        })
    }

    fn connect_failed(&self, err: &std::io::Error) -> Fail {
        let fail = Fail::request(format!(
            "cannot connect to the riposte daemon at {}: {err}",
            self.server
        ));
        if err.kind() == std::io::ErrorKind::ConnectionRefused {
            fail.hint(
                "is the daemon running? start it with `riposte serve`, or point \
                 `--server` or RIPOSTE_SERVER at it",
            )
        } else {
            fail
        }
    }

    fn broken(&self, request: &ApiRequest, err: &dyn fmt::Display) -> Fail {
        Fail::request(format!(
            "the exchange with {} broke off during `{} {}`: {err}",
            self.server, request.method, request.path
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_segments_and_query_values() {
        assert_eq!(encode("block-attacker_2.x~"), "block-attacker_2.x~");
        assert_eq!(encode("a b/c?d&e=f"), "a%20b%2Fc%3Fd%26e%3Df");
        assert_eq!(encode("2001:db8::1"), "2001%3Adb8%3A%3A1");
        assert_eq!(encode("é"), "%C3%A9");
        let request = ApiRequest::get("/v1/tasks")
            .query("status", Some("Failed"))
            .query("limit", None::<u16>)
            .query("entity", Some("::1"))
            .with_before("c1")
            .with_before("c2");
        assert_eq!(
            request.target(),
            "/v1/tasks?status=Failed&entity=%3A%3A1&before=c2"
        );
    }

    #[test]
    fn parses_server_addresses() {
        let server = Server::parse("http://127.0.0.1:8640", Source::Default).unwrap();
        assert_eq!(server.authority(), "127.0.0.1:8640");
        assert_eq!(server.base, "");
        let server = Server::parse("http://[::1]:9000/riposte/", Source::Default).unwrap();
        assert_eq!(server.authority(), "[::1]:9000");
        assert_eq!(server.base, "/riposte");
        let server = Server::parse("http://localhost", Source::Default).unwrap();
        assert_eq!(server.authority(), "localhost:80");

        let err =
            Server::parse("https://riposte.example", Source::Env("RIPOSTE_SERVER")).unwrap_err();
        assert!(err.message.contains("https"), "{err:?}");
        assert!(err.message.contains("env `RIPOSTE_SERVER`"), "{err:?}");
        for bad in ["127.0.0.1:8640", "ftp://host", "http://", "http://h/?q=1"] {
            assert!(Server::parse(bad, Source::Default).is_err(), "{bad}");
        }
    }
}
