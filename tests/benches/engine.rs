//! Engine load driver: alerts in, tasks out against a loopback endpoint
//! that answers after 1 ms, with durable (fsync) commits. Measures
//! sustained tasks per second, the delay from an accepted alert to its
//! first provider request at a steady 200 alerts/s, and how long opening
//! a store of 1,000,000 tasks takes. Prints a Markdown table for
//! BENCHMARKS.md.
//!
//! Run: `cargo bench -p riposte-tests --bench engine`
//! (`RIPOSTE_BENCH_TASKS`, default 10000; `RIPOSTE_BENCH_STORE_TASKS`,
//! default 1000000; `RIPOSTE_BENCH_ONLY=latency` repeats the latency series
//! three times and stops).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use riposte::engine::Engine;
use riposte::model::Time;
use riposte::store::{SignalKind, Store};
use riposte_tests::bulk::ip;
use riposte_tests::endpoint::CountingEndpoint;
use riposte_tests::engine::{Scratch, bench_config, env_or, install_block, start_engine_quiet};
use serde_json::json;

async fn open_tasks(engine: &Engine) -> usize {
    engine
        .store()
        .read(|r| {
            Ok(r.task_ids_with("status=Waiting")?.len()
                + r.task_ids_with("status=Executing")?.len())
        })
        .unwrap()
}

async fn throughput(count: usize) -> (f64, Duration) {
    let endpoint = CountingEndpoint::start().await;
    endpoint.set_latency(Duration::from_millis(1));
    let dir = Scratch::new("bench-throughput");
    let engine = start_engine_quiet(&dir.store(), endpoint.port(), bench_config()).await;
    install_block(&engine, "block", "CountedBlock", None).await;

    let start = Instant::now();
    let producers = 64;
    let mut handles = Vec::new();
    for p in 0..producers {
        let engine = engine.clone();
        handles.push(tokio::spawn(async move {
            for n in (p..count).step_by(producers) {
                let data = json!({"kind": "block", "src_ip": ip(n)});
                engine
                    .ingest(SignalKind::Alert, None, "bench", data)
                    .await
                    .unwrap();
            }
        }));
    }
    for handle in handles {
        handle.await.unwrap();
    }
    let ingested = start.elapsed();
    while open_tasks(&engine).await > 0 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let elapsed = start.elapsed();
    let done = endpoint.done("/block").len();
    if done != count {
        let failed = engine
            .store()
            .read(|r| {
                r.list_tasks(
                    &riposte::store::TaskFilter {
                        status: Some("Failed".into()),
                        ..Default::default()
                    },
                    None,
                    3,
                )
            })
            .unwrap();
        panic!(
            "{done} of {count} tasks made their call; failures: {:#?}",
            failed.items.iter().map(|t| &t.failure).collect::<Vec<_>>()
        );
    }
    engine.stop();
    (count as f64 / elapsed.as_secs_f64(), ingested)
}

async fn latency(rate: usize, seconds: usize) -> (Duration, Duration, Duration) {
    let endpoint = CountingEndpoint::start().await;
    endpoint.set_latency(Duration::from_millis(1));
    let dir = Scratch::new("bench-latency");
    let engine = start_engine_quiet(&dir.store(), endpoint.port(), bench_config()).await;
    install_block(&engine, "block", "CountedBlock", None).await;

    let accepted: Arc<Mutex<HashMap<String, Instant>>> = Arc::default();
    let count = rate * seconds;
    let period = Duration::from_secs_f64(1.0 / rate as f64);
    let start = Instant::now();
    let mut handles = Vec::new();
    for n in 0..count {
        tokio::time::sleep_until((start + period * n as u32).into()).await;
        let (engine, accepted) = (engine.clone(), accepted.clone());
        handles.push(tokio::spawn(async move {
            let value = ip(n);
            let at = Instant::now();
            let data = json!({"kind": "block", "src_ip": value});
            engine
                .ingest(SignalKind::Alert, None, "bench", data)
                .await
                .unwrap();
            accepted.lock().unwrap().insert(value, at);
        }));
    }
    for handle in handles {
        handle.await.unwrap();
    }
    while open_tasks(&engine).await > 0 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let accepted = accepted.lock().unwrap();
    let mut delays: Vec<Duration> = endpoint
        .hits()
        .iter()
        .map(|hit| hit.at.duration_since(accepted[&hit.value]))
        .collect();
    delays.sort();
    let at = |p: f64| delays[((delays.len() - 1) as f64 * p).round() as usize];
    engine.stop();
    (at(0.5), at(0.99), at(1.0))
}

fn main() {
    if let Some(path) = std::env::var_os("RIPOSTE_BENCH_FILL") {
        riposte_tests::bulk::fill_store(
            std::path::Path::new(&path),
            env_or("RIPOSTE_BENCH_STORE_TASKS", 1_000_000),
        );
        // Exit without closing the store, as a crash would.
        std::process::exit(0);
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let count = env_or("RIPOSTE_BENCH_TASKS", 10_000);
    let stored = env_or("RIPOSTE_BENCH_STORE_TASKS", 1_000_000);

    if std::env::var("RIPOSTE_BENCH_ONLY").as_deref() == Ok("latency") {
        for _ in 0..3 {
            let (p50, p99, max) = runtime.block_on(latency(200, 10));
            eprintln!("latency at 200 alerts/s: p50 {p50:?} p99 {p99:?} max {max:?}");
        }
        return;
    }
    let (rate, ingested) = runtime.block_on(throughput(count));
    eprintln!("throughput: {rate:.0} tasks/s ({count} alerts ingested in {ingested:?})");
    let (p50, p99, max) = runtime.block_on(latency(200, 10));
    eprintln!("latency at 200 alerts/s: p50 {p50:?} p99 {p99:?} max {max:?}");

    // Filled by a child that exits without closing the store, as a crash
    // would leave it: the first open repairs (quick repair), the next ones
    // open a clean file.
    let dir = Scratch::new("bench-open");
    let fill_start = Instant::now();
    let status = std::process::Command::new(std::env::current_exe().unwrap())
        .env("RIPOSTE_BENCH_FILL", dir.store())
        .env("RIPOSTE_BENCH_STORE_TASKS", stored.to_string())
        .status()
        .unwrap();
    assert!(status.success());
    let fill = fill_start.elapsed();
    let size = std::fs::metadata(dir.store()).unwrap().len();
    let crashed_start = Instant::now();
    drop(Store::open(dir.store()).unwrap());
    let crashed = crashed_start.elapsed();
    eprintln!("open after a crash (quick repair): {crashed:?}");
    let mut opens = Vec::new();
    for _ in 0..3 {
        let start = Instant::now();
        let store = Store::open(dir.store()).unwrap();
        let executing = store.read(|r| r.task_ids_with("status=Executing")).unwrap();
        let due = store.read(|r| r.due_reverts(Time::now(), 10_000)).unwrap();
        opens.push(start.elapsed());
        assert!(executing.is_empty() && due.is_empty());
        drop(store);
    }
    opens.sort();
    eprintln!(
        "store of {stored} tasks ({:.0} MiB, filled in {fill:?}): \
         open + recovery scan {:?} (best of 3), {:?} (worst)",
        size as f64 / 1048576.0,
        opens[0],
        opens[2]
    );

    println!("| measure | figure |");
    println!("| --- | --- |");
    println!("| sustained throughput, {count} alerts, 1 ms endpoint | {rate:.0} tasks/s |");
    println!(
        "| alert accepted -> first provider request at 200 alerts/s \
         | p50 {p50:.1?}, p99 {p99:.1?}, max {max:.1?} |"
    );
    println!(
        "| open a store of {stored} tasks + recovery scan | {:.1?} (best of 3), {:.1?} (worst) |",
        opens[0], opens[2]
    );
    println!("| open the same store after a crash (quick repair) | {crashed:.1?} |");
}
