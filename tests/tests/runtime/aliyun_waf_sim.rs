//! The Alibaba Cloud WAF 3.0 component's three actions against the
//! provider simulator: rules land in the template, a retry reuses its
//! rule, revert deletes it.

use riposte::runtime::{FailureKind, wit::EntityKind};
use riposte_simulator::SimulatorConfig;
use riposte_tests::guests;

use crate::cloud::{Cloud, assert_failure};

const AK: &str = "LTAI5tWafSimKey";
const SECRET: &str = "waf-sim-secret-never-logged";
const INSTANCE: &str = "waf_v2_public_cn-sim";
const SETTINGS: [(&str, &str); 2] = [("instance-id", INSTANCE), ("template-id", "1122")];

fn config() -> SimulatorConfig {
    SimulatorConfig::default()
        .with_credential(AK, SECRET)
        .with_waf_template(INSTANCE, 1122)
}

async fn cloud(config: SimulatorConfig) -> Cloud {
    Cloud::start(
        guests::ALIYUN_WAF,
        ("waf.test", "cn-hangzhou"),
        config,
        AK,
        SECRET,
    )
    .await
}

#[tokio::test]
async fn block_retry_reuses_the_named_rule_and_revert_deletes_it() {
    let cloud = cloud(config()).await;
    let call = || {
        cloud.request(
            "AliyunWafBlockIP",
            EntityKind::Cidr,
            "2001:db8::/32",
            &SETTINGS,
            "key-w1",
        )
    };
    let outcome = cloud.execute(call()).await.unwrap();
    assert!(outcome.changed);
    let rules = cloud.simulator.waf_rules();
    assert_eq!(rules.len(), 1);
    assert_eq!(
        (
            rules[0].scene.as_str(),
            rules[0].action.as_str(),
            rules[0].name.as_str()
        ),
        ("ip_blacklist", "block", "riposte-keyw1")
    );
    assert_eq!(rules[0].remote_addr, ["2001:db8::/32"]);

    let again = cloud.execute(call()).await.unwrap();
    assert!(
        !again.changed && again.revert_token == outcome.revert_token,
        "{}",
        again.detail
    );
    assert_eq!(cloud.simulator.waf_rules().len(), 1);

    let token = outcome.revert_token.unwrap();
    assert!(cloud.revert(call(), &token).await.unwrap().changed);
    assert!(cloud.simulator.waf_rules().is_empty());
    assert!(!cloud.revert(call(), &token).await.unwrap().changed);
}

#[tokio::test]
async fn monitor_and_whitelist_rules_have_their_scene_action_and_tags() {
    let cloud = cloud(config()).await;
    let monitor = cloud.request(
        "AliYunWafMonitorIP",
        EntityKind::Ip,
        "::ffff:198.51.100.7",
        &SETTINGS,
        "key-m1",
    );
    cloud.execute(monitor).await.unwrap();
    let white = cloud.request(
        "WafWhiteListBatch",
        EntityKind::Ip,
        "203.0.113.9",
        &SETTINGS,
        "key-a1",
    );
    let white_outcome = cloud.execute(white.clone()).await.unwrap();
    let mut custom = SETTINGS.to_vec();
    custom.push(("bypass-modules", "waf, cc"));
    cloud
        .execute(cloud.request(
            "WafWhiteListBatch",
            EntityKind::Ip,
            "203.0.113.10",
            &custom,
            "key-a2",
        ))
        .await
        .unwrap();

    let rules = cloud.simulator.waf_rules();
    let got: Vec<(&str, &str, Vec<String>, Vec<String>)> = rules
        .iter()
        .map(|r| {
            (
                r.scene.as_str(),
                r.action.as_str(),
                r.remote_addr.clone(),
                r.tags.clone(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            (
                "ip_blacklist",
                "monitor",
                vec!["198.51.100.7".to_owned()],
                vec![]
            ),
            (
                "whitelist",
                "",
                vec!["203.0.113.9".to_owned()],
                vec!["waf".to_owned()]
            ),
            (
                "whitelist",
                "",
                vec!["203.0.113.10".to_owned()],
                vec!["waf".to_owned(), "cc".to_owned()]
            ),
        ]
    );
    cloud
        .revert(white, &white_outcome.revert_token.unwrap())
        .await
        .unwrap();
    assert_eq!(cloud.simulator.waf_rules().len(), 2);
}

#[tokio::test]
async fn invalid_entities_are_refused_and_a_full_template_is_a_quota_failure() {
    let cloud = cloud(config().with_waf_rule_quota(1)).await;
    for (action, kind, value) in [
        ("AliyunWafBlockIP", EntityKind::Ip, ""),
        ("AliYunWafMonitorIP", EntityKind::Ip, "evil.example"),
        ("WafWhiteListBatch", EntityKind::Cidr, "0.0.0.0/0"),
        ("WafWhiteListBatch", EntityKind::Domain, "evil.example"),
    ] {
        cloud
            .refused_before_any_request(cloud.request(action, kind, value, &SETTINGS, "k"))
            .await;
    }
    cloud
        .execute(cloud.request(
            "AliyunWafBlockIP",
            EntityKind::Ip,
            "198.51.100.1",
            &SETTINGS,
            "k1",
        ))
        .await
        .unwrap();
    let failure = cloud
        .execute(cloud.request(
            "AliyunWafBlockIP",
            EntityKind::Ip,
            "198.51.100.2",
            &SETTINGS,
            "k2",
        ))
        .await
        .unwrap_err();
    assert_failure(
        &failure,
        FailureKind::QuotaExceeded,
        false,
        "Waf.Quota.Exceeded",
    );
}
