//! What an admin sets up through the API before alerts flow: targets with
//! their credentials, an allowlist of internal addresses, the bundled
//! response scripts and rules; and the alerts the demo writes about its
//! own scratch processes and files.

use std::path::Path;

use serde_json::{Value, json};

use super::client::ApiClient;
use super::world::{self, Credential, Credentials, LocalAgent, Scratch};

/// The response scripts, published in this order.
pub const SCRIPTS: &[(&str, &str)] = &[
    (
        "block-attacker-aliyun",
        include_str!("../../../demo/scripts/block-attacker-aliyun.yaml"),
    ),
    (
        "block-attacker-tencent",
        include_str!("../../../demo/scripts/block-attacker-tencent.yaml"),
    ),
    (
        "block-attacker-huawei",
        include_str!("../../../demo/scripts/block-attacker-huawei.yaml"),
    ),
    (
        "sas-block-source",
        include_str!("../../../demo/scripts/sas-block-source.yaml"),
    ),
    (
        "kill-process",
        include_str!("../../../demo/scripts/kill-process.yaml"),
    ),
    (
        "kill-and-quarantine",
        include_str!("../../../demo/scripts/kill-and-quarantine.yaml"),
    ),
    (
        "quarantine-file",
        include_str!("../../../demo/scripts/quarantine-file.yaml"),
    ),
    (
        "deep-clean-host",
        include_str!("../../../demo/scripts/deep-clean-host.yaml"),
    ),
    (
        "sinkhole-c2",
        include_str!("../../../demo/scripts/sinkhole-c2.yaml"),
    ),
    (
        "block-c2-on-host",
        include_str!("../../../demo/scripts/block-c2-on-host.yaml"),
    ),
];

/// The response rules; `${SCRATCH}` stands for the scratch directory.
pub const RULES: &[(&str, &str)] = &[
    (
        "suricata-to-aliyun",
        include_str!("../../../demo/rules/suricata-to-aliyun.yaml"),
    ),
    (
        "suricata-to-tencent",
        include_str!("../../../demo/rules/suricata-to-tencent.yaml"),
    ),
    (
        "suricata-to-huawei",
        include_str!("../../../demo/rules/suricata-to-huawei.yaml"),
    ),
    (
        "sas-block-source",
        include_str!("../../../demo/rules/sas-block-source.yaml"),
    ),
    (
        "falco-miner",
        include_str!("../../../demo/rules/falco-miner.yaml"),
    ),
    (
        "falco-reverse-shell",
        include_str!("../../../demo/rules/falco-reverse-shell.yaml"),
    ),
    (
        "falco-web-shell",
        include_str!("../../../demo/rules/falco-web-shell.yaml"),
    ),
    (
        "falco-web-shell-sweep",
        include_str!("../../../demo/rules/falco-web-shell-sweep.yaml"),
    ),
    (
        "falco-c2-sinkhole",
        include_str!("../../../demo/rules/falco-c2-sinkhole.yaml"),
    ),
    (
        "falco-c2-block",
        include_str!("../../../demo/rules/falco-c2-block.yaml"),
    ),
];

/// The YARA rules the agent target's deep clean uses.
pub const YARA_RULES: &str = r#"rule php_request_eval {
  meta:
    description = "PHP that runs code or commands taken from the request"
  strings:
    $eval = "eval($_POST"
    $system = "system($_GET"
    $passthru = "passthru($_REQUEST"
  condition:
    any of them
}
"#;

/// Creates every target, one per product shown.
pub async fn targets(
    api: &ApiClient,
    port: u16,
    credentials: &Credentials,
    agent: &LocalAgent,
    scratch: &Scratch,
) -> anyhow::Result<Vec<String>> {
    let host = |component: &str| {
        let name = world::ALIYUN_HOSTS
            .iter()
            .find(|(c, _)| *c == component)
            .map(|(_, host)| *host)
            .expect("a known component");
        format!("http://{name}:{port}")
    };
    let tencent = format!("http://{}:{port}", world::TENCENT_HOST);
    let huawei = format!("http://{}:{port}", world::HUAWEI_HOST);
    let agent_endpoint = format!("http://{}:{}", world::AGENT_HOST, agent.agent.addr().port());
    let agent_key = Credential {
        public_id: agent.key_id.clone(),
        secret: agent.secret.clone(),
    };
    let web_root = scratch.dir.join("www").display().to_string();
    let template = world::WAF_TEMPLATE.to_string();
    let aliyun = Some(&credentials.aliyun);
    let specs: Vec<(&str, Value, Option<&Credential>)> = vec![
        (
            "aliyun-waf",
            json!({"provider": "aliyun", "endpoint": host("aliyun-waf"),
                   "region": "cn-hangzhou", "resource": world::WAF_INSTANCE,
                   "settings": {"instance-id": world::WAF_INSTANCE, "template-id": template}}),
            aliyun,
        ),
        (
            "aliyun-cloudfw",
            json!({"provider": "aliyun", "endpoint": host("aliyun-cloudfw"),
                   "region": "cn-hangzhou", "resource": "internet-border"}),
            aliyun,
        ),
        (
            "aliyun-ecs",
            json!({"provider": "aliyun", "endpoint": host("aliyun-ecs"),
                   "region": "cn-hangzhou", "resource": world::SECURITY_GROUP,
                   "settings": {"security-group-id": world::SECURITY_GROUP}}),
            aliyun,
        ),
        (
            "aliyun-clb",
            json!({"provider": "aliyun", "endpoint": host("aliyun-slb"),
                   "region": "cn-hangzhou", "resource": world::CLB_ACL,
                   "settings": {"acl-id": world::CLB_ACL}}),
            aliyun,
        ),
        (
            "aliyun-cdn",
            json!({"provider": "aliyun", "endpoint": host("aliyun-cdn"),
                   "region": "cn-hangzhou", "resource": world::CDN_DOMAIN,
                   "settings": {"domain": world::CDN_DOMAIN}}),
            aliyun,
        ),
        (
            "aliyun-ddos",
            json!({"provider": "aliyun", "endpoint": host("aliyun-ddoscoo"),
                   "region": "cn-hangzhou", "resource": world::DDOS_INSTANCE,
                   "settings": {"instance-id": world::DDOS_INSTANCE}}),
            aliyun,
        ),
        (
            "security-center",
            json!({"provider": "aliyun", "endpoint": host("endpoint"),
                   "region": "cn-shanghai", "resource": world::SAS_UUID,
                   "settings": {"sas-uuid": world::SAS_UUID, "sas-block-seconds": "3600"}}),
            aliyun,
        ),
        (
            "tencent-cfw",
            json!({"provider": "tencent", "endpoint": tencent, "region": "ap-guangzhou",
                   "account": world::TENCENT_ACCOUNT, "resource": "cfw"}),
            Some(&credentials.tencent),
        ),
        (
            "tencent-waf",
            json!({"provider": "tencent", "endpoint": tencent, "region": "ap-guangzhou",
                   "account": world::TENCENT_ACCOUNT, "resource": world::TENCENT_WAF_DOMAIN,
                   "settings": {"domain": world::TENCENT_WAF_DOMAIN}}),
            Some(&credentials.tencent),
        ),
        (
            "huawei-cfw",
            json!({"provider": "huawei", "endpoint": huawei, "region": "cn-north-4",
                   "account": world::HUAWEI_ACCOUNT, "resource": world::HUAWEI_CFW_OBJECT,
                   "settings": {"project-id": world::HUAWEI_PROJECT,
                                "object-id": world::HUAWEI_CFW_OBJECT}}),
            Some(&credentials.huawei),
        ),
        (
            "huawei-waf",
            json!({"provider": "huawei", "endpoint": huawei, "region": "cn-north-4",
                   "account": world::HUAWEI_ACCOUNT, "resource": world::HUAWEI_WAF_POLICY,
                   "settings": {"project-id": world::HUAWEI_PROJECT,
                                "policy-id": world::HUAWEI_WAF_POLICY}}),
            Some(&credentials.huawei),
        ),
        (
            "endpoint-agent",
            json!({"provider": "agent", "endpoint": agent_endpoint,
                   "resource": world::DEMO_HOST,
                   "settings": {"scan-paths": web_root, "yara-rules": YARA_RULES}}),
            Some(&agent_key),
        ),
    ];
    let mut names = Vec::new();
    for (name, mut body, credential) in specs {
        if let Some(credential) = credential {
            body["credential"] =
                json!({"public_id": credential.public_id, "secret": credential.secret});
        }
        api.json("PUT", &format!("/v1/targets/{name}"), &body, &[200, 201])
            .await
            .map_err(|err| err.context(format!("creating target `{name}`")))?;
        names.push(name.to_owned());
    }
    Ok(names)
}

/// Addresses that must never be blocked: the internal networks and the
/// web server's own public IPv6 address that the IDS alerts name.
pub const ALLOWLIST: &[(&str, &str, &str)] = &[
    ("cidr", "10.0.0.0/8", "internal network"),
    ("cidr", "172.16.0.0/12", "internal network"),
    ("cidr", "192.168.0.0/16", "internal network"),
    ("cidr", "fc00::/7", "internal network"),
    ("ip", "2001:db8::10", "our web server"),
];

pub async fn allowlist(api: &ApiClient) -> anyhow::Result<()> {
    for (kind, value, reason) in ALLOWLIST {
        let body = json!({"kind": kind, "value": value, "reason": reason});
        api.json("POST", "/v1/allowlist", &body, &[200, 201])
            .await
            .map_err(|err| err.context(format!("allowlisting {value}")))?;
    }
    Ok(())
}

/// Publishes the scripts and installs the rules.
pub async fn scripts_and_rules(api: &ApiClient, scratch: &Path) -> anyhow::Result<()> {
    for (name, text) in SCRIPTS {
        api.yaml("POST", "/v1/scripts", text, &[200, 201])
            .await
            .map_err(|err| err.context(format!("publishing script `{name}`")))?;
    }
    let scratch = scratch.display().to_string();
    for (name, text) in RULES {
        let text = text.replace("${SCRATCH}", &scratch);
        api.yaml("PUT", &format!("/v1/rules/{name}"), &text, &[200, 201])
            .await
            .map_err(|err| err.context(format!("installing rule `{name}`")))?;
    }
    Ok(())
}

/// A Falco JSON alert (the format of `json_output: true`) on the demo host.
fn falco(rule: &str, priority: &str, output: &str, fields: Value) -> Value {
    let now = crate::model::Time::now();
    let mut fields = fields;
    fields["evt.time"] = json!(now.millis() * 1_000_000);
    json!({
        "hostname": world::DEMO_HOST,
        "output": format!("{now} {priority} {output}"),
        "priority": priority,
        "rule": rule,
        "source": "syscall",
        "tags": ["riposte-demo", "synthesized"],
        "time": now.to_string(),
        "output_fields": fields,
    })
}

/// The first wave of endpoint alerts: a miner, a reverse shell, a web
/// shell written below the web root, and a beacon calling out.
pub fn endpoint_alerts(scratch: &Scratch) -> Vec<Value> {
    let process = |name: &str| {
        let planted = scratch.process(name);
        (planted.child.id(), planted.exe.display().to_string())
    };
    let (miner_pid, miner_exe) = process(world::MINER);
    let (shell_pid, shell_exe) = process(world::REVERSE_SHELL);
    let (beacon_pid, beacon_exe) = process(world::BEACON);
    let web_shell = scratch.web_shell.display().to_string();
    vec![
        falco(
            "Crypto miner process started",
            "Critical",
            &format!("Miner started (proc.exepath={miner_exe} proc.pid={miner_pid})"),
            json!({"proc.pid": miner_pid, "proc.exepath": miner_exe, "proc.name": world::MINER,
                   "proc.cmdline": format!("{} 900", world::MINER), "container.id": "host"}),
        ),
        falco(
            "Reverse shell spawned",
            "Critical",
            &format!("Reverse shell (proc.exepath={shell_exe} proc.pid={shell_pid})"),
            json!({"proc.pid": shell_pid, "proc.exepath": shell_exe,
                   "proc.name": world::REVERSE_SHELL, "container.id": "host"}),
        ),
        falco(
            "Web shell written below web root",
            "Error",
            &format!("PHP file written below the web root (fd.name={web_shell})"),
            json!({"fd.name": web_shell, "proc.name": "php-fpm", "container.id": "host"}),
        ),
        falco(
            "Outbound connection to C2 server",
            "Critical",
            &format!(
                "Connection to a C2 domain (proc.exepath={beacon_exe} fd.sip.name=c2.update-checker.example)"
            ),
            json!({"proc.pid": beacon_pid, "proc.exepath": beacon_exe,
                   "proc.name": world::BEACON, "fd.sip": "192.0.2.66",
                   "fd.sip.name": "c2.update-checker.example", "fd.sport": 443,
                   "container.id": "host"}),
        ),
    ]
}

/// The second wave: the web server ran a shell, so the web root is swept.
pub fn sweep_alerts() -> Vec<Value> {
    vec![falco(
        "Web server spawned a shell",
        "Error",
        "Shell spawned by a web server (proc.name=sh proc.pname=php-fpm)",
        json!({"proc.name": "sh", "proc.pname": "php-fpm", "container.id": "host"}),
    )]
}

/// A Security Center event (one item of `DescribeSuspEvents`, Sas
/// 2018-12-03) about the simulator's host: SSH brute force from an address.
pub fn sas_alerts() -> Vec<Value> {
    let now = crate::model::Time::now();
    vec![json!({
        "Id": world::SAS_EVENT,
        "Uuid": world::SAS_UUID,
        "AlarmEventNameDisplay": "SSH brute force",
        "Name": "SSH brute force",
        "Level": "suspicious",
        "OccurrenceTimeStamp": now.millis(),
        "InternetIp": "203.0.113.80",
        "IntranetIp": "172.16.0.80",
        "InstanceId": "i-bp1demo0web01",
        "EventStatus": 1,
        "Details": [
            {"Name": "Source IP", "NameDisplay": "Source IP", "Type": "text",
             "Value": world::SAS_ATTACKER, "InfoType": "ip"},
            {"Name": "Login user", "NameDisplay": "Login user", "Type": "text",
             "Value": "root", "InfoType": "user"}
        ]
    })]
}

/// JSON lines of `records`.
pub fn lines(records: &[Value]) -> String {
    records.iter().map(|r| format!("{r}\n")).collect()
}
