//! The Alibaba Cloud WAF component sends a correctly signed request
//! through the gate, records how to undo it, and classifies provider
//! errors.

use std::net::IpAddr;

use riposte::runtime::{FailureKind, Grant, LoadedComponent, Runtime, RuntimeConfig, wit};
use riposte_sdk::sign::{InMemoryCredential, Nonce, Request, Timestamp, acs3};
use riposte_tests::{
    Behaviour, LoopbackServer, Recorded, guests, logs, loopback_runtime, pairs, request, secrets,
    wasm,
};

const KEY_ID: &str = "LTAI5tTestKeyId";
const KEY_SECRET: &str = "waf-test-secret-0123456789";

struct Setup {
    runtime: Runtime,
    component: LoadedComponent,
    server: LoopbackServer,
    grant: Grant,
}

async fn setup(behaviour: Behaviour) -> Setup {
    let server = LoopbackServer::start(behaviour).await;
    let names: &[(&str, &[IpAddr])] = &[("waf.test", &[IpAddr::from([127, 0, 0, 1])])];
    let store = secrets(&[("aliyun-test", KEY_ID, KEY_SECRET)]);
    // The default 30 s budget: these tests are about what is sent, and a
    // loaded machine must not turn them into timeouts.
    let config = RuntimeConfig {
        max_concurrent_calls: 32,
        ..RuntimeConfig::default()
    };
    let (runtime, _) = loopback_runtime(config, names, store);
    let component = runtime.load(wasm(guests::ALIYUN_WAF)).await.unwrap();
    let port = server.port();
    let grant = Grant {
        hosts: vec![
            format!("http://waf.test:{port}").parse().unwrap(),
            format!("http://127.0.0.1:{port}").parse().unwrap(),
        ],
        secrets: vec!["aliyun-test".into()],
    };
    Setup {
        runtime,
        component,
        server,
        grant,
    }
}

fn block_request(port: u16, ip: &str) -> wit::ActionRequest {
    let mut call = request("AliyunWafBlockIP", ip, &[]);
    call.target.endpoint = format!("http://waf.test:{port}");
    call.target.credential = Some("aliyun-test".into());
    call.target.settings = vec![
        ("instance-id".into(), "waf_v2_public_cn-test".into()),
        ("template-id".into(), "1122".into()),
    ];
    call
}

/// Recomputes the signature from what the server received, with the SDK
/// signer and an in-memory copy of the credential.
fn expected_authorization(received: &Recorded) -> String {
    let (_, query) = received.target.split_once('?').unwrap();
    assert!(
        !query.contains('%'),
        "test assumes plain query values: {query}"
    );
    let mut unsigned = Request::new("POST", received.header("host").unwrap(), "/");
    let mut query: Vec<_> = pairs(query).into_iter().collect();
    query.sort();
    for (name, value) in query {
        unsigned = unsigned.query(name, value);
    }
    if !received.body.is_empty() {
        unsigned = unsigned.body(
            received.header("content-type").unwrap(),
            received.body.clone(),
        );
    }
    let api = acs3::Api {
        action: received.header("x-acs-action").unwrap(),
        version: received.header("x-acs-version").unwrap(),
    };
    let time: Timestamp = received.header("x-acs-date").unwrap().parse().unwrap();
    let nonce = Nonce::new(received.header("x-acs-signature-nonce").unwrap()).unwrap();
    let credential = InMemoryCredential::new(KEY_ID, KEY_SECRET);
    acs3::sign(&credential, &api, &unsigned, time, nonce)
        .unwrap()
        .details
        .authorization
}

#[tokio::test]
async fn describe_declares_the_action_and_its_hosts() {
    let setup = setup(Behaviour::Respond(200, "application/json", "{}".into())).await;
    let info = setup.component.info();
    assert_eq!(info.name, "aliyun-waf");
    let action = setup.component.action("AliyunWafBlockIP").unwrap();
    assert!(action.reversible && action.retryable);
    assert_eq!(
        action.entity_kinds,
        vec![wit::EntityKind::Ip, wit::EntityKind::Cidr]
    );
    assert!(
        info.hosts
            .iter()
            .any(|h| h == "https://wafopenapi.cn-hangzhou.aliyuncs.com")
    );
}

#[tokio::test]
async fn block_sends_a_signed_create_defense_rule_and_keeps_a_revert_token() {
    let answer = r#"{"RequestId":"D7861F61-5B61-46CE-A47C-6B19160D5EB0","RuleIds":"41822"}"#;
    let setup = setup(Behaviour::Respond(200, "application/json", answer.into())).await;
    let call = block_request(setup.server.port(), "198.51.100.7");

    let report = setup
        .runtime
        .execute(&setup.component, &setup.grant, call, None)
        .await;
    let outcome = report.result.unwrap();
    assert!(
        outcome.detail.contains("WAF rule 41822"),
        "{}",
        outcome.detail
    );
    assert!(outcome.changed);
    let token: serde_json::Value = serde_json::from_str(&outcome.revert_token.unwrap()).unwrap();
    assert_eq!(token["rule_ids"], "41822");
    assert_eq!(token["instance_id"], "waf_v2_public_cn-test");

    // First it looks for the rule a previous attempt may have made (the
    // same name on every attempt), then creates it.
    let requests = setup.server.requests();
    assert_eq!(requests.len(), 2);
    let lookup = &requests[0];
    assert_eq!(lookup.header("x-acs-action"), Some("DescribeDefenseRules"));
    let query = pairs(lookup.target.split_once('?').unwrap().1);
    let filters: serde_json::Value = serde_json::from_str(&unescape(&query["Query"])).unwrap();
    assert_eq!(filters["templateId"], 1122);
    assert_eq!(filters["scene"], "ip_blacklist");
    assert!(filters["name"].as_str().unwrap().starts_with("riposte-"));
    let received = &requests[1];
    assert_eq!(received.method, "POST");
    assert_eq!(received.header("x-acs-action"), Some("CreateDefenseRule"));
    assert_eq!(received.header("x-acs-version"), Some("2021-10-01"));
    let query = pairs(received.target.split_once('?').unwrap().1);
    assert_eq!(query["DefenseScene"], "ip_blacklist");
    assert_eq!(query["TemplateId"], "1122");
    let body = String::from_utf8(received.body.clone()).unwrap();
    assert!(body.starts_with("Rules=%5B%7B"), "{body}");
    assert!(body.contains("198.51.100.7"), "{body}");
    // The hash covers exactly the bytes that arrived, and the signature
    // recomputed from the received request matches the one sent.
    assert_eq!(
        received.header("x-acs-content-sha256").unwrap(),
        riposte_sdk::sign::sha256_hex(&received.body)
    );
    assert_eq!(
        received.header("authorization").unwrap(),
        expected_authorization(received)
    );
    assert!(!logs().contains(KEY_SECRET));
}

#[tokio::test]
async fn revert_deletes_the_rule_and_treats_already_gone_as_done() {
    let gone = r#"{"RequestId":"r2","Code":"Waf.NotFound.Rule","Message":"rule not found"}"#;
    let setup = setup(Behaviour::Respond(404, "application/json", gone.into())).await;
    let call = block_request(setup.server.port(), "198.51.100.7");
    let token = r#"{"instance_id":"waf_v2_public_cn-test","template_id":"1122","region_id":"cn-hangzhou","rule_ids":"41822"}"#;

    let report = setup
        .runtime
        .revert(&setup.component, &setup.grant, call, token.into(), None)
        .await;
    let outcome = report.result.unwrap();
    assert!(!outcome.changed);
    let received = &setup.server.requests()[0];
    assert_eq!(received.header("x-acs-action"), Some("DeleteDefenseRule"));
    assert_eq!(
        pairs(received.target.split_once('?').unwrap().1)["RuleIds"],
        "41822"
    );
}

#[tokio::test]
async fn provider_errors_become_typed_failures() {
    let cases = [
        (400, "Throttling.User", FailureKind::Throttled, true),
        (403, "Forbidden.RAM", FailureKind::PermissionDenied, false),
        (500, "InternalError", FailureKind::Internal, true),
    ];
    for (status, code, kind, retryable) in cases {
        let body = format!(r#"{{"RequestId":"r3","Code":"{code}","Message":"m"}}"#);
        let setup = setup(Behaviour::Respond(status, "application/json", body)).await;
        let call = block_request(setup.server.port(), "198.51.100.7");
        let failure = setup
            .runtime
            .execute(&setup.component, &setup.grant, call, None)
            .await
            .result
            .unwrap_err();
        assert_eq!(failure.kind, kind, "{code}");
        assert_eq!(failure.retryable, retryable, "{code}");
        assert!(failure.message.contains(code) && failure.message.contains("RequestId r3"));
    }
}

#[tokio::test]
async fn a_missing_target_setting_is_named() {
    let setup = setup(Behaviour::Respond(200, "application/json", "{}".into())).await;
    let mut call = block_request(setup.server.port(), "198.51.100.7");
    call.target
        .settings
        .retain(|(name, _)| name != "template-id");

    let failure = setup
        .runtime
        .execute(&setup.component, &setup.grant, call, None)
        .await
        .result
        .unwrap_err();
    assert_eq!(failure.kind, FailureKind::InvalidInput);
    assert!(
        failure.message.contains("no setting `template-id`"),
        "{failure}"
    );
    assert_eq!(setup.server.accepted(), 0);
}

#[tokio::test]
async fn plan_describes_the_change_without_calling_out() {
    let setup = setup(Behaviour::Respond(200, "application/json", "{}".into())).await;
    let call = block_request(setup.server.port(), "2001:db8::7");
    let plan = setup
        .runtime
        .plan(&setup.component, &setup.grant, call, None)
        .await
        .result
        .unwrap();
    assert!(plan.reversible);
    assert!(
        plan.changes[0].contains("blocking 2001:db8::7"),
        "{:?}",
        plan.changes
    );
    assert_eq!(setup.server.accepted(), 0);
}

/// Decodes `%XX` escapes (the query's values are percent-encoded).
fn unescape(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            out.push(u8::from_str_radix(&text[i + 1..i + 3], 16).unwrap());
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}
