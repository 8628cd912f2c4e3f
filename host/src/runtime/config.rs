//! Per-call limits and engine settings, with their defaults.

use std::time::Duration;

/// Limits applied to every call into a component. Each call gets its own
/// store, so a limit hit by one call never affects another.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Total linear memory of one instance, summed over all its memories
    /// (a composed component may have several). 64 MiB is ample for
    /// components that sign and send a few API requests. The pooling
    /// allocator sizes its slots from the runtime's default, so a call can
    /// be given less than the default but not more.
    pub memory_bytes: usize,
    /// Wall-clock budget of one call, host calls and HTTP included.
    pub deadline: Duration,
    /// Core and component instances one call may create.
    pub instances: usize,
    /// Tables one call may create.
    pub tables: usize,
    /// Elements per table.
    pub table_elements: usize,
    /// Largest outgoing request body, checked before connecting.
    pub request_body_bytes: usize,
    /// Largest response body handed to the guest.
    pub response_body_bytes: usize,
    /// Log lines kept per call; further lines are counted and dropped.
    pub log_lines: usize,
    /// Longest log line kept; longer lines are truncated.
    pub log_line_bytes: usize,
    /// Largest result (detail, token and items together) accepted from a
    /// call; a larger one fails the call.
    pub output_bytes: usize,
    /// Outgoing requests one call may start.
    pub requests: usize,
    /// Host-side resources (headers, requests, streams, secret handles) one
    /// call may hold at once. These live in host memory, outside the
    /// guest's memory limit, so they are bounded separately; an HTTP call
    /// needs about a dozen.
    pub resources: usize,
    /// Largest header block of one request or response, in bytes of the
    /// host's in-memory representation.
    pub header_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            memory_bytes: 64 << 20,
            deadline: Duration::from_secs(30),
            instances: 50,
            tables: 50,
            table_elements: 20_000,
            request_body_bytes: 1 << 20,
            response_body_bytes: 4 << 20,
            log_lines: 200,
            log_line_bytes: 4096,
            output_bytes: 256 << 10,
            requests: 64,
            resources: 1024,
            header_bytes: 16 << 10,
        }
    }
}

/// Settings of the shared engine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuntimeConfig {
    /// Default limits for every call; a call may pass its own.
    pub limits: Limits,
    /// How often the epoch ticker advances. Bounds how late a CPU-bound
    /// guest notices its deadline.
    pub epoch_tick: Duration,
    /// Calls that may run at once; it sizes the pooling allocator, and
    /// further calls wait for a free slot. The wait does not count against
    /// a call's budget.
    pub max_concurrent_calls: u32,
    /// Use the pooling allocator (fast instantiation); falls back to
    /// on-demand allocation when the address space cannot be reserved.
    pub pooling: bool,
}

impl Default for RuntimeConfig {
    fn default() -> Self {
        Self {
            limits: Limits::default(),
            epoch_tick: Duration::from_millis(2),
            max_concurrent_calls: 128,
            pooling: true,
        }
    }
}
