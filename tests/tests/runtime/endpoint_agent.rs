//! The endpoint component against a real endpoint agent on loopback:
//! component -> gate -> agent, acting on real processes and files of this
//! machine (children and scratch files the tests create), and the agent's
//! refusal of unsigned, stale and replayed requests.

use std::net::IpAddr;
use std::os::unix::fs::PermissionsExt;
use std::process::{Child, Command};

use riposte::agent::config::{AgentConfig, Capability};
use riposte::agent::process::ProcessInfo;
use riposte::agent::server::{RunningAgent, start_on};
use riposte::runtime::{
    FailureKind, Grant, LoadedComponent, Runtime, RuntimeConfig, TaskFailure, wit,
};
use riposte_sdk::sign::agent::sign;
use riposte_sdk::sign::{InMemoryCredential, Nonce, Timestamp};
use riposte_tests::api::Client;
use riposte_tests::engine::Scratch;
use riposte_tests::{guests, logs, loopback_runtime, request, secrets, wasm};

const KEY_ID: &str = "agent-test";
const SECRET: &str = "agent-secret-never-logged-0123456789abcdef";
const CREDENTIAL: &str = "agent-credential";
const HOST: &str = "agent.test";
/// The signal a kill sends first.
const SIGTERM: i32 = 15;

struct Endpoint {
    runtime: Runtime,
    component: LoadedComponent,
    grant: Grant,
    agent: RunningAgent,
    endpoint: String,
    scratch: Scratch,
}

impl Endpoint {
    async fn start(allow: &[Capability]) -> Self {
        let scratch = Scratch::new("endpoint-agent");
        let mut config = AgentConfig::new(scratch.path().join("agent"));
        config.allow = allow.iter().copied().collect();
        config.key_id = KEY_ID.into();
        config.dns.file = scratch.path().join("hosts");
        std::fs::write(&config.dns.file, "127.0.0.1 localhost\n").unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let agent = start_on(config, SECRET.as_bytes().to_vec(), listener)
            .await
            .unwrap();
        let port = agent.addr().port();
        let names: &[(&str, &[IpAddr])] = &[(HOST, &[IpAddr::from([127, 0, 0, 1])])];
        let store = secrets(&[(CREDENTIAL, KEY_ID, SECRET)]);
        let (runtime, _) = loopback_runtime(RuntimeConfig::default(), names, store);
        let component = runtime.load(wasm(guests::ENDPOINT)).await.unwrap();
        let endpoint = format!("http://{HOST}:{port}");
        let grant = crate::loopback_grant(HOST, port, CREDENTIAL);
        Self {
            runtime,
            component,
            grant,
            agent,
            endpoint,
            scratch,
        }
    }

    fn request(
        &self,
        action: &str,
        kind: wit::EntityKind,
        value: &str,
        attributes: &[(&str, &str)],
        key: &str,
    ) -> wit::ActionRequest {
        let mut call = request(action, "0.0.0.0", &[]);
        call.entity.kind = kind;
        call.entity.value = value.into();
        call.entity.attributes = attributes
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        call.idempotency_key = key.into();
        call.target.provider = "agent".into();
        call.target.endpoint = self.endpoint.clone();
        call.target.credential = Some(CREDENTIAL.into());
        call
    }

    async fn execute(&self, call: wit::ActionRequest) -> Result<wit::Outcome, TaskFailure> {
        self.runtime
            .execute(&self.component, &self.grant, call, None)
            .await
            .result
    }

    async fn revert(
        &self,
        call: wit::ActionRequest,
        token: &str,
    ) -> Result<wit::Outcome, TaskFailure> {
        self.runtime
            .revert(&self.component, &self.grant, call, token.into(), None)
            .await
            .result
    }

    fn client(&self) -> Client {
        Client {
            addr: self.agent.addr(),
            token: None,
        }
    }
}

fn sleeper() -> Child {
    Command::new("sleep").arg("60").spawn().unwrap()
}

fn process_attributes(pid: u32) -> (String, String) {
    let info = ProcessInfo::read(pid).unwrap();
    (
        format!("{:.2}", info.start_seconds()),
        info.exe.unwrap().display().to_string(),
    )
}

#[tokio::test]
async fn a_sleep_child_is_killed_through_component_gate_and_agent() {
    let endpoint = Endpoint::start(&[Capability::Kill]).await;
    let mut child = sleeper();
    let pid = child.id();
    let (start, exe) = process_attributes(pid);
    let call = || {
        endpoint.request(
            "AegisKillProcess",
            wit::EntityKind::Process,
            &pid.to_string(),
            &[("start-time", &start), ("exe", &exe)],
            "kill-1",
        )
    };
    let outcome = endpoint.execute(call()).await.unwrap();
    assert!(outcome.changed, "{}", outcome.detail);
    assert!(
        outcome.detail.contains(&format!("pid {pid}")),
        "{}",
        outcome.detail
    );
    let status = child.wait().unwrap();
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&status),
        Some(SIGTERM)
    );

    // A retry of the same task (its answer lost, say) gets the first
    // answer from the agent's journal; nothing is signalled twice.
    let again = endpoint.execute(call()).await.unwrap();
    assert_eq!((again.changed, &again.detail), (true, &outcome.detail));

    let audit = endpoint.agent.audit_entries();
    let kills: Vec<_> = audit
        .iter()
        .filter(|e| e["route"] == "/v1/process/kill")
        .collect();
    assert_eq!(kills.len(), 2, "{audit:?}");
    assert_eq!(kills[0]["status"], 200);
    assert_eq!(kills[0]["key_id"], KEY_ID);
    assert_eq!(kills[0]["idempotency_key"], "kill-1");
    assert_eq!(kills[1]["summary"], "repeat: answered from the journal");
    let log = std::fs::read_to_string(endpoint.agent.audit_log()).unwrap();
    assert!(!log.contains(SECRET) && !logs().contains(SECRET));
}

#[tokio::test]
async fn a_reused_pid_is_not_killed() {
    let endpoint = Endpoint::start(&[Capability::Kill]).await;
    let mut child = sleeper();
    let pid = child.id();
    let (start, exe) = process_attributes(pid);
    // The alert saw pid `pid` start 50 s earlier: another process had it.
    let earlier = format!("{:.2}", start.parse::<f64>().unwrap() - 50.0);
    let call = endpoint.request(
        "AegisKillProcess",
        wit::EntityKind::Process,
        &pid.to_string(),
        &[("start-time", &earlier), ("exe", &exe)],
        "kill-reused",
    );
    let failure = endpoint.execute(call).await.unwrap_err();
    assert_eq!(failure.kind, FailureKind::Conflict, "{failure}");
    assert!(!failure.retryable);
    assert!(failure.message.contains("reused"), "{failure}");
    assert!(
        child.try_wait().unwrap().is_none(),
        "the other process still runs"
    );
    child.kill().unwrap();
    child.wait().unwrap();
}

#[tokio::test]
async fn a_file_is_quarantined_and_restored_byte_for_byte_with_its_mode() {
    let endpoint = Endpoint::start(&[Capability::Quarantine]).await;
    let file = endpoint.scratch.path().join("dropper.bin");
    let content: Vec<u8> = (0..50_000u32).map(|i| (i * 7 % 251) as u8).collect();
    std::fs::write(&file, &content).unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o751)).unwrap();
    let path = file.display().to_string();
    let call = || {
        endpoint.request(
            "AegisQuaraFile",
            wit::EntityKind::File,
            &path,
            &[],
            "quara-1",
        )
    };
    let outcome = endpoint.execute(call()).await.unwrap();
    assert!(outcome.changed, "{}", outcome.detail);
    assert!(!file.exists());
    // The stored copy is neither readable nor executable by mode.
    let stored: Vec<_> = std::fs::read_dir(endpoint.agent.quarantine_dir())
        .unwrap()
        .flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == "bin"))
        .collect();
    assert_eq!(stored.len(), 1);
    assert_eq!(
        stored[0].metadata().unwrap().permissions().mode() & 0o777,
        0
    );

    let token = outcome.revert_token.unwrap();
    let restored = endpoint.revert(call(), &token).await.unwrap();
    assert!(restored.changed, "{}", restored.detail);
    assert_eq!(std::fs::read(&file).unwrap(), content);
    let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o7777;
    assert_eq!(mode, 0o751);
    // A repeated revert is answered from the agent's journal: the same
    // answer, and the file is not touched again.
    let again = endpoint.revert(call(), &token).await.unwrap();
    assert_eq!(again.detail, restored.detail);
    assert_eq!(std::fs::read(&file).unwrap(), content);
}

#[tokio::test]
async fn actions_the_agent_does_not_allow_are_refused_and_change_nothing() {
    let endpoint = Endpoint::start(&[Capability::Kill]).await;
    let file = endpoint.scratch.path().join("keep.txt");
    std::fs::write(&file, b"keep").unwrap();
    let call = endpoint.request(
        "AegisQuaraFile",
        wit::EntityKind::File,
        &file.display().to_string(),
        &[],
        "quara-refused",
    );
    let failure = endpoint.execute(call).await.unwrap_err();
    assert_eq!(failure.kind, FailureKind::PermissionDenied, "{failure}");
    assert!(
        failure
            .message
            .contains("not configured to allow `quarantine`"),
        "{failure}"
    );
    assert!(file.exists());
    let audit = endpoint.agent.audit_entries();
    assert_eq!(audit.last().unwrap()["error"], "refused");
}

#[tokio::test]
async fn domains_are_sinkholed_and_released_in_the_managed_section() {
    let endpoint = Endpoint::start(&[Capability::Dns]).await;
    let hosts = endpoint.scratch.path().join("hosts");
    let call = || {
        endpoint.request(
            "AliNetBlockDNS",
            wit::EntityKind::Domain,
            "evil.example.com",
            &[],
            "dns-1",
        )
    };
    let outcome = endpoint.execute(call()).await.unwrap();
    assert!(outcome.changed, "{}", outcome.detail);
    let text = std::fs::read_to_string(&hosts).unwrap();
    assert!(text.starts_with("127.0.0.1 localhost\n"), "{text}");
    assert!(text.contains("0.0.0.0 evil.example.com"), "{text}");
    // The retry of a task whose answer was lost still gets its revert
    // token: the agent answers the repeat from its journal.
    let retry = endpoint.execute(call()).await.unwrap();
    assert_eq!(retry.revert_token, outcome.revert_token);
    let token = outcome.revert_token.unwrap();
    assert!(endpoint.revert(call(), &token).await.unwrap().changed);
    assert!(!std::fs::read_to_string(&hosts).unwrap().contains("evil"));
}

/// Signs `body` for `path` at `at` with `secret` and a nonce made of
/// `nonce`, as a caller of the agent would.
fn signed_headers(
    path: &str,
    body: &[u8],
    at: u64,
    nonce: u8,
    secret: &str,
) -> Vec<(String, String)> {
    let credential = InMemoryCredential::new(KEY_ID, secret);
    sign(
        &credential,
        "POST",
        path,
        Timestamp::from_unix_seconds(at),
        Nonce::from_random_bytes([nonce; 16]),
        body,
    )
    .unwrap()
    .headers
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

#[tokio::test]
async fn bad_signatures_stale_times_and_replays_get_401_and_nothing_happens() {
    let endpoint = Endpoint::start(&[Capability::Kill, Capability::Quarantine]).await;
    let client = endpoint.client();
    let mut child = sleeper();
    let kill = serde_json::json!({"idempotency_key": "raw", "pid": child.id()}).to_string();
    let path = "/v1/process/kill";
    let send = |headers: Vec<(String, String)>, body: String| {
        let client = client.clone();
        async move {
            let refs: Vec<(&str, &str)> = headers
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            client.send("POST", path, Some(body), &refs).await
        }
    };

    let unsigned = send(Vec::new(), kill.clone()).await;
    let wrong_key = send(
        signed_headers(path, kill.as_bytes(), now(), 1, "another-secret"),
        kill.clone(),
    )
    .await;
    let stale = send(
        signed_headers(path, kill.as_bytes(), now() - 600, 2, SECRET),
        kill.clone(),
    )
    .await;
    let other_body = send(signed_headers(path, b"{}", now(), 3, SECRET), kill.clone()).await;
    for (what, reply) in [
        ("unsigned", &unsigned),
        ("wrong key", &wrong_key),
        ("stale", &stale),
        ("other body", &other_body),
    ] {
        assert_eq!(reply.status, 401, "{what}: {}", reply.text);
        assert_eq!(reply.json["error"], "unauthorized", "{what}");
    }
    assert!(stale.text.contains("clock"), "{}", stale.text);
    assert!(child.try_wait().unwrap().is_none(), "nothing was killed");

    // A genuine request to quarantine a file, then its replay after the
    // file is back: the replay is refused and the file stays.
    let file = endpoint.scratch.path().join("replayed.txt");
    std::fs::write(&file, b"first").unwrap();
    let quarantine = serde_json::json!({"idempotency_key": "replay", "path": file}).to_string();
    let qpath = "/v1/file/quarantine";
    let headers = signed_headers(qpath, quarantine.as_bytes(), now(), 4, SECRET);
    let refs: Vec<(&str, &str)> = headers
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let first = client
        .send("POST", qpath, Some(quarantine.clone()), &refs)
        .await;
    assert_eq!(first.status, 200, "{}", first.text);
    std::fs::write(&file, b"second").unwrap();
    let replay = client.send("POST", qpath, Some(quarantine), &refs).await;
    assert_eq!(replay.status, 401, "{}", replay.text);
    assert!(
        replay.json["message"]
            .as_str()
            .unwrap()
            .contains("already used")
    );
    assert_eq!(std::fs::read(&file).unwrap(), b"second");

    let refused = endpoint
        .agent
        .audit_entries()
        .iter()
        .filter(|e| e["status"] == 401)
        .count();
    assert_eq!(refused, 5, "every refusal is audited");
    child.kill().unwrap();
    child.wait().unwrap();
}

#[tokio::test]
async fn a_yara_rule_quarantines_only_the_matching_file_and_revert_restores_it() {
    let endpoint = Endpoint::start(&[Capability::Scan]).await;
    let dir = endpoint.scratch.path().join("web");
    std::fs::create_dir_all(dir.join("uploads")).unwrap();
    let shell = dir.join("uploads/shell.php");
    std::fs::write(
        &shell,
        b"<?php eval(base64_decode($_POST['riposte_test_marker'])); ?>",
    )
    .unwrap();
    let clean = dir.join("index.php");
    std::fs::write(&clean, b"<?php echo 'hello'; ?>").unwrap();
    let rules =
        r#"rule webshell_eval_post { strings: $a = "eval(base64_decode($_POST" condition: $a }"#;
    let mut call = endpoint.request(
        "AegisDeepCleanUp",
        wit::EntityKind::Host,
        "web-01",
        &[],
        "clean-1",
    );
    call.parameters = vec![
        ("paths".into(), dir.display().to_string()),
        ("yara".into(), rules.into()),
    ];
    let outcome = endpoint.execute(call.clone()).await.unwrap();
    assert!(outcome.changed, "{}", outcome.detail);
    assert!(
        outcome
            .detail
            .contains("scanned 2 files: 1 matched, 1 quarantined"),
        "{}",
        outcome.detail
    );
    assert_eq!(outcome.items.len(), 1);
    assert_eq!(outcome.items[0].item, shell.display().to_string());
    assert!(outcome.items[0].detail.contains("webshell_eval_post"));
    assert!(!shell.exists(), "the match is quarantined");
    assert!(clean.exists(), "the clean file stays");

    let token = outcome.revert_token.unwrap();
    assert!(endpoint.revert(call, &token).await.unwrap().changed);
    assert!(shell.exists());
}

#[tokio::test]
async fn the_offline_check_returns_a_snapshot_with_the_running_test_process() {
    let endpoint = Endpoint::start(&[Capability::Snapshot]).await;
    let call = endpoint.request(
        "SasOfflineCheck",
        wit::EntityKind::Host,
        "web-01",
        &[],
        "check-1",
    );
    let outcome = endpoint.execute(call).await.unwrap();
    assert!(!outcome.changed);
    let report: serde_json::Value = serde_json::from_str(&outcome.detail).unwrap();
    let me = std::process::id();
    let processes = report["processes"].as_array().unwrap();
    let mine = processes
        .iter()
        .find(|p| p["pid"] == me)
        .unwrap_or_else(|| panic!("pid {me} is not in the snapshot"));
    let exe = std::fs::read_link("/proc/self/exe").unwrap();
    assert_eq!(mine["exe"], exe.display().to_string());
    // The agent keeps the whole snapshot and says where.
    let saved = report["saved_to"].as_str().unwrap();
    assert!(std::path::Path::new(saved).is_file(), "{saved}");
}

#[tokio::test]
async fn a_file_hash_kills_every_process_of_that_executable() {
    let endpoint = Endpoint::start(&[Capability::Kill]).await;
    let copy = endpoint.scratch.path().join("implant");
    let mut bytes = std::fs::read("/usr/bin/sleep").unwrap();
    bytes.extend_from_slice(b"riposte endpoint test");
    std::fs::write(&copy, &bytes).unwrap();
    std::fs::set_permissions(&copy, std::fs::Permissions::from_mode(0o755)).unwrap();
    let hash = {
        use sha2::Digest;
        hex::encode(sha2::Sha256::digest(&bytes))
    };
    let mut children: Vec<Child> = (0..3)
        .map(|_| Command::new(&copy).arg("60").spawn().unwrap())
        .collect();
    let call = endpoint.request(
        "AegisKillProcess",
        wit::EntityKind::FileHash,
        &hash,
        &[],
        "kill-hash",
    );
    let outcome = endpoint.execute(call).await.unwrap();
    assert!(outcome.changed, "{}", outcome.detail);
    for child in &mut children {
        let status = child.wait().unwrap();
        assert!(!status.success());
        assert!(
            outcome.detail.contains(&format!("pid {}", child.id())),
            "{}",
            outcome.detail
        );
    }
}

#[tokio::test]
async fn kill_and_quarantine_takes_the_process_and_its_executable_and_revert_restores_the_file() {
    let endpoint = Endpoint::start(&[Capability::Kill, Capability::Quarantine]).await;
    let implant = endpoint.scratch.path().join("miner");
    let bytes = std::fs::read("/usr/bin/sleep").unwrap();
    std::fs::write(&implant, &bytes).unwrap();
    std::fs::set_permissions(&implant, std::fs::Permissions::from_mode(0o755)).unwrap();
    let mut child = Command::new(&implant).arg("60").spawn().unwrap();
    let pid = child.id();
    let (start, exe) = process_attributes(pid);
    assert_eq!(exe, implant.display().to_string());
    let call = || {
        endpoint.request(
            "AegisKillQuara",
            wit::EntityKind::Process,
            &pid.to_string(),
            &[("start-time", &start), ("exe", &exe)],
            "kill-quara-1",
        )
    };
    let outcome = endpoint.execute(call()).await.unwrap();
    assert!(outcome.changed, "{}", outcome.detail);
    assert!(!child.wait().unwrap().success());
    assert!(!implant.exists(), "the executable is quarantined");

    let token = outcome.revert_token.unwrap();
    assert!(endpoint.revert(call(), &token).await.unwrap().changed);
    assert_eq!(std::fs::read(&implant).unwrap(), bytes);
    let mode = std::fs::metadata(&implant).unwrap().permissions().mode() & 0o7777;
    assert_eq!(mode, 0o755);
}

#[tokio::test]
async fn kill_and_quarantine_refuses_a_path_that_is_not_the_running_file() {
    let endpoint = Endpoint::start(&[Capability::Kill, Capability::Quarantine]).await;
    let binary = endpoint.scratch.path().join("updater");
    std::fs::write(&binary, std::fs::read("/usr/bin/sleep").unwrap()).unwrap();
    std::fs::set_permissions(&binary, std::fs::Permissions::from_mode(0o755)).unwrap();
    let mut child = Command::new(&binary).arg("60").spawn().unwrap();
    let pid = child.id();
    let (start, exe) = process_attributes(pid);
    // The running binary is deleted and another file takes its path, as a
    // process in a container names a path that is another file here.
    std::fs::remove_file(&binary).unwrap();
    std::fs::write(&binary, b"an innocent file now at that path").unwrap();
    let call = endpoint.request(
        "AegisKillQuara",
        wit::EntityKind::Process,
        &pid.to_string(),
        &[("start-time", &start), ("exe", &exe)],
        "kill-quara-replaced",
    );
    let failure = endpoint.execute(call).await.unwrap_err();
    assert_eq!(failure.kind, FailureKind::Conflict, "{failure}");
    assert!(child.try_wait().unwrap().is_none(), "nothing was killed");
    assert_eq!(
        std::fs::read(&binary).unwrap(),
        b"an innocent file now at that path"
    );
    child.kill().unwrap();
    child.wait().unwrap();
}
