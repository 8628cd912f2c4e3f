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
