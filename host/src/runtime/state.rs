//! The data of one call's store: WASI and wasi-http contexts, the gate,
//! the secrets the call may open, its log and its resource limiter.

use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

use super::gate::GateHooks;
use super::guest_log::GuestLog;
use super::secrets::CallSecrets;
use super::stderr::StderrCapture;

/// Everything a call's store holds. Built fresh for every call and dropped
/// with the store, so nothing leaks from one task to the next.
pub struct CallState {
    pub(crate) wasi: WasiCtx,
    pub(crate) http: WasiHttpCtx,
    pub(crate) table: ResourceTable,
    pub(crate) hooks: GateHooks,
    pub(crate) secrets: CallSecrets,
    pub(crate) log: GuestLog,
    pub(crate) limiter: CallLimiter,
    /// The guest's stderr, where Rust guests print their panic message.
    pub(crate) stderr: StderrCapture,
}

impl WasiView for CallState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for CallState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut self.hooks,
        }
    }
}

/// Memory, table and instance limits of one call. Memory is summed over
/// all of the instance's memories, so a component with several memories
/// cannot multiply its allowance.
#[derive(Debug)]
pub(crate) struct CallLimiter {
    pub memory_limit: usize,
    pub memory_used: usize,
    pub table_elements: usize,
    pub instances: usize,
    pub tables: usize,
    /// Set when a growth was refused, to name the limit in the failure.
    pub memory_exceeded: bool,
    pub table_exceeded: bool,
}

impl wasmtime::ResourceLimiter for CallLimiter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let growth = desired.saturating_sub(current);
        if self.memory_used.saturating_add(growth) > self.memory_limit {
            self.memory_exceeded = true;
            return Ok(false);
        }
        self.memory_used += growth;
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.table_elements {
            self.table_exceeded = true;
            return Ok(false);
        }
        Ok(true)
    }

    fn instances(&self) -> usize {
        self.instances
    }

    fn tables(&self) -> usize {
        self.tables
    }

    fn memories(&self) -> usize {
        self.instances
    }
}
