//! The Huawei Cloud component against the provider simulator: blocks land
//! in the simulator's state, reverts remove them, repeats change nothing,
//! provider errors (cross-account included) become typed failures, and
//! every request is signed the way the gateway recomputes it.

use riposte::runtime::{FailureKind, wit::EntityKind};
use riposte_simulator::{Clock, Fault, SimulatorConfig};
use riposte_tests::{guests, logs};

use crate::cloud::{Cloud, assert_failure};

const ACCOUNT: &str = "hw-domain-1";
const AK: &str = "HWAKTESTQTWAOYTTINDUT";
const SK: &str = "huawei-secret-never-logged";
const PROJECT: &str = "9d80d070b6d44942af73c9c3d38e0429";
const OBJECT: &str = "cfebd347-b655-4b84-b938-3c54317599b2";
const POLICY: &str = "1f016cde588646aca3fb19f277c44d03";
const CFW: &str = "HuaWeiRegionCfwBlockIP";
const WAF: &str = "HuaWeiWafBlockIP";

fn config() -> SimulatorConfig {
    SimulatorConfig::default()
        .with_huawei_key(ACCOUNT, AK, SK)
        .with_huawei_project(ACCOUNT, PROJECT)
        .with_huawei_cfw_object(PROJECT, OBJECT)
        .with_huawei_waf_policy(PROJECT, POLICY)
}

async fn cloud(config: SimulatorConfig) -> Cloud {
    Cloud::start(
        guests::HUAWEI_CLOUD,
        ("huawei.test", "cn-north-4"),
        config,
        AK,
        SK,
    )
    .await
}

const CFW_SETTINGS: [(&str, &str); 2] = [("project-id", PROJECT), ("object-id", OBJECT)];
const WAF_SETTINGS: [(&str, &str); 2] = [("project-id", PROJECT), ("policy-id", POLICY)];

#[tokio::test]
async fn describe_names_both_actions_their_kinds_and_settings() {
    let cloud = cloud(config()).await;
    let info = cloud.component.info();
    assert_eq!(info.name, "huawei-cloud");
    assert_eq!(info.hosts, ["https://*.myhuaweicloud.com"]);
    for id in [CFW, WAF] {
        let action = cloud.component.action(id).unwrap();
        assert_eq!(action.entity_kinds, vec![EntityKind::Ip, EntityKind::Cidr]);
        assert!(action.reversible && action.retryable);
        assert!(action.description.contains("Domains are not supported"));
        assert!(
            action
                .settings
                .iter()
                .any(|s| s.name == "project-id" && s.required)
        );
    }
}

#[tokio::test]
async fn cfw_block_lands_in_the_black_list_repeats_once_and_reverts() {
    let cloud = cloud(config()).await;
    let call = || {
        cloud.request(
            CFW,
            EntityKind::Ip,
            "198.51.100.7",
            &CFW_SETTINGS,
            "key-cfw-1",
        )
    };

    let outcome = cloud.execute(call()).await.unwrap();
    assert!(outcome.changed, "{}", outcome.detail);
    let entries = cloud.simulator.huawei_cfw_entries();
    assert_eq!(entries.len(), 1);
    let entry = &entries[0];
    assert_eq!(
        (
            entry.object_id.as_str(),
            entry.list_type,
            entry.direction,
            entry.address_type,
            entry.protocol
        ),
        (OBJECT, 4, 0, 0, -1)
    );
    assert_eq!(entry.address, "198.51.100.7");

    // A retry of the same task finds its own entry: nothing added.
    let again = cloud.execute(call()).await.unwrap();
    assert!(!again.changed, "{}", again.detail);
    assert_eq!(again.revert_token, outcome.revert_token);
    assert_eq!(cloud.simulator.huawei_cfw_entries().len(), 1);

    let token = outcome.revert_token.unwrap();
    assert!(cloud.revert(call(), &token).await.unwrap().changed);
    assert!(cloud.simulator.huawei_cfw_entries().is_empty());
    // CFW.00200005 on the second revert: already gone.
    assert!(!cloud.revert(call(), &token).await.unwrap().changed);
    assert!(!logs().contains(SK));
}

#[tokio::test]
async fn cfw_keeps_an_ipv6_range_a_range_and_reads_mapped_ipv4_as_ipv4() {
    let cloud = cloud(config()).await;
    let range = cloud.request(
        CFW,
        EntityKind::Cidr,
        "2001:db8::/32",
        &CFW_SETTINGS,
        "key-v6",
    );
    cloud.execute(range).await.unwrap();
    let mapped = cloud.request(
        CFW,
        EntityKind::Ip,
        "::ffff:203.0.113.9",
        &CFW_SETTINGS,
        "key-v4",
    );
    cloud.execute(mapped).await.unwrap();
    let held: Vec<(String, i64)> = cloud
        .simulator
        .huawei_cfw_entries()
        .into_iter()
        .map(|e| (e.address, e.address_type))
        .collect();
    assert_eq!(
        held,
        [
            ("2001:db8::/32".to_owned(), 1),
            ("203.0.113.9".to_owned(), 0)
        ]
    );
}

#[tokio::test]
async fn cfw_address_listed_by_someone_else_is_success_with_nothing_to_undo() {
    let cloud = cloud(config()).await;
    let first = cloud.request(CFW, EntityKind::Ip, "198.51.100.8", &CFW_SETTINGS, "key-a");
    cloud.execute(first).await.unwrap();
    let second = cloud.request(CFW, EntityKind::Ip, "198.51.100.8", &CFW_SETTINGS, "key-b");
    let outcome = cloud.execute(second).await.unwrap();
    assert!(
        !outcome.changed && outcome.revert_token.is_none(),
        "{}",
        outcome.detail
    );
    assert_eq!(cloud.simulator.huawei_cfw_entries().len(), 1);
}

#[tokio::test]
async fn waf_block_creates_a_named_rule_a_retry_reuses_it_and_revert_deletes_it() {
    let cloud = cloud(config()).await;
    let call = || {
        cloud.request(
            WAF,
            EntityKind::Cidr,
            "203.0.113.0/24",
            &WAF_SETTINGS,
            "key-waf-1",
        )
    };

    let outcome = cloud.execute(call()).await.unwrap();
    assert!(outcome.changed);
    let rules = cloud.simulator.huawei_waf_rules();
    assert_eq!(rules.len(), 1);
    assert_eq!(
        (
            rules[0].name.as_str(),
            rules[0].addr.as_str(),
            rules[0].white
        ),
        ("riposte-keywaf1", "203.0.113.0/24", 0)
    );

    // WAF.00011016 name.duplicate on the retry, then the rule is found.
    let again = cloud.execute(call()).await.unwrap();
    assert!(!again.changed, "{}", again.detail);
    assert_eq!(again.revert_token, outcome.revert_token);
    assert!(
        cloud
            .simulator
            .requests()
            .iter()
            .any(|h| h.code == "WAF.00011016")
    );

    let token = outcome.revert_token.unwrap();
    assert!(cloud.revert(call(), &token).await.unwrap().changed);
    assert!(cloud.simulator.huawei_waf_rules().is_empty());
    assert!(!cloud.revert(call(), &token).await.unwrap().changed);
}

#[tokio::test]
async fn invalid_entities_and_missing_settings_are_refused_before_any_request() {
    let cloud = cloud(config()).await;
    let cases = [
        (CFW, EntityKind::Ip, ""),
        (CFW, EntityKind::Ip, "."),
        (CFW, EntityKind::Ip, "evil.example"),
        (CFW, EntityKind::Cidr, "0.0.0.0/0"),
        (WAF, EntityKind::Cidr, "::/0"),
        (WAF, EntityKind::Cidr, "10.0.0.1/8"),
        (WAF, EntityKind::Domain, "evil.example"),
    ];
    for (action, kind, value) in cases {
        let settings = if action == CFW {
            CFW_SETTINGS
        } else {
            WAF_SETTINGS
        };
        let call = cloud.request(action, kind, value, &settings, "key-bad");
        cloud.refused_before_any_request(call).await;
    }
    let call = cloud.request(
        WAF,
        EntityKind::Ip,
        "198.51.100.7",
        &[("project-id", PROJECT)],
        "k",
    );
    let failure = cloud.refused_before_any_request(call).await;
    assert!(
        failure.message.contains("no setting `policy-id`"),
        "{failure}"
    );
}

#[tokio::test]
async fn provider_errors_become_typed_failures_with_code_and_request_id() {
    let cloud = cloud(config().with_list_capacity(1)).await;
    let waf =
        |ip: &str| cloud.request(WAF, EntityKind::Ip, ip, &WAF_SETTINGS, &format!("key-{ip}"));
    let injected = [
        (
            Fault::huawei(
                429,
                "APIGW.0308",
                "The throttling threshold has been reached",
            ),
            FailureKind::Throttled,
            true,
        ),
        (
            Fault::huawei(403, "APIGW.0306", "API access denied"),
            FailureKind::PermissionDenied,
            false,
        ),
        (
            Fault::huawei(500, "WAF.00010001", "internal.error"),
            FailureKind::Internal,
            true,
        ),
    ];
    for (fault, kind, retryable) in injected {
        let Fault::Error { code, .. } = &fault else {
            unreachable!()
        };
        let code = code.clone();
        cloud.simulator.inject(fault, 1);
        let failure = cloud.execute(waf("198.51.100.20")).await.unwrap_err();
        assert_failure(&failure, kind, retryable, &code);
    }

    // The policy holds one rule: a second meets the quota (403).
    cloud.execute(waf("198.51.100.21")).await.unwrap();
    let failure = cloud.execute(waf("198.51.100.22")).await.unwrap_err();
    assert_failure(&failure, FailureKind::QuotaExceeded, false, "WAF.SIM.QUOTA");

    // A policy that does not exist (404) and a protection object that
    // does not exist (CFW.00200005).
    let call = cloud.request(
        WAF,
        EntityKind::Ip,
        "198.51.100.23",
        &[("project-id", PROJECT), ("policy-id", "nope")],
        "k1",
    );
    assert_failure(
        &cloud.execute(call).await.unwrap_err(),
        FailureKind::NotFound,
        false,
        "WAF.00014002",
    );
    let call = cloud.request(
        CFW,
        EntityKind::Ip,
        "198.51.100.23",
        &[("project-id", PROJECT), ("object-id", "nope")],
        "k2",
    );
    assert_failure(
        &cloud.execute(call).await.unwrap_err(),
        FailureKind::NotFound,
        false,
        "CFW.00200005",
    );
}

#[tokio::test]
async fn a_project_of_another_account_is_a_cross_account_failure() {
    let config = config()
        .with_huawei_project("hw-domain-2", "other0project0id")
        .with_huawei_cfw_object("other0project0id", "obj-2");
    let cloud = cloud(config).await;
    let call = cloud.request(
        CFW,
        EntityKind::Ip,
        "198.51.100.50",
        &[("project-id", "other0project0id"), ("object-id", "obj-2")],
        "k",
    );
    let failure = cloud.execute(call).await.unwrap_err();
    assert_failure(&failure, FailureKind::CrossAccount, false, "APIGW.0310");
    assert!(cloud.simulator.huawei_cfw_entries().is_empty());
}

#[tokio::test]
async fn odd_query_values_and_path_segments_are_signed_as_the_gateway_recomputes() {
    // Query values with space, `+`, `*`, `~`, `/`, `=` and non-ASCII, and a
    // project id with `:` in the path: any encoding slip is a 401.
    let project = "proj:9d80";
    let config = config()
        .with_huawei_project(ACCOUNT, project)
        .with_huawei_cfw_object(project, OBJECT);
    let cloud = cloud(config).await;
    let settings = [
        ("project-id", project),
        ("object-id", OBJECT),
        ("enterprise-project-id", "a b+c*d~e/f=g 项目"),
        ("fw-instance-id", "fw~1"),
    ];
    let call = cloud.request(CFW, EntityKind::Ip, "198.51.100.60", &settings, "key-odd");
    let outcome = cloud.execute(call.clone()).await.unwrap();
    assert_eq!(cloud.simulator.huawei_cfw_entries()[0].project_id, project);
    cloud
        .revert(call, &outcome.revert_token.unwrap())
        .await
        .unwrap();
    assert!(
        cloud.simulator.requests().iter().all(|h| h.code == "OK"),
        "{:?}",
        cloud.simulator.requests()
    );
}

#[tokio::test]
async fn the_gateway_refuses_a_wrong_secret_and_a_stale_date() {
    let wrong = SimulatorConfig::default()
        .with_huawei_key(ACCOUNT, AK, "other-secret")
        .with_huawei_project(ACCOUNT, PROJECT)
        .with_huawei_cfw_object(PROJECT, OBJECT);
    let cloud = cloud(wrong).await;
    let call = cloud.request(CFW, EntityKind::Ip, "198.51.100.70", &CFW_SETTINGS, "k1");
    let failure = cloud.execute(call).await.unwrap_err();
    assert_failure(&failure, FailureKind::PermissionDenied, false, "APIGW.0301");
    // The gateway echoes its canonical request, `|` for newlines.
    assert!(
        failure
            .message
            .contains(&format!("GET|/v1/{PROJECT}/black-white-lists/|")),
        "{failure}"
    );
    assert!(!failure.message.contains(SK));

    let cloud = self::cloud(config()).await;
    cloud.simulator.set_clock(Clock::Offset(16 * 60));
    let call = cloud.request(CFW, EntityKind::Ip, "198.51.100.71", &CFW_SETTINGS, "k2");
    let failure = cloud.execute(call.clone()).await.unwrap_err();
    assert_failure(&failure, FailureKind::InvalidInput, true, "APIGW.0301");
    assert!(failure.message.contains("expired"), "{failure}");
    cloud.simulator.set_clock(Clock::Offset(14 * 60));
    cloud.execute(call).await.unwrap();
}

#[tokio::test]
async fn plan_says_what_would_change_without_calling_out() {
    let cloud = cloud(config()).await;
    let call = cloud.request(CFW, EntityKind::Cidr, "2001:db8::/32", &CFW_SETTINGS, "k");
    let plan = cloud.plan(call).await.unwrap();
    assert!(
        plan.reversible && plan.changes[0].contains("2001:db8::/32"),
        "{:?}",
        plan.changes
    );
    let call = cloud.request(
        WAF,
        EntityKind::Ip,
        "198.51.100.7",
        &WAF_SETTINGS,
        "key-plan",
    );
    let plan = cloud.plan(call).await.unwrap();
    assert!(
        plan.changes[0].contains("riposte-keyplan") && plan.changes[0].contains(POLICY),
        "{:?}",
        plan.changes
    );
    assert!(cloud.simulator.requests().is_empty());
}

#[tokio::test]
async fn an_ipv6_literal_endpoint_is_signed_with_its_brackets() {
    // aws-cli#8869 (`shared/reference/providers.md` §6 #12): the signed
    // `host` must be the `Host` header sent, `[::1]:port`.
    let cloud = Cloud::start_ipv6(guests::HUAWEI_CLOUD, "cn-north-4", config(), AK, SK).await;
    assert!(
        cloud.endpoint.starts_with("http://[::1]:"),
        "{}",
        cloud.endpoint
    );
    let call = cloud.request(
        CFW,
        EntityKind::Ip,
        "198.51.100.80",
        &CFW_SETTINGS,
        "key-v6-endpoint",
    );
    let outcome = cloud.execute(call.clone()).await.unwrap();
    assert_eq!(cloud.simulator.huawei_cfw_entries().len(), 1);
    cloud
        .revert(call, &outcome.revert_token.unwrap())
        .await
        .unwrap();
    assert!(cloud.simulator.requests().iter().all(|h| h.code == "OK"));
}

#[tokio::test]
async fn a_rate_limited_account_is_throttled_with_429() {
    let cloud = cloud(config().with_rate_limit(1)).await;
    let mut failures = Vec::new();
    for i in 0..2 {
        let call = cloud.request(
            WAF,
            EntityKind::Ip,
            &format!("198.51.100.{}", 90 + i),
            &WAF_SETTINGS,
            &format!("key-rate-{i}"),
        );
        if let Err(failure) = cloud.execute(call).await {
            failures.push(failure);
        }
    }
    assert!(!failures.is_empty(), "nothing was throttled");
    for failure in &failures {
        assert_failure(failure, FailureKind::Throttled, true, "APIGW.0308");
    }
    assert!(cloud.simulator.requests().iter().any(|h| h.status == 429));
}
