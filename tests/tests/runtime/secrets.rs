//! Secret values never leave the host: not through logs, failure messages
//! or requests, and a call opens only the credential its target names.

use std::net::IpAddr;

use riposte::runtime::{FailureKind, Grant};
use riposte_tests::{Behaviour, LoopbackServer, logs, loopback_runtime, request, secrets};

use crate::{hostile, quick_config};

const SECRET: &str = "Zq8vNw3rT5kY7pLm2xC9";
const OTHER_SECRET: &str = "Hb4nJ6sD1fG8kL0pQw3e";

fn store() -> riposte::runtime::secrets::SecretStore {
    secrets(&[
        ("aliyun-prod", "LTAI-public-id", SECRET),
        ("tencent-prod", "AKID-other", OTHER_SECRET),
    ])
}

fn granted(hosts: &[&str]) -> Grant {
    Grant {
        hosts: hosts.iter().map(|h| h.parse().unwrap()).collect(),
        secrets: vec!["aliyun-prod".into()],
    }
}

#[tokio::test]
async fn a_secret_in_a_guest_log_line_is_redacted() {
    let (runtime, _) = loopback_runtime(quick_config(), &[], store());
    let component = hostile(&runtime).await;
    let call = request("LeakLog", "1.2.3.4", &[("secret", SECRET)]);
    let task_id = call.task_id.clone();

    let report = runtime.execute(&component, &granted(&[]), call, None).await;
    assert_eq!(report.result.unwrap().detail, "logged");
    let logs = logs();
    let line = logs
        .lines()
        .find(|line| line.contains(&task_id) && line.contains("the secret is"))
        .expect("the guest's line was logged");
    assert!(line.contains("the secret is [redacted]"), "{line}");
    assert!(!logs.contains(SECRET));
    assert!(!logs.contains(&hex::encode(SECRET)));
}

#[tokio::test]
async fn a_secret_in_a_failure_message_is_redacted() {
    let (runtime, _) = loopback_runtime(quick_config(), &[], store());
    let component = hostile(&runtime).await;

    let call = request("LeakError", "1.2.3.4", &[("secret", OTHER_SECRET)]);
    let failure = runtime
        .execute(&component, &granted(&[]), call, None)
        .await
        .result
        .unwrap_err();
    assert_eq!(failure.kind, FailureKind::PermissionDenied);
    assert_eq!(failure.message, "denied for key [redacted]");
}

#[tokio::test]
async fn what_a_guest_can_derive_from_a_handle_does_not_contain_the_secret() {
    let collector = LoopbackServer::start(Behaviour::Respond(200, "text/plain", "ok".into())).await;
    let port = collector.port();
    let names: &[(&str, &[IpAddr])] = &[("collector.test", &[IpAddr::from([127, 0, 0, 1])])];
    let (runtime, _) = loopback_runtime(quick_config(), names, store());
    let component = hostile(&runtime).await;
    let grant = granted(&[
        &format!("http://collector.test:{port}"),
        &format!("http://127.0.0.1:{port}"),
    ]);
    let url = format!("http://collector.test:{port}/");
    let mut call = request("LeakRequest", "1.2.3.4", &[("url", &url)]);
    call.target.credential = Some("aliyun-prod".into());

    let report = runtime.execute(&component, &grant, call, None).await;
    assert_eq!(report.result.unwrap().detail, "sent loot, status 200");
    let loot = String::from_utf8(collector.requests()[0].body.clone()).unwrap();
    assert!(loot.contains("id=LTAI-public-id"), "{loot}");
    // The MACs are real (the guest can sign) but reveal nothing.
    assert_eq!(loot.lines().count(), 5);
    assert!(!loot.contains(SECRET));
    assert!(!loot.contains(&hex::encode(SECRET)));
}

#[tokio::test]
async fn a_call_opens_only_the_granted_credential_of_its_own_target() {
    let (runtime, _) = loopback_runtime(quick_config(), &[], store());
    let component = hostile(&runtime).await;
    let probe = |name: &str, target_credential: Option<&str>| {
        let mut call = request("SecretProbe", "1.2.3.4", &[("name", name)]);
        call.target.credential = target_credential.map(str::to_string);
        call
    };

    // Granted to the component and named by the target: opens.
    let report = runtime
        .execute(
            &component,
            &granted(&[]),
            probe("aliyun-prod", Some("aliyun-prod")),
            None,
        )
        .await;
    assert_eq!(report.result.unwrap().detail, "opened LTAI-public-id");

    let refused = [
        // Granted, but this call's target uses another credential.
        ("aliyun-prod", Some("tencent-prod")),
        // Named by the target, but never granted to the component.
        ("tencent-prod", Some("tencent-prod")),
        // Does not exist; indistinguishable from not granted.
        ("no-such-secret", Some("no-such-secret")),
    ];
    for (name, target) in refused {
        let failure = runtime
            .execute(&component, &granted(&[]), probe(name, target), None)
            .await
            .result
            .unwrap_err();
        assert!(failure.message.contains("not-granted"), "{name}: {failure}");
    }
}

#[tokio::test]
async fn a_secret_smuggled_into_a_host_name_is_not_logged() {
    // Host names are case-insensitive, so use a secret a name can carry.
    const LOWER: &str = "zq8vnw3rt5ky7plm2xc9";
    let (runtime, connector) =
        loopback_runtime(quick_config(), &[], secrets(&[("lower", "id", LOWER)]));
    let component = hostile(&runtime).await;
    let call = request("LeakHost", "1.2.3.4", &[("secret", LOWER)]);

    let report = runtime.execute(&component, &granted(&[]), call, None).await;
    assert!(report.result.is_err());
    assert_eq!(connector.connected(), 0);
    assert_eq!(
        report.refusals,
        [
            "http://[redacted].exfil.test: `http://[redacted].exfil.test:80` is not granted \
          to this component"
        ]
    );
    let logs = logs();
    let leaked: Vec<&str> = logs.lines().filter(|l| l.contains(LOWER)).collect();
    assert!(leaked.is_empty(), "{leaked:#?}");
}

#[tokio::test]
async fn a_revert_token_carrying_a_secret_is_refused() {
    let (runtime, _) = loopback_runtime(quick_config(), &[], store());
    let component = hostile(&runtime).await;
    let call = request("LeakToken", "1.2.3.4", &[("secret", SECRET)]);

    let failure = runtime
        .execute(&component, &granted(&[]), call, None)
        .await
        .result
        .unwrap_err();
    assert!(
        failure.message.contains("revert token containing a secret"),
        "{failure}"
    );
    assert!(!failure.message.contains(SECRET));
}
