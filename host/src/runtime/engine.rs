//! The shared wasmtime engine: its configuration (component model, epoch
//! interruption, pooling allocator sized for concurrent calls) and the
//! thread that advances its epoch.

use std::thread;
use std::time::Duration;

use wasmtime::Engine;

use super::RuntimeConfig;

/// The engine settings that decide how code is compiled; the runtime
/// engine adds its instance allocator on top.
pub(super) fn base_config() -> wasmtime::Config {
    let mut wasm = wasmtime::Config::new();
    wasm.wasm_component_model(true)
        .epoch_interruption(true)
        .memory_init_cow(true);
    wasm
}

pub(super) fn build_engine(config: &RuntimeConfig) -> wasmtime::Result<Engine> {
    let wasm = base_config();
    if config.pooling {
        let mut pool = wasmtime::PoolingAllocationConfig::new();
        let calls = config.max_concurrent_calls;
        let limits = &config.limits;
        // Each call is one component instance made of a handful of core
        // instances (the main module, adapters and shims); size every pool
        // together, as a short one fails instantiation under load.
        pool.total_component_instances(calls)
            .total_core_instances(calls * 16)
            .total_memories(calls * 2)
            .total_tables(calls * 16)
            .total_stacks(calls)
            .max_memories_per_component(4)
            .max_tables_per_component(32)
            .max_core_instances_per_component(limits.instances as u32)
            .max_memory_size(limits.memory_bytes)
            .table_elements(limits.table_elements);
        let mut pooled = wasm.clone();
        pooled.allocation_strategy(wasmtime::InstanceAllocationStrategy::Pooling(pool));
        match Engine::new(&pooled) {
            Ok(engine) => return Ok(engine),
            Err(err) => tracing::warn!(
                error = %err,
                "pooling allocator unavailable, falling back to on-demand allocation"
            ),
        }
    }
    Engine::new(&wasm)
}

/// Advances the engine's epoch from a dedicated thread, so the deadline
/// fires even when every async worker is busy. The thread ends when the
/// engine is dropped.
pub(super) fn start_epoch_ticker(engine: &Engine, tick: Duration) {
    let weak = engine.weak();
    thread::Builder::new()
        .name("riposte-epoch".into())
        .spawn(move || {
            while let Some(engine) = weak.upgrade() {
                engine.increment_epoch();
                drop(engine);
                thread::sleep(tick);
            }
        })
        .expect("spawning the epoch thread");
}
