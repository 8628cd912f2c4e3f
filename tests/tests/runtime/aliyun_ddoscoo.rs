//! The Anti-DDoS Proxy component against the provider simulator: an
//! address lands on the black or white list, a retry keeps its token,
//! revert removes it, errors become typed failures.

use riposte::runtime::{FailureKind, wit::EntityKind};
use riposte_simulator::{DdosList, Fault, SimulatorConfig};
use riposte_tests::guests;

use crate::cloud::{Cloud, assert_failure};

const AK: &str = "LTAI5tDdosTestKey";
const SECRET: &str = "ddos-secret-never-logged";
const INSTANCE: &str = "ddoscoo-cn-mp91j1aotest";
const BLOCK: &str = "AliyunDDoSProxyBlockIP";
const WHITE: &str = "AliyunDDoSProxyWhiteIP";
const SETTINGS: [(&str, &str); 1] = [("instance-id", INSTANCE)];

fn config() -> SimulatorConfig {
    SimulatorConfig::default()
        .with_credential(AK, SECRET)
        .with_ddos_instance(INSTANCE)
}

async fn cloud(config: SimulatorConfig) -> Cloud {
    Cloud::start(
        guests::ALIYUN_DDOSCOO,
        ("ddoscoo.test", "cn-hangzhou"),
        config,
        AK,
        SECRET,
    )
    .await
}

#[tokio::test]
async fn describe_declares_both_actions_with_single_addresses_only() {
    let cloud = cloud(config()).await;
    for id in [BLOCK, WHITE] {
        let action = cloud.component.action(id).unwrap();
        assert_eq!(action.entity_kinds, vec![EntityKind::Ip]);
        assert!(
            action
                .description
                .contains("CIDR networks and domains are not supported")
        );
    }
}

#[tokio::test]
async fn block_lists_the_address_with_the_maximum_expiry_and_revert_removes_it() {
    let cloud = cloud(config()).await;
    let call = || cloud.request(BLOCK, EntityKind::Ip, "198.51.100.7", &SETTINGS, "key-d1");

    let outcome = cloud.execute(call()).await.unwrap();
    assert!(outcome.changed, "{}", outcome.detail);
    let entries = cloud.simulator.ddos_entries();
    assert_eq!(entries.len(), 1);
    assert_eq!(
        (entries[0].list, entries[0].ip.as_str()),
        (DdosList::Black, "198.51.100.7")
    );
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    assert!(
        (entries[0].end_time - now - 604_800).abs() < 120,
        "seven days: {}",
        entries[0].end_time - now
    );

    // A retry finds it listed and keeps the token; a new task would not.
    let mut retry = call();
    retry.attempt = 2;
    let again = cloud.execute(retry).await.unwrap();
    assert!(
        !again.changed && again.revert_token == outcome.revert_token,
        "{}",
        again.detail
    );
    let other = cloud
        .execute(cloud.request(BLOCK, EntityKind::Ip, "198.51.100.7", &SETTINGS, "key-d2"))
        .await
        .unwrap();
    assert!(
        !other.changed && other.revert_token.is_none(),
        "{}",
        other.detail
    );

    let token = outcome.revert_token.unwrap();
    assert!(cloud.revert(call(), &token).await.unwrap().changed);
    assert!(cloud.simulator.ddos_entries().is_empty());
    assert!(!cloud.revert(call(), &token).await.unwrap().changed);
}

#[tokio::test]
async fn whitelist_is_permanent_unless_timed_and_durations_are_clamped() {
    let cloud = cloud(config()).await;
    cloud
        .execute(cloud.request(
            WHITE,
            EntityKind::Ip,
            "::ffff:203.0.113.9",
            &SETTINGS,
            "key-w1",
        ))
        .await
        .unwrap();
    let mut short = cloud.request(BLOCK, EntityKind::Ip, "2001:db8::7", &SETTINGS, "key-b1");
    short.duration_seconds = Some(10);
    cloud.execute(short).await.unwrap();
    let entries = cloud.simulator.ddos_entries();
    assert_eq!(
        (entries[0].list, entries[0].ip.as_str(), entries[0].end_time),
        (DdosList::White, "203.0.113.9", 0)
    );
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    assert_eq!(entries[1].ip, "2001:db8::7");
    assert!(
        (entries[1].end_time - now - 300).abs() < 120,
        "clamped to 300 s"
    );
}

#[tokio::test]
async fn invalid_entities_are_refused_before_any_request() {
    let cloud = cloud(config()).await;
    for (kind, value) in [
        (EntityKind::Cidr, "198.51.100.0/24"),
        (EntityKind::Ip, ""),
        (EntityKind::Ip, "."),
        (EntityKind::Ip, "evil.example"),
        (EntityKind::Cidr, "0.0.0.0/0"),
    ] {
        cloud
            .refused_before_any_request(cloud.request(BLOCK, kind, value, &SETTINGS, "k"))
            .await;
    }
}

#[tokio::test]
async fn provider_errors_become_typed_failures_with_code_and_request_id() {
    let cloud = cloud(config().with_ddos_list_quota(1)).await;
    let block =
        |ip: &str| cloud.request(BLOCK, EntityKind::Ip, ip, &SETTINGS, &format!("key-{ip}"));
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
    cloud.execute(block("198.51.100.21")).await.unwrap();
    assert_failure(
        &cloud.execute(block("198.51.100.22")).await.unwrap_err(),
        FailureKind::QuotaExceeded,
        false,
        "Ddoscoo.Sim.ListQuotaExceeded",
    );
    let missing = cloud.request(
        BLOCK,
        EntityKind::Ip,
        "198.51.100.23",
        &[("instance-id", "ddoscoo-nope")],
        "k",
    );
    assert_failure(
        &cloud.execute(missing).await.unwrap_err(),
        FailureKind::NotFound,
        false,
        "Ddoscoo.Sim.InstanceNotExist",
    );
}

#[tokio::test]
async fn plan_says_what_would_change_without_calling_out() {
    let cloud = cloud(config()).await;
    let plan = cloud
        .plan(cloud.request(WHITE, EntityKind::Ip, "198.51.100.7", &SETTINGS, "k"))
        .await
        .unwrap();
    assert!(
        plan.changes[0].contains("whitelist") && plan.changes[0].contains("permanently"),
        "{:?}",
        plan.changes
    );
    assert!(cloud.simulator.requests().is_empty());
}
