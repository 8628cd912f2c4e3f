//! The riposte endpoint agent backend: each action is one signed call to
//! the agent at the target's endpoint (`riposte_sdk::agent`), with the
//! target's credential as the agent key.
//!
//! | action | route | entity | revert |
//! |---|---|---|---|
//! | `AegisKillProcess` | `/v1/process/kill` | `process` (pid; `start-time`, `exe`, `sha256` attributes checked) or `file-hash` (every process of that executable) | none |
//! | `AegisQuaraFile` | `/v1/file/quarantine` | `file` (path; `sha256` attribute checked) | `/v1/file/restore` |
//! | `AegisKillQuara` | `/v1/process/kill-and-quarantine` | `process`; the file is parameter `path`, else attribute `exe` | `/v1/file/restore` |
//! | `AegisStopContainer` | `/v1/container/stop` | `container` | `/v1/container/start` |
//! | `AegisDeepCleanUp` | `/v1/scan` | `host`, `file` (scan that path), `file-hash` (add it to the list) | restore every quarantined file |
//! | `SasOfflineCheck` | `/v1/snapshot` | `host` | none |
//! | `AliNetBlockIP`, `AliNetWhiteIP` | `/v1/net/add` | `ip`, `cidr` | `/v1/net/remove` |
//! | `AliNetBlockDNS`, `AliNetWhiteDNS` | `/v1/dns/add` | `domain` | `/v1/dns/remove` |
//!
//! Step parameters: `grace-ms` (kills), `path` (kill-and-quarantine),
//! `paths`, `yara`, `sha256` (comma-separated) and `quarantine`
//! (`true`/`false`, default true) for deep clean. Target settings
//! `scan-paths` and `yara-rules` give deep clean's defaults.

use riposte_sdk::action::{self, setting, unchanged};
use riposte_sdk::agent::{
    AgentClient, ContainerReport, ContainerRequest, DnsReport, DnsRequest, KillAndQuarantineReport,
    KillAndQuarantineRequest, KillReport, KillRequest, NetReport, NetRequest, QuarantineRecord,
    QuarantineRequest, RestoreReport, RestoreRequest, ScanReport, ScanRequest, SnapshotRequest,
    Verdict, route,
};
use riposte_sdk::types::{
    ActionRequest, EntityKind, Failure, ItemResult, Outcome, PlanOutcome, SettingSpec,
};
use riposte_sdk::{failure, log};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::Action;

/// The most of a snapshot returned in the outcome; the agent keeps the
/// whole of it in its state directory.
const MAX_REPORT_BYTES: usize = 192 * 1024;

pub(crate) fn settings(action: Action) -> Vec<SettingSpec> {
    match action {
        Action::DeepCleanUp => vec![
            setting(
                "scan-paths",
                "agent targets: comma-separated absolute paths deep clean scans when the step \
                 names none, e.g. /tmp,/var/tmp,/dev/shm",
                false,
            ),
            setting(
                "yara-rules",
                "agent targets: YARA rule source deep clean uses when the step gives none",
                false,
            ),
        ],
        _ => Vec::new(),
    }
}

/// What revert needs.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
enum Token {
    Restore {
        ids: Vec<String>,
        paths: Vec<String>,
    },
    Container {
        id: String,
        name: String,
    },
    Net {
        address: String,
        verdict: Verdict,
    },
    Dns {
        domain: String,
        verdict: Verdict,
    },
}

fn client_call<Q: Serialize, A: serde::de::DeserializeOwned>(
    request: &ActionRequest,
    route: &str,
    body: &Q,
) -> Result<A, Failure> {
    let credential = action::credential(request, "endpoint")?;
    let client = AgentClient::new(&credential, &request.target.endpoint)?;
    client.call(route, body)
}

fn attribute<'a>(request: &'a ActionRequest, name: &str) -> Option<&'a str> {
    request
        .entity
        .attributes
        .iter()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.as_str())
        .filter(|value| !value.is_empty())
}

fn kinds_error(request: &ActionRequest, accepted: &str) -> Failure {
    failure::invalid_input(format!(
        "`{}` does not accept `{}` entities; it accepts {accepted}",
        request.action,
        action::kind_name(request.entity.kind)
    ))
}

fn grace(request: &ActionRequest) -> Result<Option<u64>, Failure> {
    request
        .parameter("grace-ms")
        .map(|text| {
            text.parse().map_err(|_| {
                failure::invalid_input(format!(
                    "parameter `grace-ms` is `{text}`; expected milliseconds, e.g. 2000"
                ))
            })
        })
        .transpose()
}

fn kill_request(request: &ActionRequest) -> Result<KillRequest, Failure> {
    let mut kill = KillRequest {
        idempotency_key: request.idempotency_key.clone(),
        grace_ms: grace(request)?,
        ..KillRequest::default()
    };
    match request.entity.kind {
        EntityKind::Process => {
            let pid = request.entity.value.trim().parse::<u32>().map_err(|_| {
                failure::invalid_input(format!(
                    "process `{}` is not a pid; expected a positive integer",
                    request.entity.value
                ))
            })?;
            kill.pid = Some(pid);
            kill.start_time = attribute(request, "start-time").map(str::to_owned);
            kill.exe = attribute(request, "exe").map(str::to_owned);
            kill.sha256 = attribute(request, "sha256").map(str::to_owned);
        }
        EntityKind::FileHash if request.action == Action::KillProcess.id() => {
            kill.sha256 = Some(request.entity.value.clone());
        }
        _ => return Err(kinds_error(request, "`process` or `file-hash`")),
    }
    Ok(kill)
}

fn kill_detail(report: &KillReport) -> String {
    let parts: Vec<String> = report
        .killed
        .iter()
        .map(|k| format!("pid {} ({}) with SIG{}", k.pid, k.exe, k.signal))
        .collect();
    let mut detail = if parts.is_empty() {
        "no matching process was running (already gone)".to_owned()
    } else {
        format!("killed {}", parts.join(", "))
    };
    if !report.spared.is_empty() {
        detail.push_str(&format!("; spared: {}", report.spared.join("; ")));
    }
    detail
}

fn quarantine_detail(record: &QuarantineRecord) -> String {
    format!(
        "quarantined {} (sha256 {}, {} bytes, mode {:o}, uid {}) as entry {}",
        record.original_path, record.sha256, record.size, record.mode, record.uid, record.id
    )
}

/// Block for the block actions, allow for the allowlist ones.
fn verdict(action: Action) -> Verdict {
    match action {
        Action::NetWhiteIp | Action::NetWhiteDns => Verdict::Allow,
        _ => Verdict::Block,
    }
}

fn word(verdict: Verdict, block: &'static str, allow: &'static str) -> &'static str {
    match verdict {
        Verdict::Block => block,
        Verdict::Allow => allow,
    }
}

fn net_request(request: &ActionRequest, verdict: Verdict) -> Result<NetRequest, Failure> {
    let address = action::address(request, true)?;
    Ok(NetRequest {
        idempotency_key: request.idempotency_key.clone(),
        address: address.to_string(),
        verdict,
        timeout_seconds: request.duration_seconds,
    })
}

fn dns_request(request: &ActionRequest, verdict: Verdict) -> Result<DnsRequest, Failure> {
    if request.entity.kind != EntityKind::Domain {
        return Err(kinds_error(request, "`domain`"));
    }
    Ok(DnsRequest {
        idempotency_key: request.idempotency_key.clone(),
        domain: request.entity.value.clone(),
        verdict,
    })
}

fn list(text: &str) -> Vec<String> {
    text.split([',', '\n'])
        .map(str::trim)
        .filter(|item| !item.is_empty())
        .map(str::to_owned)
        .collect()
}

fn scan_request(request: &ActionRequest) -> Result<ScanRequest, Failure> {
    let mut scan = ScanRequest {
        idempotency_key: request.idempotency_key.clone(),
        paths: request
            .parameter("paths")
            .or(request.setting("scan-paths"))
            .map(list)
            .unwrap_or_default(),
        yara: request
            .parameter("yara")
            .or(request.setting("yara-rules"))
            .filter(|rules| !rules.trim().is_empty())
            .map(str::to_owned),
        sha256: request.parameter("sha256").map(list).unwrap_or_default(),
        quarantine: match request.parameter("quarantine") {
            None | Some("true") => true,
            Some("false") => false,
            Some(other) => {
                return Err(failure::invalid_input(format!(
                    "parameter `quarantine` is `{other}`; expected true or false"
                )));
            }
        },
    };
    match request.entity.kind {
        EntityKind::Host => {}
        EntityKind::File => scan.paths.push(request.entity.value.clone()),
        EntityKind::FileHash => scan.sha256.push(request.entity.value.clone()),
        _ => return Err(kinds_error(request, "`host`, `file` or `file-hash`")),
    }
    if scan.paths.is_empty() {
        return Err(failure::invalid_input(format!(
            "`{}` has nothing to scan: give step parameter `paths` or target setting \
             `scan-paths` (comma-separated absolute paths)",
            request.action
        )));
    }
    if scan.yara.is_none() && scan.sha256.is_empty() {
        return Err(failure::invalid_input(format!(
            "`{}` has nothing to look for: give YARA rules (parameter `yara` or setting \
             `yara-rules`) or SHA-256 values (parameter `sha256` or a `file-hash` entity)",
            request.action
        )));
    }
    Ok(scan)
}

pub(crate) fn execute(action: Action, request: &ActionRequest) -> Result<Outcome, Failure> {
    match action {
        Action::KillProcess => {
            let body = kill_request(request)?;
            let report: KillReport = client_call(request, route::KILL, &body)?;
            log::info(&kill_detail(&report));
            Ok(Outcome {
                detail: kill_detail(&report),
                changed: !report.killed.is_empty(),
                revert_token: None,
                items: Vec::new(),
            })
        }
        Action::QuaraFile => {
            if request.entity.kind != EntityKind::File {
                return Err(kinds_error(request, "`file`"));
            }
            let body = QuarantineRequest {
                idempotency_key: request.idempotency_key.clone(),
                path: request.entity.value.clone(),
                sha256: attribute(request, "sha256").map(str::to_owned),
            };
            let record: QuarantineRecord = client_call(request, route::QUARANTINE, &body)?;
            restorable(quarantine_detail(&record), vec![record])
        }
        Action::KillQuara => {
            let kill = kill_request(request)?;
            let body = KillAndQuarantineRequest {
                path: request.parameter("path").map(str::to_owned),
                kill,
            };
            let report: KillAndQuarantineReport =
                client_call(request, route::KILL_AND_QUARANTINE, &body)?;
            let detail = format!(
                "{}; {}",
                kill_detail(&report.kill),
                quarantine_detail(&report.quarantined)
            );
            restorable(detail, vec![report.quarantined])
        }
        Action::StopContainer => {
            if request.entity.kind != EntityKind::Container {
                return Err(kinds_error(request, "`container`"));
            }
            let body = ContainerRequest {
                idempotency_key: request.idempotency_key.clone(),
                id: request.entity.value.clone(),
                timeout_seconds: None,
            };
            let report: ContainerReport = client_call(request, route::CONTAINER_STOP, &body)?;
            if !report.changed {
                return Ok(unchanged(format!(
                    "container {} ({}) was already {}",
                    report.name, report.id, report.state
                )));
            }
            let token = Token::Container {
                id: report.id.clone(),
                name: report.name.clone(),
            };
            Ok(Outcome {
                detail: format!("stopped container {} ({})", report.name, report.id),
                changed: true,
                revert_token: Some(action::revert_token(&token)?),
                items: Vec::new(),
            })
        }
        Action::DeepCleanUp => {
            let body = scan_request(request)?;
            let report: ScanReport = client_call(request, route::SCAN, &body)?;
            deep_clean_outcome(&report)
        }
        Action::OfflineCheck => {
            if request.entity.kind != EntityKind::Host {
                return Err(kinds_error(request, "`host`"));
            }
            let body = SnapshotRequest {
                idempotency_key: request.idempotency_key.clone(),
            };
            let snapshot: Value = client_call(request, route::SNAPSHOT, &body)?;
            Ok(Outcome {
                detail: snapshot_report(snapshot),
                changed: false,
                revert_token: None,
                items: Vec::new(),
            })
        }
        Action::NetBlockIp | Action::NetWhiteIp => {
            let verdict = verdict(action);
            let body = net_request(request, verdict)?;
            let report: NetReport = client_call(request, route::NET_ADD, &body)?;
            let until = match body.timeout_seconds {
                Some(seconds) => format!(" for {seconds}s"),
                None => String::new(),
            };
            let token = Token::Net {
                address: report.element.clone(),
                verdict,
            };
            Ok(Outcome {
                detail: format!(
                    "{} {} in nftables set {}{until}",
                    report.element,
                    if report.changed {
                        "added"
                    } else {
                        "was already"
                    },
                    report.set
                ),
                changed: report.changed,
                revert_token: report
                    .changed
                    .then(|| action::revert_token(&token))
                    .transpose()?,
                items: Vec::new(),
            })
        }
        Action::NetBlockDns | Action::NetWhiteDns => {
            let verdict = verdict(action);
            let body = dns_request(request, verdict)?;
            let report: DnsReport = client_call(request, route::DNS_ADD, &body)?;
            let token = Token::Dns {
                domain: body.domain.clone(),
                verdict,
            };
            Ok(Outcome {
                detail: format!(
                    "{} {}: {}",
                    report.file,
                    if report.changed {
                        "now has"
                    } else {
                        "already had"
                    },
                    report.lines.join(" | ")
                ),
                changed: report.changed,
                revert_token: report
                    .changed
                    .then(|| action::revert_token(&token))
                    .transpose()?,
                items: Vec::new(),
            })
        }
    }
}

fn restorable(detail: String, records: Vec<QuarantineRecord>) -> Result<Outcome, Failure> {
    let token = Token::Restore {
        ids: records.iter().map(|r| r.id.clone()).collect(),
        paths: records.iter().map(|r| r.original_path.clone()).collect(),
    };
    Ok(Outcome {
        detail,
        changed: true,
        revert_token: Some(action::revert_token(&token)?),
        items: Vec::new(),
    })
}

fn deep_clean_outcome(report: &ScanReport) -> Result<Outcome, Failure> {
    let mut items = Vec::new();
    let mut quarantined = Vec::new();
    for found in &report.matches {
        let why = if found.rules.is_empty() {
            "listed SHA-256".to_owned()
        } else {
            format!("YARA {}", found.rules.join(", "))
        };
        match (&found.quarantined, &found.error) {
            (Some(record), _) => {
                items.push(ItemResult {
                    item: found.path.clone(),
                    failure: None,
                    detail: format!("{why}; {}", quarantine_detail(record)),
                });
                quarantined.push(record.clone());
            }
            (None, Some(error)) => items.push(ItemResult {
                item: found.path.clone(),
                failure: Some(failure::internal(format!("not quarantined: {error}"))),
                detail: why,
            }),
            (None, None) => items.push(ItemResult {
                item: found.path.clone(),
                failure: None,
                detail: format!("{why} (sha256 {}); reported only", found.sha256),
            }),
        }
    }
    let detail = format!(
        "scanned {} files: {} matched, {} quarantined{}",
        report.files_scanned,
        report.matches.len(),
        quarantined.len(),
        if report.unreadable.is_empty() {
            String::new()
        } else {
            format!("; {} paths unreadable", report.unreadable.len())
        }
    );
    let revert_token = if quarantined.is_empty() {
        None
    } else {
        let token = Token::Restore {
            ids: quarantined.iter().map(|r| r.id.clone()).collect(),
            paths: quarantined
                .iter()
                .map(|r| r.original_path.clone())
                .collect(),
        };
        Some(action::revert_token(&token)?)
    };
    Ok(Outcome {
        detail,
        changed: !quarantined.is_empty(),
        revert_token,
        items,
    })
}

/// The snapshot as the task's report: the whole JSON when it fits, else
/// with its longest lists cut and a note saying so.
fn snapshot_report(mut snapshot: Value) -> String {
    let mut text = snapshot.to_string();
    let mut cut = Vec::new();
    while text.len() > MAX_REPORT_BYTES {
        let Some(object) = snapshot.as_object_mut() else {
            break;
        };
        let longest = object
            .iter_mut()
            .filter_map(|(name, value)| value.as_array_mut().map(|list| (name.clone(), list)))
            .max_by_key(|(_, list)| list.len());
        let Some((name, list)) = longest else {
            break;
        };
        if list.len() <= 1 {
            break;
        }
        let keep = list.len() / 2;
        list.truncate(keep);
        cut.push(format!("{name} cut to {keep}"));
        text = snapshot.to_string();
    }
    if !cut.is_empty() {
        if let Some(object) = snapshot.as_object_mut() {
            object.insert(
                "truncated".into(),
                Value::String(format!(
                    "{}; the agent keeps the full snapshot",
                    cut.join(", ")
                )),
            );
        }
        text = snapshot.to_string();
    }
    text
}

pub(crate) fn revert(
    action: Action,
    request: &ActionRequest,
    token: &str,
) -> Result<Outcome, Failure> {
    let token: Token = action::parse_revert_token(token, action.id())?;
    match token {
        Token::Restore { ids, paths } => {
            let mut restored = Vec::new();
            let mut already = Vec::new();
            for (id, path) in ids.iter().zip(&paths) {
                let body = RestoreRequest {
                    idempotency_key: request.idempotency_key.clone(),
                    id: id.clone(),
                };
                let report: RestoreReport = client_call(request, route::RESTORE, &body)?;
                if report.restored {
                    restored.push(path.clone());
                } else {
                    already.push(path.clone());
                }
            }
            let mut detail = format!("restored {}", restored.join(", "));
            if !already.is_empty() {
                detail.push_str(&format!("; already restored: {}", already.join(", ")));
            }
            Ok(Outcome {
                detail,
                changed: !restored.is_empty(),
                revert_token: None,
                items: Vec::new(),
            })
        }
        Token::Container { id, name } => {
            let body = ContainerRequest {
                idempotency_key: request.idempotency_key.clone(),
                id,
                timeout_seconds: None,
            };
            let report: ContainerReport = client_call(request, route::CONTAINER_START, &body)?;
            Ok(Outcome {
                detail: format!(
                    "container {name} {}",
                    if report.changed {
                        "started again"
                    } else {
                        "was already running"
                    }
                ),
                changed: report.changed,
                revert_token: None,
                items: Vec::new(),
            })
        }
        Token::Net { address, verdict } => {
            let body = NetRequest {
                idempotency_key: request.idempotency_key.clone(),
                address,
                verdict,
                timeout_seconds: None,
            };
            let report: NetReport = client_call(request, route::NET_REMOVE, &body)?;
            Ok(Outcome {
                detail: format!(
                    "{} {} nftables set {}",
                    report.element,
                    if report.changed {
                        "removed from"
                    } else {
                        "was already gone (expired or removed) from"
                    },
                    report.set
                ),
                changed: report.changed,
                revert_token: None,
                items: Vec::new(),
            })
        }
        Token::Dns { domain, verdict } => {
            let body = DnsRequest {
                idempotency_key: request.idempotency_key.clone(),
                domain: domain.clone(),
                verdict,
            };
            let report: DnsReport = client_call(request, route::DNS_REMOVE, &body)?;
            Ok(Outcome {
                detail: format!(
                    "{domain} {} {}",
                    if report.changed {
                        "removed from the managed section of"
                    } else {
                        "was already gone from"
                    },
                    report.file
                ),
                changed: report.changed,
                revert_token: None,
                items: Vec::new(),
            })
        }
    }
}

pub(crate) fn plan(action: Action, request: &ActionRequest) -> Result<PlanOutcome, Failure> {
    let at = &request.target.endpoint;
    let (change, reversible) = match action {
        Action::KillProcess => {
            let kill = kill_request(request)?;
            let what = match (kill.pid, &kill.sha256) {
                (Some(pid), _) => format!("process {pid}"),
                (None, Some(hash)) => {
                    format!("every process running an executable with sha256 {hash}")
                }
                (None, None) => "nothing".to_owned(),
            };
            (
                format!("kill {what} (TERM, then KILL) on the agent at {at}"),
                false,
            )
        }
        Action::QuaraFile => {
            if request.entity.kind != EntityKind::File {
                return Err(kinds_error(request, "`file`"));
            }
            (
                format!("quarantine {} on the agent at {at}", request.entity.value),
                true,
            )
        }
        Action::KillQuara => {
            let kill = kill_request(request)?;
            let file = request
                .parameter("path")
                .or(kill.exe.as_deref())
                .unwrap_or("its executable");
            (
                format!(
                    "kill process {} and quarantine {file} on the agent at {at}",
                    kill.pid.unwrap_or_default()
                ),
                true,
            )
        }
        Action::StopContainer => {
            if request.entity.kind != EntityKind::Container {
                return Err(kinds_error(request, "`container`"));
            }
            (
                format!(
                    "stop container {} on the agent at {at}",
                    request.entity.value
                ),
                true,
            )
        }
        Action::DeepCleanUp => {
            let scan = scan_request(request)?;
            (
                format!(
                    "scan {} with {}{} SHA-256 values and {} matches on the agent at {at}",
                    scan.paths.join(", "),
                    if scan.yara.is_some() {
                        "YARA rules and "
                    } else {
                        ""
                    },
                    scan.sha256.len(),
                    if scan.quarantine {
                        "quarantine"
                    } else {
                        "report"
                    }
                ),
                true,
            )
        }
        Action::OfflineCheck => (
            format!("collect a host snapshot from the agent at {at}"),
            false,
        ),
        Action::NetBlockIp | Action::NetWhiteIp => {
            let verdict = verdict(action);
            let net = net_request(request, verdict)?;
            (
                format!(
                    "add {} to the agent's nftables {} set at {at}{}",
                    net.address,
                    word(verdict, "block", "allow"),
                    net.timeout_seconds
                        .map(|s| format!(" with a {s}s timeout"))
                        .unwrap_or_default()
                ),
                true,
            )
        }
        Action::NetBlockDns | Action::NetWhiteDns => {
            let verdict = verdict(action);
            let dns = dns_request(request, verdict)?;
            (
                format!(
                    "{} {} in the agent's managed resolver section at {at}",
                    word(verdict, "sinkhole", "allow"),
                    dns.domain
                ),
                true,
            )
        }
    };
    Ok(PlanOutcome {
        changes: vec![change],
        reversible,
    })
}
