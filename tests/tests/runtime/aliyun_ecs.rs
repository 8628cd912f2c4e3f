//! The Alibaba Cloud ECS component against the provider simulator: a
//! drop rule lands in the security group, a retry reuses it, revert
//! removes it, errors become typed failures.

use riposte::runtime::{FailureKind, wit::EntityKind};
use riposte_simulator::{Fault, SimulatorConfig};
use riposte_tests::{guests, logs};

use crate::cloud::{Cloud, assert_failure};

const AK: &str = "LTAI5tEcsTestKey";
const SECRET: &str = "ecs-secret-never-logged";
const GROUP: &str = "sg-bp67acfmxazb4ptest";
const ACTION: &str = "SecurityPolicyBlockIP";

fn config() -> SimulatorConfig {
    SimulatorConfig::default()
        .with_credential(AK, SECRET)
        .with_security_group("cn-hangzhou", GROUP)
}

async fn cloud(config: SimulatorConfig) -> Cloud {
    Cloud::start(
        guests::ALIYUN_ECS,
        ("ecs.test", "cn-hangzhou"),
        config,
        AK,
        SECRET,
    )
    .await
}

const SETTINGS: [(&str, &str); 1] = [("security-group-id", GROUP)];

#[tokio::test]
async fn describe_declares_the_action() {
    let cloud = cloud(config()).await;
    let action = cloud.component.action(ACTION).unwrap();
    assert_eq!(action.entity_kinds, vec![EntityKind::Ip, EntityKind::Cidr]);
    assert!(action.reversible && action.retryable);
    assert!(
        action
            .settings
            .iter()
            .any(|s| s.name == "security-group-id" && s.required)
    );
    assert!(
        cloud
            .component
            .info()
            .hosts
            .iter()
            .any(|h| h == "https://ecs.cn-hangzhou.aliyuncs.com")
    );
}

#[tokio::test]
async fn block_adds_a_drop_rule_a_retry_reuses_it_and_revert_removes_it() {
    let cloud = cloud(config()).await;
    let call = || {
        cloud.request(
            ACTION,
            EntityKind::Ip,
            "198.51.100.7",
            &SETTINGS,
            "key-ecs-1",
        )
    };

    let outcome = cloud.execute(call()).await.unwrap();
    assert!(outcome.changed, "{}", outcome.detail);
    let rules = cloud.simulator.security_group_rules();
    assert_eq!(rules.len(), 1);
    let rule = &rules[0];
    assert_eq!(
        (
            rule.policy.as_str(),
            rule.priority,
            rule.ip_protocol.as_str(),
            rule.port_range.as_str()
        ),
        ("drop", 1, "ALL", "-1/-1")
    );
    assert_eq!(
        (rule.source_cidr_ip.as_str(), rule.description.as_str()),
        ("198.51.100.7", "riposte-keyecs1")
    );

    let again = cloud.execute(call()).await.unwrap();
    assert!(!again.changed, "{}", again.detail);
    assert_eq!(again.revert_token, outcome.revert_token);
    assert_eq!(cloud.simulator.security_group_rules().len(), 1);

    let token = outcome.revert_token.unwrap();
    assert!(cloud.revert(call(), &token).await.unwrap().changed);
    assert!(cloud.simulator.security_group_rules().is_empty());
    // `InvalidParam.SecurityGroupRuleId` on the second revert: already gone.
    assert!(!cloud.revert(call(), &token).await.unwrap().changed);
    assert!(!logs().contains(SECRET));
}

#[tokio::test]
async fn ipv6_ranges_stay_ranges_and_mapped_ipv4_is_ipv4() {
    let cloud = cloud(config()).await;
    let range = cloud.request(
        ACTION,
        EntityKind::Cidr,
        "2001:db8::/32",
        &SETTINGS,
        "key-v6",
    );
    cloud.execute(range).await.unwrap();
    let mapped = cloud.request(
        ACTION,
        EntityKind::Ip,
        "::ffff:203.0.113.9",
        &SETTINGS,
        "key-v4",
    );
    cloud.execute(mapped).await.unwrap();
    let sources: Vec<(String, String)> = cloud
        .simulator
        .security_group_rules()
        .into_iter()
        .map(|r| (r.source_cidr_ip, r.ipv6_source_cidr_ip))
        .collect();
    assert_eq!(
        sources,
        [
            (String::new(), "2001:db8::/32".to_owned()),
            ("203.0.113.9".to_owned(), String::new())
        ]
    );
}

#[tokio::test]
async fn a_source_dropped_by_another_rule_is_success_with_nothing_to_undo() {
    let cloud = cloud(config()).await;
    cloud
        .execute(cloud.request(
            ACTION,
            EntityKind::Cidr,
            "203.0.113.0/24",
            &SETTINGS,
            "key-a",
        ))
        .await
        .unwrap();
    let outcome = cloud
        .execute(cloud.request(
            ACTION,
            EntityKind::Cidr,
            "203.0.113.0/24",
            &SETTINGS,
            "key-b",
        ))
        .await
        .unwrap();
    assert!(
        !outcome.changed && outcome.revert_token.is_none(),
        "{}",
        outcome.detail
    );
    assert_eq!(cloud.simulator.security_group_rules().len(), 1);
}

#[tokio::test]
async fn invalid_entities_and_settings_are_refused_before_any_request() {
    let cloud = cloud(config()).await;
    for (kind, value) in [
        (EntityKind::Ip, ""),
        (EntityKind::Ip, "."),
        (EntityKind::Ip, "evil.example"),
        (EntityKind::Cidr, "0.0.0.0/0"),
        (EntityKind::Domain, "evil.example"),
    ] {
        cloud
            .refused_before_any_request(cloud.request(ACTION, kind, value, &SETTINGS, "k"))
            .await;
    }
    let bad_priority = [("security-group-id", GROUP), ("priority", "101")];
    cloud
        .refused_before_any_request(cloud.request(
            ACTION,
            EntityKind::Ip,
            "198.51.100.7",
            &bad_priority,
            "k",
        ))
        .await;
    let failure = cloud
        .refused_before_any_request(cloud.request(ACTION, EntityKind::Ip, "198.51.100.7", &[], "k"))
        .await;
    assert!(
        failure.message.contains("no setting `security-group-id`"),
        "{failure}"
    );
}

#[tokio::test]
async fn provider_errors_become_typed_failures_with_code_and_request_id() {
    let cloud = cloud(config().with_security_group_rule_quota(1)).await;
    let block =
        |ip: &str| cloud.request(ACTION, EntityKind::Ip, ip, &SETTINGS, &format!("key-{ip}"));
    cloud.simulator.inject(Fault::forbidden_ram(), 1);
    assert_failure(
        &cloud.execute(block("198.51.100.20")).await.unwrap_err(),
        FailureKind::PermissionDenied,
        false,
        "Forbidden.RAM",
    );
    cloud.simulator.inject(Fault::throttling(), 1);
    assert_failure(
        &cloud.execute(block("198.51.100.20")).await.unwrap_err(),
        FailureKind::Throttled,
        true,
        "Throttling.User",
    );
    cloud.simulator.inject(Fault::service_unavailable(), 1);
    assert_failure(
        &cloud.execute(block("198.51.100.20")).await.unwrap_err(),
        FailureKind::Internal,
        true,
        "ServiceUnavailable",
    );

    cloud.execute(block("198.51.100.21")).await.unwrap();
    let failure = cloud.execute(block("198.51.100.22")).await.unwrap_err();
    assert_failure(
        &failure,
        FailureKind::QuotaExceeded,
        false,
        "AuthorizationLimitExceed",
    );

    let other_group = [("security-group-id", "sg-missing")];
    let call = cloud.request(ACTION, EntityKind::Ip, "198.51.100.23", &other_group, "k");
    assert_failure(
        &cloud.execute(call).await.unwrap_err(),
        FailureKind::NotFound,
        false,
        "InvalidSecurityGroupId.NotFound",
    );
}

#[tokio::test]
async fn plan_says_what_would_change_without_calling_out() {
    let cloud = cloud(config()).await;
    let plan = cloud
        .plan(cloud.request(
            ACTION,
            EntityKind::Cidr,
            "203.0.113.0/24",
            &SETTINGS,
            "key-plan",
        ))
        .await
        .unwrap();
    assert!(
        plan.changes[0].contains("203.0.113.0/24") && plan.changes[0].contains(GROUP),
        "{:?}",
        plan.changes
    );
    assert!(cloud.simulator.requests().is_empty());
}

#[tokio::test]
async fn an_ipv6_literal_endpoint_is_signed_with_its_brackets() {
    let cloud = Cloud::start_ipv6(guests::ALIYUN_ECS, "cn-hangzhou", config(), AK, SECRET).await;
    let call = cloud.request(
        ACTION,
        EntityKind::Ip,
        "198.51.100.82",
        &SETTINGS,
        "key-v6-endpoint",
    );
    cloud.execute(call).await.unwrap();
    assert_eq!(cloud.simulator.security_group_rules().len(), 1);
    assert!(cloud.simulator.requests().iter().all(|h| h.code == "OK"));
}
