//! Alibaba Cloud ECS handling component: `SecurityPolicyBlockIP` adds an
//! inbound `drop` rule for an address or network (all protocols, all
//! ports) to a security group; revert removes that rule.
//!
//! API: ECS version 2014-05-26, RPC style, `POST /`, signed with
//! ACS3-HMAC-SHA256, endpoint `ecs.<region>.aliyuncs.com`
//! (`shared/reference/providers.md` §1.4.4):
//! - `DescribeSecurityGroupAttribute` (`RegionId`, `SecurityGroupId`,
//!   `Direction` ingress): the lookup before and after adding; answers
//!   `Permissions.Permission[]` with `SecurityGroupRuleId`, `Policy`,
//!   `IpProtocol`, `PortRange`, `SourceCidrIp`, `Ipv6SourceCidrIp`,
//!   `Description`. A drop rule for the same source whose description is
//!   this task's marker is the task's own and is reused; anyone else's
//!   makes the call a success that changed nothing and leaves nothing to
//!   revert.
//! - `AuthorizeSecurityGroup`
//!   (<https://help.aliyun.com/document_detail/25554.html>):
//!   `ClientToken` (the task's marker, so the provider deduplicates
//!   retries), `Permissions.1.Policy` `drop`, `.Priority` (1 first, drop
//!   wins at equal priority), `.IpProtocol` `ALL`, `.PortRange` `-1/-1`,
//!   `.SourceCidrIp` or `.Ipv6SourceCidrIp`, `.Description`. A full group
//!   answers `AuthorizationLimitExceed` (quota).
//! - `RevokeSecurityGroup` by `SecurityGroupRuleId.1`
//!   (<https://www.alibabacloud.com/help/en/ecs/developer-reference/api-ecs-2014-05-26-revokesecuritygroup>):
//!   since 2024-07-08 an unknown rule id answers
//!   `InvalidParam.SecurityGroupRuleId`, which means already gone.

use riposte_sdk::action::{self, setting, unchanged};
use riposte_sdk::aliyun::RpcClient;
use riposte_sdk::entity::IpOrCidr;
use riposte_sdk::types::{
    ActionInfo, ActionRequest, ComponentInfo, EntityKind, Failure, FailureKind, Outcome,
    PlanOutcome,
};
use riposte_sdk::{export, failure, log};
use serde::{Deserialize, Serialize};
use serde_json::Value;

const ACTION: &str = "SecurityPolicyBlockIP";

/// ECS API version.
const VERSION: &str = "2014-05-26";

/// The central endpoint and the regional ones (`ecs.<region>.aliyuncs.com`)
/// of the main regions. Grant patterns wildcard only a leading label, so
/// other regions are granted by the operator one by one.
const HOSTS: &[&str] = &[
    "https://ecs.aliyuncs.com",
    "https://ecs.cn-hangzhou.aliyuncs.com",
    "https://ecs.cn-shanghai.aliyuncs.com",
    "https://ecs.cn-beijing.aliyuncs.com",
    "https://ecs.cn-shenzhen.aliyuncs.com",
    "https://ecs.cn-hongkong.aliyuncs.com",
    "https://ecs.ap-southeast-1.aliyuncs.com",
    "https://ecs.eu-central-1.aliyuncs.com",
    "https://ecs.us-west-1.aliyuncs.com",
];

struct AliyunEcs;

/// What revert needs.
#[derive(Debug, Serialize, Deserialize)]
struct Token {
    region_id: String,
    security_group_id: String,
    rule_id: String,
    source: String,
}

/// The checked request.
struct Block {
    region_id: String,
    security_group_id: String,
    priority: String,
    source: IpOrCidr,
    marker: String,
}

impl Block {
    fn from_request(request: &ActionRequest) -> Result<Self, Failure> {
        let source = action::address(request, true)?;
        let region_id = match request.setting("region-id").filter(|r| !r.is_empty()) {
            Some(region) => region.to_owned(),
            None if !request.target.region.is_empty() => request.target.region.clone(),
            None => {
                return Err(failure::invalid_input(format!(
                    "target `{}` has no region and no setting `region-id`",
                    request.target.id
                )));
            }
        };
        let priority = request.setting("priority").unwrap_or("1");
        if !priority.parse::<u8>().is_ok_and(|p| (1..=100).contains(&p)) {
            return Err(failure::invalid_input(format!(
                "setting `priority` is `{priority}`; expected 1 (first) to 100"
            )));
        }
        Ok(Self {
            region_id,
            security_group_id: request.required_setting("security-group-id")?.to_owned(),
            priority: priority.to_owned(),
            source,
            marker: action::marker(request, 64),
        })
    }

    fn is_ipv4(&self) -> bool {
        match self.source {
            IpOrCidr::Ip(ip) => ip.is_ipv4(),
            IpOrCidr::Cidr(cidr) => cidr.addr().is_ipv4(),
        }
    }

    fn group(&self) -> [(&'static str, String); 2] {
        [
            ("RegionId", self.region_id.clone()),
            ("SecurityGroupId", self.security_group_id.clone()),
        ]
    }

    /// The inbound drop rules for this source, from a describe answer.
    fn matching<'a>(&self, described: &'a Value) -> Vec<&'a Value> {
        let permissions = described["Permissions"]["Permission"].as_array();
        permissions
            .map(|list| {
                list.iter()
                    .filter(|rule| {
                        let source = rule["SourceCidrIp"]
                            .as_str()
                            .filter(|s| !s.is_empty())
                            .or_else(|| rule["Ipv6SourceCidrIp"].as_str())
                            .unwrap_or("");
                        rule["Policy"]
                            .as_str()
                            .is_some_and(|p| p.eq_ignore_ascii_case("drop"))
                            && rule["IpProtocol"]
                                .as_str()
                                .is_some_and(|p| p.eq_ignore_ascii_case("all"))
                            && IpOrCidr::parse(source).ok() == Some(self.source)
                    })
                    .collect()
            })
            .unwrap_or_default()
    }
}

fn call(client: &RpcClient<'_>, action: &str, params: &[(&str, String)]) -> Result<Value, Failure> {
    let query: Vec<(&str, &str)> = params.iter().map(|(k, v)| (*k, v.as_str())).collect();
    client.call(action, &query, &[])
}

fn describe(client: &RpcClient<'_>, block: &Block) -> Result<Value, Failure> {
    let mut params = block.group().to_vec();
    params.push(("Direction", "ingress".to_owned()));
    call(client, "DescribeSecurityGroupAttribute", &params)
}

impl riposte_sdk::Guest for AliyunEcs {
    fn describe() -> ComponentInfo {
        ComponentInfo {
            name: "aliyun-ecs".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "Alibaba Cloud ECS: block addresses with security group rules".into(),
            actions: vec![ActionInfo {
                id: ACTION.into(),
                action_type: "ip-block".into(),
                description: "Add an inbound drop rule (all protocols and ports) for an \
                              IPv4/IPv6 address or CIDR network to an ECS security group; \
                              revert removes it. Domains are not supported"
                    .into(),
                entity_kinds: vec![EntityKind::Ip, EntityKind::Cidr],
                reversible: true,
                retryable: true,
                settings: vec![
                    setting(
                        "security-group-id",
                        "the security group, e.g. sg-bp67acfmxazb4p****",
                        true,
                    ),
                    setting(
                        "region-id",
                        "the group's region, e.g. cn-hangzhou; defaults to the target's region",
                        false,
                    ),
                    setting(
                        "priority",
                        "1 (default, first) to 100; a drop rule wins at equal priority",
                        false,
                    ),
                ],
            }],
            hosts: HOSTS.iter().map(|host| host.to_string()).collect(),
            needs_credential: true,
        }
    }

    fn execute(request: ActionRequest) -> Result<Outcome, Failure> {
        check_action(&request)?;
        let block = Block::from_request(&request)?;
        let credential = action::credential(&request, "aliyun-ecs")?;
        let client = RpcClient::new(&credential, &request.target.endpoint, VERSION)?;

        let before = describe(&client, &block)?;
        let existing = block.matching(&before);
        if let Some(own) = existing
            .iter()
            .find(|rule| rule["Description"] == block.marker.as_str())
        {
            return outcome(&block, own, false);
        }
        if let Some(other) = existing.first() {
            return Ok(unchanged(format!(
                "security group {} already drops {} (rule {})",
                block.security_group_id, block.source, other["SecurityGroupRuleId"]
            )));
        }

        let source_field = if block.is_ipv4() {
            "Permissions.1.SourceCidrIp"
        } else {
            "Permissions.1.Ipv6SourceCidrIp"
        };
        let mut params = block.group().to_vec();
        params.extend([
            ("ClientToken", block.marker.clone()),
            ("Permissions.1.Policy", "drop".to_owned()),
            ("Permissions.1.Priority", block.priority.clone()),
            ("Permissions.1.IpProtocol", "ALL".to_owned()),
            ("Permissions.1.PortRange", "-1/-1".to_owned()),
            (source_field, block.source.to_string()),
            ("Permissions.1.Description", block.marker.clone()),
        ]);
        call(&client, "AuthorizeSecurityGroup", &params)?;

        // The answer carries no rule id: read it back by the marker.
        let after = describe(&client, &block)?;
        let added = block
            .matching(&after)
            .into_iter()
            .find(|rule| rule["Description"] == block.marker.as_str())
            .ok_or_else(|| {
                let mut failure = failure::internal(format!(
                    "AuthorizeSecurityGroup succeeded but no rule `{}` is listed in {}",
                    block.marker, block.security_group_id
                ));
                failure.retryable = true;
                failure
            })?;
        log::info(&format!(
            "security group {} drops {}",
            block.security_group_id, block.source
        ));
        outcome(&block, added, true)
    }

    fn revert(request: ActionRequest, token: String) -> Result<Outcome, Failure> {
        check_action(&request)?;
        let token: Token = action::parse_revert_token(&token, ACTION)?;
        let credential = action::credential(&request, "aliyun-ecs")?;
        let client = RpcClient::new(&credential, &request.target.endpoint, VERSION)?;
        let params = [
            ("RegionId", token.region_id.clone()),
            ("SecurityGroupId", token.security_group_id.clone()),
            ("SecurityGroupRuleId.1", token.rule_id.clone()),
        ];
        match call(&client, "RevokeSecurityGroup", &params) {
            Ok(_) => Ok(Outcome {
                detail: format!(
                    "removed rule {} dropping {} from {}",
                    token.rule_id, token.source, token.security_group_id
                ),
                changed: true,
                revert_token: None,
                items: Vec::new(),
            }),
            Err(failure)
                if failure.kind == FailureKind::NotFound
                    || failure.message.contains("InvalidParam.SecurityGroupRuleId") =>
            {
                Ok(unchanged(format!(
                    "rule {} of {} was already gone",
                    token.rule_id, token.security_group_id
                )))
            }
            Err(failure) => Err(failure),
        }
    }

    fn plan(request: ActionRequest) -> Result<PlanOutcome, Failure> {
        check_action(&request)?;
        let block = Block::from_request(&request)?;
        Ok(PlanOutcome {
            changes: vec![format!(
                "add inbound drop rule `{}` for {} (all protocols and ports, priority {}) to \
                 security group {} in {}",
                block.marker,
                block.source,
                block.priority,
                block.security_group_id,
                block.region_id
            )],
            reversible: true,
        })
    }
}

fn check_action(request: &ActionRequest) -> Result<(), Failure> {
    if request.action == ACTION {
        return Ok(());
    }
    Err(failure::invalid_input(format!(
        "aliyun-ecs has no action `{}`; it has `{ACTION}`",
        request.action
    )))
}

fn outcome(block: &Block, rule: &Value, changed: bool) -> Result<Outcome, Failure> {
    let rule_id = rule["SecurityGroupRuleId"]
        .as_str()
        .filter(|id| !id.is_empty())
        .ok_or_else(|| {
            failure::internal(format!("the rule has no `SecurityGroupRuleId`: {rule}"))
        })?;
    let token = Token {
        region_id: block.region_id.clone(),
        security_group_id: block.security_group_id.clone(),
        rule_id: rule_id.to_owned(),
        source: block.source.to_string(),
    };
    Ok(Outcome {
        detail: format!(
            "security group {} rule {rule_id} {} {}",
            block.security_group_id,
            if changed { "drops" } else { "already drops" },
            block.source
        ),
        changed,
        revert_token: Some(action::revert_token(&token)?),
        items: Vec::new(),
    })
}

export!(AliyunEcs);
