//! Huawei Cloud Firewall (CFW, API `v1`) subset: the black and white lists
//! of a protection object.
//!
//! Owns the protection objects, their list entries and the operations
//! riposte's `huawei-cloud` component calls (`shared/reference/providers.md`
//! §3.2):
//! - `AddBlackWhiteList`, `POST /v1/{project_id}/black-white-list`
//!   (<https://support.huaweicloud.com/api-cfw/AddBlackWhiteList.html>):
//!   `object_id`, `list_type` (4 black, 5 white), `direction` (0 source,
//!   1 destination), `address_type` (0 IPv4, 1 IPv6), `address`,
//!   `protocol` (6, 17, 1, 58, -1), `port`, `description`; answers
//!   `{"data":{"id","name"}}`.
//! - `ListBlackWhiteLists`, `GET /v1/{project_id}/black-white-lists`
//!   (<https://support.huaweicloud.com/api-cfw/ListBlackWhiteLists.html>):
//!   filters `object_id`, `list_type`, `address_type`, `address`, `port`,
//!   `limit`, `offset`; answers `{"data":{"offset","limit","total","records"}}`.
//! - `DeleteBlackWhiteList`, `DELETE /v1/{project_id}/black-white-list/{list_id}`
//!   (<https://support.huaweicloud.com/intl/zh-cn/api-cfw/DeleteBlackWhiteList.html>):
//!   an unknown id is 400 `CFW.00200005` "操作内容不存在" (documented).
//!
//! Simulator choices where the reference is silent (§8: CFW quota and
//! validation codes were not retrieved), named `CFW.SIM.*` so nobody takes
//! them for real codes: `CFW.SIM.INVALID` (400) for a malformed entry,
//! `CFW.SIM.DUPLICATE` (400) for an entry that already exists,
//! `CFW.SIM.QUOTA` (400, message "quota exceeded") for a full list. An
//! unknown `object_id` is `CFW.00200005`.

use std::collections::BTreeMap;
use std::net::IpAddr;

use serde_json::{Map, Value, json};

use crate::aliyun::error::ApiError;

/// One list entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HuaweiCfwEntry {
    /// The project the protection object belongs to.
    pub project_id: String,
    /// The protection object.
    pub object_id: String,
    /// The id answered as `data.id`.
    pub list_id: String,
    /// 4 black list, 5 white list.
    pub list_type: i64,
    /// 0 source address, 1 destination address.
    pub direction: i64,
    /// 0 IPv4, 1 IPv6.
    pub address_type: i64,
    /// The address or CIDR block, as sent.
    pub address: String,
    /// The protocol number, -1 for any.
    pub protocol: i64,
    /// The port, as sent.
    pub port: String,
    /// The description, as sent.
    pub description: String,
}

#[derive(Debug)]
pub(crate) struct Cfw {
    /// object id → project id.
    objects: BTreeMap<String, String>,
    entries: Vec<HuaweiCfwEntry>,
    next_id: u64,
    capacity: usize,
}

fn not_found(what: String) -> ApiError {
    ApiError::new(
        400,
        "CFW.00200005",
        format!("操作内容不存在 (not found: {what})"),
    )
}

fn invalid(why: String) -> ApiError {
    ApiError::new(400, "CFW.SIM.INVALID", why)
}

impl Cfw {
    pub(crate) fn new(objects: BTreeMap<String, String>, capacity: usize) -> Self {
        Self {
            objects,
            entries: Vec::new(),
            next_id: 1,
            capacity,
        }
    }

    pub(crate) fn entries(&self) -> Vec<HuaweiCfwEntry> {
        self.entries.clone()
    }

    fn object(&self, project: &str, object_id: &str) -> Result<(), ApiError> {
        match self.objects.get(object_id) {
            Some(owner) if owner == project => Ok(()),
            _ => Err(not_found(format!("protection object `{object_id}`"))),
        }
    }

    pub(crate) fn add(
        &mut self,
        project: &str,
        body: &Map<String, Value>,
    ) -> Result<Value, ApiError> {
        let text = |name: &str| {
            body.get(name)
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned()
        };
        let int = |name: &str| {
            body.get(name)
                .and_then(Value::as_i64)
                .ok_or_else(|| invalid(format!("`{name}` is required and must be an integer")))
        };
        let object_id = text("object_id");
        self.object(project, &object_id)?;
        let (list_type, direction) = (int("list_type")?, int("direction")?);
        let (address_type, protocol) = (int("address_type")?, int("protocol")?);
        let address = text("address");
        if !matches!(list_type, 4 | 5) || !matches!(direction, 0 | 1) {
            return Err(invalid(format!(
                "`list_type` {list_type} or `direction` {direction} is out of range"
            )));
        }
        if !matches!(protocol, 6 | 17 | 1 | 58 | -1) {
            return Err(invalid(format!(
                "`protocol` {protocol} is not 6, 17, 1, 58 or -1"
            )));
        }
        let family_ok = match address.split('/').next().unwrap_or("").parse::<IpAddr>() {
            Ok(IpAddr::V4(_)) => address_type == 0,
            Ok(IpAddr::V6(_)) => address_type == 1,
            Err(_) => false,
        };
        if !family_ok || !crate::aliyun::waf::is_ip_or_cidr(&address) || address.ends_with("/0") {
            return Err(invalid(format!(
                "`address` `{address}` is not an address of `address_type` {address_type}"
            )));
        }
        let entry = HuaweiCfwEntry {
            project_id: project.to_owned(),
            object_id,
            list_id: format!("00000000-0000-4000-8000-{:012x}", self.next_id),
            list_type,
            direction,
            address_type,
            address,
            protocol,
            port: text("port"),
            description: text("description"),
        };
        let same = |held: &HuaweiCfwEntry| {
            held.object_id == entry.object_id
                && held.list_type == entry.list_type
                && held.direction == entry.direction
                && held.address == entry.address
                && held.protocol == entry.protocol
                && held.port == entry.port
        };
        if self.entries.iter().any(same) {
            return Err(ApiError::new(
                400,
                "CFW.SIM.DUPLICATE",
                format!("`{}` is already in the list", entry.address),
            ));
        }
        let held = self
            .entries
            .iter()
            .filter(|held| held.object_id == entry.object_id && held.list_type == list_type)
            .count();
        if held >= self.capacity {
            return Err(ApiError::new(
                400,
                "CFW.SIM.QUOTA",
                format!(
                    "quota exceeded: the list holds {held} of {} entries",
                    self.capacity
                ),
            ));
        }
        self.next_id += 1;
        let answer = json!({"data": {"id": entry.list_id, "name": entry.address}});
        self.entries.push(entry);
        Ok(answer)
    }

    pub(crate) fn list(
        &self,
        project: &str,
        query: &BTreeMap<String, String>,
    ) -> Result<Value, ApiError> {
        let object_id = query.get("object_id").map(String::as_str).unwrap_or("");
        self.object(project, object_id)?;
        let number = |name: &str| query.get(name).and_then(|v| v.parse::<i64>().ok());
        let (list_type, address_type) = (number("list_type"), number("address_type"));
        let address = query.get("address").filter(|a| !a.is_empty());
        let port = query.get("port").filter(|p| !p.is_empty());
        let offset = number("offset").unwrap_or(0).max(0) as usize;
        let limit = number("limit").unwrap_or(10).clamp(1, 1024) as usize;
        let matching: Vec<&HuaweiCfwEntry> = self
            .entries
            .iter()
            .filter(|e| e.object_id == object_id)
            .filter(|e| list_type.is_none_or(|t| e.list_type == t))
            .filter(|e| address_type.is_none_or(|t| e.address_type == t))
            .filter(|e| address.is_none_or(|a| &e.address == a))
            .filter(|e| port.is_none_or(|p| &e.port == p))
            .collect();
        let records: Vec<Value> = matching
            .iter()
            .skip(offset)
            .take(limit)
            .map(|e| {
                json!({"list_id": e.list_id, "direction": e.direction, "address_type": e.address_type,
                       "address": e.address, "protocol": e.protocol, "port": e.port,
                       "description": e.description})
            })
            .collect();
        Ok(
            json!({"data": {"offset": offset, "limit": limit, "total": matching.len(), "records": records}}),
        )
    }

    pub(crate) fn delete(&mut self, project: &str, list_id: &str) -> Result<Value, ApiError> {
        let at = self
            .entries
            .iter()
            .position(|e| e.project_id == project && e.list_id == list_id)
            .ok_or_else(|| not_found(format!("list entry `{list_id}`")))?;
        let entry = self.entries.remove(at);
        Ok(json!({"data": {"id": entry.list_id, "name": entry.address}}))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfw(capacity: usize) -> Cfw {
        Cfw::new(
            BTreeMap::from([("obj".to_owned(), "p1".to_owned())]),
            capacity,
        )
    }

    fn body(address: &str, address_type: i64) -> Map<String, Value> {
        json!({"object_id": "obj", "list_type": 4, "direction": 0, "address_type": address_type,
               "address": address, "protocol": -1, "port": "", "description": "d"})
        .as_object()
        .unwrap()
        .clone()
    }

    #[test]
    fn adds_lists_and_deletes() {
        let mut cfw = cfw(2);
        let answer = cfw.add("p1", &body("2001:db8::/32", 1)).unwrap();
        let id = answer["data"]["id"].as_str().unwrap().to_owned();
        assert_eq!(
            cfw.add("p1", &body("2001:db8::/32", 1)).unwrap_err().code,
            "CFW.SIM.DUPLICATE"
        );
        cfw.add("p1", &body("198.51.100.7", 0)).unwrap();
        let err = cfw.add("p1", &body("198.51.100.8", 0)).unwrap_err();
        assert!(
            err.code == "CFW.SIM.QUOTA" && err.message.contains("quota"),
            "{err}"
        );

        let query = BTreeMap::from([
            ("object_id".to_owned(), "obj".to_owned()),
            ("address".to_owned(), "2001:db8::/32".to_owned()),
        ]);
        let listed = cfw.list("p1", &query).unwrap();
        assert_eq!(listed["data"]["total"], 1);
        assert_eq!(listed["data"]["records"][0]["list_id"], id.as_str());

        cfw.delete("p1", &id).unwrap();
        assert_eq!(cfw.delete("p1", &id).unwrap_err().code, "CFW.00200005");
        assert_eq!(cfw.entries().len(), 1);
    }

    #[test]
    fn refuses_bad_entries_and_foreign_objects() {
        let mut cfw = cfw(10);
        for (address, address_type) in [
            ("198.51.100.7", 1),
            ("2001:db8::1", 0),
            ("evil.example", 0),
            ("0.0.0.0/0", 0),
        ] {
            assert_eq!(
                cfw.add("p1", &body(address, address_type))
                    .unwrap_err()
                    .code,
                "CFW.SIM.INVALID",
                "{address}"
            );
        }
        assert_eq!(
            cfw.add("p2", &body("198.51.100.7", 0)).unwrap_err().code,
            "CFW.00200005"
        );
    }
}
