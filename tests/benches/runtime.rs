//! Runtime load driver: call overhead of riposte against bare wasmtime with
//! the same engine, compile and cached-load times, and how late a runaway
//! guest is stopped. Prints a Markdown table for BENCHMARKS.md.
//!
//! Run: `cargo bench -p riposte-tests --bench runtime`
//! (set `RIPOSTE_BENCH_ITERS` to change the number of calls per series).

use std::time::{Duration, Instant};

use std::sync::Arc;

use riposte::runtime::gate::{LoopbackOnlyConnector, Network, StaticResolver};
use riposte::runtime::{Grant, Limits, Runtime, RuntimeConfig, wit};
use riposte_tests::{guests, request, secrets, wasm};
use wasmtime::Store;
use wasmtime::component::{Component, Linker, ResourceTable};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

/// Bare wasmtime store data: WASI and wasi-http with default hooks.
struct Bare {
    wasi: WasiCtx,
    http: WasiHttpCtx,
    table: ResourceTable,
}

impl WasiView for Bare {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for Bare {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: Default::default(),
        }
    }
}

type ExecuteFn = (wit::ActionRequest,);
type ExecuteResult = (Result<wit::Outcome, wit::Failure>,);

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[index]
}

fn summarize(mut samples: Vec<Duration>) -> (Duration, Duration) {
    samples.sort();
    (percentile(&samples, 0.50), percentile(&samples, 0.99))
}

fn micros(d: Duration) -> String {
    format!("{:.1} µs", d.as_secs_f64() * 1e6)
}

fn millis(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1e3)
}

fn main() {
    let iters: usize = std::env::var("RIPOSTE_BENCH_ITERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    // No log subscriber: the tests' capture subscriber would put formatting
    // cost on riposte's side only.
    let network = Network::new(
        Arc::new(StaticResolver::new()),
        Arc::new(LoopbackOnlyConnector::new()),
    );
    let runtime = Runtime::new(RuntimeConfig::default(), network, secrets(&[])).unwrap();
    let trivial_bytes = wasm(guests::FIXTURE_TRIVIAL);
    let component = rt.block_on(runtime.load(trivial_bytes.clone())).unwrap();

    // Bare wasmtime: the runtime's own engine (same config: pooling,
    // epochs), WASI p2 + wasi-http, default contexts, no gate or limits.
    let engine = runtime.engine().clone();
    let raw = Component::new(&engine, &trivial_bytes).unwrap();
    let mut linker: Linker<Bare> = Linker::new(&engine);
    wasmtime_wasi::p2::add_to_linker_async(&mut linker).unwrap();
    wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker).unwrap();
    // The trivial component imports the contract's type-only interface and
    // nothing else of riposte's; an empty instance satisfies it.
    linker.instance("riposte:component/types@0.1.0").unwrap();
    let pre = linker.instantiate_pre(&raw).unwrap();
    let (_, handler) = raw
        .get_export(None, "riposte:component/handler@0.1.0")
        .unwrap();
    let (_, execute) = raw.get_export(Some(&handler), "execute").unwrap();

    let bare_store = || {
        let mut store = Store::new(
            &engine,
            Bare {
                wasi: WasiCtx::builder().build(),
                http: WasiHttpCtx::new(),
                table: ResourceTable::new(),
            },
        );
        store.set_epoch_deadline(u64::MAX / 2);
        store
    };

    let mut riposte_call = Vec::with_capacity(iters);
    let mut bare_call = Vec::with_capacity(iters);
    let mut bare_instantiate = Vec::with_capacity(iters);
    let grant = Grant::default();
    rt.block_on(async {
        // Warm up both paths, then interleave them in batches so that
        // drift (frequency scaling, other load) hits both alike.
        for _ in 0..500 {
            let _ = runtime
                .execute(&component, &grant, request("Noop", "1.2.3.4", &[]), None)
                .await;
        }
        for batch in 0..iters / 100 {
            let _ = batch;
            for _ in 0..100 {
                let call = request("Noop", "1.2.3.4", &[]);
                let started = Instant::now();
                let report = runtime.execute(&component, &grant, call, None).await;
                riposte_call.push(started.elapsed());
                assert!(report.result.is_ok());
            }
            for _ in 0..100 {
                let call = request("Noop", "1.2.3.4", &[]);
                let started = Instant::now();
                let mut store = bare_store();
                let instance = pre.instantiate_async(&mut store).await.unwrap();
                bare_instantiate.push(started.elapsed());
                let func = instance
                    .get_typed_func::<ExecuteFn, ExecuteResult>(&mut store, &execute)
                    .unwrap();
                let (result,) = func.call_async(&mut store, (call,)).await.unwrap();
                drop(store);
                bare_call.push(started.elapsed());
                assert!(result.is_ok());
            }
        }
    });

    let (r50, r99) = summarize(riposte_call);
    let (b50, b99) = summarize(bare_call);
    let (i50, i99) = summarize(bare_instantiate);
    println!("## Call overhead ({iters} calls each, trivial component)\n");
    println!("| series | p50 | p99 |\n|---|---|---|");
    println!(
        "| bare wasmtime: store + instantiate | {} | {} |",
        micros(i50),
        micros(i99)
    );
    println!(
        "| bare wasmtime: store + instantiate + execute + drop | {} | {} |",
        micros(b50),
        micros(b99)
    );
    println!(
        "| riposte `Runtime::execute` (gate, secrets, log wired) | {} | {} |",
        micros(r50),
        micros(r99)
    );
    println!(
        "| ratio riposte / bare | {:.2}x | {:.2}x |\n",
        r50.as_secs_f64() / b50.as_secs_f64(),
        r99.as_secs_f64() / b99.as_secs_f64()
    );

    compile_and_cache(&runtime);
    runaway(&rt, &runtime);
}

/// Compile time (Cranelift) and cached load time (deserialize of an AOT
/// artifact) of every guest component.
fn compile_and_cache(runtime: &Runtime) {
    let engine = runtime.engine();
    println!("## Compile and cached load\n");
    println!("| component | size | compile p50 | AOT deserialize p50 | deserialize_file p50 |");
    println!("|---|---|---|---|---|");
    let dir = std::env::temp_dir().join(format!("riposte-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for (name, path) in [
        ("fixture-trivial", guests::FIXTURE_TRIVIAL),
        ("fixture-hostile", guests::FIXTURE_HOSTILE),
        ("aliyun-waf", guests::ALIYUN_WAF),
    ] {
        let bytes = wasm(path);
        let compile: Vec<Duration> = (0..10)
            .map(|_| {
                let started = Instant::now();
                Component::new(engine, &bytes).unwrap();
                started.elapsed()
            })
            .collect();
        let artifact = engine.precompile_component(&bytes).unwrap();
        let file = dir.join(format!("{name}.cwasm"));
        std::fs::write(&file, &artifact).unwrap();
        let load: Vec<Duration> = (0..200)
            .map(|_| {
                let started = Instant::now();
                // SAFETY: the artifact was produced just above by this
                // engine from a trusted component.
                unsafe { Component::deserialize(engine, &artifact) }.unwrap();
                started.elapsed()
            })
            .collect();
        let load_file: Vec<Duration> = (0..200)
            .map(|_| {
                let started = Instant::now();
                // SAFETY: as above; the file is in a private temp directory.
                unsafe { Component::deserialize_file(engine, &file) }.unwrap();
                started.elapsed()
            })
            .collect();
        println!(
            "| {name} | {} KiB | {} | {} | {} |",
            bytes.len() / 1024,
            millis(summarize(compile).0),
            millis(summarize(load).0),
            millis(summarize(load_file).0)
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
    println!();
}

/// How long after its deadline a runaway guest is stopped: a CPU loop
/// (epoch interruption) and a 30 s sleep inside a host call (the call
/// timeout).
fn runaway(rt: &tokio::runtime::Runtime, runtime: &Runtime) {
    let component = rt
        .block_on(runtime.load(wasm(guests::FIXTURE_HOSTILE)))
        .unwrap();
    let limits = Limits {
        deadline: Duration::from_millis(100),
        ..Limits::default()
    };
    println!("## Runaway guests (deadline 100 ms, 50 calls each)\n");
    println!("| guest | overshoot p50 | overshoot p99 | max |\n|---|---|---|---|");
    for action in ["Loop", "Sleep"] {
        let mut overshoot = Vec::new();
        for _ in 0..50 {
            let call = request(action, "1.2.3.4", &[]);
            let started = Instant::now();
            let report =
                rt.block_on(runtime.execute(&component, &Grant::default(), call, Some(&limits)));
            overshoot.push(started.elapsed().saturating_sub(limits.deadline));
            assert!(report.result.is_err());
        }
        let max = *overshoot.iter().max().unwrap();
        let (p50, p99) = summarize(overshoot);
        println!(
            "| {action} | {} | {} | {} |",
            millis(p50),
            millis(p99),
            millis(max)
        );
    }
    println!();
}
