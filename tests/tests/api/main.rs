//! The HTTP API over real loopback sockets: the end-to-end flow, the
//! authorization matrix, error answers, and where secrets must not leak.

mod access;
mod components;
mod errors;
mod flow;
mod foreign;
mod secrets;

use std::time::{Duration, Instant};

use riposte::engine::{Backoff, EngineConfig};
use riposte_tests::api::{Client, Reply, block_script};
use serde_json::Value;

/// Engine settings: quick retries, and only two attempts so a failing
/// endpoint fails a task fast.
pub fn config() -> EngineConfig {
    let quick = Backoff {
        base: Duration::from_millis(20),
        max: Duration::from_millis(100),
        max_attempts: 2,
        max_total: Duration::from_secs(10),
    };
    EngineConfig {
        backoff: quick,
        revert_backoff: quick,
        ..riposte_tests::engine::test_config()
    }
}

/// Polls `path` until `check` holds on its JSON, or panics after 20 s.
pub async fn wait_json(
    client: &Client,
    path: &str,
    what: &str,
    check: impl Fn(&Value) -> bool,
) -> Value {
    let start = Instant::now();
    loop {
        let reply = client.get(path).await;
        if reply.status == 200 && check(&reply.json) {
            return reply.json;
        }
        if start.elapsed() > Duration::from_secs(20) {
            panic!(
                "timed out waiting for {what}; last answer from {path}: {}",
                reply.text
            );
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// Asserts an answer is a problem document with `status`, and returns its
/// detail and errors joined.
pub fn problem(reply: &Reply, status: u16) -> String {
    assert_eq!(reply.status, status, "{}", reply.text);
    assert_eq!(
        reply.content_type, "application/problem+json",
        "{}",
        reply.text
    );
    assert_eq!(reply.json["status"], status);
    assert!(reply.json["type"].as_str().unwrap().starts_with("https://"));
    let mut text = reply.json["detail"].as_str().unwrap().to_string();
    for error in reply.json["errors"].as_array().into_iter().flatten() {
        text.push('\n');
        text.push_str(error.as_str().unwrap());
    }
    text
}

/// An EVE alert line from `src`.
pub fn eve(src: &str, signature: &str) -> Value {
    serde_json::json!({
        "timestamp": "2026-12-04T10:00:00.000000+0000",
        "event_type": "alert",
        "src_ip": src,
        "src_port": 51515,
        "dest_ip": "10.0.0.5",
        "dest_port": 22,
        "proto": "TCP",
        "alert": {"action": "allowed", "signature_id": 2001219, "signature": signature,
                  "category": "Attempted Information Leak", "severity": 2}
    })
}

/// Creates target `edge` on the daemon's counting endpoint, a blocking
/// script with `duration`, and a rule firing it on Suricata alerts.
pub async fn install(admin: &Client, endpoint_port: u16, credential: Option<(&str, &str)>) {
    let mut target = serde_json::json!({
        "provider": "test",
        "endpoint": format!("http://127.0.0.1:{endpoint_port}"),
        "resource": "edge-1",
    });
    if let Some((public_id, secret)) = credential {
        target["credential"] = serde_json::json!({"public_id": public_id, "secret": secret});
    }
    let reply = admin.put("/v1/targets/edge", target).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let script = block_script("block-source", "CountedBlock", "edge", Some("1h"));
    let reply = admin.yaml("POST", "/v1/scripts", &script).await;
    assert_eq!(reply.status, 201, "{}", reply.text);
    let rule = serde_json::json!({
        "trigger": "alert",
        "condition": "alert.format == 'suricata-eve'",
        "script": "block-source",
    });
    let reply = admin.put("/v1/rules/block-suricata", rule).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
}
