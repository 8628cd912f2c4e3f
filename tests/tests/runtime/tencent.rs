//! The Tencent Cloud component against the provider simulator: blocks
//! land in the simulator's state, reverts remove them, repeats change
//! nothing, provider errors become typed failures, and bad entities never
//! leave the sandbox.

use riposte::runtime::{FailureKind, wit::EntityKind};
use riposte_simulator::{Clock, Fault, SimulatorConfig};
use riposte_tests::{guests, logs};

use crate::cloud::{Cloud, assert_failure};

const ACCOUNT: &str = "100012345678";
const SECRET_ID: &str = "AKIDtencenttest0123456789";
const SECRET_KEY: &str = "tencent-secret-never-logged";
const DOMAIN: &str = "www.example.com";
const CFW: &str = "TencentCFWBlockIP";
const WAF: &str = "TencentWafBlockIP";

fn config() -> SimulatorConfig {
    SimulatorConfig::default()
        .with_tencent_key(ACCOUNT, SECRET_ID, SECRET_KEY)
        .with_tencent_waf_domain(ACCOUNT, DOMAIN)
}

async fn cloud(config: SimulatorConfig) -> Cloud {
    Cloud::start(
        guests::TENCENT_CLOUD,
        ("tencent.test", "ap-guangzhou"),
        config,
        SECRET_ID,
        SECRET_KEY,
    )
    .await
}

fn waf_settings() -> [(&'static str, &'static str); 2] {
    [("domain", DOMAIN), ("instance-id", "waf_2kxq5hru00n2dxmx")]
}

#[tokio::test]
async fn describe_names_both_actions_their_kinds_and_hosts() {
    let cloud = cloud(config()).await;
    let info = cloud.component.info();
    assert_eq!(info.name, "tencent-cloud");
    let cfw = cloud.component.action(CFW).unwrap();
    assert_eq!(cfw.entity_kinds, vec![EntityKind::Ip]);
    assert!(cfw.reversible && cfw.retryable);
    assert!(
        cfw.description
            .contains("CIDR networks and domains are not supported")
    );
    let waf = cloud.component.action(WAF).unwrap();
    assert_eq!(waf.entity_kinds, vec![EntityKind::Ip, EntityKind::Cidr]);
    assert!(
        waf.settings
            .iter()
            .any(|s| s.name == "domain" && s.required)
    );
    assert!(
        info.hosts
            .iter()
            .any(|h| h == "https://waf.tencentcloudapi.com")
    );
}

#[tokio::test]
async fn cfw_block_lands_in_the_list_repeats_and_reverts() {
    let cloud = cloud(config()).await;
    let call = || cloud.request(CFW, EntityKind::Ip, "198.51.100.7", &[], "key-cfw-1");

    let outcome = cloud.execute(call()).await.unwrap();
    assert!(outcome.changed, "{}", outcome.detail);
    let rules = cloud.simulator.tencent_cfw_rules();
    assert_eq!(rules.len(), 1);
    assert_eq!(
        (
            rules[0].account.as_str(),
            rules[0].ip.as_str(),
            rules[0].direction,
            rules[0].rule_type
        ),
        (ACCOUNT, "198.51.100.7", 1, 1)
    );
    assert!(rules[0].end_time > rules[0].start_time);

    // The same task again (a retry): still one entry.
    let again = cloud.execute(call()).await.unwrap();
    assert_eq!(cloud.simulator.tencent_cfw_rules().len(), 1);

    let token = outcome.revert_token.unwrap();
    assert_eq!(again.revert_token.as_deref(), Some(token.as_str()));
    let reverted = cloud.revert(call(), &token).await.unwrap();
    assert!(reverted.changed);
    assert!(cloud.simulator.tencent_cfw_rules().is_empty());
    let twice = cloud.revert(call(), &token).await.unwrap();
    assert!(!twice.changed, "{}", twice.detail);
    assert!(!logs().contains(SECRET_KEY));
}

#[tokio::test]
async fn cfw_blocks_both_directions_and_reads_mapped_ipv4_as_ipv4() {
    let cloud = cloud(config()).await;
    let call = cloud.request(
        CFW,
        EntityKind::Ip,
        "::ffff:198.51.100.9",
        &[("direction", "both")],
        "key-cfw-2",
    );
    let outcome = cloud.execute(call.clone()).await.unwrap();
    let mut held: Vec<(String, i64)> = cloud
        .simulator
        .tencent_cfw_rules()
        .into_iter()
        .map(|rule| (rule.ip, rule.direction))
        .collect();
    held.sort();
    assert_eq!(
        held,
        [
            ("198.51.100.9".to_owned(), 0),
            ("198.51.100.9".to_owned(), 1)
        ]
    );

    // One direction removed by hand: revert still removes the other.
    let v6 = cloud.request(CFW, EntityKind::Ip, "2001:db8::7", &[], "key-cfw-3");
    cloud.execute(v6).await.unwrap();
    assert!(
        cloud
            .simulator
            .tencent_cfw_rules()
            .iter()
            .any(|r| r.ip == "2001:db8::7")
    );
    cloud
        .revert(call, &outcome.revert_token.unwrap())
        .await
        .unwrap();
    let left: Vec<String> = cloud
        .simulator
        .tencent_cfw_rules()
        .into_iter()
        .map(|r| r.ip)
        .collect();
    assert_eq!(left, ["2001:db8::7"]);
}

#[tokio::test]
async fn invalid_entities_are_refused_before_any_request() {
    let cloud = cloud(config()).await;
    let cases = [
        (CFW, EntityKind::Cidr, "198.51.100.0/24"),
        (CFW, EntityKind::Ip, ""),
        (CFW, EntityKind::Ip, "."),
        (CFW, EntityKind::Ip, "evil.example"),
        (CFW, EntityKind::Domain, "evil.example"),
        (WAF, EntityKind::Cidr, "0.0.0.0/0"),
        (WAF, EntityKind::Cidr, "::/0"),
        (WAF, EntityKind::Ip, "198.51.100.256"),
    ];
    for (action, kind, value) in cases {
        let call = cloud.request(action, kind, value, &waf_settings(), "key-bad");
        cloud.refused_before_any_request(call).await;
    }
    let mut call = cloud.request(WAF, EntityKind::Ip, "198.51.100.7", &waf_settings(), "k");
    call.target.region = "ap-beijing".into();
    let failure = cloud.refused_before_any_request(call).await;
    assert!(failure.message.contains("ap-guangzhou"), "{failure}");
}

#[tokio::test]
async fn waf_block_keeps_a_cidr_a_range_repeats_once_and_reverts() {
    let cloud = cloud(config()).await;
    let call = || {
        cloud.request(
            WAF,
            EntityKind::Cidr,
            "2001:db8::/32",
            &waf_settings(),
            "key-waf-1",
        )
    };
    let mut timed = call();
    timed.duration_seconds = Some(3600);

    let outcome = cloud.execute(timed).await.unwrap();
    assert!(outcome.changed);
    let rules = cloud.simulator.tencent_waf_rules();
    assert_eq!(rules.len(), 1);
    assert_eq!(
        (rules[0].ips.as_slice(), rules[0].action_type),
        (["2001:db8::/32".to_owned()].as_slice(), 42)
    );
    assert_eq!(rules[0].domain, DOMAIN);
    assert!(rules[0].valid_ts > 0, "a duration sets ValidTS");

    // A retry of the same task finds its own rule by the note.
    let again = cloud.execute(call()).await.unwrap();
    assert!(!again.changed, "{}", again.detail);
    assert_eq!(again.revert_token, outcome.revert_token);
    assert_eq!(cloud.simulator.tencent_waf_rules().len(), 1);

    let token = outcome.revert_token.unwrap();
    assert!(cloud.revert(call(), &token).await.unwrap().changed);
    assert!(cloud.simulator.tencent_waf_rules().is_empty());
    assert!(!cloud.revert(call(), &token).await.unwrap().changed);
}

#[tokio::test]
async fn waf_address_blocked_by_another_rule_is_success_with_nothing_to_undo() {
    let cloud = cloud(config()).await;
    let first = cloud.request(WAF, EntityKind::Ip, "203.0.113.5", &waf_settings(), "key-a");
    cloud.execute(first).await.unwrap();
    let second = cloud.request(WAF, EntityKind::Ip, "203.0.113.5", &waf_settings(), "key-b");
    let outcome = cloud.execute(second).await.unwrap();
    assert!(
        !outcome.changed && outcome.revert_token.is_none(),
        "{}",
        outcome.detail
    );
    assert_eq!(cloud.simulator.tencent_waf_rules().len(), 1);
}

#[tokio::test]
async fn provider_errors_become_typed_failures_with_code_and_request_id() {
    let cloud = cloud(config().with_list_capacity(1)).await;
    let cfw = |ip: &str| cloud.request(CFW, EntityKind::Ip, ip, &[], &format!("key-{ip}"));
    let injected = [
        (
            Fault::tencent("AuthFailure.UnauthorizedOperation", "not authorized"),
            FailureKind::PermissionDenied,
            false,
        ),
        (
            Fault::tencent("RequestLimitExceeded", "too many requests"),
            FailureKind::Throttled,
            true,
        ),
        (
            Fault::tencent("InternalError", "try later"),
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
        let failure = cloud.execute(cfw("198.51.100.20")).await.unwrap_err();
        assert_failure(&failure, kind, retryable, &code);
    }

    // The list holds one entry: a second address meets its capacity.
    cloud.execute(cfw("198.51.100.21")).await.unwrap();
    let failure = cloud.execute(cfw("198.51.100.22")).await.unwrap_err();
    assert_failure(&failure, FailureKind::QuotaExceeded, false, "LimitExceeded");

    // A domain the account does not protect.
    let call = cloud.request(
        WAF,
        EntityKind::Ip,
        "198.51.100.23",
        &[("domain", "other.example")],
        "k",
    );
    let failure = cloud.execute(call).await.unwrap_err();
    assert_failure(&failure, FailureKind::NotFound, false, "ResourceNotFound");

    // A dropped connection: unreachable, worth a retry.
    cloud.simulator.inject(Fault::Drop, 1);
    let failure = cloud.execute(cfw("198.51.100.24")).await.unwrap_err();
    assert_eq!(
        (failure.kind, failure.retryable),
        (FailureKind::Unreachable, true),
        "{failure}"
    );
}

#[tokio::test]
async fn the_simulator_checks_signatures_and_the_five_minute_window() {
    // The simulator knows another secret for this SecretId.
    let wrong = SimulatorConfig::default().with_tencent_key(ACCOUNT, SECRET_ID, "other-secret");
    let cloud = cloud(wrong).await;
    let call = cloud.request(CFW, EntityKind::Ip, "198.51.100.30", &[], "k1");
    let failure = cloud.execute(call).await.unwrap_err();
    assert_failure(
        &failure,
        FailureKind::PermissionDenied,
        false,
        "AuthFailure.SignatureFailure",
    );
    assert!(cloud.simulator.tencent_cfw_rules().is_empty());

    let cloud = self::cloud(config()).await;
    cloud.simulator.set_clock(Clock::Offset(6 * 60));
    let call = cloud.request(CFW, EntityKind::Ip, "198.51.100.31", &[], "k2");
    let failure = cloud.execute(call.clone()).await.unwrap_err();
    assert_failure(
        &failure,
        FailureKind::InvalidInput,
        true,
        "AuthFailure.SignatureExpire",
    );
    cloud.simulator.set_clock(Clock::Offset(4 * 60));
    cloud.execute(call).await.unwrap();
}

#[tokio::test]
async fn an_endpoint_outside_the_grant_is_refused_by_the_gate() {
    let cloud = cloud(config()).await;
    let other = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let mut call = cloud.request(CFW, EntityKind::Ip, "198.51.100.40", &[], "k");
    call.target.endpoint = format!("http://127.0.0.1:{}", other.local_addr().unwrap().port());
    let report = cloud.report(call).await;
    let failure = report.result.unwrap_err();
    assert_eq!(failure.kind, FailureKind::Unreachable, "{failure}");
    assert!(!failure.retryable);
    assert_eq!(report.refusals.len(), 1, "{:?}", report.refusals);
    assert!(cloud.simulator.requests().is_empty());
}

#[tokio::test]
async fn plan_says_what_would_change_without_calling_out() {
    let cloud = cloud(config()).await;
    let call = cloud.request(
        WAF,
        EntityKind::Cidr,
        "203.0.113.0/24",
        &waf_settings(),
        "k",
    );
    let plan = cloud.plan(call).await.unwrap();
    assert!(plan.reversible);
    assert!(
        plan.changes[0].contains("203.0.113.0/24") && plan.changes[0].contains(DOMAIN),
        "{:?}",
        plan.changes
    );
    let call = cloud.request(
        CFW,
        EntityKind::Ip,
        "198.51.100.7",
        &[("direction", "outbound")],
        "k",
    );
    let plan = cloud.plan(call).await.unwrap();
    assert!(plan.changes[0].contains("outbound"), "{:?}", plan.changes);
    assert!(cloud.simulator.requests().is_empty());
}

#[tokio::test]
async fn an_ipv6_literal_endpoint_is_signed_with_its_brackets() {
    let cloud = Cloud::start_ipv6(
        guests::TENCENT_CLOUD,
        "ap-guangzhou",
        config(),
        SECRET_ID,
        SECRET_KEY,
    )
    .await;
    let call = cloud.request(
        WAF,
        EntityKind::Ip,
        "198.51.100.81",
        &waf_settings(),
        "key-v6-endpoint",
    );
    cloud.execute(call).await.unwrap();
    assert_eq!(cloud.simulator.tencent_waf_rules().len(), 1);
    assert!(cloud.simulator.requests().iter().all(|h| h.code == "OK"));
}

#[tokio::test]
async fn a_rate_limited_account_is_throttled_and_the_failure_is_retryable() {
    // Two requests per second: the third block in a row meets the limit.
    let cloud = cloud(config().with_rate_limit(2)).await;
    let mut failures = Vec::new();
    for i in 0..3 {
        let call = cloud.request(
            CFW,
            EntityKind::Ip,
            &format!("198.51.100.{}", 90 + i),
            &[],
            &format!("key-rate-{i}"),
        );
        if let Err(failure) = cloud.execute(call).await {
            failures.push(failure);
        }
    }
    assert!(!failures.is_empty(), "nothing was throttled");
    for failure in &failures {
        assert_failure(
            failure,
            FailureKind::Throttled,
            true,
            "RequestLimitExceeded",
        );
    }
}
