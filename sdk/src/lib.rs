//! The riposte SDK: what a component author needs to write a handling
//! component in Rust.
//!
//! A handling component implements [`Guest`] (describe, execute, revert,
//! plan) and registers itself with [`export!`]:
//!
//! ```ignore
//! use riposte_sdk::{export, Guest, types::*};
//!
//! struct MyBlocker;
//!
//! impl Guest for MyBlocker {
//!     fn describe() -> ComponentInfo { /* ... */ }
//!     fn execute(request: ActionRequest) -> Result<Outcome, Failure> { /* ... */ }
//!     fn revert(request: ActionRequest, token: String) -> Result<Outcome, Failure> { /* ... */ }
//!     fn plan(request: ActionRequest) -> Result<PlanOutcome, Failure> { /* ... */ }
//! }
//!
//! export!(MyBlocker);
//! ```
//!
//! Build it with `cargo build --target wasm32-wasip2 --release`; the output
//! `.wasm` is a component ready to load.
//!
//! Around the bindings the SDK offers:
//! - [`http`]: a small blocking HTTP client over `wasi:http`, with JSON and
//!   form bodies and timeouts, whose errors convert into typed failures;
//! - [`sign`]: the Alibaba Cloud, Tencent Cloud and Huawei Cloud request
//!   signers, keyed by a [`sign::Credential`] whose secret stays in the host
//!   ([`HostCredential`]);
//! - [`entity`]: parsing and normalization of IPs, CIDRs and domains, the
//!   same code the host uses;
//! - [`action`]: the checks and names every cloud action needs;
//! - [`aliyun`], [`tencent`], [`huawei`]: signed API clients whose provider
//!   errors become typed failures;
//! - [`agent`]: the riposte endpoint agent's API and a signed client;
//! - [`log`]: structured log lines into the host's log;
//! - [`clock`]: the wall clock as the timestamps signers need.
//!
//! The signers, entity parsers and failure helpers are plain Rust and are
//! unit-tested natively; only the calls into the host need a Wasm runtime.

pub mod action;
pub mod agent;
pub mod aliyun;
pub mod clock;
pub mod entity;
pub mod failure;
pub mod http;
pub mod huawei;
pub mod log;
pub mod sign;
pub mod tencent;

mod credential;
mod transport;

pub use credential::HostCredential;

/// Bindings generated from the `riposte:component` WIT package.
///
/// Most authors need only the re-exports at the crate root and in
/// [`types`].
#[allow(missing_docs, clippy::all, reason = "generated code")]
pub mod bindings {
    wit_bindgen::generate!({
        path: "../wit",
        world: "riposte:component/handling-component",
        pub_export_macro: true,
        default_bindings_module: "riposte_sdk::bindings",
        generate_all,
    });
}

/// The contract's data types: requests, outcomes, failures, descriptions.
pub mod types {
    pub use crate::bindings::riposte::component::types::*;
}

pub use bindings::exports::riposte::component::handler::Guest;

/// Registers a type implementing [`Guest`] as the component's exports.
///
/// ```ignore
/// riposte_sdk::export!(MyComponent);
/// ```
#[macro_export]
macro_rules! export {
    ($ty:ident) => {
        $crate::bindings::export!($ty with_types_in $crate::bindings);
    };
}

use types::{ActionRequest, Failure, FailureKind};

impl ActionRequest {
    /// The value of target setting `name`, if the target has it.
    pub fn setting(&self, name: &str) -> Option<&str> {
        lookup(&self.target.settings, name)
    }

    /// The value of target setting `name`, or an `invalid-input` failure
    /// that names the missing setting.
    pub fn required_setting(&self, name: &str) -> Result<&str, Failure> {
        match self.setting(name) {
            Some(value) if !value.is_empty() => Ok(value),
            _ => Err(failure::invalid_input(format!(
                "target `{}` has no setting `{name}`, which action `{}` requires",
                self.target.id, self.action
            ))),
        }
    }

    /// The value of step parameter `name`, if the step set it.
    pub fn parameter(&self, name: &str) -> Option<&str> {
        lookup(&self.parameters, name)
    }
}

fn lookup<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.as_str())
}

impl std::fmt::Display for FailureKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let name = match self {
            FailureKind::PermissionDenied => "permission-denied",
            FailureKind::NotFound => "not-found",
            FailureKind::QuotaExceeded => "quota-exceeded",
            FailureKind::CrossAccount => "cross-account",
            FailureKind::InvalidInput => "invalid-input",
            FailureKind::Throttled => "throttled",
            FailureKind::Unreachable => "unreachable",
            FailureKind::Timeout => "timeout",
            FailureKind::Conflict => "conflict",
            FailureKind::Internal => "internal",
        };
        f.write_str(name)
    }
}
