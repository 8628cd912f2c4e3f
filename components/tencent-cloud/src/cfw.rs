//! `TencentCFWBlockIP`: Cloud Firewall's intrusion-prevention block list.
//!
//! API: `cfw` version 2019-09-04, host `cfw.tencentcloudapi.com`
//! (international `cfw.intl.tencentcloudapi.com`), not regional.
//! - `CreateBlockIgnoreRuleList`
//!   (<https://cloud.tencent.com/document/api/1132/97724>): `Rules` of
//!   `{IP, Direction (1 inbound, 0 outbound), StartTime, EndTime, Comment}`,
//!   `RuleType` 1 = block list, `CoverDuplicate` 1 = overwrite an existing
//!   entry, which makes a repeat of the same call succeed.
//! - `DeleteBlockIgnoreRuleList`
//!   (<https://cloud.tencent.com/document/api/1132/97856>): `Rules` of
//!   `{IP, Direction}`, `RuleType`. `ResourceNotFound` means already gone.
//!
//! Times are `YYYY-MM-DD HH:MM:SS` in China Standard Time (UTC+8), the
//! console's zone. Without a duration the entry ends ten years from now:
//! the list has no "permanent" entry, and the host's revert timer or an
//! operator ends it earlier.
//!
//! Each direction is deleted by its own call on revert, so one already
//! removed by hand does not keep the other in place.

use riposte_sdk::action::{self, unchanged};
use riposte_sdk::entity::IpOrCidr;
use riposte_sdk::sign::Timestamp;
use riposte_sdk::tencent::ApiClient;
use riposte_sdk::types::{ActionRequest, Failure, FailureKind, Outcome, PlanOutcome};
use riposte_sdk::{clock, failure, log};
use serde::{Deserialize, Serialize};
use serde_json::json;

pub(crate) const ACTION: &str = "TencentCFWBlockIP";
const SERVICE: &str = "cfw";
const VERSION: &str = "2019-09-04";

/// Ten years, the end of an entry without a duration.
const DEFAULT_SECONDS: u64 = 10 * 365 * 86_400;

/// China Standard Time, UTC+8, in seconds.
const CST_OFFSET: u64 = 8 * 3600;

/// What revert needs: the address and the directions blocked.
#[derive(Debug, Serialize, Deserialize)]
struct Token {
    ip: String,
    directions: Vec<i64>,
}

/// The checked request: the address and the directions (1 in, 0 out).
struct Block {
    ip: String,
    directions: Vec<i64>,
}

impl Block {
    fn from_request(request: &ActionRequest) -> Result<Self, Failure> {
        let IpOrCidr::Ip(ip) = action::address(request, false)? else {
            return Err(failure::internal(
                "a network passed the single-address check",
            ));
        };
        let directions = match request.setting("direction").unwrap_or("inbound") {
            "inbound" | "" => vec![1],
            "outbound" => vec![0],
            "both" => vec![1, 0],
            other => {
                return Err(failure::invalid_input(format!(
                    "setting `direction` is `{other}`; expected `inbound`, `outbound` or `both`"
                )));
            }
        };
        Ok(Self {
            ip: ip.to_string(),
            directions,
        })
    }

    fn describe_directions(&self) -> &'static str {
        match self.directions.as_slice() {
            [1] => "inbound",
            [0] => "outbound",
            _ => "inbound and outbound",
        }
    }
}

/// `YYYY-MM-DD HH:MM:SS` in UTC+8.
fn cst(unix_seconds: u64) -> String {
    let iso = Timestamp::from_unix_seconds(unix_seconds + CST_OFFSET).iso8601();
    iso.trim_end_matches('Z').replacen('T', " ", 1)
}

pub(crate) fn execute(request: &ActionRequest) -> Result<Outcome, Failure> {
    let block = Block::from_request(request)?;
    let credential = action::credential(request, "tencent-cloud")?;
    let client = ApiClient::new(
        &credential,
        &request.target.endpoint,
        SERVICE,
        VERSION,
        None,
    )?;

    let now = clock::now().unix_seconds();
    let end = now + request.duration_seconds.unwrap_or(DEFAULT_SECONDS);
    let rules: Vec<_> = block
        .directions
        .iter()
        .map(|direction| {
            json!({
                "IP": block.ip,
                "Direction": direction,
                "StartTime": cst(now),
                "EndTime": cst(end),
                "Comment": format!("riposte task {}", request.task_id),
            })
        })
        .collect();
    client.call(
        "CreateBlockIgnoreRuleList",
        &json!({"Rules": rules, "RuleType": 1, "CoverDuplicate": 1}),
    )?;

    log::info(&format!(
        "cloud firewall blocks {} ({})",
        block.ip,
        block.describe_directions()
    ));
    let token = Token {
        ip: block.ip.clone(),
        directions: block.directions.clone(),
    };
    Ok(Outcome {
        detail: format!(
            "Cloud Firewall blocks {} {} until {} (UTC+8)",
            block.ip,
            block.describe_directions(),
            cst(end)
        ),
        changed: true,
        revert_token: Some(riposte_sdk::action::revert_token(&token)?),
        items: Vec::new(),
    })
}

pub(crate) fn revert(request: &ActionRequest, token: &str) -> Result<Outcome, Failure> {
    let token: Token = riposte_sdk::action::parse_revert_token(token, ACTION)?;
    let credential = action::credential(request, "tencent-cloud")?;
    let client = ApiClient::new(
        &credential,
        &request.target.endpoint,
        SERVICE,
        VERSION,
        None,
    )?;

    let mut removed = Vec::new();
    for direction in &token.directions {
        let body = json!({"Rules": [{"IP": token.ip, "Direction": direction}], "RuleType": 1});
        match client.call("DeleteBlockIgnoreRuleList", &body) {
            Ok(_) => removed.push(*direction),
            Err(failure) if failure.kind == FailureKind::NotFound => {}
            Err(failure) => return Err(failure),
        }
    }
    if removed.is_empty() {
        return Ok(unchanged(format!(
            "{} was already off the Cloud Firewall block list",
            token.ip
        )));
    }
    Ok(Outcome {
        detail: format!(
            "removed {} from the Cloud Firewall block list ({} entr{})",
            token.ip,
            removed.len(),
            if removed.len() == 1 { "y" } else { "ies" }
        ),
        changed: true,
        revert_token: None,
        items: Vec::new(),
    })
}

pub(crate) fn plan(request: &ActionRequest) -> Result<PlanOutcome, Failure> {
    let block = Block::from_request(request)?;
    let until = match request.duration_seconds {
        Some(seconds) => format!("for {seconds} s"),
        None => "for ten years (until unblocked)".to_owned(),
    };
    Ok(PlanOutcome {
        changes: vec![format!(
            "add {} to the Cloud Firewall block list ({}) {until}",
            block.ip,
            block.describe_directions()
        )],
        reversible: true,
    })
}
