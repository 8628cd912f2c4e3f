//! Tencent Cloud WAF (`waf`, version `2018-01-25`) subset: IP block and
//! allow lists of protected domains.
//!
//! Owns the domains (per account), their IP rules and the actions
//! riposte's `tencent-cloud` component calls (`shared/reference/providers.md`
//! §2.4):
//! - `CreateIpAccessControl`
//!   (<https://cloud.tencent.com/document/api/627/105915>): `Domain`,
//!   `IpList`, `ActionType` (42 block, 40 allow), `InstanceId`, `Edition`,
//!   `SourceType`, `Note`, `ValidTS`; answers `RuleId`.
//! - `DescribeIpAccessControl`
//!   (<https://www.tencentcloud.com/document/product/627/64773>): `Domain`
//!   with the filters `Ip`, `ActionType`, `RuleId`, `Offset`, `Limit`;
//!   answers `Data` `{TotalCount, Res}`, each item with `RuleId`, `Ip`,
//!   `IpList`, `ActionType`, `Note`, `Source`, `ValidTs`.
//! - `DeleteIpAccessControlV2`
//!   (<https://cloud.tencent.com/document/api/627/105914>): `Domain`,
//!   `RuleIds`; answers `FailedCount`.
//!
//! The API is regional: `X-TC-Region` must be `ap-guangzhou`, `ap-seoul`
//! or `ap-singapore` (`UnsupportedRegion` otherwise). Simulator choices
//! where the reference is silent: a domain of another account is
//! `ResourceNotFound` (it cannot be seen); deleting an unknown rule id is
//! `ResourceNotFound` and deletes nothing; a domain holds at most the
//! configured number of addresses (`LimitExceeded`).

use std::collections::BTreeSet;

use serde_json::{Map, Value, json};

use super::tc3::error;
use crate::aliyun::error::ApiError;

/// The API version served.
pub const VERSION: &str = "2018-01-25";

/// The regions the API accepts (§2.4).
pub const REGIONS: [&str; 3] = ["ap-guangzhou", "ap-seoul", "ap-singapore"];

/// First rule id handed out.
const FIRST_RULE_ID: u64 = 55_000_001;

/// One IP rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TencentWafRule {
    /// The account (uin).
    pub account: String,
    /// The protected domain, or `global`.
    pub domain: String,
    /// The id answered in `RuleId`.
    pub rule_id: u64,
    /// The addresses or CIDR blocks, as sent.
    pub ips: Vec<String>,
    /// 42 block, 40 allow.
    pub action_type: i64,
    /// `Note` as sent.
    pub note: String,
    /// `ValidTS` as sent, 0 when absent.
    pub valid_ts: i64,
}

#[derive(Debug)]
pub(crate) struct Waf {
    domains: BTreeSet<(String, String)>,
    rules: Vec<TencentWafRule>,
    next_id: u64,
    capacity: usize,
}

impl Waf {
    /// `domains` holds (account, domain) pairs that exist.
    pub(crate) fn new(domains: BTreeSet<(String, String)>, capacity: usize) -> Self {
        Self {
            domains,
            rules: Vec::new(),
            next_id: FIRST_RULE_ID,
            capacity,
        }
    }

    pub(crate) fn rules(&self) -> Vec<TencentWafRule> {
        self.rules.clone()
    }

    pub(crate) fn call(
        &mut self,
        account: &str,
        region: &str,
        action: &str,
        params: &Map<String, Value>,
    ) -> Result<Map<String, Value>, ApiError> {
        if !REGIONS.contains(&region) {
            return Err(error(
                "UnsupportedRegion",
                format!("region `{region}` is not one of {REGIONS:?}"),
            ));
        }
        let domain = self.domain(account, params)?;
        match action {
            "CreateIpAccessControl" => self.create(account, &domain, params),
            "DescribeIpAccessControl" => Ok(self.describe(account, &domain, params)),
            "DeleteIpAccessControlV2" => self.delete(account, &domain, params),
            other => Err(error(
                "InvalidAction",
                format!("action `{other}` is not served for waf `{VERSION}`"),
            )),
        }
    }

    fn domain(&self, account: &str, params: &Map<String, Value>) -> Result<String, ApiError> {
        let domain = params.get("Domain").and_then(Value::as_str).unwrap_or("");
        if domain.is_empty() {
            return Err(error("MissingParameter", "`Domain` is required"));
        }
        if !self
            .domains
            .contains(&(account.to_owned(), domain.to_owned()))
        {
            return Err(error(
                "ResourceNotFound",
                format!("domain `{domain}` is not protected by WAF in this account"),
            ));
        }
        Ok(domain.to_owned())
    }

    fn create(
        &mut self,
        account: &str,
        domain: &str,
        params: &Map<String, Value>,
    ) -> Result<Map<String, Value>, ApiError> {
        let action_type = match params.get("ActionType").and_then(Value::as_i64) {
            Some(kind @ (40 | 42)) => kind,
            other => {
                return Err(error(
                    "InvalidParameterValue",
                    format!("`ActionType` {other:?} is not 42 (block) or 40 (allow)"),
                ));
            }
        };
        let ips: Vec<String> = match params.get("IpList") {
            Some(Value::Array(list)) if !list.is_empty() => list
                .iter()
                .map(|ip| ip.as_str().unwrap_or("").to_owned())
                .collect(),
            _ => {
                return Err(error(
                    "InvalidParameter",
                    "`IpList` must be a non-empty array",
                ));
            }
        };
        if let Some(bad) = ips.iter().find(|ip| !is_ip_or_cidr(ip)) {
            return Err(error(
                "InvalidParameterValue",
                format!("`{bad}` in `IpList` is not an IP address or CIDR block"),
            ));
        }
        let held: usize = self
            .rules
            .iter()
            .filter(|rule| rule.account == account && rule.domain == domain)
            .map(|rule| rule.ips.len())
            .sum();
        if held + ips.len() > self.capacity {
            return Err(error(
                "LimitExceeded",
                format!(
                    "domain `{domain}` holds {held} addresses; its capacity is {}",
                    self.capacity
                ),
            ));
        }
        let rule_id = self.next_id;
        self.next_id += 1;
        self.rules.push(TencentWafRule {
            account: account.to_owned(),
            domain: domain.to_owned(),
            rule_id,
            ips,
            action_type,
            note: params
                .get("Note")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned(),
            valid_ts: params.get("ValidTS").and_then(Value::as_i64).unwrap_or(0),
        });
        let mut answer = Map::new();
        answer.insert("RuleId".to_owned(), json!(rule_id));
        Ok(answer)
    }

    fn describe(
        &self,
        account: &str,
        domain: &str,
        params: &Map<String, Value>,
    ) -> Map<String, Value> {
        let ip = params
            .get("Ip")
            .and_then(Value::as_str)
            .filter(|ip| !ip.is_empty());
        let action_type = params.get("ActionType").and_then(Value::as_i64);
        let rule_id = params
            .get("RuleId")
            .and_then(Value::as_u64)
            .filter(|id| *id != 0);
        let offset = params.get("Offset").and_then(Value::as_u64).unwrap_or(0) as usize;
        let limit = params.get("Limit").and_then(Value::as_u64).unwrap_or(20) as usize;
        let matching: Vec<&TencentWafRule> = self
            .rules
            .iter()
            .filter(|rule| rule.account == account && rule.domain == domain)
            .filter(|rule| ip.is_none_or(|ip| rule.ips.iter().any(|held| held == ip)))
            .filter(|rule| action_type.is_none_or(|kind| rule.action_type == kind))
            .filter(|rule| rule_id.is_none_or(|id| rule.rule_id == id))
            .collect();
        let res: Vec<Value> = matching
            .iter()
            .skip(offset)
            .take(limit)
            .map(|rule| {
                json!({
                    "RuleId": rule.rule_id,
                    "Ip": rule.ips.join(","),
                    "IpList": rule.ips,
                    "ActionType": rule.action_type,
                    "Note": rule.note,
                    "Source": "custom",
                    "ValidTs": rule.valid_ts,
                })
            })
            .collect();
        let mut answer = Map::new();
        answer.insert(
            "Data".to_owned(),
            json!({"TotalCount": matching.len(), "Res": res}),
        );
        answer
    }

    fn delete(
        &mut self,
        account: &str,
        domain: &str,
        params: &Map<String, Value>,
    ) -> Result<Map<String, Value>, ApiError> {
        let ids: Vec<u64> = match params.get("RuleIds") {
            Some(Value::Array(ids)) if !ids.is_empty() => ids
                .iter()
                .map(|id| {
                    id.as_u64().ok_or_else(|| {
                        error("InvalidParameterValue", format!("`{id}` is not a rule id"))
                    })
                })
                .collect::<Result<_, _>>()?,
            _ => {
                return Err(error(
                    "MissingParameter",
                    "`RuleIds` must be a non-empty array",
                ));
            }
        };
        let held = |id: &u64| {
            self.rules
                .iter()
                .any(|rule| rule.account == account && rule.domain == domain && rule.rule_id == *id)
        };
        if let Some(missing) = ids.iter().find(|id| !held(id)) {
            return Err(error(
                "ResourceNotFound",
                format!("rule {missing} does not exist for domain `{domain}`"),
            ));
        }
        self.rules.retain(|rule| {
            !(rule.account == account && rule.domain == domain && ids.contains(&rule.rule_id))
        });
        let mut answer = Map::new();
        answer.insert("FailedCount".to_owned(), json!(0));
        Ok(answer)
    }
}

/// An address, or an address with a prefix length that fits its family.
fn is_ip_or_cidr(text: &str) -> bool {
    crate::aliyun::waf::is_ip_or_cidr(text) && !matches!(text, "0.0.0.0/0" | "::/0")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn waf() -> Waf {
        Waf::new(
            BTreeSet::from([("a".to_owned(), "www.example.com".to_owned())]),
            3,
        )
    }

    fn params(value: Value) -> Map<String, Value> {
        value.as_object().unwrap().clone()
    }

    #[test]
    fn creates_describes_and_deletes() {
        let mut waf = waf();
        let create = params(
            json!({"Domain": "www.example.com", "IpList": ["2001:db8::/32"], "ActionType": 42, "Note": "n"}),
        );
        let answer = waf
            .call("a", "ap-guangzhou", "CreateIpAccessControl", &create)
            .unwrap();
        let id = answer["RuleId"].as_u64().unwrap();
        let describe =
            params(json!({"Domain": "www.example.com", "Ip": "2001:db8::/32", "ActionType": 42}));
        let found = waf
            .call("a", "ap-guangzhou", "DescribeIpAccessControl", &describe)
            .unwrap();
        assert_eq!(found["Data"]["TotalCount"], 1);
        assert_eq!(found["Data"]["Res"][0]["RuleId"], id);

        let delete = params(json!({"Domain": "www.example.com", "RuleIds": [id]}));
        waf.call("a", "ap-guangzhou", "DeleteIpAccessControlV2", &delete)
            .unwrap();
        assert!(waf.rules().is_empty());
        let err = waf
            .call("a", "ap-guangzhou", "DeleteIpAccessControlV2", &delete)
            .unwrap_err();
        assert_eq!(err.code, "ResourceNotFound");
    }

    #[test]
    fn checks_region_domain_owner_addresses_and_capacity() {
        let mut waf = waf();
        let create = |ip: &str| {
            params(json!({"Domain": "www.example.com", "IpList": [ip], "ActionType": 42}))
        };
        let cases = [
            (
                "a",
                "ap-beijing",
                create("198.51.100.7"),
                "UnsupportedRegion",
            ),
            (
                "b",
                "ap-guangzhou",
                create("198.51.100.7"),
                "ResourceNotFound",
            ),
            (
                "a",
                "ap-guangzhou",
                create("host.example"),
                "InvalidParameterValue",
            ),
            (
                "a",
                "ap-guangzhou",
                create("0.0.0.0/0"),
                "InvalidParameterValue",
            ),
        ];
        for (account, region, params, code) in cases {
            let err = waf
                .call(account, region, "CreateIpAccessControl", &params)
                .unwrap_err();
            assert_eq!(err.code, code);
        }
        for ip in ["198.51.100.1", "198.51.100.2", "198.51.100.3"] {
            waf.call("a", "ap-guangzhou", "CreateIpAccessControl", &create(ip))
                .unwrap();
        }
        let err = waf
            .call(
                "a",
                "ap-guangzhou",
                "CreateIpAccessControl",
                &create("198.51.100.4"),
            )
            .unwrap_err();
        assert_eq!(err.code, "LimitExceeded");
    }
}
