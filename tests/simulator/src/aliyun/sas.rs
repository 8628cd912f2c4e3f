//! Alibaba Cloud Security Center (`Sas`, version `2018-12-03`) subset:
//! security alert events on managed hosts, their handling, the whitelist
//! rules handling adds and the file quarantine.
//!
//! Owns the hosts Security Center manages (by `Uuid`), their alert events,
//! the handling tasks, the whitelist (`advance_mark_mis_info`) rules and the
//! quarantined files, and the actions riposte's `endpoint` component calls:
//! - `HandleSecurityEvents`
//!   (<https://help.aliyun.com/zh/security-center/developer-reference/api-sas-2018-12-03-handlesecurityevents>,
//!   English <https://alibabacloud.com/help/en/security-center/developer-reference/api-sas-2018-12-03-handlesecurityevents>):
//!   `SecurityEventIds.N`, `OperationCode` (one of [`HANDLE_CODES`]),
//!   `OperationParams` (JSON; required for `block_ip`, `{"expireTime":
//!   <ms>}`, and `kill_and_quara`, `{"subOperation": <one of
//!   [`SUB_OPERATIONS`]>}`), `MarkMissParam` (JSON rules `{"uuid": "part" |
//!   "ALL", "field", "operate", "fieldValue"}`, `operate` one of
//!   [`MARK_OPERATES`]), `MarkBatch`, `Remark`; answers
//!   `HandleSecurityEventsResponse.TaskId`.
//! - `DescribeSecurityEventOperationStatus`
//!   (<https://help.aliyun.com/document_detail/421750.html>): `TaskId` or
//!   `SecurityEventIds.N`; answers `SecurityEventOperationStatusResponse`
//!   with `TaskStatus` (`Processing`, `Success`, `Failure`, `Pending`) and
//!   `SecurityEventOperationStatuses[]` (`SecurityEventId`, `Status`,
//!   `ErrorCode` such as `ignore.Success`). An unknown task is
//!   `OperationTaskNotExists` (400), a call with neither is `IllegalParam`
//!   (400), both as documented there.
//! - `DescribeSuspEvents`
//!   (<https://help.aliyun.com/document_detail/251497.htm>): filters `Id`,
//!   `Uuids` (comma-separated), `Status` (0 all, 1 pending, 2 ignored, 8
//!   marked as false positive, 32 handled, 64 expired, ...), `Dealed`
//!   (`N` pending, `Y` dealt with), `Name` (asset name), `Remark` (fuzzy:
//!   alert name, asset name or address), `CurrentPage`, `PageSize` (at
//!   most 100); answers `SuspEvents[]`, `TotalCount`, `CurrentPage`,
//!   `PageSize`, `Count` (field names from the SDK model
//!   `sas-20181203` `DescribeSuspEventsResponseBody`).
//! - `DescribeSuspEventQuaraFiles`
//!   (<https://www.alibabacloud.com/help/doc-detail/171094.htm>):
//!   `CurrentPage`, `PageSize`; answers `QuaraFiles[]` (`Id`, `Uuid`,
//!   `Path`, `Md5`, `EventName`, `EventType`, `Status`, ...). The paging
//!   fields of the answer are assumed to be those of `DescribeSuspEvents`
//!   [unverified].
//! - `RollbackSuspEventQuaraFile`
//!   (<https://www.alibabacloud.com/help/doc-detail/171095.htm>):
//!   `QuaraFileId`, `From`; without `QuaraFileId` the call has no effect,
//!   as documented.
//!
//! Documented codes used: `SecurityEventNotExists` (400, on the
//! `CreateSimilarSecurityEventsQueryTask` and
//! `DescribeSecurityEventOperations` pages), `IllegalParam` (400),
//! `OperationTaskNotExists` (400). `HandleSecurityEvents`' own error table
//! was not retrieved past `NoPermission`; the
//! `HandleSimilarSecurityEvents` page says events with
//! `CanBeDealOnLine=false` or `EventStatus=64` (expired) cannot be handled
//! but not with which code, so the simulator answers `IllegalParam` naming
//! the reason [simulator's choice]. An unknown `QuaraFileId` answers
//! `Sas.Sim.QuaraFileNotExist` (404), named so nobody takes it for a real
//! code.
//!
//! Simulator model [simulator's choice, not documented]: handling is done
//! when the task is created (`EventStatus` 32 after a handling code, 2
//! after `ignore`, 8 after `advance_mark_mis_info`); `rm_mark_mis_info`
//! (listed as "取消加白" by `DescribeSecurityEventOperations`,
//! <https://help.aliyun.com/zh/security-center/developer-reference/api-sas-2018-12-03-describesecurityeventoperations>)
//! removes the rules an event's whitelisting added and sets it back to 1;
//! `quara`, `cleanup` and the quarantining `kill_and_quara` sub-operations
//! quarantine the file named by the event's `path` and `md5` details; a
//! rolled back file leaves the quarantine list. A task reports
//! `Processing` for its first `processing_polls` status queries.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use super::error::ApiError;
use super::waf::Params;

/// The API version this module serves.
pub const VERSION: &str = "2018-12-03";

/// `OperationCode` values `HandleSecurityEvents` documents, plus
/// `rm_mark_mis_info` from `DescribeSecurityEventOperations`.
pub const HANDLE_CODES: [&str; 11] = [
    "block_ip",
    "advance_mark_mis_info",
    "ignore",
    "manual_handled",
    "kill_process",
    "cleanup",
    "kill_and_quara",
    "disable_malicious_defense",
    "client_problem_check",
    "quara",
    "rm_mark_mis_info",
];

/// `subOperation` values of `kill_and_quara`, as documented.
pub const SUB_OPERATIONS: [&str; 6] = [
    "quaraFileByMd5andPath",
    "killAndQuaraFileByPidAndMd5andPath",
    "killByMd5andPath",
    "killAndQuaraFileByMd5andPath",
    "killProcessByPidandPathandCmdline",
    "killContainerProcessByMd5AndPath",
];

/// `operate` values of a `MarkMissParam` rule, as documented.
pub const MARK_OPERATES: [&str; 5] = [
    "notContains",
    "contains",
    "regex",
    "strEqual",
    "strNotEqual",
];

/// `EventStatus` values (`DescribeSuspEvents`, `Status`).
pub mod status {
    /// Waiting to be handled.
    pub const PENDING: u32 = 1;
    /// Ignored.
    pub const IGNORED: u32 = 2;
    /// Marked as a false positive (whitelisted).
    pub const WHITELISTED: u32 = 8;
    /// Handled.
    pub const HANDLED: u32 = 32;
    /// Expired: cannot be handled any more.
    pub const EXPIRED: u32 = 64;
}

/// Page size limit of `DescribeSuspEvents`, as documented.
pub const MAX_PAGE_SIZE: usize = 100;

/// A host Security Center manages.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SasHost {
    /// The agent's id of the host.
    pub uuid: String,
    /// The ECS instance id, e.g. `i-bp1...`.
    pub instance_id: String,
    /// The asset name.
    pub instance_name: String,
    /// The public address, possibly empty.
    pub internet_ip: String,
    /// The private address.
    pub intranet_ip: String,
}

/// One handling applied to an event, as received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SasOperation {
    /// The `TaskId` answered.
    pub task_id: u64,
    /// `OperationCode`.
    pub code: String,
    /// `OperationParams`, parsed (`Null` when absent).
    pub params: Value,
    /// `MarkMissParam`, parsed (`Null` when absent).
    pub mark_miss: Value,
    /// `Remark` as sent.
    pub remark: String,
}

/// A security alert event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SasEvent {
    /// `SecurityEventId` (`Id` in `DescribeSuspEvents`).
    pub id: u64,
    /// The host's `Uuid`.
    pub uuid: String,
    /// The alert name, e.g. `Reverse shell`.
    pub name: String,
    /// The alert type, e.g. `Unusual process`.
    pub event_type: String,
    /// `EventStatus`, see [`status`].
    pub status: u32,
    /// `CanBeDealOnLine`.
    pub can_be_dealt_online: bool,
    /// `ContainerId`, empty for a host event.
    pub container_id: String,
    /// `Details` as (`Name`, `Value`), e.g. `("path", "/tmp/x")`,
    /// `("md5", ...)`, `("pid", "4242")`, `("ip", ...)`, `("domain", ...)`.
    pub details: Vec<(String, String)>,
    /// The codes this event offers; empty means every code.
    pub operations: Vec<String>,
    /// The handlings applied, in order.
    pub handled: Vec<SasOperation>,
}

impl SasEvent {
    /// A pending event `id` on host `uuid`, handleable online.
    pub fn new(id: u64, uuid: &str, name: &str) -> Self {
        Self {
            id,
            uuid: uuid.to_owned(),
            name: name.to_owned(),
            event_type: "Unusual process".to_owned(),
            status: status::PENDING,
            can_be_dealt_online: true,
            container_id: String::new(),
            details: Vec::new(),
            operations: Vec::new(),
            handled: Vec::new(),
        }
    }

    /// Adds detail `name` = `value`.
    pub fn with_detail(mut self, name: &str, value: &str) -> Self {
        self.details.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Sets `EventStatus`.
    pub fn with_status(mut self, status: u32) -> Self {
        self.status = status;
        self
    }

    /// Sets `ContainerId`.
    pub fn with_container(mut self, container_id: &str) -> Self {
        self.container_id = container_id.to_owned();
        self
    }

    /// Marks the event as not handleable online (`CanBeDealOnLine=false`).
    pub fn offline_only(mut self) -> Self {
        self.can_be_dealt_online = false;
        self
    }

    /// Restricts the codes the event offers.
    pub fn with_operations(mut self, codes: &[&str]) -> Self {
        self.operations = codes.iter().map(|c| (*c).to_owned()).collect();
        self
    }

    fn detail(&self, name: &str) -> Option<&str> {
        self.details
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }
}

/// A whitelist rule `advance_mark_mis_info` added.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SasWhitelistRule {
    /// The event whose handling added it.
    pub event_id: u64,
    /// The host `Uuid` it covers, or `ALL`.
    pub scope: String,
    /// `field`.
    pub field: String,
    /// `operate`.
    pub operate: String,
    /// `fieldValue`.
    pub field_value: String,
}

/// A file in quarantine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SasQuaraFile {
    /// `QuaraFileId`.
    pub id: u64,
    /// The host `Uuid`.
    pub uuid: String,
    /// The event that quarantined it.
    pub event_id: u64,
    /// The file path.
    pub path: String,
    /// The file MD5.
    pub md5: String,
}

#[derive(Debug)]
struct Task {
    code: String,
    event_ids: Vec<u64>,
    polls_left: usize,
}

#[derive(Debug)]
pub(crate) struct Sas {
    hosts: Vec<SasHost>,
    events: BTreeMap<u64, SasEvent>,
    tasks: BTreeMap<u64, Task>,
    whitelist: Vec<SasWhitelistRule>,
    quarantine: Vec<SasQuaraFile>,
    restored: Vec<SasQuaraFile>,
    next_task: u64,
    next_file: u64,
    processing_polls: usize,
}

impl Sas {
    pub(crate) fn new(hosts: Vec<SasHost>, events: Vec<SasEvent>, processing_polls: usize) -> Self {
        Self {
            hosts,
            events: events.into_iter().map(|e| (e.id, e)).collect(),
            tasks: BTreeMap::new(),
            whitelist: Vec::new(),
            quarantine: Vec::new(),
            restored: Vec::new(),
            next_task: 15_411,
            next_file: 3_921_797,
            processing_polls,
        }
    }

    pub(crate) fn serves(action: &str) -> bool {
        matches!(
            action,
            "HandleSecurityEvents"
                | "DescribeSecurityEventOperationStatus"
                | "DescribeSuspEvents"
                | "DescribeSuspEventQuaraFiles"
                | "RollbackSuspEventQuaraFile"
        )
    }

    pub(crate) fn events(&self) -> Vec<SasEvent> {
        self.events.values().cloned().collect()
    }

    pub(crate) fn whitelist(&self) -> Vec<SasWhitelistRule> {
        self.whitelist.clone()
    }

    pub(crate) fn quarantine(&self) -> Vec<SasQuaraFile> {
        self.quarantine.clone()
    }

    pub(crate) fn restored(&self) -> Vec<SasQuaraFile> {
        self.restored.clone()
    }

    /// Runs `action` at server time `now` (Unix seconds).
    pub(crate) fn call(
        &mut self,
        action: &str,
        params: &Params,
        now: i64,
    ) -> Result<Map<String, Value>, ApiError> {
        match action {
            "HandleSecurityEvents" => self.handle(params, now),
            "DescribeSecurityEventOperationStatus" => self.operation_status(params),
            "DescribeSuspEvents" => self.describe_events(params),
            "DescribeSuspEventQuaraFiles" => self.describe_quarantine(params),
            _ => self.rollback(params),
        }
    }

    fn handle(&mut self, params: &Params, now: i64) -> Result<Map<String, Value>, ApiError> {
        let ids = params.repeated("SecurityEventIds");
        if ids.is_empty() {
            return Err(ApiError::missing_parameter("SecurityEventIds.1"));
        }
        let code = params.required("OperationCode")?;
        if !HANDLE_CODES.contains(&code) {
            return Err(illegal(format!(
                "`OperationCode` `{code}` is not one of {}",
                HANDLE_CODES.join(", ")
            )));
        }
        let operation_params = json_param(params, "OperationParams")?;
        let mark_miss = json_param(params, "MarkMissParam")?;
        check_operation(code, &operation_params, &mark_miss, now)?;

        let mut event_ids = Vec::with_capacity(ids.len());
        for id in &ids {
            let id = parse_event_id(id)?;
            let event = self.events.get(&id).ok_or_else(|| not_exists(id))?;
            check_handleable(event, code)?;
            event_ids.push(id);
        }

        let task_id = self.next_task;
        self.next_task += 1;
        let operation = SasOperation {
            task_id,
            code: code.to_owned(),
            params: operation_params,
            mark_miss,
            remark: params.get("Remark").unwrap_or("").to_owned(),
        };
        for id in &event_ids {
            self.apply(*id, &operation);
        }
        self.tasks.insert(
            task_id,
            Task {
                code: code.to_owned(),
                event_ids,
                polls_left: self.processing_polls,
            },
        );
        let mut answer = Map::new();
        answer.insert(
            "HandleSecurityEventsResponse".into(),
            json!({ "TaskId": task_id }),
        );
        Ok(answer)
    }

    /// Records `operation` on event `id` and its effects.
    fn apply(&mut self, id: u64, operation: &SasOperation) {
        let Some(event) = self.events.get_mut(&id) else {
            return;
        };
        event.handled.push(operation.clone());
        let quarantines = match operation.code.as_str() {
            "quara" | "cleanup" => true,
            "kill_and_quara" => operation.params["subOperation"]
                .as_str()
                .is_some_and(|sub| sub.contains("Quara")),
            _ => false,
        };
        event.status = match operation.code.as_str() {
            "ignore" => status::IGNORED,
            "advance_mark_mis_info" => status::WHITELISTED,
            "rm_mark_mis_info" => status::PENDING,
            "client_problem_check" => event.status,
            _ => status::HANDLED,
        };
        let event = event.clone();

        match operation.code.as_str() {
            "advance_mark_mis_info" => {
                let rules = match &operation.mark_miss {
                    Value::Array(rules) => rules.clone(),
                    rule => vec![rule.clone()],
                };
                for rule in rules {
                    let text = |name: &str| rule[name].as_str().unwrap_or("").to_owned();
                    let scope = if text("uuid") == "ALL" {
                        "ALL".to_owned()
                    } else {
                        event.uuid.clone()
                    };
                    self.whitelist.push(SasWhitelistRule {
                        event_id: id,
                        scope,
                        field: text("field"),
                        operate: text("operate"),
                        field_value: text("fieldValue"),
                    });
                }
            }
            "rm_mark_mis_info" => self.whitelist.retain(|rule| rule.event_id != id),
            _ => {}
        }
        if let (true, Some(path)) = (quarantines, event.detail("path")) {
            self.quarantine.push(SasQuaraFile {
                id: self.next_file,
                uuid: event.uuid.clone(),
                event_id: id,
                path: path.to_owned(),
                md5: event.detail("md5").unwrap_or("").to_owned(),
            });
            self.next_file += 1;
        }
    }

    fn operation_status(&mut self, params: &Params) -> Result<Map<String, Value>, ApiError> {
        let (task_status, statuses) = if let Some(task_id) = params.get("TaskId") {
            let task = task_id
                .parse::<u64>()
                .ok()
                .and_then(|id| self.tasks.get_mut(&id))
                .ok_or_else(|| {
                    ApiError::new(
                        400,
                        "OperationTaskNotExists",
                        format!("The specified operation task `{task_id}` does not exist"),
                    )
                })?;
            let processing = task.polls_left > 0;
            task.polls_left = task.polls_left.saturating_sub(1);
            let state = if processing { "Processing" } else { "Success" };
            let statuses = task
                .event_ids
                .iter()
                .map(|id| operation_status(*id, &task.code, state))
                .collect::<Vec<_>>();
            (state, statuses)
        } else {
            let ids = params.repeated("SecurityEventIds");
            if ids.is_empty() {
                return Err(illegal(
                    "one of `TaskId` or `SecurityEventIds.N` is required",
                ));
            }
            let mut statuses = Vec::new();
            for id in ids {
                let id = parse_event_id(&id)?;
                let event = self.events.get(&id).ok_or_else(|| not_exists(id))?;
                if let Some(last) = event.handled.last() {
                    statuses.push(operation_status(id, &last.code, "Success"));
                }
            }
            ("Success", statuses)
        };
        let mut answer = Map::new();
        answer.insert(
            "SecurityEventOperationStatusResponse".into(),
            json!({
                "TaskStatus": task_status,
                "SecurityEventOperationStatuses": statuses,
            }),
        );
        Ok(answer)
    }

    fn describe_events(&self, params: &Params) -> Result<Map<String, Value>, ApiError> {
        let (page, size) = paging(params)?;
        let id = params.get("Id").filter(|v| !v.is_empty());
        let uuids: Vec<&str> = params
            .get("Uuids")
            .map(|list| {
                list.split(',')
                    .map(str::trim)
                    .filter(|u| !u.is_empty())
                    .collect()
            })
            .unwrap_or_default();
        let wanted_status = match params.get("Status").filter(|v| !v.is_empty()) {
            Some(text) => Some(
                text.parse::<u32>()
                    .map_err(|_| illegal(format!("`Status` `{text}` is not a number")))?,
            ),
            None => None,
        };
        let dealed = params.get("Dealed").filter(|v| !v.is_empty());
        let name = params.get("Name").filter(|v| !v.is_empty());
        let remark = params.get("Remark").filter(|v| !v.is_empty());

        let matching: Vec<Value> = self
            .events
            .values()
            .filter(|event| {
                let host = self.host(&event.uuid);
                id.is_none_or(|id| id == event.id.to_string())
                    && (uuids.is_empty() || uuids.contains(&event.uuid.as_str()))
                    && wanted_status.is_none_or(|s| s == 0 || s == event.status)
                    && dealed.is_none_or(|d| (d == "N") == (event.status == status::PENDING))
                    && name.is_none_or(|n| host.instance_name.contains(n))
                    && remark.is_none_or(|r| {
                        event.name.contains(r)
                            || host.instance_name.contains(r)
                            || host.internet_ip.contains(r)
                            || host.intranet_ip.contains(r)
                    })
            })
            .map(|event| self.event_json(event))
            .collect();
        Ok(page_answer("SuspEvents", matching, page, size))
    }

    fn describe_quarantine(&self, params: &Params) -> Result<Map<String, Value>, ApiError> {
        let (page, size) = paging(params)?;
        let files: Vec<Value> = self
            .quarantine
            .iter()
            .map(|file| {
                let host = self.host(&file.uuid);
                let event = self.events.get(&file.event_id);
                json!({
                    "Id": file.id, "Uuid": file.uuid, "Path": file.path, "Md5": file.md5,
                    "EventName": event.map_or("", |e| e.name.as_str()),
                    "EventType": event.map_or("", |e| e.event_type.as_str()),
                    "InstanceId": host.instance_id, "InstanceName": host.instance_name,
                    "InternetIp": host.internet_ip, "IntranetIp": host.intranet_ip,
                    "Ip": host.intranet_ip, "Status": "quaraDone",
                })
            })
            .collect();
        Ok(page_answer("QuaraFiles", files, page, size))
    }

    fn rollback(&mut self, params: &Params) -> Result<Map<String, Value>, ApiError> {
        // Documented: without `QuaraFileId` the call does nothing.
        let Some(text) = params.get("QuaraFileId").filter(|v| !v.is_empty()) else {
            return Ok(Map::new());
        };
        let position = text
            .parse::<u64>()
            .ok()
            .and_then(|id| self.quarantine.iter().position(|f| f.id == id))
            .ok_or_else(|| {
                ApiError::not_found(
                    "Sas.Sim.QuaraFileNotExist",
                    format!("quarantined file `{text}` does not exist"),
                )
            })?;
        let file = self.quarantine.remove(position);
        self.restored.push(file);
        Ok(Map::new())
    }

    fn host(&self, uuid: &str) -> SasHost {
        self.hosts
            .iter()
            .find(|host| host.uuid == uuid)
            .cloned()
            .unwrap_or_default()
    }

    fn event_json(&self, event: &SasEvent) -> Value {
        let host = self.host(&event.uuid);
        let details: Vec<Value> = event
            .details
            .iter()
            .map(|(name, value)| {
                json!({
                    "Name": name, "NameDisplay": name, "Type": "text",
                    "Value": value, "ValueDisplay": value,
                })
            })
            .collect();
        let last = event.handled.last();
        json!({
            "Id": event.id, "SecurityEventIds": event.id.to_string(),
            "Uuid": event.uuid, "InstanceId": host.instance_id,
            "InstanceName": host.instance_name, "InternetIp": host.internet_ip,
            "IntranetIp": host.intranet_ip, "Name": event.name,
            "AlarmEventName": event.name, "AlarmEventType": event.event_type,
            "EventStatus": event.status, "CanBeDealOnLine": event.can_be_dealt_online,
            "ContainerId": event.container_id, "Details": details,
            "OperateErrorCode": last.map_or(String::new(), |op| format!("{}.Success", op.code)),
        })
    }
}

/// Checks the parameters `code` needs, independent of the events.
fn check_operation(
    code: &str,
    params: &Value,
    mark_miss: &Value,
    now: i64,
) -> Result<(), ApiError> {
    match code {
        "block_ip" => {
            let expire = params["expireTime"].as_i64().ok_or_else(|| {
                illegal("`OperationParams` of `block_ip` needs `expireTime` in milliseconds")
            })?;
            if expire <= now.saturating_mul(1000) {
                return Err(illegal(format!(
                    "`expireTime` {expire} is not in the future (now is {} ms)",
                    now.saturating_mul(1000)
                )));
            }
        }
        "kill_and_quara" => {
            let sub = params["subOperation"].as_str().unwrap_or("");
            if !SUB_OPERATIONS.contains(&sub) {
                return Err(illegal(format!(
                    "`subOperation` `{sub}` of `kill_and_quara` is not one of {}",
                    SUB_OPERATIONS.join(", ")
                )));
            }
        }
        "advance_mark_mis_info" => {
            let rules = match mark_miss {
                Value::Array(rules) if !rules.is_empty() => rules.clone(),
                Value::Object(_) => vec![mark_miss.clone()],
                _ => {
                    return Err(illegal(
                        "`advance_mark_mis_info` needs `MarkMissParam` with at least one rule",
                    ));
                }
            };
            for rule in &rules {
                let text = |name: &str| rule[name].as_str().unwrap_or("");
                if text("field").is_empty() || text("fieldValue").is_empty() {
                    return Err(illegal(format!(
                        "`MarkMissParam` rule {rule} needs `field` and `fieldValue`"
                    )));
                }
                if !MARK_OPERATES.contains(&text("operate")) {
                    return Err(illegal(format!(
                        "`operate` `{}` is not one of {}",
                        text("operate"),
                        MARK_OPERATES.join(", ")
                    )));
                }
                if !matches!(text("uuid"), "part" | "ALL") {
                    return Err(illegal(format!(
                        "`uuid` `{}` of a `MarkMissParam` rule is not `part` or `ALL`",
                        text("uuid")
                    )));
                }
            }
        }
        _ => {}
    }
    Ok(())
}

/// Refuses events that cannot take `code` now.
fn check_handleable(event: &SasEvent, code: &str) -> Result<(), ApiError> {
    let id = event.id;
    if event.status == status::EXPIRED {
        return Err(illegal(format!(
            "security event {id} has expired (EventStatus 64) and cannot be handled"
        )));
    }
    if !event.can_be_dealt_online {
        return Err(illegal(format!(
            "security event {id} cannot be handled online (CanBeDealOnLine is false)"
        )));
    }
    if !event.operations.is_empty() && !event.operations.iter().any(|c| c == code) {
        return Err(illegal(format!(
            "security event {id} does not offer `{code}`; it offers {}",
            event.operations.join(", ")
        )));
    }
    if code == "rm_mark_mis_info" && event.status != status::WHITELISTED {
        return Err(illegal(format!("security event {id} is not whitelisted")));
    }
    Ok(())
}

fn operation_status(id: u64, code: &str, state: &str) -> Value {
    let status = if state == "Success" {
        "Success"
    } else {
        "Processing"
    };
    json!({
        "SecurityEventId": id.to_string(),
        "Status": status,
        "ErrorCode": format!("{code}.{status}"),
    })
}

fn json_param(params: &Params, name: &str) -> Result<Value, ApiError> {
    match params.get(name).filter(|v| !v.trim().is_empty()) {
        None => Ok(Value::Null),
        Some(text) => serde_json::from_str(text)
            .map_err(|err| illegal(format!("`{name}` is not JSON: {err}"))),
    }
}

fn parse_event_id(text: &str) -> Result<u64, ApiError> {
    text.trim()
        .parse()
        .map_err(|_| illegal(format!("security event id `{text}` is not a number")))
}

fn paging(params: &Params) -> Result<(usize, usize), ApiError> {
    let number = |name: &str, default: usize| match params.get(name).filter(|v| !v.is_empty()) {
        None => Ok(default),
        Some(text) => text
            .parse::<usize>()
            .ok()
            .filter(|n| *n >= 1)
            .ok_or_else(|| illegal(format!("`{name}` `{text}` is not a positive number"))),
    };
    let size = number("PageSize", 20)?;
    if size > MAX_PAGE_SIZE {
        return Err(illegal(format!(
            "`PageSize` {size} is over the maximum of {MAX_PAGE_SIZE}"
        )));
    }
    Ok((number("CurrentPage", 1)?, size))
}

fn page_answer(field: &str, items: Vec<Value>, page: usize, size: usize) -> Map<String, Value> {
    let total = items.len();
    let shown: Vec<Value> = items
        .into_iter()
        .skip((page - 1) * size)
        .take(size)
        .collect();
    let mut answer = Map::new();
    answer.insert("Count".into(), json!(shown.len()));
    answer.insert(field.into(), Value::Array(shown));
    answer.insert("TotalCount".into(), json!(total));
    answer.insert("CurrentPage".into(), json!(page));
    answer.insert("PageSize".into(), json!(size));
    answer
}

fn illegal(why: impl Into<String>) -> ApiError {
    ApiError::new(
        400,
        "IllegalParam",
        format!("Illegal param: {}", why.into()),
    )
}

fn not_exists(id: u64) -> ApiError {
    ApiError::new(
        400,
        "SecurityEventNotExists",
        format!("Security event not exists: `{id}`"),
    )
}

#[cfg(test)]
mod tests;
