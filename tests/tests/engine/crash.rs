//! The daemon killed with SIGKILL mid-work, as a real child process, and
//! started again on the same store.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use riposte::model::{RevertStatus, Task, TaskStatus};
use riposte::store::{Store, TaskFilter};
use riposte_tests::endpoint::CountingEndpoint;
use riposte_tests::engine::Scratch;

/// A running test daemon and what it printed.
struct Daemon {
    child: Child,
    lines: Arc<Mutex<Vec<String>>>,
}

impl Daemon {
    fn start(store: &Path, port: u16, block: &str, alerts: Option<&Path>, tz: &str) -> Self {
        let mut command = Command::new(env!("CARGO_BIN_EXE_riposte-test-daemon"));
        command
            .arg(store)
            .arg(port.to_string())
            .arg(block)
            .env("TZ", tz)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        if let Some(alerts) = alerts {
            command.arg(alerts);
        }
        let mut child = command.spawn().expect("the test daemon starts");
        let stdout = child.stdout.take().unwrap();
        let lines = Arc::new(Mutex::new(Vec::new()));
        let sink = lines.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                sink.lock().unwrap().push(line);
            }
        });
        Self { child, lines }
    }

    async fn wait_line(&self, what: &str, limit: Duration, check: impl Fn(&str) -> bool) {
        let start = Instant::now();
        loop {
            if self.lines.lock().unwrap().iter().any(|line| check(line)) {
                return;
            }
            assert!(start.elapsed() < limit, "timed out waiting for `{what}`");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// SIGKILL, and wait for the process to be gone.
    fn kill(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn tasks_in(store: &Path) -> Vec<Task> {
    let store = Store::open(store).unwrap();
    let mut tasks = Vec::new();
    let mut before = None;
    loop {
        let page = store
            .read(|r| r.list_tasks(&TaskFilter::default(), before, 500))
            .unwrap();
        tasks.extend(page.items);
        match page.next {
            Some(next) => before = Some(next),
            None => return tasks,
        }
    }
}

fn now_millis() -> i64 {
    i64::try_from(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_millis(),
    )
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sixty_second_block_killed_at_thirty_is_lifted_at_sixty_after_restart() {
    let endpoint = CountingEndpoint::start().await;
    let dir = Scratch::new("kill60");
    let alerts = dir.path().join("alerts.jsonl");
    std::fs::write(&alerts, r#"{"kind": "block", "src_ip": "203.0.113.60"}"#).unwrap();

    let daemon = Daemon::start(
        &dir.store(),
        endpoint.port(),
        "60s",
        Some(&alerts),
        "America/Los_Angeles",
    );
    endpoint
        .wait_for("the block", Duration::from_secs(30), |hits| {
            !hits.is_empty()
        })
        .await;
    let blocked_at = endpoint.done("/block")[0].at;
    let wall_at_block = now_millis();
    tokio::time::sleep_until((blocked_at + Duration::from_secs(30)).into()).await;
    daemon.kill();

    let daemon = Daemon::start(&dir.store(), endpoint.port(), "60s", None, "Asia/Shanghai");
    daemon
        .wait_line("ready", Duration::from_secs(30), |l| l == "ready")
        .await;
    endpoint
        .wait_for("the unblock", Duration::from_secs(45), |hits| {
            hits.iter().any(|h| h.path == "/unblock" && h.status == 200)
        })
        .await;
    // The endpoint answered; wait for the daemon to record it.
    daemon
        .wait_line("no timer left", Duration::from_secs(10), |l| {
            l.ends_with(" timers 0")
        })
        .await;
    let unblock = endpoint.done("/unblock")[0].clone();
    let held = unblock.at.duration_since(blocked_at);
    assert!(
        held >= Duration::from_secs(60) && held < Duration::from_secs(63),
        "the block was held for {held:?}"
    );
    daemon.kill();

    let tasks = tasks_in(&dir.store());
    assert_eq!(tasks.len(), 1);
    let task = &tasks[0];
    let revert = task.revert.as_ref().unwrap();
    assert_eq!(revert.status, RevertStatus::Unblocked);
    assert_eq!(revert.requested_by.as_deref(), Some("expiry"));
    assert_eq!(unblock.key, task.idempotency_key);
    // Times are UTC whatever TZ the daemons ran under.
    let ended = task.attempts[0].ended_at.unwrap().millis();
    assert!(
        (ended - wall_at_block).abs() < 5_000,
        "attempt end {ended} vs {wall_at_block}"
    );
    assert_eq!(task.expires_at.unwrap().millis() - ended, 60_000);
    assert!(task.expires_at.unwrap().to_string().ends_with('Z'));
    assert_eq!(
        endpoint.done("/block").len(),
        1,
        "the restart did not block again"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_overdue_block_is_lifted_at_once_after_restart() {
    let endpoint = CountingEndpoint::start().await;
    let dir = Scratch::new("overdue");
    let alerts = dir.path().join("alerts.jsonl");
    std::fs::write(&alerts, r#"{"kind": "block", "src_ip": "203.0.113.61"}"#).unwrap();

    let daemon = Daemon::start(
        &dir.store(),
        endpoint.port(),
        "3s",
        Some(&alerts),
        "Asia/Shanghai",
    );
    endpoint
        .wait_for("the block", Duration::from_secs(30), |hits| {
            !hits.is_empty()
        })
        .await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    daemon.kill();
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert!(
        endpoint.done("/unblock").is_empty(),
        "nobody lifted it while down"
    );

    let restarted = Instant::now();
    let daemon = Daemon::start(
        &dir.store(),
        endpoint.port(),
        "3s",
        None,
        "America/Los_Angeles",
    );
    endpoint
        .wait_for("the unblock", Duration::from_secs(30), |hits| {
            hits.iter().any(|h| h.path == "/unblock" && h.status == 200)
        })
        .await;
    let late = endpoint.done("/unblock")[0].at.duration_since(restarted);
    assert!(
        late < Duration::from_secs(10),
        "lifted {late:?} after the restart"
    );
    daemon
        .wait_line("no timer left", Duration::from_secs(10), |l| {
            l.ends_with(" timers 0")
        })
        .await;
    daemon.kill();
    let tasks = tasks_in(&dir.store());
    assert_eq!(
        tasks[0].revert.as_ref().unwrap().status,
        RevertStatus::Unblocked
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kill_during_a_thousand_tasks_loses_none_and_repeats_no_irreversible_action() {
    let endpoint = CountingEndpoint::start().await;
    endpoint.set_latency(Duration::from_millis(20));
    let dir = Scratch::new("thousand");
    let alerts = dir.path().join("alerts.jsonl");
    let mut lines = String::new();
    for n in 0..1000u32 {
        let kind = if n % 2 == 0 { "kill" } else { "block" };
        // Documentation addresses: never one of the test machine's own.
        let ip = format!("2001:db8::{n:x}");
        lines.push_str(&format!("{{\"kind\": \"{kind}\", \"src_ip\": \"{ip}\"}}\n"));
    }
    std::fs::write(&alerts, lines).unwrap();

    let daemon = Daemon::start(&dir.store(), endpoint.port(), "-", Some(&alerts), "UTC");
    endpoint
        .wait_for("300 calls", Duration::from_secs(120), |hits| {
            hits.len() >= 300
        })
        .await;
    daemon.kill();
    let calls_at_kill = endpoint.hits().len();

    // The sender redelivers the same file; seen alerts are duplicates.
    let daemon = Daemon::start(&dir.store(), endpoint.port(), "-", Some(&alerts), "UTC");
    daemon
        .wait_line("ingested", Duration::from_secs(120), |l| {
            l == "ingested 1000"
        })
        .await;
    daemon
        .wait_line("all terminal", Duration::from_secs(120), |l| {
            l.starts_with("open 0 ")
        })
        .await;
    daemon.kill();

    let tasks = tasks_in(&dir.store());
    assert_eq!(
        tasks.len(),
        1000,
        "one task per alert, none lost, none doubled"
    );
    assert!(tasks.iter().all(|t| t.status.is_terminal()));
    let mut calls: HashMap<String, usize> = HashMap::new();
    for hit in endpoint.hits() {
        *calls.entry(format!("{}{}", hit.path, hit.key)).or_default() += 1;
    }
    let mut interrupted = 0;
    for task in &tasks {
        match task.action.as_str() {
            "CountedKill" => {
                let n = calls
                    .get(&format!("/kill{}", task.idempotency_key))
                    .copied();
                assert!(n.unwrap_or(0) <= 1, "kill {} ran {n:?} times", task.id);
                match task.status {
                    TaskStatus::Succeeded => assert_eq!(n, Some(1)),
                    TaskStatus::Failed => {
                        let message = &task.failure.as_ref().unwrap().message;
                        assert!(message.starts_with("interrupted"), "{message}");
                        interrupted += 1;
                    }
                    other => panic!("kill task {} ended {other}", task.id),
                }
            }
            _ => {
                assert_eq!(task.status, TaskStatus::Succeeded, "block task {}", task.id);
                assert!(calls.contains_key(&format!("/block{}", task.idempotency_key)));
            }
        }
    }
    // With eight calls in flight at the kill, some attempt was cut short:
    // an interrupted kill ended `Failed`, or an interrupted block ran again.
    let cut_short = tasks
        .iter()
        .flat_map(|t| &t.attempts)
        .filter(|a| {
            a.failure
                .as_ref()
                .is_some_and(|f| f.message.starts_with("interrupted"))
        })
        .count();
    assert!(
        cut_short > 0,
        "the kill interrupted no attempt; the test proved nothing"
    );
    eprintln!(
        "calls before the kill: {calls_at_kill}; kills interrupted: {interrupted}; \
         attempts cut short: {cut_short}; calls in all: {}",
        endpoint.hits().len()
    );
}
