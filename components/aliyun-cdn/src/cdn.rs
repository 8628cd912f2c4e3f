//! `CDNProcess`: the IP blacklist of an accelerated CDN domain.
//!
//! API: `Cdn` version 2018-05-10, endpoint `cdn.aliyuncs.com`; parameters
//! from the official Go SDK request models (`aliyun/alibabacloud-go-sdk`,
//! `cdn-20180510/client`) and `shared/reference/providers.md` §1.4.6:
//! - `DescribeCdnDomainConfigs` (`DomainName`, `FunctionNames`
//!   `ip_black_list_set`): the current `ip_list` and its `ConfigId`.
//! - `BatchSetCdnDomainConfig` (`DomainNames`, `Functions` JSON
//!   `[{"functionName":"ip_black_list_set","functionArgs":[{"argName":"ip_list","argValue":"a,b"}]}]`):
//!   sets the whole list.
//! - `DeleteSpecificConfig` (`DomainName`, `ConfigId`): removes the
//!   feature when the last address leaves the list.
//!
//! The list is one value, so adding and removing are read-modify-write:
//! two writers at the same moment can lose one update (the API offers no
//! version check). The list has no per-entry note: an address already
//! listed on a first attempt is reported as already blocked with nothing
//! to revert; on a retry it is taken as this task's own earlier attempt.

use riposte_sdk::action::{self, unchanged};
use riposte_sdk::aliyun::RpcClient;
use riposte_sdk::entity::IpOrCidr;
use riposte_sdk::log;
use riposte_sdk::types::{ActionRequest, Failure, Outcome, PlanOutcome};
use serde::{Deserialize, Serialize};
use serde_json::json;

pub(crate) const ACTION: &str = "CDNProcess";
const VERSION: &str = "2018-05-10";
const FUNCTION: &str = "ip_black_list_set";

#[derive(Debug, Serialize, Deserialize)]
struct Token {
    domain: String,
    entry: String,
}

/// The blacklist as it is now: its config id and entries.
struct Blacklist {
    config_id: Option<String>,
    entries: Vec<String>,
}

impl Blacklist {
    fn read(client: &RpcClient<'_>, domain: &str) -> Result<Self, Failure> {
        let params = [
            ("DomainName", domain.to_owned()),
            ("FunctionNames", FUNCTION.to_owned()),
        ];
        let answer = super::call(client, "DescribeCdnDomainConfigs", &params)?;
        let configs = answer["DomainConfigs"]["DomainConfig"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let Some(config) = configs.iter().find(|c| c["FunctionName"] == FUNCTION) else {
            return Ok(Self {
                config_id: None,
                entries: Vec::new(),
            });
        };
        let args = config["FunctionArgs"]["FunctionArg"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let list = args
            .iter()
            .find(|arg| arg["ArgName"] == "ip_list")
            .and_then(|arg| arg["ArgValue"].as_str())
            .unwrap_or("");
        Ok(Self {
            config_id: config["ConfigId"]
                .as_str()
                .map(str::to_owned)
                .or_else(|| config["ConfigId"].as_u64().map(|id| id.to_string())),
            entries: list
                .split(',')
                .map(str::trim)
                .filter(|e| !e.is_empty())
                .map(str::to_owned)
                .collect(),
        })
    }

    fn contains(&self, entry: &IpOrCidr) -> bool {
        self.entries
            .iter()
            .any(|held| IpOrCidr::parse(held).ok().as_ref() == Some(entry))
    }

    fn write(&self, client: &RpcClient<'_>, domain: &str) -> Result<(), Failure> {
        if self.entries.is_empty() {
            if let Some(config_id) = &self.config_id {
                let params = [
                    ("DomainName", domain.to_owned()),
                    ("ConfigId", config_id.clone()),
                ];
                super::call(client, "DeleteSpecificConfig", &params)?;
            }
            return Ok(());
        }
        let functions = json!([{
            "functionName": FUNCTION,
            "functionArgs": [{"argName": "ip_list", "argValue": self.entries.join(",")}],
        }]);
        let params = [
            ("DomainNames", domain.to_owned()),
            ("Functions", functions.to_string()),
        ];
        super::call(client, "BatchSetCdnDomainConfig", &params)?;
        Ok(())
    }
}

fn checked(request: &ActionRequest) -> Result<(IpOrCidr, String), Failure> {
    let entry = action::address(request, true)?;
    let domain = request.required_setting("domain")?.to_owned();
    Ok((entry, domain))
}

pub(crate) fn execute(request: &ActionRequest) -> Result<Outcome, Failure> {
    let (entry, domain) = checked(request)?;
    let credential = action::credential(request, "aliyun-cdn")?;
    let client = RpcClient::new(&credential, &request.target.endpoint, VERSION)?;

    let mut list = Blacklist::read(&client, &domain)?;
    let changed = if list.contains(&entry) {
        if request.attempt <= 1 {
            return Ok(unchanged(format!(
                "{entry} is already on the IP blacklist of `{domain}`"
            )));
        }
        false
    } else {
        list.entries.push(entry.to_string());
        list.write(&client, &domain)?;
        log::info(&format!("cdn blacklist of {domain} lists {entry}"));
        true
    };
    let token = Token {
        domain: domain.clone(),
        entry: entry.to_string(),
    };
    Ok(Outcome {
        detail: format!(
            "the IP blacklist of `{domain}` {} {entry} ({} entries)",
            if changed {
                "now lists"
            } else {
                "already lists (an earlier attempt)"
            },
            list.entries.len()
        ),
        changed,
        revert_token: Some(riposte_sdk::action::revert_token(&token)?),
        items: Vec::new(),
    })
}

pub(crate) fn revert(request: &ActionRequest, token: &str) -> Result<Outcome, Failure> {
    let token: Token = riposte_sdk::action::parse_revert_token(token, ACTION)?;
    let entry = IpOrCidr::parse(&token.entry)
        .map_err(|err| riposte_sdk::failure::invalid_input(format!("revert token entry: {err}")))?;
    let credential = action::credential(request, "aliyun-cdn")?;
    let client = RpcClient::new(&credential, &request.target.endpoint, VERSION)?;
    let mut list = Blacklist::read(&client, &token.domain)?;
    if !list.contains(&entry) {
        return Ok(unchanged(format!(
            "{entry} was already off the IP blacklist of `{}`",
            token.domain
        )));
    }
    list.entries
        .retain(|held| IpOrCidr::parse(held).ok() != Some(entry));
    list.write(&client, &token.domain)?;
    Ok(Outcome {
        detail: format!(
            "took {entry} off the IP blacklist of `{}` ({} entries left)",
            token.domain,
            list.entries.len()
        ),
        changed: true,
        revert_token: None,
        items: Vec::new(),
    })
}

pub(crate) fn plan(request: &ActionRequest) -> Result<PlanOutcome, Failure> {
    let (entry, domain) = checked(request)?;
    Ok(PlanOutcome {
        changes: vec![format!(
            "add {entry} to the IP blacklist (ip_black_list_set) of CDN domain `{domain}`"
        )],
        reversible: true,
    })
}
