//! `riposte demo` end to end, in process: the demo's summary must match
//! what the provider simulator and the endpoint agent actually recorded,
//! and every action it shows must have done what it says on this machine.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use riposte::demo::{ActionRow, DemoOptions, run};
use riposte_tests::engine::Scratch;

/// The whole demo, setup included, must finish well inside the test's
/// budget on a 2-core debug build.
const LIMIT: Duration = Duration::from_secs(90);

fn row<'a>(rows: &'a [ActionRow], action: &str, target: &str) -> &'a ActionRow {
    rows.iter()
        .find(|row| row.action == action && row.target == target)
        .unwrap_or_else(|| panic!("no row for {action} on {target}: {rows:#?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_acts_through_the_daemon_and_its_summary_matches_the_other_side() {
    riposte_tests::init_logs();
    let scratch = Scratch::new("demo");
    let started = Instant::now();
    let options = DemoOptions {
        data_dir: Some(scratch.path().join("data")),
        files: Vec::new(),
        verbose: false,
    };
    let mut demo = tokio::time::timeout(LIMIT, run(options))
        .await
        .expect("the demo finishes in time")
        .expect("the demo runs");
    let summary = demo.summary.clone();
    let rows = &summary.actions;
    let sim = &demo.simulator;

    // What each row says the other side holds is what it holds.
    let counted = [
        ("AliyunWafBlockIP", "aliyun-waf", sim.waf_rules().len()),
        (
            "AliyunFirewallProcess",
            "aliyun-cloudfw",
            sim.cloudfw_policies().len(),
        ),
        (
            "SecurityPolicyBlockIP",
            "aliyun-ecs",
            sim.security_group_rules().len(),
        ),
        ("RegionCLBProcess", "aliyun-clb", sim.acl_entries().len()),
        (
            "AliyunDDoSProxyBlockIP",
            "aliyun-ddos",
            sim.ddos_entries().len(),
        ),
        (
            "TencentCFWBlockIP",
            "tencent-cfw",
            sim.tencent_cfw_rules().len(),
        ),
        (
            "TencentWafBlockIP",
            "tencent-waf",
            sim.tencent_waf_rules().len(),
        ),
        (
            "HuaWeiRegionCfwBlockIP",
            "huawei-cfw",
            sim.huawei_cfw_entries().len(),
        ),
        (
            "HuaWeiWafBlockIP",
            "huawei-waf",
            sim.huawei_waf_rules().len(),
        ),
    ];
    for (action, target, on_simulator) in counted {
        let row = row(rows, action, target);
        assert_eq!(row.recorded, on_simulator, "{row:?}");
        assert_eq!(row.succeeded, on_simulator, "{row:?}");
    }
    // The CDN blacklist is one value rewritten whole; the engine runs
    // CDNProcess one at a time per target, so no block is lost to a
    // concurrent rewrite (the demo found that loss before it did).
    let cdn = row(rows, "CDNProcess", "aliyun-cdn");
    let listed: usize = sim.cdn_ip_blacklists().values().map(Vec::len).sum();
    assert_eq!(cdn.recorded, listed, "{cdn:?}");
    assert_eq!(cdn.succeeded, 4, "{cdn:?}");
    assert_eq!(listed, 4, "{cdn:?}");

    // The four public attackers of the bundled alerts, and only they, are
    // blocked on the WAF; internal addresses and our own server are
    // allowlisted, so their tasks end ignored.
    let blocked: BTreeSet<String> = sim
        .waf_rules()
        .iter()
        .flat_map(|rule| rule.remote_addr.clone())
        .collect();
    let expected: BTreeSet<String> = [
        "203.0.113.45",
        "198.51.100.23",
        "192.0.2.200",
        "2001:db8::bad",
    ]
    .into_iter()
    .map(String::from)
    .collect();
    let blocked: BTreeSet<String> = blocked
        .iter()
        .map(|addr| {
            addr.trim_end_matches("/32")
                .trim_end_matches("/128")
                .to_owned()
        })
        .collect();
    assert_eq!(blocked, expected);
    let waf = row(rows, "AliyunWafBlockIP", "aliyun-waf");
    assert_eq!((waf.succeeded, waf.failed, waf.other), (4, 0, 6), "{waf:?}");
    assert!(
        summary
            .tasks
            .iter()
            .filter(|t| t.status == "Ignored")
            .all(|t| t.detail.contains("allowlisted")),
        "{:#?}",
        summary.tasks
    );
    // Every block carries its expiry; the IPv6 address on the IPv4 ACL
    // fails with the provider's reason.
    assert!(
        summary
            .tasks
            .iter()
            .filter(|t| t.status == "Succeeded" && t.action == "AliyunWafBlockIP")
            .all(|t| t.expires_at.is_some())
    );
    let clb = row(rows, "RegionCLBProcess", "aliyun-clb");
    assert_eq!((clb.succeeded, clb.failed), (3, 1), "{clb:?}");
    let clb_failure = summary
        .tasks
        .iter()
        .find(|t| t.action == "RegionCLBProcess" && t.status == "Failed")
        .unwrap();
    assert!(
        clb_failure.detail.contains("IllegalEntry"),
        "{clb_failure:?}"
    );

    // Security Center handled its event with block_ip.
    let sas = row(rows, "AliNetBlockIP", "security-center");
    assert_eq!((sas.succeeded, sas.recorded), (1, 1), "{sas:?}");

    // The agent: each action succeeded once and its audit log says so;
    // the host firewall block was refused, since `net` is not allowed.
    let audit = demo.agent.audit_entries();
    let done = |route: &str| {
        audit
            .iter()
            .filter(|e| e["route"] == route && e["status"] == 200)
            .count()
    };
    for (action, route) in [
        ("AegisKillProcess", "/v1/process/kill"),
        ("AegisKillQuara", "/v1/process/kill-and-quarantine"),
        ("AegisQuaraFile", "/v1/file/quarantine"),
        ("AegisDeepCleanUp", "/v1/scan"),
        ("AliNetBlockDNS", "/v1/dns/add"),
    ] {
        let row = row(rows, action, "endpoint-agent");
        assert_eq!((row.succeeded, row.recorded), (1, done(route)), "{row:?}");
        assert_eq!(done(route), 1, "{audit:#?}");
    }
    let net = row(rows, "AliNetBlockIP", "endpoint-agent");
    assert_eq!(
        (net.succeeded, net.failed, net.recorded),
        (0, 1, 0),
        "{net:?}"
    );
    assert!(
        audit
            .iter()
            .any(|e| e["route"] == "/v1/net/add" && e["status"] == 403)
    );

    // On this machine: the miner and the reverse shell were killed, the
    // beacon (only sinkholed) still runs; both web shells are quarantined
    // and the page is left alone; the domain is in the scratch hosts file.
    let fates = demo.scratch.fates();
    let fate = |name: &str| {
        fates
            .iter()
            .find(|(n, _, _)| n == name)
            .map(|(_, _, fate)| fate.clone())
            .unwrap()
    };
    assert_eq!(fate("xmrig"), "killed (SIGTERM)");
    assert_eq!(fate("rsh-callback"), "killed (SIGTERM)");
    assert_eq!(fate("update-checker"), "still running");
    assert!(!demo.scratch.web_shell.exists());
    assert!(!demo.scratch.hidden_shell.exists());
    assert!(demo.scratch.page.exists());
    assert!(!demo.scratch.process("xmrig").exe.exists());
    assert_eq!(summary.sinkholed, ["c2.update-checker.example"]);

    // The samples match no rule: nothing acts on another machine's pids.
    for file in &summary.files {
        if file.origin.contains("Apache-2.0") || file.origin.contains("MIT") {
            assert!(file.ingested > 0 && file.rules.is_empty(), "{file:?}");
        }
    }

    demo.shutdown().await;
    assert!(started.elapsed() < LIMIT, "{:?}", started.elapsed());
}
