//! The provider simulator as a conformance backend, for components that
//! call Alibaba Cloud APIs the simulator serves (WAF 3.0 defense rules).
//!
//! State is what the simulator holds (its WAF rules); a request changes
//! state unless its API is a read (`Describe*`, `List*`, `Get*`,
//! `Query*`, `Check*`). Faults are the simulator's own, in Alibaba's
//! error shapes.

use std::collections::BTreeSet;

use riposte_simulator::{Simulator, SimulatorConfig};

use super::backend::{Backend, Fault, Observed, settings_for};
use crate::runtime::gate::HostGrant;
use crate::runtime::secrets::SecretValue;
use crate::runtime::wit;

const INSTANCE: &str = "waf_v2_public_cn-conformance";
const TEMPLATE: u64 = 4242;
const KEY_ID: &str = "LTAI5tConformance000";
const CREDENTIAL: &str = "conformance-aliyun";

/// The simulator, configured with one WAF instance and one credential.
pub struct AliyunSimulator {
    simulator: Simulator,
    secret: String,
}

impl std::fmt::Debug for AliyunSimulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AliyunSimulator")
            .field("simulator", &self.simulator)
            .finish_non_exhaustive()
    }
}

impl AliyunSimulator {
    /// Starts the simulator on `127.0.0.1`.
    pub fn start() -> std::io::Result<Self> {
        let secret: String = (0..30).map(|_| fastrand::alphanumeric()).collect();
        let config = SimulatorConfig::default()
            .with_credential(KEY_ID, &secret)
            .with_waf_template(INSTANCE, TEMPLATE);
        Ok(Self {
            simulator: Simulator::start(config)?,
            secret,
        })
    }

    /// Whether a component declaring `hosts` calls APIs this backend serves.
    pub fn serves(hosts: &[String]) -> bool {
        hosts.iter().any(|host| host.contains("aliyuncs.com"))
    }
}

impl Backend for AliyunSimulator {
    fn name(&self) -> String {
        format!(
            "the provider simulator (Alibaba Cloud) on {}",
            self.simulator.endpoint()
        )
    }

    fn grants(&self) -> Vec<HostGrant> {
        vec![
            self.simulator
                .endpoint()
                .parse()
                .expect("a loopback origin is a valid grant"),
        ]
    }

    fn secrets(&self) -> Vec<(String, SecretValue)> {
        let value = SecretValue::new(KEY_ID, self.secret.clone().into_bytes());
        vec![(CREDENTIAL.into(), value)]
    }

    fn target(&self, action: &wit::ActionInfo) -> wit::Target {
        wit::Target {
            id: "conformance".into(),
            provider: "aliyun".into(),
            account: "conformance".into(),
            region: "cn-hangzhou".into(),
            resource: INSTANCE.into(),
            endpoint: self.simulator.endpoint(),
            credential: Some(CREDENTIAL.into()),
            settings: settings_for(action, |name| match name {
                "instance-id" => Some(INSTANCE.into()),
                "template-id" => Some(TEMPLATE.to_string()),
                "region-id" => Some("cn-hangzhou".into()),
                _ => None,
            }),
        }
    }

    fn state(&self) -> BTreeSet<String> {
        self.simulator
            .waf_rules()
            .iter()
            .map(|rule| {
                format!(
                    "waf rule {} in {}/{}: `{}` {} {:?}",
                    rule.id,
                    rule.instance_id,
                    rule.template_id,
                    rule.name,
                    rule.action,
                    rule.remote_addr
                )
            })
            .collect()
    }

    fn requests(&self) -> Vec<Observed> {
        self.simulator
            .requests()
            .into_iter()
            .map(|handled| {
                let read = ["Describe", "List", "Get", "Query", "Check"]
                    .iter()
                    .any(|prefix| handled.action.starts_with(prefix));
                Observed {
                    summary: format!("{} ({})", handled.action, handled.code),
                    changes_state: !read,
                }
            })
            .collect()
    }

    fn inject(&self, fault: Fault) -> bool {
        let fault = match fault {
            Fault::Forbidden => riposte_simulator::Fault::forbidden_ram(),
            Fault::Throttled => riposte_simulator::Fault::throttling(),
            Fault::Unavailable => riposte_simulator::Fault::service_unavailable(),
        };
        self.simulator.inject(fault, 1);
        true
    }

    fn clear_faults(&self) {
        // Faults are consumed by authenticated requests only; a component
        // that failed before sending one leaves its fault queued. The kit
        // injects one at a time and checks each, so a leftover fault can
        // only follow a check that already failed.
    }

    fn retry_after_ms(&self) -> Option<u64> {
        // Alibaba's `Throttling.User` answer names no pause.
        None
    }
}
