//! The CDN and DCDN component against the provider simulator: the CDN
//! blacklist gains and loses the address, the DCDN WAF rule is created,
//! reused on retry and deleted, errors become typed failures.

use riposte::runtime::{FailureKind, wit::EntityKind};
use riposte_simulator::{Fault, SimulatorConfig};
use riposte_tests::guests;

use crate::cloud::{Cloud, assert_failure};

const AK: &str = "LTAI5tCdnTestKey";
const SECRET: &str = "cdn-secret-never-logged";
const DOMAIN: &str = "www.example.com";
const POLICY: u64 = 1_000_001;
const CDN: &str = "CDNProcess";
const DCDN: &str = "DcdnWafBanIP";
const CDN_SETTINGS: [(&str, &str); 1] = [("domain", DOMAIN)];
const DCDN_SETTINGS: [(&str, &str); 1] = [("policy-id", "1000001")];

fn config() -> SimulatorConfig {
    SimulatorConfig::default()
        .with_credential(AK, SECRET)
        .with_cdn_domain(DOMAIN)
        .with_dcdn_waf_policy(POLICY)
}

async fn cloud(config: SimulatorConfig) -> Cloud {
    Cloud::start(
        guests::ALIYUN_CDN,
        ("cdn.test", "cn-hangzhou"),
        config,
        AK,
        SECRET,
    )
    .await
}

#[tokio::test]
async fn describe_declares_both_actions() {
    let cloud = cloud(config()).await;
    for (id, setting) in [(CDN, "domain"), (DCDN, "policy-id")] {
        let action = cloud.component.action(id).unwrap();
        assert_eq!(action.entity_kinds, vec![EntityKind::Ip, EntityKind::Cidr]);
        assert!(
            action
                .settings
                .iter()
                .any(|s| s.name == setting && s.required)
        );
    }
}

#[tokio::test]
async fn cdn_blacklist_gains_the_address_keeps_others_and_loses_it_on_revert() {
    let cloud = cloud(config()).await;
    let first = cloud.request(
        CDN,
        EntityKind::Cidr,
        "2001:db8::/32",
        &CDN_SETTINGS,
        "key-c1",
    );
    let first_outcome = cloud.execute(first.clone()).await.unwrap();
    let call = || {
        cloud.request(
            CDN,
            EntityKind::Ip,
            "::ffff:198.51.100.7",
            &CDN_SETTINGS,
            "key-c2",
        )
    };
    let outcome = cloud.execute(call()).await.unwrap();
    assert!(outcome.changed, "{}", outcome.detail);
    assert_eq!(
        cloud.simulator.cdn_ip_blacklists()[DOMAIN],
        ["2001:db8::/32", "198.51.100.7"]
    );

    let mut retry = call();
    retry.attempt = 2;
    let again = cloud.execute(retry).await.unwrap();
    assert!(
        !again.changed && again.revert_token == outcome.revert_token,
        "{}",
        again.detail
    );
    assert_eq!(cloud.simulator.cdn_ip_blacklists()[DOMAIN].len(), 2);

    let token = outcome.revert_token.unwrap();
    assert!(cloud.revert(call(), &token).await.unwrap().changed);
    assert_eq!(
        cloud.simulator.cdn_ip_blacklists()[DOMAIN],
        ["2001:db8::/32"]
    );
    assert!(!cloud.revert(call(), &token).await.unwrap().changed);
    // The last address out removes the feature.
    cloud
        .revert(first, &first_outcome.revert_token.unwrap())
        .await
        .unwrap();
    assert!(cloud.simulator.cdn_ip_blacklists().is_empty());
}

#[tokio::test]
async fn dcdn_rule_is_created_reused_on_retry_and_deleted() {
    let cloud = cloud(config()).await;
    let call = || {
        cloud.request(
            DCDN,
            EntityKind::Ip,
            "198.51.100.7",
            &DCDN_SETTINGS,
            "key-d1",
        )
    };
    let outcome = cloud.execute(call()).await.unwrap();
    assert!(outcome.changed);
    let rules = cloud.simulator.dcdn_waf_rules();
    assert_eq!(rules.len(), 1);
    assert_eq!(
        (
            rules[0].policy_id,
            rules[0].name.as_str(),
            rules[0].action.as_str(),
            rules[0].remote_addr.as_slice()
        ),
        (
            POLICY,
            "riposte_keyd1",
            "block",
            ["198.51.100.7".to_owned()].as_slice()
        )
    );
    let again = cloud.execute(call()).await.unwrap();
    assert!(!again.changed && again.revert_token == outcome.revert_token);
    assert_eq!(cloud.simulator.dcdn_waf_rules().len(), 1);

    let token = outcome.revert_token.unwrap();
    assert!(cloud.revert(call(), &token).await.unwrap().changed);
    assert!(cloud.simulator.dcdn_waf_rules().is_empty());
    assert!(!cloud.revert(call(), &token).await.unwrap().changed);
}

#[tokio::test]
async fn invalid_entities_and_settings_are_refused_before_any_request() {
    let cloud = cloud(config()).await;
    for (action, kind, value) in [
        (CDN, EntityKind::Ip, ""),
        (CDN, EntityKind::Ip, "."),
        (CDN, EntityKind::Ip, "evil.example"),
        (DCDN, EntityKind::Cidr, "0.0.0.0/0"),
        (DCDN, EntityKind::Domain, "evil.example"),
    ] {
        let settings = if action == CDN {
            CDN_SETTINGS
        } else {
            DCDN_SETTINGS
        };
        cloud
            .refused_before_any_request(cloud.request(action, kind, value, &settings, "k"))
            .await;
    }
    let bad_policy = [("policy-id", "waf-1")];
    cloud
        .refused_before_any_request(cloud.request(
            DCDN,
            EntityKind::Ip,
            "198.51.100.7",
            &bad_policy,
            "k",
        ))
        .await;
}

#[tokio::test]
async fn provider_errors_become_typed_failures_with_code_and_request_id() {
    let cloud = cloud(config().with_list_capacity(1)).await;
    let cdn =
        |ip: &str| cloud.request(CDN, EntityKind::Ip, ip, &CDN_SETTINGS, &format!("key-{ip}"));
    cloud.simulator.inject(Fault::forbidden_ram(), 1);
    assert_failure(
        &cloud.execute(cdn("198.51.100.20")).await.unwrap_err(),
        FailureKind::PermissionDenied,
        false,
        "Forbidden.RAM",
    );
    cloud.simulator.inject(Fault::throttling(), 1);
    assert_failure(
        &cloud.execute(cdn("198.51.100.20")).await.unwrap_err(),
        FailureKind::Throttled,
        true,
        "Throttling.User",
    );
    cloud.execute(cdn("198.51.100.21")).await.unwrap();
    assert_failure(
        &cloud.execute(cdn("198.51.100.22")).await.unwrap_err(),
        FailureKind::QuotaExceeded,
        false,
        "Cdn.Sim.IpListQuotaExceeded",
    );
    let other = cloud.request(
        CDN,
        EntityKind::Ip,
        "198.51.100.23",
        &[("domain", "other.example")],
        "k",
    );
    assert_failure(
        &cloud.execute(other).await.unwrap_err(),
        FailureKind::NotFound,
        false,
        "Cdn.Sim.DomainNotExist",
    );
    let missing = cloud.request(
        DCDN,
        EntityKind::Ip,
        "198.51.100.23",
        &[("policy-id", "7")],
        "k2",
    );
    assert_failure(
        &cloud.execute(missing).await.unwrap_err(),
        FailureKind::NotFound,
        false,
        "Dcdn.Sim.PolicyNotExist",
    );
}

#[tokio::test]
async fn plan_says_what_would_change_without_calling_out() {
    let cloud = cloud(config()).await;
    let plan = cloud
        .plan(cloud.request(
            DCDN,
            EntityKind::Cidr,
            "203.0.113.0/24",
            &DCDN_SETTINGS,
            "key-p",
        ))
        .await
        .unwrap();
    assert!(
        plan.changes[0].contains("riposte_keyp") && plan.changes[0].contains("203.0.113.0/24"),
        "{:?}",
        plan.changes
    );
    assert!(cloud.simulator.requests().is_empty());
}
