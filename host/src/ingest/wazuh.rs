//! Wazuh manager alerts, as written to `alerts.json`
//! (<https://documentation.wazuh.com/current/user-manual/manager/alert-management.html>),
//! as indexed (Elasticsearch hits are unwrapped before this adapter), and
//! as passed to active-response scripts
//! (<https://documentation.wazuh.com/current/user-manual/capabilities/active-response/custom-active-response-scripts.html>).
//!
//! An active-response message `{"command": "add", "parameters": {"alert":
//! {...}}}` is read from its `parameters.alert`. Its other commands
//! (`check_keys`, `continue`, `delete`) are steps of the same response or
//! its undo, not new alerts, and are skipped.
//!
//! | alert field | Wazuh field |
//! |---|---|
//! | `title` | `rule.description`, else "Wazuh rule <id>" |
//! | `severity` | `rule.level` (see the module docs) |
//! | `time` | `timestamp` (`+0000` offsets accepted), else `@timestamp` |
//! | `rule_id` | `rule.id` |
//! | `host` | `agent.name` |
//! | `src_ip`, `dest_ip` | `data.srcip`, `data.dstip` |
//!
//! Entities: the two addresses and `agent.ip`; `host` from `agent.name`;
//! `file` from `syscheck.path` and `file-hash` from
//! `syscheck.sha256_after` (file integrity alerts); `account` from
//! `data.srcuser` and `data.dstuser`; `url` from `data.url` when absolute.

use serde_json::Value;

use super::draft::{Draft, at, integer, kind_of, shorten, shown, string};
use super::{Format, Parsed, Severity, time};
use crate::model::EntityKind;

/// Whether `record` is an active-response message.
pub(super) fn is_active_response(record: &Value) -> bool {
    record.get("command").is_some_and(Value::is_string)
        && record.get("parameters").is_some_and(Value::is_object)
}

/// Whether `record` looks like an alert: a `rule` object with a `level`
/// or a `description`.
pub(super) fn is_alert(record: &Value) -> bool {
    record
        .get("rule")
        .is_some_and(|rule| rule.get("level").is_some() || rule.get("description").is_some())
}

/// Reads one alert or active-response message.
pub(super) fn parse(record: &Value) -> Result<Parsed, String> {
    if is_active_response(record) {
        let command = string(record, "command").unwrap_or_default();
        if command != "add" {
            return Ok(Parsed::Skipped(format!(
                "wazuh active-response message `{}` is not a new alert; only `add` carries one",
                shorten(command)
            )));
        }
        return match at(record, &["parameters", "alert"]) {
            Some(alert @ Value::Object(_)) => alert_of(alert),
            Some(other) => Err(format!(
                "field `parameters.alert`: {} where an object was expected",
                kind_of(other)
            )),
            None => Err(
                "field `parameters.alert`: missing; an active-response `add` \
                         message carries the alert that triggered it"
                    .into(),
            ),
        };
    }
    alert_of(record)
}

fn alert_of(record: &Value) -> Result<Parsed, String> {
    let rule = match record.get("rule") {
        Some(rule @ Value::Object(_)) => rule,
        Some(other) => {
            return Err(format!(
                "field `rule`: {} where an object was expected",
                kind_of(other)
            ));
        }
        None => {
            return Err(
                "field `rule`: missing; a Wazuh alert carries a `rule` object \
                        with `description` and `level`"
                    .into(),
            );
        }
    };
    let id = match rule.get("id") {
        Some(Value::Number(number)) => Some(number.to_string()),
        _ => string(rule, "id").map(str::to_string),
    };
    let title = match (string(rule, "description"), &id) {
        (Some(description), _) => description.to_string(),
        (None, Some(id)) => format!("Wazuh rule {id}"),
        (None, None) => {
            return Err(
                "field `rule.description`: missing or empty, and no `rule.id` \
                        either; nothing names the alert"
                    .into(),
            );
        }
    };
    let mut draft = Draft::new(Format::Wazuh, title);
    draft.severity("rule.level", severity(rule.get("level")));
    match rule.get("id") {
        Some(Value::String(_)) if id.is_none() => draft.note("`rule.id`: empty; left null".into()),
        Some(other) if id.is_none() && !other.is_null() => {
            let kind = kind_of(other);
            draft.note(format!(
                "`rule.id`: {kind} where a string was expected; left null"
            ));
        }
        _ => {}
    }
    draft.rule_id(id);
    let (field, value) = match record.get("timestamp") {
        Some(value) if !value.is_null() => ("timestamp", Some(value)),
        _ if record.get("@timestamp").is_some() => ("@timestamp", record.get("@timestamp")),
        _ => ("timestamp", None),
    };
    draft.time(field, time::field(value, None));
    let host = draft.text("agent.name", at(record, &["agent", "name"]));
    draft.host(host);

    draft.src_ip("data.srcip", at(record, &["data", "srcip"]));
    draft.dest_ip("data.dstip", at(record, &["data", "dstip"]));
    draft.entity(EntityKind::Ip, "agent.ip", at(record, &["agent", "ip"]));
    draft.entity(
        EntityKind::Host,
        "agent.name",
        at(record, &["agent", "name"]),
    );
    draft.entity(
        EntityKind::File,
        "syscheck.path",
        at(record, &["syscheck", "path"]),
    );
    let sha256 = at(record, &["syscheck", "sha256_after"]);
    draft.entity(EntityKind::FileHash, "syscheck.sha256_after", sha256);
    for user in ["srcuser", "dstuser"] {
        let field = format!("data.{user}");
        draft.entity(EntityKind::Account, &field, at(record, &["data", user]));
    }
    if let Some(url) = at(record, &["data", "url"]).and_then(Value::as_str)
        && url.contains("://")
    {
        draft.add(EntityKind::Url, "data.url", url);
    }
    Ok(Parsed::Alert(draft.finish(record)))
}

/// Wazuh's rule levels, 0 (ignored) to 15 and 16 (severe attack).
fn severity(value: Option<&Value>) -> Result<Severity, String> {
    let value = match value {
        None | Some(Value::Null) => return Err("missing".into()),
        Some(value) => value,
    };
    match integer(value) {
        Some(0..=2) => Ok(Severity::Info),
        Some(3..=6) => Ok(Severity::Low),
        Some(7..=11) => Ok(Severity::Medium),
        Some(12..=14) => Ok(Severity::High),
        Some(15..) => Ok(Severity::Critical),
        _ => Err(format!(
            "`{}` is not a rule level from 0 to 16",
            shown(value)
        )),
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

    fn fim() -> Value {
        json!({
            "timestamp": "2022-07-20T14:53:16.482+0000",
            "rule": {"level": 5, "description": "File added to the system.", "id": "554"},
            "agent": {"id": "000", "name": "c3"},
            "syscheck": {
                "path": "/test_folder/TEST_VALID_ALERT.txt",
                "md5_after": "2982666f29e2736e7ca0e12dd638d433",
                "sha256_after": "32bc19c9406a98ab21e5ec79fbd5bba2cb79755607a9f382c662d37b5bf5d8ea",
                "inode_after": 9793
            }
        })
    }

    #[test]
    fn reads_a_file_integrity_alert() {
        let alert = alert(&fim());
        assert_eq!(alert["title"], "File added to the system.");
        assert_eq!(alert["severity"], "low");
        assert_eq!(alert["rule_id"], "554");
        assert_eq!(alert["time"], "2022-07-20T14:53:16.482Z");
        assert_eq!(alert["host"], "c3");
        assert_eq!(
            alert["entities"],
            json!({
                "host": ["c3"],
                "file": ["/test_folder/TEST_VALID_ALERT.txt"],
                "file-hash": ["32bc19c9406a98ab21e5ec79fbd5bba2cb79755607a9f382c662d37b5bf5d8ea"]
            })
        );
    }

    #[test]
    fn reads_the_alert_of_an_active_response_add_and_skips_the_rest() {
        let mut inner = fim();
        inner["data"] = json!({"srcip": "192.168.56.3", "url": "/"});
        let add = json!({"version": 1, "command": "add", "parameters": {"alert": inner}});
        let alert = alert(&add);
        assert_eq!(alert["src_ip"], "192.168.56.3");
        assert_eq!(alert["original"], inner);

        for command in ["check_keys", "continue", "delete"] {
            let message = json!({"command": command, "parameters": {"keys": []}});
            let Parsed::Skipped(why) = parse(&message).unwrap() else {
                panic!("{command} read as an alert");
            };
            assert!(
                why.contains(&format!("`{command}` is not a new alert")),
                "{why}"
            );
        }
        let empty = json!({"command": "add", "parameters": {}});
        let err = parse(&empty).unwrap_err();
        assert!(
            err.starts_with("field `parameters.alert`: missing"),
            "{err}"
        );
    }

    #[test]
    fn the_placeholder_fixture_ingests_with_a_null_time_and_notes() {
        let record = json!({
            "agent": {"id": "001", "name": "agent"},
            "timestamp": "year-month-dayThours:minuts:seconds+0000",
            "rule": {"level": 0, "description": "alert description", "id": ""},
            "syscheck": {"path": "/path/to/file", "sha1_after": "sha1_value"}
        });
        let alert = alert(&record);
        assert_eq!(alert["severity"], "info");
        assert_eq!(alert["time"], Value::Null);
        assert_eq!(alert["rule_id"], Value::Null);
        let notes = alert["notes"].to_string();
        assert!(notes.contains("`timestamp`: `year-month-day"), "{notes}");
        assert!(notes.contains("`rule.id`: empty; left null"), "{notes}");
    }

    #[test]
    fn maps_levels_to_severities() {
        for (level, expected) in [
            (json!(0), "info"),
            (json!(3), "low"),
            (json!("6"), "low"),
            (json!(7), "medium"),
            (json!(10), "medium"),
            (json!(12), "high"),
            (json!(15), "critical"),
            (json!(16), "critical"),
            (json!(-1), "medium"),
            (json!("high"), "medium"),
        ] {
            let record = json!({"rule": {"level": level, "description": "d"}});
            assert_eq!(alert(&record)["severity"], expected, "{level}");
        }
    }

    #[test]
    fn refuses_alerts_without_a_rule() {
        for (record, needle) in [
            (json!({"timestamp": "x"}), "field `rule`: missing"),
            (json!({"rule": "5716"}), "field `rule`: a string"),
            (
                json!({"rule": {"level": 3}}),
                "field `rule.description`: missing",
            ),
            (
                json!({"command": "add", "parameters": {"alert": []}}),
                "field `parameters.alert`: an array",
            ),
        ] {
            let err = parse(&record).unwrap_err();
            assert!(err.contains(needle), "{record}: {err}");
        }
        let titled = alert(&json!({"rule": {"id": 5716}}));
        assert_eq!(titled["title"], "Wazuh rule 5716");
    }
}
