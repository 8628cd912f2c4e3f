//! The demo's client of the daemon's HTTP API: what an admin's script
//! would send, with the admin token, over loopback.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{Context as _, bail};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use serde_json::Value;

/// How long one API request may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// One daemon, one token.
#[derive(Clone)]
pub struct ApiClient {
    addr: SocketAddr,
    token: String,
}

impl std::fmt::Debug for ApiClient {
    /// Never shows the token.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiClient")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl ApiClient {
    pub fn new(addr: SocketAddr, token: String) -> Self {
        Self { addr, token }
    }

    /// `GET path`, expecting 200.
    pub async fn get(&self, path: &str) -> anyhow::Result<Value> {
        self.call("GET", path, None, "application/json", &[200])
            .await
    }

    /// Sends a JSON body, expecting one of `ok`.
    pub async fn json(
        &self,
        method: &str,
        path: &str,
        body: &Value,
        ok: &[u16],
    ) -> anyhow::Result<Value> {
        let body = Bytes::from(body.to_string());
        self.call(method, path, Some(body), "application/json", ok)
            .await
    }

    /// Sends a YAML document (a script or a rule), expecting one of `ok`.
    pub async fn yaml(
        &self,
        method: &str,
        path: &str,
        text: &str,
        ok: &[u16],
    ) -> anyhow::Result<Value> {
        let body = Bytes::from(text.to_owned());
        self.call(method, path, Some(body), "application/yaml", ok)
            .await
    }

    /// Sends alert records as they are written in a file (JSON lines or a
    /// JSON array) to the batch ingestion route.
    pub async fn ingest(&self, format: Option<&str>, text: &str) -> anyhow::Result<Value> {
        let path = match format {
            Some(format) => format!("/v1/alerts/batch?format={format}"),
            None => "/v1/alerts/batch".to_owned(),
        };
        let body = Bytes::from(text.to_owned());
        self.call("POST", &path, Some(body), "application/x-ndjson", &[200])
            .await
    }

    async fn call(
        &self,
        method: &str,
        path: &str,
        body: Option<Bytes>,
        content_type: &str,
        ok: &[u16],
    ) -> anyhow::Result<Value> {
        let exchange = self.exchange(method, path, body, content_type);
        let (status, text) = tokio::time::timeout(REQUEST_TIMEOUT, exchange)
            .await
            .with_context(|| format!("`{method} {path}`: no answer within 30 s"))??;
        if !ok.contains(&status) {
            let value: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
            let mut why = value["detail"].as_str().unwrap_or(&text).to_owned();
            for error in value["errors"].as_array().into_iter().flatten() {
                why.push_str("\n  ");
                why.push_str(error.as_str().unwrap_or_default());
            }
            bail!("`{method} {path}` answered {status}: {why}");
        }
        if text.is_empty() {
            return Ok(Value::Null);
        }
        serde_json::from_str(&text)
            .with_context(|| format!("`{method} {path}` answered {status} without JSON"))
    }

    async fn exchange(
        &self,
        method: &str,
        path: &str,
        body: Option<Bytes>,
        content_type: &str,
    ) -> anyhow::Result<(u16, String)> {
        let stream = tokio::net::TcpStream::connect(self.addr)
            .await
            .with_context(|| format!("connecting to the daemon's API at {}", self.addr))?;
        let (mut sender, connection) =
            hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
        tokio::spawn(connection);
        let request = hyper::Request::builder()
            .method(method)
            .uri(path)
            .header(http::header::HOST, self.addr.to_string())
            .header(
                http::header::AUTHORIZATION,
                format!("Bearer {}", self.token),
            )
            .header(http::header::CONTENT_TYPE, content_type)
            .body(Full::new(body.unwrap_or_default()))?;
        let response = sender
            .send_request(request)
            .await
            .with_context(|| format!("`{method} {path}`"))?;
        let status = response.status().as_u16();
        let bytes = response.into_body().collect().await?.to_bytes();
        Ok((status, String::from_utf8_lossy(&bytes).into_owned()))
    }
}
