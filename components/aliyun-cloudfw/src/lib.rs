//! Alibaba Cloud Firewall handling component: access control policies on
//! the Internet border.
//!
//! Five actions, each one `AddControlPolicy` call (after a lookup) whose
//! revert is `DeleteControlPolicy`:
//!
//! | action | type | policy |
//! |---|---|---|
//! | `AliyunFirewallProcess` | ip-block | inbound `drop` from the address |
//! | `CfwWhiteListBatch` | ip-allowlist | inbound `accept` from the address |
//! | `AliyunFirewallMonitorIPin` | ip-monitor | inbound `log` from the address |
//! | `AliyunFirewallMonitorIPOut` | ip-monitor | outbound `log` to the address |
//! | `AliyunCFWBlockDNS` | domain-block | outbound `drop` to the domain (TCP, HTTP and HTTPS) |
//!
//! API: `Cloudfw` version 2017-12-07, RPC style, `POST /`, signed with
//! ACS3-HMAC-SHA256 (`shared/reference/providers.md` §1.4.2; parameter
//! and answer tables from the Alibaba Cloud API reference, mirrored in
//! <https://github.com/AlibabaCloudDocs/cfw> `cn.zh-CN/API参考/访问控制API/`):
//! - `DescribeControlPolicy` (`Direction`, `CurrentPage`, `PageSize`,
//!   fuzzy `Description`; answers `Policys` with `AclUuid`, `AclAction`,
//!   `Description`): the lookup. The API has no client token, so each
//!   policy's `Description` is this task's marker (`riposte-` and the
//!   idempotency key); a policy that already carries it is the task's own
//!   from an attempt whose answer was lost, and is reused.
//! - `AddControlPolicy` (`AclAction`, `Direction`, `Source`/`SourceType`
//!   `net` as CIDR, `Destination`/`DestinationType` `net` or `domain`,
//!   `Proto`, `ApplicationName` or `ApplicationNameList.N`, `NewOrder`,
//!   `Description`, `IpVersion`): answers `AclUuid`.
//! - `DeleteControlPolicy` (`AclUuid`, `Direction`): a not-found answer
//!   means already gone.
//!
//! The ACL APIs allow 10 calls per second per account
//! (<https://www.alibabacloud.com/help/en/cloud-firewall/developer-reference/api-cloudfw-2017-12-07-addcontrolpolicy>).
//! Every call of this component is at most two requests; a
//! `Throttling.User` answer becomes a retryable `throttled` failure that
//! asks the host to wait one second (`retry-after-ms`), the length of the
//! limit's window.

mod policy;

use riposte_sdk::action::setting;
use riposte_sdk::types::{ActionInfo, ActionRequest, ComponentInfo, Failure, Outcome, PlanOutcome};
use riposte_sdk::{export, failure};

use policy::ACTIONS;

/// The two Cloud Firewall API endpoints.
const HOSTS: &[&str] = &[
    "https://cloudfw.cn-hangzhou.aliyuncs.com",
    "https://cloudfw.ap-southeast-1.aliyuncs.com",
];

struct AliyunCloudfw;

impl riposte_sdk::Guest for AliyunCloudfw {
    fn describe() -> ComponentInfo {
        let actions = ACTIONS
            .iter()
            .map(|spec| ActionInfo {
                id: spec.id.into(),
                action_type: spec.action_type.into(),
                description: spec.description.into(),
                entity_kinds: spec.kinds.to_vec(),
                reversible: true,
                retryable: true,
                settings: vec![setting(
                    "priority",
                    "the policy's priority (`NewOrder`): 1 (default) puts it first, -1 last",
                    false,
                )],
            })
            .collect();
        ComponentInfo {
            name: "aliyun-cloudfw".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "Alibaba Cloud Firewall: block, allow and monitor addresses and \
                          block outbound domains with access control policies"
                .into(),
            actions,
            hosts: HOSTS.iter().map(|host| host.to_string()).collect(),
            needs_credential: true,
        }
    }

    fn execute(request: ActionRequest) -> Result<Outcome, Failure> {
        policy::execute(&request, spec(&request)?)
    }

    fn revert(request: ActionRequest, token: String) -> Result<Outcome, Failure> {
        policy::revert(&request, spec(&request)?, &token)
    }

    fn plan(request: ActionRequest) -> Result<PlanOutcome, Failure> {
        policy::plan(&request, spec(&request)?)
    }
}

fn spec(request: &ActionRequest) -> Result<&'static policy::Spec, Failure> {
    ACTIONS
        .iter()
        .find(|spec| spec.id == request.action)
        .ok_or_else(|| {
            let ids: Vec<&str> = ACTIONS.iter().map(|spec| spec.id).collect();
            failure::invalid_input(format!(
                "aliyun-cloudfw has no action `{}`; it has {ids:?}",
                request.action
            ))
        })
}

export!(AliyunCloudfw);
