//! End-to-end load driver: Suricata alerts in through the daemon's HTTP
//! API, a response rule and a block script, the bundled `aliyun-waf`
//! component in the sandbox, signed requests out to the provider
//! simulator, all on loopback in one process. Prints a Markdown table for
//! BENCHMARKS.md.
//!
//! - Throughput: `RIPOSTE_BENCH_ALERTS` (default 2,000) alerts with
//!   distinct source addresses, in JSON-lines batches of 100 from 4
//!   clients; alerts/s in is alerts over the time until the last batch is
//!   accepted, tasks/s out is tasks over the time until the last task has
//!   succeeded (each one a WAF rule on the simulator, checked).
//! - Latency: 300 alerts sent one at a time, 50 ms apart; for each, the
//!   time from sending the HTTP request to the simulator finishing the
//!   component's first request (the `DescribeDefenseRules` lookup).
//! - Peak RSS: `VmHWM` of the process (daemon, simulator and driver
//!   together) at the end.
//!
//! Run: `cargo bench -p riposte-tests --bench e2e`

use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use riposte::daemon::{Daemon, DaemonConfig, Preinstalled};
use riposte::runtime::gate::{LoopbackOnlyConnector, Network, StaticResolver};
use riposte::runtime::secrets::SecretStore;
use riposte::runtime::{Runtime, RuntimeConfig};
use riposte::store::GrantSpec;
use riposte_simulator::{Simulator, SimulatorConfig};
use riposte_tests::api::Client;
use riposte_tests::engine::{Scratch, bench_config};
use serde_json::json;

const WAF_HOST: &str = "wafopenapi.cn-hangzhou.aliyuncs.com";
const INSTANCE: &str = "waf_v3_bench";
const TEMPLATE: u64 = 7001;
const KEY_ID: &str = "LTAI5tE2eBenchKey";
const SECRET: &str = "e2e-bench-secret";

fn main() {
    let alerts: usize = std::env::var("RIPOSTE_BENCH_ALERTS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(2_000);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(run(alerts));
}

fn eve(ip: &str, n: usize) -> String {
    json!({
        "timestamp": "2026-12-05T04:00:00.000000+0000",
        "event_type": "alert",
        "src_ip": ip,
        "src_port": 40000 + (n % 20000),
        "dest_ip": "10.0.0.5",
        "dest_port": 443,
        "proto": "TCP",
        "flow_id": n,
        "alert": {"signature": "ET SCAN bench", "signature_id": 2_000_000 + n, "severity": 1}
    })
    .to_string()
}

/// Distinct addresses in 100.64.0.0/10, none allowlisted.
fn address(n: usize) -> String {
    let n = n + 1;
    format!("100.{}.{}.{}", 64 + (n >> 16) % 64, (n >> 8) & 255, n & 255)
}

async fn run(alerts: usize) {
    let mut config = SimulatorConfig::default()
        .with_credential(KEY_ID, SECRET)
        .with_waf_template(INSTANCE, TEMPLATE);
    config.waf_rule_quota = alerts + 1_000;
    let simulator = Simulator::start(config).unwrap();
    let port = simulator.addr().port();

    let resolver = StaticResolver::new().with(WAF_HOST, &[IpAddr::from([127, 0, 0, 1])]);
    let network = Network::new(Arc::new(resolver), Arc::new(LoopbackOnlyConnector::new()));
    let runtime = Runtime::new(
        RuntimeConfig {
            max_concurrent_calls: 64,
            ..RuntimeConfig::default()
        },
        network,
        SecretStore::new(),
    )
    .unwrap();
    let scratch = Scratch::new("bench-e2e");
    let daemon = Daemon::start(
        DaemonConfig {
            data_dir: scratch.path().join("data"),
            listen: "127.0.0.1:0".parse().unwrap(),
            engine: bench_config(),
            preinstalled: vec![Preinstalled {
                wasm: riposte::bundled::ALIYUN_WAF.to_vec(),
                extra: GrantSpec {
                    hosts: vec![
                        format!("http://{WAF_HOST}:{port}"),
                        format!("http://127.0.0.1:{port}"),
                    ],
                    secrets: vec!["target:*".into()],
                },
            }],
            signatures: Default::default(),
            watch_components: false,
            declared_grants: Vec::new(),
        },
        Arc::new(runtime),
    )
    .await
    .unwrap();
    let token = std::fs::read_to_string(daemon.admin_token_file.clone().unwrap()).unwrap();
    let admin = Client {
        addr: daemon.addr,
        token: Some(token.trim().to_owned()),
    };
    let reply = admin
        .put(
            "/v1/targets/waf",
            json!({
                "provider": "aliyun",
                "endpoint": format!("http://{WAF_HOST}:{port}"),
                "region": "cn-hangzhou",
                "settings": {"instance-id": INSTANCE, "template-id": TEMPLATE.to_string()},
                "credential": {"public_id": KEY_ID, "secret": SECRET},
            }),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let script = riposte_tests::api::block_script("block", "AliyunWafBlockIP", "waf", Some("1h"));
    let reply = admin.yaml("POST", "/v1/scripts", &script).await;
    assert_eq!(reply.status, 201, "{}", reply.text);
    let rule = json!({"trigger": "alert", "condition": "true", "script": "block"});
    let reply = admin.put("/v1/rules/block-all", rule).await;
    assert_eq!(reply.status, 200, "{}", reply.text);

    // Throughput.
    let started = Instant::now();
    let batches: Vec<Vec<usize>> = (0..alerts)
        .collect::<Vec<_>>()
        .chunks(100)
        .map(<[usize]>::to_vec)
        .collect();
    let per_client = batches.len().div_ceil(4);
    let mut clients = Vec::new();
    for share in batches.chunks(per_client.max(1)) {
        let admin = admin.clone();
        let share = share.to_vec();
        clients.push(tokio::spawn(async move {
            for batch in share {
                let body: Vec<String> = batch.iter().map(|&n| eve(&address(n), n)).collect();
                let reply = admin
                    .send(
                        "POST",
                        "/v1/alerts/batch?format=suricata-eve",
                        Some(body.join("\n")),
                        &[("content-type", "application/x-ndjson")],
                    )
                    .await;
                assert!(reply.status < 300, "{}", reply.text);
            }
        }));
    }
    for client in clients {
        client.await.unwrap();
    }
    let accepted = started.elapsed();
    let creates = |sim: &Simulator| {
        sim.requests()
            .iter()
            .filter(|h| h.action == "CreateDefenseRule" && h.status == 200)
            .count()
    };
    let deadline = Instant::now() + Duration::from_secs(600);
    while creates(&simulator) < alerts {
        assert!(Instant::now() < deadline, "tasks did not finish");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let done = started.elapsed();
    let alerts_in = alerts as f64 / accepted.as_secs_f64();
    let tasks_out = alerts as f64 / done.as_secs_f64();

    // Latency, one alert at a time.
    let mut latencies = Vec::new();
    for i in 0..300 {
        let n = alerts + 10_000 + i;
        let before = simulator.requests().len();
        let sent = Instant::now();
        let reply = admin
            .send(
                "POST",
                "/v1/alerts?format=suricata-eve",
                Some(eve(&address(n), n)),
                &[],
            )
            .await;
        assert_eq!(reply.status, 202, "{}", reply.text);
        let first = loop {
            let requests = simulator.requests();
            if let Some(first) = requests.get(before) {
                break first.at;
            }
            assert!(
                sent.elapsed() < Duration::from_secs(10),
                "no provider request"
            );
            tokio::time::sleep(Duration::from_micros(200)).await;
        };
        latencies.push(first.duration_since(sent));
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    latencies.sort();
    let pick = |q: f64| latencies[((latencies.len() as f64 - 1.0) * q).round() as usize];
    let peak = std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:").map(|v| v.trim().to_owned()))
        .unwrap_or_default();

    println!("| measure | result |");
    println!("|---|---|");
    println!(
        "| alerts in ({alerts} alerts, batches of 100 from 4 clients) | {alerts_in:.0} alerts/s |"
    );
    println!("| tasks out (each a signed WAF rule on the simulator) | {tasks_out:.0} tasks/s |");
    println!(
        "| alert sent -> first provider request, one at a time (300) | p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms |",
        pick(0.5).as_secs_f64() * 1000.0,
        pick(0.99).as_secs_f64() * 1000.0,
        latencies[latencies.len() - 1].as_secs_f64() * 1000.0
    );
    println!("| peak RSS (daemon, simulator and driver in one process) | {peak} |");
    daemon.shutdown().await;
}
