//! `HuaWeiWafBlockIP`: a black-list rule in a WAF protection policy.
//!
//! API: WAF `v1`, endpoint `waf.<region>.myhuaweicloud.com`.
//! - `CreateWhiteblackipRule`, `POST /v1/{project_id}/waf/policy/{policy_id}/whiteblackip`
//!   (<https://support.huaweicloud.com/api-waf/CreateWhiteblackipRule.html>):
//!   `name` (up to 64 of `A-Z a-z 0-9 - _ .`), `white` 0 (block), `addr`
//!   (IP or CIDR), `description`; answers the rule with its `id`. The name
//!   is this task's marker, so a retry after a lost answer meets
//!   `WAF.00011016` name.duplicate
//!   (<https://support.huaweicloud.com/api-waf/ErrorCode.html>); the rule of
//!   that name is then looked up and reused.
//! - `ListWhiteblackipRule`, `GET …/whiteblackip?name=`
//!   (<https://support.huaweicloud.com/intl/es-us/api-waf/ListWhiteblackipRule.html>).
//! - `DeleteWhiteBlackIpRule`, `DELETE …/whiteblackip/{rule_id}`
//!   (<https://support.huaweicloud.com/api-waf/DeleteWhiteBlackIpRule.html>):
//!   404 means already gone.

use riposte_sdk::action::{self, unchanged};
use riposte_sdk::huawei::{ApiClient, Call};
use riposte_sdk::types::{ActionRequest, Failure, FailureKind, Outcome, PlanOutcome};
use riposte_sdk::{failure, log};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

pub(crate) const ACTION: &str = "HuaWeiWafBlockIP";

/// The query parameters taken from settings.
const SCOPE: &[&str] = &["enterprise-project-id"];

/// What revert needs.
#[derive(Debug, Serialize, Deserialize)]
struct Token {
    project_id: String,
    policy_id: String,
    rule_id: String,
    address: String,
}

struct Block {
    project_id: String,
    policy_id: String,
    address: String,
}

impl Block {
    fn from_request(request: &ActionRequest) -> Result<Self, Failure> {
        Ok(Self {
            address: action::address(request, true)?.to_string(),
            project_id: request.required_setting("project-id")?.to_owned(),
            policy_id: request.required_setting("policy-id")?.to_owned(),
        })
    }

    fn path(&self) -> String {
        format!(
            "/v1/{}/waf/policy/{}/whiteblackip",
            self.project_id, self.policy_id
        )
    }
}

pub(crate) fn execute(request: &ActionRequest) -> Result<Outcome, Failure> {
    let block = Block::from_request(request)?;
    let credential = action::credential(request, "huawei-cloud")?;
    let client = ApiClient::new(&credential, &request.target.endpoint)?;
    let name = action::marker(request, 64);

    let created = client.call(&Call {
        operation: "CreateWhiteblackipRule",
        method: "POST",
        path: block.path(),
        query: super::scope_query(request, SCOPE),
        body: Some(json!({
            "name": name,
            "white": 0,
            "addr": block.address,
            "description": format!("riposte task {}", request.task_id),
        })),
    });
    let (rule, changed) = match created {
        Ok(rule) => (rule, true),
        Err(failure) if failure.kind == FailureKind::Conflict => {
            (own_rule(&client, request, &block, &name, failure)?, false)
        }
        Err(failure) => return Err(failure),
    };
    let rule_id = rule["id"].as_str().map(str::to_owned).ok_or_else(|| {
        failure::internal(format!(
            "CreateWhiteblackipRule answered without `id`: {rule}"
        ))
    })?;
    log::info(&format!("waf rule {rule_id} blocks {}", block.address));
    let token = Token {
        project_id: block.project_id.clone(),
        policy_id: block.policy_id.clone(),
        rule_id: rule_id.clone(),
        address: block.address.clone(),
    };
    Ok(Outcome {
        detail: format!(
            "WAF rule {rule_id} (`{name}`) {} {} in policy {}",
            if changed { "blocks" } else { "already blocks" },
            block.address,
            block.policy_id
        ),
        changed,
        revert_token: Some(riposte_sdk::action::revert_token(&token)?),
        items: Vec::new(),
    })
}

/// The rule named `name` after a duplicate-name answer: this task's own
/// when it blocks the same address, else the conflict stands.
fn own_rule(
    client: &ApiClient<'_>,
    request: &ActionRequest,
    block: &Block,
    name: &str,
    conflict: Failure,
) -> Result<Value, Failure> {
    let mut query = super::scope_query(request, SCOPE);
    query.extend([("name", name.to_owned()), ("pagesize", "100".to_owned())]);
    let listed = client.call(&Call {
        operation: "ListWhiteblackipRule",
        method: "GET",
        path: block.path(),
        query,
        body: None,
    })?;
    let items = listed["items"].as_array().cloned().unwrap_or_default();
    items
        .into_iter()
        .find(|rule| {
            rule["name"] == name && rule["addr"] == block.address.as_str() && rule["white"] == 0
        })
        .ok_or(conflict)
}

pub(crate) fn revert(request: &ActionRequest, token: &str) -> Result<Outcome, Failure> {
    let token: Token = riposte_sdk::action::parse_revert_token(token, ACTION)?;
    let credential = action::credential(request, "huawei-cloud")?;
    let client = ApiClient::new(&credential, &request.target.endpoint)?;
    let result = client.call(&Call {
        operation: "DeleteWhiteBlackIpRule",
        method: "DELETE",
        path: format!(
            "/v1/{}/waf/policy/{}/whiteblackip/{}",
            token.project_id, token.policy_id, token.rule_id
        ),
        query: super::scope_query(request, SCOPE),
        body: None,
    });
    match result {
        Ok(_) => Ok(Outcome {
            detail: format!("deleted WAF rule {} ({})", token.rule_id, token.address),
            changed: true,
            revert_token: None,
            items: Vec::new(),
        }),
        Err(failure) if failure.kind == FailureKind::NotFound => Ok(unchanged(format!(
            "WAF rule {} ({}) was already gone",
            token.rule_id, token.address
        ))),
        Err(failure) => Err(failure),
    }
}

pub(crate) fn plan(request: &ActionRequest) -> Result<PlanOutcome, Failure> {
    let block = Block::from_request(request)?;
    Ok(PlanOutcome {
        changes: vec![format!(
            "create WAF black-list rule `{}` for {} in policy {} (project {})",
            action::marker(request, 64),
            block.address,
            block.policy_id,
            block.project_id
        )],
        reversible: true,
    })
}
