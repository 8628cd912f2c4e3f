//! Alibaba Cloud WAF 3.0 handling component.
//!
//! `AliyunWafBlockIP` blocks an IP or CIDR with an `ip_blacklist` defense
//! rule in a protection template, and reverts by deleting that rule.
//!
//! `CreateDefenseRule` takes no client token, so `execute` first looks for
//! the rule it would create, by its name (derived from the task's
//! idempotency key, the same on every attempt), with
//! `DescribeDefenseRules`: a retry after a lost answer finds the rule the
//! first attempt made instead of adding a second one.
//!
//! API: WAF OpenAPI version 2021-10-01, RPC style, `POST /`, scalar
//! parameters in the query and the `Rules` JSON in a form body, signed with
//! ACS3-HMAC-SHA256.
//! - `CreateDefenseRule`: <https://www.alibabacloud.com/help/en/waf/web-application-firewall-3-0/developer-reference/api-waf-openapi-2021-10-01-createdefenserule>
//! - `DeleteDefenseRule`: parameters as used by the official Terraform
//!   provider (`alicloud/resource_alicloud_wafv3_defense_rule.go`).
//! - `DescribeDefenseRules`: <https://www.alibabacloud.com/help/en/waf/web-application-firewall-3-0/developer-reference/api-waf-openapi-2021-10-01-describedefenserules>
//!   (`Query` is a JSON object of filters: `templateId`, `scene`, `name`).
//! - The rule object keys (`name`, `status`, `remoteAddr`, `action`) and the
//!   `RuleIds` answer follow the same Terraform source; see
//!   `shared/reference/providers.md` §1.4.1.

use riposte_sdk::aliyun::RpcClient;
use riposte_sdk::types::{
    ActionInfo, ActionRequest, ComponentInfo, EntityKind, Failure, FailureKind, Outcome,
    PlanOutcome, SettingSpec,
};
use riposte_sdk::{HostCredential, export, failure, log};
use serde::{Deserialize, Serialize};

/// WAF OpenAPI version.
const VERSION: &str = "2021-10-01";

/// The two WAF 3.0 API endpoints (Chinese mainland and outside it).
const HOSTS: &[&str] = &[
    "https://wafopenapi.cn-hangzhou.aliyuncs.com",
    "https://wafopenapi.ap-southeast-1.aliyuncs.com",
];

struct AliyunWaf;

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

/// A rule name the operator can trace back to the task; the idempotency key
/// is the same on every attempt.
fn rule_name(request: &ActionRequest) -> String {
    let key: String = request
        .idempotency_key
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .take(24)
        .collect();
    format!("riposte-{key}")
}

impl riposte_sdk::Guest for AliyunWaf {
    fn describe() -> ComponentInfo {
        ComponentInfo {
            name: "aliyun-waf".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "Alibaba Cloud WAF 3.0: block IP addresses with defense rules".into(),
            actions: vec![ActionInfo {
                id: "AliyunWafBlockIP".into(),
                action_type: "ip-block".into(),
                description: "Block an IPv4/IPv6 address or CIDR with an ip_blacklist rule \
                              in a WAF 3.0 protection template; revert deletes the rule"
                    .into(),
                entity_kinds: vec![EntityKind::Ip, EntityKind::Cidr],
                reversible: true,
                retryable: true,
                settings: vec![
                    setting(
                        "instance-id",
                        "WAF instance id, e.g. waf_v2_public_cn-xxxx (DescribeInstance)",
                        true,
                    ),
                    setting(
                        "template-id",
                        "id of the ip_blacklist protection template",
                        true,
                    ),
                    setting(
                        "region-id",
                        "cn-hangzhou (mainland) or ap-southeast-1; defaults from the target region",
                        false,
                    ),
                ],
            }],
            hosts: HOSTS.iter().map(|h| h.to_string()).collect(),
            needs_credential: true,
        }
    }

    fn execute(request: ActionRequest) -> Result<Outcome, Failure> {
        check_entity(&request)?;
        let target = WafTarget::from_request(&request)?;
        let credential = open_credential(&request)?;
        let client = RpcClient::new(&credential, &request.target.endpoint, VERSION)?;

        let name = rule_name(&request);
        if let Some(rule_id) = find_rule(&client, &target, &name)? {
            log::info(&format!(
                "rule {rule_id} (`{name}`) already blocks {}",
                request.entity.value
            ));
            return blocked(&request, target, rule_id, &name, false);
        }
        let rules = serde_json::json!([{
            "name": name,
            "status": 1,
            "remoteAddr": [request.entity.value],
            "action": "block",
        }])
        .to_string();
        let answer = client.call(
            "CreateDefenseRule",
            &[
                ("DefenseScene", "ip_blacklist"),
                ("DefenseType", "template"),
                ("InstanceId", &target.instance_id),
                ("RegionId", &target.region_id),
                ("TemplateId", &target.template_id),
            ],
            &[("Rules", &rules)],
        )?;

        let rule_ids = match &answer["RuleIds"] {
            serde_json::Value::String(ids) => ids.clone(),
            serde_json::Value::Number(id) => id.to_string(),
            other => {
                return Err(failure::internal(format!(
                    "CreateDefenseRule answered without `RuleIds` (got {other})"
                )));
            }
        };
        log::info(&format!("rule {rule_ids} blocks {}", request.entity.value));
        blocked(&request, target, rule_ids, &name, true)
    }

    fn revert(request: ActionRequest, token: String) -> Result<Outcome, Failure> {
        let token: RevertToken = serde_json::from_str(&token).map_err(|err| {
            failure::invalid_input(format!("revert token is not from AliyunWafBlockIP: {err}"))
        })?;
        let credential = open_credential(&request)?;
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
                    "deleted WAF rule {}, unblocking {}",
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
        check_entity(&request)?;
        let target = WafTarget::from_request(&request)?;
        Ok(PlanOutcome {
            changes: vec![format!(
                "create ip_blacklist rule `{}` blocking {} in template {} of WAF instance {} ({})",
                rule_name(&request),
                request.entity.value,
                target.template_id,
                target.instance_id,
                target.region_id
            )],
            reversible: true,
        })
    }
}

/// The id of the `ip_blacklist` rule called `name` in the target's
/// template, if there is one.
fn find_rule(
    client: &RpcClient,
    target: &WafTarget,
    name: &str,
) -> Result<Option<String>, Failure> {
    let template: u64 = target.template_id.parse().map_err(|_| {
        failure::invalid_input(format!(
            "setting `template-id` is `{}`, not a WAF template id (an integer)",
            target.template_id
        ))
    })?;
    let query = serde_json::json!({
        "templateId": template,
        "scene": "ip_blacklist",
        "name": name,
    })
    .to_string();
    let answer = client.call(
        "DescribeDefenseRules",
        &[
            ("DefenseType", "template"),
            ("InstanceId", &target.instance_id),
            ("PageNumber", "1"),
            ("PageSize", "10"),
            ("Query", &query),
            ("RegionId", &target.region_id),
        ],
        &[],
    )?;
    let found = answer["Rules"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|rule| rule["RuleName"].as_str() == Some(name))
        .and_then(|rule| match &rule["RuleId"] {
            serde_json::Value::Number(id) => Some(id.to_string()),
            serde_json::Value::String(id) => Some(id.clone()),
            _ => None,
        });
    Ok(found)
}

/// The outcome of a block by rule `rule_ids`, with its revert token.
fn blocked(
    request: &ActionRequest,
    target: WafTarget,
    rule_ids: String,
    name: &str,
    changed: bool,
) -> Result<Outcome, Failure> {
    let detail = if changed {
        format!(
            "WAF rule {rule_ids} (`{name}`) blocks {} on instance {}",
            request.entity.value, target.instance_id
        )
    } else {
        format!(
            "WAF rule {rule_ids} (`{name}`) already blocked {} on instance {}",
            request.entity.value, target.instance_id
        )
    };
    let token = RevertToken {
        instance_id: target.instance_id,
        template_id: target.template_id,
        region_id: target.region_id,
        rule_ids,
    };
    Ok(Outcome {
        detail,
        changed,
        revert_token: Some(
            serde_json::to_string(&token).map_err(|e| failure::internal(e.to_string()))?,
        ),
        items: Vec::new(),
    })
}

/// Refuses what an `ip_blacklist` rule cannot hold before any request:
/// the host checks the kind too, but a component must not rely on it.
fn check_entity(request: &ActionRequest) -> Result<(), Failure> {
    match request.entity.kind {
        EntityKind::Ip | EntityKind::Cidr => Ok(()),
        other => Err(failure::invalid_input(format!(
            "AliyunWafBlockIP blocks `ip` and `cidr` entities, not `{other:?}` `{}`",
            request.entity.value
        ))),
    }
}

fn setting(name: &str, description: &str, required: bool) -> SettingSpec {
    SettingSpec {
        name: name.into(),
        description: description.into(),
        required,
    }
}

fn open_credential(request: &ActionRequest) -> Result<HostCredential, Failure> {
    let name = request.target.credential.as_deref().ok_or_else(|| {
        failure::invalid_input(format!("target `{}` has no credential", request.target.id))
    })?;
    HostCredential::open(name).map_err(|_| {
        failure::new(
            FailureKind::PermissionDenied,
            format!("credential `{name}` is not granted to aliyun-waf for this target"),
        )
    })
}

export!(AliyunWaf);
