//! The `endpoint` component's Security Center backend against the
//! provider simulator: each action handles the alert events that mention
//! its entity, a repeat changes nothing, reverts restore what Security
//! Center can restore and refuse the rest, errors become typed failures.

use riposte::runtime::{FailureKind, wit, wit::EntityKind};
use riposte_simulator::{Fault, SasEvent, SasHost, SimulatorConfig};
use riposte_tests::{guests, logs};

use crate::cloud::{Cloud, assert_failure};

const AK: &str = "LTAI5tSasTestKey";
const SECRET: &str = "sas-secret-never-logged";
const HOST: &str = "3d6b4a75-c28f-447b-9142-38f6252c0001";
const OTHER_HOST: &str = "3d6b4a75-c28f-447b-9142-38f6252c0002";

/// Events: a miner process with its file, a brute force from an address,
/// a malicious domain lookup, an expired one and one on another host.
fn config() -> SimulatorConfig {
    let host = SasHost {
        uuid: HOST.into(),
        instance_id: "i-bp1sastest".into(),
        instance_name: "web-1".into(),
        internet_ip: "203.0.113.10".into(),
        intranet_ip: "172.16.0.10".into(),
    };
    SimulatorConfig::default()
        .with_credential(AK, SECRET)
        .with_sas_host(host)
        .with_sas_event(
            SasEvent::new(909361, HOST, "Mining program")
                .with_detail("path", "/tmp/xmrig")
                .with_detail("md5", "0cc175b9c0f1b6a831c399e269772661")
                .with_detail("pid", "4242"),
        )
        .with_sas_event(
            SasEvent::new(909362, HOST, "Brute force").with_detail("ip", "198.51.100.7"),
        )
        .with_sas_event(
            SasEvent::new(909363, HOST, "Malicious domain").with_detail("domain", "Evil.Example"),
        )
        .with_sas_event(
            SasEvent::new(909364, HOST, "Old brute force")
                .with_detail("ip", "198.51.100.99")
                .with_status(64),
        )
        .with_sas_event(
            SasEvent::new(909365, OTHER_HOST, "Brute force").with_detail("ip", "198.51.100.8"),
        )
}

async fn cloud(config: SimulatorConfig) -> Cloud {
    Cloud::start(
        guests::ENDPOINT,
        ("tds.test", "cn-shanghai"),
        config,
        AK,
        SECRET,
    )
    .await
}

/// A request on Security Center (`aliyun`) for host `HOST`.
fn request(
    cloud: &Cloud,
    action: &str,
    kind: EntityKind,
    value: &str,
    key: &str,
) -> wit::ActionRequest {
    let mut call = cloud.request(action, kind, value, &[("sas-uuid", HOST)], key);
    call.target.provider = "aliyun".into();
    call
}

fn event(cloud: &Cloud, id: u64) -> riposte_simulator::SasEvent {
    cloud
        .simulator
        .sas_events()
        .into_iter()
        .find(|e| e.id == id)
        .unwrap()
}

#[tokio::test]
async fn describe_names_the_security_center_endpoints_and_settings() {
    let cloud = cloud(config()).await;
    let hosts = &cloud.component.info().hosts;
    assert!(
        hosts.iter().any(|h| h == "https://tds.aliyuncs.com"),
        "{hosts:?}"
    );
    let action = cloud.component.action("AliNetBlockIP").unwrap();
    assert!(
        action
            .settings
            .iter()
            .any(|s| s.name == "sas-block-seconds")
    );
    let action = cloud.component.action("AliNetWhiteDNS").unwrap();
    assert!(
        action
            .settings
            .iter()
            .any(|s| s.name == "sas-allowlist-scope")
    );
}

#[tokio::test]
async fn kill_quara_finds_the_event_quarantines_and_revert_restores_the_file() {
    let cloud = cloud(config()).await;
    let call = || {
        request(
            &cloud,
            "AegisKillQuara",
            EntityKind::Process,
            "4242",
            "key-kq",
        )
    };

    let outcome = cloud.execute(call()).await.unwrap();
    assert!(outcome.changed, "{}", outcome.detail);
    let handled = event(&cloud, 909361);
    assert_eq!(handled.status, 32);
    let operation = &handled.handled[0];
    assert_eq!(operation.code, "kill_and_quara");
    assert_eq!(
        operation.params["subOperation"],
        "killAndQuaraFileByPidAndMd5andPath"
    );
    assert_eq!(operation.remark, "riposte-keykq");
    assert_eq!(cloud.simulator.sas_quarantine()[0].path, "/tmp/xmrig");
    // Only the event that mentions pid 4242 was touched.
    assert!(event(&cloud, 909362).handled.is_empty());

    let again = cloud.execute(call()).await.unwrap();
    assert!(!again.changed, "{}", again.detail);
    assert_eq!(event(&cloud, 909361).handled.len(), 1);

    let token = outcome.revert_token.unwrap();
    let undone = cloud.revert(call(), &token).await.unwrap();
    assert!(undone.changed, "{}", undone.detail);
    assert!(cloud.simulator.sas_quarantine().is_empty());
    assert_eq!(cloud.simulator.sas_restored_files()[0].path, "/tmp/xmrig");
    assert!(!cloud.revert(call(), &token).await.unwrap().changed);
    assert!(!logs().contains(SECRET));
}

#[tokio::test]
async fn quara_file_by_a_named_event_and_revert() {
    let cloud = cloud(config()).await;
    let mut call = request(
        &cloud,
        "AegisQuaraFile",
        EntityKind::File,
        "/tmp/xmrig",
        "key-q",
    );
    call.entity.attributes = vec![("sas-event-id".into(), "909361".into())];
    let outcome = cloud.execute(call.clone()).await.unwrap();
    assert!(outcome.changed);
    assert_eq!(event(&cloud, 909361).handled[0].code, "quara");
    assert_eq!(cloud.simulator.sas_quarantine().len(), 1);
    cloud
        .revert(call, &outcome.revert_token.unwrap())
        .await
        .unwrap();
    assert!(cloud.simulator.sas_quarantine().is_empty());
}

#[tokio::test]
async fn kill_and_clean_up_work_and_cannot_be_reverted() {
    let cloud = cloud(config()).await;
    let kill = request(
        &cloud,
        "AegisKillProcess",
        EntityKind::Process,
        "4242",
        "key-k",
    );
    let outcome = cloud.execute(kill.clone()).await.unwrap();
    assert!(outcome.changed && outcome.revert_token.is_none());
    assert_eq!(event(&cloud, 909361).handled[0].code, "kill_process");
    let failure = cloud.revert(kill, "{}").await.unwrap_err();
    assert_eq!(failure.kind, FailureKind::InvalidInput);
    assert!(failure.message.contains("cannot be reverted"), "{failure}");

    let cloud = self::cloud(config()).await;
    let clean = request(
        &cloud,
        "AegisDeepCleanUp",
        EntityKind::Host,
        "i-bp1sastest",
        "key-c",
    );
    cloud.execute(clean.clone()).await.unwrap();
    // A host entity covers every handleable event of the host; the expired
    // one is skipped.
    let codes: Vec<(u64, usize)> = cloud
        .simulator
        .sas_events()
        .iter()
        .map(|e| (e.id, e.handled.len()))
        .collect();
    assert_eq!(
        codes,
        [
            (909361, 1),
            (909362, 1),
            (909363, 1),
            (909364, 0),
            (909365, 0)
        ]
    );
    let failure = cloud.revert(clean, "{}").await.unwrap_err();
    assert!(failure.message.contains("deep clean-up"), "{failure}");
}

#[tokio::test]
async fn block_ip_expires_after_the_duration_and_has_no_unblock() {
    let cloud = cloud(config()).await;
    let mut call = request(
        &cloud,
        "AliNetBlockIP",
        EntityKind::Ip,
        "198.51.100.7",
        "key-b",
    );
    call.duration_seconds = Some(3600);
    let outcome = cloud.execute(call.clone()).await.unwrap();
    assert!(outcome.changed && outcome.revert_token.is_none());
    let operation = &event(&cloud, 909362).handled[0];
    assert_eq!(operation.code, "block_ip");
    let expire = operation.params["expireTime"].as_i64().unwrap();
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    assert!(
        (expire - now_ms - 3_600_000).abs() < 120_000,
        "{expire} vs {now_ms}"
    );

    assert!(!cloud.execute(call.clone()).await.unwrap().changed);
    let failure = cloud.revert(call, "{}").await.unwrap_err();
    assert_eq!(failure.kind, FailureKind::InvalidInput);
    assert!(failure.message.contains("expireTime"), "{failure}");

    let range = request(
        &cloud,
        "AliNetBlockIP",
        EntityKind::Cidr,
        "198.51.100.0/24",
        "key-r",
    );
    let failure = cloud.refused_before_any_request(range).await;
    assert!(failure.message.contains("`cidr`"), "{failure}");
}

#[tokio::test]
async fn allowlisting_adds_a_rule_a_repeat_keeps_it_and_revert_removes_it() {
    let cloud = cloud(config()).await;
    let call = || {
        request(
            &cloud,
            "AliNetWhiteIP",
            EntityKind::Ip,
            "198.51.100.7",
            "key-w",
        )
    };
    let outcome = cloud.execute(call()).await.unwrap();
    assert!(outcome.changed);
    let rules = cloud.simulator.sas_whitelist();
    assert_eq!(rules.len(), 1);
    let rule = &rules[0];
    assert_eq!(
        (
            rule.event_id,
            rule.scope.as_str(),
            rule.field.as_str(),
            rule.operate.as_str()
        ),
        (909362, HOST, "ip", "strEqual")
    );
    assert_eq!(rule.field_value, "198.51.100.7");
    assert!(!cloud.execute(call()).await.unwrap().changed);
    assert_eq!(cloud.simulator.sas_whitelist().len(), 1);

    let token = outcome.revert_token.unwrap();
    assert!(cloud.revert(call(), &token).await.unwrap().changed);
    assert!(cloud.simulator.sas_whitelist().is_empty());
    assert_eq!(event(&cloud, 909362).status, 1);
    assert!(!cloud.revert(call(), &token).await.unwrap().changed);

    // A domain matches its event's detail without regard to case, and the
    // scope setting reaches the rule.
    let mut dns = request(
        &cloud,
        "AliNetWhiteDNS",
        EntityKind::Domain,
        "evil.example",
        "key-d",
    );
    dns.target
        .settings
        .push(("sas-allowlist-scope".into(), "ALL".into()));
    cloud.execute(dns).await.unwrap();
    let rule = &cloud.simulator.sas_whitelist()[0];
    assert_eq!(
        (rule.event_id, rule.scope.as_str(), rule.field.as_str()),
        (909363, "ALL", "domain")
    );
}

#[tokio::test]
async fn actions_security_center_lacks_are_refused_before_any_request() {
    let cloud = cloud(config()).await;
    for (action, kind, value) in [
        ("AegisStopContainer", EntityKind::Container, "4f66ad9a0b2c"),
        ("SasOfflineCheck", EntityKind::Host, HOST),
        ("AliNetBlockDNS", EntityKind::Domain, "evil.example"),
    ] {
        let failure = cloud
            .refused_before_any_request(request(&cloud, action, kind, value, "key-x"))
            .await;
        assert!(
            failure.message.contains("not available on Security Center"),
            "{failure}"
        );
        let plan = cloud
            .plan(request(&cloud, action, kind, value, "key-x"))
            .await;
        assert_eq!(plan.unwrap_err().kind, FailureKind::InvalidInput);
    }
}

#[tokio::test]
async fn unknown_expired_and_unrelated_events_are_refused() {
    let cloud = cloud(config()).await;
    let named = |id: &str, value: &str| {
        let mut call = request(&cloud, "AliNetBlockIP", EntityKind::Ip, value, "key-n");
        call.parameters = vec![("security-event-ids".into(), id.into())];
        call
    };
    let failure = cloud.execute(named("1", "198.51.100.7")).await.unwrap_err();
    assert_eq!(failure.kind, FailureKind::NotFound, "{failure}");
    let failure = cloud
        .execute(named("909364", "198.51.100.99"))
        .await
        .unwrap_err();
    assert_eq!(failure.kind, FailureKind::InvalidInput);
    assert!(failure.message.contains("expired"), "{failure}");
    let failure = cloud
        .execute(named("909362", "192.0.2.1"))
        .await
        .unwrap_err();
    assert!(failure.message.contains("does not mention"), "{failure}");
    let failure = cloud
        .refused_before_any_request(named("90936x", "198.51.100.7"))
        .await;
    assert!(failure.message.contains("`90936x`"), "{failure}");

    // Looked up: nothing mentions the address, or only an expired event does.
    let lookup = |value: &str| request(&cloud, "AliNetBlockIP", EntityKind::Ip, value, "key-l");
    let failure = cloud.execute(lookup("192.0.2.1")).await.unwrap_err();
    assert_eq!(failure.kind, FailureKind::InvalidInput);
    assert!(failure.message.contains("security-event-ids"), "{failure}");
    let failure = cloud.execute(lookup("198.51.100.99")).await.unwrap_err();
    assert!(failure.message.contains("expired"), "{failure}");
    // The other host's event is not looked at when `sas-uuid` names this one.
    let failure = cloud.execute(lookup("198.51.100.8")).await.unwrap_err();
    assert_eq!(failure.kind, FailureKind::InvalidInput);
    assert!(
        cloud
            .simulator
            .sas_events()
            .iter()
            .all(|e| e.handled.is_empty())
    );
}

#[tokio::test]
async fn provider_errors_become_typed_failures() {
    let cloud = cloud(config()).await;
    let call = || {
        request(
            &cloud,
            "AegisKillProcess",
            EntityKind::Process,
            "4242",
            "key-e",
        )
    };

    cloud.simulator.inject(Fault::forbidden_ram(), 1);
    let failure = cloud.execute(call()).await.unwrap_err();
    assert_failure(
        &failure,
        FailureKind::PermissionDenied,
        false,
        "Forbidden.RAM",
    );
    cloud.simulator.inject(
        Fault::error(403, "NoPermission", "caller has no permission"),
        1,
    );
    let failure = cloud.execute(call()).await.unwrap_err();
    assert_failure(
        &failure,
        FailureKind::PermissionDenied,
        false,
        "NoPermission",
    );
    cloud.simulator.inject(Fault::throttling(), 1);
    let failure = cloud.execute(call()).await.unwrap_err();
    assert_failure(&failure, FailureKind::Throttled, true, "Throttling.User");
    // The lookup passes, the handling itself fails with the server.
    cloud
        .simulator
        .inject(Fault::Latency(std::time::Duration::ZERO), 1);
    cloud.simulator.inject(Fault::service_unavailable(), 1);
    let failure = cloud.execute(call()).await.unwrap_err();
    assert_failure(&failure, FailureKind::Internal, true, "ServiceUnavailable");
    assert!(event(&cloud, 909361).handled.is_empty());
    assert!(cloud.execute(call()).await.unwrap().changed);
}

#[tokio::test]
async fn a_task_still_processing_is_a_retryable_timeout_and_the_retry_is_a_no_op() {
    let cloud = cloud(config().with_sas_processing_polls(10)).await;
    let call = || {
        request(
            &cloud,
            "AegisKillProcess",
            EntityKind::Process,
            "4242",
            "key-t",
        )
    };
    let failure = cloud.execute(call()).await.unwrap_err();
    assert_eq!(
        (failure.kind, failure.retryable),
        (FailureKind::Timeout, true),
        "{failure}"
    );
    assert!(failure.message.contains("still processing"), "{failure}");
    let retry = cloud.execute(call()).await.unwrap();
    assert!(!retry.changed, "{}", retry.detail);
    assert_eq!(event(&cloud, 909361).handled.len(), 1);

    // Two processing answers are waited out.
    let cloud = self::cloud(config().with_sas_processing_polls(2)).await;
    let outcome = cloud
        .execute(request(
            &cloud,
            "AegisKillProcess",
            EntityKind::Process,
            "4242",
            "key-u",
        ))
        .await
        .unwrap();
    assert!(outcome.changed);
}

#[tokio::test]
async fn plan_describes_the_handling_and_changes_nothing() {
    let cloud = cloud(config()).await;
    let cases = [
        (
            "AegisKillProcess",
            EntityKind::Process,
            "4242",
            "kill_process",
            false,
        ),
        ("AegisDeepCleanUp", EntityKind::Host, HOST, "cleanup", false),
        (
            "AegisQuaraFile",
            EntityKind::File,
            "/tmp/xmrig",
            "quara",
            true,
        ),
        (
            "AegisKillQuara",
            EntityKind::Process,
            "4242",
            "kill_and_quara",
            true,
        ),
        (
            "AliNetBlockIP",
            EntityKind::Ip,
            "198.51.100.7",
            "block_ip",
            false,
        ),
        (
            "AliNetWhiteIP",
            EntityKind::Ip,
            "198.51.100.7",
            "advance_mark_mis_info",
            true,
        ),
        (
            "AliNetWhiteDNS",
            EntityKind::Domain,
            "evil.example",
            "advance_mark_mis_info",
            true,
        ),
    ];
    for (action, kind, value, code, reversible) in cases {
        let plan = cloud
            .plan(request(&cloud, action, kind, value, "key-p"))
            .await
            .unwrap();
        assert_eq!(plan.reversible, reversible, "{action}");
        assert!(
            plan.changes[0].contains(code),
            "{action}: {:?}",
            plan.changes
        );
    }
    assert!(cloud.simulator.requests().is_empty());
    assert!(
        cloud
            .simulator
            .sas_events()
            .iter()
            .all(|e| e.handled.is_empty())
    );
}
