//! Tencent Cloud Firewall (`cfw`, version `2019-09-04`) subset: the
//! intrusion-prevention block and allow lists.
//!
//! Owns the lists (per account) and the two actions riposte's
//! `tencent-cloud` component calls (`shared/reference/providers.md` §2.3):
//! - `CreateBlockIgnoreRuleList`
//!   (<https://cloud.tencent.com/document/api/1132/97724>): `Rules` of
//!   `{IP, Direction, StartTime, EndTime, Comment}`, `RuleType` 1 (block)
//!   or 2 (allow), `CoverDuplicate` 1 to overwrite an existing entry;
//!   answers `List` of `{IP, Direction}`.
//! - `DeleteBlockIgnoreRuleList`
//!   (<https://cloud.tencent.com/document/api/1132/97856>): `Rules` of
//!   `{IP, Direction}`, `RuleType`.
//!
//! Simulator choices where the reference is silent: an entry is a single
//! address (the field is named `IP`; CIDR blocks and domains are refused
//! with `InvalidParameterValue`); a duplicate without `CoverDuplicate`
//! answers `FailedOperation`; deleting an entry that does not exist
//! answers `ResourceNotFound` and deletes nothing; a full list answers
//! `LimitExceeded`.

use std::net::IpAddr;

use serde_json::{Map, Value, json};

use super::tc3::error;
use crate::aliyun::error::ApiError;

/// The API version served.
pub const VERSION: &str = "2019-09-04";

/// One list entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TencentCfwRule {
    /// The account (uin) the list belongs to.
    pub account: String,
    /// The address, as sent.
    pub ip: String,
    /// 0 outbound, 1 inbound.
    pub direction: i64,
    /// 1 block list, 2 allow list.
    pub rule_type: i64,
    /// `StartTime` as sent.
    pub start_time: String,
    /// `EndTime` as sent.
    pub end_time: String,
    /// `Comment` as sent.
    pub comment: String,
}

/// The lists of every account.
#[derive(Debug)]
pub(crate) struct Cfw {
    rules: Vec<TencentCfwRule>,
    capacity: usize,
}

impl Cfw {
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            rules: Vec::new(),
            capacity,
        }
    }

    pub(crate) fn rules(&self) -> Vec<TencentCfwRule> {
        self.rules.clone()
    }

    pub(crate) fn call(
        &mut self,
        account: &str,
        action: &str,
        params: &Map<String, Value>,
    ) -> Result<Map<String, Value>, ApiError> {
        match action {
            "CreateBlockIgnoreRuleList" => self.create(account, params),
            "DeleteBlockIgnoreRuleList" => self.delete(account, params),
            other => Err(error(
                "InvalidAction",
                format!("action `{other}` is not served for cfw `{VERSION}`"),
            )),
        }
    }

    fn create(
        &mut self,
        account: &str,
        params: &Map<String, Value>,
    ) -> Result<Map<String, Value>, ApiError> {
        let rule_type = rule_type(params)?;
        let cover = params.get("CoverDuplicate").and_then(Value::as_i64) == Some(1);
        let inputs = rules(params)?;
        let mut added = Vec::new();
        for input in inputs {
            let entry = entry(input)?;
            let time = |name: &str| -> Result<String, ApiError> {
                let text = input.get(name).and_then(Value::as_str).unwrap_or("");
                if !is_datetime(text) {
                    return Err(error(
                        "InvalidParameterValue",
                        format!("`{name}` `{text}` is not `YYYY-MM-DD HH:MM:SS`"),
                    ));
                }
                Ok(text.to_owned())
            };
            let rule = TencentCfwRule {
                account: account.to_owned(),
                ip: entry.0,
                direction: entry.1,
                rule_type,
                start_time: time("StartTime")?,
                end_time: time("EndTime")?,
                comment: input
                    .get("Comment")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_owned(),
            };
            added.push(rule);
        }
        let mut fresh = 0;
        for rule in &added {
            match self.position(rule) {
                Some(_) if !cover => {
                    return Err(error(
                        "FailedOperation",
                        format!(
                            "rule for `{}` direction {} already exists",
                            rule.ip, rule.direction
                        ),
                    ));
                }
                Some(_) => {}
                None => fresh += 1,
            }
        }
        let held = self
            .rules
            .iter()
            .filter(|r| r.account == account && r.rule_type == rule_type)
            .count();
        if held + fresh > self.capacity {
            return Err(error(
                "LimitExceeded",
                format!(
                    "the list holds {held} entries; adding {fresh} exceeds its capacity of {}",
                    self.capacity
                ),
            ));
        }
        let list: Vec<Value> = added
            .iter()
            .map(|rule| json!({"IP": rule.ip, "Direction": rule.direction}))
            .collect();
        for rule in added {
            match self.position(&rule) {
                Some(at) => self.rules[at] = rule,
                None => self.rules.push(rule),
            }
        }
        let mut answer = Map::new();
        answer.insert("List".to_owned(), Value::Array(list));
        Ok(answer)
    }

    fn delete(
        &mut self,
        account: &str,
        params: &Map<String, Value>,
    ) -> Result<Map<String, Value>, ApiError> {
        let rule_type = rule_type(params)?;
        let mut positions = Vec::new();
        for input in rules(params)? {
            let (ip, direction) = entry(input)?;
            let probe = TencentCfwRule {
                account: account.to_owned(),
                ip,
                direction,
                rule_type,
                start_time: String::new(),
                end_time: String::new(),
                comment: String::new(),
            };
            let at = self.position(&probe).ok_or_else(|| {
                error(
                    "ResourceNotFound",
                    format!(
                        "no rule for `{}` direction {direction} in list {rule_type}",
                        probe.ip
                    ),
                )
            })?;
            positions.push(at);
        }
        positions.sort_unstable();
        positions.dedup();
        for at in positions.into_iter().rev() {
            self.rules.remove(at);
        }
        Ok(Map::new())
    }

    fn position(&self, rule: &TencentCfwRule) -> Option<usize> {
        self.rules.iter().position(|held| {
            held.account == rule.account
                && held.ip == rule.ip
                && held.direction == rule.direction
                && held.rule_type == rule.rule_type
        })
    }
}

fn rule_type(params: &Map<String, Value>) -> Result<i64, ApiError> {
    match params.get("RuleType").and_then(Value::as_i64) {
        Some(kind @ (1 | 2)) => Ok(kind),
        Some(other) => Err(error(
            "InvalidParameterValue",
            format!("`RuleType` {other} is not 1 or 2"),
        )),
        None => Err(error("MissingParameter", "`RuleType` is required")),
    }
}

fn rules(params: &Map<String, Value>) -> Result<&Vec<Value>, ApiError> {
    match params.get("Rules") {
        Some(Value::Array(rules)) if !rules.is_empty() => Ok(rules),
        Some(_) => Err(error(
            "InvalidParameterValue",
            "`Rules` must be a non-empty array",
        )),
        None => Err(error("MissingParameter", "`Rules` is required")),
    }
}

/// The address and direction of one rule object.
fn entry(input: &Value) -> Result<(String, i64), ApiError> {
    if input
        .get("Domain")
        .and_then(Value::as_str)
        .is_some_and(|d| !d.is_empty())
    {
        return Err(error(
            "InvalidParameterValue",
            "`Domain` entries are not supported by this list; use `IP`",
        ));
    }
    let ip = input.get("IP").and_then(Value::as_str).unwrap_or("");
    if ip.parse::<IpAddr>().is_err() {
        return Err(error(
            "InvalidParameterValue",
            format!("`IP` `{ip}` is not a single IPv4 or IPv6 address"),
        ));
    }
    match input.get("Direction").and_then(Value::as_i64) {
        Some(direction @ (0 | 1)) => Ok((ip.to_owned(), direction)),
        other => Err(error(
            "InvalidParameterValue",
            format!("`Direction` {other:?} is not 0 (outbound) or 1 (inbound)"),
        )),
    }
}

/// `YYYY-MM-DD HH:MM:SS`.
fn is_datetime(text: &str) -> bool {
    let shape = b"dddd-dd-dd dd:dd:dd";
    text.len() == shape.len()
        && text.bytes().zip(shape).all(|(byte, &want)| match want {
            b'd' => byte.is_ascii_digit(),
            _ => byte == want,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(value: Value) -> Map<String, Value> {
        value.as_object().unwrap().clone()
    }

    fn rule(ip: &str, direction: i64) -> Value {
        json!({"IP": ip, "Direction": direction, "StartTime": "2026-01-01 00:00:00",
               "EndTime": "2027-01-01 00:00:00", "Comment": "c"})
    }

    #[test]
    fn creates_overwrites_and_deletes_per_account() {
        let mut cfw = Cfw::new(2);
        let create =
            params(json!({"Rules": [rule("198.51.100.7", 1)], "RuleType": 1, "CoverDuplicate": 1}));
        cfw.call("a", "CreateBlockIgnoreRuleList", &create).unwrap();
        cfw.call("a", "CreateBlockIgnoreRuleList", &create).unwrap();
        cfw.call("b", "CreateBlockIgnoreRuleList", &create).unwrap();
        assert_eq!(cfw.rules().len(), 2);

        let plain = params(json!({"Rules": [rule("198.51.100.7", 1)], "RuleType": 1}));
        let err = cfw
            .call("a", "CreateBlockIgnoreRuleList", &plain)
            .unwrap_err();
        assert_eq!(err.code, "FailedOperation");

        let two = params(
            json!({"Rules": [rule("2001:db8::1", 1), rule("198.51.100.8", 0)], "RuleType": 1}),
        );
        assert_eq!(
            cfw.call("a", "CreateBlockIgnoreRuleList", &two)
                .unwrap_err()
                .code,
            "LimitExceeded"
        );

        let delete =
            params(json!({"Rules": [{"IP": "198.51.100.7", "Direction": 1}], "RuleType": 1}));
        cfw.call("a", "DeleteBlockIgnoreRuleList", &delete).unwrap();
        assert_eq!(cfw.rules().len(), 1);
        assert_eq!(
            cfw.call("a", "DeleteBlockIgnoreRuleList", &delete)
                .unwrap_err()
                .code,
            "ResourceNotFound"
        );
    }

    #[test]
    fn refuses_networks_domains_and_bad_times() {
        let mut cfw = Cfw::new(10);
        for bad in [
            json!({"IP": "198.51.100.0/24", "Direction": 1, "StartTime": "2026-01-01 00:00:00", "EndTime": "2027-01-01 00:00:00"}),
            json!({"Domain": "evil.example", "Direction": 1, "StartTime": "2026-01-01 00:00:00", "EndTime": "2027-01-01 00:00:00"}),
            json!({"IP": "198.51.100.7", "Direction": 2, "StartTime": "2026-01-01 00:00:00", "EndTime": "2027-01-01 00:00:00"}),
            json!({"IP": "198.51.100.7", "Direction": 1, "StartTime": "2026-01-01T00:00:00Z", "EndTime": "2027-01-01 00:00:00"}),
        ] {
            let create = params(json!({"Rules": [bad], "RuleType": 1}));
            let err = cfw
                .call("a", "CreateBlockIgnoreRuleList", &create)
                .unwrap_err();
            assert_eq!(err.code, "InvalidParameterValue", "{err}");
        }
        assert!(cfw.rules().is_empty());
    }
}
