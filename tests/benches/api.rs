//! API load driver, over real HTTP on loopback with durable commits:
//!
//! - filtered task pages over a store of 1,000,000 tasks (p50, p99 of 200
//!   requests per query);
//! - alert ingestion: JSON-lines batches of 1,000 alerts, and single-alert
//!   requests from 32 concurrent clients, with no rule matching (the
//!   ingestion path itself) and with a rule opening a policy and a task
//!   for every alert.
//!
//! Run: `cargo bench -p riposte-tests --bench api`
//! (`RIPOSTE_BENCH_STORE_TASKS`, default 1000000; `RIPOSTE_BENCH_ALERTS`,
//! default 20000).

use std::time::{Duration, Instant};

use riposte_tests::api::{Client, TestDaemon, block_script, start_on};
use riposte_tests::bulk::{fill_store, ip};
use riposte_tests::endpoint::CountingEndpoint;
use riposte_tests::engine::{Scratch, bench_config, env_or};
use serde_json::json;

fn percentile(sorted: &[Duration], q: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * q).round() as usize]
}

async fn admin_of(dir: &Scratch) -> String {
    let path = dir.path().join("data").join("admin.token");
    std::fs::read_to_string(path).unwrap().trim().to_string()
}

/// p50 and p99 of `rounds` requests to `path`, and the items on a page.
async fn time_query(client: &Client, path: &str, rounds: usize) -> (Duration, Duration, usize) {
    let mut samples = Vec::with_capacity(rounds);
    let mut items = 0;
    for _ in 0..rounds {
        let start = Instant::now();
        let reply = client.get(path).await;
        samples.push(start.elapsed());
        assert_eq!(reply.status, 200, "{path}: {}", reply.text);
        items = reply.json["items"].as_array().unwrap().len();
    }
    samples.sort();
    (percentile(&samples, 0.5), percentile(&samples, 0.99), items)
}

async fn list_bench(stored: usize) -> Vec<(String, Duration, Duration, usize)> {
    let dir = Scratch::new("bench-api-list");
    std::fs::create_dir_all(dir.path().join("data")).unwrap();
    let store = dir.path().join("data").join(riposte::daemon::STORE_FILE);
    // Filled by a child process, which leaves the store as a crash would;
    // the daemon's open repairs it.
    let fill = Instant::now();
    let status = std::process::Command::new(std::env::current_exe().unwrap())
        .env("RIPOSTE_BENCH_FILL", &store)
        .env("RIPOSTE_BENCH_STORE_TASKS", stored.to_string())
        .status()
        .unwrap();
    assert!(status.success());
    eprintln!("filled {stored} tasks in {:?}", fill.elapsed());
    let endpoint = CountingEndpoint::start().await;
    let daemon = start_on(&dir, endpoint.port(), bench_config()).await;
    let client = Client {
        addr: daemon.addr,
        token: Some(admin_of(&dir).await),
    };
    let middle = stored / 2;
    let queries = [
        "/v1/tasks?limit=50".to_string(),
        "/v1/tasks?status=Failed&limit=50".to_string(),
        "/v1/tasks?target=edge-2&limit=50".to_string(),
        "/v1/tasks?status=Failed&target=edge-2&limit=50".to_string(),
        format!("/v1/tasks?entity_kind=ip&entity={}", ip(middle)),
        "/v1/tasks?action=CountedBlock&entity_kind=ip&limit=50".to_string(),
        format!("/v1/tasks?status=Succeeded&limit=50&before={middle}"),
        "/v1/policies?status=Succeeded&limit=50".to_string(),
    ];
    let mut out = Vec::new();
    for query in queries {
        let (p50, p99, items) = time_query(&client, &query, 200).await;
        eprintln!("{query}: p50 {p50:?} p99 {p99:?} ({items} items)");
        out.push((query, p50, p99, items));
    }
    daemon.shutdown().await;
    out
}

fn eve(n: usize) -> String {
    json!({
        "timestamp": "2026-12-04T10:00:00.000000+0000",
        "event_type": "alert",
        "src_ip": ip(n),
        "dest_ip": "192.0.2.10",
        "proto": "TCP",
        "alert": {"signature_id": 2001219, "signature": "ET SCAN bench", "severity": 2}
    })
    .to_string()
}

async fn install_rule(admin: &Client, port: u16) {
    let target = json!({"provider": "test", "endpoint": format!("http://127.0.0.1:{port}")});
    assert_eq!(admin.put("/v1/targets/edge", target).await.status, 200);
    let script = block_script("block", "CountedBlock", "edge", None);
    let reply = admin.yaml("POST", "/v1/scripts", &script).await;
    assert_eq!(reply.status, 201, "{}", reply.text);
    let rule = json!({"trigger": "alert", "script": "block"});
    assert_eq!(admin.put("/v1/rules/block", rule).await.status, 200);
}

/// Alerts per second through `/v1/alerts/batch` in batches of 1,000.
async fn batches(admin: &Client, first: usize, count: usize) -> f64 {
    let start = Instant::now();
    for batch in (first..first + count).step_by(1000) {
        let body: Vec<String> = (batch..(batch + 1000).min(first + count))
            .map(eve)
            .collect();
        let reply = admin
            .send(
                "POST",
                "/v1/alerts/batch?format=suricata-eve",
                Some(body.join("\n")),
                &[("content-type", "application/x-ndjson")],
            )
            .await;
        assert_eq!(reply.status, 200, "{}", reply.text);
        assert_eq!(reply.json["failed"], 0, "{}", reply.text);
    }
    count as f64 / start.elapsed().as_secs_f64()
}

/// Alerts per second as single requests from `clients` concurrent clients.
async fn singles(admin: &Client, first: usize, count: usize, clients: usize) -> f64 {
    let start = Instant::now();
    let mut running = tokio::task::JoinSet::new();
    for c in 0..clients {
        let admin = admin.clone();
        running.spawn(async move {
            let mut n = first + c;
            while n < first + count {
                let reply = admin
                    .send("POST", "/v1/alerts?format=suricata-eve", Some(eve(n)), &[])
                    .await;
                assert_eq!(reply.status, 202, "{}", reply.text);
                n += clients;
            }
        });
    }
    while let Some(done) = running.join_next().await {
        done.unwrap();
    }
    count as f64 / start.elapsed().as_secs_f64()
}

async fn ingest_bench(alerts: usize) -> [(String, f64); 4] {
    let daemon = TestDaemon::start(bench_config()).await;
    daemon.endpoint.set_latency(Duration::from_millis(1));
    let admin = daemon.admin();
    let plain_batches = batches(&admin, 0, alerts).await;
    let plain_singles = singles(&admin, alerts, alerts / 4, 32).await;
    install_rule(&admin, daemon.endpoint.port()).await;
    let ruled_batches = batches(&admin, 2 * alerts, alerts).await;
    let ruled_singles = singles(&admin, 3 * alerts, alerts / 4, 32).await;
    [
        (
            "JSON-lines batches of 1,000, no rule matching".into(),
            plain_batches,
        ),
        (
            "single requests, 32 clients, no rule matching".into(),
            plain_singles,
        ),
        (
            "JSON-lines batches of 1,000, a rule opening a policy and task each".into(),
            ruled_batches,
        ),
        (
            "single requests, 32 clients, a rule opening a policy and task each".into(),
            ruled_singles,
        ),
    ]
}

fn main() {
    if let Some(path) = std::env::var_os("RIPOSTE_BENCH_FILL") {
        fill_store(
            std::path::Path::new(&path),
            env_or("RIPOSTE_BENCH_STORE_TASKS", 1_000_000),
        );
        std::process::exit(0);
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let stored = env_or("RIPOSTE_BENCH_STORE_TASKS", 1_000_000);
    let alerts = env_or("RIPOSTE_BENCH_ALERTS", 20_000);
    let ingest = runtime.block_on(ingest_bench(alerts));
    for (what, rate) in &ingest {
        eprintln!("ingest, {what}: {rate:.0} alerts/s");
    }
    let lists = runtime.block_on(list_bench(stored));
    println!("| measure | figure |");
    println!("| --- | --- |");
    for (what, rate) in &ingest {
        println!("| ingest over HTTP, {what} | {rate:.0} alerts/s |");
    }
    for (query, p50, p99, items) in &lists {
        println!(
            "| `GET {query}` over {stored} tasks ({items} items) | p50 {p50:.2?}, p99 {p99:.2?} |"
        );
    }
}
