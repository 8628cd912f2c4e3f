//! `TencentWafBlockIP`: the IP block list of a domain protected by WAF.
//!
//! API: `waf` version 2018-01-25, host `waf.tencentcloudapi.com`
//! (international `waf.intl.tencentcloudapi.com`); regional, and only
//! `ap-guangzhou`, `ap-seoul` and `ap-singapore` are accepted.
//! - `DescribeIpAccessControl`
//!   (<https://www.tencentcloud.com/document/product/627/64773>): looked
//!   up first with `Domain`, `Ip` and `ActionType` 42. A rule whose `Note`
//!   carries this task's marker is this task's own (an earlier attempt
//!   whose answer was lost): it is reused, so a retry never adds a second
//!   rule. A rule of someone else already blocking the address makes the
//!   call a success that changed nothing and leaves nothing to revert.
//! - `CreateIpAccessControl`
//!   (<https://cloud.tencent.com/document/api/627/105915>): `Domain`,
//!   `IpList`, `ActionType` 42, `Note`, `SourceType` `custom`, optional
//!   `InstanceId`, `Edition`, and `ValidTS` (expiry in Unix seconds, listed
//!   in the English reference
//!   <https://www.tencentcloud.com/document/product/627/64775>) when the
//!   block has a duration; answers `RuleId`.
//! - `DeleteIpAccessControlV2`
//!   (<https://cloud.tencent.com/document/api/627/105914>): `Domain`,
//!   `RuleIds`; answers `FailedCount`. `ResourceNotFound` means already
//!   gone; a non-zero `FailedCount` is a retryable failure.

use riposte_sdk::action::{self, unchanged};
use riposte_sdk::tencent::ApiClient;
use riposte_sdk::types::{ActionRequest, Failure, FailureKind, Outcome, PlanOutcome};
use riposte_sdk::{clock, failure, log};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

pub(crate) const ACTION: &str = "TencentWafBlockIP";
const SERVICE: &str = "waf";
const VERSION: &str = "2018-01-25";

/// The regions the WAF API accepts.
const REGIONS: [&str; 3] = ["ap-guangzhou", "ap-seoul", "ap-singapore"];

/// `ActionType` of the block list.
const BLOCK: i64 = 42;

/// What revert needs.
#[derive(Debug, Serialize, Deserialize)]
struct Token {
    domain: String,
    rule_id: u64,
    region: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    instance_id: Option<String>,
}

/// The checked request.
struct Block {
    address: String,
    domain: String,
    region: String,
    instance_id: Option<String>,
    edition: Option<String>,
}

impl Block {
    fn from_request(request: &ActionRequest) -> Result<Self, Failure> {
        let address = action::address(request, true)?.to_string();
        let domain = request.required_setting("domain")?.to_owned();
        let region = match request.target.region.as_str() {
            "" => "ap-guangzhou".to_owned(),
            region if REGIONS.contains(&region) => region.to_owned(),
            other => {
                return Err(failure::invalid_input(format!(
                    "target region `{other}` is not served by the Tencent WAF API; use one of \
                     {REGIONS:?}"
                )));
            }
        };
        let optional = |name: &str| {
            request
                .setting(name)
                .filter(|v| !v.is_empty())
                .map(str::to_owned)
        };
        let edition = optional("edition");
        if let Some(edition) = &edition
            && !matches!(edition.as_str(), "sparta-waf" | "clb-waf")
        {
            return Err(failure::invalid_input(format!(
                "setting `edition` is `{edition}`; expected `sparta-waf` or `clb-waf`"
            )));
        }
        Ok(Self {
            address,
            domain,
            region,
            instance_id: optional("instance-id"),
            edition,
        })
    }

    /// The common parameters: `Domain` and, when set, `InstanceId`.
    fn params(&self) -> Map<String, Value> {
        let mut params = Map::new();
        params.insert("Domain".into(), json!(self.domain));
        if let Some(instance) = &self.instance_id {
            params.insert("InstanceId".into(), json!(instance));
        }
        params
    }
}

fn client<'a>(
    credential: &'a riposte_sdk::HostCredential,
    request: &ActionRequest,
    region: &'a str,
) -> Result<ApiClient<'a>, Failure> {
    ApiClient::new(
        credential,
        &request.target.endpoint,
        SERVICE,
        VERSION,
        Some(region),
    )
}

pub(crate) fn execute(request: &ActionRequest) -> Result<Outcome, Failure> {
    let block = Block::from_request(request)?;
    let credential = action::credential(request, "tencent-cloud")?;
    let client = client(&credential, request, &block.region)?;
    let note = action::marker(request, 64);

    let mut lookup = block.params();
    lookup.insert("Ip".into(), json!(block.address));
    lookup.insert("ActionType".into(), json!(BLOCK));
    lookup.insert("Offset".into(), json!(0));
    lookup.insert("Limit".into(), json!(100));
    let found = client.call("DescribeIpAccessControl", &Value::Object(lookup))?;
    let existing: Vec<&Value> = found["Data"]["Res"]
        .as_array()
        .map(|res| res.iter().collect())
        .unwrap_or_default();
    if let Some(own) = existing.iter().find(|rule| rule["Note"] == note.as_str()) {
        let rule_id = rule_id(own)?;
        return outcome(&block, rule_id, false);
    }
    if let Some(other) = existing.first() {
        return Ok(unchanged(format!(
            "{} is already on the WAF block list of `{}` (rule {}); nothing to add or undo",
            block.address, block.domain, other["RuleId"]
        )));
    }

    let mut params = block.params();
    params.insert("IpList".into(), json!([block.address]));
    params.insert("ActionType".into(), json!(BLOCK));
    params.insert("SourceType".into(), json!("custom"));
    params.insert("Note".into(), json!(note));
    if let Some(edition) = &block.edition {
        params.insert("Edition".into(), json!(edition));
    }
    if let Some(seconds) = request.duration_seconds {
        params.insert(
            "ValidTS".into(),
            json!(clock::now().unix_seconds() + seconds),
        );
    }
    let answer = client.call("CreateIpAccessControl", &Value::Object(params))?;
    let rule_id = rule_id(&answer)?;
    log::info(&format!(
        "waf rule {rule_id} blocks {} on {}",
        block.address, block.domain
    ));
    outcome(&block, rule_id, true)
}

fn rule_id(value: &Value) -> Result<u64, Failure> {
    value["RuleId"].as_u64().ok_or_else(|| {
        failure::internal(format!(
            "Tencent WAF answered without a numeric `RuleId`: {value}"
        ))
    })
}

fn outcome(block: &Block, rule_id: u64, changed: bool) -> Result<Outcome, Failure> {
    let token = Token {
        domain: block.domain.clone(),
        rule_id,
        region: block.region.clone(),
        instance_id: block.instance_id.clone(),
    };
    let verb = if changed { "blocks" } else { "already blocked" };
    Ok(Outcome {
        detail: format!(
            "WAF rule {rule_id} {verb} {} on `{}`",
            block.address, block.domain
        ),
        changed,
        revert_token: Some(riposte_sdk::action::revert_token(&token)?),
        items: Vec::new(),
    })
}

pub(crate) fn revert(request: &ActionRequest, token: &str) -> Result<Outcome, Failure> {
    let token: Token = riposte_sdk::action::parse_revert_token(token, ACTION)?;
    let credential = action::credential(request, "tencent-cloud")?;
    let client = client(&credential, request, &token.region)?;
    let mut params = Map::new();
    params.insert("Domain".into(), json!(token.domain));
    params.insert("RuleIds".into(), json!([token.rule_id]));
    if let Some(instance) = &token.instance_id {
        params.insert("InstanceId".into(), json!(instance));
    }
    match client.call("DeleteIpAccessControlV2", &Value::Object(params)) {
        Ok(answer) if answer["FailedCount"].as_u64().unwrap_or(0) > 0 => {
            let mut failure = failure::internal(format!(
                "DeleteIpAccessControlV2 could not delete rule {} of `{}` (FailedCount {}) \
                 [RequestId {}]",
                token.rule_id,
                token.domain,
                answer["FailedCount"],
                answer["RequestId"].as_str().unwrap_or("-")
            ));
            failure.retryable = true;
            Err(failure)
        }
        Ok(_) => Ok(Outcome {
            detail: format!("deleted WAF rule {} of `{}`", token.rule_id, token.domain),
            changed: true,
            revert_token: None,
            items: Vec::new(),
        }),
        Err(failure) if failure.kind == FailureKind::NotFound => Ok(unchanged(format!(
            "WAF rule {} of `{}` was already gone",
            token.rule_id, token.domain
        ))),
        Err(failure) => Err(failure),
    }
}

pub(crate) fn plan(request: &ActionRequest) -> Result<PlanOutcome, Failure> {
    let block = Block::from_request(request)?;
    Ok(PlanOutcome {
        changes: vec![format!(
            "add a WAF block-list rule (ActionType 42) for {} on `{}` in {}",
            block.address, block.domain, block.region
        )],
        reversible: true,
    })
}
