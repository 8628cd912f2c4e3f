//! One access control policy per call: what each action asks for, and
//! the lookup, add, delete and plan around it.

use riposte_sdk::action::{self, unchanged};
use riposte_sdk::aliyun::RpcClient;
use riposte_sdk::entity::{Domain, IpOrCidr};
use riposte_sdk::types::{ActionRequest, EntityKind, Failure, FailureKind, Outcome, PlanOutcome};
use riposte_sdk::{failure, log};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Cloud Firewall API version.
const VERSION: &str = "2017-12-07";

/// The wait a throttled call asks for: the limit counts calls per second.
const THROTTLE_WAIT_MS: u64 = 1000;

/// What an action adds.
pub(crate) struct Spec {
    pub id: &'static str,
    pub action_type: &'static str,
    pub description: &'static str,
    pub kinds: &'static [EntityKind],
    /// `accept`, `drop` or `log`.
    acl_action: &'static str,
    /// `in` (the entity is the source) or `out` (the destination).
    direction: &'static str,
}

const IP_KINDS: &[EntityKind] = &[EntityKind::Ip, EntityKind::Cidr];

pub(crate) const ACTIONS: [Spec; 5] = [
    Spec {
        id: "AliyunFirewallProcess",
        action_type: "ip-block",
        description: "Block inbound traffic from an IPv4/IPv6 address or CIDR network with a \
                      Cloud Firewall `drop` policy; revert deletes it. Domains are not supported",
        kinds: IP_KINDS,
        acl_action: "drop",
        direction: "in",
    },
    Spec {
        id: "CfwWhiteListBatch",
        action_type: "ip-allowlist",
        description: "Allow inbound traffic from an IPv4/IPv6 address or CIDR network with a \
                      Cloud Firewall `accept` policy; revert deletes it. Domains are not supported",
        kinds: IP_KINDS,
        acl_action: "accept",
        direction: "in",
    },
    Spec {
        id: "AliyunFirewallMonitorIPin",
        action_type: "ip-monitor",
        description: "Log inbound traffic from an IPv4/IPv6 address or CIDR network with a \
                      Cloud Firewall `log` policy; revert deletes it. Domains are not supported",
        kinds: IP_KINDS,
        acl_action: "log",
        direction: "in",
    },
    Spec {
        id: "AliyunFirewallMonitorIPOut",
        action_type: "ip-monitor",
        description: "Log outbound traffic to an IPv4/IPv6 address or CIDR network with a \
                      Cloud Firewall `log` policy; revert deletes it. Domains are not supported",
        kinds: IP_KINDS,
        acl_action: "log",
        direction: "out",
    },
    Spec {
        id: "AliyunCFWBlockDNS",
        action_type: "domain-block",
        description: "Block outbound HTTP and HTTPS traffic to a domain with a Cloud Firewall \
                      `drop` policy (TCP); revert deletes it. IP addresses are not supported",
        kinds: &[EntityKind::Domain],
        acl_action: "drop",
        direction: "out",
    },
];

/// What revert needs.
#[derive(Debug, Serialize, Deserialize)]
struct Token {
    acl_uuid: String,
    direction: String,
}

/// The policy's parameters, all in the query.
struct Policy {
    /// The entity as the policy holds it: a CIDR block or a domain.
    target: String,
    params: Vec<(&'static str, String)>,
}

impl Policy {
    fn build(request: &ActionRequest, spec: &Spec) -> Result<Self, Failure> {
        let priority = request.setting("priority").unwrap_or("1");
        if priority != "-1" && !priority.parse::<u32>().is_ok_and(|p| p >= 1) {
            return Err(failure::invalid_input(format!(
                "setting `priority` is `{priority}`; expected 1 or more, or -1 for last"
            )));
        }
        let mut params = vec![
            ("AclAction", spec.acl_action.to_owned()),
            ("Direction", spec.direction.to_owned()),
            ("NewOrder", priority.to_owned()),
            ("Description", action::marker(request, 64)),
            ("SourceType", "net".to_owned()),
            ("Lang", "en".to_owned()),
        ];
        let target = if spec.kinds == [EntityKind::Domain] {
            let domain = domain(request)?;
            params.extend([
                ("Source", "0.0.0.0/0".to_owned()),
                ("Destination", domain.clone()),
                ("DestinationType", "domain".to_owned()),
                ("Proto", "TCP".to_owned()),
                ("ApplicationNameList.1", "HTTP".to_owned()),
                ("ApplicationNameList.2", "HTTPS".to_owned()),
            ]);
            domain
        } else {
            let (block, any, version) = match action::address(request, true)? {
                IpOrCidr::Ip(ip) if ip.is_ipv4() => (format!("{ip}/32"), "0.0.0.0/0", "4"),
                IpOrCidr::Ip(ip) => (format!("{ip}/128"), "::/0", "6"),
                IpOrCidr::Cidr(cidr) if cidr.addr().is_ipv4() => {
                    (cidr.to_string(), "0.0.0.0/0", "4")
                }
                IpOrCidr::Cidr(cidr) => (cidr.to_string(), "::/0", "6"),
            };
            let (source, destination) = match spec.direction {
                "in" => (block.clone(), any.to_owned()),
                _ => (any.to_owned(), block.clone()),
            };
            params.extend([
                ("Source", source),
                ("Destination", destination),
                ("DestinationType", "net".to_owned()),
                ("Proto", "ANY".to_owned()),
                ("ApplicationName", "ANY".to_owned()),
                ("IpVersion", version.to_owned()),
            ]);
            block
        };
        Ok(Self { target, params })
    }

    fn description(&self) -> &str {
        self.param("Description")
    }

    fn param(&self, name: &str) -> &str {
        self.params
            .iter()
            .find(|(key, _)| *key == name)
            .map_or("", |(_, value)| value.as_str())
    }
}

/// The request's domain, checked by the one entity parser.
fn domain(request: &ActionRequest) -> Result<String, Failure> {
    if request.entity.kind != EntityKind::Domain {
        return Err(failure::invalid_input(format!(
            "`{}` does not accept `{}` entities; it accepts `domain`",
            request.action,
            action::kind_name(request.entity.kind)
        )));
    }
    Domain::parse(&request.entity.value)
        .map(|domain| domain.to_string())
        .map_err(|err| failure::invalid_input(format!("`{}`: {err}", request.action)))
}

/// A throttled answer asks the host to wait out the one-second window.
fn with_wait(mut failure: Failure) -> Failure {
    if failure.kind == FailureKind::Throttled {
        failure.retry_after_ms = Some(THROTTLE_WAIT_MS);
    }
    failure
}

fn call(client: &RpcClient<'_>, action: &str, params: &[(&str, String)]) -> Result<Value, Failure> {
    let query: Vec<(&str, &str)> = params.iter().map(|(k, v)| (*k, v.as_str())).collect();
    client.call(action, &query, &[]).map_err(with_wait)
}

pub(crate) fn execute(request: &ActionRequest, spec: &Spec) -> Result<Outcome, Failure> {
    let policy = Policy::build(request, spec)?;
    let credential = action::credential(request, "aliyun-cloudfw")?;
    let client = RpcClient::new(&credential, &request.target.endpoint, VERSION)?;

    let lookup = [
        ("Direction", spec.direction.to_owned()),
        ("CurrentPage", "1".to_owned()),
        ("PageSize", "50".to_owned()),
        ("Description", policy.description().to_owned()),
        ("Lang", "en".to_owned()),
    ];
    let found = call(&client, "DescribeControlPolicy", &lookup)?;
    let own = found["Policys"].as_array().and_then(|policies| {
        policies
            .iter()
            .find(|p| p["Description"] == policy.description() && p["AclAction"] == spec.acl_action)
    });
    let (acl_uuid, changed) = match own {
        Some(existing) => (uuid(existing)?, false),
        None => (
            uuid(&call(&client, "AddControlPolicy", &policy.params)?)?,
            true,
        ),
    };
    log::info(&format!(
        "cloud firewall policy {acl_uuid}: {} {} {}",
        spec.acl_action, spec.direction, policy.target
    ));
    let token = Token {
        acl_uuid: acl_uuid.clone(),
        direction: spec.direction.to_owned(),
    };
    Ok(Outcome {
        detail: format!(
            "Cloud Firewall policy {acl_uuid} {}{} {} traffic {} {}",
            if changed { "" } else { "(already in place) " },
            spec.acl_action,
            if spec.direction == "in" {
                "inbound"
            } else {
                "outbound"
            },
            if spec.direction == "in" { "from" } else { "to" },
            policy.target
        ),
        changed,
        revert_token: Some(action::revert_token(&token)?),
        items: Vec::new(),
    })
}

fn uuid(value: &Value) -> Result<String, Failure> {
    value["AclUuid"]
        .as_str()
        .filter(|uuid| !uuid.is_empty())
        .map(str::to_owned)
        .ok_or_else(|| {
            failure::internal(format!(
                "Cloud Firewall answered without `AclUuid`: {value}"
            ))
        })
}

pub(crate) fn revert(
    request: &ActionRequest,
    spec: &Spec,
    token: &str,
) -> Result<Outcome, Failure> {
    let token: Token = action::parse_revert_token(token, spec.id)?;
    let credential = action::credential(request, "aliyun-cloudfw")?;
    let client = RpcClient::new(&credential, &request.target.endpoint, VERSION)?;
    let params = [
        ("AclUuid", token.acl_uuid.clone()),
        ("Direction", token.direction.clone()),
        ("Lang", "en".to_owned()),
    ];
    match call(&client, "DeleteControlPolicy", &params) {
        Ok(_) => Ok(Outcome {
            detail: format!("deleted Cloud Firewall policy {}", token.acl_uuid),
            changed: true,
            revert_token: None,
            items: Vec::new(),
        }),
        Err(failure) if failure.kind == FailureKind::NotFound => Ok(unchanged(format!(
            "Cloud Firewall policy {} was already gone",
            token.acl_uuid
        ))),
        Err(failure) => Err(failure),
    }
}

pub(crate) fn plan(request: &ActionRequest, spec: &Spec) -> Result<PlanOutcome, Failure> {
    let policy = Policy::build(request, spec)?;
    Ok(PlanOutcome {
        changes: vec![format!(
            "add Cloud Firewall policy `{}`: {} {} from {} to {} ({}), priority {}",
            policy.description(),
            spec.acl_action,
            spec.direction,
            policy.param("Source"),
            policy.param("Destination"),
            policy.param("Proto"),
            policy.param("NewOrder")
        )],
        reversible: true,
    })
}
