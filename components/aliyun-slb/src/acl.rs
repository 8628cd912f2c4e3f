//! One ACL entry per call, on either load balancer.

use riposte_sdk::action::{self, unchanged};
use riposte_sdk::aliyun::RpcClient;
use riposte_sdk::entity::IpOrCidr;
use riposte_sdk::types::{ActionRequest, Failure, FailureKind, Outcome, PlanOutcome};
use riposte_sdk::{failure, log};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// Pages of `ListAclEntries` read at most: 1,000 entries per ACL at 100
/// per page.
const MAX_PAGES: usize = 10;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Balancer {
    Clb,
    Alb,
}

impl Balancer {
    pub(crate) fn action(self) -> &'static str {
        match self {
            Balancer::Clb => "RegionCLBProcess",
            Balancer::Alb => "RegionALBProcess",
        }
    }

    pub(crate) fn product(self) -> &'static str {
        match self {
            Balancer::Clb => "Classic Load Balancer (CLB)",
            Balancer::Alb => "Application Load Balancer (ALB)",
        }
    }

    fn version(self) -> &'static str {
        match self {
            Balancer::Clb => "2014-05-15",
            Balancer::Alb => "2020-06-16",
        }
    }
}

/// What revert needs.
#[derive(Debug, Serialize, Deserialize)]
struct Token {
    acl_id: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    region_id: String,
    entry: String,
}

struct Entry {
    acl_id: String,
    region_id: String,
    /// The CIDR block: an address as `/32` or `/128`.
    entry: String,
    marker: String,
}

impl Entry {
    fn from_request(request: &ActionRequest, balancer: Balancer) -> Result<Self, Failure> {
        let entry = match action::address(request, true)? {
            IpOrCidr::Ip(ip) if ip.is_ipv4() => format!("{ip}/32"),
            IpOrCidr::Ip(ip) => format!("{ip}/128"),
            IpOrCidr::Cidr(cidr) => cidr.to_string(),
        };
        let region_id = match balancer {
            Balancer::Alb => String::new(),
            Balancer::Clb => request
                .setting("region-id")
                .filter(|r| !r.is_empty())
                .unwrap_or(&request.target.region)
                .to_owned(),
        };
        if balancer == Balancer::Clb && region_id.is_empty() {
            return Err(failure::invalid_input(format!(
                "target `{}` has no region and no setting `region-id`",
                request.target.id
            )));
        }
        Ok(Self {
            acl_id: request.required_setting("acl-id")?.to_owned(),
            region_id,
            entry,
            marker: action::marker(request, 64),
        })
    }
}

fn call(client: &RpcClient<'_>, action: &str, params: &[(&str, String)]) -> Result<Value, Failure> {
    let query: Vec<(&str, &str)> = params.iter().map(|(k, v)| (*k, v.as_str())).collect();
    client.call(action, &query, &[]).map_err(|mut failure| {
        // CLB's answer when the entry's address family is not the ACL's:
        // the request, not the provider, is at fault.
        if failure.message.contains("IllegalEntry") {
            failure.kind = FailureKind::InvalidInput;
            failure.retryable = false;
            failure.message.push_str(
                "\nhint: the ACL holds the other address family; use an ACL of the \
                 address's IP version",
            );
        }
        failure
    })
}

/// The ACL's entries as (block, comment).
fn entries(
    client: &RpcClient<'_>,
    balancer: Balancer,
    acl_id: &str,
    region_id: &str,
) -> Result<Vec<(String, String)>, Failure> {
    let text = |value: &Value, name: &str| value[name].as_str().unwrap_or("").to_owned();
    match balancer {
        Balancer::Clb => {
            let params = [
                ("RegionId", region_id.to_owned()),
                ("AclId", acl_id.to_owned()),
            ];
            let answer = call(client, "DescribeAccessControlListAttribute", &params)?;
            let list = answer["AclEntrys"]["AclEntry"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            Ok(list
                .iter()
                .map(|e| (text(e, "AclEntryIP"), text(e, "AclEntryComment")))
                .collect())
        }
        Balancer::Alb => {
            let mut all = Vec::new();
            let mut next = String::new();
            for _ in 0..MAX_PAGES {
                let mut params = vec![
                    ("AclId", acl_id.to_owned()),
                    ("MaxResults", "100".to_owned()),
                ];
                if !next.is_empty() {
                    params.push(("NextToken", next.clone()));
                }
                let answer = call(client, "ListAclEntries", &params)?;
                let list = answer["AclEntries"].as_array().cloned().unwrap_or_default();
                all.extend(
                    list.iter()
                        .map(|e| (text(e, "Entry"), text(e, "Description"))),
                );
                next = text(&answer, "NextToken");
                if next.is_empty() {
                    break;
                }
            }
            Ok(all)
        }
    }
}

fn same_block(a: &str, b: &str) -> bool {
    match (IpOrCidr::parse(a), IpOrCidr::parse(b)) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}

pub(crate) fn execute(request: &ActionRequest, balancer: Balancer) -> Result<Outcome, Failure> {
    let entry = Entry::from_request(request, balancer)?;
    let credential = action::credential(request, "aliyun-slb")?;
    let client = RpcClient::new(&credential, &request.target.endpoint, balancer.version())?;

    let held = entries(&client, balancer, &entry.acl_id, &entry.region_id)?;
    if let Some((_, comment)) = held
        .iter()
        .find(|(block, _)| same_block(block, &entry.entry))
    {
        if *comment == entry.marker {
            return outcome(balancer, &entry, false, None);
        }
        return Ok(unchanged(format!(
            "{} is already in ACL {} (comment `{comment}`)",
            entry.entry, entry.acl_id
        )));
    }

    let job = match balancer {
        Balancer::Clb => {
            let entrys = json!([{"entry": entry.entry, "comment": entry.marker}]).to_string();
            let params = [
                ("RegionId", entry.region_id.clone()),
                ("AclId", entry.acl_id.clone()),
                ("AclEntrys", entrys),
            ];
            call(&client, "AddAccessControlListEntry", &params)?;
            None
        }
        Balancer::Alb => {
            let params = [
                ("AclId", entry.acl_id.clone()),
                ("AclEntries.1.Entry", entry.entry.clone()),
                ("AclEntries.1.Description", entry.marker.clone()),
                ("ClientToken", entry.marker.clone()),
            ];
            let answer = call(&client, "AddEntriesToAcl", &params)?;
            answer["JobId"].as_str().map(str::to_owned)
        }
    };
    log::info(&format!("acl {} blocks {}", entry.acl_id, entry.entry));
    outcome(balancer, &entry, true, job)
}

fn outcome(
    balancer: Balancer,
    entry: &Entry,
    changed: bool,
    job: Option<String>,
) -> Result<Outcome, Failure> {
    let token = Token {
        acl_id: entry.acl_id.clone(),
        region_id: entry.region_id.clone(),
        entry: entry.entry.clone(),
    };
    let job = job.map(|job| format!(" (job {job})")).unwrap_or_default();
    Ok(Outcome {
        detail: format!(
            "{} ACL {} {} {}{job}",
            if balancer == Balancer::Clb {
                "CLB"
            } else {
                "ALB"
            },
            entry.acl_id,
            if changed {
                "now lists"
            } else {
                "already lists"
            },
            entry.entry
        ),
        changed,
        revert_token: Some(action::revert_token(&token)?),
        items: Vec::new(),
    })
}

pub(crate) fn revert(
    request: &ActionRequest,
    balancer: Balancer,
    token: &str,
) -> Result<Outcome, Failure> {
    let token: Token = action::parse_revert_token(token, balancer.action())?;
    let credential = action::credential(request, "aliyun-slb")?;
    let client = RpcClient::new(&credential, &request.target.endpoint, balancer.version())?;
    let gone = || {
        unchanged(format!(
            "{} was already out of ACL {}",
            token.entry, token.acl_id
        ))
    };

    let held = match entries(&client, balancer, &token.acl_id, &token.region_id) {
        Ok(held) => held,
        Err(failure) if failure.kind == FailureKind::NotFound => return Ok(gone()),
        Err(failure) => return Err(failure),
    };
    if !held
        .iter()
        .any(|(block, _)| same_block(block, &token.entry))
    {
        return Ok(gone());
    }
    match balancer {
        Balancer::Clb => {
            let params = [
                ("RegionId", token.region_id.clone()),
                ("AclId", token.acl_id.clone()),
                ("AclEntrys", json!([{"entry": token.entry}]).to_string()),
            ];
            call(&client, "RemoveAccessControlListEntry", &params)?;
        }
        Balancer::Alb => {
            let params = [
                ("AclId", token.acl_id.clone()),
                ("Entries.1", token.entry.clone()),
                (
                    "ClientToken",
                    format!("revert-{}", action::marker(request, 56)),
                ),
            ];
            call(&client, "RemoveEntriesFromAcl", &params)?;
        }
    }
    Ok(Outcome {
        detail: format!("removed {} from ACL {}", token.entry, token.acl_id),
        changed: true,
        revert_token: None,
        items: Vec::new(),
    })
}

pub(crate) fn plan(request: &ActionRequest, balancer: Balancer) -> Result<PlanOutcome, Failure> {
    let entry = Entry::from_request(request, balancer)?;
    Ok(PlanOutcome {
        changes: vec![format!(
            "add {} to {} ACL {} with comment `{}`",
            entry.entry,
            balancer.product(),
            entry.acl_id,
            entry.marker
        )],
        reversible: true,
    })
}
