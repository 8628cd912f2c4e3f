//! The same kind of action in Rust, Python and JavaScript: compile time,
//! cached load time, and per-call cost and memory.
//!
//! Each component posts one request to a recording endpoint on loopback
//! per `execute` (the Rust counter fixture, the Python `webhook-notify`,
//! the JavaScript `webhook-signed`, which also has the host compute an
//! HMAC), so a call includes instantiation, the guest's own work, one
//! HTTP exchange on loopback and the checks on the way out.
//!
//! - compile: `Runtime::precompile` (a throwaway engine, as the registry
//!   compiles), once per component;
//! - cached load: deserializing that artifact into the runtime engine, then
//!   linking and `describe` (what a restart with a warm AOT cache does),
//!   median of 5;
//! - calls: `RIPOSTE_BENCH_CALLS` (default 300) sequential `execute`
//!   calls after 20 warm-up calls, p50 and p99, and the largest linear
//!   memory one call used.
//!
//! Run: `cargo bench -p riposte-tests --bench languages`

use std::net::IpAddr;
use std::time::{Duration, Instant};

use riposte::conformance::RecordingEndpoint;
use riposte::runtime::{Grant, RuntimeConfig};
use riposte_tests::engine::env_or;
use riposte_tests::{foreign, guests, loopback_runtime, request, secrets, wasm};
use wasmtime::component::Component;

struct Subject {
    label: &'static str,
    wasm: Vec<u8>,
    action: &'static str,
    credential: Option<&'static str>,
}

fn percentile(sorted: &[Duration], q: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * q).round() as usize]
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let calls = env_or("RIPOSTE_BENCH_CALLS", 300);
    let subjects = [
        Subject {
            label: "Rust (fixture-counter)",
            wasm: wasm(guests::FIXTURE_COUNTER),
            action: "CountedBlock",
            credential: None,
        },
        Subject {
            label: "Python (webhook-notify)",
            wasm: foreign(guests::WEBHOOK_NOTIFY_PY),
            action: "NotifyWebhook",
            credential: None,
        },
        Subject {
            label: "JavaScript (webhook-signed)",
            wasm: foreign(guests::WEBHOOK_SIGNED_JS),
            action: "NotifySignedWebhook",
            credential: Some("hook-key"),
        },
    ];
    let receiver = RecordingEndpoint::start().await.unwrap();
    let (runtime, _) = loopback_runtime(
        RuntimeConfig::default(),
        &[] as &[(&str, &[IpAddr])],
        secrets(&[("hook-key", "key-1", "bench-secret-value")]),
    );
    let grant = Grant {
        hosts: vec![format!("http://{}", receiver.addr()).parse().unwrap()],
        secrets: vec!["hook-key".into()],
    };
    println!(
        "{:<28} {:>9} {:>10} {:>11} {:>9} {:>9} {:>11}",
        "component", "size KiB", "compile", "cached load", "call p50", "call p99", "memory MiB"
    );
    for subject in subjects {
        let started = Instant::now();
        let artifact = runtime.precompile(&subject.wasm).unwrap();
        let compile = started.elapsed();
        let mut loads = Vec::new();
        let mut loaded = None;
        for _ in 0..5 {
            let started = Instant::now();
            // SAFETY: the artifact was just made by `precompile` for this
            // runtime's engine.
            let component = unsafe { Component::deserialize(runtime.engine(), &artifact) }.unwrap();
            let linked = runtime.link(component, "bench".into()).await.unwrap();
            loads.push(started.elapsed());
            loaded = Some(linked);
        }
        loads.sort();
        let component = loaded.unwrap();

        let mut samples = Vec::with_capacity(calls);
        let mut memory = 0;
        for i in 0..calls + 20 {
            let mut call = request(subject.action, &format!("198.51.100.{}", i % 250), &[]);
            call.target.endpoint = receiver.url();
            call.target.credential = subject.credential.map(String::from);
            let report = runtime.execute(&component, &grant, call, None).await;
            if let Err(failure) = &report.result {
                panic!("{}: {failure:?}", subject.label);
            }
            if i >= 20 {
                samples.push(report.elapsed);
                memory = memory.max(report.memory_bytes);
            }
        }
        samples.sort();
        println!(
            "{:<28} {:>9} {:>10.2?} {:>11.2?} {:>9.2?} {:>9.2?} {:>11.1}",
            subject.label,
            subject.wasm.len() / 1024,
            compile,
            loads[loads.len() / 2],
            percentile(&samples, 0.5),
            percentile(&samples, 0.99),
            memory as f64 / (1024.0 * 1024.0)
        );
    }
}
