//! A harness for the cloud components against the provider simulator: one
//! simulator on 127.0.0.1, one runtime whose gate resolves the provider's
//! test host name to it and dials loopback only, and a grant of exactly
//! that origin and the test credential.

use std::net::IpAddr;

use riposte::runtime::{
    CallReport, FailureKind, Grant, LoadedComponent, Runtime, RuntimeConfig, TaskFailure, wit,
};
use riposte_simulator::{Simulator, SimulatorConfig};
use riposte_tests::{loopback_runtime, request, secrets, wasm};

/// The name the credential is stored under.
pub const CREDENTIAL: &str = "cloud-test";

pub struct Cloud {
    pub runtime: Runtime,
    pub component: LoadedComponent,
    pub simulator: Simulator,
    pub grant: Grant,
    /// `http://<host>:<port>`, the endpoint components are given.
    pub endpoint: String,
    /// The region of the targets.
    pub region: &'static str,
}

impl Cloud {
    /// Starts `config` on loopback, loads `guest` and grants it
    /// `http://{host}:{port}` with the credential `key_id`/`secret`;
    /// targets are in `region`.
    pub async fn start(
        guest: &str,
        (host, region): (&str, &'static str),
        config: SimulatorConfig,
        key_id: &str,
        secret: &str,
    ) -> Self {
        let simulator = Simulator::start(config).unwrap();
        let port = simulator.addr().port();
        let names: &[(&str, &[IpAddr])] = &[(host, &[IpAddr::from([127, 0, 0, 1])])];
        let store = secrets(&[(CREDENTIAL, key_id, secret)]);
        let config = RuntimeConfig {
            max_concurrent_calls: 32,
            ..RuntimeConfig::default()
        };
        let (runtime, _) = loopback_runtime(config, names, store);
        let component = runtime.load(wasm(guest)).await.unwrap();
        let endpoint = format!("http://{host}:{port}");
        let grant = crate::loopback_grant(host, port, CREDENTIAL);
        Self {
            runtime,
            component,
            simulator,
            grant,
            endpoint,
            region,
        }
    }

    /// Like [`Cloud::start`], with the simulator on `[::1]` and the
    /// component given the IPv6 literal endpoint `http://[::1]:<port>`.
    pub async fn start_ipv6(
        guest: &str,
        region: &'static str,
        config: SimulatorConfig,
        key_id: &str,
        secret: &str,
    ) -> Self {
        let simulator =
            Simulator::start_on(config, IpAddr::from(std::net::Ipv6Addr::LOCALHOST)).unwrap();
        let store = secrets(&[(CREDENTIAL, key_id, secret)]);
        let config = RuntimeConfig {
            max_concurrent_calls: 32,
            ..RuntimeConfig::default()
        };
        let (runtime, _) = loopback_runtime(config, &[], store);
        let component = runtime.load(wasm(guest)).await.unwrap();
        let endpoint = simulator.endpoint();
        let grant = Grant {
            hosts: vec![endpoint.parse().unwrap()],
            secrets: vec![CREDENTIAL.into()],
        };
        Self {
            runtime,
            component,
            simulator,
            grant,
            endpoint,
            region,
        }
    }

    /// A request for `action` on an entity of `kind`, with the endpoint,
    /// the credential and `settings`; `key` is the idempotency key.
    pub fn request(
        &self,
        action: &str,
        kind: wit::EntityKind,
        value: &str,
        settings: &[(&str, &str)],
        key: &str,
    ) -> wit::ActionRequest {
        let mut call = request(action, "0.0.0.0", &[]);
        call.entity.kind = kind;
        call.entity.value = value.into();
        call.idempotency_key = key.into();
        call.target.endpoint = self.endpoint.clone();
        call.target.region = self.region.into();
        call.target.credential = Some(CREDENTIAL.into());
        call.target.settings = settings
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        call
    }

    pub async fn execute(&self, call: wit::ActionRequest) -> Result<wit::Outcome, TaskFailure> {
        self.report(call).await.result
    }

    pub async fn report(&self, call: wit::ActionRequest) -> CallReport<wit::Outcome> {
        self.runtime
            .execute(&self.component, &self.grant, call, None)
            .await
    }

    pub async fn revert(
        &self,
        call: wit::ActionRequest,
        token: &str,
    ) -> Result<wit::Outcome, TaskFailure> {
        self.runtime
            .revert(&self.component, &self.grant, call, token.into(), None)
            .await
            .result
    }

    pub async fn plan(&self, call: wit::ActionRequest) -> Result<wit::PlanOutcome, TaskFailure> {
        self.runtime
            .plan(&self.component, &self.grant, call, None)
            .await
            .result
    }

    /// Runs `call` and checks it is refused as `invalid-input` without a
    /// single request reaching the simulator.
    pub async fn refused_before_any_request(&self, call: wit::ActionRequest) -> TaskFailure {
        let before = self.simulator.requests().len();
        let report = self.report(call).await;
        let failure = report.result.unwrap_err();
        assert_eq!(failure.kind, FailureKind::InvalidInput, "{failure}");
        assert_eq!(report.requests, 0, "{failure}");
        assert_eq!(self.simulator.requests().len(), before);
        failure
    }
}

/// Asserts that `failure` has `kind` and `retryable`, and that its message
/// keeps the provider's `code` and a request id.
pub fn assert_failure(failure: &TaskFailure, kind: FailureKind, retryable: bool, code: &str) {
    assert_eq!(failure.kind, kind, "{failure}");
    assert_eq!(failure.retryable, retryable, "{failure}");
    assert!(failure.message.contains(code), "{failure}");
    assert!(
        failure.message.to_ascii_lowercase().contains("request"),
        "{failure}"
    );
}
