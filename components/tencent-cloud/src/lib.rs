//! Tencent Cloud handling component: IP blocking on Cloud Firewall and WAF.
//!
//! - `TencentCFWBlockIP` ([`cfw`]): adds an address to Cloud Firewall's
//!   intrusion-prevention block list (`CreateBlockIgnoreRuleList`,
//!   RuleType 1); revert removes it (`DeleteBlockIgnoreRuleList`).
//! - `TencentWafBlockIP` ([`waf`]): adds an address or network to a
//!   protected domain's WAF block list (`CreateIpAccessControl`,
//!   ActionType 42); revert deletes that rule (`DeleteIpAccessControlV2`).
//!
//! Both call Tencent Cloud API 3.0 (`POST /`, JSON body, signed with
//! `TC3-HMAC-SHA256`) through `riposte_sdk::tencent`, which maps errors
//! such as `AuthFailure.UnauthorizedOperation` (permission),
//! `ResourceNotFound` (not found), `LimitExceeded` (quota) and
//! `RequestLimitExceeded` (throttling) to typed failures that keep the
//! code and `RequestId`. Sources for each API are in the modules.

mod cfw;
mod waf;

use riposte_sdk::action::setting;
use riposte_sdk::types::{
    ActionInfo, ActionRequest, ComponentInfo, EntityKind, Failure, Outcome, PlanOutcome,
};
use riposte_sdk::{export, failure};

/// The hosts this component calls: the Chinese and international sites.
const HOSTS: &[&str] = &[
    "https://cfw.tencentcloudapi.com",
    "https://cfw.intl.tencentcloudapi.com",
    "https://waf.tencentcloudapi.com",
    "https://waf.intl.tencentcloudapi.com",
];

struct TencentCloud;

impl riposte_sdk::Guest for TencentCloud {
    fn describe() -> ComponentInfo {
        ComponentInfo {
            name: "tencent-cloud".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "Tencent Cloud: block IP addresses on Cloud Firewall and WAF".into(),
            actions: vec![
                ActionInfo {
                    id: cfw::ACTION.into(),
                    action_type: "ip-block".into(),
                    description: "Add an IPv4 or IPv6 address to Cloud Firewall's intrusion \
                                  prevention block list (inbound by default); revert removes \
                                  it. CIDR networks and domains are not supported by this list"
                        .into(),
                    entity_kinds: vec![EntityKind::Ip],
                    reversible: true,
                    retryable: true,
                    settings: vec![setting(
                        "direction",
                        "`inbound` (default), `outbound` or `both`: which traffic of the \
                         address is blocked",
                        false,
                    )],
                },
                ActionInfo {
                    id: waf::ACTION.into(),
                    action_type: "ip-block".into(),
                    description: "Block an IPv4/IPv6 address or CIDR network on a domain \
                                  protected by Tencent WAF (IP block list, ActionType 42); \
                                  revert deletes the rule. Domains are not supported"
                        .into(),
                    entity_kinds: vec![EntityKind::Ip, EntityKind::Cidr],
                    reversible: true,
                    retryable: true,
                    settings: vec![
                        setting(
                            "domain",
                            "the protected domain, e.g. www.example.com, or `global` for \
                             every domain of the instance",
                            true,
                        ),
                        setting(
                            "instance-id",
                            "the WAF instance id, e.g. waf_2kxq5hru00n2dxmx",
                            false,
                        ),
                        setting(
                            "edition",
                            "`sparta-waf` (SaaS) or `clb-waf` (load balancer)",
                            false,
                        ),
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
        "tencent-cloud has no action `{action}`; it has `{}` and `{}`",
        cfw::ACTION,
        waf::ACTION
    ))
}

export!(TencentCloud);
