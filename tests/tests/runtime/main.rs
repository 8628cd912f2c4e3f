//! Runtime integration tests: hostile components are contained, the egress
//! gate refuses what was not granted, secrets never leak, and a real
//! component sends a correctly signed request through the gate.
//!
//! Every server here listens on 127.0.0.1, every name resolves through a
//! fixed table, and the connector refuses any non-loopback destination on
//! its own, so no test can send a packet off the machine.

mod abuse;
mod aliyun_cdn;
mod aliyun_cloudfw;
mod aliyun_ddoscoo;
mod aliyun_ecs;
mod aliyun_slb;
mod aliyun_waf;
mod aliyun_waf_sim;
mod cloud;
mod conformance;
mod containment;
mod endpoint_agent;
mod endpoint_sas;
mod gate;
mod huawei;
mod secrets;
mod tencent;

use std::sync::OnceLock;

use riposte::runtime::{CallReport, Grant, LoadedComponent, Runtime, RuntimeConfig, wit};
use riposte_tests::{guests, wasm};

/// Loads the hostile fixture once per runtime.
pub async fn hostile(runtime: &Runtime) -> LoadedComponent {
    runtime
        .load(wasm(guests::FIXTURE_HOSTILE))
        .await
        .expect("the hostile fixture loads")
}

/// Runs `action` of `component` on 1.2.3.4 with no grants, no parameters
/// and the runtime's default limits.
pub async fn ungranted(
    runtime: &Runtime,
    component: &LoadedComponent,
    action: &str,
) -> CallReport<wit::Outcome> {
    let call = riposte_tests::request(action, "1.2.3.4", &[]);
    runtime
        .execute(component, &Grant::default(), call, None)
        .await
}

/// A grant of exactly these host patterns.
pub fn grant(hosts: &[&str]) -> Grant {
    Grant {
        hosts: hosts.iter().map(|h| h.parse().unwrap()).collect(),
        secrets: Vec::new(),
    }
}

/// A grant of `http://{host}:{port}` and of the loopback address it
/// resolves to (the gate lets a private address through only when it is
/// granted too), with the secret `credential`.
pub fn loopback_grant(host: &str, port: u16, credential: &str) -> Grant {
    Grant {
        hosts: vec![
            format!("http://{host}:{port}").parse().unwrap(),
            format!("http://127.0.0.1:{port}").parse().unwrap(),
        ],
        secrets: vec![credential.into()],
    }
}

/// A runtime with short limits so hostile calls end quickly.
pub fn quick_config() -> RuntimeConfig {
    static CONFIG: OnceLock<RuntimeConfig> = OnceLock::new();
    CONFIG
        .get_or_init(|| {
            let mut config = RuntimeConfig::default();
            config.limits.deadline = std::time::Duration::from_secs(2);
            config.max_concurrent_calls = 32;
            config
        })
        .clone()
}
