//! Alibaba Cloud CDN and DCDN handling component.
//!
//! - `CDNProcess` ([`cdn`]): adds an address or network to the IP
//!   blacklist (`ip_black_list_set`) of an accelerated CDN domain; revert
//!   takes it out again.
//! - `DcdnWafBanIP` ([`dcdn`]): bans an address or network with a rule in
//!   a DCDN WAF IP-blacklist policy; revert deletes the rule.
//!
//! Both are RPC style, `POST /`, signed with ACS3-HMAC-SHA256. Sources for
//! each API are in the modules.

mod cdn;
mod dcdn;

use riposte_sdk::action::setting;
use riposte_sdk::types::{
    ActionInfo, ActionRequest, ComponentInfo, EntityKind, Failure, Outcome, PlanOutcome,
};
use riposte_sdk::{export, failure};

/// The CDN and DCDN API endpoints (both are global).
const HOSTS: &[&str] = &["https://cdn.aliyuncs.com", "https://dcdn.aliyuncs.com"];

struct AliyunCdn;

impl riposte_sdk::Guest for AliyunCdn {
    fn describe() -> ComponentInfo {
        ComponentInfo {
            name: "aliyun-cdn".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "Alibaba Cloud CDN and DCDN: IP blacklists and WAF IP bans".into(),
            actions: vec![
                ActionInfo {
                    id: cdn::ACTION.into(),
                    action_type: "ip-block".into(),
                    description: "Add an IPv4/IPv6 address or CIDR network to the IP blacklist \
                                  (ip_black_list_set) of an accelerated CDN domain; revert takes \
                                  it out. Domains are not supported"
                        .into(),
                    entity_kinds: vec![EntityKind::Ip, EntityKind::Cidr],
                    reversible: true,
                    retryable: true,
                    settings: vec![setting(
                        "domain",
                        "the accelerated domain, e.g. www.example.com",
                        true,
                    )],
                },
                ActionInfo {
                    id: dcdn::ACTION.into(),
                    action_type: "ip-block".into(),
                    description: "Ban an IPv4/IPv6 address or CIDR network with a rule in a DCDN \
                                  WAF IP-blacklist policy; revert deletes the rule. Domains are \
                                  not supported"
                        .into(),
                    entity_kinds: vec![EntityKind::Ip, EntityKind::Cidr],
                    reversible: true,
                    retryable: true,
                    settings: vec![setting(
                        "policy-id",
                        "the DCDN WAF protection policy of the ip_blacklist scene, e.g. 1000001",
                        true,
                    )],
                },
            ],
            hosts: HOSTS.iter().map(|host| host.to_string()).collect(),
            needs_credential: true,
        }
    }

    fn execute(request: ActionRequest) -> Result<Outcome, Failure> {
        match request.action.as_str() {
            cdn::ACTION => cdn::execute(&request),
            dcdn::ACTION => dcdn::execute(&request),
            other => Err(unknown(other)),
        }
    }

    fn revert(request: ActionRequest, token: String) -> Result<Outcome, Failure> {
        match request.action.as_str() {
            cdn::ACTION => cdn::revert(&request, &token),
            dcdn::ACTION => dcdn::revert(&request, &token),
            other => Err(unknown(other)),
        }
    }

    fn plan(request: ActionRequest) -> Result<PlanOutcome, Failure> {
        match request.action.as_str() {
            cdn::ACTION => cdn::plan(&request),
            dcdn::ACTION => dcdn::plan(&request),
            other => Err(unknown(other)),
        }
    }
}

fn unknown(action: &str) -> Failure {
    failure::invalid_input(format!(
        "aliyun-cdn has no action `{action}`; it has `{}` and `{}`",
        cdn::ACTION,
        dcdn::ACTION
    ))
}

/// Calls `action` with query parameters.
fn call(
    client: &riposte_sdk::aliyun::RpcClient<'_>,
    action: &str,
    params: &[(&str, String)],
) -> Result<serde_json::Value, Failure> {
    let query: Vec<(&str, &str)> = params.iter().map(|(k, v)| (*k, v.as_str())).collect();
    client.call(action, &query, &[])
}

export!(AliyunCdn);
