//! What the demo prints, and what it counts on the other side of each
//! action (the simulator's state, the agent's audit log).

use std::collections::BTreeMap;
use std::io::Write as _;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use riposte_simulator::Simulator;
use serde_json::Value;

use super::{DemoSummary, FileReport, world};

/// Prints when verbose.
pub struct Printer {
    verbose: bool,
    /// Whether stdout is a terminal: the progress line is redrawn in
    /// place there, and printed once, when done, elsewhere.
    terminal: bool,
    last_progress: std::cell::RefCell<String>,
}

impl Printer {
    pub fn new(verbose: bool) -> Self {
        use std::io::IsTerminal as _;
        Self {
            verbose,
            terminal: std::io::stdout().is_terminal(),
            last_progress: Default::default(),
        }
    }

    pub fn started(&self, port: u16, agent: SocketAddr) {
        if !self.verbose {
            return;
        }
        println!("riposte demo: everything below runs on this machine, on 127.0.0.1 only\n");
        println!(
            "provider simulator  http://127.0.0.1:{port}  Alibaba Cloud (WAF, Cloud Firewall, \
             ECS, SLB, CDN, Anti-DDoS, Security Center), Tencent Cloud, Huawei Cloud; \
             a fresh random credential per provider"
        );
        println!(
            "endpoint agent      http://{agent}  acts only inside the demo's scratch \
             directory; not allowed to touch this machine's firewall (no `net`)"
        );
    }

    pub fn daemon(&self, addr: SocketAddr, data: &Path) {
        if self.verbose {
            println!(
                "daemon              http://{addr}  data in {}; provider names resolve to \
                 127.0.0.1 and only loopback is dialled",
                data.display()
            );
        }
    }

    pub fn setup(&self, targets: &[String], scratch: &world::Scratch) {
        if !self.verbose {
            return;
        }
        println!("\nset up through the API with the admin token:");
        println!("  targets:   {}", targets.join(", "));
        println!(
            "  allowlist: {}",
            super::setup::ALLOWLIST
                .iter()
                .map(|(_, value, reason)| format!("{value} ({reason})"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        let names = |list: &[(&str, &str)]| {
            list.iter()
                .map(|(name, _)| *name)
                .collect::<Vec<_>>()
                .join(", ")
        };
        println!("  scripts:   {}", names(super::setup::SCRIPTS));
        println!("  rules:     {}", names(super::setup::RULES));
        println!(
            "\nplanted in the scratch directory {}:",
            scratch.dir.display()
        );
        for process in &scratch.processes {
            println!(
                "  process {:>7}  {} (a copy of `sleep`)",
                process.child.id(),
                process.exe.display()
            );
        }
        for file in [&scratch.web_shell, &scratch.hidden_shell, &scratch.page] {
            println!("  file             {}", file.display());
        }
        println!("\nalerts:");
    }

    pub fn file(&self, file: &FileReport) {
        if !self.verbose {
            return;
        }
        println!("  {} [{}]", file.name, file.format);
        println!("    source: {}", file.origin);
        println!(
            "    {} ingested, {} duplicates, {} not alerts, {} unreadable",
            file.ingested, file.duplicates, file.skipped, file.failed
        );
        if file.rules.is_empty() {
            println!("    no rule matched");
        }
        for (rule, policies) in &file.rules {
            println!("    rule {rule}: {policies} policies");
        }
        for problem in file.problems.iter().take(5) {
            println!("    ! {problem}");
        }
        if file.problems.len() > 5 {
            println!("    ! ... and {} more", file.problems.len() - 5);
        }
    }

    pub fn progress(&self, counts: &BTreeMap<String, usize>, open: usize, elapsed: Duration) {
        if !self.verbose {
            return;
        }
        let tasks: Vec<String> = counts
            .iter()
            .map(|(status, n)| format!("{n} {status}"))
            .collect();
        let line = format!(
            "  waiting for tasks ({:.1} s): {}; {open} policies open",
            elapsed.as_secs_f64(),
            tasks.join(", ")
        );
        if self.terminal {
            print!("\r{line}   ");
            let _ = std::io::stdout().flush();
        }
        *self.last_progress.borrow_mut() = line;
    }

    pub fn progress_done(&self) {
        if !self.verbose {
            return;
        }
        if self.terminal {
            println!();
        } else {
            println!("{}", self.last_progress.borrow());
        }
    }

    pub fn tasks(&self, summary: &DemoSummary) {
        if !self.verbose {
            return;
        }
        println!("\ntasks:");
        let mut ignored: BTreeMap<(String, String), usize> = BTreeMap::new();
        for task in &summary.tasks {
            if task.status == "Ignored" {
                *ignored
                    .entry((task.entity.clone(), task.detail.clone()))
                    .or_default() += 1;
                continue;
            }
            let until = task
                .expires_at
                .as_ref()
                .map(|at| format!("\n        blocked until {at} (the engine's revert timer)"))
                .unwrap_or_default();
            println!(
                "  #{:<3} {:<9} {} on {}: {}\n        {}{until}",
                task.id,
                task.status,
                task.action,
                task.target,
                task.entity,
                shorten(&task.detail, 300),
            );
        }
        for ((entity, reason), count) in ignored {
            println!("  ignored {count} tasks for {entity}: {reason}");
        }
    }
}

fn shorten(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((cut, _)) => format!("{}...", &text[..cut]),
        None => text.to_owned(),
    }
}

/// Prints the summary table and where everything is.
pub fn print_summary(summary: &DemoSummary) {
    println!(
        "\n| action | target | succeeded | failed | other | recorded by the simulator or agent |"
    );
    println!("|---|---|---:|---:|---:|---|");
    let mut mismatches = Vec::new();
    for row in &summary.actions {
        let flag = if row.recorded == row.succeeded {
            ""
        } else {
            mismatches.push(format!("{} on {}", row.action, row.target));
            " (differs!)"
        };
        println!(
            "| {} | {} | {} | {} | {} | {} {}{flag} |",
            row.action,
            row.target,
            row.succeeded,
            row.failed,
            row.other,
            row.recorded,
            row.recorded_what
        );
    }
    if !mismatches.is_empty() {
        println!(
            "\nwarning: for {} the tasks that succeeded and what the other side holds \
             differ; see the tasks above",
            mismatches.join(", ")
        );
    }
    println!("\non this machine (the demo's own scratch objects):");
    for (name, pid, fate) in &summary.processes {
        println!("  process {pid} ({name}): {fate}");
    }
    for (path, present) in &summary.planted_files {
        let state = if *present {
            "in place"
        } else {
            "gone (quarantined)"
        };
        println!("  {}: {state}", path.display());
    }
    if !summary.sinkholed.is_empty() {
        println!(
            "  sinkholed in the scratch hosts file: {}",
            summary.sinkholed.join(", ")
        );
    }
    println!("\nexplore:");
    println!("  API:              {}", summary.api);
    println!("  admin token file: {}", summary.admin_token_file.display());
    println!("  data directory:   {}", summary.data_dir.display());
    println!("  agent audit log:  {}", summary.agent_audit_log.display());
    println!(
        "  try:              RIPOSTE_SERVER={} RIPOSTE_TOKEN_FILE={} riposte task list",
        summary.api,
        summary.admin_token_file.display()
    );
}

/// What the other side of `action` on `target` holds: a count and what
/// it counts.
pub fn recorded(
    action: &str,
    target: &str,
    simulator: &Simulator,
    audit: &[Value],
) -> (usize, String) {
    let agent = |route: &str, what: &str| {
        let done = audit
            .iter()
            .filter(|entry| entry["route"] == route && entry["status"] == 200)
            .count();
        let refused = audit
            .iter()
            .filter(|entry| entry["route"] == route && entry["status"] != 200)
            .count();
        let refused = if refused > 0 {
            format!(", {refused} refused")
        } else {
            String::new()
        };
        (done, format!("{what} in the agent's audit log{refused}"))
    };
    let sim = |count: usize, what: &str| (count, format!("{what} on the simulator"));
    match (action, target) {
        ("AliyunWafBlockIP", _) => sim(simulator.waf_rules().len(), "WAF rules"),
        ("AliyunFirewallProcess", _) => {
            sim(simulator.cloudfw_policies().len(), "firewall policies")
        }
        ("SecurityPolicyBlockIP", _) => sim(
            simulator.security_group_rules().len(),
            "security group rules",
        ),
        ("RegionCLBProcess", _) => sim(simulator.acl_entries().len(), "ACL entries"),
        ("CDNProcess", _) => sim(
            simulator.cdn_ip_blacklists().values().map(Vec::len).sum(),
            "CDN blacklist entries",
        ),
        ("AliyunDDoSProxyBlockIP", _) => sim(simulator.ddos_entries().len(), "blacklist entries"),
        ("TencentCFWBlockIP", _) => sim(simulator.tencent_cfw_rules().len(), "block list entries"),
        ("TencentWafBlockIP", _) => sim(simulator.tencent_waf_rules().len(), "WAF rules"),
        ("HuaWeiRegionCfwBlockIP", _) => {
            sim(simulator.huawei_cfw_entries().len(), "black list entries")
        }
        ("HuaWeiWafBlockIP", _) => sim(simulator.huawei_waf_rules().len(), "WAF rules"),
        ("AliNetBlockIP", "security-center") => sim(
            simulator
                .sas_events()
                .iter()
                .flat_map(|event| &event.handled)
                .filter(|operation| operation.code == "block_ip")
                .count(),
            "block_ip handlings",
        ),
        ("AegisKillProcess", _) => agent("/v1/process/kill", "kills"),
        ("AegisKillQuara", _) => agent("/v1/process/kill-and-quarantine", "kill-and-quarantines"),
        ("AegisQuaraFile", _) => agent("/v1/file/quarantine", "quarantines"),
        ("AegisDeepCleanUp", _) => agent("/v1/scan", "scans"),
        ("AliNetBlockDNS", _) => agent("/v1/dns/add", "sinkholes"),
        ("AliNetBlockIP", _) => agent("/v1/net/add", "host firewall blocks"),
        _ => (0, "(not counted)".to_owned()),
    }
}
