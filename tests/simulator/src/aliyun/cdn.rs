//! Alibaba Cloud CDN (`Cdn`, version `2018-05-10`) IP blacklists and DCDN
//! (`dcdn`, version `2018-01-15`) WAF IP-blacklist rules.
//!
//! Owns the accelerated domains and their `ip_black_list_set` feature, the
//! DCDN WAF policies and their rules, and the actions riposte's
//! `aliyun-cdn` component calls. Parameters follow the official Go SDK
//! request models (`aliyun/alibabacloud-go-sdk`, `cdn-20180510/client`,
//! `dcdn-20180115/client`) and `shared/reference/providers.md` §1.4.6:
//! - CDN `DescribeCdnDomainConfigs` (`DomainName`, `FunctionNames`;
//!   answers `DomainConfigs.DomainConfig[]` of `{ConfigId, FunctionName,
//!   Status, FunctionArgs.FunctionArg[] {ArgName, ArgValue}}`),
//!   `BatchSetCdnDomainConfig` (`DomainNames`, `Functions` JSON
//!   `[{"functionName","functionArgs":[{"argName","argValue"}]}]`; the
//!   `ip_black_list_set` feature's `ip_list` is comma-separated addresses
//!   and CIDR blocks, and setting it again replaces it),
//!   `DeleteSpecificConfig` (`DomainName`, `ConfigId`).
//! - DCDN `BatchCreateDcdnWafRules` (`PolicyId`, `RuleConfigs` JSON
//!   `[{"name","action","remoteAddr":[…],"status"}]`; answers
//!   `RuleIds.RuleId[]`), `DescribeDcdnWafRules` (`QueryArgs` JSON with
//!   `PolicyIds`, `RuleNameLike`, `PageNumber`, `PageSize`; answers
//!   `Rules[]` of `{RuleId, RuleName, PolicyId, DefenseScene, RuleConfig,
//!   RuleStatus}`), `BatchDeleteDcdnWafRules` (`RuleIds`,
//!   comma-separated). The rule keys are those the official Terraform
//!   provider sends (`alicloud/resource_alicloud_dcdn_waf_rule.go`:
//!   `name`, `action` block/monitor/js/deny, `remoteAddr`, `status`).
//!
//! Simulator choices where the reference is silent: an unknown domain or
//! policy is 404 `Cdn.Sim.DomainNotExist` / `Dcdn.Sim.PolicyNotExist`; an
//! unknown config or rule id is 404 `Cdn.Sim.ConfigNotExist` /
//! `Dcdn.Sim.RuleNotExist`; an `ip_list` or policy over its capacity is
//! 400 `Cdn.Sim.IpListQuotaExceeded` / `Dcdn.Sim.RuleQuotaExceeded`.

use std::collections::{BTreeMap, BTreeSet};

use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::error::ApiError;
use super::waf::{Params, is_ip_or_cidr};

/// CDN API version.
pub const CDN_VERSION: &str = "2018-05-10";
/// DCDN API version.
pub const DCDN_VERSION: &str = "2018-01-15";

/// The CDN feature holding the IP blacklist.
pub const IP_BLACKLIST: &str = "ip_black_list_set";

/// A DCDN WAF rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DcdnWafRule {
    /// The policy.
    pub policy_id: u64,
    /// The rule id.
    pub rule_id: u64,
    /// `name`.
    pub name: String,
    /// `action`.
    pub action: String,
    /// `remoteAddr`.
    pub remote_addr: Vec<String>,
}

#[derive(Debug)]
pub(crate) struct Cdn {
    /// domain → (config id, ip_list) of its `ip_black_list_set`.
    domains: BTreeMap<String, Option<(u64, Vec<String>)>>,
    policies: BTreeSet<u64>,
    rules: Vec<DcdnWafRule>,
    next_id: u64,
    capacity: usize,
}

#[derive(Deserialize)]
struct Function {
    #[serde(rename = "functionName")]
    name: String,
    #[serde(rename = "functionArgs")]
    args: Vec<Arg>,
}

#[derive(Deserialize)]
struct Arg {
    #[serde(rename = "argName")]
    name: String,
    #[serde(rename = "argValue")]
    value: String,
}

#[derive(Deserialize)]
struct RuleConfig {
    name: String,
    action: String,
    #[serde(rename = "remoteAddr", default)]
    remote_addr: Vec<String>,
    #[serde(default)]
    status: Option<String>,
}

impl Cdn {
    pub(crate) fn new(domains: BTreeSet<String>, policies: BTreeSet<u64>, capacity: usize) -> Self {
        Self {
            domains: domains.into_iter().map(|d| (d, None)).collect(),
            policies,
            rules: Vec::new(),
            next_id: 1,
            capacity,
        }
    }

    pub(crate) fn serves(version: &str, action: &str) -> bool {
        match version {
            CDN_VERSION => matches!(
                action,
                "DescribeCdnDomainConfigs" | "BatchSetCdnDomainConfig" | "DeleteSpecificConfig"
            ),
            DCDN_VERSION => matches!(
                action,
                "BatchCreateDcdnWafRules" | "DescribeDcdnWafRules" | "BatchDeleteDcdnWafRules"
            ),
            _ => false,
        }
    }

    /// The `ip_list` of each domain that has one.
    pub(crate) fn ip_lists(&self) -> BTreeMap<String, Vec<String>> {
        self.domains
            .iter()
            .filter_map(|(domain, config)| Some((domain.clone(), config.as_ref()?.1.clone())))
            .collect()
    }

    pub(crate) fn rules(&self) -> Vec<DcdnWafRule> {
        self.rules.clone()
    }

    pub(crate) fn call(
        &mut self,
        action: &str,
        params: &Params,
    ) -> Result<Map<String, Value>, ApiError> {
        match action {
            "DescribeCdnDomainConfigs" => self.describe_configs(params),
            "BatchSetCdnDomainConfig" => self.set_configs(params),
            "DeleteSpecificConfig" => self.delete_config(params),
            "BatchCreateDcdnWafRules" => self.create_rules(params),
            "DescribeDcdnWafRules" => self.describe_rules(params),
            _ => self.delete_rules(params),
        }
    }

    fn domain(&self, name: &str) -> Result<(), ApiError> {
        if self.domains.contains_key(name) {
            return Ok(());
        }
        Err(ApiError::not_found(
            "Cdn.Sim.DomainNotExist",
            format!("domain `{name}` is not accelerated by this account"),
        ))
    }

    fn describe_configs(&self, params: &Params) -> Result<Map<String, Value>, ApiError> {
        let domain = params.required("DomainName")?;
        self.domain(domain)?;
        let wanted = params.get("FunctionNames").unwrap_or(IP_BLACKLIST);
        let configs: Vec<Value> = match &self.domains[domain] {
            Some((id, list)) if wanted.split(',').any(|f| f == IP_BLACKLIST) => vec![json!({
                "ConfigId": id.to_string(), "FunctionName": IP_BLACKLIST, "Status": "success",
                "FunctionArgs": {"FunctionArg": [{"ArgName": "ip_list", "ArgValue": list.join(",")}]},
            })],
            _ => Vec::new(),
        };
        let mut answer = Map::new();
        answer.insert("DomainConfigs".into(), json!({ "DomainConfig": configs }));
        Ok(answer)
    }

    fn set_configs(&mut self, params: &Params) -> Result<Map<String, Value>, ApiError> {
        let domains: Vec<String> = params
            .required("DomainNames")?
            .split(',')
            .map(str::to_owned)
            .collect();
        for domain in &domains {
            self.domain(domain)?;
        }
        let functions: Vec<Function> = serde_json::from_str(params.required("Functions")?)
            .map_err(|err| {
                ApiError::invalid_parameter("Functions", format!("not a function array: {err}"))
            })?;
        let mut list = None;
        for function in functions {
            if function.name != IP_BLACKLIST {
                return Err(ApiError::invalid_parameter(
                    "Functions",
                    format!("`{}` is not served by the simulator", function.name),
                ));
            }
            let text = function
                .args
                .iter()
                .find(|arg| arg.name == "ip_list")
                .map(|arg| arg.value.clone())
                .ok_or_else(|| {
                    ApiError::invalid_parameter("Functions", "`ip_black_list_set` needs `ip_list`")
                })?;
            let ips: Vec<String> = text
                .split(',')
                .map(|ip| ip.trim().to_owned())
                .filter(|ip| !ip.is_empty())
                .collect();
            if ips.is_empty() {
                return Err(ApiError::invalid_parameter(
                    "Functions",
                    "`ip_list` is empty",
                ));
            }
            if let Some(bad) = ips
                .iter()
                .find(|ip| !is_ip_or_cidr(ip) || ip.ends_with("/0"))
            {
                return Err(ApiError::invalid_parameter(
                    "Functions",
                    format!("`{bad}` in `ip_list` is not an address or CIDR block"),
                ));
            }
            if ips.len() > self.capacity {
                return Err(ApiError::new(
                    400,
                    "Cdn.Sim.IpListQuotaExceeded",
                    format!("`ip_list` holds {} of {} entries", ips.len(), self.capacity),
                ));
            }
            list = Some(ips);
        }
        let list =
            list.ok_or_else(|| ApiError::invalid_parameter("Functions", "no function given"))?;
        let mut models = Vec::new();
        for domain in domains {
            let id = match &self.domains[&domain] {
                Some((id, _)) => *id,
                None => {
                    self.next_id += 1;
                    self.next_id
                }
            };
            self.domains
                .insert(domain.clone(), Some((id, list.clone())));
            models
                .push(json!({"ConfigId": id, "DomainName": domain, "FunctionName": IP_BLACKLIST}));
        }
        let mut answer = Map::new();
        answer.insert(
            "DomainConfigList".into(),
            json!({ "DomainConfigModel": models }),
        );
        Ok(answer)
    }

    fn delete_config(&mut self, params: &Params) -> Result<Map<String, Value>, ApiError> {
        let domain = params.required("DomainName")?;
        self.domain(domain)?;
        let config = params.required("ConfigId")?;
        match &self.domains[domain] {
            Some((id, _)) if id.to_string() == config => {
                self.domains.insert(domain.to_owned(), None);
                Ok(Map::new())
            }
            _ => Err(ApiError::not_found(
                "Cdn.Sim.ConfigNotExist",
                format!("config `{config}` of `{domain}` does not exist"),
            )),
        }
    }

    fn policy(&self, params: &Params) -> Result<u64, ApiError> {
        let text = params.required("PolicyId")?;
        let id = text.parse::<u64>().map_err(|_| {
            ApiError::invalid_parameter("PolicyId", format!("`{text}` is not an id"))
        })?;
        if self.policies.contains(&id) {
            return Ok(id);
        }
        Err(ApiError::not_found(
            "Dcdn.Sim.PolicyNotExist",
            format!("policy {id} does not exist"),
        ))
    }

    fn create_rules(&mut self, params: &Params) -> Result<Map<String, Value>, ApiError> {
        let policy = self.policy(params)?;
        let configs: Vec<RuleConfig> = serde_json::from_str(params.required("RuleConfigs")?)
            .map_err(|err| {
                ApiError::invalid_parameter("RuleConfigs", format!("not a rule array: {err}"))
            })?;
        for config in &configs {
            let name_ok = (1..=64).contains(&config.name.len())
                && config
                    .name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_');
            if !name_ok {
                return Err(ApiError::invalid_parameter(
                    "RuleConfigs",
                    format!(
                        "name `{}` is not 1 to 64 letters, digits and `_`",
                        config.name
                    ),
                ));
            }
            if !matches!(config.action.as_str(), "block" | "monitor" | "js" | "deny") {
                return Err(ApiError::invalid_parameter(
                    "RuleConfigs",
                    format!("action `{}`", config.action),
                ));
            }
            if config
                .status
                .as_deref()
                .is_some_and(|s| s != "on" && s != "off")
            {
                return Err(ApiError::invalid_parameter(
                    "RuleConfigs",
                    "status is on or off",
                ));
            }
            if config.remote_addr.is_empty()
                || config
                    .remote_addr
                    .iter()
                    .any(|ip| !is_ip_or_cidr(ip) || ip.ends_with("/0"))
            {
                return Err(ApiError::invalid_parameter(
                    "RuleConfigs",
                    format!("remoteAddr {:?}", config.remote_addr),
                ));
            }
        }
        let held = self.rules.iter().filter(|r| r.policy_id == policy).count();
        if held + configs.len() > self.capacity {
            return Err(ApiError::new(
                400,
                "Dcdn.Sim.RuleQuotaExceeded",
                format!("policy {policy} holds {held} of {} rules", self.capacity),
            ));
        }
        let mut ids = Vec::new();
        for config in configs {
            self.next_id += 1;
            ids.push(self.next_id.to_string());
            self.rules.push(DcdnWafRule {
                policy_id: policy,
                rule_id: self.next_id,
                name: config.name,
                action: config.action,
                remote_addr: config.remote_addr,
            });
        }
        let mut answer = Map::new();
        answer.insert("RuleIds".into(), json!({ "RuleId": ids }));
        Ok(answer)
    }

    fn describe_rules(&self, params: &Params) -> Result<Map<String, Value>, ApiError> {
        let query: Map<String, Value> = match params.get("QueryArgs") {
            Some(text) => serde_json::from_str(text).map_err(|err| {
                ApiError::invalid_parameter("QueryArgs", format!("not a JSON object: {err}"))
            })?,
            None => Map::new(),
        };
        let text = |name: &str| {
            query
                .get(name)
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned()
        };
        let policies: Vec<String> = text("PolicyIds")
            .split(',')
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect();
        let like = text("RuleNameLike");
        let rules: Vec<Value> = self
            .rules
            .iter()
            .filter(|r| policies.is_empty() || policies.contains(&r.policy_id.to_string()))
            .filter(|r| r.name.contains(&like))
            .map(|r| {
                let config = json!({"name": r.name, "action": r.action, "remoteAddr": r.remote_addr, "status": "on"});
                json!({"RuleId": r.rule_id, "RuleName": r.name, "PolicyId": r.policy_id,
                       "DefenseScene": "ip_blacklist", "RuleConfig": config.to_string(), "RuleStatus": "on"})
            })
            .collect();
        let mut answer = Map::new();
        answer.insert("TotalCount".into(), json!(rules.len()));
        answer.insert("Rules".into(), Value::Array(rules));
        Ok(answer)
    }

    fn delete_rules(&mut self, params: &Params) -> Result<Map<String, Value>, ApiError> {
        let ids: Vec<String> = params
            .required("RuleIds")?
            .split(',')
            .map(|id| id.trim().to_owned())
            .collect();
        if let Some(missing) = ids
            .iter()
            .find(|id| !self.rules.iter().any(|r| &r.rule_id.to_string() == *id))
        {
            return Err(ApiError::not_found(
                "Dcdn.Sim.RuleNotExist",
                format!("rule `{missing}` does not exist"),
            ));
        }
        self.rules.retain(|r| !ids.contains(&r.rule_id.to_string()));
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

    fn cdn() -> Cdn {
        Cdn::new(
            BTreeSet::from(["www.example.com".to_owned()]),
            BTreeSet::from([1000001]),
            2,
        )
    }

    fn set(list: &str) -> Params {
        let functions = json!([{"functionName": IP_BLACKLIST, "functionArgs": [{"argName": "ip_list", "argValue": list}]}]);
        params(&[
            ("DomainNames", "www.example.com"),
            ("Functions", &functions.to_string()),
        ])
    }

    #[test]
    fn ip_lists_are_set_replaced_described_and_deleted() {
        let mut cdn = cdn();
        let answer = cdn
            .call("BatchSetCdnDomainConfig", &set("198.51.100.7"))
            .unwrap();
        let id = answer["DomainConfigList"]["DomainConfigModel"][0]["ConfigId"].clone();
        cdn.call(
            "BatchSetCdnDomainConfig",
            &set("198.51.100.7,2001:db8::/32"),
        )
        .unwrap();
        assert_eq!(
            cdn.ip_lists()["www.example.com"],
            ["198.51.100.7", "2001:db8::/32"]
        );
        assert_eq!(
            cdn.call("BatchSetCdnDomainConfig", &set("1.2.3.4,1.2.3.5,1.2.3.6"))
                .unwrap_err()
                .code,
            "Cdn.Sim.IpListQuotaExceeded"
        );
        assert_eq!(
            cdn.call("BatchSetCdnDomainConfig", &set("evil.example"))
                .unwrap_err()
                .code,
            "InvalidParameter"
        );

        let described = cdn
            .call(
                "DescribeCdnDomainConfigs",
                &params(&[
                    ("DomainName", "www.example.com"),
                    ("FunctionNames", IP_BLACKLIST),
                ]),
            )
            .unwrap();
        let config = &described["DomainConfigs"]["DomainConfig"][0];
        assert_eq!(
            config["FunctionArgs"]["FunctionArg"][0]["ArgValue"],
            "198.51.100.7,2001:db8::/32"
        );
        assert_eq!(config["ConfigId"], id.to_string());

        let delete = params(&[
            ("DomainName", "www.example.com"),
            ("ConfigId", &id.to_string()),
        ]);
        cdn.call("DeleteSpecificConfig", &delete).unwrap();
        assert!(cdn.ip_lists().is_empty());
        assert_eq!(
            cdn.call("DeleteSpecificConfig", &delete).unwrap_err().code,
            "Cdn.Sim.ConfigNotExist"
        );
    }

    #[test]
    fn dcdn_rules_are_created_found_and_deleted() {
        let mut cdn = cdn();
        let rule = json!([{"name": "riposte_k1", "action": "block", "remoteAddr": ["198.51.100.7"], "status": "on"}]);
        let answer = cdn
            .call(
                "BatchCreateDcdnWafRules",
                &params(&[("PolicyId", "1000001"), ("RuleConfigs", &rule.to_string())]),
            )
            .unwrap();
        let id = answer["RuleIds"]["RuleId"][0].as_str().unwrap().to_owned();
        let query = json!({"PolicyIds": "1000001", "RuleNameLike": "riposte_k1"}).to_string();
        let found = cdn
            .call("DescribeDcdnWafRules", &params(&[("QueryArgs", &query)]))
            .unwrap();
        assert_eq!(found["Rules"][0]["RuleId"].to_string(), id);
        cdn.call("BatchDeleteDcdnWafRules", &params(&[("RuleIds", &id)]))
            .unwrap();
        assert_eq!(
            cdn.call("BatchDeleteDcdnWafRules", &params(&[("RuleIds", &id)]))
                .unwrap_err()
                .code,
            "Dcdn.Sim.RuleNotExist"
        );
        let bad = json!([{"name": "bad-name", "action": "block", "remoteAddr": ["198.51.100.7"]}]);
        assert_eq!(
            cdn.call(
                "BatchCreateDcdnWafRules",
                &params(&[("PolicyId", "1000001"), ("RuleConfigs", &bad.to_string())])
            )
            .unwrap_err()
            .code,
            "InvalidParameter"
        );
        assert_eq!(
            cdn.call(
                "BatchCreateDcdnWafRules",
                &params(&[("PolicyId", "7"), ("RuleConfigs", "[]")])
            )
            .unwrap_err()
            .status,
            404
        );
    }
}
