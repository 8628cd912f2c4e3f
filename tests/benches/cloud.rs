//! Cloud component load driver: the host CPU one `execute` of a cloud
//! action costs (instantiate, sign, call the provider simulator on
//! loopback, parse), per provider. Prints a Markdown table for
//! BENCHMARKS.md.
//!
//! Host CPU is read from `/proc/self/task/*/stat` (user + system time of
//! every thread of this process except the simulator's own thread), so
//! the simulator's work and the time spent waiting on the network are
//! left out. `/proc` counts in USER_HZ ticks of 10 ms, so each series runs
//! enough calls for the total to dwarf one tick.
//!
//! Run: `cargo bench -p riposte-tests --bench cloud`
//! (set `RIPOSTE_BENCH_ITERS` to change the number of calls per series).

use std::net::IpAddr;
use std::time::{Duration, Instant};

use std::sync::Arc;

use riposte::runtime::gate::{LoopbackOnlyConnector, Network, StaticResolver};
use riposte::runtime::{Grant, Runtime, RuntimeConfig, wit};
use riposte_simulator::{Simulator, SimulatorConfig};
use riposte_tests::{guests, request, secrets, wasm};

/// `/proc` reports CPU time in USER_HZ ticks, fixed at 100 per second.
const TICK: Duration = Duration::from_millis(10);

/// The simulator's thread name as `/proc` shows it (15 bytes at most).
const SIMULATOR_THREAD: &str = "riposte-simulat";

/// CPU time of this process's threads, the simulator's excluded.
fn host_cpu() -> Duration {
    let mut ticks = 0u64;
    for task in std::fs::read_dir("/proc/self/task").unwrap().flatten() {
        let path = task.path();
        let comm = std::fs::read_to_string(path.join("comm")).unwrap_or_default();
        if comm.trim() == SIMULATOR_THREAD {
            continue;
        }
        let Ok(stat) = std::fs::read_to_string(path.join("stat")) else {
            continue;
        };
        // Fields after the `(comm)`: state is the first, utime the 12th,
        // stime the 13th (proc(5)).
        let rest = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let field = |i: usize| {
            fields
                .get(i)
                .and_then(|f| f.parse::<u64>().ok())
                .unwrap_or(0)
        };
        ticks += field(11) + field(12);
    }
    TICK * u32::try_from(ticks).unwrap_or(u32::MAX)
}

struct Series {
    provider: &'static str,
    action: &'static str,
    guest: &'static str,
    host: &'static str,
    region: &'static str,
    key: (&'static str, &'static str),
    settings: &'static [(&'static str, &'static str)],
    requests_per_call: u32,
}

const SERIES: &[Series] = &[
    Series {
        provider: "Alibaba Cloud (ACS3)",
        action: "AliyunWafBlockIP",
        guest: guests::ALIYUN_WAF,
        host: "waf.bench",
        region: "cn-hangzhou",
        key: ("LTAI5tBenchKey", "bench-secret"),
        settings: &[
            ("instance-id", "waf_v2_public_cn-bench"),
            ("template-id", "1122"),
        ],
        requests_per_call: 2,
    },
    Series {
        provider: "Tencent Cloud (TC3)",
        action: "TencentCFWBlockIP",
        guest: guests::TENCENT_CLOUD,
        host: "cfw.bench",
        region: "ap-guangzhou",
        key: ("AKIDbenchkey0123456789", "bench-secret"),
        settings: &[],
        requests_per_call: 1,
    },
    Series {
        provider: "Huawei Cloud (SDK-HMAC-SHA256)",
        action: "HuaWeiWafBlockIP",
        guest: guests::HUAWEI_CLOUD,
        host: "waf.bench",
        region: "cn-north-4",
        key: ("HWAKBENCH0123456789", "bench-secret"),
        settings: &[("project-id", "benchproject"), ("policy-id", "benchpolicy")],
        requests_per_call: 1,
    },
];

fn simulator_config(series: &Series) -> SimulatorConfig {
    let (id, secret) = series.key;
    SimulatorConfig::default()
        .with_credential(id, secret)
        .with_waf_template("waf_v2_public_cn-bench", 1122)
        .with_waf_rule_quota(1_000_000)
        .with_tencent_key("100000000001", id, secret)
        .with_huawei_key("bench-domain", id, secret)
        .with_huawei_project("bench-domain", "benchproject")
        .with_huawei_waf_policy("benchproject", "benchpolicy")
        .with_list_capacity(1_000_000)
}

/// An address of the benchmarking range 198.18.0.0/15 (RFC 2544).
fn address(i: u32) -> String {
    format!("198.{}.{}.{}", 18 + (i >> 16) % 2, (i >> 8) % 256, i % 256)
}

async fn run(series: &Series, iters: u32, offset: u32) -> (Duration, Duration, Duration) {
    let simulator = Simulator::start(simulator_config(series)).unwrap();
    let port = simulator.addr().port();
    // No log subscriber: neither the runtime nor the simulator pays for
    // formatting, as in the runtime benchmark.
    let resolver = StaticResolver::new().with(series.host, &[IpAddr::from([127, 0, 0, 1])]);
    let network = Network::new(Arc::new(resolver), Arc::new(LoopbackOnlyConnector::new()));
    let store = secrets(&[("bench", series.key.0, series.key.1)]);
    let runtime = Runtime::new(RuntimeConfig::default(), network, store).unwrap();
    let component = runtime.load(wasm(series.guest)).await.unwrap();
    let endpoint = format!("http://{}:{port}", series.host);
    let grant = Grant {
        hosts: vec![
            endpoint.parse().unwrap(),
            format!("http://127.0.0.1:{port}").parse().unwrap(),
        ],
        secrets: vec!["bench".into()],
    };
    let call = |i: u32| {
        let mut call: wit::ActionRequest = request(series.action, &address(offset + i), &[]);
        call.idempotency_key = format!("bench-{offset}-{i}");
        call.target.endpoint = endpoint.clone();
        call.target.region = series.region.into();
        call.target.credential = Some("bench".into());
        call.target.settings = series
            .settings
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        call
    };
    for i in 0..20 {
        let report = runtime
            .execute(&component, &grant, call(iters + i), None)
            .await;
        report.result.unwrap();
    }
    let mut samples = Vec::with_capacity(iters as usize);
    let (cpu_start, wall_start) = (host_cpu(), Instant::now());
    for i in 0..iters {
        let started = Instant::now();
        let report = runtime.execute(&component, &grant, call(i), None).await;
        report.result.unwrap();
        samples.push(started.elapsed());
    }
    let (cpu, wall) = (host_cpu() - cpu_start, wall_start.elapsed());
    samples.sort();
    let p50 = samples[samples.len() / 2];
    drop(simulator);
    (cpu / iters, wall / iters, p50)
}

fn micros(d: Duration) -> String {
    format!("{:.0} µs", d.as_secs_f64() * 1e6)
}

fn main() {
    let iters: u32 = std::env::var("RIPOSTE_BENCH_ITERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    println!(
        "| provider | action | requests per call | host CPU per call | per request | wall per call (mean) | wall p50 |"
    );
    println!("|---|---|---|---|---|---|---|");
    for (n, series) in SERIES.iter().enumerate() {
        let offset = u32::try_from(n).unwrap() * 100_000;
        let (cpu, wall, p50) = runtime.block_on(run(series, iters, offset));
        println!(
            "| {} | `{}` | {} | {} | {} | {} | {} |",
            series.provider,
            series.action,
            series.requests_per_call,
            micros(cpu),
            micros(cpu / series.requests_per_call),
            micros(wall),
            micros(p50)
        );
    }
}
