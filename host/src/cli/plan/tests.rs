//! Each subcommand's request: method, path and query, body, and the role
//! named when the server refuses it.

use std::collections::HashMap;

use clap::Parser;
use serde_json::json;

use super::*;
use crate::cli::args::Cli;

/// 2026-12-04T18:40:17.000Z
const NOW: Time = Time::from_millis(1_796_409_617_000);

/// Plans a command line with a fixed clock, `env` and `stdin`.
fn plan_with(line: &str, env: &[(&str, &str)], stdin: &str) -> Result<Plan, Fail> {
    let words = shell_words(line);
    let cli = Cli::try_parse_from(std::iter::once("riposte".to_string()).chain(words))
        .unwrap_or_else(|err| panic!("`{line}` does not parse: {err}"));
    let env: HashMap<String, String> = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let lookup = |name: &str| env.get(name).cloned();
    let mut input = stdin.as_bytes();
    let mut inputs = Inputs {
        now: NOW,
        env: &lookup,
        stdin: &mut input,
    };
    plan(&cli.command, &mut inputs)
}

/// Splits on spaces; `'...'` keeps spaces (enough for these tests).
fn shell_words(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut quoted = false;
    for c in line.chars() {
        match c {
            '\'' => quoted = !quoted,
            ' ' if !quoted => {
                if !word.is_empty() {
                    words.push(std::mem::take(&mut word));
                }
            }
            c => word.push(c),
        }
    }
    if !word.is_empty() {
        words.push(word);
    }
    words
}

fn call(line: &str) -> Call {
    match plan_with(line, &[], "") {
        Ok(Plan::Call(call)) => call,
        other => panic!("`{line}`: {other:?}"),
    }
}

fn refused(line: &str) -> Fail {
    match plan_with(line, &[], "") {
        Err(fail) => fail,
        other => panic!("`{line}` was accepted: {other:?}"),
    }
}

fn json_body(call: &Call) -> Value {
    let body = call.request.body.as_ref().expect("a body");
    assert_eq!(body.content_type, "application/json");
    serde_json::from_slice(&body.bytes).unwrap()
}

/// A scratch file, removed when dropped.
struct TempFile(PathBuf);

impl TempFile {
    fn new(name: &str, text: &str) -> Self {
        let path = std::env::temp_dir().join(format!(
            "riposte-cli-plan-{}-{}-{name}",
            std::process::id(),
            fastrand::u64(..)
        ));
        std::fs::write(&path, text).unwrap();
        Self(path)
    }

    fn path(&self) -> &str {
        self.0.to_str().unwrap()
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

#[test]
fn requests_without_a_body() {
    let cases: &[(&str, Method, &str, Role)] = &[
        ("task list", Method::GET, "/v1/tasks", Role::Viewer),
        (
            "task list --status Failed --entity-kind ip --entity 2001:db8::1 --action A \
             --target waf-prod --policy 7 --limit 20 --before c9",
            Method::GET,
            "/v1/tasks?status=Failed&entity_kind=ip&entity=2001%3Adb8%3A%3A1&action=A\
             &target=waf-prod&policy=7&limit=20&before=c9",
            Role::Viewer,
        ),
        ("task get 42", Method::GET, "/v1/tasks/42", Role::Viewer),
        (
            "task retry 42",
            Method::POST,
            "/v1/tasks/42/retry",
            Role::Operator,
        ),
        (
            "task unblock 42",
            Method::POST,
            "/v1/tasks/42/unblock",
            Role::Operator,
        ),
        (
            "policy list --status Succeeded --entity-kind domain --entity evil.example \
             --action A --source manual --script block --version block@3 \
             --since 2026-12-01T00:00:00Z --until 2026-12-05T02:40:17+08:00 --limit 5",
            Method::GET,
            "/v1/policies?status=Succeeded&entity_kind=domain&entity=evil.example&action=A\
             &source=manual&script=block&version=block%403&since=2026-12-01T00%3A00%3A00Z\
             &until=2026-12-05T02%3A40%3A17%2B08%3A00&limit=5",
            Role::Viewer,
        ),
        ("policy get 3", Method::GET, "/v1/policies/3", Role::Viewer),
        (
            "policy script 3",
            Method::GET,
            "/v1/policies/3/script",
            Role::Viewer,
        ),
        ("script list", Method::GET, "/v1/scripts", Role::Viewer),
        (
            "script versions block-attacker",
            Method::GET,
            "/v1/scripts/block-attacker/versions",
            Role::Viewer,
        ),
        (
            "script get block-attacker 2",
            Method::GET,
            "/v1/scripts/block-attacker/versions/2",
            Role::Viewer,
        ),
        ("rule list", Method::GET, "/v1/rules", Role::Viewer),
        ("rule get r1", Method::GET, "/v1/rules/r1", Role::Viewer),
        (
            "rule delete r1",
            Method::DELETE,
            "/v1/rules/r1",
            Role::Admin,
        ),
        (
            "rule enable r1",
            Method::POST,
            "/v1/rules/r1/enable",
            Role::Admin,
        ),
        (
            "rule disable r1",
            Method::POST,
            "/v1/rules/r1/disable",
            Role::Admin,
        ),
        ("allow list", Method::GET, "/v1/allowlist", Role::Viewer),
        ("allow get 5", Method::GET, "/v1/allowlist/5", Role::Viewer),
        (
            "allow remove 5",
            Method::DELETE,
            "/v1/allowlist/5",
            Role::Operator,
        ),
        ("target list", Method::GET, "/v1/targets", Role::Viewer),
        (
            "target get waf-prod",
            Method::GET,
            "/v1/targets/waf-prod",
            Role::Viewer,
        ),
        (
            "target delete waf-prod",
            Method::DELETE,
            "/v1/targets/waf-prod",
            Role::Admin,
        ),
        (
            "component list",
            Method::GET,
            "/v1/components",
            Role::Viewer,
        ),
        (
            "component inspect aliyun-waf",
            Method::GET,
            "/v1/components/aliyun-waf",
            Role::Viewer,
        ),
        (
            "component enable aliyun-waf",
            Method::POST,
            "/v1/components/aliyun-waf/enable",
            Role::Admin,
        ),
        (
            "component disable aliyun-waf",
            Method::POST,
            "/v1/components/aliyun-waf/disable",
            Role::Admin,
        ),
        (
            "alert list --limit 10 --before 99",
            Method::GET,
            "/v1/alerts?limit=10&before=99",
            Role::Viewer,
        ),
        ("alert get 8", Method::GET, "/v1/alerts/8", Role::Viewer),
        ("incident list", Method::GET, "/v1/incidents", Role::Viewer),
        (
            "incident get 8",
            Method::GET,
            "/v1/incidents/8",
            Role::Viewer,
        ),
        (
            "audit list --actor alice --action task.unblock --object task/42 \
             --since 2026-12-01T00:00:00Z --all",
            Method::GET,
            "/v1/audit?actor=alice&action=task.unblock&object=task%2F42\
             &since=2026-12-01T00%3A00%3A00Z",
            Role::Viewer,
        ),
        ("token list", Method::GET, "/v1/tokens", Role::Admin),
        (
            "token revoke ci",
            Method::DELETE,
            "/v1/tokens/ci",
            Role::Admin,
        ),
        // Names are one path segment each, whatever they hold.
        (
            "rule get a/b?c",
            Method::GET,
            "/v1/rules/a%2Fb%3Fc",
            Role::Viewer,
        ),
    ];
    for (line, method, target, role) in cases {
        let call = call(line);
        assert_eq!(&call.request.method, method, "{line}");
        assert_eq!(call.request.target(), *target, "{line}");
        assert_eq!(call.role, *role, "{line}");
        assert!(call.request.body.is_none(), "{line}");
    }
    assert!(call("audit list --all").all);
    assert!(!call("task list").all);
}

#[test]
fn views_follow_the_command() {
    let view = |line: &str| format!("{:?}", call(line).view);
    assert_eq!(view("task list"), "Table(tasks)");
    assert_eq!(view("task get 1"), "Record");
    assert_eq!(view("policy get 1"), "PolicyDetail");
    assert_eq!(view("policy script 1"), "PolicyScript");
    assert_eq!(view("rule delete r"), "Done(\"rule `r` deleted\")");
    assert_eq!(view("token create ci --role viewer"), "NewToken");
}

#[test]
fn script_and_rule_files_go_as_json_or_yaml() {
    let yaml = TempFile::new("script.yaml", "name: block\nsteps: []\n");
    let json_file = TempFile::new("script.json", "{\"name\": \"block\", \"steps\": []}");

    let created = call(&format!("script create {}", yaml.path()));
    assert_eq!(created.request.method, Method::POST);
    assert_eq!(created.request.target(), "/v1/scripts");
    assert_eq!(created.role, Role::Admin);
    let body = created.request.body.unwrap();
    assert_eq!(body.content_type, "application/yaml");
    assert_eq!(body.bytes, b"name: block\nsteps: []\n");

    let published = call(&format!("script publish block {}", json_file.path()));
    assert_eq!(published.request.target(), "/v1/scripts/block/versions");
    let body = published.request.body.unwrap();
    assert_eq!(body.content_type, "application/json");
    assert_eq!(body.bytes, b"{\"name\": \"block\", \"steps\": []}");

    let validated = call(&format!("script validate {}", yaml.path()));
    assert_eq!(validated.request.target(), "/v1/scripts/validate");
    assert_eq!(validated.role, Role::Operator);
    assert_eq!(format!("{:?}", validated.view), "Validation");

    let put = call(&format!("rule put r1 {}", yaml.path()));
    assert_eq!(put.request.method, Method::PUT);
    assert_eq!(put.request.target(), "/v1/rules/r1");
    assert_eq!(put.request.body.unwrap().content_type, "application/yaml");

    let empty = TempFile::new("empty.yaml", "\n  \n");
    let fail = refused(&format!("script create {}", empty.path()));
    assert!(fail.message.contains("is empty"), "{fail}");
    let fail = refused("script create /nonexistent/riposte/script.yaml");
    assert!(fail.message.contains("cannot read"), "{fail}");
    assert_eq!(fail.code, 2);
}

#[test]
fn bodies_of_json_requests() {
    let run = call("script run block --entity ip:::ffff:203.0.113.7");
    assert_eq!(run.request.target(), "/v1/scripts/block/run");
    assert_eq!(run.role, Role::Operator);
    assert_eq!(
        json_body(&run),
        json!({"entity": {"kind": "ip", "value": "203.0.113.7"}})
    );

    let add =
        call("allow add --kind cidr --value 198.51.100.0/24 --reason 'our scanner' --expires 7d");
    assert_eq!(add.request.method, Method::POST);
    assert_eq!(add.request.target(), "/v1/allowlist");
    assert_eq!(add.role, Role::Operator);
    assert_eq!(
        json_body(&add),
        json!({"kind": "cidr", "value": "198.51.100.0/24", "reason": "our scanner",
               "expires_at": "2026-12-11T18:40:17.000Z"})
    );
    let add = call("allow add --kind ip --value 192.0.2.1 --reason r");
    assert_eq!(
        json_body(&add),
        json!({"kind": "ip", "value": "192.0.2.1", "reason": "r"})
    );

    let token = call("token create ci --role operator");
    assert_eq!(token.request.target(), "/v1/tokens");
    assert_eq!(json_body(&token), json!({"name": "ci", "role": "operator"}));
}

#[test]
fn alert_handling_bodies() {
    let handle = call("alert handle 8 --apply-recommended");
    assert_eq!(handle.request.method, Method::POST);
    assert_eq!(handle.request.target(), "/v1/alerts/8/handle");
    assert_eq!(handle.role, Role::Operator);
    assert_eq!(json_body(&handle), json!({"action": "apply-recommended"}));

    let handle = call("incident handle 9 --run-script block --entity domain:Evil.Example.");
    assert_eq!(handle.request.target(), "/v1/incidents/9/handle");
    assert_eq!(
        json_body(&handle),
        json!({"action": "run-script", "script": "block",
               "entity": {"kind": "domain", "value": "evil.example"}})
    );

    let handle = call(
        "alert handle 8 --allowlist --entity ip:192.0.2.1 --reason 'pen test' \
         --expires 2026-12-05T10:40:17+08:00",
    );
    assert_eq!(
        json_body(&handle),
        json!({"action": "allowlist", "entity": {"kind": "ip", "value": "192.0.2.1"},
               "reason": "pen test", "expires_at": "2026-12-05T02:40:17.000Z"})
    );
}

#[test]
fn mistakes_are_caught_before_sending() {
    let cases: &[(&str, &str)] = &[
        ("alert handle 8", "say how to handle it"),
        (
            "alert handle 8 --run-script block",
            "needs `--entity KIND:VALUE`",
        ),
        (
            "alert handle 8 --allowlist --entity ip:192.0.2.1",
            "needs `--reason`",
        ),
        (
            "alert handle 8 --apply-recommended --reason x",
            "goes with `--allowlist` only",
        ),
        (
            "alert handle 8 --apply-recommended --entity ip:192.0.2.1",
            "takes no `--entity`",
        ),
        ("script run block --entity 203.0.113.7", "is not KIND:VALUE"),
        (
            "script run block --entity ipv4:203.0.113.7",
            "is not an entity kind",
        ),
        ("script run block --entity ip:203.0.113.300", "--entity"),
        (
            "allow add --kind ipv4 --value x --reason r",
            "is not an entity kind",
        ),
        (
            "allow add --kind ip --value 192.0.2.1 --reason r --expires soon",
            "neither an RFC 3339",
        ),
        (
            "allow add --kind ip --value 192.0.2.1 --reason r --expires 2020-01-01T00:00:00Z",
            "in the past",
        ),
        ("policy list --since yesterday", "`--since`"),
        ("policy list --version block", "is not NAME@VERSION"),
        ("audit list --until 2026-12-04", "`--until`"),
        ("alert send - --follow", "`--follow` needs a file"),
    ];
    for (line, expected) in cases {
        let fail = refused(line);
        assert!(fail.message.contains(expected), "{line}: {fail}");
        assert_eq!(fail.code, 2, "{line}");
    }
}

#[test]
fn clap_refuses_what_the_api_cannot_take() {
    for line in [
        "task list --entity 192.0.2.1",
        "task list --limit 0",
        "task list --limit 501",
        "alert handle 8 --apply-recommended --allowlist",
        "token create ci --role root",
        "--token a --token-file b task list",
        "alert send x --batch 0",
    ] {
        let words = shell_words(line);
        let parsed = Cli::try_parse_from(std::iter::once("riposte".to_string()).chain(words));
        assert!(parsed.is_err(), "{line} was accepted");
    }
}

#[test]
fn durations_become_absolute_utc_expiries() {
    assert_eq!(expiry("7d", NOW).unwrap(), "2026-12-11T18:40:17.000Z");
    assert_eq!(expiry("1h30m", NOW).unwrap(), "2026-12-04T20:10:17.000Z");
    assert_eq!(expiry("90", NOW).unwrap(), "2026-12-04T18:41:47.000Z");
    assert_eq!(
        expiry("2026-12-31T08:00:00+08:00", NOW).unwrap(),
        "2026-12-31T00:00:00.000Z"
    );
    for bad in ["0s", "-1d", "7 days", "2026-12-04T18:40:17Z", ""] {
        assert!(expiry(bad, NOW).is_err(), "{bad}");
    }
}

#[test]
fn alert_send_plans() {
    let plan = |line: &str| match plan_with(line, &[], "") {
        Ok(Plan::Send(send)) => send,
        other => panic!("`{line}`: {other:?}"),
    };
    assert_eq!(
        plan("alert send eve.json"),
        SendPlan {
            path: "/v1/alerts/batch",
            format: None,
            file: Some("eve.json".into()),
            follow: false,
            batch: 500,
        }
    );
    assert_eq!(
        plan("alert send - --incident --format falco --batch 50"),
        SendPlan {
            path: "/v1/incidents/batch",
            format: Some("falco".into()),
            file: None,
            follow: false,
            batch: 50,
        }
    );
    let follow = plan("incident send /var/log/x.jsonl --follow");
    assert_eq!(follow.path, "/v1/incidents/batch");
    assert!(follow.follow);
}

#[test]
fn target_secrets_come_from_the_file_env_or_stdin() {
    let yaml = TempFile::new(
        "target.yaml",
        "provider: aliyun\nendpoint: https://wafopenapi.cn-hangzhou.aliyuncs.com\n\
         credential:\n  public_id: LTAI5t\n",
    );
    let put = |env: &[(&str, &str)], stdin: &str, extra: &str| match plan_with(
        &format!("target put waf-prod {} {extra}", yaml.path()),
        env,
        stdin,
    ) {
        Ok(Plan::Call(call)) => call,
        other => panic!("{other:?}"),
    };

    let plain = put(&[], "", "");
    assert_eq!(plain.request.method, Method::PUT);
    assert_eq!(plain.request.target(), "/v1/targets/waf-prod");
    assert_eq!(plain.role, Role::Admin);
    assert_eq!(
        json_body(&plain),
        json!({"provider": "aliyun",
               "endpoint": "https://wafopenapi.cn-hangzhou.aliyuncs.com",
               "credential": {"public_id": "LTAI5t"}})
    );

    let from_env = put(&[(TARGET_SECRET_ENV, "env-secret")], "", "");
    assert_eq!(json_body(&from_env)["credential"]["secret"], "env-secret");

    // stdin wins over the environment when asked for.
    let from_stdin = put(
        &[(TARGET_SECRET_ENV, "env-secret")],
        "stdin-secret\r\nignored\n",
        "--secret-stdin",
    );
    assert_eq!(
        json_body(&from_stdin)["credential"]["secret"],
        "stdin-secret"
    );

    // A secret with nothing to pair it with is refused, without echoing it.
    let bare = TempFile::new(
        "bare.json",
        "{\"provider\": \"aliyun\", \"endpoint\": \"x\"}",
    );
    let fail = match plan_with(
        &format!("target put t {}", bare.path()),
        &[(TARGET_SECRET_ENV, "env-secret")],
        "",
    ) {
        Err(fail) => fail,
        other => panic!("{other:?}"),
    };
    assert!(fail.message.contains("credential.public_id"), "{fail}");
    assert!(!fail.to_string().contains("env-secret"), "{fail}");

    let list = TempFile::new("list.json", "[1, 2]");
    let fail = refused(&format!("target put t {}", list.path()));
    assert!(fail.message.contains("is not a target"), "{fail}");
}

#[test]
fn component_lifecycle_commands_send_the_file_its_signature_and_the_grant() {
    let wasm = TempFile::new("c.wasm", "\0asm-bytes");
    // No signature beside it: none is sent.
    let load = call(&format!("component load {}", wasm.path()));
    assert_eq!(load.request.method, Method::POST);
    assert_eq!(load.request.target(), "/v1/components");
    let body = load.request.body.as_ref().unwrap();
    assert_eq!(body.content_type, "application/wasm");
    assert_eq!(body.bytes, b"\0asm-bytes");
    assert!(load.request.headers.is_empty());
    assert_eq!(load.role, Role::Admin);
    // FILE.minisig beside it is sent, base64-encoded.
    let beside = format!("{}.minisig", wasm.path());
    std::fs::write(&beside, "untrusted comment: x\nRUS...\n").unwrap();
    let load = call(&format!("component load {}", wasm.path()));
    let _ = std::fs::remove_file(&beside);
    use base64::Engine as _;
    let expected =
        base64::engine::general_purpose::STANDARD.encode("untrusted comment: x\nRUS...\n");
    assert_eq!(
        load.request.headers,
        vec![("x-riposte-signature", expected)]
    );
    let fail = refused("component load /nonexistent/c.wasm");
    assert!(fail.message.contains("/nonexistent/c.wasm"), "{fail}");

    let grant = call(
        "component grant aliyun-waf --host https://*.aliyuncs.com --host http://127.0.0.1:9 \
         --secret target:*",
    );
    assert_eq!(grant.request.target(), "/v1/components/aliyun-waf/grant");
    assert_eq!(
        json_body(&grant),
        json!({"hosts": ["https://*.aliyuncs.com", "http://127.0.0.1:9"], "secrets": ["target:*"]})
    );
    let activate = call("component activate aliyun-waf 1.2.0");
    assert_eq!(
        activate.request.target(),
        "/v1/components/aliyun-waf/activate"
    );
    assert_eq!(json_body(&activate), json!({"version": "1.2.0"}));
    let remove = call("component remove aliyun-waf --version 1.0.0");
    assert_eq!(remove.request.method, Method::DELETE);
    assert_eq!(
        remove.request.target(),
        "/v1/components/aliyun-waf?version=1.0.0"
    );
    let remove = call("component remove aliyun-waf --force");
    assert_eq!(
        remove.request.target(),
        "/v1/components/aliyun-waf?force=true"
    );
}
