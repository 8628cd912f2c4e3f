//! The Alibaba Cloud Firewall component against the provider simulator:
//! each action adds the policy it describes, a retry reuses it, revert
//! deletes it, errors become typed failures, and the 10 QPS limit turns
//! into a throttled failure that asks for a one-second wait.

use std::time::Duration;

use riposte::runtime::{FailureKind, wit::EntityKind};
use riposte_simulator::{Fault, SimulatorConfig};
use riposte_tests::{guests, logs};

use crate::cloud::{Cloud, assert_failure};

const AK: &str = "LTAI5tCloudfwTestKey";
const SECRET: &str = "cloudfw-secret-never-logged";

fn config() -> SimulatorConfig {
    SimulatorConfig::default().with_credential(AK, SECRET)
}

async fn cloud(config: SimulatorConfig) -> Cloud {
    Cloud::start(
        guests::ALIYUN_CLOUDFW,
        ("cloudfw.test", "cn-hangzhou"),
        config,
        AK,
        SECRET,
    )
    .await
}

#[tokio::test]
async fn describe_names_five_actions_with_their_kinds() {
    let cloud = cloud(config()).await;
    let info = cloud.component.info();
    assert_eq!(info.name, "aliyun-cloudfw");
    for id in [
        "AliyunFirewallProcess",
        "CfwWhiteListBatch",
        "AliyunFirewallMonitorIPin",
        "AliyunFirewallMonitorIPOut",
    ] {
        let action = cloud.component.action(id).unwrap();
        assert_eq!(
            action.entity_kinds,
            vec![EntityKind::Ip, EntityKind::Cidr],
            "{id}"
        );
        assert!(action.description.contains("Domains are not supported"));
    }
    let dns = cloud.component.action("AliyunCFWBlockDNS").unwrap();
    assert_eq!(dns.entity_kinds, vec![EntityKind::Domain]);
    assert!(dns.reversible && dns.retryable);
    assert!(
        info.hosts
            .iter()
            .any(|h| h == "https://cloudfw.cn-hangzhou.aliyuncs.com")
    );
}

#[tokio::test]
async fn inbound_block_adds_a_drop_policy_a_retry_reuses_it_and_revert_deletes_it() {
    let cloud = cloud(config()).await;
    let call = || {
        cloud.request(
            "AliyunFirewallProcess",
            EntityKind::Ip,
            "198.51.100.7",
            &[],
            "key-fw-1",
        )
    };

    let outcome = cloud.execute(call()).await.unwrap();
    assert!(outcome.changed, "{}", outcome.detail);
    let policies = cloud.simulator.cloudfw_policies();
    assert_eq!(policies.len(), 1);
    let policy = &policies[0];
    assert_eq!(
        (
            policy.acl_action.as_str(),
            policy.direction.as_str(),
            policy.source.as_str(),
            policy.destination.as_str()
        ),
        ("drop", "in", "198.51.100.7/32", "0.0.0.0/0")
    );
    assert_eq!(
        (policy.order, policy.ip_version, policy.description.as_str()),
        (1, 4, "riposte-keyfw1")
    );

    let again = cloud.execute(call()).await.unwrap();
    assert!(!again.changed, "{}", again.detail);
    assert_eq!(again.revert_token, outcome.revert_token);
    assert_eq!(cloud.simulator.cloudfw_policies().len(), 1);

    let token = outcome.revert_token.unwrap();
    assert!(cloud.revert(call(), &token).await.unwrap().changed);
    assert!(cloud.simulator.cloudfw_policies().is_empty());
    assert!(!cloud.revert(call(), &token).await.unwrap().changed);
    assert!(!logs().contains(SECRET));
}

#[tokio::test]
async fn each_action_adds_its_own_policy_shape() {
    let cloud = cloud(config()).await;
    let cases = [
        (
            "CfwWhiteListBatch",
            EntityKind::Ip,
            "::ffff:203.0.113.9",
            ("accept", "in", "203.0.113.9/32", "0.0.0.0/0", 4),
        ),
        (
            "AliyunFirewallMonitorIPin",
            EntityKind::Cidr,
            "2001:db8::/32",
            ("log", "in", "2001:db8::/32", "::/0", 6),
        ),
        (
            "AliyunFirewallMonitorIPOut",
            EntityKind::Cidr,
            "203.0.113.0/24",
            ("log", "out", "0.0.0.0/0", "203.0.113.0/24", 4),
        ),
        (
            "AliyunFirewallProcess",
            EntityKind::Ip,
            "2001:db8::7",
            ("drop", "in", "2001:db8::7/128", "::/0", 6),
        ),
    ];
    for (i, (action, kind, value, want)) in cases.into_iter().enumerate() {
        let call = cloud.request(action, kind, value, &[], &format!("key-shape-{i}"));
        let outcome = cloud.execute(call).await.unwrap();
        let uuid: serde_json::Value = serde_json::from_str(&outcome.revert_token.unwrap()).unwrap();
        let policy = cloud
            .simulator
            .cloudfw_policies()
            .into_iter()
            .find(|p| p.acl_uuid == uuid["acl_uuid"])
            .unwrap();
        let got = (
            policy.acl_action.as_str(),
            policy.direction.as_str(),
            policy.source.as_str(),
            policy.destination.as_str(),
            policy.ip_version,
        );
        assert_eq!(got, want, "{action} {value}");
        assert_eq!(
            (policy.proto.as_str(), policy.applications.as_slice()),
            ("ANY", ["ANY".to_owned()].as_slice())
        );
    }
}

#[tokio::test]
async fn block_dns_drops_outbound_web_traffic_to_the_domain() {
    let cloud = cloud(config()).await;
    let call = cloud.request(
        "AliyunCFWBlockDNS",
        EntityKind::Domain,
        "evil.example",
        &[("priority", "-1")],
        "key-dns",
    );
    let outcome = cloud.execute(call.clone()).await.unwrap();
    let policy = &cloud.simulator.cloudfw_policies()[0];
    assert_eq!(
        (
            policy.acl_action.as_str(),
            policy.direction.as_str(),
            policy.destination_type.as_str(),
            policy.destination.as_str()
        ),
        ("drop", "out", "domain", "evil.example")
    );
    assert_eq!((policy.proto.as_str(), policy.order), ("TCP", -1));
    assert_eq!(policy.applications, ["HTTP", "HTTPS"]);
    cloud
        .revert(call, &outcome.revert_token.unwrap())
        .await
        .unwrap();
    assert!(cloud.simulator.cloudfw_policies().is_empty());
}

#[tokio::test]
async fn invalid_entities_and_settings_are_refused_before_any_request() {
    let cloud = cloud(config()).await;
    type Case<'a> = (&'a str, EntityKind, &'a str, &'a [(&'a str, &'a str)]);
    let cases: [Case<'_>; 9] = [
        ("AliyunFirewallProcess", EntityKind::Ip, "", &[]),
        ("AliyunFirewallProcess", EntityKind::Ip, ".", &[]),
        ("AliyunFirewallProcess", EntityKind::Ip, "evil.example", &[]),
        ("CfwWhiteListBatch", EntityKind::Cidr, "0.0.0.0/0", &[]),
        (
            "AliyunFirewallMonitorIPOut",
            EntityKind::Domain,
            "evil.example",
            &[],
        ),
        ("AliyunCFWBlockDNS", EntityKind::Ip, "198.51.100.7", &[]),
        ("AliyunCFWBlockDNS", EntityKind::Domain, ".", &[]),
        ("AliyunCFWBlockDNS", EntityKind::Domain, "", &[]),
        (
            "AliyunFirewallProcess",
            EntityKind::Ip,
            "198.51.100.7",
            &[("priority", "0")],
        ),
    ];
    for (action, kind, value, settings) in cases {
        let call = cloud.request(action, kind, value, settings, "key-bad");
        cloud.refused_before_any_request(call).await;
    }
}

#[tokio::test]
async fn provider_errors_become_typed_failures_with_code_and_request_id() {
    let cloud = cloud(config().with_list_capacity(1)).await;
    let block = |ip: &str| {
        cloud.request(
            "AliyunFirewallProcess",
            EntityKind::Ip,
            ip,
            &[],
            &format!("key-{ip}"),
        )
    };
    let injected = [
        (Fault::forbidden_ram(), FailureKind::PermissionDenied, false),
        (Fault::internal_error(), FailureKind::Internal, true),
    ];
    for (fault, kind, retryable) in injected {
        let Fault::Error { code, .. } = &fault else {
            unreachable!()
        };
        let code = code.clone();
        cloud.simulator.inject(fault, 1);
        let failure = cloud.execute(block("198.51.100.20")).await.unwrap_err();
        assert_failure(&failure, kind, retryable, &code);
    }
    cloud.simulator.inject(Fault::throttling(), 1);
    let failure = cloud.execute(block("198.51.100.20")).await.unwrap_err();
    assert_failure(&failure, FailureKind::Throttled, true, "Throttling.User");
    assert_eq!(failure.retry_after, Some(Duration::from_secs(1)));

    cloud.execute(block("198.51.100.21")).await.unwrap();
    let failure = cloud.execute(block("198.51.100.22")).await.unwrap_err();
    assert_failure(
        &failure,
        FailureKind::QuotaExceeded,
        false,
        "Cfw.Sim.AclQuotaExceeded",
    );
}

#[tokio::test]
async fn a_burst_over_the_qps_limit_is_throttled_and_succeeds_after_the_wait() {
    // Two calls per second: four concurrent blocks (eight requests) must
    // meet the limit however slow the machine is.
    let cloud = cloud(config().with_cloudfw_qps(2)).await;
    let calls: Vec<_> = (0..4)
        .map(|i| {
            cloud.request(
                "AliyunFirewallProcess",
                EntityKind::Ip,
                &format!("198.51.100.{}", 30 + i),
                &[],
                &format!("key-burst-{i}"),
            )
        })
        .collect();
    let results =
        futures::future::join_all(calls.iter().cloned().map(|call| cloud.execute(call))).await;
    let throttled: Vec<_> = results.iter().filter_map(|r| r.as_ref().err()).collect();
    assert!(!throttled.is_empty(), "no call was throttled");
    for failure in &throttled {
        assert_failure(failure, FailureKind::Throttled, true, "Throttling.User");
        assert_eq!(failure.retry_after, Some(Duration::from_secs(1)));
    }

    // Each throttled call, retried after the wait it asked for, succeeds.
    for (call, result) in calls.into_iter().zip(&results) {
        if result.is_err() {
            tokio::time::sleep(Duration::from_millis(1100)).await;
            cloud.execute(call).await.unwrap();
        }
    }
    assert_eq!(cloud.simulator.cloudfw_policies().len(), 4);
}

#[tokio::test]
async fn plan_says_what_would_change_without_calling_out() {
    let cloud = cloud(config()).await;
    let call = cloud.request(
        "AliyunFirewallMonitorIPOut",
        EntityKind::Cidr,
        "2001:db8::/32",
        &[],
        "key-plan",
    );
    let plan = cloud.plan(call).await.unwrap();
    assert!(plan.reversible);
    assert!(
        plan.changes[0].contains("log out from ::/0 to 2001:db8::/32"),
        "{:?}",
        plan.changes
    );
    assert!(cloud.simulator.requests().is_empty());
}

#[tokio::test]
async fn an_answer_lost_after_the_policy_was_added_is_retried_without_a_duplicate() {
    let cloud = cloud(config()).await;
    // The lookup passes; the add takes effect, then the connection drops.
    cloud
        .simulator
        .inject(Fault::Latency(Duration::from_millis(1)), 1);
    cloud.simulator.inject(Fault::DropAfterHandling, 1);
    let call = || {
        cloud.request(
            "AliyunFirewallProcess",
            EntityKind::Ip,
            "198.51.100.99",
            &[],
            "key-lost",
        )
    };
    let failure = cloud.execute(call()).await.unwrap_err();
    assert_eq!(
        (failure.kind, failure.retryable),
        (FailureKind::Unreachable, true),
        "{failure}"
    );
    assert_eq!(cloud.simulator.cloudfw_policies().len(), 1);

    let mut retry = call();
    retry.attempt = 2;
    let outcome = cloud.execute(retry).await.unwrap();
    assert!(!outcome.changed, "{}", outcome.detail);
    assert_eq!(cloud.simulator.cloudfw_policies().len(), 1);
    // Every attempt signed afresh: no nonce was refused as reused.
    let codes: Vec<String> = cloud
        .simulator
        .requests()
        .into_iter()
        .map(|h| h.code)
        .collect();
    assert_eq!(codes, ["OK", "Dropped", "OK"]);
}
