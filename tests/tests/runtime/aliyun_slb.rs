//! The Alibaba Cloud load balancer component against the provider
//! simulator: an entry lands in the CLB or ALB access control list, a
//! retry reuses it, revert removes it, errors become typed failures.

use riposte::runtime::{FailureKind, wit::EntityKind};
use riposte_simulator::{AclKind, Fault, SimulatorConfig};
use riposte_tests::guests;

use crate::cloud::{Cloud, assert_failure};

const AK: &str = "LTAI5tSlbTestKey";
const SECRET: &str = "slb-secret-never-logged";
const CLB: &str = "RegionCLBProcess";
const ALB: &str = "RegionALBProcess";
const CLB_V4: &str = "acl-clb-v4";
const ALB_V6: &str = "acl-alb-v6";

fn config() -> SimulatorConfig {
    SimulatorConfig::default()
        .with_credential(AK, SECRET)
        .with_load_balancer_acl(AclKind::Clb, "cn-hangzhou", CLB_V4, 4)
        .with_load_balancer_acl(AclKind::Alb, "cn-hangzhou", ALB_V6, 6)
}

async fn cloud(config: SimulatorConfig) -> Cloud {
    Cloud::start(
        guests::ALIYUN_SLB,
        ("slb.test", "cn-hangzhou"),
        config,
        AK,
        SECRET,
    )
    .await
}

#[tokio::test]
async fn describe_declares_both_actions() {
    let cloud = cloud(config()).await;
    for id in [CLB, ALB] {
        let action = cloud.component.action(id).unwrap();
        assert_eq!(action.entity_kinds, vec![EntityKind::Ip, EntityKind::Cidr]);
        assert!(action.reversible && action.retryable);
        assert!(
            action
                .settings
                .iter()
                .any(|s| s.name == "acl-id" && s.required)
        );
    }
}

#[tokio::test]
async fn clb_entry_is_added_reused_on_retry_and_removed() {
    let cloud = cloud(config()).await;
    let call = || {
        cloud.request(
            CLB,
            EntityKind::Ip,
            "198.51.100.7",
            &[("acl-id", CLB_V4)],
            "key-clb-1",
        )
    };

    let outcome = cloud.execute(call()).await.unwrap();
    assert!(outcome.changed, "{}", outcome.detail);
    let entries = cloud.simulator.acl_entries();
    assert_eq!(entries.len(), 1);
    assert_eq!(
        (
            entries[0].acl_id.as_str(),
            entries[0].entry.as_str(),
            entries[0].comment.as_str()
        ),
        (CLB_V4, "198.51.100.7/32", "riposte-keyclb1")
    );

    let again = cloud.execute(call()).await.unwrap();
    assert!(
        !again.changed && again.revert_token == outcome.revert_token,
        "{}",
        again.detail
    );
    assert_eq!(cloud.simulator.acl_entries().len(), 1);

    let token = outcome.revert_token.unwrap();
    assert!(cloud.revert(call(), &token).await.unwrap().changed);
    assert!(cloud.simulator.acl_entries().is_empty());
    assert!(!cloud.revert(call(), &token).await.unwrap().changed);
}

#[tokio::test]
async fn alb_entry_keeps_an_ipv6_range_a_range_and_is_removed() {
    let cloud = cloud(config()).await;
    let call = || {
        cloud.request(
            ALB,
            EntityKind::Cidr,
            "2001:db8::/32",
            &[("acl-id", ALB_V6)],
            "key-alb-1",
        )
    };
    let outcome = cloud.execute(call()).await.unwrap();
    assert!(outcome.detail.contains("job "), "{}", outcome.detail);
    let entries = cloud.simulator.acl_entries();
    assert_eq!(
        (entries[0].entry.as_str(), entries[0].kind),
        ("2001:db8::/32", AclKind::Alb)
    );

    let again = cloud.execute(call()).await.unwrap();
    assert!(!again.changed);
    let token = outcome.revert_token.unwrap();
    assert!(cloud.revert(call(), &token).await.unwrap().changed);
    assert!(cloud.simulator.acl_entries().is_empty());
    assert!(!cloud.revert(call(), &token).await.unwrap().changed);
}

#[tokio::test]
async fn an_entry_listed_by_someone_else_is_success_with_nothing_to_undo() {
    let cloud = cloud(config()).await;
    let first = cloud.request(
        CLB,
        EntityKind::Cidr,
        "203.0.113.0/24",
        &[("acl-id", CLB_V4)],
        "key-a",
    );
    cloud.execute(first).await.unwrap();
    let second = cloud.request(
        CLB,
        EntityKind::Cidr,
        "203.0.113.0/24",
        &[("acl-id", CLB_V4)],
        "key-b",
    );
    let outcome = cloud.execute(second).await.unwrap();
    assert!(
        !outcome.changed && outcome.revert_token.is_none(),
        "{}",
        outcome.detail
    );
}

#[tokio::test]
async fn invalid_entities_are_refused_before_any_request() {
    let cloud = cloud(config()).await;
    for (action, kind, value) in [
        (CLB, EntityKind::Ip, ""),
        (CLB, EntityKind::Ip, "."),
        (ALB, EntityKind::Ip, "evil.example"),
        (ALB, EntityKind::Cidr, "::/0"),
        (CLB, EntityKind::Domain, "evil.example"),
    ] {
        cloud
            .refused_before_any_request(cloud.request(
                action,
                kind,
                value,
                &[("acl-id", CLB_V4)],
                "k",
            ))
            .await;
    }
    let failure = cloud
        .refused_before_any_request(cloud.request(ALB, EntityKind::Ip, "198.51.100.7", &[], "k"))
        .await;
    assert!(failure.message.contains("no setting `acl-id`"), "{failure}");
}

#[tokio::test]
async fn provider_errors_become_typed_failures_with_code_and_request_id() {
    let cloud = cloud(config().with_acl_entry_quota(1)).await;
    let clb = |ip: &str| {
        cloud.request(
            CLB,
            EntityKind::Ip,
            ip,
            &[("acl-id", CLB_V4)],
            &format!("key-{ip}"),
        )
    };
    cloud.simulator.inject(Fault::forbidden_ram(), 1);
    assert_failure(
        &cloud.execute(clb("198.51.100.20")).await.unwrap_err(),
        FailureKind::PermissionDenied,
        false,
        "Forbidden.RAM",
    );
    cloud.simulator.inject(Fault::throttling(), 1);
    assert_failure(
        &cloud.execute(clb("198.51.100.20")).await.unwrap_err(),
        FailureKind::Throttled,
        true,
        "Throttling.User",
    );

    cloud.execute(clb("198.51.100.21")).await.unwrap();
    let failure = cloud.execute(clb("198.51.100.22")).await.unwrap_err();
    assert_failure(
        &failure,
        FailureKind::QuotaExceeded,
        false,
        "Slb.Sim.AclEntryQuotaExceeded",
    );

    // An IPv6 entry in an IPv4 ACL: the provider's `IllegalEntry`.
    let v6 = cloud.request(
        CLB,
        EntityKind::Ip,
        "2001:db8::9",
        &[("acl-id", CLB_V4)],
        "k6",
    );
    assert_failure(
        &cloud.execute(v6).await.unwrap_err(),
        FailureKind::InvalidInput,
        false,
        "IllegalEntry",
    );

    let missing = cloud.request(
        ALB,
        EntityKind::Ip,
        "2001:db8::9",
        &[("acl-id", "acl-nope")],
        "k7",
    );
    assert_failure(
        &cloud.execute(missing).await.unwrap_err(),
        FailureKind::NotFound,
        false,
        "ResourceNotFound.Acl",
    );
}

#[tokio::test]
async fn plan_says_what_would_change_without_calling_out() {
    let cloud = cloud(config()).await;
    let plan = cloud
        .plan(cloud.request(
            CLB,
            EntityKind::Ip,
            "198.51.100.7",
            &[("acl-id", CLB_V4)],
            "key-p",
        ))
        .await
        .unwrap();
    assert!(
        plan.changes[0].contains("198.51.100.7/32") && plan.changes[0].contains(CLB_V4),
        "{:?}",
        plan.changes
    );
    assert!(cloud.simulator.requests().is_empty());
}
