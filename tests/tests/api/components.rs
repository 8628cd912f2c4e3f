//! The component registry over the API: hot loading under load, refused
//! uploads that leave the old version serving, grants that hold back a
//! version asking for more, rollback and removal, signatures, the
//! watched directory and the AOT cache.

use std::time::{Duration, Instant};

use riposte::daemon::FileConfig;
use riposte::engine::{Backoff, EngineConfig};
use riposte::registry::{CacheUse, SignaturePolicy, TrustedKey};
use riposte_tests::api::{Client, TestDaemon};
use riposte_tests::guests;
use serde_json::{Value, json};

use super::{config, install, problem, wait_json};

fn wasm(path: &str) -> Vec<u8> {
    riposte_tests::wasm(path)
}

/// Runs the blocking script on `ip` by hand; returns the policy id.
async fn run(admin: &Client, ip: &str) -> u64 {
    let reply = admin
        .post(
            "/v1/scripts/block-source/run",
            json!({"entity": {"kind": "ip", "value": ip}}),
        )
        .await;
    assert_eq!(reply.status, 202, "{}", reply.text);
    reply.json["policy"].as_u64().unwrap()
}

/// Every task, once all `count` of them succeeded.
async fn all_succeeded(admin: &Client, count: usize) -> Vec<Value> {
    let page = wait_json(
        admin,
        "/v1/tasks?status=Succeeded&limit=500",
        "every task to succeed",
        |page| page["items"].as_array().unwrap().len() == count,
    )
    .await;
    page["items"].as_array().unwrap().clone()
}

async fn active_version(admin: &Client) -> String {
    let reply = admin.get("/v1/components/fixture-counter").await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    reply.json["version"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_version_loaded_under_load_takes_over_with_every_task_on_exactly_one_version() {
    let daemon = TestDaemon::start(config()).await;
    let admin = daemon.admin();
    install(&admin, daemon.endpoint.port(), None).await;

    // A stream of tasks: 30 before the upload, 30 while it compiles and
    // swaps, 30 after it answered.
    let mut policies = Vec::new();
    for i in 0..30 {
        policies.push(run(&admin, &format!("198.51.100.{i}")).await);
    }
    let streaming = {
        let admin = admin.clone();
        tokio::spawn(async move {
            let mut during = Vec::new();
            for i in 0..30 {
                during.push(run(&admin, &format!("198.51.101.{i}")).await);
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            during
        })
    };
    let reply = admin.upload(&wasm(guests::FIXTURE_COUNTER_V2), None).await;
    assert_eq!(reply.status, 201, "{}", reply.text);
    assert_eq!(reply.json["status"], "active", "{}", reply.text);
    assert_eq!(reply.json["version"], "0.2.0");
    let mut after = Vec::new();
    for i in 0..30 {
        after.push(run(&admin, &format!("198.51.102.{i}")).await);
    }
    policies.extend(streaming.await.unwrap());

    let tasks = all_succeeded(&admin, 90).await;
    let mut by_version = std::collections::BTreeMap::<String, usize>::new();
    for task in &tasks {
        let attempts = task["attempts"].as_array().unwrap();
        assert_eq!(attempts.len(), 1, "one attempt each: {task}");
        let ran_on = attempts[0]["component_version"].as_str().unwrap();
        // The version recorded is the code that ran: the counter's detail
        // names its own version.
        let detail = task["detail"].as_str().unwrap();
        assert!(
            detail.ends_with(&format!("by {ran_on}")),
            "{detail} vs {ran_on}"
        );
        assert_eq!(task["component_version"], ran_on);
        *by_version.entry(ran_on.to_string()).or_default() += 1;
        let policy = task["policy_id"].as_u64().unwrap();
        if after.contains(&policy) {
            assert_eq!(ran_on, "0.2.0", "created after the switch: {task}");
        }
    }
    assert!(by_version["0.1.0"] >= 30, "{by_version:?}");
    assert!(by_version["0.2.0"] >= 30, "{by_version:?}");
    // Each action reached the endpoint exactly once.
    assert_eq!(daemon.endpoint.done("/block").len(), 90);

    // The switch-over is in the task records: the last task started on the
    // old version started no later than... every task of a policy created
    // after the switch (ordered by attempt start).
    let started = |task: &Value| {
        task["attempts"][0]["started_at"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let last_old = tasks
        .iter()
        .filter(|t| t["component_version"] == "0.1.0")
        .map(started)
        .max()
        .unwrap();
    let first_after = tasks
        .iter()
        .filter(|t| after.contains(&t["policy_id"].as_u64().unwrap()))
        .map(started)
        .min()
        .unwrap();
    assert!(last_old <= first_after, "{last_old} > {first_after}");

    let view = admin.get("/v1/components/fixture-counter").await.json;
    assert_eq!(view["version"], "0.2.0");
    let versions = view["versions"].as_array().unwrap();
    assert_eq!(versions.len(), 2, "{view}");
    assert_eq!(versions[0]["status"], "inactive");
    assert_eq!(versions[1]["status"], "active");
    assert_eq!(versions[1]["installed_by"], "admin");
    assert_eq!(versions[1]["source"], "upload");
    // The same bytes again change nothing.
    let reply = admin.upload(&wasm(guests::FIXTURE_COUNTER_V2), None).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.json["status"], "unchanged");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broken_uploads_are_refused_with_the_reason_and_the_old_version_keeps_serving() {
    let daemon = TestDaemon::start(config()).await;
    let admin = daemon.admin();
    install(&admin, daemon.endpoint.port(), None).await;
    let good = wasm(guests::FIXTURE_COUNTER_V2);

    let cases: Vec<(&str, Vec<u8>, u16, &str)> = vec![
        (
            "not wasm",
            b"#!/bin/sh\necho hi\n".to_vec(),
            422,
            "magic bytes",
        ),
        ("empty", Vec::new(), 422, "empty"),
        (
            "truncated",
            good[..good.len() / 2].to_vec(),
            422,
            "not a valid WebAssembly component",
        ),
        // An empty component: valid, but it exports nothing of the world.
        (
            "wrong world",
            vec![0, b'a', b's', b'm', 0x0d, 0, 1, 0],
            422,
            "handling-component",
        ),
        (
            "trapping describe",
            wasm(guests::FIXTURE_COUNTER_TRAP),
            422,
            "describe",
        ),
    ];
    for (what, bytes, status, expected) in cases {
        let reply = admin.upload(&bytes, None).await;
        let text = problem(&reply, status);
        assert!(text.contains(expected), "{what}: {text}");
        assert_eq!(active_version(&admin).await, "0.1.0", "{what}");
    }
    // Not a component content type.
    let reply = admin
        .send_bytes(
            "POST",
            "/v1/components",
            Some(good.clone()),
            &[("content-type", "text/plain")],
        )
        .await;
    problem(&reply, 415);
    // Another component claiming an action identifier already served.
    let reply = admin.upload(&wasm(guests::FIXTURE_TRIVIAL), None).await;
    assert_eq!(reply.status, 201, "{}", reply.text);
    let reply = admin.upload(&wasm(guests::FIXTURE_HOSTILE), None).await;
    let text = problem(&reply, 409);
    assert!(
        text.contains("`Noop`") && text.contains("fixture-trivial"),
        "{text}"
    );
    // Viewers and operators may not install.
    let reply = daemon.client("rpt_nobody_x").upload(&good, None).await;
    problem(&reply, 401);

    // The old version still serves.
    run(&admin, "198.51.100.1").await;
    let tasks = all_succeeded(&admin, 1).await;
    assert_eq!(tasks[0]["component_version"], "0.1.0");
    // Refused installs left no file behind in the registry.
    let blobs = daemon.scratch.path().join("data/registry/blobs");
    let count = std::fs::read_dir(blobs).unwrap().count();
    assert_eq!(count, 2, "the counter and fixture-trivial only");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_version_asking_for_a_new_host_waits_for_a_grant_and_versions_roll_back_and_go() {
    // A failed attempt waits a minute for its retry, so the task that must
    // hold back the removal below is reliably `Waiting` while it is tried.
    let patient = Backoff {
        base: Duration::from_secs(60),
        max: Duration::from_secs(60),
        max_attempts: 3,
        max_total: Duration::from_secs(600),
    };
    let daemon = TestDaemon::start(EngineConfig {
        backoff: patient,
        ..config()
    })
    .await;
    let admin = daemon.admin();
    install(&admin, daemon.endpoint.port(), None).await;

    let reply = admin.upload(&wasm(guests::FIXTURE_COUNTER_V3), None).await;
    assert_eq!(reply.status, 201, "{}", reply.text);
    assert_eq!(reply.json["status"], "awaiting-grant", "{}", reply.text);
    assert_eq!(
        reply.json["missing"],
        json!(["host `https://hooks.example.com:443`"])
    );
    assert_eq!(active_version(&admin).await, "0.1.0");
    run(&admin, "198.51.100.1").await;
    assert_eq!(
        all_succeeded(&admin, 1).await[0]["component_version"],
        "0.1.0"
    );
    // Activating it by hand is refused too.
    let reply = admin
        .post(
            "/v1/components/fixture-counter/activate",
            json!({"version": "0.3.0"}),
        )
        .await;
    let text = problem(&reply, 409);
    assert!(text.contains("hooks.example.com"), "{text}");

    // The grant, with the host it asks for, activates it.
    let mut grant = admin.get("/v1/components/fixture-counter").await.json["grant"].clone();
    grant
        .as_object_mut()
        .unwrap()
        .retain(|k, _| k == "hosts" || k == "secrets");
    grant["hosts"]
        .as_array_mut()
        .unwrap()
        .push(json!("https://hooks.example.com"));
    let reply = admin
        .post("/v1/components/fixture-counter/grant", grant)
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.json["activated"], "0.3.0", "{}", reply.text);
    assert_eq!(reply.json["component"]["grant"]["granted_by"], "admin");
    run(&admin, "198.51.100.2").await;
    wait_json(
        &admin,
        "/v1/tasks?status=Succeeded",
        "the second task",
        |page| page["items"][0]["component_version"] == "0.3.0",
    )
    .await;

    // Roll back, then remove the newer version; the active one cannot go
    // alone.
    let reply = admin
        .post(
            "/v1/components/fixture-counter/activate",
            json!({"version": "0.1.0"}),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.json["version"], "0.1.0");
    let reply = admin
        .delete("/v1/components/fixture-counter?version=0.1.0")
        .await;
    problem(&reply, 409);
    let reply = admin
        .delete("/v1/components/fixture-counter?version=0.3.0")
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let view = admin.get("/v1/components/fixture-counter").await.json;
    assert_eq!(view["versions"].as_array().unwrap().len(), 1, "{view}");

    // Removing the component refuses while a task of it waits.
    daemon.endpoint.fail_next(1000);
    run(&admin, "198.51.100.3").await;
    wait_json(
        &admin,
        "/v1/tasks?status=Waiting",
        "a waiting task",
        |page| !page["items"].as_array().unwrap().is_empty(),
    )
    .await;
    let reply = admin.delete("/v1/components/fixture-counter").await;
    let text = problem(&reply, 409);
    assert!(text.contains("waiting or running"), "{text}");
    let reply = admin
        .delete("/v1/components/fixture-counter?force=true")
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    problem(&admin.get("/v1/components/fixture-counter").await, 404);
    let audit = admin.get("/v1/audit?action=component.remove").await.json;
    assert!(!audit["items"].as_array().unwrap().is_empty(), "{audit}");
}

/// A minisign key pair made the way the `minisign` tool makes one, and
/// its public key as riposte trusts it.
fn keypair() -> (minisign::KeyPair, TrustedKey) {
    let pair = minisign::KeyPair::generate_unencrypted_keypair().unwrap();
    let public = pair.pk.to_box().unwrap().to_string();
    let trusted = TrustedKey::parse(&public).unwrap();
    (pair, trusted)
}

fn sign(pair: &minisign::KeyPair, bytes: &[u8]) -> String {
    minisign::sign(
        Some(&pair.pk),
        &pair.sk,
        std::io::Cursor::new(bytes),
        Some("fixture"),
        None,
    )
    .unwrap()
    .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn when_signatures_are_required_only_a_trusted_valid_signature_is_accepted() {
    let (trusted_pair, trusted) = keypair();
    let (stranger, _) = keypair();
    let file = FileConfig {
        signatures: SignaturePolicy {
            required: true,
            trusted: vec![trusted.clone()],
        },
        ..FileConfig::defaults()
    };
    let daemon = TestDaemon::start_with(config(), file).await;
    let admin = daemon.admin();
    let v2 = wasm(guests::FIXTURE_COUNTER_V2);
    let v3 = wasm(guests::FIXTURE_COUNTER_V3);

    let text = problem(&admin.upload(&v2, None).await, 422);
    assert!(text.contains("required"), "{text}");
    let text = problem(&admin.upload(&v2, Some(&sign(&stranger, &v2))).await, 422);
    assert!(text.contains("not trusted"), "{text}");
    let text = problem(
        &admin.upload(&v2, Some(&sign(&trusted_pair, &v3))).await,
        422,
    );
    assert!(text.contains("changed after signing"), "{text}");
    let reply = admin
        .send_bytes(
            "POST",
            "/v1/components",
            Some(v2.clone()),
            &[
                ("content-type", "application/wasm"),
                ("x-riposte-signature", "%%% not base64"),
            ],
        )
        .await;
    problem(&reply, 400);
    assert_eq!(active_version(&admin).await, "0.1.0");

    let reply = admin.upload(&v2, Some(&sign(&trusted_pair, &v2))).await;
    assert_eq!(reply.status, 201, "{}", reply.text);
    let view = &reply.json["component"];
    assert_eq!(view["version"], "0.2.0");
    assert_eq!(view["versions"][1]["signed_by"], trusted.id.as_str());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_file_is_installed_and_a_corrupt_cache_entry_is_rebuilt() {
    let mut daemon = TestDaemon::start(config()).await;
    let admin = daemon.admin();
    install(&admin, daemon.endpoint.port(), None).await;
    let data = daemon.scratch.path().join("data");

    // Dropped into the watched directory, with a temporary name renamed
    // into place as an operator's `mv` would.
    let v2 = wasm(guests::FIXTURE_COUNTER_V2);
    let dropped = data.join("components/counter.wasm");
    std::fs::write(data.join("components/.counter.part"), &v2).unwrap();
    std::fs::rename(data.join("components/.counter.part"), &dropped).unwrap();
    let view = wait_json(
        &admin,
        "/v1/components/fixture-counter",
        "the dropped version to become active",
        |view| view["version"] == "0.2.0",
    )
    .await;
    let source = view["versions"][1]["source"].as_str().unwrap();
    assert!(
        source.starts_with("file:") && source.ends_with("counter.wasm"),
        "{source}"
    );
    assert_eq!(view["versions"][1]["installed_by"], "watcher");
    // A bad file dropped there is refused, audited, and changes nothing.
    std::fs::write(data.join("components/junk.wasm"), b"junk").unwrap();
    wait_json(
        &admin,
        "/v1/audit?action=component.refuse",
        "the refusal",
        |page| !page["items"].as_array().unwrap().is_empty(),
    )
    .await;
    assert_eq!(active_version(&admin).await, "0.2.0");

    // A restart loads both versions from the AOT cache without compiling.
    let registry = daemon.daemon.as_ref().unwrap().registry.clone();
    let digest = view["digest"].as_str().unwrap().to_string();
    let artifact = registry.cache_path(&digest);
    assert!(artifact.exists(), "{}", artifact.display());
    drop(registry);
    restart(&mut daemon).await;
    let loads = daemon.daemon.as_ref().unwrap().registry.startup_loads();
    assert_eq!(loads.len(), 2, "{loads:?}");
    assert!(
        loads.iter().all(|(_, used)| *used == CacheUse::Hit),
        "{loads:?}"
    );

    // Flip bytes in the middle of the artifact: the checksum catches it,
    // it is compiled again and rewritten, and the component still works.
    let mut bytes = std::fs::read(&artifact).unwrap();
    let middle = bytes.len() / 2;
    for byte in &mut bytes[middle..middle + 16] {
        *byte ^= 0x5a;
    }
    std::fs::write(&artifact, &bytes).unwrap();
    restart(&mut daemon).await;
    let loads = daemon.daemon.as_ref().unwrap().registry.startup_loads();
    let used = &loads.iter().find(|(d, _)| *d == digest).unwrap().1;
    assert!(
        matches!(used, CacheUse::Rebuilt(reason) if reason.contains("checksum")),
        "{used:?}"
    );
    assert_ne!(std::fs::read(&artifact).unwrap(), bytes);
    let admin = daemon.admin();
    run(&admin, "198.51.100.9").await;
    let tasks = all_succeeded(&admin, 1).await;
    assert_eq!(tasks[0]["component_version"], "0.2.0");

    // A truncated artifact is rebuilt the same way.
    std::fs::write(&artifact, &bytes[..100]).unwrap();
    restart(&mut daemon).await;
    let loads = daemon.daemon.as_ref().unwrap().registry.startup_loads();
    let used = &loads.iter().find(|(d, _)| *d == digest).unwrap().1;
    assert!(matches!(used, CacheUse::Rebuilt(_)), "{used:?}");
}

/// Stops the daemon and starts it again on the same directory.
async fn restart(daemon: &mut TestDaemon) {
    daemon.stop().await;
    let started = Instant::now();
    let again =
        riposte_tests::api::start_on(&daemon.scratch, daemon.endpoint.port(), config()).await;
    assert!(started.elapsed() < Duration::from_secs(60));
    daemon.addr = again.addr;
    daemon.daemon = Some(again);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_grant_declared_by_the_configuration_file_lets_a_version_activate_at_once() {
    let text =
        "grants:\n  fixture-counter:\n    hosts: [http://127.0.0.1, https://hooks.example.com]\n";
    let file = FileConfig::parse(text, std::path::Path::new(".")).unwrap();
    let daemon = TestDaemon::start_with(config(), file).await;
    let admin = daemon.admin();
    let view = admin.get("/v1/components/fixture-counter").await.json;
    assert!(
        view["grant"]["hosts"]
            .as_array()
            .unwrap()
            .iter()
            .any(|h| h.as_str().unwrap().contains("hooks.example.com")),
        "{view}"
    );
    let reply = admin.upload(&wasm(guests::FIXTURE_COUNTER_V3), None).await;
    assert_eq!(reply.status, 201, "{}", reply.text);
    assert_eq!(reply.json["status"], "active", "{}", reply.text);
    let audit = admin.get("/v1/audit?actor=config").await.json;
    assert!(!audit["items"].as_array().unwrap().is_empty(), "{audit}");
}
