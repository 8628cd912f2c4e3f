//! Alibaba Cloud ECS (`Ecs`, version `2014-05-26`) subset: inbound rules
//! of security groups.
//!
//! Owns the security groups (per AccessKeyId and region), their inbound
//! rules and the actions riposte's `aliyun-ecs` component calls
//! (`shared/reference/providers.md` §1.4.4):
//! - `AuthorizeSecurityGroup`
//!   (<https://help.aliyun.com/document_detail/25554.html>): `RegionId`,
//!   `SecurityGroupId`, `ClientToken`, and the rules as `Permissions.N.*`
//!   (`Policy` accept/drop, `Priority` 1 to 100, `IpProtocol`,
//!   `PortRange`, `SourceCidrIp` or `Ipv6SourceCidrIp`, `Description`).
//!   A repeat with the same `ClientToken` answers as the first call and
//!   adds nothing. More than 200 rules in a group is
//!   `AuthorizationLimitExceed` (403, quota); an unknown group is
//!   `InvalidSecurityGroupId.NotFound` (404); malformed values are
//!   `InvalidSourceCidrIp.Malformed`, `InvalidPriority.Malformed`,
//!   `InvalidIpProtocol.Malformed`, `InvalidPolicy.Malformed` (400), all
//!   as documented there.
//! - `DescribeSecurityGroupAttribute` (`RegionId`, `SecurityGroupId`,
//!   `Direction`): answers `Permissions.Permission[]` with
//!   `SecurityGroupRuleId`, `Policy`, `Priority`, `IpProtocol`,
//!   `PortRange`, `SourceCidrIp`, `Ipv6SourceCidrIp`, `Description`,
//!   `Direction`.
//! - `RevokeSecurityGroup`
//!   (<https://www.alibabacloud.com/help/en/ecs/developer-reference/api-ecs-2014-05-26-revokesecuritygroup>):
//!   `SecurityGroupRuleId.N`; an id that does not exist is
//!   `InvalidParam.SecurityGroupRuleId` (the behaviour since 2024-07-08).
//!
//! Simulator choice: a rule identical to an existing one (same policy,
//! protocol, ports, source and priority) is refused with
//! `Ecs.Sim.DuplicateRule` (400); the reference says the call fails but
//! not with which code.

use std::collections::BTreeMap;
use std::net::IpAddr;

use serde_json::{Map, Value, json};

use super::error::ApiError;
use super::waf::{Params, is_ip_or_cidr};

/// The API version this module serves.
pub const VERSION: &str = "2014-05-26";

/// Rules per security group (inbound and outbound together), §1.4.4.
pub const RULES_PER_GROUP: usize = 200;

/// One inbound rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EcsRule {
    /// The security group.
    pub security_group_id: String,
    /// `sgr-…`.
    pub rule_id: String,
    /// `accept` or `drop`, lower case.
    pub policy: String,
    /// 1 (first) to 100.
    pub priority: u8,
    /// `ALL`, `TCP`, `UDP`, `ICMP`, `GRE`, upper case.
    pub ip_protocol: String,
    /// `-1/-1` or `from/to`.
    pub port_range: String,
    /// The IPv4 source, empty for IPv6 rules.
    pub source_cidr_ip: String,
    /// The IPv6 source, empty for IPv4 rules.
    pub ipv6_source_cidr_ip: String,
    /// `Description` as sent.
    pub description: String,
}

impl EcsRule {
    fn same_as(&self, other: &EcsRule) -> bool {
        self.security_group_id == other.security_group_id
            && self.policy == other.policy
            && self.priority == other.priority
            && self.ip_protocol == other.ip_protocol
            && self.port_range == other.port_range
            && self.source_cidr_ip == other.source_cidr_ip
            && self.ipv6_source_cidr_ip == other.ipv6_source_cidr_ip
    }

    fn to_json(&self) -> Value {
        let capital = |text: &str| {
            let mut chars = text.chars();
            chars.next().map_or(String::new(), |first| {
                first.to_ascii_uppercase().to_string() + chars.as_str()
            })
        };
        json!({
            "SecurityGroupRuleId": self.rule_id, "Direction": "ingress",
            "Policy": capital(&self.policy), "Priority": self.priority.to_string(),
            "IpProtocol": self.ip_protocol, "PortRange": self.port_range,
            "SourceCidrIp": self.source_cidr_ip, "Ipv6SourceCidrIp": self.ipv6_source_cidr_ip,
            "Description": self.description, "NicType": "intranet",
        })
    }
}

#[derive(Debug)]
pub(crate) struct Ecs {
    /// Security group id → region.
    groups: BTreeMap<String, String>,
    rules: Vec<EcsRule>,
    /// (AccessKeyId, ClientToken) → answer given.
    tokens: BTreeMap<(String, String), Map<String, Value>>,
    next_id: u64,
    capacity: usize,
}

impl Ecs {
    pub(crate) fn new(groups: BTreeMap<String, String>, capacity: usize) -> Self {
        Self {
            groups,
            rules: Vec::new(),
            tokens: BTreeMap::new(),
            next_id: 1,
            capacity,
        }
    }

    pub(crate) fn serves(action: &str) -> bool {
        matches!(
            action,
            "AuthorizeSecurityGroup" | "DescribeSecurityGroupAttribute" | "RevokeSecurityGroup"
        )
    }

    pub(crate) fn rules(&self) -> Vec<EcsRule> {
        self.rules.clone()
    }

    pub(crate) fn call(
        &mut self,
        access_key_id: &str,
        action: &str,
        params: &Params,
    ) -> Result<Map<String, Value>, ApiError> {
        let group = self.group(params)?;
        match action {
            "AuthorizeSecurityGroup" => self.authorize(access_key_id, &group, params),
            "DescribeSecurityGroupAttribute" => Ok(self.describe(&group, params)),
            _ => self.revoke(&group, params),
        }
    }

    /// Checks `RegionId` and `SecurityGroupId` together.
    fn group(&self, params: &Params) -> Result<String, ApiError> {
        let region = params.required("RegionId")?;
        let group = params.required("SecurityGroupId")?;
        match self.groups.get(group) {
            Some(held) if held == region => Ok(group.to_owned()),
            _ => Err(ApiError::not_found(
                "InvalidSecurityGroupId.NotFound",
                format!("The specified SecurityGroupId `{group}` does not exist in `{region}`"),
            )),
        }
    }

    fn authorize(
        &mut self,
        access_key_id: &str,
        group: &str,
        params: &Params,
    ) -> Result<Map<String, Value>, ApiError> {
        let token = params.get("ClientToken").filter(|t| !t.is_empty());
        if let Some(token) = token
            && let Some(answer) = self
                .tokens
                .get(&(access_key_id.to_owned(), token.to_owned()))
        {
            return Ok(answer.clone());
        }
        let mut adding = Vec::new();
        for n in 1..=100 {
            let field = |name: &str| params.get(&format!("Permissions.{n}.{name}"));
            if field("Policy").is_none()
                && field("SourceCidrIp").is_none()
                && field("Ipv6SourceCidrIp").is_none()
            {
                break;
            }
            adding.push(self.rule(group, n, field)?);
        }
        if adding.is_empty() {
            return Err(ApiError::missing_parameter("Permissions.1.Policy"));
        }
        if let Some(duplicate) = adding
            .iter()
            .find(|new| self.rules.iter().any(|held| held.same_as(new)))
        {
            return Err(ApiError::new(
                400,
                "Ecs.Sim.DuplicateRule",
                format!(
                    "an identical rule for `{}{}` exists",
                    duplicate.source_cidr_ip, duplicate.ipv6_source_cidr_ip
                ),
            ));
        }
        let held = self
            .rules
            .iter()
            .filter(|r| r.security_group_id == group)
            .count();
        if held + adding.len() > self.capacity {
            return Err(ApiError::new(
                403,
                "AuthorizationLimitExceed",
                format!(
                    "The limit of authorization records in the security group reaches ({held} of {})",
                    self.capacity
                ),
            ));
        }
        for mut rule in adding {
            rule.rule_id = format!("sgr-sim{:012x}", self.next_id);
            self.next_id += 1;
            self.rules.push(rule);
        }
        let answer = Map::new();
        if let Some(token) = token {
            self.tokens
                .insert((access_key_id.to_owned(), token.to_owned()), answer.clone());
        }
        Ok(answer)
    }

    fn rule<'a>(
        &self,
        group: &str,
        n: usize,
        field: impl Fn(&str) -> Option<&'a str>,
    ) -> Result<EcsRule, ApiError> {
        let malformed = |code: &str, what: String| {
            ApiError::new(400, code, format!("The specified {what} is malformed"))
        };
        let policy = field("Policy").unwrap_or("accept").to_ascii_lowercase();
        if !matches!(policy.as_str(), "accept" | "drop") {
            return Err(malformed(
                "InvalidPolicy.Malformed",
                format!("Permissions.{n}.Policy `{policy}`"),
            ));
        }
        let priority_text = field("Priority").unwrap_or("1");
        let priority = priority_text
            .parse::<u8>()
            .ok()
            .filter(|p| (1..=100).contains(p))
            .ok_or_else(|| {
                malformed(
                    "InvalidPriority.Malformed",
                    format!("Permissions.{n}.Priority `{priority_text}`"),
                )
            })?;
        let ip_protocol = field("IpProtocol").unwrap_or("").to_ascii_uppercase();
        if !matches!(
            ip_protocol.as_str(),
            "ALL" | "TCP" | "UDP" | "ICMP" | "ICMPV6" | "GRE"
        ) {
            return Err(malformed(
                "InvalidIpProtocol.Malformed",
                format!("Permissions.{n}.IpProtocol `{ip_protocol}`"),
            ));
        }
        let port_range = field("PortRange").unwrap_or("").to_owned();
        let ports_ok = port_range.split_once('/').is_some_and(|(from, to)| {
            (from == "-1" && to == "-1")
                || (from.parse::<u16>().is_ok() && to.parse::<u16>().is_ok())
        });
        if !ports_ok {
            return Err(ApiError::invalid_parameter(
                "PortRange",
                format!("`{port_range}` is not `from/to`"),
            ));
        }
        let v4 = field("SourceCidrIp").unwrap_or("").to_owned();
        let v6 = field("Ipv6SourceCidrIp").unwrap_or("").to_owned();
        let family = |text: &str| text.split('/').next().unwrap_or("").parse::<IpAddr>().ok();
        let valid = match (v4.is_empty(), v6.is_empty()) {
            (false, true) => is_ip_or_cidr(&v4) && family(&v4).is_some_and(|ip| ip.is_ipv4()),
            (true, false) => is_ip_or_cidr(&v6) && family(&v6).is_some_and(|ip| ip.is_ipv6()),
            _ => false,
        };
        if !valid {
            return Err(malformed(
                "InvalidSourceCidrIp.Malformed",
                format!(
                    "source `{v4}{v6}` of Permissions.{n} (one IPv4 SourceCidrIp or one Ipv6SourceCidrIp)"
                ),
            ));
        }
        Ok(EcsRule {
            security_group_id: group.to_owned(),
            rule_id: String::new(),
            policy,
            priority,
            ip_protocol,
            port_range,
            source_cidr_ip: v4,
            ipv6_source_cidr_ip: v6,
            description: field("Description").unwrap_or("").to_owned(),
        })
    }

    fn describe(&self, group: &str, params: &Params) -> Map<String, Value> {
        let ingress = params
            .get("Direction")
            .is_none_or(|d| d == "ingress" || d == "all");
        let permissions: Vec<Value> = self
            .rules
            .iter()
            .filter(|rule| ingress && rule.security_group_id == group)
            .map(EcsRule::to_json)
            .collect();
        let mut answer = Map::new();
        answer.insert("SecurityGroupId".into(), json!(group));
        answer.insert("Permissions".into(), json!({ "Permission": permissions }));
        answer
    }

    fn revoke(&mut self, group: &str, params: &Params) -> Result<Map<String, Value>, ApiError> {
        let ids = params.repeated("SecurityGroupRuleId");
        if ids.is_empty() {
            return Err(ApiError::missing_parameter("SecurityGroupRuleId.1"));
        }
        let held = |id: &String| {
            self.rules
                .iter()
                .any(|r| r.security_group_id == group && &r.rule_id == id)
        };
        if let Some(missing) = ids.iter().find(|id| !held(id)) {
            return Err(ApiError::new(
                400,
                "InvalidParam.SecurityGroupRuleId",
                format!("The security group rule `{missing}` does not exist"),
            ));
        }
        self.rules
            .retain(|r| !(r.security_group_id == group && ids.contains(&r.rule_id)));
        Ok(Map::new())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> Params {
        let pairs = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Params::new(pairs, Vec::new())
    }

    fn drop_rule(source: (&str, &str), token: &str) -> Params {
        params(&[
            ("RegionId", "cn-hangzhou"),
            ("SecurityGroupId", "sg-1"),
            ("ClientToken", token),
            ("Permissions.1.Policy", "drop"),
            ("Permissions.1.Priority", "1"),
            ("Permissions.1.IpProtocol", "ALL"),
            ("Permissions.1.PortRange", "-1/-1"),
            (source.0, source.1),
            ("Permissions.1.Description", "d"),
        ])
    }

    fn ecs(capacity: usize) -> Ecs {
        Ecs::new(
            BTreeMap::from([("sg-1".to_owned(), "cn-hangzhou".to_owned())]),
            capacity,
        )
    }

    #[test]
    fn authorizes_once_per_token_describes_and_revokes() {
        let mut ecs = ecs(10);
        let rule = drop_rule(("Permissions.1.SourceCidrIp", "198.51.100.7"), "t1");
        ecs.call("ak", "AuthorizeSecurityGroup", &rule).unwrap();
        ecs.call("ak", "AuthorizeSecurityGroup", &rule).unwrap();
        assert_eq!(ecs.rules().len(), 1, "the same ClientToken adds nothing");
        let again = drop_rule(("Permissions.1.SourceCidrIp", "198.51.100.7"), "t2");
        assert_eq!(
            ecs.call("ak", "AuthorizeSecurityGroup", &again)
                .unwrap_err()
                .code,
            "Ecs.Sim.DuplicateRule"
        );

        let described = ecs
            .call(
                "ak",
                "DescribeSecurityGroupAttribute",
                &params(&[
                    ("RegionId", "cn-hangzhou"),
                    ("SecurityGroupId", "sg-1"),
                    ("Direction", "ingress"),
                ]),
            )
            .unwrap();
        let permission = &described["Permissions"]["Permission"][0];
        assert_eq!(
            (
                permission["Policy"].as_str(),
                permission["SourceCidrIp"].as_str()
            ),
            (Some("Drop"), Some("198.51.100.7"))
        );
        let id = permission["SecurityGroupRuleId"]
            .as_str()
            .unwrap()
            .to_owned();

        let revoke = params(&[
            ("RegionId", "cn-hangzhou"),
            ("SecurityGroupId", "sg-1"),
            ("SecurityGroupRuleId.1", &id),
        ]);
        ecs.call("ak", "RevokeSecurityGroup", &revoke).unwrap();
        assert!(ecs.rules().is_empty());
        assert_eq!(
            ecs.call("ak", "RevokeSecurityGroup", &revoke)
                .unwrap_err()
                .code,
            "InvalidParam.SecurityGroupRuleId"
        );
    }

    #[test]
    fn checks_groups_sources_and_the_limit() {
        let mut ecs = ecs(1);
        let mut wrong_region = drop_rule(("Permissions.1.SourceCidrIp", "198.51.100.7"), "a");
        wrong_region = Params::new(vec![("RegionId".into(), "cn-beijing".into())], vec![])
            .merged(wrong_region);
        assert_eq!(
            ecs.call("ak", "AuthorizeSecurityGroup", &wrong_region)
                .unwrap_err()
                .code,
            "InvalidSecurityGroupId.NotFound"
        );
        for bad in [
            ("Permissions.1.SourceCidrIp", "2001:db8::1"),
            ("Permissions.1.Ipv6SourceCidrIp", "198.51.100.7"),
            ("Permissions.1.SourceCidrIp", "evil.example"),
        ] {
            let err = ecs
                .call("ak", "AuthorizeSecurityGroup", &drop_rule(bad, "b"))
                .unwrap_err();
            assert_eq!(err.code, "InvalidSourceCidrIp.Malformed", "{bad:?}");
        }
        ecs.call(
            "ak",
            "AuthorizeSecurityGroup",
            &drop_rule(("Permissions.1.Ipv6SourceCidrIp", "2001:db8::/32"), "c"),
        )
        .unwrap();
        let err = ecs
            .call(
                "ak",
                "AuthorizeSecurityGroup",
                &drop_rule(("Permissions.1.SourceCidrIp", "198.51.100.8"), "d"),
            )
            .unwrap_err();
        assert_eq!(
            (err.status, err.code.as_str()),
            (403, "AuthorizationLimitExceed")
        );
    }
}
