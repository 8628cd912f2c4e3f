//! Alibaba Cloud WAF 3.0 (`waf-openapi`, version `2021-10-01`) subset:
//! `ip_blacklist` and `whitelist` defense rules in protection templates.
//!
//! Owns the WAF state (instances, templates, rules, quota) and the two
//! actions riposte's `aliyun-waf` component calls, as described in
//! `shared/reference/providers.md` §1.4.1:
//! - `CreateDefenseRule`
//!   (<https://www.alibabacloud.com/help/en/waf/web-application-firewall-3-0/developer-reference/api-waf-openapi-2021-10-01-createdefenserule>):
//!   `InstanceId`, `DefenseScene`, `DefenseType`, `TemplateId`, `RegionId`,
//!   and `Rules`, a JSON array of `{name, status, remoteAddr, action}`;
//!   answers `RuleIds` as a comma-separated string.
//! - `DeleteDefenseRule`: `InstanceId`, `DefenseType`, `TemplateId`,
//!   `RegionId`, `RuleIds` (comma-separated).
//! - `DescribeDefenseRules`
//!   (<https://www.alibabacloud.com/help/en/waf/web-application-firewall-3-0/developer-reference/api-waf-openapi-2021-10-01-describedefenserules>):
//!   `InstanceId`, `RegionId`, `DefenseType`, `PageNumber`, `PageSize` and
//!   `Query`, a JSON object of filters (`templateId`, `scene`, `name`);
//!   answers `Rules` (each with `RuleId`, `RuleName`, `TemplateId`,
//!   `DefenseScene`, `Status` and the rule as a JSON string in `Config`)
//!   and `TotalCount`.
//!
//! `whitelist` rules are `{name, status, conditions, tags}` with IP
//! conditions `{key:"IP", opValue:"contain", values:"a,b"}` and the
//! bypassed modules in `tags` (the shape the official Terraform provider
//! sends, `alicloud/resource_alicloud_wafv3_defense_rule.go`, §1.4.1); the
//! simulator holds their addresses in [`WafRule::remote_addr`] with an
//! empty `action`.
//!
//! The WAF-specific error codes (`Waf.NotFound.Instance`,
//! `Waf.NotFound.Template`, `Waf.NotFound.Rule`, `Waf.Quota.Exceeded`) are
//! not published in our reference (§1.4.1 "WAF-specific codes not
//! retrieved", §8): they are the simulator's choice, shaped so that clients
//! classifying by `NotFound` / `Quota` in the code treat them correctly.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use serde::Deserialize;
use serde_json::{Map, Value};

use super::error::ApiError;

/// The API version this module serves.
pub const VERSION: &str = "2021-10-01";

/// The first rule id handed out.
const FIRST_RULE_ID: u64 = 20_000_001;

/// A defense rule the simulator holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WafRule {
    /// The WAF instance (`InstanceId`).
    pub instance_id: String,
    /// The protection template (`TemplateId`).
    pub template_id: u64,
    /// The rule id answered in `RuleIds`.
    pub id: u64,
    /// The rule's `name`.
    pub name: String,
    /// The rule's `status` (1 enabled, 0 disabled).
    pub status: i64,
    /// The rule's `remoteAddr` list, as sent.
    pub remote_addr: Vec<String>,
    /// The rule's `action` (`block` or `monitor`); empty for `whitelist`
    /// rules.
    pub action: String,
    /// `ip_blacklist` or `whitelist`.
    pub scene: String,
    /// The modules a `whitelist` rule bypasses; empty otherwise.
    pub tags: Vec<String>,
}

/// One element of the `Rules` JSON array for `ip_blacklist`.
#[derive(Debug, Deserialize)]
struct RuleInput {
    name: String,
    #[serde(default = "enabled")]
    status: i64,
    #[serde(rename = "remoteAddr")]
    remote_addr: Vec<String>,
    action: String,
    #[serde(skip)]
    tags: Vec<String>,
}

/// One element of the `Rules` JSON array for `whitelist`.
#[derive(Debug, Deserialize)]
struct WhitelistInput {
    name: String,
    #[serde(default = "enabled")]
    status: i64,
    conditions: Vec<Condition>,
    tags: Vec<String>,
}

#[derive(Debug, Deserialize)]
struct Condition {
    key: String,
    #[serde(rename = "opValue")]
    op_value: String,
    values: String,
}

fn enabled() -> i64 {
    1
}

/// Request parameters: the decoded query, then the decoded form body
/// (the gateway reads both; our client puts `Rules` in the form body).
#[derive(Debug, Default)]
pub(crate) struct Params {
    pairs: Vec<(String, String)>,
}

impl Params {
    /// Parameters from decoded query pairs followed by decoded form pairs.
    pub(crate) fn new(query: Vec<(String, String)>, form: Vec<(String, String)>) -> Self {
        let mut pairs = query;
        pairs.extend(form);
        Self { pairs }
    }

    /// These parameters first, then `other`'s (the first value of a name
    /// wins).
    #[cfg(test)]
    pub(crate) fn merged(mut self, other: Params) -> Params {
        self.pairs.extend(other.pairs);
        self
    }

    /// The first value of `name`.
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }

    /// The value of `name`, or `MissingParameter` when absent or empty.
    pub(crate) fn required(&self, name: &str) -> Result<&str, ApiError> {
        self.get(name)
            .filter(|value| !value.is_empty())
            .ok_or_else(|| ApiError::missing_parameter(name))
    }

    /// The values of a repeated parameter flattened as `name.1`, `name.2`,
    /// … (RPC style, `shared/reference/providers.md` §1.1), in index order.
    pub(crate) fn repeated(&self, name: &str) -> Vec<String> {
        let mut indexed: Vec<(u32, String)> = self
            .pairs
            .iter()
            .filter_map(|(key, value)| {
                let index = key.strip_prefix(name)?.strip_prefix('.')?.parse().ok()?;
                Some((index, value.clone()))
            })
            .collect();
        indexed.sort();
        indexed.into_iter().map(|(_, value)| value).collect()
    }
}

/// The WAF state: instances with their templates, and the rules.
#[derive(Debug)]
pub(crate) struct Waf {
    instances: BTreeMap<String, BTreeSet<u64>>,
    rules: BTreeMap<u64, WafRule>,
    next_id: u64,
    quota: usize,
}

impl Waf {
    /// A WAF with these instances (id → template ids) and at most `quota`
    /// rules per template.
    pub(crate) fn new(instances: BTreeMap<String, BTreeSet<u64>>, quota: usize) -> Self {
        Self {
            instances,
            rules: BTreeMap::new(),
            next_id: FIRST_RULE_ID,
            quota,
        }
    }

    /// Whether `action` is one this module serves.
    pub(crate) fn serves(action: &str) -> bool {
        matches!(
            action,
            "CreateDefenseRule" | "DeleteDefenseRule" | "DescribeDefenseRules"
        )
    }

    /// Runs `action`; the answer fields go next to `RequestId`.
    pub(crate) fn call(
        &mut self,
        action: &str,
        params: &Params,
    ) -> Result<Map<String, Value>, ApiError> {
        match action {
            "CreateDefenseRule" => self.create_defense_rule(params),
            "DeleteDefenseRule" => self.delete_defense_rule(params),
            "DescribeDefenseRules" => self.describe_defense_rules(params),
            other => Err(ApiError::not_found(
                "InvalidAction.NotFound",
                format!("action `{other}` is not served for version `{VERSION}`"),
            )),
        }
    }

    /// All rules, by id.
    pub(crate) fn rules(&self) -> Vec<WafRule> {
        self.rules.values().cloned().collect()
    }

    fn create_defense_rule(&mut self, params: &Params) -> Result<Map<String, Value>, ApiError> {
        let instance = params.required("InstanceId")?;
        let scene = params.required("DefenseScene")?;
        let rules = params.required("Rules")?;
        let template = self.template(instance, params)?;
        let inputs = match scene {
            "ip_blacklist" => parse_rules(rules)?,
            "whitelist" => parse_whitelist(rules)?,
            _ => {
                return Err(ApiError::invalid_parameter(
                    "DefenseScene",
                    format!(
                        "`{scene}` is not supported by the simulator (only `ip_blacklist` and \
                         `whitelist`)"
                    ),
                ));
            }
        };
        self.check_quota(instance, template, inputs.len())?;
        let ids: Vec<String> = inputs
            .into_iter()
            .map(|input| self.insert(instance, template, scene, input).to_string())
            .collect();
        let mut answer = Map::new();
        answer.insert("RuleIds".to_owned(), Value::String(ids.join(",")));
        Ok(answer)
    }

    fn delete_defense_rule(&mut self, params: &Params) -> Result<Map<String, Value>, ApiError> {
        let instance = params.required("InstanceId")?;
        let rule_ids = params.required("RuleIds")?;
        let template = self.template(instance, params)?;
        let ids = parse_rule_ids(rule_ids)?;
        let missing = ids.iter().find(|id| {
            self.rules
                .get(id)
                .is_none_or(|rule| rule.instance_id != instance || rule.template_id != template)
        });
        if let Some(id) = missing {
            return Err(ApiError::not_found(
                "Waf.NotFound.Rule",
                format!(
                    "rule `{id}` does not exist in template `{template}` of instance `{instance}`"
                ),
            ));
        }
        for id in &ids {
            self.rules.remove(id);
        }
        Ok(Map::new())
    }

    fn describe_defense_rules(&self, params: &Params) -> Result<Map<String, Value>, ApiError> {
        let instance = params.required("InstanceId")?;
        if !self.instances.contains_key(instance) {
            return Err(ApiError::not_found(
                "Waf.NotFound.Instance",
                format!("WAF instance `{instance}` does not exist"),
            ));
        }
        let number = |name: &str, default: usize, max: usize| -> Result<usize, ApiError> {
            match params.get(name) {
                None => Ok(default),
                Some(text) => text
                    .parse::<usize>()
                    .ok()
                    .filter(|n| (1..=max).contains(n))
                    .ok_or_else(|| {
                        ApiError::invalid_parameter(name, format!("`{text}` is not 1 to {max}"))
                    }),
            }
        };
        let page = number("PageNumber", 1, usize::MAX)?;
        let size = number("PageSize", 10, 100)?;
        let query: Map<String, Value> = match params.get("Query") {
            None | Some("") => Map::new(),
            Some(text) => serde_json::from_str(text).map_err(|err| {
                ApiError::invalid_parameter("Query", format!("not a JSON object: {err}"))
            })?,
        };
        let template = query.get("templateId").and_then(Value::as_u64);
        let name = query.get("name").and_then(Value::as_str);
        let scene = query.get("scene").and_then(Value::as_str);
        let matching: Vec<&WafRule> = self
            .rules
            .values()
            .filter(|rule| rule.instance_id == instance)
            .filter(|rule| template.is_none_or(|t| rule.template_id == t))
            .filter(|rule| name.is_none_or(|n| rule.name == n))
            .filter(|rule| scene.is_none_or(|s| rule.scene == s))
            .collect();
        let rules: Vec<Value> = matching
            .iter()
            .skip((page - 1).saturating_mul(size))
            .take(size)
            .map(|rule| {
                let config = serde_json::json!({
                    "name": rule.name,
                    "status": rule.status,
                    "remoteAddr": rule.remote_addr,
                    "action": rule.action,
                    "tags": rule.tags,
                });
                serde_json::json!({
                    "RuleId": rule.id,
                    "RuleName": rule.name,
                    "TemplateId": rule.template_id,
                    "DefenseScene": rule.scene,
                    "Status": rule.status,
                    "Config": config.to_string(),
                })
            })
            .collect();
        let mut answer = Map::new();
        answer.insert("Rules".to_owned(), Value::Array(rules));
        answer.insert("TotalCount".to_owned(), Value::from(matching.len()));
        Ok(answer)
    }

    /// Checks `RegionId`, the instance, `DefenseType` and `TemplateId`, and
    /// returns the template id.
    fn template(&self, instance: &str, params: &Params) -> Result<u64, ApiError> {
        if let Some(region) = params.get("RegionId")
            && !matches!(region, "cn-hangzhou" | "ap-southeast-1")
        {
            return Err(ApiError::invalid_parameter(
                "RegionId",
                format!("`{region}` is neither `cn-hangzhou` nor `ap-southeast-1`"),
            ));
        }
        let templates = self.instances.get(instance).ok_or_else(|| {
            ApiError::not_found(
                "Waf.NotFound.Instance",
                format!("WAF instance `{instance}` does not exist"),
            )
        })?;
        let defense_type = params.get("DefenseType").unwrap_or("template");
        if defense_type != "template" {
            return Err(ApiError::invalid_parameter(
                "DefenseType",
                format!("`{defense_type}` is not supported by the simulator (only `template`)"),
            ));
        }
        let text = params.required("TemplateId")?;
        let template = text.parse::<u64>().map_err(|_| {
            ApiError::invalid_parameter("TemplateId", format!("`{text}` is not an integer"))
        })?;
        if !templates.contains(&template) {
            return Err(ApiError::not_found(
                "Waf.NotFound.Template",
                format!("template `{template}` does not exist in instance `{instance}`"),
            ));
        }
        Ok(template)
    }

    fn check_quota(&self, instance: &str, template: u64, adding: usize) -> Result<(), ApiError> {
        let existing = self
            .rules
            .values()
            .filter(|rule| rule.instance_id == instance && rule.template_id == template)
            .count();
        if existing + adding <= self.quota {
            return Ok(());
        }
        Err(ApiError::new(
            400,
            "Waf.Quota.Exceeded",
            format!(
                "template `{template}` holds {existing} rules; adding {adding} exceeds the quota of {}",
                self.quota
            ),
        ))
    }

    fn insert(&mut self, instance: &str, template: u64, scene: &str, input: RuleInput) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        let rule = WafRule {
            instance_id: instance.to_owned(),
            template_id: template,
            id,
            name: input.name,
            status: input.status,
            remote_addr: input.remote_addr,
            action: input.action,
            scene: scene.to_owned(),
            tags: input.tags,
        };
        self.rules.insert(id, rule);
        id
    }
}

/// Parses and validates the `Rules` JSON array.
fn parse_rules(text: &str) -> Result<Vec<RuleInput>, ApiError> {
    let inputs: Vec<RuleInput> = serde_json::from_str(text)
        .map_err(|err| ApiError::invalid_parameter("Rules", format!("not a rule array: {err}")))?;
    if inputs.is_empty() {
        return Err(ApiError::invalid_parameter("Rules", "the array is empty"));
    }
    for input in &inputs {
        check_rule(input)?;
    }
    Ok(inputs)
}

/// Parses and validates a `whitelist` `Rules` array into the common form.
fn parse_whitelist(text: &str) -> Result<Vec<RuleInput>, ApiError> {
    let inputs: Vec<WhitelistInput> = serde_json::from_str(text)
        .map_err(|err| ApiError::invalid_parameter("Rules", format!("not a rule array: {err}")))?;
    if inputs.is_empty() {
        return Err(ApiError::invalid_parameter("Rules", "the array is empty"));
    }
    inputs
        .into_iter()
        .map(|input| {
            let invalid = |why: String| ApiError::invalid_parameter("Rules", why);
            if input.tags.is_empty() {
                return Err(invalid(format!(
                    "whitelist rule `{}` has no `tags`",
                    input.name
                )));
            }
            let mut addresses = Vec::new();
            for condition in &input.conditions {
                if !condition.key.eq_ignore_ascii_case("IP") || condition.op_value != "contain" {
                    return Err(invalid(format!(
                        "condition `{}` `{}` is not served (only `IP` `contain`)",
                        condition.key, condition.op_value
                    )));
                }
                addresses.extend(condition.values.split(',').map(|v| v.trim().to_owned()));
            }
            let rule = RuleInput {
                name: input.name,
                status: input.status,
                remote_addr: addresses,
                action: "block".to_owned(),
                tags: input.tags,
            };
            check_rule(&rule)?;
            Ok(RuleInput {
                action: String::new(),
                ..rule
            })
        })
        .collect()
}

fn check_rule(input: &RuleInput) -> Result<(), ApiError> {
    let invalid = |why: String| Err(ApiError::invalid_parameter("Rules", why));
    if input.name.is_empty() {
        return invalid("a rule has an empty `name`".to_owned());
    }
    if !matches!(input.status, 0 | 1) {
        return invalid(format!("`status` is `{}`, not 0 or 1", input.status));
    }
    if !matches!(input.action.as_str(), "block" | "monitor") {
        return invalid(format!(
            "`action` is `{}`, not `block` or `monitor`",
            input.action
        ));
    }
    if input.remote_addr.is_empty() {
        return invalid(format!("rule `{}` has an empty `remoteAddr`", input.name));
    }
    match input.remote_addr.iter().find(|addr| !is_ip_or_cidr(addr)) {
        Some(bad) => invalid(format!(
            "`remoteAddr` value `{bad}` is not an IP address or CIDR"
        )),
        None => Ok(()),
    }
}

/// Whether `text` is an IPv4/IPv6 address or `address/prefix` with a prefix
/// length that fits the address family.
pub(crate) fn is_ip_or_cidr(text: &str) -> bool {
    let (addr, prefix) = match text.split_once('/') {
        Some((addr, prefix)) => (addr, Some(prefix)),
        None => (text, None),
    };
    let Ok(ip) = addr.parse::<IpAddr>() else {
        return false;
    };
    let max = if ip.is_ipv4() { 32 } else { 128 };
    match prefix {
        None => true,
        Some(bits) => {
            bits.bytes().all(|b| b.is_ascii_digit())
                && bits.parse::<u8>().is_ok_and(|bits| bits <= max)
        }
    }
}

fn parse_rule_ids(text: &str) -> Result<Vec<u64>, ApiError> {
    text.split(',')
        .map(|id| {
            id.trim().parse::<u64>().map_err(|_| {
                ApiError::invalid_parameter("RuleIds", format!("`{id}` is not a rule id"))
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const INSTANCE: &str = "waf_v2_public_cn-test";

    fn waf(quota: usize) -> Waf {
        let instances = BTreeMap::from([(INSTANCE.to_owned(), BTreeSet::from([1122, 1123]))]);
        Waf::new(instances, quota)
    }

    fn params(pairs: &[(&str, &str)]) -> Params {
        let pairs = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Params::new(pairs, Vec::new())
    }

    fn create(waf: &mut Waf, template: &str, rules: &str) -> Result<Map<String, Value>, ApiError> {
        let params = params(&[
            ("DefenseScene", "ip_blacklist"),
            ("DefenseType", "template"),
            ("InstanceId", INSTANCE),
            ("RegionId", "cn-hangzhou"),
            ("TemplateId", template),
            ("Rules", rules),
        ]);
        waf.call("CreateDefenseRule", &params)
    }

    fn delete(waf: &mut Waf, template: &str, ids: &str) -> Result<Map<String, Value>, ApiError> {
        let params = params(&[
            ("DefenseType", "template"),
            ("InstanceId", INSTANCE),
            ("RegionId", "cn-hangzhou"),
            ("RuleIds", ids),
            ("TemplateId", template),
        ]);
        waf.call("DeleteDefenseRule", &params)
    }

    fn rule(addr: &str) -> String {
        format!(r#"{{"name":"blk","status":1,"remoteAddr":["{addr}"],"action":"block"}}"#)
    }

    #[test]
    fn creates_and_deletes_rules() {
        let mut waf = waf(200);
        let rules = format!("[{},{}]", rule("198.51.100.7"), rule("2001:db8::/32"));
        let answer = create(&mut waf, "1122", &rules).unwrap();
        assert_eq!(answer["RuleIds"], "20000001,20000002");
        let held = waf.rules();
        assert_eq!(held.len(), 2);
        assert_eq!(held[1].remote_addr, ["2001:db8::/32"]);
        assert_eq!(
            (held[0].template_id, held[0].action.as_str()),
            (1122, "block")
        );

        let err = delete(&mut waf, "1123", "20000001").unwrap_err();
        assert_eq!((err.status, err.code.as_str()), (404, "Waf.NotFound.Rule"));
        delete(&mut waf, "1122", "20000001, 20000002").unwrap();
        assert!(waf.rules().is_empty());
        let err = delete(&mut waf, "1122", "20000001").unwrap_err();
        assert_eq!(err.code, "Waf.NotFound.Rule");
    }

    #[test]
    fn validates_addresses_and_names_the_bad_value() {
        for bad in [
            "198.51.100.256",
            "198.51.100.7/33",
            "2001:db8::/129",
            "host",
            "1.2.3.4/",
            "1.2.3.4/+8",
        ] {
            let err = create(&mut waf(200), "1122", &format!("[{}]", rule(bad))).unwrap_err();
            assert_eq!(err.code, "InvalidParameter");
            assert!(err.message.contains(&format!("`{bad}`")), "{err}");
        }
        for good in ["0.0.0.0/0", "::1", "203.0.113.0/24", "2001:db8::1/128"] {
            assert!(is_ip_or_cidr(good), "{good}");
        }
    }

    #[test]
    fn rejects_bad_rule_arrays() {
        for bad in [
            "[]",
            "{}",
            "not json",
            r#"[{"name":"a","remoteAddr":["1.2.3.4"]}]"#,
            r#"[{"name":"a","remoteAddr":["1.2.3.4"],"action":"allow"}]"#,
            r#"[{"name":"a","status":2,"remoteAddr":["1.2.3.4"],"action":"block"}]"#,
            r#"[{"name":"","remoteAddr":["1.2.3.4"],"action":"block"}]"#,
            r#"[{"name":"a","remoteAddr":[],"action":"block"}]"#,
        ] {
            let err = create(&mut waf(200), "1122", bad).unwrap_err();
            assert_eq!(err.code, "InvalidParameter", "{bad}: {err}");
        }
    }

    #[test]
    fn checks_instance_template_scene_and_type() {
        let mut waf = waf(200);
        let ok_rules = format!("[{}]", rule("198.51.100.7"));
        type Case<'a> = (&'a [(&'a str, &'a str)], u16, &'a str);
        let cases: [Case<'_>; 7] = [
            (&[("InstanceId", "nope")], 404, "Waf.NotFound.Instance"),
            (&[("TemplateId", "9")], 404, "Waf.NotFound.Template"),
            (&[("TemplateId", "x")], 400, "InvalidParameter"),
            (&[("DefenseScene", "cc")], 400, "InvalidParameter"),
            (&[("DefenseType", "global")], 400, "InvalidParameter"),
            (&[("RegionId", "cn-shanghai")], 400, "InvalidParameter"),
            (&[("InstanceId", "")], 400, "MissingParameter"),
        ];
        for (overrides, status, code) in cases {
            let mut pairs = vec![
                ("DefenseScene", "ip_blacklist"),
                ("InstanceId", INSTANCE),
                ("TemplateId", "1122"),
                ("Rules", ok_rules.as_str()),
            ];
            for (name, value) in overrides {
                pairs.retain(|(n, _)| n != name);
                pairs.push((name, value));
            }
            let err = waf.call("CreateDefenseRule", &params(&pairs)).unwrap_err();
            assert_eq!(
                (err.status, err.code.as_str()),
                (status, code),
                "{overrides:?}"
            );
        }
        // DefenseType defaults to `template`.
        let pairs = [
            ("DefenseScene", "ip_blacklist"),
            ("InstanceId", INSTANCE),
            ("TemplateId", "1122"),
            ("Rules", ok_rules.as_str()),
        ];
        waf.call("CreateDefenseRule", &params(&pairs)).unwrap();
        for missing in ["InstanceId", "DefenseScene", "Rules", "TemplateId"] {
            let pairs: Vec<_> = pairs
                .iter()
                .copied()
                .filter(|(n, _)| *n != missing)
                .collect();
            let err = waf.call("CreateDefenseRule", &params(&pairs)).unwrap_err();
            assert_eq!(err.code, "MissingParameter", "{missing}");
            assert!(err.message.contains(&format!("`{missing}`")));
        }
    }

    #[test]
    fn enforces_the_quota_per_template() {
        let mut waf = waf(2);
        let two = format!("[{},{}]", rule("198.51.100.1"), rule("198.51.100.2"));
        create(&mut waf, "1122", &two).unwrap();
        let err = create(&mut waf, "1122", &format!("[{}]", rule("198.51.100.3"))).unwrap_err();
        assert_eq!((err.status, err.code.as_str()), (400, "Waf.Quota.Exceeded"));
        assert_eq!(waf.rules().len(), 2, "nothing created past the quota");
        create(&mut waf, "1123", &two).unwrap();
    }

    #[test]
    fn whitelist_rules_and_describe_by_name_and_scene() {
        let mut waf = waf(200);
        let white = r#"[{"name":"allow-1","status":1,"conditions":[{"key":"IP","opValue":"contain","values":"198.51.100.7,2001:db8::/32"}],"tags":["waf"]}]"#;
        let pairs = [
            ("DefenseScene", "whitelist"),
            ("InstanceId", INSTANCE),
            ("TemplateId", "1122"),
            ("Rules", white),
        ];
        waf.call("CreateDefenseRule", &params(&pairs)).unwrap();
        create(&mut waf, "1122", &format!("[{}]", rule("203.0.113.9"))).unwrap();
        let held = waf.rules();
        assert_eq!(
            (
                held[0].scene.as_str(),
                held[0].remote_addr.len(),
                held[0].tags.as_slice()
            ),
            ("whitelist", 2, ["waf".to_owned()].as_slice())
        );

        let mut describe = |query: &str| {
            let pairs = [
                ("InstanceId", INSTANCE),
                ("TemplateId", "1122"),
                ("Query", query),
            ];
            waf.call("DescribeDefenseRules", &params(&pairs)).unwrap()
        };
        let found = describe(r#"{"name":"allow-1","scene":"whitelist"}"#);
        assert_eq!(
            (
                found["TotalCount"].as_u64(),
                found["Rules"][0]["RuleName"].as_str()
            ),
            (Some(1), Some("allow-1"))
        );
        assert_eq!(describe(r#"{"scene":"ip_blacklist"}"#)["TotalCount"], 1);
        assert_eq!(describe(r#"{"name":"nope"}"#)["TotalCount"], 0);

        let bad = r#"[{"name":"a","conditions":[{"key":"URL","opValue":"contain","values":"/x"}],"tags":["waf"]}]"#;
        let pairs = [
            ("DefenseScene", "whitelist"),
            ("InstanceId", INSTANCE),
            ("TemplateId", "1122"),
            ("Rules", bad),
        ];
        assert_eq!(
            waf.call("CreateDefenseRule", &params(&pairs))
                .unwrap_err()
                .code,
            "InvalidParameter"
        );
    }

    #[test]
    fn rejects_bad_rule_ids() {
        let mut waf = waf(200);
        let err = delete(&mut waf, "1122", "12,abc").unwrap_err();
        assert_eq!(err.code, "InvalidParameter");
        assert!(err.message.contains("`abc`"));
        assert_eq!(
            delete(&mut waf, "1122", "").unwrap_err().code,
            "MissingParameter"
        );
    }

    #[test]
    fn deletes_nothing_when_one_id_is_unknown() {
        let mut waf = waf(200);
        create(&mut waf, "1122", &format!("[{}]", rule("198.51.100.7"))).unwrap();
        let err = delete(&mut waf, "1122", "20000001,99").unwrap_err();
        assert!(err.message.contains("`99`"));
        assert_eq!(waf.rules().len(), 1);
    }
}
