//! Alibaba Cloud Anti-DDoS Proxy (`ddoscoo`, version `2020-01-01`)
//! subset: the IP blacklist and whitelist of an instance.
//!
//! Owns the instances and their lists, and the six actions riposte's
//! `aliyun-ddoscoo` component calls (`shared/reference/providers.md`
//! §1.4.5; Alibaba Cloud API reference pages
//! <https://help.aliyun.com/zh/anti-ddos/anti-ddos-pro-and-premium/developer-reference/api-ddoscoo-2020-01-01-addautoccblacklist>
//! and its siblings):
//! - `AddAutoCcBlacklist` (`InstanceId`, `Blacklist` JSON `[{"src"}]`,
//!   `ExpireTime` 300 to 604,800 seconds, at most 2,000 addresses in the
//!   list), `DeleteAutoCcBlacklist` (`InstanceId`, `Blacklist`),
//!   `DescribeAutoCcBlacklist` (`InstanceId`, `KeyWord` source prefix,
//!   `PageNumber`, `PageSize`; answers `AutoCcBlacklist[]` of
//!   `{SourceIp, DestIp, EndTime, Type}` and `TotalCount`);
//! - the same three for the whitelist (`AddAutoCcWhitelist` with
//!   `Whitelist` and an optional `ExpireTime`, 0 meaning never,
//!   `DeleteAutoCcWhitelist`, `DescribeAutoCcWhitelist` answering
//!   `AutoCcWhitelist[]`).
//!
//! Entries are single addresses (the reference calls them IPs). Adding an
//! address already listed refreshes its expiry; deleting one that is not
//! listed changes nothing. Simulator choices where the reference is
//! silent: an unknown instance is 404 `Ddoscoo.Sim.InstanceNotExist`; a
//! full list is 400 `Ddoscoo.Sim.ListQuotaExceeded`.

use std::collections::BTreeSet;
use std::net::IpAddr;

use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::error::ApiError;
use super::waf::Params;

/// The API version this module serves.
pub const VERSION: &str = "2020-01-01";

/// Manually added addresses per list (documented for the blacklist).
pub const LIST_CAPACITY: usize = 2000;

/// Which list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DdosList {
    /// `AutoCcBlacklist`.
    Black,
    /// `AutoCcWhitelist`.
    White,
}

/// One list entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DdosEntry {
    /// The instance.
    pub instance_id: String,
    /// Black or white.
    pub list: DdosList,
    /// The address.
    pub ip: String,
    /// When it expires (Unix seconds), 0 for never.
    pub end_time: i64,
}

#[derive(Debug)]
pub(crate) struct Ddoscoo {
    instances: BTreeSet<String>,
    entries: Vec<DdosEntry>,
    capacity: usize,
}

#[derive(Deserialize)]
struct Src {
    src: String,
}

impl Ddoscoo {
    pub(crate) fn new(instances: BTreeSet<String>, capacity: usize) -> Self {
        Self {
            instances,
            entries: Vec::new(),
            capacity,
        }
    }

    pub(crate) fn serves(action: &str) -> bool {
        matches!(
            action,
            "AddAutoCcBlacklist"
                | "DeleteAutoCcBlacklist"
                | "DescribeAutoCcBlacklist"
                | "AddAutoCcWhitelist"
                | "DeleteAutoCcWhitelist"
                | "DescribeAutoCcWhitelist"
        )
    }

    pub(crate) fn entries(&self) -> Vec<DdosEntry> {
        self.entries.clone()
    }

    pub(crate) fn call(
        &mut self,
        action: &str,
        params: &Params,
        now: i64,
    ) -> Result<Map<String, Value>, ApiError> {
        let instance = params.required("InstanceId")?;
        if !self.instances.contains(instance) {
            return Err(ApiError::not_found(
                "Ddoscoo.Sim.InstanceNotExist",
                format!("instance `{instance}` does not exist"),
            ));
        }
        let list = if action.contains("Blacklist") {
            DdosList::Black
        } else {
            DdosList::White
        };
        let field = if list == DdosList::Black {
            "Blacklist"
        } else {
            "Whitelist"
        };
        match &action[..action.len() - "Blacklist".len()] {
            "AddAutoCc" => self.add(instance, list, field, params, now),
            "DeleteAutoCc" => {
                let ips = addresses(params, field)?;
                self.entries.retain(|e| {
                    !(e.instance_id == instance && e.list == list && ips.contains(&e.ip))
                });
                Ok(Map::new())
            }
            _ => Ok(self.describe(instance, list, params, now)),
        }
    }

    fn add(
        &mut self,
        instance: &str,
        list: DdosList,
        field: &str,
        params: &Params,
        now: i64,
    ) -> Result<Map<String, Value>, ApiError> {
        let ips = addresses(params, field)?;
        let expire = match (list, params.get("ExpireTime")) {
            (DdosList::Black, None) => return Err(ApiError::missing_parameter("ExpireTime")),
            (DdosList::White, None) => 0,
            (_, Some(text)) => text.parse::<i64>().map_err(|_| {
                ApiError::invalid_parameter("ExpireTime", format!("`{text}` is not an integer"))
            })?,
        };
        let range_ok = match list {
            DdosList::Black => (300..=604_800).contains(&expire),
            DdosList::White => expire == 0 || (300..=604_800).contains(&expire),
        };
        if !range_ok {
            return Err(ApiError::invalid_parameter(
                "ExpireTime",
                format!("{expire} is not 300 to 604800 seconds"),
            ));
        }
        let end_time = if expire == 0 { 0 } else { now + expire };
        let fresh = ips
            .iter()
            .filter(|ip| !self.listed(instance, list, ip))
            .count();
        let held = self
            .entries
            .iter()
            .filter(|e| e.instance_id == instance && e.list == list)
            .count();
        if held + fresh > self.capacity {
            return Err(ApiError::new(
                400,
                "Ddoscoo.Sim.ListQuotaExceeded",
                format!("the list holds {held} of {} addresses", self.capacity),
            ));
        }
        for ip in ips {
            self.entries
                .retain(|e| !(e.instance_id == instance && e.list == list && e.ip == ip));
            self.entries.push(DdosEntry {
                instance_id: instance.to_owned(),
                list,
                ip,
                end_time,
            });
        }
        Ok(Map::new())
    }

    fn listed(&self, instance: &str, list: DdosList, ip: &str) -> bool {
        self.entries
            .iter()
            .any(|e| e.instance_id == instance && e.list == list && e.ip == ip)
    }

    fn describe(
        &self,
        instance: &str,
        list: DdosList,
        params: &Params,
        now: i64,
    ) -> Map<String, Value> {
        let keyword = params.get("KeyWord").unwrap_or("");
        let number = |name: &str, default: usize| {
            params
                .get(name)
                .and_then(|v| v.parse().ok())
                .unwrap_or(default)
        };
        let (page, size) = (
            number("PageNumber", 1).max(1),
            number("PageSize", 10).clamp(1, 50),
        );
        let matching: Vec<&DdosEntry> = self
            .entries
            .iter()
            .filter(|e| e.instance_id == instance && e.list == list)
            .filter(|e| e.end_time == 0 || e.end_time > now)
            .filter(|e| e.ip.starts_with(keyword))
            .collect();
        let items: Vec<Value> = matching
            .iter()
            .skip((page - 1) * size)
            .take(size)
            .map(|e| json!({"SourceIp": e.ip, "DestIp": "", "EndTime": e.end_time, "Type": "manual"}))
            .collect();
        let name = if list == DdosList::Black {
            "AutoCcBlacklist"
        } else {
            "AutoCcWhitelist"
        };
        let mut answer = Map::new();
        answer.insert(name.into(), Value::Array(items));
        answer.insert("TotalCount".into(), json!(matching.len()));
        answer
    }
}

/// The `src` addresses of a `Blacklist` / `Whitelist` JSON parameter.
fn addresses(params: &Params, field: &str) -> Result<Vec<String>, ApiError> {
    let text = params.required(field)?;
    let parsed: Vec<Src> = serde_json::from_str(text).map_err(|err| {
        ApiError::invalid_parameter(field, format!("not a `[{{\"src\":…}}]` array: {err}"))
    })?;
    if parsed.is_empty() {
        return Err(ApiError::invalid_parameter(field, "the array is empty"));
    }
    parsed
        .into_iter()
        .map(|src| match src.src.parse::<IpAddr>() {
            Ok(_) => Ok(src.src),
            Err(_) => Err(ApiError::invalid_parameter(
                field,
                format!("`{}` is not an IP address", src.src),
            )),
        })
        .collect()
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

    #[test]
    fn black_and_white_lists_add_describe_and_delete() {
        let mut ddos = Ddoscoo::new(BTreeSet::from(["ddoscoo-cn-1".to_owned()]), 1);
        let add = params(&[
            ("InstanceId", "ddoscoo-cn-1"),
            ("Blacklist", r#"[{"src":"198.51.100.7"}]"#),
            ("ExpireTime", "600"),
        ]);
        ddos.call("AddAutoCcBlacklist", &add, 1000).unwrap();
        ddos.call("AddAutoCcBlacklist", &add, 1000).unwrap();
        assert_eq!(ddos.entries().len(), 1);
        assert_eq!(ddos.entries()[0].end_time, 1600);
        let full = params(&[
            ("InstanceId", "ddoscoo-cn-1"),
            ("Blacklist", r#"[{"src":"198.51.100.8"}]"#),
            ("ExpireTime", "600"),
        ]);
        assert_eq!(
            ddos.call("AddAutoCcBlacklist", &full, 1000)
                .unwrap_err()
                .code,
            "Ddoscoo.Sim.ListQuotaExceeded"
        );

        let described = ddos
            .call(
                "DescribeAutoCcBlacklist",
                &params(&[("InstanceId", "ddoscoo-cn-1"), ("KeyWord", "198.51")]),
                1000,
            )
            .unwrap();
        assert_eq!(described["AutoCcBlacklist"][0]["SourceIp"], "198.51.100.7");
        // Expired entries are not listed.
        let later = ddos
            .call(
                "DescribeAutoCcBlacklist",
                &params(&[("InstanceId", "ddoscoo-cn-1")]),
                1601,
            )
            .unwrap();
        assert_eq!(later["TotalCount"], 0);

        ddos.call("DeleteAutoCcBlacklist", &add, 1000).unwrap();
        assert!(ddos.entries().is_empty());
        let white = params(&[
            ("InstanceId", "ddoscoo-cn-1"),
            ("Whitelist", r#"[{"src":"2001:db8::1"}]"#),
        ]);
        ddos.call("AddAutoCcWhitelist", &white, 1000).unwrap();
        assert_eq!(
            (ddos.entries()[0].list, ddos.entries()[0].end_time),
            (DdosList::White, 0)
        );
    }

    #[test]
    fn refuses_bad_expiry_networks_and_unknown_instances() {
        let mut ddos = Ddoscoo::new(BTreeSet::from(["i".to_owned()]), 10);
        for (list, expire) in [
            (r#"[{"src":"198.51.100.7"}]"#, "100"),
            (r#"[{"src":"198.51.100.0/24"}]"#, "600"),
            ("[]", "600"),
        ] {
            let add = params(&[
                ("InstanceId", "i"),
                ("Blacklist", list),
                ("ExpireTime", expire),
            ]);
            assert_eq!(
                ddos.call("AddAutoCcBlacklist", &add, 0).unwrap_err().code,
                "InvalidParameter",
                "{list} {expire}"
            );
        }
        let missing = params(&[("InstanceId", "nope"), ("Blacklist", "[]")]);
        assert_eq!(
            ddos.call("AddAutoCcBlacklist", &missing, 0)
                .unwrap_err()
                .status,
            404
        );
    }
}
