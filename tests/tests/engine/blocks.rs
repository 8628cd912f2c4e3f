//! Blocks with durations: one task, one call and one timer per entity.

use std::time::Duration;

use futures::future::join_all;
use riposte::model::{RevertStatus, TaskStatus};
use riposte_tests::endpoint::CountingEndpoint;
use riposte_tests::engine::{Scratch, install_block, start_engine, test_config};

use super::{alert, all_in, wait_tasks};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_sources_in_one_second_give_fifty_blocks_with_independent_timers() {
    let endpoint = CountingEndpoint::start().await;
    let dir = Scratch::new("fifty");
    let engine = start_engine(&dir.store(), endpoint.port(), test_config()).await;
    install_block(&engine, "block", "CountedBlock", Some("1h")).await;

    let ips: Vec<String> = (1..=50).map(|n| format!("203.0.113.{n}")).collect();
    let reports = join_all(ips.iter().map(|ip| alert(&engine, "block", ip))).await;
    assert!(reports.iter().all(|r| r.opened.len() == 1 && r.tasks == 1));

    let tasks = wait_tasks(&engine, "50 blocks", Duration::from_secs(20), |tasks| {
        all_in(tasks, TaskStatus::Succeeded, 50)
    })
    .await;
    let blocks = endpoint.done("/block");
    assert_eq!(blocks.len(), 50, "one call per source");
    let mut values: Vec<_> = blocks.iter().map(|hit| hit.value.clone()).collect();
    values.sort();
    values.dedup();
    assert_eq!(values.len(), 50);
    let timers = engine
        .store()
        .read(|r| r.due_reverts(riposte::model::Time::from_millis(i64::MAX), 1000))
        .unwrap();
    assert_eq!(timers.len(), 50, "one revert timer per task");
    for task in &tasks {
        let expires = task.expires_at.expect("a timed block has an expiry");
        let ended = task.attempts.last().unwrap().ended_at.unwrap();
        assert_eq!(expires.millis() - ended.millis(), 3_600_000);
    }

    let first = tasks[0].id;
    engine.unblock(first, "alice").await.unwrap();
    let tasks = wait_tasks(&engine, "one unblock", Duration::from_secs(10), |tasks| {
        tasks
            .iter()
            .any(|t| t.id == first && t.revert.as_ref().unwrap().status == RevertStatus::Unblocked)
    })
    .await;
    let unblocked = tasks.iter().find(|t| t.id == first).unwrap();
    assert_eq!(
        unblocked.revert.as_ref().unwrap().requested_by.as_deref(),
        Some("alice")
    );
    let still: Vec<_> = tasks
        .iter()
        .filter(|t| t.revert.as_ref().unwrap().status == RevertStatus::Scheduled)
        .collect();
    assert_eq!(still.len(), 49, "the other 49 blocks stay in place");
    assert_eq!(endpoint.done("/unblock").len(), 1);
    let timers = engine
        .store()
        .read(|r| r.due_reverts(riposte::model::Time::from_millis(i64::MAX), 1000))
        .unwrap();
    assert_eq!(timers.len(), 49, "the unblocked task's timer is cancelled");
    let audit = engine.store().read(|r| r.audit(10)).unwrap();
    assert!(
        audit
            .iter()
            .any(|e| e.action == "task.unblock" && e.actor == "alice")
    );

    let err = engine
        .unblock(first, "alice")
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("already unblocked"), "{err}");
    engine.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_short_block_is_reverted_when_it_expires() {
    let endpoint = CountingEndpoint::start().await;
    let dir = Scratch::new("expiry");
    let engine = start_engine(&dir.store(), endpoint.port(), test_config()).await;
    install_block(&engine, "block", "CountedBlock", Some("2s")).await;
    alert(&engine, "block", "198.51.100.7").await;
    let tasks = wait_tasks(&engine, "the revert", Duration::from_secs(15), |tasks| {
        tasks.len() == 1
            && tasks[0]
                .revert
                .as_ref()
                .is_some_and(|r| r.status == RevertStatus::Unblocked)
    })
    .await;
    let revert = tasks[0].revert.as_ref().unwrap();
    let expires = tasks[0].expires_at.unwrap();
    let done = revert.done_at.unwrap();
    assert!(done >= expires, "reverted at {done}, due at {expires}");
    assert!(
        done.millis() - expires.millis() < 2_000,
        "late: {done} vs {expires}"
    );
    assert_eq!(revert.requested_by.as_deref(), Some("expiry"));
    let block = &endpoint.done("/block")[0];
    let unblock = &endpoint.done("/unblock")[0];
    assert_eq!(block.key, unblock.key, "the revert undoes the same task");
    let held = unblock.at.duration_since(block.at);
    assert!(held >= Duration::from_millis(1900), "held for {held:?}");
    engine.stop();
}

/// From the adversarial pass of issue 3 (it held): operators unblocking
/// thirty blocks at the moment they expire give one revert per block.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unblocks_racing_expiry_revert_each_block_once() {
    let endpoint = CountingEndpoint::start().await;
    let dir = Scratch::new("race");
    let engine = start_engine(&dir.store(), endpoint.port(), test_config()).await;
    install_block(&engine, "block", "CountedBlock", Some("2s")).await;
    for n in 1..=30 {
        alert(&engine, "block", &format!("203.0.113.{n}")).await;
    }
    let tasks = wait_tasks(&engine, "30 blocks", Duration::from_secs(10), |t| {
        all_in(t, TaskStatus::Succeeded, 30)
    })
    .await;
    endpoint.set_latency(Duration::from_millis(30));
    let expiry = tasks.iter().map(|t| t.expires_at.unwrap()).min().unwrap();
    let now = riposte::model::Time::now();
    tokio::time::sleep(expiry.until(now).saturating_sub(Duration::from_millis(20))).await;
    let unblocks = join_all(tasks.iter().map(|task| engine.unblock(task.id, "alice"))).await;
    assert!(unblocks.iter().any(Result::is_ok));
    wait_tasks(&engine, "all unblocked", Duration::from_secs(15), |t| {
        t.iter().all(|t| {
            t.revert
                .as_ref()
                .is_some_and(|r| r.status == RevertStatus::Unblocked)
        })
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut per_key = std::collections::HashMap::<String, usize>::new();
    for hit in endpoint.done("/unblock") {
        *per_key.entry(hit.key).or_default() += 1;
    }
    assert_eq!(per_key.len(), 30);
    assert!(per_key.values().all(|n| *n == 1), "{per_key:?}");
    assert_eq!(endpoint.done("/block").len(), 30);
    engine.stop();
}
