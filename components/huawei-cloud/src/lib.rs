//! Huawei Cloud handling component: IP blocking on Cloud Firewall and WAF.
//!
//! - `HuaWeiRegionCfwBlockIP` ([`cfw`]): adds an address or network to a
//!   protection object's black list (`AddBlackWhiteList`, list_type 4);
//!   revert deletes the entry (`DeleteBlackWhiteList`).
//! - `HuaWeiWafBlockIP` ([`waf`]): adds a block rule (`white` 0) to a WAF
//!   protection policy (`CreateWhiteblackipRule`); revert deletes it
//!   (`DeleteWhiteBlackIpRule`).
//!
//! Both call regional REST endpoints (`cfw.<region>.myhuaweicloud.com`,
//! `waf.<region>.myhuaweicloud.com`) signed with APIG `SDK-HMAC-SHA256`
//! through `riposte_sdk::huawei`, which maps `APIGW.0306` and 401/403 to
//! permission, `APIGW.0310` to cross-account, `APIGW.0308` to throttling,
//! `CFW.00200005` and 404 to not found and quota answers to quota, keeping
//! the code and `request_id`. Sources for each API are in the modules.

mod cfw;
mod waf;

use riposte_sdk::action::setting;
use riposte_sdk::types::{
    ActionInfo, ActionRequest, ComponentInfo, EntityKind, Failure, Outcome, PlanOutcome,
};
use riposte_sdk::{export, failure};

/// Every regional endpoint of both services.
const HOSTS: &[&str] = &["https://*.myhuaweicloud.com"];

struct HuaweiCloud;

impl riposte_sdk::Guest for HuaweiCloud {
    fn describe() -> ComponentInfo {
        let project = setting(
            "project-id",
            "the project id of the region (IAM console, My Credentials > Projects)",
            true,
        );
        let enterprise = setting(
            "enterprise-project-id",
            "the enterprise project id, when used",
            false,
        );
        ComponentInfo {
            name: "huawei-cloud".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "Huawei Cloud: block IP addresses on Cloud Firewall and WAF".into(),
            actions: vec![
                ActionInfo {
                    id: cfw::ACTION.into(),
                    action_type: "ip-block".into(),
                    description: "Add an IPv4/IPv6 address or CIDR network to the black list \
                                  of a Cloud Firewall protection object (as source address by \
                                  default, any protocol and port); revert deletes the entry. \
                                  Domains are not supported"
                        .into(),
                    entity_kinds: vec![EntityKind::Ip, EntityKind::Cidr],
                    reversible: true,
                    retryable: true,
                    settings: vec![
                        project.clone(),
                        setting(
                            "object-id",
                            "the protection object id (ListFirewallDetail: \
                             data.records.protect_objects.object_id)",
                            true,
                        ),
                        setting(
                            "fw-instance-id",
                            "the firewall instance id, when the account has several",
                            false,
                        ),
                        setting(
                            "direction",
                            "`source` (default: traffic from the address) or `destination`",
                            false,
                        ),
                        enterprise.clone(),
                    ],
                },
                ActionInfo {
                    id: waf::ACTION.into(),
                    action_type: "ip-block".into(),
                    description: "Block an IPv4/IPv6 address or CIDR network with a black-list \
                                  rule in a WAF protection policy; revert deletes the rule. \
                                  Domains are not supported"
                        .into(),
                    entity_kinds: vec![EntityKind::Ip, EntityKind::Cidr],
                    reversible: true,
                    retryable: true,
                    settings: vec![
                        project,
                        setting("policy-id", "the protection policy id (ListPolicy)", true),
                        enterprise,
                    ],
                },
            ],
            hosts: HOSTS.iter().map(|host| host.to_string()).collect(),
            needs_credential: true,
        }
    }

    fn execute(request: ActionRequest) -> Result<Outcome, Failure> {
        match request.action.as_str() {
            cfw::ACTION => cfw::execute(&request),
            waf::ACTION => waf::execute(&request),
            other => Err(unknown(other)),
        }
    }

    fn revert(request: ActionRequest, token: String) -> Result<Outcome, Failure> {
        match request.action.as_str() {
            cfw::ACTION => cfw::revert(&request, &token),
            waf::ACTION => waf::revert(&request, &token),
            other => Err(unknown(other)),
        }
    }

    fn plan(request: ActionRequest) -> Result<PlanOutcome, Failure> {
        match request.action.as_str() {
            cfw::ACTION => cfw::plan(&request),
            waf::ACTION => waf::plan(&request),
            other => Err(unknown(other)),
        }
    }
}

fn unknown(action: &str) -> Failure {
    failure::invalid_input(format!(
        "huawei-cloud has no action `{action}`; it has `{}` and `{}`",
        cfw::ACTION,
        waf::ACTION
    ))
}

/// The optional query parameters every call carries when set.
fn scope_query<'a>(request: &ActionRequest, names: &[&'a str]) -> Vec<(&'a str, String)> {
    names
        .iter()
        .filter_map(|name| {
            let setting = request.setting(name).filter(|value| !value.is_empty())?;
            Some((query_name(name), setting.to_owned()))
        })
        .collect()
}

/// The query parameter of a setting: `fw-instance-id` is `fw_instance_id`.
fn query_name(setting: &str) -> &'static str {
    match setting {
        "fw-instance-id" => "fw_instance_id",
        _ => "enterprise_project_id",
    }
}

export!(HuaweiCloud);
