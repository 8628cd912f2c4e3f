//! Alibaba Cloud load balancer handling component: block an address by
//! adding it to the access control list (ACL) that a listener uses as its
//! blacklist.
//!
//! - `RegionCLBProcess` (Classic Load Balancer, `Slb` 2014-05-15):
//!   `DescribeAccessControlListAttribute` (lookup), then
//!   `AddAccessControlListEntry` with `AclEntrys` `[{"entry","comment"}]`;
//!   revert `RemoveAccessControlListEntry`
//!   (<https://help.aliyun.com/en/slb/classic-load-balancer/developer-reference/api-slb-2014-05-15-addaccesscontrollistentry>;
//!   entries are CIDR blocks of the ACL's IP version, at most 300 per
//!   ACL; `InvalidParam.AclEntryExists` when already there).
//! - `RegionALBProcess` (Application Load Balancer, `Alb` 2020-06-16):
//!   `ListAclEntries` (lookup), then `AddEntriesToAcl` with
//!   `AclEntries.1.Entry`, `.Description` and a `ClientToken`; revert
//!   `RemoveEntriesFromAcl` with `Entries.1`
//!   (<https://help.aliyun.com/document_detail/213614.html>,
//!   <https://help.aliyun.com/document_detail/213616.html>,
//!   <https://alibabacloud.com/help/en/doc-detail/213615.html>; at most
//!   1,000 entries per ACL; `ResourceNotFound.Acl` for an unknown ACL).
//!   Both ALB writes are asynchronous: the outcome names the job.
//!
//! An entry's comment is this task's marker (`riposte-` and the
//! idempotency key): an entry that already carries it is the task's own
//! (an attempt whose answer was lost) and is reused; an entry for the
//! same block put there by anyone else makes the call a success that
//! changed nothing and leaves nothing to revert. Revert looks the entry
//! up first, so an entry already removed is a success. Binding the ACL to
//! a listener as a blacklist is configuration, not this component's job.

mod acl;

use riposte_sdk::action::setting;
use riposte_sdk::types::{
    ActionInfo, ActionRequest, ComponentInfo, EntityKind, Failure, Outcome, PlanOutcome,
};
use riposte_sdk::{export, failure};

use acl::Balancer;

/// The load balancer API endpoints of the main regions. Grant patterns
/// wildcard only a leading label, so operators grant other regions one
/// by one.
const HOSTS: &[&str] = &[
    "https://slb.aliyuncs.com",
    "https://slb.cn-hangzhou.aliyuncs.com",
    "https://slb.cn-shanghai.aliyuncs.com",
    "https://slb.cn-beijing.aliyuncs.com",
    "https://slb.ap-southeast-1.aliyuncs.com",
    "https://alb.cn-hangzhou.aliyuncs.com",
    "https://alb.cn-shanghai.aliyuncs.com",
    "https://alb.cn-beijing.aliyuncs.com",
    "https://alb.ap-southeast-1.aliyuncs.com",
];

struct AliyunSlb;

impl riposte_sdk::Guest for AliyunSlb {
    fn describe() -> ComponentInfo {
        let action = |balancer: Balancer| ActionInfo {
            id: balancer.action().into(),
            action_type: "ip-block".into(),
            description: format!(
                "Add an IPv4/IPv6 address or CIDR network to a {} access control list used \
                 as a listener's blacklist; revert removes the entry. The address family \
                 must match the ACL's. Domains are not supported",
                balancer.product()
            ),
            entity_kinds: vec![EntityKind::Ip, EntityKind::Cidr],
            reversible: true,
            retryable: true,
            settings: match balancer {
                Balancer::Clb => vec![
                    setting("acl-id", "the ACL id, e.g. acl-bp1l0kk4gxce43kze****", true),
                    setting(
                        "region-id",
                        "the ACL's region; defaults to the target's region",
                        false,
                    ),
                ],
                Balancer::Alb => vec![setting(
                    "acl-id",
                    "the ACL id, e.g. acl-hp34s2h0xx1ht4nwo****",
                    true,
                )],
            },
        };
        ComponentInfo {
            name: "aliyun-slb".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "Alibaba Cloud Server Load Balancer: block addresses with CLB and ALB \
                          access control lists"
                .into(),
            actions: vec![action(Balancer::Clb), action(Balancer::Alb)],
            hosts: HOSTS.iter().map(|host| host.to_string()).collect(),
            needs_credential: true,
        }
    }

    fn execute(request: ActionRequest) -> Result<Outcome, Failure> {
        acl::execute(&request, balancer(&request)?)
    }

    fn revert(request: ActionRequest, token: String) -> Result<Outcome, Failure> {
        acl::revert(&request, balancer(&request)?, &token)
    }

    fn plan(request: ActionRequest) -> Result<PlanOutcome, Failure> {
        acl::plan(&request, balancer(&request)?)
    }
}

fn balancer(request: &ActionRequest) -> Result<Balancer, Failure> {
    [Balancer::Clb, Balancer::Alb]
        .into_iter()
        .find(|balancer| balancer.action() == request.action)
        .ok_or_else(|| {
            failure::invalid_input(format!(
                "aliyun-slb has no action `{}`; it has `RegionCLBProcess` and `RegionALBProcess`",
                request.action
            ))
        })
}

export!(AliyunSlb);
