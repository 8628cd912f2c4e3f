//! Alibaba Cloud Firewall (`Cloudfw`, version `2017-12-07`) subset:
//! access control policies of the Internet border, and the API's rate
//! limit.
//!
//! Owns the policies (per AccessKeyId, standing in for the account) and
//! the three actions riposte's `aliyun-cloudfw` component calls
//! (`shared/reference/providers.md` §1.4.2; parameter tables from the
//! Alibaba Cloud API reference, mirrored in
//! <https://github.com/AlibabaCloudDocs/cfw> `cn.zh-CN/API参考/访问控制API/`):
//! - `AddControlPolicy`: `AclAction` (`accept`/`drop`/`log`), `Direction`
//!   (`in`/`out`), `Source` + `SourceType` (`net`, a CIDR block),
//!   `Destination` + `DestinationType` (`net` or `domain`), `Proto`
//!   (`ANY`/`TCP`/`UDP`/`ICMP`; domain rules are `TCP`),
//!   `ApplicationName` or `ApplicationNameList.N`, `NewOrder` (1 = first,
//!   -1 = last), `Description`, optional `IpVersion` (`4`/`6`),
//!   `DestPort`, `DestPortType`, `Lang`; answers `AclUuid`.
//! - `DescribeControlPolicy`: `Direction`, `CurrentPage`, `PageSize`
//!   (at most 50) and the fuzzy filters `Source`, `Destination`,
//!   `Description`, plus `AclAction` and `AclUuid`; answers `Policys`,
//!   `TotalCount`, `PageNo`, `PageSize`.
//! - `DeleteControlPolicy`: `AclUuid`, `Direction`.
//!
//! Every Cloudfw call counts against 10 calls per second per account
//! (the documented QPS limit of these APIs,
//! <https://www.alibabacloud.com/help/en/cloud-firewall/developer-reference/api-cloudfw-2017-12-07-addcontrolpolicy>);
//! past it the simulator answers `Throttling.User` (HTTP 400, §1.3).
//!
//! Cloudfw's own error codes were not retrieved (§1.4.2, §8); the
//! simulator answers `Cfw.Sim.AclNotExist` (404) for an unknown `AclUuid`
//! and `Cfw.Sim.AclQuotaExceeded` (400) for a full policy table, named so
//! nobody takes them for real codes while clients classifying by
//! `NotExist` / `Quota` treat them right.

use std::collections::{BTreeMap, VecDeque};
use std::net::IpAddr;
use std::time::{Duration, Instant};

use serde_json::{Map, Value, json};

use super::error::ApiError;
use super::waf::{Params, is_ip_or_cidr};

/// The API version this module serves.
pub const VERSION: &str = "2017-12-07";

/// The documented limit: 10 calls per second per account.
pub const DEFAULT_QPS: usize = 10;

/// One access control policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloudfwPolicy {
    /// The AccessKeyId that created it (the simulator's account).
    pub account: String,
    /// The id answered as `AclUuid`.
    pub acl_uuid: String,
    /// `in` or `out`.
    pub direction: String,
    /// `accept`, `drop` or `log`.
    pub acl_action: String,
    /// The source, as sent.
    pub source: String,
    /// `net`.
    pub source_type: String,
    /// The destination, as sent.
    pub destination: String,
    /// `net` or `domain`.
    pub destination_type: String,
    /// `ANY`, `TCP`, `UDP` or `ICMP`.
    pub proto: String,
    /// `ApplicationName`, or the `ApplicationNameList` values.
    pub applications: Vec<String>,
    /// `NewOrder` as sent.
    pub order: i64,
    /// `Description` as sent.
    pub description: String,
    /// `IpVersion`: 4 or 6.
    pub ip_version: u8,
}

impl CloudfwPolicy {
    fn to_json(&self) -> Value {
        json!({
            "AclUuid": self.acl_uuid, "Direction": self.direction, "AclAction": self.acl_action,
            "Source": self.source, "SourceType": self.source_type,
            "Destination": self.destination, "DestinationType": self.destination_type,
            "Proto": self.proto, "ApplicationName": self.applications.join(","),
            "ApplicationNameList": self.applications, "Order": self.order,
            "Description": self.description, "IpVersion": self.ip_version.to_string(),
            "HitTimes": 0, "DestPortType": "port", "DestPort": "0/0",
        })
    }
}

#[derive(Debug)]
pub(crate) struct Cloudfw {
    policies: Vec<CloudfwPolicy>,
    next_id: u64,
    quota: usize,
    qps: usize,
    /// Start times of the calls of the last second, per account.
    window: BTreeMap<String, VecDeque<Instant>>,
}

fn invalid(name: &str, why: impl std::fmt::Display) -> ApiError {
    ApiError::invalid_parameter(name, why)
}

impl Cloudfw {
    pub(crate) fn new(quota: usize, qps: usize) -> Self {
        Self {
            policies: Vec::new(),
            next_id: 1,
            quota,
            qps,
            window: BTreeMap::new(),
        }
    }

    pub(crate) fn serves(action: &str) -> bool {
        matches!(
            action,
            "AddControlPolicy" | "DescribeControlPolicy" | "DeleteControlPolicy"
        )
    }

    pub(crate) fn policies(&self) -> Vec<CloudfwPolicy> {
        self.policies.clone()
    }

    /// Counts a call of `account` at `now`; `Throttling.User` past the QPS.
    fn admit(&mut self, account: &str, now: Instant) -> Result<(), ApiError> {
        let calls = self.window.entry(account.to_owned()).or_default();
        while calls
            .front()
            .is_some_and(|at| now.duration_since(*at) >= Duration::from_secs(1))
        {
            calls.pop_front();
        }
        if calls.len() >= self.qps {
            return Err(ApiError::new(
                400,
                "Throttling.User",
                format!(
                    "Request was denied due to user flow control: more than {} Cloudfw calls \
                     in one second",
                    self.qps
                ),
            ));
        }
        calls.push_back(now);
        Ok(())
    }

    pub(crate) fn call(
        &mut self,
        account: &str,
        action: &str,
        params: &Params,
    ) -> Result<Map<String, Value>, ApiError> {
        self.admit(account, Instant::now())?;
        match action {
            "AddControlPolicy" => self.add(account, params),
            "DescribeControlPolicy" => self.describe(account, params),
            _ => self.delete(account, params),
        }
    }

    fn add(&mut self, account: &str, params: &Params) -> Result<Map<String, Value>, ApiError> {
        let acl_action = params.required("AclAction")?;
        if !matches!(acl_action, "accept" | "drop" | "log") {
            return Err(invalid(
                "AclAction",
                format!("`{acl_action}` is not accept, drop or log"),
            ));
        }
        let direction = direction(params)?;
        let proto = params.required("Proto")?;
        if !matches!(proto, "ANY" | "TCP" | "UDP" | "ICMP") {
            return Err(invalid(
                "Proto",
                format!("`{proto}` is not ANY, TCP, UDP or ICMP"),
            ));
        }
        let (source_type, source) = (params.required("SourceType")?, params.required("Source")?);
        if source_type != "net" || !is_cidr(source) {
            return Err(invalid(
                "Source",
                format!("`{source}` of type `{source_type}` is not a CIDR block of type `net`"),
            ));
        }
        let destination_type = params.required("DestinationType")?;
        let destination = params.required("Destination")?;
        match destination_type {
            "net" if is_cidr(destination) => {}
            "domain" if is_domain(destination) => {
                if proto != "TCP" {
                    return Err(invalid("Proto", "domain policies must use `TCP`"));
                }
            }
            _ => {
                return Err(invalid(
                    "Destination",
                    format!("`{destination}` is not a `{destination_type}` destination"),
                ));
            }
        }
        let mut applications = params.repeated("ApplicationNameList");
        if applications.is_empty() {
            applications.push(params.required("ApplicationName")?.to_owned());
        }
        let order_text = params.required("NewOrder")?;
        let order = order_text
            .parse::<i64>()
            .ok()
            .filter(|order| *order == -1 || *order >= 1)
            .ok_or_else(|| {
                invalid(
                    "NewOrder",
                    format!("`{order_text}` is not -1 or a priority from 1"),
                )
            })?;
        let description = params.required("Description")?;
        let ip_version = match params.get("IpVersion").unwrap_or("4") {
            "4" => 4,
            "6" => 6,
            other => return Err(invalid("IpVersion", format!("`{other}` is not 4 or 6"))),
        };
        for (name, value) in [("Source", source), ("Destination", destination)] {
            let family = value.split('/').next().unwrap_or("").parse::<IpAddr>();
            if let Ok(ip) = family
                && (ip.is_ipv6() != (ip_version == 6))
            {
                return Err(invalid(
                    name,
                    format!("`{value}` is not an IPv{ip_version} block"),
                ));
            }
        }
        let held = self
            .policies
            .iter()
            .filter(|p| p.account == account && p.direction == direction)
            .count();
        if held >= self.quota {
            return Err(ApiError::new(
                400,
                "Cfw.Sim.AclQuotaExceeded",
                format!(
                    "the {direction} policy table holds {held} of {} policies",
                    self.quota
                ),
            ));
        }
        let acl_uuid = format!("5a1e0000-0000-4000-8000-{:012x}", self.next_id);
        self.next_id += 1;
        self.policies.push(CloudfwPolicy {
            account: account.to_owned(),
            acl_uuid: acl_uuid.clone(),
            direction: direction.to_owned(),
            acl_action: acl_action.to_owned(),
            source: source.to_owned(),
            source_type: source_type.to_owned(),
            destination: destination.to_owned(),
            destination_type: destination_type.to_owned(),
            proto: proto.to_owned(),
            applications,
            order,
            description: description.to_owned(),
            ip_version,
        });
        let mut answer = Map::new();
        answer.insert("AclUuid".into(), Value::String(acl_uuid));
        Ok(answer)
    }

    fn describe(&self, account: &str, params: &Params) -> Result<Map<String, Value>, ApiError> {
        let direction = direction(params)?;
        let number = |name: &str| -> Result<usize, ApiError> {
            let text = params.required(name)?;
            text.parse()
                .map_err(|_| invalid(name, format!("`{text}` is not a number")))
        };
        let (page, size) = (number("CurrentPage")?.max(1), number("PageSize")?);
        if !(1..=50).contains(&size) {
            return Err(invalid("PageSize", format!("{size} is not from 1 to 50")));
        }
        let contains =
            |name: &str, value: &str| params.get(name).is_none_or(|want| value.contains(want));
        let equals = |name: &str, value: &str| params.get(name).is_none_or(|want| value == want);
        let matching: Vec<&CloudfwPolicy> = self
            .policies
            .iter()
            .filter(|p| p.account == account && p.direction == direction)
            .filter(|p| contains("Source", &p.source) && contains("Destination", &p.destination))
            .filter(|p| contains("Description", &p.description))
            .filter(|p| equals("AclAction", &p.acl_action) && equals("AclUuid", &p.acl_uuid))
            .collect();
        let policys: Vec<Value> = matching
            .iter()
            .skip((page - 1) * size)
            .take(size)
            .map(|p| p.to_json())
            .collect();
        let mut answer = Map::new();
        answer.insert("Policys".into(), Value::Array(policys));
        answer.insert("TotalCount".into(), json!(matching.len().to_string()));
        answer.insert("PageNo".into(), json!(page.to_string()));
        answer.insert("PageSize".into(), json!(size.to_string()));
        Ok(answer)
    }

    fn delete(&mut self, account: &str, params: &Params) -> Result<Map<String, Value>, ApiError> {
        let direction = direction(params)?;
        let uuid = params.required("AclUuid")?;
        let at = self
            .policies
            .iter()
            .position(|p| p.account == account && p.direction == direction && p.acl_uuid == uuid)
            .ok_or_else(|| {
                ApiError::not_found(
                    "Cfw.Sim.AclNotExist",
                    format!("no {direction} policy `{uuid}` exists"),
                )
            })?;
        self.policies.remove(at);
        Ok(Map::new())
    }
}

fn direction(params: &Params) -> Result<&str, ApiError> {
    match params.required("Direction")? {
        direction @ ("in" | "out") => Ok(direction),
        other => Err(invalid("Direction", format!("`{other}` is not in or out"))),
    }
}

/// An address with a prefix length (Cloudfw's `net` values are CIDR).
fn is_cidr(text: &str) -> bool {
    text.contains('/') && is_ip_or_cidr(text)
}

/// A domain name, optionally with a leading `*.`.
fn is_domain(text: &str) -> bool {
    let name = text.strip_prefix("*.").unwrap_or(text);
    name.contains('.')
        && name.parse::<IpAddr>().is_err()
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
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

    fn inbound_drop(source: &str) -> Params {
        params(&[
            ("AclAction", "drop"),
            ("Direction", "in"),
            ("Source", source),
            ("SourceType", "net"),
            ("Destination", "0.0.0.0/0"),
            ("DestinationType", "net"),
            ("Proto", "ANY"),
            ("ApplicationName", "ANY"),
            ("NewOrder", "1"),
            ("Description", "riposte-k1"),
        ])
    }

    #[test]
    fn adds_describes_and_deletes_per_account_and_direction() {
        let mut cfw = Cloudfw::new(2, 100);
        let uuid = cfw
            .call("ak", "AddControlPolicy", &inbound_drop("198.51.100.7/32"))
            .unwrap()["AclUuid"]
            .clone();
        let found = cfw
            .call(
                "ak",
                "DescribeControlPolicy",
                &params(&[
                    ("Direction", "in"),
                    ("CurrentPage", "1"),
                    ("PageSize", "10"),
                    ("Description", "k1"),
                ]),
            )
            .unwrap();
        assert_eq!(found["Policys"][0]["AclUuid"], uuid);
        let other = cfw
            .call(
                "ak2",
                "DescribeControlPolicy",
                &params(&[
                    ("Direction", "in"),
                    ("CurrentPage", "1"),
                    ("PageSize", "10"),
                ]),
            )
            .unwrap();
        assert_eq!(other["TotalCount"], "0");

        let delete = params(&[("Direction", "in"), ("AclUuid", uuid.as_str().unwrap())]);
        cfw.call("ak", "DeleteControlPolicy", &delete).unwrap();
        let err = cfw.call("ak", "DeleteControlPolicy", &delete).unwrap_err();
        assert_eq!(
            (err.status, err.code.as_str()),
            (404, "Cfw.Sim.AclNotExist")
        );
    }

    #[test]
    fn validates_addresses_domains_and_quota() {
        let mut cfw = Cloudfw::new(1, 100);
        for bad in ["198.51.100.7", "evil.example", "198.51.100.7/33"] {
            let err = cfw
                .call("ak", "AddControlPolicy", &inbound_drop(bad))
                .unwrap_err();
            assert_eq!(err.code, "InvalidParameter", "{bad}");
        }
        let v6_without_version = inbound_drop("2001:db8::/32");
        assert_eq!(
            cfw.call("ak", "AddControlPolicy", &v6_without_version)
                .unwrap_err()
                .code,
            "InvalidParameter"
        );
        cfw.call("ak", "AddControlPolicy", &inbound_drop("198.51.100.7/32"))
            .unwrap();
        let err = cfw
            .call("ak", "AddControlPolicy", &inbound_drop("198.51.100.8/32"))
            .unwrap_err();
        assert_eq!(err.code, "Cfw.Sim.AclQuotaExceeded");

        let domain = params(&[
            ("AclAction", "drop"),
            ("Direction", "out"),
            ("Source", "0.0.0.0/0"),
            ("SourceType", "net"),
            ("Destination", "evil.example"),
            ("DestinationType", "domain"),
            ("Proto", "TCP"),
            ("ApplicationNameList.1", "HTTP"),
            ("ApplicationNameList.2", "HTTPS"),
            ("NewOrder", "1"),
            ("Description", "d"),
        ]);
        cfw.call("ak", "AddControlPolicy", &domain).unwrap();
        assert_eq!(cfw.policies()[1].applications, ["HTTP", "HTTPS"]);
    }

    #[test]
    fn throttles_past_the_qps() {
        let mut cfw = Cloudfw::new(10, 3);
        let start = Instant::now();
        for _ in 0..3 {
            cfw.admit("ak", start).unwrap();
        }
        assert_eq!(cfw.admit("ak", start).unwrap_err().code, "Throttling.User");
        cfw.admit("other", start).unwrap();
        cfw.admit("ak", start + Duration::from_millis(1000))
            .unwrap();
    }
}
