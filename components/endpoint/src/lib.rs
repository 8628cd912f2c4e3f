//! Endpoint handling component: actions that take effect on a host (kill a
//! process, quarantine a file, stop a container, deep clean, collect a
//! snapshot, block or allow an address or a domain on the host).
//!
//! Each action has two backends, chosen by the target's provider:
//! - `aliyun`: Alibaba Cloud Security Center (`Sas` 2018-12-03), for hosts
//!   managed by its agent ([`sas`]);
//! - `agent`: the riposte endpoint agent (`riposte agent`) on any Linux
//!   host, over its signed HTTP API ([`agent`]).

mod agent;
mod sas;

use riposte_sdk::types::{
    ActionInfo, ActionRequest, ComponentInfo, EntityKind, Failure, Outcome, PlanOutcome,
    SettingSpec,
};
use riposte_sdk::{export, failure};

/// The actions, by their identifiers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Action {
    /// `AegisKillProcess`
    KillProcess,
    /// `AegisDeepCleanUp`
    DeepCleanUp,
    /// `AegisQuaraFile`
    QuaraFile,
    /// `AegisKillQuara`
    KillQuara,
    /// `AegisStopContainer`
    StopContainer,
    /// `SasOfflineCheck`
    OfflineCheck,
    /// `AliNetBlockIP`
    NetBlockIp,
    /// `AliNetWhiteIP`
    NetWhiteIp,
    /// `AliNetBlockDNS`
    NetBlockDns,
    /// `AliNetWhiteDNS`
    NetWhiteDns,
}

impl Action {
    const ALL: [Action; 10] = [
        Action::KillProcess,
        Action::DeepCleanUp,
        Action::QuaraFile,
        Action::KillQuara,
        Action::StopContainer,
        Action::OfflineCheck,
        Action::NetBlockIp,
        Action::NetWhiteIp,
        Action::NetBlockDns,
        Action::NetWhiteDns,
    ];

    pub(crate) fn id(self) -> &'static str {
        match self {
            Action::KillProcess => "AegisKillProcess",
            Action::DeepCleanUp => "AegisDeepCleanUp",
            Action::QuaraFile => "AegisQuaraFile",
            Action::KillQuara => "AegisKillQuara",
            Action::StopContainer => "AegisStopContainer",
            Action::OfflineCheck => "SasOfflineCheck",
            Action::NetBlockIp => "AliNetBlockIP",
            Action::NetWhiteIp => "AliNetWhiteIP",
            Action::NetBlockDns => "AliNetBlockDNS",
            Action::NetWhiteDns => "AliNetWhiteDNS",
        }
    }

    fn parse(id: &str) -> Result<Self, Failure> {
        Self::ALL
            .into_iter()
            .find(|action| action.id() == id)
            .ok_or_else(|| {
                let known: Vec<&str> = Self::ALL.iter().map(|a| a.id()).collect();
                failure::invalid_input(format!(
                    "endpoint has no action `{id}`; it has {}",
                    known.join(", ")
                ))
            })
    }

    fn info(self) -> ActionInfo {
        use EntityKind as K;
        let (action_type, description, kinds, reversible): (_, _, &[EntityKind], _) = match self {
            Action::KillProcess => (
                "process-kill",
                "Kill a process (by pid, checked against its start time and executable) or \
                 every process running an executable with a given SHA-256",
                &[K::Process, K::FileHash],
                false,
            ),
            Action::DeepCleanUp => (
                "deep-clean",
                "Scan a host's paths with YARA rules and SHA-256 lists and quarantine what \
                 matches; revert restores the quarantined files",
                &[K::Host, K::File, K::FileHash],
                true,
            ),
            Action::QuaraFile => (
                "file-quarantine",
                "Move a file into quarantine, unreadable and not executable; revert restores \
                 it with its owner and mode",
                &[K::File],
                true,
            ),
            Action::KillQuara => (
                "process-kill-quarantine",
                "Kill a process and quarantine its executable (or a given file); revert \
                 restores the file",
                &[K::Process],
                true,
            ),
            Action::StopContainer => (
                "container-stop",
                "Stop a container; revert starts it again",
                &[K::Container],
                true,
            ),
            Action::OfflineCheck => (
                "host-snapshot",
                "Collect a host snapshot (processes with executable hashes, listening sockets, \
                 users and sessions, cron and systemd units, authorized keys, recently changed \
                 executables) as the task's report",
                &[K::Host],
                false,
            ),
            Action::NetBlockIp => (
                "ip-block",
                "Block an address or network on the host (nftables set with a timeout); \
                 revert removes it",
                &[K::Ip, K::Cidr],
                true,
            ),
            Action::NetWhiteIp => (
                "ip-allowlist",
                "Always allow an address or network on the host; revert removes it",
                &[K::Ip, K::Cidr],
                true,
            ),
            Action::NetBlockDns => (
                "domain-block",
                "Sinkhole a domain in the host's resolver configuration; revert removes it",
                &[K::Domain],
                true,
            ),
            Action::NetWhiteDns => (
                "domain-allowlist",
                "Pin a domain as allowed in the host's resolver configuration; revert \
                 removes it",
                &[K::Domain],
                true,
            ),
        };
        ActionInfo {
            id: self.id().into(),
            action_type: action_type.into(),
            description: description.into(),
            entity_kinds: kinds.to_vec(),
            reversible,
            retryable: true,
            settings: settings(self),
        }
    }
}

/// The settings an action reads, from either backend.
fn settings(action: Action) -> Vec<SettingSpec> {
    let mut settings = sas::settings(action);
    settings.extend(agent::settings(action));
    settings
}

/// The backend a target names.
enum Backend {
    Sas,
    Agent,
}

fn backend(request: &ActionRequest) -> Result<Backend, Failure> {
    match request.target.provider.as_str() {
        "aliyun" => Ok(Backend::Sas),
        "agent" => Ok(Backend::Agent),
        other => Err(failure::invalid_input(format!(
            "target `{}` has provider `{other}`; endpoint actions run on `aliyun` (Security \
             Center) or `agent` (the riposte endpoint agent)",
            request.target.id
        ))),
    }
}

struct Endpoint;

impl riposte_sdk::Guest for Endpoint {
    fn describe() -> ComponentInfo {
        ComponentInfo {
            name: "endpoint".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "Endpoint actions on hosts, through Alibaba Cloud Security Center or \
                          the riposte endpoint agent (agent addresses are granted per \
                          deployment)"
                .into(),
            actions: Action::ALL.into_iter().map(Action::info).collect(),
            hosts: sas::HOSTS.iter().map(|host| host.to_string()).collect(),
            needs_credential: true,
        }
    }

    fn execute(request: ActionRequest) -> Result<Outcome, Failure> {
        let action = Action::parse(&request.action)?;
        match backend(&request)? {
            Backend::Sas => sas::execute(action, &request),
            Backend::Agent => agent::execute(action, &request),
        }
    }

    fn revert(request: ActionRequest, token: String) -> Result<Outcome, Failure> {
        let action = Action::parse(&request.action)?;
        match backend(&request)? {
            Backend::Sas => sas::revert(action, &request, &token),
            Backend::Agent => agent::revert(action, &request, &token),
        }
    }

    fn plan(request: ActionRequest) -> Result<PlanOutcome, Failure> {
        let action = Action::parse(&request.action)?;
        match backend(&request)? {
            Backend::Sas => sas::plan(action, &request),
            Backend::Agent => agent::plan(action, &request),
        }
    }
}

export!(Endpoint);
