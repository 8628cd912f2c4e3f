//! riposte: a response-action host for security teams.
//!
//! Alerts come in, response rules choose a playbook, and each action runs
//! as a sandboxed WebAssembly handling component that can reach only the
//! hosts and secrets an operator granted it. This crate is the daemon and
//! its CLI; the modules follow the architecture in `DESIGN.md`:
//!
//! - [`cli`]: the operator's command line client of the HTTP API;
//! - [`ingest`]: alert adapters (Suricata EVE, Falco, Wazuh, Alibaba Cloud
//!   Security Center, a generic format) that turn records into one
//!   normalized alert;
//! - [`model`]: the vocabulary (entities, scripts, rules, policies, tasks,
//!   allowlist) with its state machines and the one parser per value;
//! - [`store`]: the redb store, its indexes, group commit and retention;
//! - [`engine`]: rule matching, dedup, policies and tasks, scheduling,
//!   retries, revert timers and recovery after a crash;
//! - [`runtime`]: the wasmtime engine, per-call limits, the egress gate,
//!   secrets and guest logging;
//! - [`api`]: the HTTP API (axum): routes, tokens and roles, problem
//!   documents, the OpenAPI document and metrics;
//! - [`conformance`]: the conformance kit (`riposte component check`),
//!   which checks a component against the contract on loopback;
//! - [`vault`]: secrets sealed at rest under the master key;
//! - [`daemon`]: the daemon assembled from a data directory (`riposte serve`);
//! - [`demo`]: the end-to-end demo against the provider simulator.
//!
//! Data flows one way: ingest -> engine -> runtime -> component, and
//! results flow back into the store.

// The OpenAPI schemas are one `json!` literal, deeper than the default 128.
#![recursion_limit = "512"]

pub mod agent;
pub mod api;
pub mod cli;
pub mod conformance;
pub mod daemon;
pub mod demo;
pub mod engine;
pub mod ingest;
pub mod metrics;
pub mod model;
pub mod registry;
pub mod runtime;
pub mod store;
pub mod vault;

/// Handling components bundled into the binary, built for wasm32-wasip2
/// by `build.rs`.
pub mod bundled {
    include!(concat!(env!("OUT_DIR"), "/bundled.rs"));
}
