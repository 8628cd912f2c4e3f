//! Endpoint agent load driver: the round trip of a kill-process action,
//! from the host starting the task (instantiate the endpoint component,
//! sign, send through the gate) to the agent's reply (pid checked against
//! its start time and executable, SIGTERM, exit seen on the pidfd,
//! audited), on loopback. Prints a Markdown table for BENCHMARKS.md.
//!
//! Each call kills a fresh `sleep` child started (untimed) just before it.
//!
//! Run: `cargo bench -p riposte-tests --bench endpoint`
//! (set `RIPOSTE_BENCH_ITERS` to change the number of kills, default 300).

use std::net::IpAddr;
use std::process::Command;
use std::time::{Duration, Instant};

use riposte::agent::config::{AgentConfig, Capability};
use riposte::agent::process::ProcessInfo;
use riposte::agent::server::start_on;
use riposte::runtime::{Grant, RuntimeConfig, wit};
use riposte_tests::engine::Scratch;
use riposte_tests::{guests, loopback_runtime, request, secrets, wasm};

const KEY_ID: &str = "bench-agent";
const SECRET: &str = "bench-agent-secret-0123456789abcdef0123";

fn main() {
    let iterations: usize = std::env::var("RIPOSTE_BENCH_ITERS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(300);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(run(iterations));
}

async fn run(iterations: usize) {
    let scratch = Scratch::new("bench-endpoint");
    let mut config = AgentConfig::new(scratch.path().join("agent"));
    config.key_id = KEY_ID.into();
    config.allow = [Capability::Kill].into_iter().collect();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let agent = start_on(config, SECRET.as_bytes().to_vec(), listener)
        .await
        .unwrap();
    let port = agent.addr().port();
    let names: &[(&str, &[IpAddr])] = &[("agent.bench", &[IpAddr::from([127, 0, 0, 1])])];
    let store = secrets(&[("agent", KEY_ID, SECRET)]);
    let (runtime, _) = loopback_runtime(RuntimeConfig::default(), names, store);
    let component = runtime.load(wasm(guests::ENDPOINT)).await.unwrap();
    let endpoint = format!("http://agent.bench:{port}");
    let grant = Grant {
        hosts: vec![
            endpoint.parse().unwrap(),
            format!("http://127.0.0.1:{port}").parse().unwrap(),
        ],
        secrets: vec!["agent".into()],
    };

    let mut samples = Vec::with_capacity(iterations);
    let warmup = 10;
    for i in 0..iterations + warmup {
        let mut child = Command::new("sleep").arg("60").spawn().unwrap();
        let pid = child.id();
        let info = ProcessInfo::read(pid).unwrap();
        let mut call = request("AegisKillProcess", "0.0.0.0", &[]);
        call.entity.kind = wit::EntityKind::Process;
        call.entity.value = pid.to_string();
        call.entity.attributes = vec![
            ("start-time".into(), format!("{:.2}", info.start_seconds())),
            ("exe".into(), info.exe.unwrap().display().to_string()),
        ];
        call.idempotency_key = format!("bench-{i}");
        call.target.provider = "agent".into();
        call.target.endpoint = endpoint.clone();
        call.target.credential = Some("agent".into());

        let started = Instant::now();
        let report = runtime.execute(&component, &grant, call, None).await;
        let elapsed = started.elapsed();
        let outcome = report.result.expect("the kill succeeds");
        assert!(outcome.changed, "{}", outcome.detail);
        child.wait().unwrap();
        if i >= warmup {
            samples.push(elapsed);
        }
    }
    samples.sort();
    let pick = |q: f64| samples[((samples.len() as f64 - 1.0) * q).round() as usize];
    let ms = |d: Duration| format!("{:.2} ms", d.as_secs_f64() * 1000.0);
    println!("| measurement | kills | min | median | p90 | p99 | max |");
    println!("|---|---|---|---|---|---|---|");
    println!(
        "| AegisKillProcess, task start to agent reply | {} | {} | {} | {} | {} | {} |",
        samples.len(),
        ms(samples[0]),
        ms(pick(0.5)),
        ms(pick(0.9)),
        ms(pick(0.99)),
        ms(samples[samples.len() - 1])
    );
    agent.stop().await;
}
