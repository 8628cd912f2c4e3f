//! Every sample alert file through `ingest::parse_document`, read both as
//! its own format and with per-record detection: exact counts of alerts,
//! skipped records and refusals per file, the shape of every alert, and
//! specific values of a few.
//!
//! Two sample sets: the files committed under `tests/data/samples/`
//! (always checked), and the larger shared set in `../shared/samples/`
//! next to the workspace (checked when present; most of it cannot be
//! committed, see `tests/data/samples/README.md`). Every file of a set
//! must appear in its table below, so a new sample cannot go unchecked.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use riposte::ingest::{Format, LineError, Parsed, parse_document};
use riposte::model::{Entity, EntityKind, Time};
use serde_json::{Value, json};

/// What parsing one file must give.
struct Expected {
    /// Path under the sample set's root.
    path: &'static str,
    /// The format the file is in; `None` for formats riposte has no
    /// adapter for, whose records must be refused.
    format: Option<Format>,
    alerts: usize,
    skipped: usize,
    /// The lines of the refusals, in order.
    refused: &'static [usize],
}

const fn file(
    path: &'static str,
    format: Option<Format>,
    alerts: usize,
    skipped: usize,
    refused: &'static [usize],
) -> Expected {
    Expected {
        path,
        format,
        alerts,
        skipped,
        refused,
    }
}

const EVE: Option<Format> = Some(Format::SuricataEve);
const FALCO: Option<Format> = Some(Format::Falco);
const WAZUH: Option<Format> = Some(Format::Wazuh);
const ALIYUN: Option<Format> = Some(Format::AliyunSas);

/// The files under `tests/data/samples/`.
const COMMITTED: &[Expected] = &[
    file("suricata/riposte/eve.json", EVE, 6, 5, &[]),
    file(
        "falco/falcosecurity__falco/single_rule_with_cat_write.json",
        FALCO,
        8,
        0,
        &[],
    ),
    file(
        "falco/falcosecurity__falcosidekick/client_test.go.falcoTestInput.json",
        FALCO,
        1,
        0,
        &[],
    ),
    file("falco/riposte/events.json", FALCO, 5, 0, &[]),
    file("wazuh/riposte/alerts.jsonl", WAZUH, 5, 0, &[3]),
    file(
        "wazuh/riposte/active-responses.envelopes.jsonl",
        WAZUH,
        1,
        3,
        &[],
    ),
    file("wazuh/riposte/active-responses.log", WAZUH, 1, 7, &[]),
    file("wazuh/riposte/placeholder.json", WAZUH, 1, 0, &[]),
    file("wazuh/riposte/search-response.json", WAZUH, 2, 0, &[]),
    file(
        "alibaba-cloud-sas/riposte/DescribeSuspEvents.response.json",
        ALIYUN,
        2,
        0,
        &[],
    ),
    file(
        "alibaba-cloud-sas/riposte/DescribeAlarmEventList.response.json",
        ALIYUN,
        1,
        0,
        &[],
    ),
    file(
        "alibaba-cloud-sas/riposte/DescribeSuspEventDetail.response.json",
        ALIYUN,
        1,
        0,
        &[],
    ),
    file(
        "alibaba-cloud-sas/riposte/DescribeAlarmEventDetail.response.json",
        ALIYUN,
        1,
        0,
        &[],
    ),
    file(
        "alibaba-cloud-sas/riposte/NoPermission.error.json",
        ALIYUN,
        0,
        0,
        &[1],
    ),
    file(
        "tencent-cloud-cwp/TencentCloud__tencentcloud-cli/DescribeBashEventsNew.response.json",
        None,
        0,
        0,
        &[1],
    ),
    file(
        "tencent-cloud-cwp/TencentCloud__tencentcloud-cli/DescribeMalWareList.response.json",
        None,
        0,
        0,
        &[1],
    ),
    file(
        "tencent-cloud-cwp/TencentCloud__tencentcloud-cli/DescribeReverseShellEvents.response.json",
        None,
        0,
        0,
        &[1],
    ),
    file(
        "tencent-cloud-cwp/TencentCloud__tencentcloud-cli/DescribeRiskDnsEventList.response.json",
        None,
        0,
        0,
        &[1],
    ),
];

/// The files under `../shared/samples/` (see its `SOURCES.md`).
const SHARED: &[Expected] = &[
    file(
        "suricata/OISF__suricata-verify/alert-testmyids/eve.json",
        EVE,
        1,
        0,
        &[],
    ),
    file(
        "suricata/OISF__suricata-verify/dnp3-dnp3_func-alert/eve.json",
        EVE,
        2,
        0,
        &[],
    ),
    file(
        "suricata/OISF__suricata-verify/detect-ldap-operation/eve.json",
        EVE,
        4,
        2,
        &[],
    ),
    file(
        "suricata/OISF__suricata-verify/test-bad-byte-extract-rule-3/eve.json",
        EVE,
        0,
        40,
        &[],
    ),
    file(
        "suricata/OISF__suricata-verify/eve-dns/eve.json",
        EVE,
        0,
        9,
        &[],
    ),
    file("suricata/elastic__beats/eve-alerts.log", EVE, 8, 2, &[]),
    file(
        "suricata/elastic__integrations/test-eve-small.log",
        EVE,
        1,
        11,
        &[],
    ),
    file(
        "suricata/elastic__integrations/test-eve-metadata.log",
        EVE,
        1,
        0,
        &[],
    ),
    file(
        "suricata/elastic__integrations/test-eve-6-0.log",
        EVE,
        1,
        2,
        &[],
    ),
    file(
        "suricata/elastic__integrations/test-eve-dns-4-1-4.log",
        EVE,
        0,
        7,
        &[],
    ),
    file(
        "falco/elastic__integrations/test-falco.log",
        FALCO,
        12,
        0,
        &[],
    ),
    file(
        "falco/falcosecurity__falco/single_rule_with_cat_write.json",
        FALCO,
        8,
        0,
        &[],
    ),
    file(
        "falco/falcosecurity__falcosidekick/client_test.go.falcoTestInput.json",
        FALCO,
        1,
        0,
        &[],
    ),
    file(
        "wazuh/wazuh__wazuh-qa/cases_integratord_read_json_alerts.alert_samples.jsonl",
        WAZUH,
        2,
        0,
        &[2],
    ),
    file(
        "wazuh/wazuh__wazuh-dashboard-plugins/authentication.js.comment_alerts.jsonl",
        WAZUH,
        7,
        0,
        &[],
    ),
    file(
        "wazuh/wazuh__wazuh-documentation/active-responses.envelopes.jsonl",
        WAZUH,
        1,
        3,
        &[],
    ),
    file(
        "wazuh/wazuh__wazuh-documentation/active-responses.log",
        WAZUH,
        1,
        7,
        &[],
    ),
    file("wazuh/wazuh__wazuh/alerts.json", WAZUH, 1, 0, &[]),
    file(
        "alibaba-cloud-sas/imfht__aegis/DescribeAlarmEventDetail.response.json",
        ALIYUN,
        1,
        0,
        &[],
    ),
    file(
        "alibaba-cloud-sas/imfht__aegis/DescribeAlarmEventList.response.json",
        ALIYUN,
        1,
        0,
        &[],
    ),
    file(
        "alibaba-cloud-sas/imfht__aegis/DescribeSuspEventDetail.response.json",
        ALIYUN,
        1,
        0,
        &[],
    ),
    file(
        "alibaba-cloud-sas/imfht__aegis/DescribeSuspEvents.response.json",
        ALIYUN,
        2,
        0,
        &[],
    ),
    file(
        "tencent-cloud-cwp/TencentCloud__tencentcloud-cli/DescribeBashEventsNew.response.json",
        None,
        0,
        0,
        &[1],
    ),
    file(
        "tencent-cloud-cwp/TencentCloud__tencentcloud-cli/DescribeMalWareList.response.json",
        None,
        0,
        0,
        &[1],
    ),
    file(
        "tencent-cloud-cwp/TencentCloud__tencentcloud-cli/DescribeReverseShellEvents.response.json",
        None,
        0,
        0,
        &[1],
    ),
    file(
        "tencent-cloud-cwp/TencentCloud__tencentcloud-cli/DescribeRiskDnsEventList.response.json",
        None,
        0,
        0,
        &[1],
    ),
    file(
        "ecs-ocsf/elastic__integrations/sample_event.json",
        None,
        0,
        0,
        &[1],
    ),
    file("ecs-ocsf/ocsf__examples/falco.json", None, 0, 0, &[1]),
];

fn committed_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("data/samples")
}

fn shared_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/samples")
}

/// Every file under `root` but the READMEs, as paths relative to it.
fn files_under(root: &Path) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let mut pending = vec![root.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else if !matches!(
                path.file_name().and_then(|n| n.to_str()),
                Some("README.md" | "SOURCES.md")
            ) {
                let relative = path.strip_prefix(root).unwrap();
                found.insert(relative.to_string_lossy().replace('\\', "/"));
            }
        }
    }
    found
}

/// Parses every file of a set as its table says, checks each result and
/// returns the alerts by file.
fn check_set(root: &Path, table: &[Expected]) -> Vec<(&'static str, Vec<Value>)> {
    let listed: BTreeSet<String> = table.iter().map(|e| e.path.to_string()).collect();
    assert_eq!(
        files_under(root),
        listed,
        "the files under {} and the test's table differ",
        root.display()
    );

    let mut alerts_by_file = Vec::new();
    for expected in table {
        let text = std::fs::read_to_string(root.join(expected.path)).unwrap();
        let detected = parse_document(None, &text);
        let results = match expected.format {
            Some(format) => {
                let results = parse_document(Some(format), &text);
                assert_eq!(
                    results, detected,
                    "{}: detection read it differently",
                    expected.path
                );
                results
            }
            None => detected,
        };

        let (alerts, skipped, refused) = tally(expected.path, &results);
        let counts = (alerts.len(), skipped, refused.as_slice());
        assert_eq!(
            counts,
            (expected.alerts, expected.skipped, expected.refused),
            "{}: (alerts, skipped, refused lines)",
            expected.path
        );
        println!(
            "{}: {} alerts, {} skipped, refused at lines {:?}",
            expected.path, counts.0, counts.1, counts.2
        );
        alerts_by_file.push((expected.path, alerts));
    }
    alerts_by_file
}

/// Splits results into alerts (each checked), the count of skips and the
/// lines of refusals, checking that every skip and refusal says why.
fn tally(path: &str, results: &[Result<Parsed, LineError>]) -> (Vec<Value>, usize, Vec<usize>) {
    let mut alerts = Vec::new();
    let mut skipped = 0;
    let mut refused = Vec::new();
    for result in results {
        match result {
            Ok(Parsed::Alert(alert)) => {
                check_alert(path, alert);
                alerts.push(alert.clone());
            }
            Ok(Parsed::Skipped(reason)) => {
                assert!(!reason.trim().is_empty(), "{path}: a skip without a reason");
                skipped += 1;
            }
            Err(err) => {
                assert!(!err.reason.trim().is_empty(), "{path}: {err}");
                refused.push(err.line);
            }
        }
    }
    (alerts, skipped, refused)
}

/// The normalized alert's invariants.
fn check_alert(path: &str, alert: &Value) {
    let title = alert["title"].as_str().unwrap_or_default();
    assert!(!title.trim().is_empty(), "{path}: empty title in {alert}");
    let severity = alert["severity"].as_str().unwrap_or_default();
    assert!(
        ["critical", "high", "medium", "low", "info"].contains(&severity),
        "{path}: severity `{severity}`"
    );
    match &alert["time"] {
        Value::Null => assert!(
            alert["notes"].to_string().contains("time left null"),
            "{path}: a null time without a note"
        ),
        Value::String(time) => assert_eq!(&Time::parse(time).unwrap().to_string(), time),
        other => panic!("{path}: time {other}"),
    }
    for field in ["rule_id", "host", "src_ip", "dest_ip"] {
        let value = &alert[field];
        assert!(value.is_null() || value.is_string(), "{path}: {field}");
    }
    for (kind, values) in alert["entities"].as_object().unwrap() {
        let kind = EntityKind::parse(kind).unwrap();
        let values = values.as_array().unwrap();
        assert!(!values.is_empty(), "{path}: an empty `{kind}` list");
        for value in values {
            let value = value.as_str().unwrap();
            assert_eq!(Entity::parse(kind, value).unwrap().value, value, "{path}");
        }
    }
    assert!(alert["original"].is_object(), "{path}");
}

/// The alert `index` of `path`.
fn alert<'a>(alerts: &'a [(&str, Vec<Value>)], path: &str, index: usize) -> &'a Value {
    let (_, alerts) = alerts.iter().find(|(p, _)| *p == path).unwrap();
    &alerts[index]
}

fn has_note(alert: &Value, needle: &str) -> bool {
    alert["notes"]
        .as_array()
        .is_some_and(|notes| notes.iter().any(|n| n.as_str().unwrap().contains(needle)))
}

#[test]
fn committed_samples_give_the_expected_records() {
    let alerts = check_set(&committed_root(), COMMITTED);
    check_committed_values(&alerts);
}

#[test]
fn shared_samples_give_the_expected_records() {
    let root = shared_root();
    if !root.is_dir() {
        eprintln!(
            "\n!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n\
             !! {} is missing: the shared samples are NOT checked.\n\
             !! Checking the committed samples in tests/data/samples/ instead.\n\
             !!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n",
            root.display()
        );
        let alerts = check_set(&committed_root(), COMMITTED);
        check_committed_values(&alerts);
        return;
    }
    let alerts = check_set(&root, SHARED);
    check_shared_values(&alerts);

    let total = |prefix: &str| -> usize {
        alerts
            .iter()
            .filter(|(path, _)| path.starts_with(prefix))
            .map(|(_, alerts)| alerts.len())
            .sum()
    };
    assert_eq!(
        (
            total("suricata/"),
            total("falco/"),
            total("wazuh/"),
            total("alibaba-cloud-sas/")
        ),
        (18, 21, 12, 5)
    );
}

fn check_committed_values(alerts: &[(&str, Vec<Value>)]) {
    let eve = alert(alerts, "suricata/riposte/eve.json", 0);
    assert_eq!(eve["title"], "RIPOSTE TEST web shell upload to /uploads/");
    assert_eq!(eve["severity"], "high");
    assert_eq!(eve["time"], "2019-03-11T15:15:42.104Z");
    assert_eq!(eve["src_ip"], "2001:db8::bad");
    assert_eq!(eve["entities"]["domain"], json!(["shop.example.org"]));
    let sni = alert(alerts, "suricata/riposte/eve.json", 2);
    assert_eq!(sni["time"], "2019-03-11T15:17:05.250Z");
    assert_eq!(sni["entities"]["domain"], json!(["c2.example.com"]));
    assert_eq!(
        sni["entities"]["file-hash"],
        json!(["9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"])
    );
    let cjk = alert(alerts, "suricata/riposte/eve.json", 4);
    assert_eq!(cjk["title"], "RIPOSTE TEST 暴力破解 SSH（测试）");
    assert_eq!(cjk["dest_ip"], "198.51.100.9");
    let odd = alert(alerts, "suricata/riposte/eve.json", 5);
    assert_eq!(
        (&odd["severity"], &odd["src_ip"]),
        (&json!("medium"), &Value::Null)
    );
    assert!(has_note(odd, "`src_ip`: `203.0.113.300`") && has_note(odd, "`timestamp`"));

    let falco = alert(alerts, "falco/riposte/events.json", 0);
    assert_eq!(falco["severity"], "critical");
    assert!(has_note(
        falco,
        "`output` says `Warning` but `priority` is `Critical`"
    ));
    assert!(has_note(falco, "`k8s.pod.ip`: `192.0.2.0/24` is a network"));
    assert_eq!(falco["entities"]["process"], json!(["31337"]));
    assert_eq!(falco["entities"]["file"], json!(["/etc/shadow"]));
    let outbound = alert(alerts, "falco/riposte/events.json", 3);
    assert_eq!(outbound["dest_ip"], "203.0.113.99");
    assert!(outbound["entities"].get("container").is_none());
    let old = alert(
        alerts,
        "falco/falcosecurity__falco/single_rule_with_cat_write.json",
        0,
    );
    assert_eq!(
        (&old["title"], &old["severity"]),
        (&json!("open_from_cat"), &json!("medium"))
    );
    assert_eq!(old["time"], "2016-08-04T16:17:57.881Z");

    let ssh = alert(alerts, "wazuh/riposte/alerts.jsonl", 0);
    assert_eq!(
        (&ssh["src_ip"], &ssh["rule_id"]),
        (&json!("203.0.113.66"), &json!("5716"))
    );
    let fim = alert(alerts, "wazuh/riposte/alerts.jsonl", 1);
    assert_eq!(
        fim["entities"]["file-hash"],
        json!(["e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"])
    );
    let hit = alert(alerts, "wazuh/riposte/alerts.jsonl", 2);
    assert_eq!(
        (&hit["severity"], &hit["host"]),
        (&json!("medium"), &json!("vpn-01"))
    );
    let shellshock = alert(alerts, "wazuh/riposte/active-responses.log", 0);
    assert_eq!(shellshock["severity"], "critical");
    assert_eq!(shellshock["src_ip"], "198.51.100.61");
    let placeholder = alert(alerts, "wazuh/riposte/placeholder.json", 0);
    assert_eq!(
        (&placeholder["time"], &placeholder["severity"]),
        (&Value::Null, &json!("info"))
    );

    let miner = alert(
        alerts,
        "alibaba-cloud-sas/riposte/DescribeSuspEvents.response.json",
        0,
    );
    assert_eq!(miner["title"], "恶意进程（云查杀）-挖矿程序");
    assert_eq!(miner["time"], "2024-03-01T00:00:00.000Z");
    let webshell = alert(
        alerts,
        "alibaba-cloud-sas/riposte/DescribeSuspEventDetail.response.json",
        0,
    );
    assert_eq!(
        webshell["entities"]["file"],
        json!(["/var/www/html/uploads/x.php"])
    );
    assert!(has_note(
        webshell,
        "`Message` `illegal parameter, riposte test`"
    ));
}

fn check_shared_values(alerts: &[(&str, Vec<Value>)]) {
    let testmyids = alert(
        alerts,
        "suricata/OISF__suricata-verify/alert-testmyids/eve.json",
        0,
    );
    assert_eq!(
        testmyids["title"],
        "GPL ATTACK_RESPONSE id check returned root"
    );
    assert_eq!(testmyids["severity"], "medium");
    assert_eq!(testmyids["time"], "2016-07-13T22:42:07.573Z");
    assert_eq!(testmyids["src_ip"], "82.165.177.154");
    assert_eq!(testmyids["rule_id"], "2100498");
    assert_eq!(
        testmyids["entities"]["domain"],
        json!(["www.testmyids.com"])
    );
    let tls = alert(alerts, "suricata/elastic__beats/eve-alerts.log", 7);
    assert_eq!(tls["title"], "SURICATA TLS on unusual port");
    assert_eq!(tls["time"], "2020-06-26T15:00:03.342Z");
    assert_eq!(tls["entities"]["domain"], json!(["host.domain.net"]));
    let sni = alert(
        alerts,
        "suricata/elastic__integrations/test-eve-small.log",
        0,
    );
    assert_eq!(
        (&sni["severity"], &sni["entities"]["domain"]),
        (&json!("high"), &json!(["l2.io"]))
    );

    let critical = alert(alerts, "falco/elastic__integrations/test-falco.log", 9);
    assert_eq!(critical["severity"], "critical");
    assert_eq!(critical["entities"]["process"], json!(["133567"]));
    assert!(has_note(critical, "`output` says `Warning`"));
    let network = alert(alerts, "falco/elastic__integrations/test-falco.log", 8);
    assert_eq!(network["src_ip"], "216.160.83.56");
    let pod = alert(alerts, "falco/elastic__integrations/test-falco.log", 6);
    assert!(has_note(
        pod,
        "`k8s.pod.ip`: `175.16.199.0/24` is a network"
    ));
    let debug = alert(
        alerts,
        "falco/falcosecurity__falcosidekick/client_test.go.falcoTestInput.json",
        0,
    );
    assert_eq!(debug["severity"], "info");

    let fim = alert(
        alerts,
        "wazuh/wazuh__wazuh-qa/cases_integratord_read_json_alerts.alert_samples.jsonl",
        0,
    );
    assert_eq!(
        fim["entities"]["file-hash"],
        json!(["32bc19c9406a98ab21e5ec79fbd5bba2cb79755607a9f382c662d37b5bf5d8ea"])
    );
    assert_eq!(
        fim["entities"]["file"],
        json!(["/test_folder/TEST_VALID_ALERT.txt"])
    );
    let hit = alert(
        alerts,
        "wazuh/wazuh__wazuh-dashboard-plugins/authentication.js.comment_alerts.jsonl",
        5,
    );
    assert_eq!(hit["src_ip"], "203.0.113.41");
    assert_eq!(hit["time"], "2020-04-13T18:19:20.120Z");
    assert_eq!(hit["host"], "ip-10-0-0-246.us-west-1.compute.internal");
    let placeholder = alert(alerts, "wazuh/wazuh__wazuh/alerts.json", 0);
    assert_eq!(placeholder["time"], Value::Null);
    assert!(has_note(placeholder, "`timestamp`: `year-month-dayThours"));

    let xorddos = alert(
        alerts,
        "alibaba-cloud-sas/imfht__aegis/DescribeSuspEvents.response.json",
        0,
    );
    assert_eq!(xorddos["title"], "恶意进程（云查杀）-XorDDoS木马");
    assert_eq!(xorddos["severity"], "high");
    assert_eq!(xorddos["time"], "2018-09-25T17:51:01.000Z");
    let listed = alert(
        alerts,
        "alibaba-cloud-sas/imfht__aegis/DescribeAlarmEventList.response.json",
        0,
    );
    assert_eq!(listed["time"], "2018-12-02T08:45:01.000Z");
}
