//! `riposte demo`: the foundation end to end, on this machine only.
//!
//! Replays Suricata EVE alerts, picks each alert's attacker address, and
//! blocks it on the provider simulator's Alibaba Cloud WAF through the
//! bundled `aliyun-waf` component in the sandbox, then lifts every block.
//! Every request is signed and verified; the resolver maps the endpoint
//! name to 127.0.0.1 and the connector refuses anything but loopback.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use riposte_simulator::{Simulator, SimulatorConfig};

use crate::ingest::{self, Format, Parsed};
use crate::runtime::gate::{LoopbackOnlyConnector, Network, StaticResolver, special_reason};
use crate::runtime::secrets::{SecretStore, SecretValue};
use crate::runtime::{Grant, Runtime, RuntimeConfig, wit};

/// The alerts replayed when no file is named.
const BUNDLED_ALERTS: &str = include_str!("../../demo/alerts/eve.json");

/// The name the demo target's endpoint uses; resolved to 127.0.0.1.
const WAF_HOST: &str = "wafopenapi.simulator.test";
const INSTANCE: &str = "waf_v2_public_cn-demo";
const TEMPLATE: &str = "1122";
const CREDENTIAL: &str = "aliyun-demo";

/// How long the demo's blocks are meant to last.
const BLOCK_FOR: Duration = Duration::from_secs(3600);

/// What the demo takes from a normalized alert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sighting {
    pub title: String,
    pub src_ip: Option<IpAddr>,
    pub dest_ip: Option<IpAddr>,
}

impl Sighting {
    fn from_alert(alert: &serde_json::Value) -> Self {
        let ip = |field: &str| alert[field].as_str().and_then(|ip| ip.parse().ok());
        Self {
            title: alert["title"].as_str().unwrap_or_default().to_string(),
            src_ip: ip("src_ip"),
            dest_ip: ip("dest_ip"),
        }
    }
}

/// What the demo did, for its summary and for tests.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct DemoSummary {
    /// Records read, of which alerts.
    pub records: usize,
    /// Alert records.
    pub alerts: usize,
    /// Lines that could not be read, with the reason.
    pub unreadable: Vec<String>,
    /// Alerts with nothing public to block.
    pub skipped: usize,
    /// Distinct attacker addresses.
    pub attackers: usize,
    /// Blocks placed (address, rule ids).
    pub blocked: Vec<(IpAddr, String)>,
    /// Blocks that failed (address, failure).
    pub failed: Vec<(IpAddr, String)>,
    /// Blocks lifted again.
    pub reverted: usize,
    /// Rules left on the simulated WAF at the end.
    pub rules_left: usize,
}

/// Runs the demo over `files` (the bundled alerts when empty) and prints
/// what happens as it goes.
pub async fn run(files: &[PathBuf]) -> anyhow::Result<DemoSummary> {
    let mut summary = DemoSummary::default();
    let attackers = read_alerts(files, &mut summary)?;
    summary.attackers = attackers.len();

    let key_id = "LTAI5tDemoKeyId00000";
    let secret = fresh_secret();
    let config = SimulatorConfig::default()
        .with_credential(key_id, &secret)
        .with_waf_template(INSTANCE, TEMPLATE.parse()?);
    let simulator =
        Simulator::start(config).context("starting the provider simulator on 127.0.0.1")?;
    let port = simulator.addr().port();
    println!("provider simulator: Alibaba Cloud WAF 3.0 on http://127.0.0.1:{port}");

    let secrets = SecretStore::new();
    secrets.insert(CREDENTIAL, SecretValue::new(key_id, secret.into_bytes()));
    let resolver = StaticResolver::new().with(WAF_HOST, &[IpAddr::from([127, 0, 0, 1])]);
    let network = Network::new(Arc::new(resolver), Arc::new(LoopbackOnlyConnector::new()));
    let runtime = Runtime::new(RuntimeConfig::default(), network, secrets)
        .map_err(|err| anyhow::anyhow!("building the runtime: {err:#}"))?;
    let component = runtime
        .load(crate::bundled::ALIYUN_WAF.to_vec())
        .await
        .context("loading the bundled aliyun-waf component")?;
    let info = component.info();
    println!(
        "component: {} {} (sha256 {}…), actions: {}",
        info.name,
        info.version,
        &component.digest()[..16],
        info.actions
            .iter()
            .map(|a| a.id.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    );
    let grant = Grant {
        hosts: vec![
            format!("http://{WAF_HOST}:{port}").parse()?,
            format!("http://127.0.0.1:{port}").parse()?,
        ],
        secrets: vec![CREDENTIAL.into()],
    };
    println!(
        "granted: http://{WAF_HOST}:{port} (resolves to 127.0.0.1) and secret `{CREDENTIAL}`\n"
    );

    let mut tokens = Vec::new();
    let total = attackers.len();
    for (index, (ip, alert)) in attackers.iter().enumerate() {
        let request = block_request(*ip, port, index);
        let report = runtime
            .execute(&component, &grant, request.clone(), None)
            .await;
        let progress = format!("[{}/{total}]", index + 1);
        match report.result {
            Ok(outcome) => {
                println!(
                    "{progress} blocked {ip:<22} {} ({}), until lifted or {} min",
                    outcome
                        .detail
                        .split(" blocks ")
                        .next()
                        .unwrap_or(&outcome.detail),
                    alert.title,
                    BLOCK_FOR.as_secs() / 60
                );
                let token = outcome.revert_token.unwrap_or_default();
                summary.blocked.push((*ip, rule_ids(&token)));
                tokens.push((request, token));
            }
            Err(failure) => {
                println!("{progress} FAILED  {ip:<22} {failure}");
                summary.failed.push((*ip, failure.to_string()));
            }
        }
    }

    println!(
        "\nrules on the simulated WAF: {}",
        simulator.waf_rules().len()
    );
    println!("lifting the blocks (what the revert timer will do when they expire):");
    for (request, token) in tokens {
        let ip = request.entity.value.clone();
        let report = runtime
            .revert(&component, &grant, request, token, None)
            .await;
        match report.result {
            Ok(outcome) => {
                summary.reverted += 1;
                println!("  unblocked {ip:<22} {}", outcome.detail);
            }
            Err(failure) => println!("  FAILED to unblock {ip}: {failure}"),
        }
    }
    summary.rules_left = simulator.waf_rules().len();
    print_summary(&summary);
    Ok(summary)
}

/// Reads every file's alerts and returns the distinct attacker addresses
/// with the first alert that named each, in order of appearance.
fn read_alerts(
    files: &[PathBuf],
    summary: &mut DemoSummary,
) -> anyhow::Result<Vec<(IpAddr, Sighting)>> {
    let mut inputs = Vec::new();
    if files.is_empty() {
        inputs.push((
            "demo/alerts/eve.json (bundled)".to_string(),
            BUNDLED_ALERTS.to_string(),
        ));
    }
    for file in files {
        let text = std::fs::read_to_string(file)
            .with_context(|| format!("reading alert file `{}`", file.display()))?;
        inputs.push((file.display().to_string(), text));
    }

    let mut attackers: BTreeMap<IpAddr, (usize, Sighting)> = BTreeMap::new();
    for (name, text) in inputs {
        println!("alerts: {name}");
        for result in ingest::parse_document(Some(Format::SuricataEve), &text) {
            summary.records += 1;
            let alert = match result {
                Ok(Parsed::Alert(alert)) => Sighting::from_alert(&alert),
                Ok(Parsed::Skipped(_)) => continue,
                Err(err) => {
                    println!("  unreadable: {err}");
                    summary.unreadable.push(format!("{name}: {err}"));
                    continue;
                }
            };
            summary.alerts += 1;
            match attacker(&alert) {
                Some(ip) => {
                    let order = attackers.len();
                    attackers.entry(ip).or_insert((order, alert));
                }
                None => {
                    summary.skipped += 1;
                    let shown = |ip: Option<IpAddr>| ip.map_or("-".into(), |ip| ip.to_string());
                    println!(
                        "  skipped: {} -> {} ({}): no public address to block",
                        shown(alert.src_ip),
                        shown(alert.dest_ip),
                        alert.title
                    );
                }
            }
        }
    }
    let mut ordered: Vec<_> = attackers.into_iter().collect();
    ordered.sort_by_key(|(_, (order, _))| *order);
    println!(
        "{} records, {} alerts, {} distinct attacker addresses\n",
        summary.records,
        summary.alerts,
        ordered.len()
    );
    Ok(ordered
        .into_iter()
        .map(|(ip, (_, alert))| (ip, alert))
        .collect())
}

/// The address to block for an alert: the source when it is public (an
/// inbound attack), else the destination when that is public (an internal
/// host calling out, e.g. to a C2 server), else none.
pub fn attacker(alert: &Sighting) -> Option<IpAddr> {
    [alert.src_ip, alert.dest_ip]
        .into_iter()
        .flatten()
        .find(|ip| special_reason(*ip).is_none())
}

fn block_request(ip: IpAddr, port: u16, index: usize) -> wit::ActionRequest {
    let task_id = format!("demo-task-{}", index + 1);
    wit::ActionRequest {
        action: "AliyunWafBlockIP".into(),
        idempotency_key: format!(
            "demo{}{}",
            index + 1,
            ip.to_string().replace([':', '.'], "")
        ),
        task_id,
        attempt: 1,
        entity: wit::Entity {
            kind: wit::EntityKind::Ip,
            value: ip.to_string(),
            attributes: Vec::new(),
        },
        target: wit::Target {
            id: "demo-waf".into(),
            provider: "aliyun".into(),
            account: "demo-account".into(),
            region: "cn-hangzhou".into(),
            resource: INSTANCE.into(),
            endpoint: format!("http://{WAF_HOST}:{port}"),
            credential: Some(CREDENTIAL.into()),
            settings: vec![
                ("instance-id".into(), INSTANCE.into()),
                ("template-id".into(), TEMPLATE.into()),
            ],
        },
        duration_seconds: Some(BLOCK_FOR.as_secs()),
        parameters: Vec::new(),
    }
}

fn rule_ids(token: &str) -> String {
    serde_json::from_str::<serde_json::Value>(token)
        .ok()
        .and_then(|value| value["rule_ids"].as_str().map(str::to_string))
        .unwrap_or_default()
}

/// A secret for this run only, from the OS's randomness via std's hasher
/// seeds; it never leaves the process.
fn fresh_secret() -> String {
    use std::hash::{BuildHasher, RandomState};
    let words: Vec<String> = (0..4)
        .map(|i| format!("{:016x}", RandomState::new().hash_one(i)))
        .collect();
    words.concat()
}

fn print_summary(summary: &DemoSummary) {
    println!("\n| what | count |\n|---|---|");
    let rows = [
        ("records read", summary.records),
        ("alerts", summary.alerts),
        ("unreadable lines", summary.unreadable.len()),
        ("alerts with nothing public to block", summary.skipped),
        ("distinct attacker addresses", summary.attackers),
        ("blocked on the WAF", summary.blocked.len()),
        ("failed", summary.failed.len()),
        ("unblocked", summary.reverted),
        ("rules left on the WAF", summary.rules_left),
    ];
    for (what, count) in rows {
        println!("| {what} | {count} |");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alert(src: &str, dest: &str) -> Sighting {
        Sighting {
            title: String::new(),
            src_ip: src.parse().ok(),
            dest_ip: dest.parse().ok(),
        }
    }

    #[tokio::test]
    async fn the_bundled_alerts_are_blocked_and_lifted_end_to_end() {
        let summary = run(&[]).await.unwrap();
        assert_eq!(
            (summary.records, summary.alerts, summary.skipped),
            (8, 6, 1)
        );
        let blocked: Vec<String> = summary
            .blocked
            .iter()
            .map(|(ip, _)| ip.to_string())
            .collect();
        // The repeated attacker is blocked once; Suricata's expanded IPv6
        // notation arrives normalized; an outbound alert blocks the C2.
        assert_eq!(
            blocked,
            [
                "203.0.113.45",
                "198.51.100.23",
                "192.0.2.200",
                "2001:db8::bad"
            ]
        );
        assert!(summary.blocked.iter().all(|(_, rule)| !rule.is_empty()));
        assert!(summary.failed.is_empty());
        assert_eq!((summary.reverted, summary.rules_left), (4, 0));
    }

    #[tokio::test]
    async fn a_missing_alert_file_is_named() {
        let err = run(&["no/such/eve.json".into()]).await.unwrap_err();
        assert!(
            format!("{err:#}").contains("reading alert file `no/such/eve.json`"),
            "{err:#}"
        );
    }

    #[test]
    fn picks_the_public_side_of_an_alert() {
        let inbound = alert("203.0.113.45", "10.0.2.15");
        assert_eq!(attacker(&inbound), Some("203.0.113.45".parse().unwrap()));
        let outbound = alert("10.0.2.17", "192.0.2.200");
        assert_eq!(attacker(&outbound), Some("192.0.2.200".parse().unwrap()));
        assert_eq!(attacker(&alert("10.0.2.30", "10.0.2.31")), None);
        assert_eq!(attacker(&alert("127.0.0.1", "::1")), None);
    }
}
