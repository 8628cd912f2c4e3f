//! Retries: throttling backs off within the rate limit; irreversible
//! actions are never repeated.

use std::time::{Duration, Instant};

use riposte::engine::Rate;
use riposte::model::TaskStatus;
use riposte::runtime::FailureKind;
use riposte_tests::endpoint::CountingEndpoint;
use riposte_tests::engine::{Scratch, install_block, start_engine, test_config};

use super::{alert, all_in, wait_tasks};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttled_calls_back_off_and_succeed_without_exceeding_the_rate_limit() {
    let endpoint = CountingEndpoint::start().await;
    let dir = Scratch::new("throttle");
    let mut config = test_config();
    config.rates.insert(
        "test".into(),
        Rate {
            per_second: 10.0,
            burst: 2,
        },
    );
    let engine = start_engine(&dir.store(), endpoint.port(), config).await;
    install_block(&engine, "block", "CountedBlock", None).await;
    endpoint.throttle_next(6);

    let started = Instant::now();
    for n in 1..=20 {
        alert(&engine, "block", &format!("203.0.113.{n}")).await;
    }
    let tasks = wait_tasks(&engine, "20 blocks", Duration::from_secs(30), |t| {
        all_in(t, TaskStatus::Succeeded, 20)
    })
    .await;

    let hits = endpoint.hits();
    assert_eq!(hits.iter().filter(|h| h.status == 429).count(), 6);
    assert_eq!(hits.iter().filter(|h| h.status == 200).count(), 20);
    let retried: Vec<_> = tasks.iter().filter(|t| t.attempt_count > 1).collect();
    assert!(!retried.is_empty());
    for task in &retried {
        let first = &task.attempts[0];
        assert_eq!(first.failure.as_ref().unwrap().kind, FailureKind::Throttled);
        let gap = task.attempts[1].started_at.millis() - first.ended_at.unwrap().millis();
        assert!(
            gap >= 90,
            "retry after {gap} ms; the endpoint asked for 100 ms"
        );
    }
    // 26 calls at 10/s with a burst of 2: no window of one second holds
    // more than burst + rate calls.
    let times: Vec<Instant> = hits.iter().map(|h| h.at).collect();
    for (i, start) in times.iter().enumerate() {
        let in_window = times[i..]
            .iter()
            .filter(|t| t.duration_since(*start) < Duration::from_secs(1))
            .count();
        assert!(in_window <= 12, "{in_window} calls within one second");
    }
    assert!(started.elapsed() >= Duration::from_millis(2_200));
    engine.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unavailable_endpoint_is_retried_then_the_task_fails_with_its_history() {
    let endpoint = CountingEndpoint::start().await;
    let dir = Scratch::new("exhaust");
    let mut config = test_config();
    config.backoff.max_attempts = 3;
    let engine = start_engine(&dir.store(), endpoint.port(), config).await;
    install_block(&engine, "block", "CountedBlock", None).await;
    endpoint.fail_next(100);

    alert(&engine, "block", "203.0.113.9").await;
    let tasks = wait_tasks(&engine, "a failure", Duration::from_secs(10), |t| {
        all_in(t, TaskStatus::Failed, 1)
    })
    .await;
    let task = &tasks[0];
    assert_eq!(task.attempt_count, 3);
    assert_eq!(task.attempts.len(), 3);
    assert_eq!(
        task.failure.as_ref().unwrap().kind,
        FailureKind::Unreachable
    );
    assert!(task.attempts.iter().all(|a| a.ended_at.is_some()));
    assert_eq!(endpoint.hits().len(), 3);

    // An operator retries it once the endpoint is back.
    endpoint.fail_next(0);
    engine.retry(task.id, "bob").await.unwrap();
    let tasks = wait_tasks(&engine, "the manual retry", Duration::from_secs(10), |t| {
        all_in(t, TaskStatus::Succeeded, 1)
    })
    .await;
    assert_eq!(tasks[0].attempt_count, 4);
    let keys: Vec<_> = endpoint.hits().iter().map(|h| h.key.clone()).collect();
    assert!(
        keys.iter().all(|k| *k == keys[0]),
        "every attempt carries one key"
    );
    let err = engine.retry(task.id, "bob").await.unwrap_err().to_string();
    assert!(err.contains("only a `Failed` task can be retried"), "{err}");
    engine.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn irreversible_actions_are_never_retried_automatically_or_by_hand() {
    let endpoint = CountingEndpoint::start().await;
    let dir = Scratch::new("kill");
    let engine = start_engine(&dir.store(), endpoint.port(), test_config()).await;
    install_block(&engine, "kill", "CountedKill", None).await;
    endpoint.fail_next(1);

    alert(&engine, "kill", "203.0.113.10").await;
    let tasks = wait_tasks(&engine, "a failure", Duration::from_secs(10), |t| {
        all_in(t, TaskStatus::Failed, 1)
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(endpoint.hits().len(), 1, "a failed kill is not repeated");
    assert_eq!(tasks[0].attempt_count, 1);

    let err = engine
        .retry(tasks[0].id, "bob")
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("irreversible"), "{err}");
    let err = engine
        .unblock(tasks[0].id, "bob")
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("cannot be reverted"), "{err}");
    assert_eq!(endpoint.hits().len(), 1);
    engine.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_to_one_target_never_exceed_its_concurrency_bound() {
    let endpoint = CountingEndpoint::start().await;
    endpoint.set_latency(Duration::from_millis(300));
    let dir = Scratch::new("bound");
    let mut config = test_config();
    config.target_concurrency = 2;
    let engine = start_engine(&dir.store(), endpoint.port(), config).await;
    install_block(&engine, "block", "CountedBlock", None).await;
    let ips: Vec<String> = (1..=8).map(|n| format!("203.0.113.{n}")).collect();
    futures::future::join_all(ips.iter().map(|ip| alert(&engine, "block", ip))).await;
    wait_tasks(&engine, "8 blocks", Duration::from_secs(20), |t| {
        all_in(t, TaskStatus::Succeeded, 8)
    })
    .await;
    assert_eq!(
        endpoint.max_in_flight(),
        2,
        "at most two calls at once, and both slots used"
    );
    engine.stop();
}
