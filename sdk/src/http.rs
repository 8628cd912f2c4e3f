//! A small blocking HTTP client over `wasi:http/outgoing-handler`.
//!
//! Every request goes through the host's egress gate: it reaches only the
//! hosts the operator granted this component and the current target's
//! endpoint. A refused request fails with [`HttpError::Denied`] before any
//! connection is made.
//!
//! ```ignore
//! let response = Request::post(&format!("{endpoint}/"))?
//!     .header("x-acs-action", "CreateDefenseRule")
//!     .form(&[("Rules", rules.as_str())])
//!     .timeout(Duration::from_secs(10))
//!     .send()?;
//! let body: serde_json::Value = response.json()?;
//! ```

use std::fmt;
use std::time::Duration;

use crate::bindings::wasi::http::outgoing_handler;
use crate::bindings::wasi::http::types::{
    ErrorCode, Fields, IncomingResponse, Method, OutgoingBody, OutgoingRequest, RequestOptions,
    Scheme, http_error_code,
};
use crate::bindings::wasi::io::streams::StreamError;
use crate::failure;
use crate::types::{Failure, FailureKind};

/// Default time allowed for connecting and for each wait on the response.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(15);

/// Largest response body read before giving up, 8 MiB: provider answers to
/// block and unblock calls are a few KiB.
pub const MAX_RESPONSE_BYTES: usize = 8 * 1024 * 1024;

/// The guest may write at most 4096 bytes per `blocking-write-and-flush`.
const WRITE_CHUNK: usize = 4096;

/// An absolute `http` or `https` URL, split the way `wasi:http` wants it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Url {
    /// `http` or `https`.
    pub scheme: String,
    /// `host[:port]`, IPv6 hosts in brackets.
    pub authority: String,
    /// The path and query, at least `/`.
    pub path_and_query: String,
}

impl Url {
    /// Parses `scheme://authority/path?query`. Fragments are refused; user
    /// info (`user@host`) is refused because it would hide the real host.
    pub fn parse(url: &str) -> Result<Self, HttpError> {
        let invalid = |why: &str| HttpError::InvalidUrl(format!("`{url}` {why}"));
        let (scheme, rest) = url
            .split_once("://")
            .ok_or_else(|| invalid("has no scheme; expected `https://host/path`"))?;
        let scheme = scheme.to_ascii_lowercase();
        if scheme != "http" && scheme != "https" {
            return Err(invalid("is not an http or https URL"));
        }
        let split = rest.find(['/', '?']).unwrap_or(rest.len());
        let (authority, path) = rest.split_at(split);
        if authority.is_empty() {
            return Err(invalid("has no host"));
        }
        if authority.contains('@') {
            return Err(invalid("has user info; put credentials in headers"));
        }
        if path.contains('#') {
            return Err(invalid("has a fragment, which is never sent"));
        }
        let path_and_query = match path {
            "" => "/".to_string(),
            p if p.starts_with('?') => format!("/{p}"),
            p => p.to_string(),
        };
        Ok(Self {
            scheme,
            authority: authority.to_string(),
            path_and_query,
        })
    }

    /// The host without port or IPv6 brackets.
    pub fn host(&self) -> &str {
        let authority = self.authority.as_str();
        if let Some(rest) = authority.strip_prefix('[') {
            return rest.split(']').next().unwrap_or(rest);
        }
        authority.split(':').next().unwrap_or(authority)
    }

    /// The path without the query.
    pub fn path(&self) -> &str {
        self.path_and_query.split('?').next().unwrap_or("/")
    }
}

impl fmt::Display for Url {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}://{}{}",
            self.scheme, self.authority, self.path_and_query
        )
    }
}

/// An outgoing request, built up and then sent with [`Request::send`].
#[derive(Debug, Clone)]
pub struct Request {
    method: String,
    url: Url,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    timeout: Duration,
}

impl Request {
    /// A request with `method` (upper case, e.g. `POST`) to `url`.
    pub fn new(method: &str, url: &str) -> Result<Self, HttpError> {
        Ok(Self {
            method: method.to_ascii_uppercase(),
            url: Url::parse(url)?,
            headers: Vec::new(),
            body: Vec::new(),
            timeout: DEFAULT_TIMEOUT,
        })
    }

    /// A `GET` request.
    pub fn get(url: &str) -> Result<Self, HttpError> {
        Self::new("GET", url)
    }

    /// A `POST` request.
    pub fn post(url: &str) -> Result<Self, HttpError> {
        Self::new("POST", url)
    }

    /// Adds a header. Names are sent as given; HTTP treats them
    /// case-insensitively.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    /// Sets the body to exactly `bytes` with the given content type.
    pub fn body(self, content_type: &str, bytes: Vec<u8>) -> Self {
        let mut request = self.header("content-type", content_type);
        request.body = bytes;
        request
    }

    /// Sets a JSON body (`application/json`).
    pub fn json<T: serde::Serialize + ?Sized>(self, value: &T) -> Result<Self, HttpError> {
        let bytes = serde_json::to_vec(value)
            .map_err(|err| HttpError::InvalidBody(format!("cannot encode JSON: {err}")))?;
        Ok(self.body("application/json", bytes))
    }

    /// Sets a form body (`application/x-www-form-urlencoded`), each name and
    /// value percent-encoded per RFC 3986 (space as `%20`), in the given
    /// order.
    pub fn form(self, pairs: &[(&str, &str)]) -> Self {
        let encoded = crate::sign::form_urlencode(pairs);
        self.body("application/x-www-form-urlencoded", encoded.into_bytes())
    }

    /// Time allowed to connect, and to wait for the first and each later
    /// byte of the response. The host's own call deadline still applies.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The method, upper case.
    pub fn method(&self) -> &str {
        &self.method
    }

    /// The URL.
    pub fn url(&self) -> &Url {
        &self.url
    }

    /// The headers set so far.
    pub fn headers(&self) -> &[(String, String)] {
        &self.headers
    }

    /// The exact body bytes that will be sent (what signers must hash).
    pub fn body_bytes(&self) -> &[u8] {
        &self.body
    }

    /// Sends the request and reads the whole response.
    ///
    /// A status of 4xx or 5xx is not an error here: provider errors come
    /// with bodies the caller must read to classify them.
    pub fn send(self) -> Result<Response, HttpError> {
        let outgoing = self.outgoing_request()?;
        let body = outgoing
            .body()
            .map_err(|()| HttpError::Protocol("request body already taken".into()))?;

        let options = RequestOptions::new();
        let nanos = u64::try_from(self.timeout.as_nanos()).unwrap_or(u64::MAX);
        // The host may refuse to set a timeout longer than it allows; its own
        // limits then apply, so these results can be ignored.
        let _ = options.set_connect_timeout(Some(nanos));
        let _ = options.set_first_byte_timeout(Some(nanos));
        let _ = options.set_between_bytes_timeout(Some(nanos));

        // Start the request before writing the body: the host consumes the
        // body as it is written, so writing first could block forever.
        let pending = outgoing_handler::handle(outgoing, Some(options)).map_err(from_code)?;
        write_body(body, &self.body)?;

        pending.subscribe().block();
        let response = match pending.get() {
            Some(Ok(Ok(response))) => response,
            Some(Ok(Err(code))) => return Err(from_code(code)),
            Some(Err(())) | None => {
                return Err(HttpError::Protocol("response was already taken".into()));
            }
        };
        read_response(response)
    }

    fn outgoing_request(&self) -> Result<OutgoingRequest, HttpError> {
        let entries: Vec<(String, Vec<u8>)> = self
            .headers
            .iter()
            .map(|(name, value)| (name.to_ascii_lowercase(), value.as_bytes().to_vec()))
            .collect();
        let fields = Fields::from_list(&entries)
            .map_err(|err| HttpError::Protocol(format!("invalid header: {err:?}")))?;
        let request = OutgoingRequest::new(fields);

        let method = match self.method.as_str() {
            "GET" => Method::Get,
            "POST" => Method::Post,
            "PUT" => Method::Put,
            "DELETE" => Method::Delete,
            "PATCH" => Method::Patch,
            "HEAD" => Method::Head,
            other => Method::Other(other.to_string()),
        };
        let scheme = if self.url.scheme == "https" {
            Scheme::Https
        } else {
            Scheme::Http
        };
        let invalid = |what: &str| HttpError::InvalidUrl(format!("{what} of `{}`", self.url));
        request
            .set_method(&method)
            .map_err(|()| invalid("invalid method"))?;
        request
            .set_scheme(Some(&scheme))
            .map_err(|()| invalid("invalid scheme"))?;
        request
            .set_authority(Some(&self.url.authority))
            .map_err(|()| invalid("invalid authority"))?;
        request
            .set_path_with_query(Some(&self.url.path_and_query))
            .map_err(|()| invalid("invalid path"))?;
        Ok(request)
    }
}

fn write_body(body: OutgoingBody, bytes: &[u8]) -> Result<(), HttpError> {
    {
        let stream = body
            .write()
            .map_err(|()| HttpError::Protocol("request body stream unavailable".into()))?;
        for chunk in bytes.chunks(WRITE_CHUNK) {
            stream
                .blocking_write_and_flush(chunk)
                .map_err(|err| HttpError::Protocol(format!("writing request body: {err:?}")))?;
        }
    }
    OutgoingBody::finish(body, None).map_err(from_code)
}

fn read_response(response: IncomingResponse) -> Result<Response, HttpError> {
    let status = response.status();
    let headers = response
        .headers()
        .entries()
        .into_iter()
        .map(|(name, value)| (name, String::from_utf8_lossy(&value).into_owned()))
        .collect();

    let incoming = response
        .consume()
        .map_err(|()| HttpError::Protocol("response body already taken".into()))?;
    let mut body = Vec::new();
    {
        let stream = incoming
            .stream()
            .map_err(|()| HttpError::Protocol("response body stream unavailable".into()))?;
        loop {
            match stream.blocking_read(64 * 1024) {
                Ok(chunk) => {
                    body.extend_from_slice(&chunk);
                    if body.len() > MAX_RESPONSE_BYTES {
                        return Err(HttpError::TooLarge(MAX_RESPONSE_BYTES));
                    }
                }
                Err(StreamError::Closed) => break,
                Err(StreamError::LastOperationFailed(err)) => {
                    // The host attaches an HTTP error code when it has one
                    // (a body over its limit, a read timeout).
                    if let Some(code) = http_error_code(&err) {
                        return Err(from_code(code));
                    }
                    return Err(body_error(&err.to_debug_string()));
                }
            }
        }
    }
    Ok(Response {
        status,
        headers,
        body,
    })
}

/// Classifies a response-body error that came without an HTTP error code.
/// wasmtime-wasi-http 48 passes its body errors to the guest as text only,
/// so the text is all there is to go by.
fn body_error(text: &str) -> HttpError {
    let lower = text.to_ascii_lowercase();
    if lower.contains("body size exceeds limit") {
        HttpError::TooLarge(MAX_RESPONSE_BYTES.min(parse_trailing_number(&lower)))
    } else if lower.contains("timeout") || lower.contains("timed out") {
        HttpError::Timeout("reading the response body".into())
    } else {
        HttpError::Unreachable(format!("reading response body: {text}"))
    }
}

/// The number in "... limit: 16384 bytes", or `usize::MAX`.
fn parse_trailing_number(text: &str) -> usize {
    text.split(|c: char| !c.is_ascii_digit())
        .rfind(|part| !part.is_empty())
        .and_then(|digits| digits.parse().ok())
        .unwrap_or(usize::MAX)
}

/// A response with its whole body.
#[derive(Debug, Clone)]
pub struct Response {
    /// The status code.
    pub status: u16,
    /// Header names (lower case) and values, in received order.
    pub headers: Vec<(String, String)>,
    /// The body bytes.
    pub body: Vec<u8>,
}

impl Response {
    /// Whether the status is 2xx.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    /// The body as text, invalid UTF-8 replaced.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// Decodes the body as JSON; an undecodable body is an `internal`
    /// failure that quotes the start of the body.
    pub fn json<T: serde::de::DeserializeOwned>(&self) -> Result<T, Failure> {
        serde_json::from_slice(&self.body).map_err(|err| {
            let text = self.text();
            let start: String = text.chars().take(200).collect();
            failure::internal(format!(
                "provider answered status {} with a body that is not the expected JSON \
                 ({err}): `{start}`",
                self.status
            ))
        })
    }
}

/// Why a request did not produce a response.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum HttpError {
    /// The URL could not be used.
    InvalidUrl(String),
    /// The body could not be encoded.
    InvalidBody(String),
    /// The host's egress gate refused the destination; nothing was sent.
    Denied,
    /// Connecting or waiting for the response took too long.
    Timeout(String),
    /// DNS, connection or TLS failure.
    Unreachable(String),
    /// The response body was larger than the limit, in bytes.
    TooLarge(usize),
    /// Anything else the HTTP layer reported.
    Protocol(String),
}

impl fmt::Display for HttpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InvalidUrl(why) => write!(f, "invalid URL: {why}"),
            Self::InvalidBody(why) => write!(f, "invalid request body: {why}"),
            Self::Denied => f.write_str("request refused by the host's egress gate (not granted)"),
            Self::Timeout(what) => write!(f, "timed out: {what}"),
            Self::Unreachable(why) => write!(f, "provider unreachable: {why}"),
            Self::TooLarge(limit) => write!(f, "response body larger than {limit} bytes"),
            Self::Protocol(why) => write!(f, "http error: {why}"),
        }
    }
}

impl std::error::Error for HttpError {}

impl From<HttpError> for Failure {
    fn from(err: HttpError) -> Self {
        let kind = match &err {
            HttpError::InvalidUrl(_) | HttpError::InvalidBody(_) => FailureKind::InvalidInput,
            HttpError::Timeout(_) => FailureKind::Timeout,
            HttpError::Denied | HttpError::Unreachable(_) => FailureKind::Unreachable,
            HttpError::TooLarge(_) | HttpError::Protocol(_) => FailureKind::Internal,
        };
        let mut failure = failure::new(kind, err.to_string());
        // A refusal by the gate will be refused again until an operator
        // changes the grant; retrying cannot help.
        if err == HttpError::Denied {
            failure.retryable = false;
        }
        failure
    }
}

fn from_code(code: ErrorCode) -> HttpError {
    match code {
        ErrorCode::HttpRequestDenied => HttpError::Denied,
        ErrorCode::ConnectionTimeout => HttpError::Timeout("connecting".into()),
        ErrorCode::ConnectionReadTimeout | ErrorCode::HttpResponseTimeout => {
            HttpError::Timeout("waiting for the response".into())
        }
        ErrorCode::HttpRequestBodySize(limit) => HttpError::Protocol(format!(
            "request body over the host's limit ({limit:?} bytes)"
        )),
        ErrorCode::HttpResponseBodySize(limit) => {
            HttpError::TooLarge(limit.map_or(0, |n| n as usize))
        }
        ErrorCode::DnsTimeout
        | ErrorCode::DnsError(_)
        | ErrorCode::DestinationNotFound
        | ErrorCode::DestinationUnavailable
        | ErrorCode::DestinationIpProhibited
        | ErrorCode::DestinationIpUnroutable
        | ErrorCode::ConnectionRefused
        | ErrorCode::ConnectionTerminated
        | ErrorCode::TlsProtocolError
        | ErrorCode::TlsCertificateError
        | ErrorCode::TlsAlertReceived(_) => HttpError::Unreachable(format!("{code:?}")),
        // wasmtime-wasi-http reports a connection the server closed or
        // reset before a complete response this way: a transient fault of
        // the path, worth a retry, not a malformed answer.
        ErrorCode::HttpProtocolError => HttpError::Unreachable(
            "the connection closed before a complete response (HttpProtocolError)".into(),
        ),
        other => HttpError::Protocol(format!("{other:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_urls_into_wasi_parts() {
        let url = Url::parse("https://wafopenapi.cn-hangzhou.aliyuncs.com").unwrap();
        assert_eq!(url.authority, "wafopenapi.cn-hangzhou.aliyuncs.com");
        assert_eq!(url.path_and_query, "/");

        let url = Url::parse("http://127.0.0.1:8080/v1/x?a=1").unwrap();
        assert_eq!(url.host(), "127.0.0.1");
        assert_eq!(url.path(), "/v1/x");
        assert_eq!(url.path_and_query, "/v1/x?a=1");

        let url = Url::parse("HTTPS://[2001:db8::1]:8443?q").unwrap();
        assert_eq!(url.scheme, "https");
        assert_eq!(url.host(), "2001:db8::1");
        assert_eq!(url.path_and_query, "/?q");
    }

    #[test]
    fn refuses_urls_that_hide_or_lack_the_host() {
        for bad in [
            "wafopenapi.aliyuncs.com/",
            "ftp://host/",
            "https:///path",
            "https://user:pw@evil.test@good.test/",
            "https://host/path#frag",
        ] {
            assert!(
                matches!(Url::parse(bad), Err(HttpError::InvalidUrl(_))),
                "{bad} was accepted"
            );
        }
    }

    #[test]
    fn denial_is_an_unreachable_failure_that_is_not_retried() {
        let failure = Failure::from(HttpError::Denied);
        assert_eq!(failure.kind, FailureKind::Unreachable);
        assert!(!failure.retryable);
        let failure = Failure::from(HttpError::Timeout("connecting".into()));
        assert_eq!(failure.kind, FailureKind::Timeout);
        assert!(failure.retryable);
    }

    #[test]
    fn body_errors_without_a_code_are_classified_by_text() {
        assert_eq!(
            body_error("HTTP response body size exceeds limit: 16384 bytes"),
            HttpError::TooLarge(16384)
        );
        assert!(matches!(
            body_error("connection read timeout"),
            HttpError::Timeout(_)
        ));
        assert!(matches!(
            body_error("connection reset"),
            HttpError::Unreachable(_)
        ));
    }

    #[test]
    fn form_bodies_use_rfc3986_encoding() {
        let request = Request::post("https://h/").unwrap();
        let request = request.form(&[("Rules", r#"[{"a":"b c*"}]"#), ("x", "~")]);
        assert_eq!(
            request.body_bytes(),
            b"Rules=%5B%7B%22a%22%3A%22b%20c%2A%22%7D%5D&x=~"
        );
        assert_eq!(
            request.headers(),
            [(
                "content-type".to_string(),
                "application/x-www-form-urlencoded".to_string()
            )]
        );
    }
}
