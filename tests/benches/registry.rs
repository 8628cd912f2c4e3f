//! Registry load driver:
//!
//! - file dropped into the watched directory -> version active, for each
//!   component given (the counter fixture by default; set
//!   `RIPOSTE_BENCH_COMPONENT` to a `.wasm` of the `fixture-counter` name
//!   with a newer version, or any component of another name, to time a
//!   larger one);
//! - opening the registry with N installed versions (default 30): cold
//!   (every artifact compiled) and warm (every artifact from the AOT
//!   cache), which is what a restart costs.
//!
//! Run: `cargo bench -p riposte-tests --bench registry`
//! (`RIPOSTE_BENCH_VERSIONS`, default 30; `RIPOSTE_BENCH_ROUNDS`, default 5).

use std::time::{Duration, Instant};

use riposte::registry::{Registry, RegistryConfig};
use riposte::store::{ComponentRecord, GrantSpec, Store};
use riposte_tests::api::{counter_preinstalled, start_with};
use riposte_tests::endpoint::CountingEndpoint;
use riposte_tests::engine::{Scratch, bench_config, env_or, test_runtime};
use riposte_tests::guests;
use sha2::{Digest, Sha256};

/// `wasm` with a custom section appended: the same code under another
/// digest, as a distinct installed version.
fn variant(wasm: &[u8], i: usize) -> Vec<u8> {
    let name = b"riposte-bench";
    let payload = format!("variant {i}");
    let mut body = vec![name.len() as u8];
    body.extend_from_slice(name);
    body.extend_from_slice(payload.as_bytes());
    let mut out = wasm.to_vec();
    out.push(0); // custom section
    out.push(body.len() as u8);
    out.extend_from_slice(&body);
    out
}

/// Time from a file renamed into the watched directory to its version
/// being active, `rounds` times (a fresh daemon each round).
async fn drop_to_active(wasm: &[u8], rounds: usize) -> Vec<Duration> {
    let mut samples = Vec::new();
    for _ in 0..rounds {
        let dir = Scratch::new("bench-registry-drop");
        let endpoint = CountingEndpoint::start().await;
        let daemon = start_with(
            &dir,
            bench_config(),
            counter_preinstalled(endpoint.port()),
            riposte::daemon::FileConfig::defaults(),
        )
        .await;
        let components = dir.path().join("data/components");
        let digest = hex::encode(Sha256::digest(wasm));
        std::fs::write(components.join(".drop.part"), wasm).unwrap();
        let start = Instant::now();
        std::fs::rename(components.join(".drop.part"), components.join("drop.wasm")).unwrap();
        loop {
            let active = daemon
                .registry
                .overview()
                .unwrap()
                .iter()
                .any(|view| view.active.as_deref() == Some(digest.as_str()));
            if active {
                break;
            }
            assert!(
                start.elapsed() < Duration::from_secs(300),
                "never became active"
            );
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        samples.push(start.elapsed());
        daemon.shutdown().await;
    }
    samples.sort();
    samples
}

/// Opens a registry holding `count` versions, twice: the first open
/// compiles every artifact, the second loads them from the cache.
async fn restart(count: usize) -> (Duration, Duration) {
    let dir = Scratch::new("bench-registry-restart");
    let base = riposte_tests::wasm(guests::FIXTURE_COUNTER);
    let config = RegistryConfig {
        watch_dir: None,
        ..RegistryConfig::in_data_dir(dir.path())
    };
    std::fs::create_dir_all(config.dir.join("blobs")).unwrap();
    let store_path = dir.path().join("riposte.redb");
    {
        let store = Store::open(&store_path).unwrap();
        for i in 0..count {
            let wasm = variant(&base, i);
            let digest = hex::encode(Sha256::digest(&wasm));
            std::fs::write(
                config.dir.join("blobs").join(format!("{digest}.wasm")),
                &wasm,
            )
            .unwrap();
            let record = ComponentRecord {
                digest,
                name: format!("bench-{i}"),
                version: "1.0.0".into(),
                size: wasm.len() as u64,
                actions: Vec::new(),
                requested: GrantSpec::default(),
                source: "bench".into(),
                installed_by: "bench".into(),
                installed_at: riposte::model::Time::now(),
                signed_by: None,
                awaiting_grant: false,
            };
            store
                .write(move |tx| tx.put_component(&record))
                .await
                .unwrap();
        }
    }
    let mut times = Vec::new();
    for _ in 0..2 {
        let store = Store::open(&store_path).unwrap();
        let start = Instant::now();
        let registry = Registry::open(config.clone(), store, test_runtime())
            .await
            .unwrap();
        times.push(start.elapsed());
        assert_eq!(registry.startup_loads().len(), count);
        drop(registry);
    }
    (times[0], times[1])
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let rounds = env_or("RIPOSTE_BENCH_ROUNDS", 5);
    let versions = env_or("RIPOSTE_BENCH_VERSIONS", 30);
    let (label, wasm) = match std::env::var("RIPOSTE_BENCH_COMPONENT") {
        Ok(path) => (path.clone(), std::fs::read(&path).unwrap()),
        Err(_) => (
            "fixture-counter 0.2.0 (Rust)".to_string(),
            riposte_tests::wasm(guests::FIXTURE_COUNTER_V2),
        ),
    };
    let samples = drop_to_active(&wasm, rounds).await;
    println!(
        "drop -> active, {label}, {} KiB: min {:?}, median {:?}, max {:?} ({rounds} rounds)",
        wasm.len() / 1024,
        samples[0],
        samples[samples.len() / 2],
        samples[samples.len() - 1]
    );
    let (cold, warm) = restart(versions).await;
    println!(
        "registry open with {versions} installed versions: cold {cold:?}, warm (AOT cache) {warm:?}"
    );
}
