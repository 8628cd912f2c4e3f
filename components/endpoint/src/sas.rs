//! The Alibaba Cloud Security Center backend (`Sas` 2018-12-03).
//!
//! Security Center acts on a host only by handling one of its alert
//! events: `HandleSecurityEvents` applies an `OperationCode` to security
//! event ids
//! (<https://help.aliyun.com/zh/security-center/developer-reference/api-sas-2018-12-03-handlesecurityevents>).
//! Each action maps to one code:
//!
//! | action | code | revert |
//! |---|---|---|
//! | `AegisKillProcess` | `kill_process` | none (a killed process stays dead) |
//! | `AegisDeepCleanUp` | `cleanup` | none documented: refused |
//! | `AegisQuaraFile` | `quara` | `RollbackSuspEventQuaraFile` |
//! | `AegisKillQuara` | `kill_and_quara`, `subOperation` `killAndQuaraFileByPidAndMd5andPath` | `RollbackSuspEventQuaraFile` |
//! | `AliNetBlockIP` | `block_ip`, `expireTime` now + duration | none: the block ends at `expireTime`; no unblock API was found |
//! | `AliNetWhiteIP`, `AliNetWhiteDNS` | `advance_mark_mis_info` | `rm_mark_mis_info` |
//! | `AegisStopContainer`, `SasOfflineCheck`, `AliNetBlockDNS` | none | `invalid-input`: Security Center has no such operation |
//!
//! `rm_mark_mis_info` ("cancel whitelisting") is listed among the codes of
//! `DescribeSecurityEventOperations`
//! (<https://help.aliyun.com/zh/security-center/developer-reference/api-sas-2018-12-03-describesecurityeventoperations>),
//! not in `HandleSecurityEvents`' own list [unverified that the latter
//! takes it]. `RollbackSuspEventQuaraFile` restores a file by the
//! `QuaraFileId` that `DescribeSuspEventQuaraFiles` lists
//! (<https://www.alibabacloud.com/help/doc-detail/171095.htm>,
//! <https://www.alibabacloud.com/help/doc-detail/171094.htm>).
//!
//! Which events: the step parameter `security-event-ids` (comma-separated)
//! or the entity attribute `sas-event-id` (or `security-event-id`) names
//! them; otherwise `DescribeSuspEvents` lists the events of the host whose
//! `Uuid` is the entity attribute or target setting `sas-uuid` (of every
//! host when neither is set), at most [`MAX_PAGES`] pages. Either way an
//! event is acted on only if it mentions the entity: one of its `Details`
//! values is the entity's value (an address compared as an address, a
//! domain without regard to case), or, for a `host`, its `Uuid`, instance
//! id, name or address is. Events that are expired (`EventStatus` 64) or
//! not handleable online (`CanBeDealOnLine` false) cannot be handled
//! (<https://alibabacloud.com/help/fr/security-center/developer-reference/api-sas-2018-12-03-handlesimilarsecurityevents>):
//! named ones fail the call, found ones are skipped.
//!
//! Idempotency: an event already in the state the code leads to
//! (`EventStatus` 32 handled, or 8 whitelisted) is not handled again; when
//! every event is, the call succeeds with `changed: false`. The handling's
//! `Remark` is the task's marker. After `HandleSecurityEvents` the task is
//! polled with `DescribeSecurityEventOperationStatus`
//! (<https://help.aliyun.com/document_detail/421750.html>) until it
//! answers `Success` or `Failure`.
//!
//! Known gap: a repeat after a lost answer finds the events handled and
//! returns no revert token, since Security Center does not say who handled
//! them. TODO: read the handling's `Remark` back once an API that returns
//! it is confirmed; meanwhile such a task cannot be reverted through
//! riposte (the whitelist rule or quarantined file stays until removed in
//! the console).

use riposte_sdk::action::{self, setting, unchanged};
use riposte_sdk::aliyun::RpcClient;
use riposte_sdk::bindings::wasi::clocks::{monotonic_clock, wall_clock};
use riposte_sdk::entity::IpOrCidr;
use riposte_sdk::types::{
    ActionRequest, EntityKind, Failure, FailureKind, Outcome, PlanOutcome, SettingSpec,
};
use riposte_sdk::{failure, log};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::Action;

/// Security Center API version.
const VERSION: &str = "2018-12-03";

/// Security Center API endpoints: the central one, the one newer SDKs use
/// for mainland regions and the international one
/// (`shared/reference/providers.md` §1.4.3).
pub(crate) const HOSTS: &[&str] = &[
    "https://tds.aliyuncs.com",
    "https://tds.cn-shanghai.aliyuncs.com",
    "https://tds.ap-southeast-1.aliyuncs.com",
];

/// `block_ip` lasts this long when neither the request's duration nor the
/// setting `sas-block-seconds` says otherwise: one day, riposte's choice.
const DEFAULT_BLOCK_SECONDS: u64 = 86_400;

/// `DescribeSuspEvents` answers at most 100 events a page (documented).
const PAGE_SIZE: usize = 100;

/// Pages read when looking events up: 1,000 events. Past that the entity
/// must be narrowed with `sas-uuid` or named event ids.
const MAX_PAGES: usize = 10;

/// Status queries after a handling, and the pause between them.
const STATUS_POLLS: usize = 5;
const POLL_PAUSE_NANOS: u64 = 400_000_000;

/// `EventStatus` values (`DescribeSuspEvents` `Status`,
/// <https://help.aliyun.com/document_detail/251497.htm>).
const WHITELISTED: u64 = 8;
const HANDLED: u64 = 32;
const EXPIRED: u64 = 64;

/// The handling an action maps to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Operation {
    KillProcess,
    Cleanup,
    Quara,
    KillAndQuara,
    BlockIp,
    Whitelist,
}

impl Operation {
    fn of(action: Action) -> Result<Self, Failure> {
        let why = match action {
            Action::KillProcess => return Ok(Self::KillProcess),
            Action::DeepCleanUp => return Ok(Self::Cleanup),
            Action::QuaraFile => return Ok(Self::Quara),
            Action::KillQuara => return Ok(Self::KillAndQuara),
            Action::NetBlockIp => return Ok(Self::BlockIp),
            Action::NetWhiteIp | Action::NetWhiteDns => return Ok(Self::Whitelist),
            Action::StopContainer => {
                "it cannot stop a container (its container handling kills \
                                      a process inside one)"
            }
            Action::OfflineCheck => "it has no operation that collects a host snapshot",
            Action::NetBlockDns => {
                "it cannot block a domain on a host (`block_ip` blocks \
                                    addresses only)"
            }
        };
        Err(failure::invalid_input(format!(
            "`{}` is not available on Security Center (target provider `aliyun`): {why}; run \
             it on a target with provider `agent`",
            action.id()
        )))
    }

    fn code(self) -> &'static str {
        match self {
            Self::KillProcess => "kill_process",
            Self::Cleanup => "cleanup",
            Self::Quara => "quara",
            Self::KillAndQuara => "kill_and_quara",
            Self::BlockIp => "block_ip",
            Self::Whitelist => "advance_mark_mis_info",
        }
    }

    /// The `EventStatus` a handled event has afterwards.
    fn done_status(self) -> u64 {
        if self == Self::Whitelist {
            WHITELISTED
        } else {
            HANDLED
        }
    }

    fn reversible(self) -> bool {
        matches!(self, Self::Quara | Self::KillAndQuara | Self::Whitelist)
    }

    fn kinds(self, action: Action) -> &'static [EntityKind] {
        match (self, action) {
            (Self::KillProcess, _) => &[EntityKind::Process, EntityKind::FileHash],
            (Self::Cleanup, _) => &[EntityKind::Host, EntityKind::File, EntityKind::FileHash],
            (Self::Quara, _) => &[EntityKind::File],
            (Self::KillAndQuara, _) => &[EntityKind::Process],
            (Self::BlockIp, _) => &[EntityKind::Ip],
            (Self::Whitelist, Action::NetWhiteDns) => &[EntityKind::Domain],
            (Self::Whitelist, _) => &[EntityKind::Ip],
        }
    }
}

pub(crate) fn settings(action: Action) -> Vec<SettingSpec> {
    let Ok(operation) = Operation::of(action) else {
        return Vec::new();
    };
    let mut settings = vec![setting(
        "sas-uuid",
        "Security Center: the host's Uuid, to look its events up (else every host's)",
        false,
    )];
    match operation {
        Operation::BlockIp => settings.push(setting(
            "sas-block-seconds",
            "Security Center: block length when the request has no duration (default 86400)",
            false,
        )),
        Operation::Whitelist => settings.push(setting(
            "sas-allowlist-scope",
            "Security Center: `part` (default, this host) or `ALL` (every host)",
            false,
        )),
        _ => {}
    }
    settings
}

/// The checked request: what to do, to which entity, on which events.
struct Handling {
    operation: Operation,
    kind: EntityKind,
    value: String,
    named_ids: Vec<String>,
    uuid: Option<String>,
    marker: String,
}

impl Handling {
    fn from_request(action: Action, request: &ActionRequest) -> Result<Self, Failure> {
        let operation = Operation::of(action)?;
        let kind = request.entity.kind;
        let kinds = operation.kinds(action);
        if !kinds.contains(&kind) {
            let names: Vec<&str> = kinds.iter().map(|k| action::kind_name(*k)).collect();
            return Err(failure::invalid_input(format!(
                "`{}` on Security Center does not accept `{}` entities; it accepts {}",
                action.id(),
                action::kind_name(kind),
                names.join(", ")
            )));
        }
        let value = match kind {
            EntityKind::Ip => action::address(request, false)?.to_string(),
            _ if request.entity.value.trim().is_empty() => {
                return Err(failure::invalid_input(format!(
                    "`{}`: the entity has no value",
                    action.id()
                )));
            }
            _ => request.entity.value.trim().to_owned(),
        };
        let attribute = |name: &str| {
            request
                .entity
                .attributes
                .iter()
                .find(|(key, _)| key == name)
                .map(|(_, value)| value.as_str())
        };
        let listed = request
            .parameter("security-event-ids")
            .or_else(|| attribute("sas-event-id"))
            .or_else(|| attribute("security-event-id"))
            .unwrap_or("");
        let named_ids: Vec<String> = listed
            .split(',')
            .map(str::trim)
            .filter(|id| !id.is_empty())
            .map(str::to_owned)
            .collect();
        if let Some(bad) = named_ids
            .iter()
            .find(|id| !id.bytes().all(|b| b.is_ascii_digit()))
        {
            return Err(failure::invalid_input(format!(
                "security event id `{bad}` is not a number; expected ids such as `909361,909362` \
                 in step parameter `security-event-ids` or entity attribute `sas-event-id`"
            )));
        }
        let uuid = attribute("sas-uuid")
            .or_else(|| request.setting("sas-uuid"))
            .filter(|u| !u.is_empty())
            .map(str::to_owned);
        Ok(Self {
            operation,
            kind,
            value,
            named_ids,
            uuid,
            marker: action::marker(request, 64),
        })
    }

    /// Whether `event` mentions the entity.
    fn mentions(&self, event: &Event) -> bool {
        if self.kind == EntityKind::Host {
            return event.host.iter().any(|field| field == &self.value);
        }
        event.details.iter().any(|(_, value)| self.matches(value))
    }

    fn matches(&self, text: &str) -> bool {
        match self.kind {
            EntityKind::Ip => {
                IpOrCidr::parse(text.trim()).ok().map(|ip| ip.to_string())
                    == Some(self.value.clone())
            }
            EntityKind::Domain => text
                .trim()
                .trim_end_matches('.')
                .eq_ignore_ascii_case(&self.value),
            _ => text.trim() == self.value,
        }
    }

    fn where_from(&self) -> String {
        if !self.named_ids.is_empty() {
            format!("events {}", self.named_ids.join(", "))
        } else if let Some(uuid) = &self.uuid {
            format!("the events of host {uuid} that mention `{}`", self.value)
        } else {
            format!("the events of any host that mention `{}`", self.value)
        }
    }
}

/// An event as `DescribeSuspEvents` lists it.
#[derive(Debug, Clone)]
struct Event {
    id: String,
    uuid: String,
    status: u64,
    online: bool,
    details: Vec<(String, String)>,
    /// `Uuid`, `InstanceId`, `InstanceName`, `InternetIp`, `IntranetIp`.
    host: Vec<String>,
}

impl Event {
    fn parse(value: &Value) -> Option<Self> {
        let text = |name: &str| value[name].as_str().unwrap_or("").to_owned();
        let id = match &value["Id"] {
            Value::Number(n) => n.to_string(),
            Value::String(s) if !s.is_empty() => s.clone(),
            _ => return None,
        };
        let details = value["Details"]
            .as_array()
            .map(|list| {
                list.iter()
                    .map(|d| {
                        let name = d["Name"].as_str().unwrap_or("").to_owned();
                        (name, d["Value"].as_str().unwrap_or("").to_owned())
                    })
                    .collect()
            })
            .unwrap_or_default();
        let host = [
            "Uuid",
            "InstanceId",
            "InstanceName",
            "InternetIp",
            "IntranetIp",
        ]
        .iter()
        .map(|name| text(name))
        .filter(|v| !v.is_empty())
        .collect();
        Some(Self {
            id,
            uuid: text("Uuid"),
            status: value["EventStatus"].as_u64().unwrap_or(0),
            online: value["CanBeDealOnLine"].as_bool().unwrap_or(true),
            details,
            host,
        })
    }

    /// Why this event cannot be handled, if it cannot.
    fn refusal(&self) -> Option<String> {
        if self.status == EXPIRED {
            Some(format!("event {} has expired (EventStatus 64)", self.id))
        } else if !self.online {
            Some(format!(
                "event {} cannot be handled online (CanBeDealOnLine is false)",
                self.id
            ))
        } else {
            None
        }
    }
}

/// What revert needs.
#[derive(Debug, Serialize, Deserialize)]
struct Token {
    code: String,
    event_ids: Vec<String>,
    uuids: Vec<String>,
    /// For quarantines: the event detail values that are file paths.
    paths: Vec<String>,
}

pub(crate) fn execute(action: Action, request: &ActionRequest) -> Result<Outcome, Failure> {
    let handling = Handling::from_request(action, request)?;
    let extra = operation_params(&handling, request)?;
    let credential = action::credential(request, "endpoint")?;
    let client = RpcClient::new(&credential, &request.target.endpoint, VERSION)?;

    let events = find_events(&client, &handling)?;
    let done = handling.operation.done_status();
    let (already, todo): (Vec<Event>, Vec<Event>) =
        events.into_iter().partition(|e| e.status == done);
    if todo.is_empty() {
        let ids: Vec<&str> = already.iter().map(|e| e.id.as_str()).collect();
        return Ok(unchanged(format!(
            "Security Center events {} are already {} (EventStatus {done})",
            ids.join(", "),
            if done == WHITELISTED {
                "whitelisted"
            } else {
                "handled"
            }
        )));
    }

    let mut tasks = Vec::new();
    for (mark_miss, group) in groups(&handling, &todo, request)? {
        let ids: Vec<String> = group.iter().map(|e| e.id.clone()).collect();
        let task = handle(
            &client,
            handling.operation.code(),
            &ids,
            &extra,
            &mark_miss,
            &handling.marker,
        )?;
        tasks.push(task);
    }
    let ids: Vec<String> = todo.iter().map(|e| e.id.clone()).collect();
    log::info(&format!(
        "security center `{}` done on events {}",
        handling.operation.code(),
        ids.join(",")
    ));

    let revert_token = if handling.operation.reversible() {
        let mut uuids: Vec<String> = todo.iter().map(|e| e.uuid.clone()).collect();
        uuids.dedup();
        let paths = todo
            .iter()
            .flat_map(|e| e.details.iter().map(|(_, v)| v.clone()))
            .filter(|v| v.starts_with('/') || v.contains(":\\"))
            .collect();
        let token = Token {
            code: handling.operation.code().to_owned(),
            event_ids: ids.clone(),
            uuids,
            paths,
        };
        Some(action::revert_token(&token)?)
    } else {
        None
    };
    Ok(Outcome {
        detail: format!(
            "Security Center `{}` on events {} (task {}){}",
            handling.operation.code(),
            ids.join(", "),
            tasks.join(", "),
            if already.is_empty() {
                String::new()
            } else {
                format!("; {} already done", already.len())
            }
        ),
        changed: true,
        revert_token,
        items: Vec::new(),
    })
}

pub(crate) fn revert(
    action: Action,
    request: &ActionRequest,
    token: &str,
) -> Result<Outcome, Failure> {
    let operation = Operation::of(action)?;
    if !operation.reversible() {
        let why = match operation {
            Operation::BlockIp => {
                "the block ends by itself at the `expireTime` it was given; \
                                   Security Center has no unblock operation"
            }
            Operation::KillProcess => "a killed process cannot be brought back",
            _ => "Security Center documents no way to undo a deep clean-up",
        };
        return Err(failure::invalid_input(format!(
            "`{}` on Security Center (`{}`) cannot be reverted: {why}",
            action.id(),
            operation.code()
        )));
    }
    let token: Token = action::parse_revert_token(token, action.id())?;
    let credential = action::credential(request, "endpoint")?;
    let client = RpcClient::new(&credential, &request.target.endpoint, VERSION)?;
    match token.code.as_str() {
        "advance_mark_mis_info" => remove_whitelisting(&client, &token, request),
        "quara" | "kill_and_quara" => restore_files(&client, &token),
        other => Err(failure::invalid_input(format!(
            "revert token of `{}` names code `{other}`, which riposte does not undo",
            action.id()
        ))),
    }
}

pub(crate) fn plan(action: Action, request: &ActionRequest) -> Result<PlanOutcome, Failure> {
    let handling = Handling::from_request(action, request)?;
    let extra = operation_params(&handling, request)?;
    let params = if extra.is_empty() {
        String::new()
    } else {
        format!(" with {extra}")
    };
    Ok(PlanOutcome {
        changes: vec![format!(
            "Security Center HandleSecurityEvents `{}`{params} on {} (remark `{}`)",
            handling.operation.code(),
            handling.where_from(),
            handling.marker
        )],
        reversible: handling.operation.reversible(),
    })
}

/// `OperationParams` for the handling, as JSON text (empty for none).
fn operation_params(handling: &Handling, request: &ActionRequest) -> Result<String, Failure> {
    match handling.operation {
        Operation::BlockIp => {
            let seconds = match (
                request.duration_seconds,
                request.setting("sas-block-seconds"),
            ) {
                (Some(seconds), _) => seconds,
                (None, Some(text)) => {
                    text.parse::<u64>().ok().filter(|s| *s > 0).ok_or_else(|| {
                        failure::invalid_input(format!(
                            "setting `sas-block-seconds` is `{text}`; expected a number of seconds \
                         such as 3600"
                        ))
                    })?
                }
                (None, None) => DEFAULT_BLOCK_SECONDS,
            };
            let now_ms = wall_clock::now().seconds.saturating_mul(1000);
            let expire = now_ms.saturating_add(seconds.saturating_mul(1000));
            Ok(json!({ "expireTime": expire }).to_string())
        }
        Operation::KillAndQuara => {
            Ok(json!({ "subOperation": "killAndQuaraFileByPidAndMd5andPath" }).to_string())
        }
        _ => Ok(String::new()),
    }
}

/// The events the handling applies to, refusing those that cannot take it.
fn find_events(client: &RpcClient<'_>, handling: &Handling) -> Result<Vec<Event>, Failure> {
    if !handling.named_ids.is_empty() {
        let mut events = Vec::new();
        for id in &handling.named_ids {
            let listed = call(client, "DescribeSuspEvents", &[("Id", id.clone())])?;
            let event = events_of(&listed)
                .into_iter()
                .find(|e| &e.id == id)
                .ok_or_else(|| {
                    failure::new(
                        FailureKind::NotFound,
                        format!("Security Center has no security event {id}"),
                    )
                })?;
            if !handling.mentions(&event) {
                return Err(failure::invalid_input(format!(
                    "security event {id} does not mention `{}`; name the event of this entity",
                    handling.value
                )));
            }
            if let Some(why) = event.refusal() {
                return Err(failure::invalid_input(format!("cannot handle {why}")));
            }
            events.push(event);
        }
        return Ok(events);
    }

    let mut found = Vec::new();
    for page in 1..=MAX_PAGES {
        let mut params = vec![
            ("PageSize", PAGE_SIZE.to_string()),
            ("CurrentPage", page.to_string()),
        ];
        if let Some(uuid) = &handling.uuid {
            params.push(("Uuids", uuid.clone()));
        }
        let listed = call(client, "DescribeSuspEvents", &params)?;
        let events = events_of(&listed);
        let last = events.len() < PAGE_SIZE;
        found.extend(events.into_iter().filter(|e| handling.mentions(e)));
        if last {
            break;
        }
        if page == MAX_PAGES {
            log::warn("security center event lookup stopped after the page limit");
        }
    }
    if found.is_empty() {
        return Err(failure::invalid_input(format!(
            "no Security Center event identifies `{}` ({}); name the events in step parameter \
             `security-event-ids` or entity attribute `sas-event-id`",
            handling.value,
            handling.where_from()
        )));
    }
    let (refused, usable): (Vec<Event>, Vec<Event>) =
        found.into_iter().partition(|e| e.refusal().is_some());
    if usable.is_empty() {
        let reasons: Vec<String> = refused.iter().filter_map(Event::refusal).collect();
        return Err(failure::invalid_input(format!(
            "every Security Center event of `{}` is out of reach: {}",
            handling.value,
            reasons.join("; ")
        )));
    }
    Ok(usable)
}

/// The `MarkMissParam` of each group of events handled together: one
/// group for codes other than whitelisting; for whitelisting, one per
/// detail name the entity appears under (the rule's `field`).
fn groups(
    handling: &Handling,
    events: &[Event],
    request: &ActionRequest,
) -> Result<Vec<(String, Vec<Event>)>, Failure> {
    if handling.operation != Operation::Whitelist {
        return Ok(vec![(String::new(), events.to_vec())]);
    }
    let scope = request.setting("sas-allowlist-scope").unwrap_or("part");
    if !matches!(scope, "part" | "ALL") {
        return Err(failure::invalid_input(format!(
            "setting `sas-allowlist-scope` is `{scope}`; expected `part` (this host) or `ALL`"
        )));
    }
    let mut groups: Vec<(String, Vec<Event>)> = Vec::new();
    for event in events {
        let field = event
            .details
            .iter()
            .find(|(_, value)| handling.matches(value))
            .map(|(name, _)| name.clone())
            .unwrap_or_default();
        if field.is_empty() {
            return Err(failure::invalid_input(format!(
                "event {} has no detail holding `{}` to whitelist by",
                event.id, handling.value
            )));
        }
        let rule = json!([{
            "uuid": scope, "field": field, "operate": "strEqual", "fieldValue": handling.value,
        }])
        .to_string();
        match groups.iter_mut().find(|(r, _)| *r == rule) {
            Some((_, list)) => list.push(event.clone()),
            None => groups.push((rule, vec![event.clone()])),
        }
    }
    Ok(groups)
}

/// Runs `HandleSecurityEvents` and waits for its task; answers the task id.
fn handle(
    client: &RpcClient<'_>,
    code: &str,
    ids: &[String],
    operation_params: &str,
    mark_miss: &str,
    remark: &str,
) -> Result<String, Failure> {
    let mut params: Vec<(String, String)> = ids
        .iter()
        .enumerate()
        .map(|(n, id)| (format!("SecurityEventIds.{}", n + 1), id.clone()))
        .collect();
    params.push(("OperationCode".into(), code.into()));
    params.push(("Remark".into(), remark.into()));
    if !operation_params.is_empty() {
        params.push(("OperationParams".into(), operation_params.into()));
    }
    if !mark_miss.is_empty() {
        params.push(("MarkMissParam".into(), mark_miss.into()));
    }
    let params: Vec<(&str, String)> = params
        .iter()
        .map(|(k, v)| (k.as_str(), v.clone()))
        .collect();
    let answer = call(client, "HandleSecurityEvents", &params)?;
    let task = match &answer["HandleSecurityEventsResponse"]["TaskId"] {
        Value::Number(n) => n.to_string(),
        Value::String(s) if !s.is_empty() => s.clone(),
        other => {
            return Err(failure::internal(format!(
                "HandleSecurityEvents answered no `HandleSecurityEventsResponse.TaskId`: {other}"
            )));
        }
    };
    wait(client, &task, code)?;
    Ok(task)
}

/// Polls `DescribeSecurityEventOperationStatus` until the task ends.
fn wait(client: &RpcClient<'_>, task: &str, code: &str) -> Result<(), Failure> {
    for poll in 0..STATUS_POLLS {
        if poll > 0 {
            monotonic_clock::subscribe_duration(POLL_PAUSE_NANOS).block();
        }
        let answer = call(
            client,
            "DescribeSecurityEventOperationStatus",
            &[("TaskId", task.to_owned())],
        )?;
        let response = &answer["SecurityEventOperationStatusResponse"];
        let failed: Vec<String> = response["SecurityEventOperationStatuses"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|s| s["Status"] == "Failed")
            .map(|s| format!("{} ({})", s["SecurityEventId"], s["ErrorCode"]))
            .collect();
        match response["TaskStatus"].as_str().unwrap_or("") {
            "Success" if failed.is_empty() => return Ok(()),
            "Success" | "Failure" => {
                return Err(failure::internal(format!(
                    "Security Center task {task} (`{code}`) failed for events {}",
                    if failed.is_empty() {
                        "(none named)".to_owned()
                    } else {
                        failed.join(", ")
                    }
                )));
            }
            _ => {}
        }
    }
    let mut failure = failure::new(
        FailureKind::Timeout,
        format!(
            "Security Center task {task} (`{code}`) was still processing after {STATUS_POLLS} \
             status queries; a retry finds the events it handled"
        ),
    );
    failure.retryable = true;
    Err(failure)
}

fn remove_whitelisting(
    client: &RpcClient<'_>,
    token: &Token,
    request: &ActionRequest,
) -> Result<Outcome, Failure> {
    let mut whitelisted = Vec::new();
    for id in &token.event_ids {
        let listed = call(client, "DescribeSuspEvents", &[("Id", id.clone())])?;
        if events_of(&listed)
            .iter()
            .any(|e| &e.id == id && e.status == WHITELISTED)
        {
            whitelisted.push(id.clone());
        }
    }
    if whitelisted.is_empty() {
        return Ok(unchanged(format!(
            "Security Center events {} are no longer whitelisted",
            token.event_ids.join(", ")
        )));
    }
    let task = handle(
        client,
        "rm_mark_mis_info",
        &whitelisted,
        "",
        "",
        &action::marker(request, 64),
    )?;
    Ok(Outcome {
        detail: format!(
            "removed the whitelisting of Security Center events {} (task {task})",
            whitelisted.join(", ")
        ),
        changed: true,
        revert_token: None,
        items: Vec::new(),
    })
}

fn restore_files(client: &RpcClient<'_>, token: &Token) -> Result<Outcome, Failure> {
    let mut files = Vec::new();
    for page in 1..=MAX_PAGES {
        let params = [
            ("PageSize", PAGE_SIZE.to_string()),
            ("CurrentPage", page.to_string()),
            ("From", "sas".to_owned()),
        ];
        let listed = call(client, "DescribeSuspEventQuaraFiles", &params)?;
        let page_files = listed["QuaraFiles"].as_array().cloned().unwrap_or_default();
        let last = page_files.len() < PAGE_SIZE;
        files.extend(page_files.into_iter().filter(|f| {
            let text = |name: &str| f[name].as_str().unwrap_or("").to_owned();
            token.uuids.contains(&text("Uuid")) && token.paths.contains(&text("Path"))
        }));
        if last {
            break;
        }
    }
    let mut restored = Vec::new();
    for file in &files {
        let id = file["Id"].to_string();
        let params = [("QuaraFileId", id.clone()), ("From", "sas".to_owned())];
        match call(client, "RollbackSuspEventQuaraFile", &params) {
            Ok(_) => restored.push(format!("{} ({id})", file["Path"].as_str().unwrap_or(""))),
            // Restored since it was listed.
            Err(failure) if failure.kind == FailureKind::NotFound => {}
            Err(failure) => return Err(failure),
        }
    }
    if restored.is_empty() {
        return Ok(unchanged(format!(
            "no file of Security Center events {} is in quarantine",
            token.event_ids.join(", ")
        )));
    }
    Ok(Outcome {
        detail: format!("restored from quarantine: {}", restored.join(", ")),
        changed: true,
        revert_token: None,
        items: Vec::new(),
    })
}

fn events_of(listed: &Value) -> Vec<Event> {
    listed["SuspEvents"]
        .as_array()
        .map(|list| list.iter().filter_map(Event::parse).collect())
        .unwrap_or_default()
}

/// Calls `action` with `params` in the query. Security Center answers bad
/// parameters with `IllegalParam` (documented on its API pages), which the
/// SDK's generic classification does not know: it is `invalid-input`.
fn call(client: &RpcClient<'_>, action: &str, params: &[(&str, String)]) -> Result<Value, Failure> {
    let query: Vec<(&str, &str)> = params.iter().map(|(k, v)| (*k, v.as_str())).collect();
    client.call(action, &query, &[]).map_err(|mut failure| {
        if failure.message.contains(": IllegalParam (") {
            failure.kind = FailureKind::InvalidInput;
            failure.retryable = false;
        }
        failure
    })
}
