//! riposte: a response-action host for security teams.
//!
//! Alerts come in, response rules choose a playbook, and each action runs
//! as a sandboxed WebAssembly handling component that can reach only the
//! hosts and secrets an operator granted it. This crate is the daemon and
//! its CLI; the modules follow the architecture in `DESIGN.md`:
//!
//! - [`ingest`]: alert adapters (Suricata EVE so far);
//! - [`demo`]: the end-to-end demo against the provider simulator;
//! - [`runtime`]: the wasmtime engine, per-call limits, the egress gate,
//!   secrets and guest logging.

pub mod demo;
pub mod engine;
pub mod ingest;
pub mod model;
pub mod runtime;
pub mod store;

/// Handling components bundled into the binary, built for wasm32-wasip2
/// by `build.rs`.
pub mod bundled {
    include!(concat!(env!("OUT_DIR"), "/bundled.rs"));
}
