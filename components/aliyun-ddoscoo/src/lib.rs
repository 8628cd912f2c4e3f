//! Alibaba Cloud Anti-DDoS Proxy handling component: the IP blacklist and
//! whitelist of an Anti-DDoS Pro or Premium instance.
//!
//! - `AliyunDDoSProxyBlockIP`: `AddAutoCcBlacklist` (`InstanceId`,
//!   `Blacklist` `[{"src"}]`, `ExpireTime` 300 to 604,800 seconds); revert
//!   `DeleteAutoCcBlacklist`.
//! - `AliyunDDoSProxyWhiteIP`: `AddAutoCcWhitelist` (`Whitelist`,
//!   optional `ExpireTime`, none meaning permanent); revert
//!   `DeleteAutoCcWhitelist`.
//!
//! API: `ddoscoo` version 2020-01-01, RPC style, `POST /`, signed with
//! ACS3-HMAC-SHA256 (`shared/reference/providers.md` §1.4.5; parameters
//! from the API reference,
//! <https://help.aliyun.com/zh/anti-ddos/anti-ddos-pro-and-premium/developer-reference/api-ddoscoo-2020-01-01-addautoccblacklist>,
//! `…-describeautoccblacklist`, `…-deleteautoccblacklist`,
//! `…-addautoccwhitelist`, `…-deleteautoccwhitelist`). Both calls allow 10
//! requests per second per account.
//!
//! The lists hold single addresses with no comment, so a listed address
//! cannot be traced to a task: `execute` looks the address up first
//! (`DescribeAutoCc*list` with `KeyWord`), and when it is already listed,
//! a first attempt reports "already listed" with nothing to revert, while
//! a retry (attempt 2 or later) takes it as its own earlier attempt whose
//! answer was lost and keeps a revert token. The blacklist has no
//! permanent entries: a block without a duration lasts the maximum, seven
//! days, on the provider side. Revert looks the address up and deletes it
//! only when listed.

use riposte_sdk::action::{self, setting, unchanged};
use riposte_sdk::aliyun::RpcClient;
use riposte_sdk::entity::IpOrCidr;
use riposte_sdk::types::{
    ActionInfo, ActionRequest, ComponentInfo, EntityKind, Failure, FailureKind, Outcome,
    PlanOutcome,
};
use riposte_sdk::{export, failure, log};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// Anti-DDoS Proxy API version.
const VERSION: &str = "2020-01-01";

/// The API endpoints: Chinese mainland and outside it.
const HOSTS: &[&str] = &[
    "https://ddoscoo.cn-hangzhou.aliyuncs.com",
    "https://ddoscoo.ap-southeast-1.aliyuncs.com",
];

/// `ExpireTime` bounds of the blacklist, in seconds (documented).
const MIN_EXPIRY: u64 = 300;
const MAX_EXPIRY: u64 = 604_800;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum List {
    Black,
    White,
}

impl List {
    fn of(action: &str) -> Result<Self, Failure> {
        match action {
            "AliyunDDoSProxyBlockIP" => Ok(List::Black),
            "AliyunDDoSProxyWhiteIP" => Ok(List::White),
            other => Err(failure::invalid_input(format!(
                "aliyun-ddoscoo has no action `{other}`; it has `AliyunDDoSProxyBlockIP` and \
                 `AliyunDDoSProxyWhiteIP`"
            ))),
        }
    }

    /// The suffix of the API names and their list parameter.
    fn name(self) -> &'static str {
        match self {
            List::Black => "Blacklist",
            List::White => "Whitelist",
        }
    }

    fn label(self) -> &'static str {
        match self {
            List::Black => "blacklist",
            List::White => "whitelist",
        }
    }
}

/// What revert needs.
#[derive(Debug, Serialize, Deserialize)]
struct Token {
    instance_id: String,
    ip: String,
}

struct Entry {
    list: List,
    instance_id: String,
    ip: String,
    /// `ExpireTime` in seconds; `None` is permanent (whitelist only).
    expiry: Option<u64>,
}

impl Entry {
    fn from_request(request: &ActionRequest) -> Result<Self, Failure> {
        let list = List::of(&request.action)?;
        let IpOrCidr::Ip(ip) = action::address(request, false)? else {
            return Err(failure::internal(
                "a network passed the single-address check",
            ));
        };
        let expiry = match (list, request.duration_seconds) {
            (_, Some(seconds)) => Some(seconds.clamp(MIN_EXPIRY, MAX_EXPIRY)),
            (List::Black, None) => Some(MAX_EXPIRY),
            (List::White, None) => None,
        };
        Ok(Self {
            list,
            instance_id: request.required_setting("instance-id")?.to_owned(),
            ip: ip.to_string(),
            expiry,
        })
    }
}

fn call(client: &RpcClient<'_>, action: &str, params: &[(&str, String)]) -> Result<Value, Failure> {
    let query: Vec<(&str, &str)> = params.iter().map(|(k, v)| (*k, v.as_str())).collect();
    client.call(action, &query, &[])
}

/// Whether the address is on the list now.
fn listed(
    client: &RpcClient<'_>,
    list: List,
    instance_id: &str,
    ip: &str,
) -> Result<bool, Failure> {
    let params = [
        ("InstanceId", instance_id.to_owned()),
        ("KeyWord", ip.to_owned()),
        ("PageNumber", "1".to_owned()),
        ("PageSize", "50".to_owned()),
    ];
    let answer = call(client, &format!("DescribeAutoCc{}", list.name()), &params)?;
    let items = answer[format!("AutoCc{}", list.name())]
        .as_array()
        .cloned()
        .unwrap_or_default();
    Ok(items.iter().any(|item| item["SourceIp"] == ip))
}

struct AliyunDdoscoo;

impl riposte_sdk::Guest for AliyunDdoscoo {
    fn describe() -> ComponentInfo {
        let instance = setting(
            "instance-id",
            "the Anti-DDoS Proxy instance, e.g. ddoscoo-cn-mp91j1ao****",
            true,
        );
        ComponentInfo {
            name: "aliyun-ddoscoo".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "Alibaba Cloud Anti-DDoS Proxy: IP blacklist and whitelist".into(),
            actions: vec![
                ActionInfo {
                    id: "AliyunDDoSProxyBlockIP".into(),
                    action_type: "ip-block".into(),
                    description: "Add an IPv4 or IPv6 address to an Anti-DDoS Proxy instance's \
                                  blacklist (expires on the provider after the duration, at \
                                  most seven days); revert removes it. CIDR networks and \
                                  domains are not supported"
                        .into(),
                    entity_kinds: vec![EntityKind::Ip],
                    reversible: true,
                    retryable: true,
                    settings: vec![instance.clone()],
                },
                ActionInfo {
                    id: "AliyunDDoSProxyWhiteIP".into(),
                    action_type: "ip-allowlist".into(),
                    description: "Add an IPv4 or IPv6 address to an Anti-DDoS Proxy instance's \
                                  whitelist (permanent unless a duration is given); revert \
                                  removes it. CIDR networks and domains are not supported"
                        .into(),
                    entity_kinds: vec![EntityKind::Ip],
                    reversible: true,
                    retryable: true,
                    settings: vec![instance],
                },
            ],
            hosts: HOSTS.iter().map(|host| host.to_string()).collect(),
            needs_credential: true,
        }
    }

    fn execute(request: ActionRequest) -> Result<Outcome, Failure> {
        let entry = Entry::from_request(&request)?;
        let credential = action::credential(&request, "aliyun-ddoscoo")?;
        let client = RpcClient::new(&credential, &request.target.endpoint, VERSION)?;

        let changed = if listed(&client, entry.list, &entry.instance_id, &entry.ip)? {
            if request.attempt <= 1 {
                return Ok(unchanged(format!(
                    "{} is already on the {} of {}",
                    entry.ip,
                    entry.list.label(),
                    entry.instance_id
                )));
            }
            false
        } else {
            let mut params = vec![
                ("InstanceId", entry.instance_id.clone()),
                (entry.list.name(), json!([{ "src": entry.ip }]).to_string()),
            ];
            if let Some(seconds) = entry.expiry {
                params.push(("ExpireTime", seconds.to_string()));
            }
            call(&client, &format!("AddAutoCc{}", entry.list.name()), &params)?;
            log::info(&format!(
                "{} of {} lists {}",
                entry.list.label(),
                entry.instance_id,
                entry.ip
            ));
            true
        };
        let token = Token {
            instance_id: entry.instance_id.clone(),
            ip: entry.ip.clone(),
        };
        let until = entry
            .expiry
            .map_or_else(|| "permanently".to_owned(), |s| format!("for {s} s"));
        Ok(Outcome {
            detail: format!(
                "{} of {} {} {} {until}",
                entry.list.label(),
                entry.instance_id,
                if changed {
                    "lists"
                } else {
                    "already lists (an earlier attempt)"
                },
                entry.ip
            ),
            changed,
            revert_token: Some(action::revert_token(&token)?),
            items: Vec::new(),
        })
    }

    fn revert(request: ActionRequest, token: String) -> Result<Outcome, Failure> {
        let list = List::of(&request.action)?;
        let token: Token = action::parse_revert_token(&token, &request.action)?;
        let credential = action::credential(&request, "aliyun-ddoscoo")?;
        let client = RpcClient::new(&credential, &request.target.endpoint, VERSION)?;
        let gone = || unchanged(format!("{} was already off the {}", token.ip, list.label()));
        match listed(&client, list, &token.instance_id, &token.ip) {
            Ok(true) => {}
            Ok(false) => return Ok(gone()),
            Err(failure) if failure.kind == FailureKind::NotFound => return Ok(gone()),
            Err(failure) => return Err(failure),
        }
        let params = [
            ("InstanceId", token.instance_id.clone()),
            (list.name(), json!([{ "src": token.ip }]).to_string()),
        ];
        call(&client, &format!("DeleteAutoCc{}", list.name()), &params)?;
        Ok(Outcome {
            detail: format!(
                "removed {} from the {} of {}",
                token.ip,
                list.label(),
                token.instance_id
            ),
            changed: true,
            revert_token: None,
            items: Vec::new(),
        })
    }

    fn plan(request: ActionRequest) -> Result<PlanOutcome, Failure> {
        let entry = Entry::from_request(&request)?;
        let until = entry
            .expiry
            .map_or_else(|| "permanently".to_owned(), |s| format!("for {s} s"));
        Ok(PlanOutcome {
            changes: vec![format!(
                "add {} to the {} of Anti-DDoS Proxy instance {} {until}",
                entry.ip,
                entry.list.label(),
                entry.instance_id
            )],
            reversible: true,
        })
    }
}

export!(AliyunDdoscoo);
