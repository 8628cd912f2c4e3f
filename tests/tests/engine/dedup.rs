//! The same alert twice, or ten at once, acts once.

use std::time::Duration;

use futures::future::join_all;
use riposte::model::TaskStatus;
use riposte::store::SignalKind;
use riposte_tests::endpoint::CountingEndpoint;
use riposte_tests::engine::{Scratch, install_block, start_engine, test_config};
use serde_json::json;

use super::{alert, all_in, wait_tasks};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_alert_delivered_twice_gives_one_policy_and_one_call() {
    let endpoint = CountingEndpoint::start().await;
    let dir = Scratch::new("twice");
    let engine = start_engine(&dir.store(), endpoint.port(), test_config()).await;
    install_block(&engine, "block", "CountedBlock", None).await;

    let first = alert(&engine, "block", "203.0.113.5").await;
    let second = alert(&engine, "block", "203.0.113.5").await;
    assert_eq!(first.delivery, "new");
    assert_eq!(second.delivery, "duplicate");
    assert_eq!(
        second.signal, first.signal,
        "the duplicate is recognised by its content"
    );
    assert!(second.opened.is_empty() && second.joined.is_empty());

    wait_tasks(&engine, "one block", Duration::from_secs(10), |t| {
        all_in(t, TaskStatus::Succeeded, 1)
    })
    .await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(endpoint.done("/block").len(), 1);
    engine.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_identical_alerts_at_once_give_one_policy_and_one_call_per_target() {
    let endpoint = CountingEndpoint::start().await;
    let dir = Scratch::new("ten");
    let engine = start_engine(&dir.store(), endpoint.port(), test_config()).await;
    install_block(&engine, "block", "CountedBlock", None).await;

    let reports = join_all((0..10).map(|_| alert(&engine, "block", "203.0.113.6"))).await;
    let opened: usize = reports.iter().map(|r| r.opened.len()).sum();
    assert_eq!(opened, 1, "{reports:?}");
    assert_eq!(reports.iter().filter(|r| r.delivery == "new").count(), 1);

    wait_tasks(&engine, "one block", Duration::from_secs(10), |t| {
        all_in(t, TaskStatus::Succeeded, 1)
    })
    .await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(endpoint.done("/block").len(), 1);
    engine.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn different_alerts_for_one_entity_join_its_policy_inside_the_window() {
    let endpoint = CountingEndpoint::start().await;
    let dir = Scratch::new("join");
    let engine = start_engine(&dir.store(), endpoint.port(), test_config()).await;
    install_block(&engine, "block", "CountedBlock", None).await;

    // Three spellings of one address, in three different alerts.
    let mut reports = Vec::new();
    for (n, ip) in ["203.0.113.7", "::ffff:203.0.113.7", "203.0.113.7"]
        .iter()
        .enumerate()
    {
        let data = json!({"kind": "block", "src_ip": ip, "flow_id": n});
        reports.push(
            engine
                .ingest(SignalKind::Alert, None, "test", data)
                .await
                .unwrap(),
        );
    }
    assert_eq!(reports[0].opened.len(), 1);
    let policy = reports[0].opened[0];
    assert_eq!(reports[1].joined, [policy]);
    assert_eq!(reports[2].joined, [policy]);
    let stored = engine.store().read(|r| r.policy(policy)).unwrap().unwrap();
    assert_eq!(stored.joined, 2);
    assert_eq!(stored.entity.value, "203.0.113.7");

    wait_tasks(&engine, "one block", Duration::from_secs(10), |t| {
        all_in(t, TaskStatus::Succeeded, 1)
    })
    .await;
    assert_eq!(endpoint.done("/block").len(), 1);
    engine.stop();
}
