//! Components written in Python and JavaScript, end to end through the
//! daemon: uploaded, granted the webhook's host (and for the signed one the
//! target's credential), run by a script, reverted by an unblock, against
//! a recording webhook receiver on loopback.

use riposte::conformance::RecordingEndpoint;
use riposte_tests::api::{Client, TestDaemon};
use riposte_tests::{foreign, guests};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::{config, wait_json};

/// Uploads `wasm`, grants it `receiver`'s origin and the target
/// credentials, and runs a one-step script of `action` on `ip` against
/// target `hook`; returns the finished task.
async fn run_once(
    admin: &Client,
    wasm: &[u8],
    name: &str,
    action: &str,
    receiver: &RecordingEndpoint,
    ip: &str,
) -> Value {
    let reply = admin.upload(wasm, None).await;
    assert_eq!(reply.status, 201, "{}", reply.text);
    let grant = json!({
        "hosts": [format!("http://{}", receiver.addr())],
        "secrets": ["target:*"],
    });
    let reply = admin
        .post(&format!("/v1/components/{name}/grant"), grant)
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let view = admin.get(&format!("/v1/components/{name}")).await.json;
    assert_eq!(view["versions"][0]["status"], "active", "{view}");

    let script = format!(
        "name: notify\nentity: {{kind: ip, from: alert.src_ip}}\nsteps:\n  - id: hook\n    \
         action: {action}\n    targets: [hook]\n"
    );
    let reply = admin.yaml("POST", "/v1/scripts", &script).await;
    assert_eq!(reply.status, 201, "{}", reply.text);
    let reply = admin
        .post(
            "/v1/scripts/notify/run",
            json!({"entity": {"kind": "ip", "value": ip}}),
        )
        .await;
    assert_eq!(reply.status, 202, "{}", reply.text);
    let page = wait_json(admin, "/v1/tasks?limit=10", "the task to finish", |page| {
        page["items"][0]["status"]
            .as_str()
            .is_some_and(|s| s != "Waiting" && s != "Executing")
    })
    .await;
    page["items"][0].clone()
}

async fn unblock(admin: &Client, task: &Value) {
    let id = task["id"].as_u64().unwrap();
    let reply = admin
        .post(&format!("/v1/tasks/{id}/unblock"), json!({}))
        .await;
    assert!(reply.status < 300, "{}", reply.text);
    wait_json(admin, &format!("/v1/tasks/{id}"), "the unblock", |task| {
        task["revert"]["status"] == "Unblocked"
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_python_component_notifies_a_webhook_through_the_daemon_and_unblock_retracts_it() {
    let daemon = TestDaemon::start(config()).await;
    let admin = daemon.admin();
    let receiver = RecordingEndpoint::start().await.unwrap();
    let target = json!({"provider": "webhook", "endpoint": receiver.url(), "resource": "chat"});
    let reply = admin.put("/v1/targets/hook", target).await;
    assert_eq!(reply.status, 200, "{}", reply.text);

    let wasm = foreign(guests::WEBHOOK_NOTIFY_PY);
    let task = run_once(
        &admin,
        &wasm,
        "webhook-notify",
        "NotifyWebhook",
        &receiver,
        "198.51.100.23",
    )
    .await;
    assert_eq!(task["status"], "Succeeded", "{task}");
    assert_eq!(task["component_version"], "0.1.0", "{task}");

    let posts: Vec<_> = receiver
        .received()
        .into_iter()
        .filter(|r| r.method == "POST")
        .collect();
    assert_eq!(posts.len(), 1, "{posts:?}");
    let body: Value = serde_json::from_slice(&posts[0].body).unwrap();
    assert_eq!(body["entity"]["value"], "198.51.100.23", "{body}");
    assert_eq!(body["action"], "NotifyWebhook");
    let key = posts[0]
        .headers
        .iter()
        .find(|(name, _)| name == "idempotency-key")
        .map(|(_, value)| value.clone())
        .expect("an Idempotency-Key header");
    assert_eq!(body["task"]["idempotency_key"], key.as_str(), "{body}");

    unblock(&admin, &task).await;
    let deletes: Vec<_> = receiver
        .received()
        .into_iter()
        .filter(|r| r.method == "DELETE")
        .collect();
    assert_eq!(deletes.len(), 1, "{deletes:?}");
    assert_eq!(deletes[0].target, "/conformance/hooks/1");
}

/// HMAC-SHA256 (RFC 2104), written here so the check shares no code with
/// the host's.
fn hmac_sha256(key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut block = [0u8; 64];
    if key.len() > 64 {
        block[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let pad = |byte: u8| block.iter().map(|b| b ^ byte).collect::<Vec<u8>>();
    let inner = Sha256::new()
        .chain_update(pad(0x36))
        .chain_update(data)
        .finalize();
    Sha256::new()
        .chain_update(pad(0x5c))
        .chain_update(inner)
        .finalize()
        .to_vec()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_javascript_component_posts_a_webhook_signed_with_the_target_credential() {
    let daemon = TestDaemon::start(config()).await;
    let admin = daemon.admin();
    let receiver = RecordingEndpoint::start().await.unwrap();
    let secret = "whsec-4f1c9a0b7e2d48d6a1";
    let target = json!({
        "provider": "webhook", "endpoint": receiver.url(), "resource": "partner",
        "credential": {"public_id": "partner-key-1", "secret": secret},
    });
    let reply = admin.put("/v1/targets/hook", target).await;
    assert_eq!(reply.status, 200, "{}", reply.text);

    let wasm = foreign(guests::WEBHOOK_SIGNED_JS);
    let task = run_once(
        &admin,
        &wasm,
        "webhook-signed",
        "NotifySignedWebhook",
        &receiver,
        "203.0.113.9",
    )
    .await;
    assert_eq!(task["status"], "Succeeded", "{task}");

    let posts: Vec<_> = receiver
        .received()
        .into_iter()
        .filter(|r| r.method == "POST")
        .collect();
    assert_eq!(posts.len(), 1, "{posts:?}");
    let header = |name: &str| {
        posts[0]
            .headers
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.clone())
            .unwrap_or_else(|| panic!("no {name} header: {:?}", posts[0].headers))
    };
    assert_eq!(header("x-riposte-key-id"), "partner-key-1");
    let signature = header("x-riposte-signature");
    let (t, v1) = signature
        .strip_prefix("t=")
        .and_then(|rest| rest.split_once(",v1="))
        .unwrap_or_else(|| panic!("malformed signature `{signature}`"));
    let mut signed = format!("{t}.").into_bytes();
    signed.extend_from_slice(&posts[0].body);
    assert_eq!(v1, hex::encode(hmac_sha256(secret.as_bytes(), &signed)));
    let body: Value = serde_json::from_slice(&posts[0].body).unwrap();
    assert_eq!(body["indicator"]["value"], "203.0.113.9", "{body}");

    // The secret went nowhere: not in the request, not in the task.
    let raw = String::from_utf8_lossy(&posts[0].body);
    assert!(!raw.contains(secret) && !signature.contains(secret));
    assert!(!task.to_string().contains(secret), "{task}");
    assert!(!riposte_tests::logs().contains(secret));

    unblock(&admin, &task).await;
    assert!(
        receiver.received().iter().any(|r| r.method == "DELETE"),
        "{:?}",
        receiver.received()
    );
}
