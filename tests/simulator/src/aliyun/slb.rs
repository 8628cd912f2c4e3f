//! Alibaba Cloud load balancer access control lists: Classic Load
//! Balancer (`Slb`, version `2014-05-15`) and Application Load Balancer
//! (`Alb`, version `2020-06-16`).
//!
//! Owns the ACLs (per AccessKeyId) and the entries riposte's `aliyun-slb`
//! component adds and removes:
//! - CLB `AddAccessControlListEntry`, `RemoveAccessControlListEntry`
//!   (`RegionId`, `AclId`, `AclEntrys` as JSON `[{"entry","comment"}]`)
//!   and `DescribeAccessControlListAttribute` (answers
//!   `AclEntrys.AclEntry[]` of `{AclEntryIP, AclEntryComment}`)
//!   (<https://help.aliyun.com/en/slb/classic-load-balancer/developer-reference/api-slb-2014-05-15-addaccesscontrollistentry>):
//!   entries are CIDR blocks of the ACL's IP version (`IllegalEntry`
//!   otherwise), at most 50 per call and 300 per ACL; an entry already in
//!   the ACL is `InvalidParam.AclEntryExists`.
//! - ALB `AddEntriesToAcl` (`AclId`, `AclEntries.N.Entry`,
//!   `AclEntries.N.Description`, `ClientToken`), `RemoveEntriesFromAcl`
//!   (`AclId`, `Entries.N`, `ClientToken`) and `ListAclEntries` (`AclId`,
//!   `MaxResults`, `NextToken`; answers `AclEntries[]` of
//!   `{Entry, Description, Status}`)
//!   (<https://help.aliyun.com/document_detail/213614.html>,
//!   <https://help.aliyun.com/document_detail/213616.html>): at most 20
//!   entries per call and 1,000 per ACL; an unknown ACL is 404
//!   `ResourceNotFound.Acl`. The real operations are asynchronous
//!   (entries pass through `Adding`); the simulator applies them at once
//!   and answers a `JobId`. A repeated `ClientToken` answers the first
//!   call's `JobId` and changes nothing.
//!
//! Simulator choices where the reference is silent: an unknown CLB ACL is
//! 404 `Slb.Sim.AclNotExist`; removing a CLB entry that is not there is
//! 400 `Slb.Sim.AclEntryNotExist`; a full ACL is 400
//! `Slb.Sim.AclEntryQuotaExceeded` / `Alb.Sim.AclEntryQuotaExceeded`; an
//! ALB entry already present is 400 `Alb.Sim.AclEntryExists`.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::error::ApiError;
use super::waf::{Params, is_ip_or_cidr};

/// CLB API version.
pub const CLB_VERSION: &str = "2014-05-15";
/// ALB API version.
pub const ALB_VERSION: &str = "2020-06-16";

/// Entries per CLB ACL (documented).
pub const CLB_ACL_ENTRIES: usize = 300;
/// Entries per ALB ACL (documented).
pub const ALB_ACL_ENTRIES: usize = 1000;

/// Which load balancer an ACL belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AclKind {
    /// Classic Load Balancer.
    Clb,
    /// Application Load Balancer.
    Alb,
}

/// One ACL entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AclEntry {
    /// The ACL.
    pub acl_id: String,
    /// CLB or ALB.
    pub kind: AclKind,
    /// The CIDR block, as sent.
    pub entry: String,
    /// `comment` (CLB) or `Description` (ALB).
    pub comment: String,
}

/// An ACL that exists.
#[derive(Debug, Clone)]
pub struct AclConfig {
    /// CLB or ALB.
    pub kind: AclKind,
    /// The region (CLB `RegionId`).
    pub region: String,
    /// 4 or 6: the family of its entries (CLB `AddressIPVersion`).
    pub ip_version: u8,
}

#[derive(Debug)]
pub(crate) struct Slb {
    acls: BTreeMap<String, AclConfig>,
    entries: Vec<AclEntry>,
    tokens: BTreeMap<(String, String), String>,
    next_job: u64,
    capacity: Option<usize>,
}

#[derive(Deserialize)]
struct ClbEntry {
    entry: String,
    #[serde(default)]
    comment: String,
}

impl Slb {
    /// `capacity` overrides the documented per-ACL limits (tests).
    pub(crate) fn new(acls: BTreeMap<String, AclConfig>, capacity: Option<usize>) -> Self {
        Self {
            acls,
            entries: Vec::new(),
            tokens: BTreeMap::new(),
            next_job: 1,
            capacity,
        }
    }

    pub(crate) fn serves(version: &str, action: &str) -> bool {
        match version {
            CLB_VERSION => matches!(
                action,
                "AddAccessControlListEntry"
                    | "RemoveAccessControlListEntry"
                    | "DescribeAccessControlListAttribute"
            ),
            ALB_VERSION => matches!(
                action,
                "AddEntriesToAcl" | "RemoveEntriesFromAcl" | "ListAclEntries"
            ),
            _ => false,
        }
    }

    pub(crate) fn entries(&self) -> Vec<AclEntry> {
        self.entries.clone()
    }

    pub(crate) fn call(
        &mut self,
        access_key_id: &str,
        version: &str,
        action: &str,
        params: &Params,
    ) -> Result<Map<String, Value>, ApiError> {
        let kind = if version == CLB_VERSION {
            AclKind::Clb
        } else {
            AclKind::Alb
        };
        let acl_id = self.acl(kind, params)?;
        match action {
            "DescribeAccessControlListAttribute" => Ok(self.describe_clb(&acl_id)),
            "ListAclEntries" => Ok(self.list_alb(&acl_id)),
            "AddAccessControlListEntry" => {
                let entries = clb_entries(params)?;
                self.add(&acl_id, kind, entries)?;
                Ok(Map::new())
            }
            "RemoveAccessControlListEntry" => {
                let entries = clb_entries(params)?;
                self.remove_clb(&acl_id, &entries)
            }
            "AddEntriesToAcl" => self.alb_job(access_key_id, params, |slb| {
                let mut entries = Vec::new();
                for n in 1..=params_len(params, "AclEntries", "Entry") {
                    let field = |name: &str| {
                        params
                            .get(&format!("AclEntries.{n}.{name}"))
                            .unwrap_or("")
                            .to_owned()
                    };
                    entries.push((field("Entry"), field("Description")));
                }
                slb.add(&acl_id, kind, entries)
            }),
            _ => self.alb_job(access_key_id, params, |slb| {
                let removing = params.repeated("Entries");
                if removing.is_empty() {
                    return Err(ApiError::missing_parameter("Entries.1"));
                }
                slb.entries
                    .retain(|e| !(e.acl_id == acl_id && removing.contains(&e.entry)));
                Ok(())
            }),
        }
    }

    fn acl(&self, kind: AclKind, params: &Params) -> Result<String, ApiError> {
        let acl_id = params.required("AclId")?;
        let config = self.acls.get(acl_id).filter(|config| config.kind == kind);
        let found = match (kind, config) {
            (AclKind::Clb, Some(config)) => params.required("RegionId")? == config.region,
            (AclKind::Alb, Some(_)) => true,
            (_, None) => false,
        };
        if found {
            return Ok(acl_id.to_owned());
        }
        Err(match kind {
            AclKind::Clb => ApiError::not_found(
                "Slb.Sim.AclNotExist",
                format!("The specified acl `{acl_id}` does not exist"),
            ),
            AclKind::Alb => ApiError::not_found(
                "ResourceNotFound.Acl",
                format!("The specified resource {acl_id} is not found"),
            ),
        })
    }

    fn add(
        &mut self,
        acl_id: &str,
        kind: AclKind,
        entries: Vec<(String, String)>,
    ) -> Result<(), ApiError> {
        let (per_call, per_acl) = match kind {
            AclKind::Clb => (50, CLB_ACL_ENTRIES),
            AclKind::Alb => (20, ALB_ACL_ENTRIES),
        };
        if entries.is_empty() || entries.len() > per_call {
            return Err(ApiError::invalid_parameter(
                "AclEntries",
                format!("{} entries; 1 to {per_call} per call", entries.len()),
            ));
        }
        let version = self.acls[acl_id].ip_version;
        for (entry, _) in &entries {
            let family_ok = entry
                .split('/')
                .next()
                .unwrap_or("")
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_ipv4() == (version == 4));
            if !entry.contains('/') || !is_ip_or_cidr(entry) {
                return Err(ApiError::invalid_parameter(
                    "entry",
                    format!("`{entry}` is not a CIDR block"),
                ));
            }
            if !family_ok {
                return Err(ApiError::new(
                    400,
                    "IllegalEntry",
                    format!(
                        "Entry version is conflict to the acl version: `{entry}` in an IPv{version} ACL"
                    ),
                ));
            }
            if self
                .entries
                .iter()
                .any(|e| e.acl_id == acl_id && &e.entry == entry)
            {
                return Err(match kind {
                    AclKind::Clb => ApiError::new(
                        400,
                        "InvalidParam.AclEntryExists",
                        "The specified aclEntry already exists in the acl.",
                    ),
                    AclKind::Alb => ApiError::new(
                        400,
                        "Alb.Sim.AclEntryExists",
                        format!("`{entry}` is already in the ACL"),
                    ),
                });
            }
        }
        let held = self.entries.iter().filter(|e| e.acl_id == acl_id).count();
        if held + entries.len() > self.capacity.unwrap_or(per_acl) {
            let code = if kind == AclKind::Clb {
                "Slb.Sim.AclEntryQuotaExceeded"
            } else {
                "Alb.Sim.AclEntryQuotaExceeded"
            };
            return Err(ApiError::new(
                400,
                code,
                format!(
                    "the ACL holds {held} entries; quota {}",
                    self.capacity.unwrap_or(per_acl)
                ),
            ));
        }
        for (entry, comment) in entries {
            self.entries.push(AclEntry {
                acl_id: acl_id.to_owned(),
                kind,
                entry,
                comment,
            });
        }
        Ok(())
    }

    fn remove_clb(
        &mut self,
        acl_id: &str,
        entries: &[(String, String)],
    ) -> Result<Map<String, Value>, ApiError> {
        if let Some((missing, _)) = entries.iter().find(|(entry, _)| {
            !self
                .entries
                .iter()
                .any(|e| e.acl_id == acl_id && &e.entry == entry)
        }) {
            return Err(ApiError::new(
                400,
                "Slb.Sim.AclEntryNotExist",
                format!("`{missing}` is not in the acl"),
            ));
        }
        self.entries.retain(|e| {
            !(e.acl_id == acl_id && entries.iter().any(|(entry, _)| entry == &e.entry))
        });
        Ok(Map::new())
    }

    /// Runs an ALB write once per `ClientToken` and answers its `JobId`.
    fn alb_job(
        &mut self,
        access_key_id: &str,
        params: &Params,
        apply: impl FnOnce(&mut Self) -> Result<(), ApiError>,
    ) -> Result<Map<String, Value>, ApiError> {
        let token = params
            .get("ClientToken")
            .filter(|t| !t.is_empty())
            .map(str::to_owned);
        let key = token.map(|token| (access_key_id.to_owned(), token));
        let job = match key.as_ref().and_then(|key| self.tokens.get(key)) {
            Some(job) => job.clone(),
            None => {
                apply(self)?;
                let job = format!("job-sim{:08}", self.next_job);
                self.next_job += 1;
                if let Some(key) = key {
                    self.tokens.insert(key, job.clone());
                }
                job
            }
        };
        let mut answer = Map::new();
        answer.insert("JobId".into(), Value::String(job));
        Ok(answer)
    }

    fn describe_clb(&self, acl_id: &str) -> Map<String, Value> {
        let entries: Vec<Value> = self
            .entries
            .iter()
            .filter(|e| e.acl_id == acl_id)
            .map(|e| json!({"AclEntryIP": e.entry, "AclEntryComment": e.comment}))
            .collect();
        let mut answer = Map::new();
        answer.insert("AclId".into(), json!(acl_id));
        answer.insert("AclEntrys".into(), json!({ "AclEntry": entries }));
        answer
    }

    fn list_alb(&self, acl_id: &str) -> Map<String, Value> {
        let entries: Vec<Value> = self
            .entries
            .iter()
            .filter(|e| e.acl_id == acl_id)
            .map(|e| json!({"Entry": e.entry, "Description": e.comment, "Status": "Available"}))
            .collect();
        let mut answer = Map::new();
        answer.insert("TotalCount".into(), json!(entries.len()));
        answer.insert("MaxResults".into(), json!(100));
        answer.insert("AclEntries".into(), Value::Array(entries));
        answer
    }
}

/// How many `prefix.N.field` values there are, counting from 1.
fn params_len(params: &Params, prefix: &str, field: &str) -> usize {
    (1..)
        .take_while(|n| params.get(&format!("{prefix}.{n}.{field}")).is_some())
        .count()
}

fn clb_entries(params: &Params) -> Result<Vec<(String, String)>, ApiError> {
    let text = params.required("AclEntrys")?;
    let parsed: Vec<ClbEntry> = serde_json::from_str(text).map_err(|err| {
        ApiError::invalid_parameter("AclEntrys", format!("not an entry array: {err}"))
    })?;
    Ok(parsed.into_iter().map(|e| (e.entry, e.comment)).collect())
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

    fn slb() -> Slb {
        let acls = BTreeMap::from([
            (
                "acl-clb".to_owned(),
                AclConfig {
                    kind: AclKind::Clb,
                    region: "cn-hangzhou".into(),
                    ip_version: 4,
                },
            ),
            (
                "acl-alb".to_owned(),
                AclConfig {
                    kind: AclKind::Alb,
                    region: "cn-hangzhou".into(),
                    ip_version: 6,
                },
            ),
        ]);
        Slb::new(acls, Some(2))
    }

    #[test]
    fn clb_entries_are_added_described_and_removed() {
        let mut slb = slb();
        let add = params(&[
            ("RegionId", "cn-hangzhou"),
            ("AclId", "acl-clb"),
            (
                "AclEntrys",
                r#"[{"entry":"198.51.100.7/32","comment":"c"}]"#,
            ),
        ]);
        slb.call("ak", CLB_VERSION, "AddAccessControlListEntry", &add)
            .unwrap();
        assert_eq!(
            slb.call("ak", CLB_VERSION, "AddAccessControlListEntry", &add)
                .unwrap_err()
                .code,
            "InvalidParam.AclEntryExists"
        );
        let described = slb
            .call(
                "ak",
                CLB_VERSION,
                "DescribeAccessControlListAttribute",
                &params(&[("RegionId", "cn-hangzhou"), ("AclId", "acl-clb")]),
            )
            .unwrap();
        assert_eq!(
            described["AclEntrys"]["AclEntry"][0]["AclEntryIP"],
            "198.51.100.7/32"
        );
        slb.call("ak", CLB_VERSION, "RemoveAccessControlListEntry", &add)
            .unwrap();
        assert_eq!(
            slb.call("ak", CLB_VERSION, "RemoveAccessControlListEntry", &add)
                .unwrap_err()
                .code,
            "Slb.Sim.AclEntryNotExist"
        );

        let v6 = params(&[
            ("RegionId", "cn-hangzhou"),
            ("AclId", "acl-clb"),
            ("AclEntrys", r#"[{"entry":"2001:db8::/32"}]"#),
        ]);
        assert_eq!(
            slb.call("ak", CLB_VERSION, "AddAccessControlListEntry", &v6)
                .unwrap_err()
                .code,
            "IllegalEntry"
        );
        let elsewhere = params(&[
            ("RegionId", "cn-beijing"),
            ("AclId", "acl-clb"),
            ("AclEntrys", "[]"),
        ]);
        assert_eq!(
            slb.call("ak", CLB_VERSION, "AddAccessControlListEntry", &elsewhere)
                .unwrap_err()
                .status,
            404
        );
    }

    #[test]
    fn alb_writes_run_once_per_token_and_respect_the_quota() {
        let mut slb = slb();
        let add = |entry: &str, token: &str| {
            params(&[
                ("AclId", "acl-alb"),
                ("AclEntries.1.Entry", entry),
                ("AclEntries.1.Description", "d"),
                ("ClientToken", token),
            ])
        };
        let first = slb
            .call(
                "ak",
                ALB_VERSION,
                "AddEntriesToAcl",
                &add("2001:db8::/32", "t1"),
            )
            .unwrap();
        let again = slb
            .call(
                "ak",
                ALB_VERSION,
                "AddEntriesToAcl",
                &add("2001:db8::/32", "t1"),
            )
            .unwrap();
        assert_eq!(first["JobId"], again["JobId"]);
        assert_eq!(slb.entries().len(), 1);
        slb.call(
            "ak",
            ALB_VERSION,
            "AddEntriesToAcl",
            &add("2001:db8:1::/48", "t2"),
        )
        .unwrap();
        let err = slb
            .call(
                "ak",
                ALB_VERSION,
                "AddEntriesToAcl",
                &add("2001:db8:2::/48", "t3"),
            )
            .unwrap_err();
        assert_eq!(err.code, "Alb.Sim.AclEntryQuotaExceeded");
        let listed = slb
            .call(
                "ak",
                ALB_VERSION,
                "ListAclEntries",
                &params(&[("AclId", "acl-alb")]),
            )
            .unwrap();
        assert_eq!(listed["AclEntries"][0]["Status"], "Available");
        slb.call(
            "ak",
            ALB_VERSION,
            "RemoveEntriesFromAcl",
            &params(&[
                ("AclId", "acl-alb"),
                ("Entries.1", "2001:db8::/32"),
                ("ClientToken", "t4"),
            ]),
        )
        .unwrap();
        assert_eq!(slb.entries().len(), 1);
        let missing = params(&[("AclId", "acl-nope")]);
        assert_eq!(
            slb.call("ak", ALB_VERSION, "ListAclEntries", &missing)
                .unwrap_err()
                .code,
            "ResourceNotFound.Acl"
        );
    }
}
