//! `DcdnWafBanIP`: a rule in a DCDN WAF IP-blacklist policy.
//!
//! API: `dcdn` version 2018-01-15, endpoint `dcdn.aliyuncs.com`:
//! - `DescribeDcdnWafRules` (`QueryArgs` JSON `{"PolicyIds","RuleNameLike"}`;
//!   answers `Rules[]` with `RuleId`, `RuleName`): the lookup by the
//!   rule's name, this task's marker, so a retry reuses its own rule.
//! - `BatchCreateDcdnWafRules`
//!   (<https://help.aliyun.com/zh/dcdn/developer-reference/api-dcdn-2018-01-15-batchcreatedcdnwafrules>):
//!   `PolicyId`, `RuleConfigs` `[{"name","action":"block","remoteAddr":[…],"status":"on"}]`;
//!   answers `RuleIds.RuleId[]`. Rule names are up to 64 letters, digits
//!   and `_`. The rule keys for an IP-blacklist rule (`remoteAddr`) are
//!   those the official Terraform provider sends
//!   (`aliyun/terraform-provider-alicloud`,
//!   `alicloud/resource_alicloud_dcdn_waf_rule.go`); the API page lists
//!   the per-scene keys only for `waf_group` and `custom_acl`.
//! - `BatchDeleteDcdnWafRules` (`RuleIds`): a not-found answer means
//!   already gone.
//!
//! The calls allow 20 requests per second per account.

use riposte_sdk::action::{self, unchanged};
use riposte_sdk::aliyun::RpcClient;
use riposte_sdk::types::{ActionRequest, Failure, FailureKind, Outcome, PlanOutcome};
use riposte_sdk::{failure, log};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

pub(crate) const ACTION: &str = "DcdnWafBanIP";
const VERSION: &str = "2018-01-15";

#[derive(Debug, Serialize, Deserialize)]
struct Token {
    policy_id: u64,
    rule_id: String,
    entry: String,
}

struct Ban {
    policy_id: u64,
    entry: String,
    name: String,
}

impl Ban {
    fn from_request(request: &ActionRequest) -> Result<Self, Failure> {
        let entry = action::address(request, true)?.to_string();
        let text = request.required_setting("policy-id")?;
        let policy_id = text.parse::<u64>().map_err(|_| {
            failure::invalid_input(format!(
                "setting `policy-id` is `{text}`; expected a number such as 1000001"
            ))
        })?;
        // Names take letters, digits and `_` only.
        let name = action::marker(request, 64).replacen('-', "_", 1);
        Ok(Self {
            policy_id,
            entry,
            name,
        })
    }
}

fn id_text(value: &Value) -> Option<String> {
    value
        .as_str()
        .map(str::to_owned)
        .or_else(|| value.as_u64().map(|id| id.to_string()))
}

pub(crate) fn execute(request: &ActionRequest) -> Result<Outcome, Failure> {
    let ban = Ban::from_request(request)?;
    let credential = action::credential(request, "aliyun-cdn")?;
    let client = RpcClient::new(&credential, &request.target.endpoint, VERSION)?;

    let query =
        json!({"PolicyIds": ban.policy_id.to_string(), "RuleNameLike": ban.name}).to_string();
    let found = super::call(
        &client,
        "DescribeDcdnWafRules",
        &[("QueryArgs", query), ("PageSize", "50".to_owned())],
    )?;
    let own = found["Rules"]
        .as_array()
        .and_then(|rules| rules.iter().find(|r| r["RuleName"] == ban.name.as_str()));
    let (rule_id, changed) = match own {
        Some(rule) => (id_text(&rule["RuleId"]), false),
        None => {
            let rules = json!([{"name": ban.name, "action": "block", "remoteAddr": [ban.entry], "status": "on"}]);
            let params = [
                ("PolicyId", ban.policy_id.to_string()),
                ("RuleConfigs", rules.to_string()),
            ];
            let answer = super::call(&client, "BatchCreateDcdnWafRules", &params)?;
            (answer["RuleIds"]["RuleId"].get(0).and_then(id_text), true)
        }
    };
    let rule_id =
        rule_id.ok_or_else(|| failure::internal("DCDN WAF answered without a rule id"))?;
    log::info(&format!("dcdn waf rule {rule_id} bans {}", ban.entry));
    let token = Token {
        policy_id: ban.policy_id,
        rule_id: rule_id.clone(),
        entry: ban.entry.clone(),
    };
    Ok(Outcome {
        detail: format!(
            "DCDN WAF rule {rule_id} (`{}`) {} {} in policy {}",
            ban.name,
            if changed { "bans" } else { "already bans" },
            ban.entry,
            ban.policy_id
        ),
        changed,
        revert_token: Some(riposte_sdk::action::revert_token(&token)?),
        items: Vec::new(),
    })
}

pub(crate) fn revert(request: &ActionRequest, token: &str) -> Result<Outcome, Failure> {
    let token: Token = riposte_sdk::action::parse_revert_token(token, ACTION)?;
    let credential = action::credential(request, "aliyun-cdn")?;
    let client = RpcClient::new(&credential, &request.target.endpoint, VERSION)?;
    match super::call(
        &client,
        "BatchDeleteDcdnWafRules",
        &[("RuleIds", token.rule_id.clone())],
    ) {
        Ok(_) => Ok(Outcome {
            detail: format!(
                "deleted DCDN WAF rule {} banning {}",
                token.rule_id, token.entry
            ),
            changed: true,
            revert_token: None,
            items: Vec::new(),
        }),
        Err(failure) if failure.kind == FailureKind::NotFound => Ok(unchanged(format!(
            "DCDN WAF rule {} was already gone",
            token.rule_id
        ))),
        Err(failure) => Err(failure),
    }
}

pub(crate) fn plan(request: &ActionRequest) -> Result<PlanOutcome, Failure> {
    let ban = Ban::from_request(request)?;
    Ok(PlanOutcome {
        changes: vec![format!(
            "create DCDN WAF rule `{}` blocking {} in policy {}",
            ban.name, ban.entry, ban.policy_id
        )],
        reversible: true,
    })
}
