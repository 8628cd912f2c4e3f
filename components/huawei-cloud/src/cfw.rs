//! `HuaWeiRegionCfwBlockIP`: the black list of a Cloud Firewall protection
//! object.
//!
//! API: CFW `v1`, endpoint `cfw.<region>.myhuaweicloud.com`.
//! - `ListBlackWhiteLists`, `GET /v1/{project_id}/black-white-lists`
//!   (<https://support.huaweicloud.com/api-cfw/ListBlackWhiteLists.html>):
//!   looked up first by `object_id`, `list_type` 4 and `address`. An entry
//!   for the same address and direction whose description carries this
//!   task's marker is this task's own (an attempt whose answer was lost)
//!   and is reused; anyone else's makes the call a success that changed
//!   nothing and leaves nothing to revert. The API offers no client token.
//! - `AddBlackWhiteList`, `POST /v1/{project_id}/black-white-list`
//!   (<https://support.huaweicloud.com/api-cfw/AddBlackWhiteList.html>):
//!   `object_id`, `list_type` 4 (black), `direction` (0 source,
//!   1 destination), `address_type` (0 IPv4, 1 IPv6), `address`,
//!   `protocol` -1 (any), `port` empty (any), `description`; answers
//!   `data.id`.
//! - `DeleteBlackWhiteList`, `DELETE /v1/{project_id}/black-white-list/{list_id}`
//!   (<https://support.huaweicloud.com/intl/zh-cn/api-cfw/DeleteBlackWhiteList.html>):
//!   `CFW.00200005` ("操作内容不存在") means already gone.
//!
//! `fw_instance_id` and `enterprise_project_id` go in the query of every
//! call when the target sets them.

use std::net::IpAddr;

use riposte_sdk::action::{self, unchanged};
use riposte_sdk::entity::IpOrCidr;
use riposte_sdk::huawei::{ApiClient, Call};
use riposte_sdk::types::{ActionRequest, Failure, FailureKind, Outcome, PlanOutcome};
use riposte_sdk::{failure, log};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

pub(crate) const ACTION: &str = "HuaWeiRegionCfwBlockIP";

/// `list_type` of the black list.
const BLACK_LIST: i64 = 4;

/// The query parameters taken from settings.
const SCOPE: &[&str] = &["fw-instance-id", "enterprise-project-id"];

/// What revert needs.
#[derive(Debug, Serialize, Deserialize)]
struct Token {
    project_id: String,
    list_id: String,
    address: String,
}

struct Block {
    project_id: String,
    object_id: String,
    address: String,
    address_type: i64,
    direction: i64,
}

impl Block {
    fn from_request(request: &ActionRequest) -> Result<Self, Failure> {
        let address = action::address(request, true)?;
        let family = match address {
            IpOrCidr::Ip(ip) => ip,
            IpOrCidr::Cidr(cidr) => cidr.addr(),
        };
        let direction = match request.setting("direction").unwrap_or("source") {
            "source" | "" => 0,
            "destination" => 1,
            other => {
                return Err(failure::invalid_input(format!(
                    "setting `direction` is `{other}`; expected `source` or `destination`"
                )));
            }
        };
        Ok(Self {
            project_id: request.required_setting("project-id")?.to_owned(),
            object_id: request.required_setting("object-id")?.to_owned(),
            address: address.to_string(),
            address_type: if matches!(family, IpAddr::V4(_)) {
                0
            } else {
                1
            },
            direction,
        })
    }

    fn direction_name(&self) -> &'static str {
        if self.direction == 0 {
            "source"
        } else {
            "destination"
        }
    }
}

pub(crate) fn execute(request: &ActionRequest) -> Result<Outcome, Failure> {
    let block = Block::from_request(request)?;
    let credential = action::credential(request, "huawei-cloud")?;
    let client = ApiClient::new(&credential, &request.target.endpoint)?;
    let marker = action::marker(request, 64);

    let mut query = super::scope_query(request, SCOPE);
    query.extend([
        ("object_id", block.object_id.clone()),
        ("list_type", BLACK_LIST.to_string()),
        ("address", block.address.clone()),
        ("limit", "1024".to_owned()),
    ]);
    let listed = client.call(&Call {
        operation: "ListBlackWhiteLists",
        method: "GET",
        path: format!("/v1/{}/black-white-lists", block.project_id),
        query,
        body: None,
    })?;
    let records = listed["data"]["records"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let same: Vec<&Value> = records
        .iter()
        .filter(|r| r["address"] == block.address.as_str() && r["direction"] == block.direction)
        .collect();
    if let Some(own) = same.iter().find(|r| r["description"] == marker.as_str()) {
        let list_id = own["list_id"].as_str().unwrap_or_default().to_owned();
        return outcome(&block, list_id, false);
    }
    if let Some(other) = same.first() {
        return Ok(unchanged(format!(
            "{} is already on the black list of protection object {} (entry {})",
            block.address, block.object_id, other["list_id"]
        )));
    }

    let answer = client.call(&Call {
        operation: "AddBlackWhiteList",
        method: "POST",
        path: format!("/v1/{}/black-white-list", block.project_id),
        query: super::scope_query(request, SCOPE),
        body: Some(json!({
            "object_id": block.object_id,
            "list_type": BLACK_LIST,
            "direction": block.direction,
            "address_type": block.address_type,
            "address": block.address,
            "protocol": -1,
            "port": "",
            "description": marker,
        })),
    })?;
    let list_id = answer["data"]["id"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| {
            failure::internal(format!(
                "AddBlackWhiteList answered without `data.id`: {answer}"
            ))
        })?;
    log::info(&format!("cfw entry {list_id} blocks {}", block.address));
    outcome(&block, list_id, true)
}

fn outcome(block: &Block, list_id: String, changed: bool) -> Result<Outcome, Failure> {
    if list_id.is_empty() {
        return Err(failure::internal("the black-list entry has no `list_id`"));
    }
    let detail = format!(
        "Cloud Firewall black-list entry {list_id} {} {} as {} address on protection object {}",
        if changed { "blocks" } else { "already blocks" },
        block.address,
        block.direction_name(),
        block.object_id
    );
    let token = Token {
        project_id: block.project_id.clone(),
        list_id,
        address: block.address.clone(),
    };
    Ok(Outcome {
        detail,
        changed,
        revert_token: Some(riposte_sdk::action::revert_token(&token)?),
        items: Vec::new(),
    })
}

pub(crate) fn revert(request: &ActionRequest, token: &str) -> Result<Outcome, Failure> {
    let token: Token = riposte_sdk::action::parse_revert_token(token, ACTION)?;
    let credential = action::credential(request, "huawei-cloud")?;
    let client = ApiClient::new(&credential, &request.target.endpoint)?;
    let result = client.call(&Call {
        operation: "DeleteBlackWhiteList",
        method: "DELETE",
        path: format!(
            "/v1/{}/black-white-list/{}",
            token.project_id, token.list_id
        ),
        query: super::scope_query(request, SCOPE),
        body: None,
    });
    match result {
        Ok(_) => Ok(Outcome {
            detail: format!(
                "deleted black-list entry {} ({})",
                token.list_id, token.address
            ),
            changed: true,
            revert_token: None,
            items: Vec::new(),
        }),
        Err(failure) if failure.kind == FailureKind::NotFound => Ok(unchanged(format!(
            "black-list entry {} ({}) was already gone",
            token.list_id, token.address
        ))),
        Err(failure) => Err(failure),
    }
}

pub(crate) fn plan(request: &ActionRequest) -> Result<PlanOutcome, Failure> {
    let block = Block::from_request(request)?;
    Ok(PlanOutcome {
        changes: vec![format!(
            "add {} as {} address to the black list of Cloud Firewall protection object {} \
             (project {})",
            block.address,
            block.direction_name(),
            block.object_id,
            block.project_id
        )],
        reversible: true,
    })
}
