//! Alibaba Cloud WAF 3.0 handling component.
//!
//! | action | scene | rule |
//! |---|---|---|
//! | `AliyunWafBlockIP` | `ip_blacklist` | `action` `block` |
//! | `AliYunWafMonitorIP` | `ip_blacklist` | `action` `monitor` (log only) |
//! | `WafWhiteListBatch` | `whitelist` | IP condition, bypasses the modules in `tags` |
//!
//! Each adds one defense rule to a protection template and reverts by
//! deleting it.
//!
//! API: WAF OpenAPI version 2021-10-01, RPC style, `POST /`, scalar
//! parameters in the query and the `Rules` JSON in a form body, signed with
//! ACS3-HMAC-SHA256.
//! - `DescribeDefenseRules`
//!   (<https://help.aliyun.com/zh/waf/web-application-firewall-3-0/developer-reference/api-waf-openapi-2021-10-01-describedefenserules>):
//!   the lookup before creating, with `Query` `{"name","scene","templateId"}`. The rule
//!   name carries the task's idempotency key, so a rule of that name is
//!   this task's own from an attempt whose answer was lost: it is reused,
//!   never duplicated.
//! - `CreateDefenseRule`: <https://www.alibabacloud.com/help/en/waf/web-application-firewall-3-0/developer-reference/api-waf-openapi-2021-10-01-createdefenserule>
//! - `DeleteDefenseRule`: parameters as used by the official Terraform
//!   provider (`alicloud/resource_alicloud_wafv3_defense_rule.go`).
//! - The rule object keys (`name`, `status`, `remoteAddr`, `action` for
//!   `ip_blacklist`; `conditions` `{key:"IP", opValue:"contain", values}`
//!   and `tags` for `whitelist`) and the `RuleIds` answer follow the same
//!   Terraform source; see `shared/reference/providers.md` §1.4.1.

use riposte_sdk::action::{self, setting};
use riposte_sdk::aliyun::RpcClient;
use riposte_sdk::types::{
    ActionInfo, ActionRequest, ComponentInfo, EntityKind, Failure, FailureKind, Outcome,
    PlanOutcome, SettingSpec,
};
use riposte_sdk::{export, failure, log};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// WAF OpenAPI version.
const VERSION: &str = "2021-10-01";

/// The two WAF 3.0 API endpoints (Chinese mainland and outside it).
const HOSTS: &[&str] = &[
    "https://wafopenapi.cn-hangzhou.aliyuncs.com",
    "https://wafopenapi.ap-southeast-1.aliyuncs.com",
];

/// The modules a whitelist rule bypasses by default (the reference's
/// example, §1.4.1).
const DEFAULT_BYPASS: &str = "waf";

struct AliyunWaf;

/// What one action creates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Block,
    Monitor,
    Whitelist,
}

impl Kind {
    fn of(action: &str) -> Result<Self, Failure> {
        match action {
            "AliyunWafBlockIP" => Ok(Kind::Block),
            "AliYunWafMonitorIP" => Ok(Kind::Monitor),
            "WafWhiteListBatch" => Ok(Kind::Whitelist),
            other => Err(failure::invalid_input(format!(
                "aliyun-waf has no action `{other}`; it has `AliyunWafBlockIP`, \
                 `AliYunWafMonitorIP` and `WafWhiteListBatch`"
            ))),
        }
    }

    fn scene(self) -> &'static str {
        match self {
            Kind::Block | Kind::Monitor => "ip_blacklist",
            Kind::Whitelist => "whitelist",
        }
    }

    fn verb(self) -> &'static str {
        match self {
            Kind::Block => "blocks",
            Kind::Monitor => "monitors",
            Kind::Whitelist => "allows",
        }
    }
}

/// What `revert` needs to delete the rule, kept by the host between
/// `execute` and `revert`. Holds ids only, never credentials.
#[derive(Debug, Serialize, Deserialize)]
struct RevertToken {
    instance_id: String,
    template_id: String,
    region_id: String,
    rule_ids: String,
}

/// The target settings of one call.
struct WafTarget {
    instance_id: String,
    template_id: String,
    region_id: String,
}

impl WafTarget {
    fn from_request(request: &ActionRequest) -> Result<Self, Failure> {
        Ok(Self {
            instance_id: request.required_setting("instance-id")?.to_string(),
            template_id: request.required_setting("template-id")?.to_string(),
            region_id: region_of(request),
        })
    }

    fn query<'a>(&'a self, extra: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
        let mut query = vec![
            ("DefenseType", "template"),
            ("InstanceId", self.instance_id.as_str()),
            ("RegionId", self.region_id.as_str()),
            ("TemplateId", self.template_id.as_str()),
        ];
        query.extend_from_slice(extra);
        query
    }
}

/// The `RegionId` parameter accepts only these two values; anything not in
/// the Chinese mainland goes through `ap-southeast-1`.
fn region_of(request: &ActionRequest) -> String {
    let region = request
        .setting("region-id")
        .unwrap_or(&request.target.region);
    if region == "ap-southeast-1" || region.starts_with("ap-") || region.starts_with("eu-") {
        "ap-southeast-1".into()
    } else {
        "cn-hangzhou".into()
    }
}

/// The rule object for `address`, named `name`.
fn rule(request: &ActionRequest, kind: Kind, name: &str, address: &str) -> Value {
    match kind {
        Kind::Block | Kind::Monitor => json!({
            "name": name,
            "status": 1,
            "remoteAddr": [address],
            "action": if kind == Kind::Block { "block" } else { "monitor" },
        }),
        Kind::Whitelist => {
            let tags: Vec<&str> = request
                .setting("bypass-modules")
                .filter(|v| !v.is_empty())
                .unwrap_or(DEFAULT_BYPASS)
                .split(',')
                .map(str::trim)
                .collect();
            json!({
                "name": name,
                "status": 1,
                "conditions": [{"key": "IP", "opValue": "contain", "values": address}],
                "tags": tags,
            })
        }
    }
}

fn rule_ids(value: &Value) -> Option<String> {
    match value {
        Value::String(ids) => Some(ids.clone()),
        Value::Number(id) => Some(id.to_string()),
        _ => None,
    }
}

impl riposte_sdk::Guest for AliyunWaf {
    fn describe() -> ComponentInfo {
        let settings = |whitelist: bool| {
            let mut settings: Vec<SettingSpec> = vec![
                setting(
                    "instance-id",
                    "WAF instance id, e.g. waf_v2_public_cn-xxxx (DescribeInstance)",
                    true,
                ),
                setting(
                    "template-id",
                    if whitelist {
                        "id of the whitelist protection template"
                    } else {
                        "id of the ip_blacklist protection template"
                    },
                    true,
                ),
                setting(
                    "region-id",
                    "cn-hangzhou (mainland) or ap-southeast-1; defaults from the target region",
                    false,
                ),
            ];
            if whitelist {
                settings.push(setting(
                    "bypass-modules",
                    "comma-separated modules the address bypasses (the rule's `tags`), \
                     default `waf`",
                    false,
                ));
            }
            settings
        };
        let action = |id: &str, action_type: &str, description: &str, whitelist: bool| ActionInfo {
            id: id.into(),
            action_type: action_type.into(),
            description: description.into(),
            entity_kinds: vec![EntityKind::Ip, EntityKind::Cidr],
            reversible: true,
            retryable: true,
            settings: settings(whitelist),
        };
        ComponentInfo {
            name: "aliyun-waf".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "Alibaba Cloud WAF 3.0: block, monitor and allow IP addresses with \
                          defense rules"
                .into(),
            actions: vec![
                action(
                    "AliyunWafBlockIP",
                    "ip-block",
                    "Block an IPv4/IPv6 address or CIDR with an ip_blacklist rule in a WAF 3.0 \
                     protection template; revert deletes the rule. Domains are not supported",
                    false,
                ),
                action(
                    "AliYunWafMonitorIP",
                    "ip-monitor",
                    "Log (monitor, not block) requests from an IPv4/IPv6 address or CIDR with \
                     an ip_blacklist rule whose action is monitor; revert deletes the rule. \
                     Domains are not supported",
                    false,
                ),
                action(
                    "WafWhiteListBatch",
                    "ip-allowlist",
                    "Let an IPv4/IPv6 address or CIDR bypass WAF modules with a whitelist rule \
                     in a WAF 3.0 protection template; revert deletes the rule. Domains are \
                     not supported",
                    true,
                ),
            ],
            hosts: HOSTS.iter().map(|h| h.to_string()).collect(),
            needs_credential: true,
        }
    }

    fn execute(request: ActionRequest) -> Result<Outcome, Failure> {
        let kind = Kind::of(&request.action)?;
        let address = action::address(&request, true)?.to_string();
        let target = WafTarget::from_request(&request)?;
        let credential = action::credential(&request, "aliyun-waf")?;
        let client = RpcClient::new(&credential, &request.target.endpoint, VERSION)?;
        let name = action::marker(&request, 64);

        let mut filter = json!({"name": name, "scene": kind.scene()});
        if let Ok(template) = target.template_id.parse::<u64>() {
            filter["templateId"] = json!(template);
        }
        let filter = filter.to_string();
        let found = client.call(
            "DescribeDefenseRules",
            &target.query(&[("Query", &filter), ("PageSize", "10")]),
            &[],
        )?;
        let own = found["Rules"]
            .as_array()
            .and_then(|rules| rules.iter().find(|rule| rule["RuleName"] == name.as_str()));
        let (ids, changed) = match own {
            Some(existing) => (rule_ids(&existing["RuleId"]), false),
            None => {
                let rules = json!([rule(&request, kind, &name, &address)]).to_string();
                let answer = client.call(
                    "CreateDefenseRule",
                    &target.query(&[("DefenseScene", kind.scene())]),
                    &[("Rules", &rules)],
                )?;
                (rule_ids(&answer["RuleIds"]), true)
            }
        };
        let rule_ids = ids.ok_or_else(|| {
            failure::internal("WAF answered without a rule id (`RuleIds` / `RuleId`)")
        })?;
        log::info(&format!("rule {rule_ids} {} {address}", kind.verb()));
        let token = RevertToken {
            instance_id: target.instance_id.clone(),
            template_id: target.template_id,
            region_id: target.region_id,
            rule_ids: rule_ids.clone(),
        };
        Ok(Outcome {
            detail: format!(
                "WAF rule {rule_ids} (`{name}`){} {} {address} on instance {}",
                if changed { "" } else { " already" },
                kind.verb(),
                target.instance_id
            ),
            changed,
            revert_token: Some(action::revert_token(&token)?),
            items: Vec::new(),
        })
    }

    fn revert(request: ActionRequest, token: String) -> Result<Outcome, Failure> {
        Kind::of(&request.action)?;
        let token: RevertToken = action::parse_revert_token(&token, &request.action)?;
        let credential = action::credential(&request, "aliyun-waf")?;
        let client = RpcClient::new(&credential, &request.target.endpoint, VERSION)?;
        let result = client.call(
            "DeleteDefenseRule",
            &[
                ("DefenseType", "template"),
                ("InstanceId", &token.instance_id),
                ("RegionId", &token.region_id),
                ("RuleIds", &token.rule_ids),
                ("TemplateId", &token.template_id),
            ],
            &[],
        );
        match result {
            Ok(_) => Ok(Outcome {
                detail: format!(
                    "deleted WAF rule {} for {}",
                    token.rule_ids, request.entity.value
                ),
                changed: true,
                revert_token: None,
                items: Vec::new(),
            }),
            // Already gone (deleted by hand, or an earlier attempt of this
            // revert succeeded): the desired state holds.
            Err(failure) if failure.kind == FailureKind::NotFound => Ok(Outcome {
                detail: format!("WAF rule {} was already gone", token.rule_ids),
                changed: false,
                revert_token: None,
                items: Vec::new(),
            }),
            Err(failure) => Err(failure),
        }
    }

    fn plan(request: ActionRequest) -> Result<PlanOutcome, Failure> {
        let kind = Kind::of(&request.action)?;
        let address = action::address(&request, true)?.to_string();
        let target = WafTarget::from_request(&request)?;
        let what = match kind {
            Kind::Block => "blocking",
            Kind::Monitor => "monitoring",
            Kind::Whitelist => "allowing",
        };
        Ok(PlanOutcome {
            changes: vec![format!(
                "create {} rule `{}` {what} {address} in template {} of WAF instance {} ({})",
                kind.scene(),
                action::marker(&request, 64),
                target.template_id,
                target.instance_id,
                target.region_id
            )],
            reversible: true,
        })
    }
}

export!(AliyunWaf);
