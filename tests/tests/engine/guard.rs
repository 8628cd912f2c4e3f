//! Allowlisted and guardrailed entities are never acted on.

use std::time::Duration;

use riposte::model::{
    AllowEntry, EntityKind, Guardrails, Scope, TaskStatus, Time, parse_protected,
};
use riposte_tests::endpoint::CountingEndpoint;
use riposte_tests::engine::{Scratch, install_block, start_engine, test_config};

use super::{alert, all_tasks, wait_tasks};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn allowlisted_and_guardrailed_entities_end_ignored_with_the_reason_and_no_call() {
    let endpoint = CountingEndpoint::start().await;
    let dir = Scratch::new("guard");
    let mut config = test_config();
    config.guardrails = Guardrails {
        protected: vec![parse_protected("198.18.0.0/15").unwrap()],
        own: vec!["192.0.2.10".parse().unwrap()],
        ..Guardrails::default()
    };
    let engine = start_engine(&dir.store(), endpoint.port(), config).await;
    install_block(&engine, "block", "CountedBlock", None).await;
    engine
        .add_allow(
            AllowEntry {
                id: 0,
                kind: EntityKind::Cidr,
                value: "10.20.0.0/16".into(),
                scope: Scope::Global,
                expires_at: None,
                reason: "office network".into(),
                created_by: String::new(),
                created_at: Time::now(),
            },
            "alice",
        )
        .await
        .unwrap();

    let cases = [
        ("10.20.3.4", "allowlisted by entry 1"),
        ("::ffff:10.20.3.4", "office network"),
        ("127.0.0.1", "loopback"),
        ("169.254.169.254", "link-local"),
        ("192.0.2.10", "address of this host"),
        ("198.19.1.1", "protected range"),
    ];
    for (ip, _) in &cases {
        alert(&engine, "block", ip).await;
    }
    alert(&engine, "block", "203.0.113.50").await;
    wait_tasks(
        &engine,
        "the ordinary block",
        Duration::from_secs(10),
        |tasks| tasks.iter().any(|t| t.status == TaskStatus::Succeeded),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(200)).await;

    let tasks = all_tasks(&engine);
    for (ip, reason) in cases {
        let normalized = ip.trim_start_matches("::ffff:");
        let task = tasks
            .iter()
            .filter(|t| t.entity.value == normalized)
            .find(|t| {
                t.ignored_reason
                    .as_deref()
                    .is_some_and(|r| r.contains(reason))
            })
            .unwrap_or_else(|| panic!("no ignored task for {ip} with `{reason}`: {tasks:#?}"));
        assert_eq!(task.status, TaskStatus::Ignored);
        assert!(task.attempts.is_empty());
    }
    let hits = endpoint.hits();
    assert_eq!(
        hits.len(),
        1,
        "only the ordinary address was acted on: {hits:?}"
    );
    assert_eq!(hits[0].value, "203.0.113.50");
    let policies = engine
        .store()
        .read(|r| r.list_policies(&Default::default(), None, 100))
        .unwrap()
        .items;
    let ignored = policies
        .iter()
        .filter(|p| p.status == riposte::model::PolicyStatus::Ignored)
        .count();
    assert_eq!(
        ignored, 5,
        "the two spellings of 10.20.3.4 share one policy"
    );
    engine.stop();
}

/// From the adversarial review of issue 3: a step whose tasks were all
/// ignored never finished, so the policy stalled before its next step.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_step_whose_tasks_are_all_ignored_is_done_and_the_next_step_runs() {
    let endpoint = CountingEndpoint::start().await;
    let dir = Scratch::new("ignored-step");
    let engine = start_engine(&dir.store(), endpoint.port(), test_config()).await;
    let script = "
name: escalate
entity: {kind: ip, from: alert.src_ip}
steps:
  - {id: block, action: CountedBlock, targets: [edge]}
  - {id: kill, when: \"steps.block.status != 'Succeeded'\", action: CountedKill, targets: [edge]}
";
    engine
        .publish_script(
            riposte::model::ScriptSpec::from_yaml(script).unwrap(),
            "tests",
        )
        .await
        .unwrap();
    let rule = riposte::model::RuleSpec::from_yaml("name: esc\ntrigger: alert\nscript: escalate");
    engine.put_rule(rule.unwrap(), "tests").await.unwrap();
    engine
        .add_allow(
            AllowEntry {
                id: 0,
                kind: EntityKind::Ip,
                value: "203.0.113.90".into(),
                scope: Scope::Action("CountedBlock".into()),
                expires_at: None,
                reason: "never block the partner gateway".into(),
                created_by: String::new(),
                created_at: Time::now(),
            },
            "alice",
        )
        .await
        .unwrap();

    let policy = alert(&engine, "escalate", "203.0.113.90").await.opened[0];
    let tasks = wait_tasks(&engine, "the kill", Duration::from_secs(10), |tasks| {
        tasks
            .iter()
            .any(|t| t.action == "CountedKill" && t.status == TaskStatus::Succeeded)
    })
    .await;
    assert!(
        tasks
            .iter()
            .any(|t| t.action == "CountedBlock" && t.status == TaskStatus::Ignored)
    );
    assert_eq!(endpoint.done("/kill").len(), 1);
    assert!(endpoint.done("/block").is_empty());
    let stored = engine.store().read(|r| r.policy(policy)).unwrap().unwrap();
    assert_eq!(stored.steps[0].status, riposte::model::StepStatus::Done);
    engine.stop();
}

/// From the adversarial review of issue 3: the allowlist was only checked
/// when a task was created, so tasks already queued (behind a rate limit,
/// or waiting for a retry) ran against a newly allowlisted entity.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_allowlist_entry_added_while_tasks_wait_stops_them() {
    let endpoint = CountingEndpoint::start().await;
    let dir = Scratch::new("late-allow");
    let mut config = test_config();
    config.rates.insert(
        "test".into(),
        riposte::engine::Rate {
            per_second: 1.0,
            burst: 1,
        },
    );
    let engine = start_engine(&dir.store(), endpoint.port(), config).await;
    install_block(&engine, "block", "CountedBlock", None).await;
    let ips: Vec<String> = (1..=6).map(|n| format!("198.51.100.{n}")).collect();
    futures::future::join_all(ips.iter().map(|ip| alert(&engine, "block", ip))).await;
    engine
        .add_allow(
            AllowEntry {
                id: 0,
                kind: EntityKind::Cidr,
                value: "198.51.100.0/24".into(),
                scope: Scope::Global,
                expires_at: None,
                reason: "our own egress range, mistakenly alerted".into(),
                created_by: String::new(),
                created_at: Time::now(),
            },
            "alice",
        )
        .await
        .unwrap();
    let tasks = wait_tasks(&engine, "all settled", Duration::from_secs(20), |tasks| {
        tasks.len() == 6 && tasks.iter().all(|t| t.status.is_terminal())
    })
    .await;
    let ignored = tasks
        .iter()
        .filter(|t| t.status == TaskStatus::Ignored)
        .count();
    let blocked = endpoint.done("/block").len();
    assert_eq!(ignored + blocked, 6, "{tasks:#?}");
    assert!(
        ignored >= 4,
        "queued tasks ran after the allowlist entry: {blocked} blocks"
    );
    for task in tasks.iter().filter(|t| t.status == TaskStatus::Ignored) {
        assert!(
            task.ignored_reason
                .as_deref()
                .unwrap()
                .contains("egress range")
        );
    }
    engine.stop();
}

/// From the adversarial review of issue 3: an alert nested deeper than the
/// store could read back was accepted, and its unreadable record then kept
/// the daemon from starting.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_alert_nested_too_deep_is_refused_and_nothing_is_stored() {
    let endpoint = CountingEndpoint::start().await;
    let dir = Scratch::new("deep");
    let engine = start_engine(&dir.store(), endpoint.port(), test_config()).await;
    install_block(&engine, "block", "CountedBlock", None).await;
    let mut data = serde_json::json!({"kind": "block", "src_ip": "203.0.113.99"});
    for _ in 0..100 {
        data = serde_json::json!({"kind": "block", "src_ip": "203.0.113.99", "inner": data});
    }
    let err = engine
        .ingest(riposte::store::SignalKind::Alert, None, "test", data)
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("nested more than 64 levels"), "{err}");
    assert!(
        engine
            .store()
            .read(|r| r.signal(riposte::store::SignalKind::Alert, 1))
            .unwrap()
            .is_none()
    );
    engine.stop();
}

/// From the second review of issue 3: a task waiting for a retry when its
/// entity is allowlisted may already have acted (a timeout, a crash); it
/// ends `Failed` with the reason, not `Ignored`, which would claim nothing
/// was done.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retry_refused_by_a_new_allowlist_entry_ends_failed_not_ignored() {
    let endpoint = CountingEndpoint::start().await;
    let dir = Scratch::new("late-allow-retry");
    let mut config = test_config();
    config.backoff.base = Duration::from_secs(2);
    config.backoff.max = Duration::from_secs(2);
    let engine = start_engine(&dir.store(), endpoint.port(), config).await;
    install_block(&engine, "block", "CountedBlock", None).await;
    endpoint.fail_next(1);
    alert(&engine, "block", "198.51.100.77").await;
    wait_tasks(
        &engine,
        "the first failure",
        Duration::from_secs(10),
        |tasks| {
            tasks.len() == 1
                && tasks[0].attempt_count == 1
                && tasks[0].status == TaskStatus::Waiting
        },
    )
    .await;
    engine
        .add_allow(
            AllowEntry {
                id: 0,
                kind: EntityKind::Ip,
                value: "198.51.100.77".into(),
                scope: Scope::Global,
                expires_at: None,
                reason: "partner scanner".into(),
                created_by: String::new(),
                created_at: Time::now(),
            },
            "alice",
        )
        .await
        .unwrap();
    let tasks = wait_tasks(&engine, "the refusal", Duration::from_secs(10), |tasks| {
        tasks[0].status.is_terminal()
    })
    .await;
    assert_eq!(tasks[0].status, TaskStatus::Failed);
    let message = &tasks[0].failure.as_ref().unwrap().message;
    assert!(
        message.contains("partner scanner") && message.contains("may have taken effect"),
        "{message}"
    );
    assert_eq!(endpoint.hits().len(), 1, "the retry was not sent");
    engine.stop();
}
