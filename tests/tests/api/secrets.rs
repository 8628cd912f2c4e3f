//! A canary secret stored on a target appears in no API answer, no log
//! line and no file of the data directory, and survives a restart sealed.

use riposte_tests::api::{TestDaemon, start_on};
use serde_json::json;

use super::{config, eve, install, wait_json};

const CANARY: &str = "canary-8d1f7c2e5b9a4k-SECRET";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_target_secret_is_written_once_and_never_read_back() {
    let mut daemon = TestDaemon::start(config()).await;
    let admin = daemon.admin();
    install(
        &admin,
        daemon.endpoint.port(),
        Some(("AKID-CANARY-PUBLIC", CANARY)),
    )
    .await;
    let mut answers = Vec::new();
    let target = admin.get("/v1/targets/edge").await;
    assert_eq!(
        target.json["credential"]["public_id"], "AKID-CANARY-PUBLIC",
        "{}",
        target.text
    );
    assert_eq!(target.json["credential"]["set"], true);
    answers.push(target.text);
    // Re-saving the target without a credential keeps it.
    let reply = admin
        .put("/v1/targets/edge", json!({"provider": "test", "endpoint": format!("http://127.0.0.1:{}", daemon.endpoint.port()), "resource": "edge-2"}))
        .await;
    assert_eq!(reply.json["credential"]["set"], true, "{}", reply.text);
    answers.push(reply.text);
    // A credential of the wrong shape is refused without quoting it.
    let reply = admin
        .put(
            "/v1/targets/edge",
            json!({"provider": "test", "endpoint": "http://127.0.0.1:1", "credential": CANARY}),
        )
        .await;
    assert_eq!(reply.status, 422, "{}", reply.text);
    answers.push(reply.text);
    admin
        .post(
            "/v1/alerts?format=suricata-eve",
            eve("203.0.113.70", "canary"),
        )
        .await;
    wait_json(&admin, "/v1/tasks?status=Succeeded", "the block", |p| {
        p["items"].as_array().unwrap().len() == 1
    })
    .await;
    for path in [
        "/v1/targets",
        "/v1/tasks",
        "/v1/policies",
        "/v1/audit",
        "/v1/alerts",
        "/v1/components",
        "/metrics",
    ] {
        answers.push(admin.get(path).await.text);
    }
    for answer in &answers {
        assert!(
            !answer.contains(CANARY),
            "an answer holds the secret: {answer}"
        );
    }
    let logs = riposte_tests::logs();
    assert!(!logs.contains(CANARY), "a log line holds the secret");

    // The store is sealed: restart on the same directory and the secret is
    // still usable (its public id shows) but in no file.
    daemon.stop().await;
    for path in riposte_tests::files_under(&daemon.scratch.path().join("data")) {
        let bytes = std::fs::read(&path).unwrap();
        assert!(
            !bytes.windows(CANARY.len()).any(|w| w == CANARY.as_bytes()),
            "{} holds the secret in clear",
            path.display()
        );
    }
    let again = start_on(&daemon.scratch, daemon.endpoint.port(), config()).await;
    assert_eq!(
        again.engine.secret_public_id("target:edge").as_deref(),
        Some("AKID-CANARY-PUBLIC")
    );
    again.shutdown().await;
}
