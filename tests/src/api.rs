//! A daemon as `riposte serve` assembles it, on loopback, for API tests:
//! the counter fixture granted a counting endpoint, target `edge`, a
//! scratch data directory, and a small HTTP client.

use std::net::SocketAddr;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use riposte::daemon::{Daemon, DaemonConfig, FileConfig, Preinstalled};
use riposte::engine::EngineConfig;
use riposte::store::GrantSpec;
use serde_json::Value;

use crate::endpoint::CountingEndpoint;
use crate::engine::Scratch;

/// A running daemon and what it was wired to.
pub struct TestDaemon {
    pub daemon: Option<Daemon>,
    pub endpoint: CountingEndpoint,
    /// The first admin token, read from `admin.token`.
    pub admin: String,
    pub addr: SocketAddr,
    pub scratch: Scratch,
}

impl TestDaemon {
    /// Starts a daemon on a fresh data directory.
    pub async fn start(config: EngineConfig) -> Self {
        Self::start_with(config, FileConfig::defaults()).await
    }

    /// Starts a daemon on a fresh data directory with the settings of a
    /// configuration file (signature policy, declared grants).
    pub async fn start_with(config: EngineConfig, file: FileConfig) -> Self {
        let scratch = Scratch::new("api");
        let endpoint = CountingEndpoint::start().await;
        let daemon = start_with(
            &scratch,
            config,
            counter_preinstalled(endpoint.port()),
            file,
        )
        .await;
        let token_file = daemon
            .admin_token_file
            .clone()
            .expect("a fresh data directory gets an admin token");
        let admin = std::fs::read_to_string(token_file)
            .unwrap()
            .trim()
            .to_string();
        let addr = daemon.addr;
        Self {
            daemon: Some(daemon),
            endpoint,
            admin,
            addr,
            scratch,
        }
    }

    /// A client with `token`.
    pub fn client(&self, token: &str) -> Client {
        Client {
            addr: self.addr,
            token: Some(token.to_string()),
        }
    }

    /// A client with the admin token.
    pub fn admin(&self) -> Client {
        self.client(&self.admin)
    }

    /// Stops the daemon, leaving its data directory.
    pub async fn stop(&mut self) {
        if let Some(daemon) = self.daemon.take() {
            daemon.shutdown().await;
        }
    }

    pub fn engine(&self) -> &riposte::engine::Engine {
        &self.daemon.as_ref().expect("running").engine
    }
}

/// Starts a daemon on `scratch`'s directory with the counter fixture
/// granted `http://127.0.0.1:PORT` and every target credential.
pub async fn start_on(scratch: &Scratch, port: u16, config: EngineConfig) -> Daemon {
    start_with(
        scratch,
        config,
        counter_preinstalled(port),
        FileConfig::defaults(),
    )
    .await
}

/// The counter fixture as a daemon's configuration installs it: granted
/// `http://127.0.0.1:PORT` and every target credential.
pub fn counter_preinstalled(port: u16) -> Vec<Preinstalled> {
    vec![Preinstalled {
        wasm: crate::wasm(crate::guests::FIXTURE_COUNTER),
        extra: GrantSpec {
            hosts: vec![format!("http://127.0.0.1:{port}")],
            secrets: vec!["target:*".into()],
        },
    }]
}

/// Starts a daemon on `scratch`'s directory with these components and
/// the settings of a configuration file.
pub async fn start_with(
    scratch: &Scratch,
    config: EngineConfig,
    preinstalled: Vec<Preinstalled>,
    file: FileConfig,
) -> Daemon {
    crate::init_logs();
    Daemon::start(
        DaemonConfig {
            data_dir: scratch.path().join("data"),
            listen: "127.0.0.1:0".parse().unwrap(),
            engine: config,
            preinstalled,
            signatures: file.signatures,
            watch_components: file.watch_components,
            declared_grants: file.grants,
        },
        crate::engine::test_runtime(),
    )
    .await
    .expect("the daemon starts")
}

/// A one-step script named `name` that runs `action` on `targets` against
/// `alert.src_ip`, for `duration` when given.
pub fn block_script(name: &str, action: &str, target: &str, duration: Option<&str>) -> String {
    let duration = duration
        .map(|d| format!("    duration: {d}\n"))
        .unwrap_or_default();
    format!(
        "name: {name}\nentity: {{kind: ip, from: alert.src_ip}}\nsteps:\n  - id: step\n    \
         action: {action}\n    targets: [{target}]\n{duration}"
    )
}

/// An answer: status, content type and body (JSON when it parses).
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub content_type: String,
    pub text: String,
    pub json: Value,
}

/// A minimal HTTP/1.1 client, one connection per request.
#[derive(Debug, Clone)]
pub struct Client {
    pub addr: SocketAddr,
    pub token: Option<String>,
}

impl Client {
    pub async fn get(&self, path: &str) -> Reply {
        self.send("GET", path, None, &[]).await
    }

    pub async fn post(&self, path: &str, body: Value) -> Reply {
        self.send("POST", path, Some(body.to_string()), &[]).await
    }

    pub async fn put(&self, path: &str, body: Value) -> Reply {
        self.send("PUT", path, Some(body.to_string()), &[]).await
    }

    pub async fn delete(&self, path: &str) -> Reply {
        self.send("DELETE", path, None, &[]).await
    }

    /// Sends a YAML body, as operators send scripts and rules.
    pub async fn yaml(&self, method: &str, path: &str, text: &str) -> Reply {
        let yaml = [("content-type", "application/yaml")];
        self.send(method, path, Some(text.to_string()), &yaml).await
    }

    /// Sends a request; `headers` are added (a `content-type` among them
    /// replaces the JSON default).
    pub async fn send(
        &self,
        method: &str,
        path: &str,
        body: Option<String>,
        headers: &[(&str, &str)],
    ) -> Reply {
        self.send_bytes(method, path, body.map(String::into_bytes), headers)
            .await
    }

    /// Uploads a component, with the text of its `.minisig` when given.
    pub async fn upload(&self, wasm: &[u8], signature: Option<&str>) -> Reply {
        use base64::Engine as _;
        let encoded = signature.map(|text| base64::engine::general_purpose::STANDARD.encode(text));
        let mut headers = vec![("content-type", "application/wasm")];
        if let Some(encoded) = &encoded {
            headers.push(("x-riposte-signature", encoded.as_str()));
        }
        self.send_bytes("POST", "/v1/components", Some(wasm.to_vec()), &headers)
            .await
    }

    /// [`Client::send`] with a body of any bytes.
    pub async fn send_bytes(
        &self,
        method: &str,
        path: &str,
        body: Option<Vec<u8>>,
        headers: &[(&str, &str)],
    ) -> Reply {
        let stream = tokio::net::TcpStream::connect(self.addr).await.unwrap();
        let io = hyper_util::rt::TokioIo::new(stream);
        let (mut sender, connection) = hyper::client::conn::http1::handshake(io).await.unwrap();
        tokio::spawn(connection);
        let mut request = hyper::Request::builder()
            .method(method)
            .uri(path)
            .header("host", self.addr.to_string());
        if let Some(token) = &self.token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        let has_type = headers
            .iter()
            .any(|(name, _)| name.eq_ignore_ascii_case("content-type"));
        if body.is_some() && !has_type {
            request = request.header("content-type", "application/json");
        }
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let request = request
            .body(Full::new(Bytes::from(body.unwrap_or_default())))
            .unwrap();
        let response = sender.send_request(request).await.unwrap();
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        let text = String::from_utf8_lossy(&bytes).to_string();
        let json = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Reply {
            status,
            content_type,
            text,
            json,
        }
    }
}
