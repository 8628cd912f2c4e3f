//! Alibaba Cloud Security Center (云安全中心, formerly Aegis/安骑士)
//! events, one item of the legacy `aegis` responses
//! `DescribeSuspEvents`, `DescribeAlarmEventList`,
//! `DescribeSuspEventDetail` and `DescribeAlarmEventDetail`, and of the
//! Sas 2018-12-03 `DescribeSuspEvents`
//! (<https://help.aliyun.com/document_detail/251497.html>). The response
//! wrappers (`SuspEvents`, `AlarmEventList`, `Data`) are removed by the
//! document reader.
//!
//! | alert field | Security Center field |
//! |---|---|
//! | `title` | the first of `AlarmEventNameDisplay`, `AlarmEventAliasName`, `AlarmEventName`, `Name`, `EventTypeDesc`, `EventName` |
//! | `severity` | `Level` (see the module docs) |
//! | `time` | the first of `OccurrenceTime`, `OccurrenceTimeStamp`, `StartTime`, `LastTime`, `LastTimeStamp`, `EndTime` |
//! | `rule_id` | null: these events carry no rule id |
//! | `host` | `Uuid`, the Security Center id of the affected server |
//! | `src_ip`, `dest_ip` | null: `InternetIp` and `IntranetIp` are the affected server's, not a flow's |
//!
//! Times are `YYYY-MM-DD HH:MM:SS` without a zone, or epoch milliseconds.
//! The zone-less ones are read as China Standard Time (UTC+8): the
//! console and the API examples show Beijing time, and the API reference
//! does not name a zone, so this is an assumption to revisit if Alibaba
//! documents otherwise.
//!
//! Entities: `ip` from `InternetIp` and `IntranetIp`; `host` from `Uuid`;
//! `cloud-resource` from `InstanceId`; and from `Details[]`, by
//! `InfoType`: a name ending in `path` is a `file`, one holding `sha256` a
//! `file-hash`, `ip` or `*_ip` an `ip`, one holding `domain` a `domain`,
//! `url` or `*_url` a `url`, `pid` a `process` (when a positive
//! integer), `user` or `*_user` an `account`. Download links
//! (`download_url`, `Type: html`) and the placeholder `--` are not
//! entities.

use serde_json::Value;

use super::draft::{Draft, integer, shorten, shown, string};
use super::{Format, Parsed, Severity, time};
use crate::model::EntityKind;

/// The fields that name an event, most descriptive first.
const TITLES: [&str; 6] = [
    "AlarmEventNameDisplay",
    "AlarmEventAliasName",
    "AlarmEventName",
    "Name",
    "EventTypeDesc",
    "EventName",
];

/// The fields that give an event's time, in order of preference.
const TIMES: [&str; 6] = [
    "OccurrenceTime",
    "OccurrenceTimeStamp",
    "StartTime",
    "LastTime",
    "LastTimeStamp",
    "EndTime",
];

/// The zone of zone-less times (see the module docs).
const CHINA_STANDARD_TIME: &str = "+08:00";

/// Whether `record` looks like a Security Center event.
pub(super) fn is_event(record: &Value) -> bool {
    let level = string(record, "Level");
    matches!(level, Some("serious" | "suspicious" | "remind"))
        || [
            "AlarmEventNameDisplay",
            "AlarmEventAliasName",
            "AlarmEventName",
        ]
        .iter()
        .any(|field| string(record, field).is_some())
}

/// Reads one event.
pub(super) fn parse(record: &Value) -> Result<Parsed, String> {
    let Some(title) = TITLES.iter().find_map(|field| string(record, field)) else {
        return Err(missing_title(record));
    };
    let mut draft = Draft::new(Format::AliyunSas, title.to_string());
    draft.severity("Level", severity(record.get("Level")));
    let (field, value) = TIMES
        .iter()
        .map(|field| (*field, record.get(*field)))
        .find(|(_, value)| value.is_some_and(|v| !v.is_null()))
        .unwrap_or(("LastTime", None));
    draft.time(field, time::field(value, Some(CHINA_STANDARD_TIME)));
    let host = draft.text("Uuid", record.get("Uuid"));
    draft.host(host);
    if let Some(message) = string(record, "Message")
        && is_success(record)
    {
        draft.note(format!(
            "the response also says `Message` `{}`; read because `Code` is 200",
            shorten(message)
        ));
    }

    draft.entity(EntityKind::Ip, "InternetIp", record.get("InternetIp"));
    draft.entity(EntityKind::Ip, "IntranetIp", record.get("IntranetIp"));
    draft.entity(EntityKind::Host, "Uuid", record.get("Uuid"));
    let instance = record.get("InstanceId");
    draft.entity(EntityKind::CloudResource, "InstanceId", instance);
    details(&mut draft, record);
    Ok(Parsed::Alert(draft.finish(record)))
}

/// Security Center's three levels.
fn severity(value: Option<&Value>) -> Result<Severity, String> {
    let value = match value {
        None | Some(Value::Null) => return Err("missing".into()),
        Some(value) => value,
    };
    match value.as_str().map(str::trim) {
        Some("serious") => Ok(Severity::High),
        Some("suspicious") => Ok(Severity::Medium),
        Some("remind") => Ok(Severity::Low),
        _ => Err(format!(
            "`{}` is not a level; expected `serious`, `suspicious` or `remind`",
            shown(value)
        )),
    }
}

/// Whether the record carries `Code` 200 (as a number or a string).
fn is_success(record: &Value) -> bool {
    record.get("Code").and_then(integer) == Some(200)
}

/// Why a record names no event: an API error response, or a record of
/// another kind.
fn missing_title(record: &Value) -> String {
    let code = record.get("Code").filter(|code| !code.is_null());
    if let Some(code) = code
        && !is_success(record)
    {
        let message = record.get("Message").map(shown).unwrap_or_default();
        return format!(
            "the record is an Alibaba Cloud API error, not an event: `Code` `{}`, \
             `Message` `{message}`",
            shown(code)
        );
    }
    format!(
        "field `AlarmEventName`: missing; a Security Center event is named by one of {}",
        TITLES
            .iter()
            .map(|field| format!("`{field}`"))
            .collect::<Vec<_>>()
            .join(", ")
    )
}

/// Entities from `Details[]` name/value pairs.
fn details(draft: &mut Draft, record: &Value) {
    let Some(Value::Array(details)) = record.get("Details") else {
        return;
    };
    for (index, detail) in details.iter().enumerate() {
        let info_type = string(detail, "InfoType").unwrap_or_default();
        let Some(kind) = detail_kind(info_type) else {
            continue;
        };
        if string(detail, "Type") == Some("html") {
            continue;
        }
        let value = detail.get("Value");
        if matches!(
            value.and_then(Value::as_str).map(str::trim),
            Some("--" | "-")
        ) {
            continue;
        }
        let field = format!("Details[{index}].Value");
        if kind == EntityKind::Process {
            draft.process((&field, value), ("", None));
        } else {
            draft.entity(kind, &field, value);
        }
    }
}

/// The entity kind a detail's `InfoType` names, if any.
fn detail_kind(info_type: &str) -> Option<EntityKind> {
    let name = info_type.to_ascii_lowercase();
    let is = |exact: &str| name == exact || name.ends_with(&format!("_{exact}"));
    if name.contains("download") {
        None
    } else if name.ends_with("path") {
        Some(EntityKind::File)
    } else if name.contains("sha256") {
        Some(EntityKind::FileHash)
    } else if is("ip") {
        Some(EntityKind::Ip)
    } else if name.contains("domain") {
        Some(EntityKind::Domain)
    } else if is("url") {
        Some(EntityKind::Url)
    } else if is("pid") {
        Some(EntityKind::Process)
    } else if is("user") || name.ends_with("username") {
        Some(EntityKind::Account)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn alert(record: &Value) -> Value {
        match parse(record).unwrap() {
            Parsed::Alert(alert) => alert,
            Parsed::Skipped(why) => panic!("skipped: {why}"),
        }
    }

    #[test]
    fn reads_a_susp_events_item_in_beijing_time() {
        let record = json!({
            "Uuid": "bf6b30d3-eea8-4924-9f0a-XXXXXXXXXXXX",
            "EventStatus": 1,
            "LastTime": "2018-10-24 21:06:01",
            "InternetIp": "10.10.1.1",
            "Name": "恶意进程（云查杀）-XorDDoS木马",
            "OccurrenceTime": "2018-09-26 01:51:01",
            "IntranetIp": "10.0.0.0",
            "Level": "serious",
            "SaleVersion": "1"
        });
        let alert = alert(&record);
        assert_eq!(alert["title"], "恶意进程（云查杀）-XorDDoS木马");
        assert_eq!(alert["severity"], "high");
        assert_eq!(alert["time"], "2018-09-25T17:51:01.000Z");
        assert_eq!(alert["host"], "bf6b30d3-eea8-4924-9f0a-XXXXXXXXXXXX");
        assert_eq!(
            (&alert["src_ip"], &alert["rule_id"]),
            (&Value::Null, &Value::Null)
        );
        assert_eq!(
            alert["entities"],
            json!({
                "ip": ["10.10.1.1", "10.0.0.0"],
                "host": ["bf6b30d3-eea8-4924-9f0a-XXXXXXXXXXXX"]
            })
        );
    }

    #[test]
    fn reads_epoch_millis_and_details() {
        let record = json!({
            "AlarmEventName": "Linux计划任务执行异常指令",
            "AlarmEventAliasName": "进程异常行为-Linux计划任务执行异常指令",
            "Level": "remind",
            "StartTime": 1_543_740_301_000_u64,
            "InstanceId": "i-bp1example",
            "Code": "200",
            "Message": "illegal parameter, xxxx\n",
            "Details": [
                {"Name": "木马文件路径", "Value": "/data/ftpUser/pub/f12cd3bc", "InfoType": "trojan_path"},
                {"Name": "影响域名", "Value": "--", "InfoType": "domain"},
                {"Name": "源文件下载", "Value": "<a href=\"http://x\">下载</a>", "Type": "html",
                 "InfoType": "download_url"},
                {"Name": "来源", "Value": "203.0.113.9", "InfoType": "remote_ip"},
                {"Name": "x", "Value": "1.2.3", "InfoType": "ip"},
                "not an object"
            ]
        });
        let alert = alert(&record);
        assert_eq!(alert["title"], "进程异常行为-Linux计划任务执行异常指令");
        assert_eq!(alert["severity"], "low");
        assert_eq!(alert["time"], "2018-12-02T08:45:01.000Z");
        assert_eq!(
            alert["entities"],
            json!({
                "cloud-resource": ["i-bp1example"],
                "file": ["/data/ftpUser/pub/f12cd3bc"],
                "ip": ["203.0.113.9"]
            })
        );
        let notes = alert["notes"].to_string();
        assert!(
            notes.contains("`Message` `illegal parameter, xxxx`"),
            "{notes}"
        );
        assert!(notes.contains("`Details[4].Value`: `1.2.3`"), "{notes}");
    }

    #[test]
    fn refuses_api_errors_and_unnamed_records() {
        let error = json!({"Code": "InvalidParam", "Message": "bad", "RequestId": "r"});
        let err = parse(&error).unwrap_err();
        assert_eq!(
            err,
            "the record is an Alibaba Cloud API error, not an event: `Code` `InvalidParam`, \
             `Message` `bad`"
        );
        let err = parse(&json!({"Level": "serious"})).unwrap_err();
        assert!(err.starts_with("field `AlarmEventName`: missing"), "{err}");
        let alert = alert(&json!({"EventName": "WEBSHELL", "Level": "fatal"}));
        assert_eq!(alert["severity"], "medium");
        assert!(
            alert["notes"]
                .to_string()
                .contains("`fatal` is not a level")
        );
        assert!(alert["notes"].to_string().contains("`LastTime`: missing"));
    }

    #[test]
    fn detail_kinds_follow_the_info_type() {
        for (info_type, expected) in [
            ("trojan_path", Some(EntityKind::File)),
            ("file_sha256", Some(EntityKind::FileHash)),
            ("ip", Some(EntityKind::Ip)),
            ("remote_ip", Some(EntityKind::Ip)),
            ("zip", None),
            ("domain", Some(EntityKind::Domain)),
            ("download_url", None),
            ("url", Some(EntityKind::Url)),
            ("pid", Some(EntityKind::Process)),
            ("login_user", Some(EntityKind::Account)),
            ("frist_found_time", None),
            ("", None),
        ] {
            assert_eq!(detail_kind(info_type), expected, "{info_type}");
        }
    }
}
