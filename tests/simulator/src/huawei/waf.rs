//! Huawei Cloud WAF (API `v1`) subset: black and white IP rules of a
//! protection policy.
//!
//! Owns the policies, their rules and the operations riposte's
//! `huawei-cloud` component calls (`shared/reference/providers.md` §3.3):
//! - `CreateWhiteblackipRule`, `POST /v1/{project_id}/waf/policy/{policy_id}/whiteblackip`
//!   (<https://support.huaweicloud.com/api-waf/CreateWhiteblackipRule.html>):
//!   `name` (1 to 64 of `A-Z a-z 0-9 - _ .`), `white` (0 block, 1 allow,
//!   2 log only), `addr` (IP or CIDR, not `0.0.0.0/0`), `description`;
//!   answers the rule with its `id`.
//! - `ListWhiteblackipRule`, `GET …/whiteblackip`
//!   (<https://support.huaweicloud.com/intl/es-us/api-waf/ListWhiteblackipRule.html>):
//!   filters `name`, `page`, `pagesize`; answers `{total, items}`.
//! - `DeleteWhiteBlackIpRule`, `DELETE …/whiteblackip/{rule_id}`
//!   (<https://support.huaweicloud.com/api-waf/DeleteWhiteBlackIpRule.html>).
//!
//! Errors from the WAF error-code page
//! (<https://support.huaweicloud.com/api-waf/ErrorCode.html>):
//! `WAF.00011005` name.illegal, `WAF.00011007` ip.illegal,
//! `WAF.00011016` name.duplicate, `WAF.00011001` bad.request (400), and a
//! 404 `WAF.000140xx` resource.not.found (the simulator answers
//! `WAF.00014002` for policies and rules). The quota answer is 403
//! "资源配额不足" on the reference's word; its code was not retrieved, so the
//! simulator answers `WAF.SIM.QUOTA`.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use crate::aliyun::error::ApiError;

/// One black/white IP rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HuaweiWafRule {
    /// The project.
    pub project_id: String,
    /// The protection policy.
    pub policy_id: String,
    /// The rule id answered as `id`.
    pub id: String,
    /// The rule name.
    pub name: String,
    /// The IP or CIDR block, as sent.
    pub addr: String,
    /// 0 block, 1 allow, 2 log only.
    pub white: i64,
    /// The description, as sent.
    pub description: String,
}

impl HuaweiWafRule {
    fn to_json(&self) -> Value {
        json!({"id": self.id, "policyid": self.policy_id, "name": self.name, "addr": self.addr,
               "white": self.white, "description": self.description, "status": 1,
               "timestamp": 1_700_000_000_000_i64})
    }
}

#[derive(Debug)]
pub(crate) struct Waf {
    /// policy id → project id.
    policies: BTreeMap<String, String>,
    rules: Vec<HuaweiWafRule>,
    next_id: u64,
    capacity: usize,
}

fn not_found(what: String) -> ApiError {
    ApiError::new(404, "WAF.00014002", format!("resource.not.found: {what}"))
}

impl Waf {
    pub(crate) fn new(policies: BTreeMap<String, String>, capacity: usize) -> Self {
        Self {
            policies,
            rules: Vec::new(),
            next_id: 1,
            capacity,
        }
    }

    pub(crate) fn rules(&self) -> Vec<HuaweiWafRule> {
        self.rules.clone()
    }

    fn policy(&self, project: &str, policy: &str) -> Result<(), ApiError> {
        match self.policies.get(policy) {
            Some(owner) if owner == project => Ok(()),
            _ => Err(not_found(format!("policy `{policy}`"))),
        }
    }

    pub(crate) fn create(
        &mut self,
        project: &str,
        policy: &str,
        body: &Map<String, Value>,
    ) -> Result<Value, ApiError> {
        self.policy(project, policy)?;
        let text = |name: &str| {
            body.get(name)
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned()
        };
        let name = text("name");
        let name_ok = (1..=64).contains(&name.len())
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
        if !name_ok {
            return Err(ApiError::new(
                400,
                "WAF.00011005",
                format!("name.illegal: `{name}`"),
            ));
        }
        let white = match body.get("white").and_then(Value::as_i64) {
            Some(white @ 0..=2) => white,
            other => {
                return Err(ApiError::new(
                    400,
                    "WAF.00011001",
                    format!("bad.request: `white` {other:?}"),
                ));
            }
        };
        let addr = text("addr");
        if !crate::aliyun::waf::is_ip_or_cidr(&addr) || addr.ends_with("/0") {
            return Err(ApiError::new(
                400,
                "WAF.00011007",
                format!("ip.illegal: `{addr}`"),
            ));
        }
        let in_policy =
            |rule: &&HuaweiWafRule| rule.project_id == project && rule.policy_id == policy;
        if self
            .rules
            .iter()
            .filter(in_policy)
            .any(|rule| rule.name == name)
        {
            return Err(ApiError::new(
                400,
                "WAF.00011016",
                format!("name.duplicate: `{name}`"),
            ));
        }
        let held = self.rules.iter().filter(in_policy).count();
        if held >= self.capacity {
            return Err(ApiError::new(
                403,
                "WAF.SIM.QUOTA",
                format!(
                    "资源配额不足: resource quota exceeded, policy holds {held} of {} rules",
                    self.capacity
                ),
            ));
        }
        let rule = HuaweiWafRule {
            project_id: project.to_owned(),
            policy_id: policy.to_owned(),
            id: format!("{:032x}", 0xa000_0000_u64 + self.next_id),
            name,
            addr,
            white,
            description: text("description"),
        };
        self.next_id += 1;
        let answer = rule.to_json();
        self.rules.push(rule);
        Ok(answer)
    }

    pub(crate) fn list(
        &self,
        project: &str,
        policy: &str,
        query: &BTreeMap<String, String>,
    ) -> Result<Value, ApiError> {
        self.policy(project, policy)?;
        let number = |name: &str, default: usize| {
            query
                .get(name)
                .and_then(|v| v.parse::<usize>().ok())
                .unwrap_or(default)
        };
        let page = number("page", 1).max(1);
        let size = number("pagesize", 10).clamp(1, 100);
        let name = query.get("name").filter(|n| !n.is_empty());
        let matching: Vec<&HuaweiWafRule> = self
            .rules
            .iter()
            .filter(|rule| rule.project_id == project && rule.policy_id == policy)
            .filter(|rule| name.is_none_or(|n| rule.name.contains(n.as_str())))
            .collect();
        let items: Vec<Value> = matching
            .iter()
            .skip((page - 1) * size)
            .take(size)
            .map(|rule| rule.to_json())
            .collect();
        Ok(json!({"total": matching.len(), "items": items}))
    }

    pub(crate) fn delete(
        &mut self,
        project: &str,
        policy: &str,
        rule_id: &str,
    ) -> Result<Value, ApiError> {
        self.policy(project, policy)?;
        let at = self
            .rules
            .iter()
            .position(|rule| {
                rule.project_id == project && rule.policy_id == policy && rule.id == rule_id
            })
            .ok_or_else(|| not_found(format!("rule `{rule_id}`")))?;
        Ok(self.rules.remove(at).to_json())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(name: &str, addr: &str) -> Map<String, Value> {
        json!({"name": name, "white": 0, "addr": addr})
            .as_object()
            .unwrap()
            .clone()
    }

    #[test]
    fn creates_finds_by_name_and_deletes() {
        let mut waf = Waf::new(BTreeMap::from([("pol".to_owned(), "p1".to_owned())]), 2);
        let rule = waf
            .create("p1", "pol", &body("riposte-k1", "203.0.113.0/24"))
            .unwrap();
        let id = rule["id"].as_str().unwrap().to_owned();
        let err = waf
            .create("p1", "pol", &body("riposte-k1", "203.0.113.0/24"))
            .unwrap_err();
        assert_eq!(err.code, "WAF.00011016");
        waf.create("p1", "pol", &body("riposte-k2", "2001:db8::1"))
            .unwrap();
        let err = waf
            .create("p1", "pol", &body("riposte-k3", "198.51.100.1"))
            .unwrap_err();
        assert_eq!(err.status, 403);

        let query = BTreeMap::from([("name".to_owned(), "riposte-k1".to_owned())]);
        let listed = waf.list("p1", "pol", &query).unwrap();
        assert_eq!(listed["items"][0]["id"], id.as_str());

        waf.delete("p1", "pol", &id).unwrap();
        let err = waf.delete("p1", "pol", &id).unwrap_err();
        assert_eq!((err.status, err.code.as_str()), (404, "WAF.00014002"));
    }

    #[test]
    fn refuses_bad_names_addresses_and_policies() {
        let mut waf = Waf::new(BTreeMap::from([("pol".to_owned(), "p1".to_owned())]), 10);
        assert_eq!(
            waf.create("p1", "pol", &body("bad name", "1.2.3.4"))
                .unwrap_err()
                .code,
            "WAF.00011005"
        );
        for addr in ["0.0.0.0/0", "evil.example", ""] {
            assert_eq!(
                waf.create("p1", "pol", &body("n", addr)).unwrap_err().code,
                "WAF.00011007",
                "{addr}"
            );
        }
        assert_eq!(
            waf.create("p2", "pol", &body("n", "1.2.3.4"))
                .unwrap_err()
                .status,
            404
        );
    }
}
