//! Falco's JSON output (`json_output: true`,
//! <https://falco.org/docs/concepts/outputs/>), from the 2016 format
//! (`output`, `priority`, `rule`, `time`, `output_fields`) to today's
//! (with `hostname`, `source`, `tags`, `uuid`).
//!
//! | alert field | Falco field |
//! |---|---|
//! | `title`, `rule_id` | `rule` (Falco rules have no other id) |
//! | `severity` | `priority` (see the module docs) |
//! | `time` | `time`, else `output_fields` `evt.time`, `evt.time.iso8601` or `evt_time` (epoch nanoseconds) |
//! | `host` | `hostname` |
//! | `src_ip`, `dest_ip` | `output_fields` `fd.cip` (client), `fd.sip` (server) |
//!
//! Entities, from `output_fields` (`<NA>` and null are absent): `ip` from
//! `fd.cip`, `fd.sip`, `fd.rip`, `fd.lip`, `container.ip`, `k8s.pod.ip`;
//! `domain` from `fd.cip.name` and its siblings; `process` from
//! `proc.pid` when it is a positive integer, else `proc.name`; `file` from
//! `fd.name` when it is a path (for sockets it is an address pair);
//! `container` from `container.id` (not `host`, which Falco writes for
//! processes outside containers); `host` from `hostname`; `account` from
//! `user.name`; `cloud-resource` `k8s:<namespace>/<pod>` from
//! `k8s.ns.name` and `k8s.pod.name`.
//! `proc.exepath` and `proc.cmdline` stay in `original`.

use serde_json::{Map, Value};

use super::draft::{Draft, kind_of, shorten, shown, string};
use super::{Format, Parsed, Severity, time};
use crate::model::EntityKind;

/// Reads one Falco event.
pub(super) fn parse(record: &Value) -> Result<Parsed, String> {
    let rule = match record.get("rule") {
        Some(Value::String(rule)) if !rule.trim().is_empty() => rule.trim().to_string(),
        Some(Value::String(_)) => return Err("field `rule`: empty; it names the alert".into()),
        Some(other) => {
            return Err(format!(
                "field `rule`: {} where a string was expected",
                kind_of(other)
            ));
        }
        None => {
            return Err(
                "field `rule`: missing; a Falco event names the `rule` that \
                        fired, with its `priority` and `output`"
                    .into(),
            );
        }
    };
    let mut draft = Draft::new(Format::Falco, rule.clone());
    draft.rule_id(Some(rule));
    let priority = record.get("priority");
    draft.severity("priority", severity(priority));
    check_output_priority(&mut draft, record, priority);

    let empty = Map::new();
    let fields = match record.get("output_fields") {
        None | Some(Value::Null) => &empty,
        Some(Value::Object(fields)) => fields,
        Some(other) => {
            let kind = kind_of(other);
            draft.note(format!(
                "`output_fields`: {kind} where an object was expected; ignored"
            ));
            &empty
        }
    };
    event_time(&mut draft, record, fields);
    let host = draft.text("hostname", record.get("hostname"));
    draft.host(host);

    entities(&mut draft, record, fields);
    Ok(Parsed::Alert(draft.finish(record)))
}

/// Falco's priorities are syslog's.
fn severity(value: Option<&Value>) -> Result<Severity, String> {
    let value = match value {
        None | Some(Value::Null) => return Err("missing".into()),
        Some(value) => value,
    };
    let name = value
        .as_str()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    match name.as_str() {
        "emergency" | "alert" | "critical" => Ok(Severity::Critical),
        "error" => Ok(Severity::High),
        "warning" => Ok(Severity::Medium),
        "notice" => Ok(Severity::Low),
        "informational" | "info" | "debug" => Ok(Severity::Info),
        _ => Err(format!(
            "`{}` is not a Falco priority; expected one of Emergency, Alert, Critical, \
             Error, Warning, Notice, Informational, Debug",
            shown(value)
        )),
    }
}

/// Notes an `output` whose text gives another priority than the field.
fn check_output_priority(draft: &mut Draft, record: &Value, priority: Option<&Value>) {
    let (Some(output), Some(priority)) = (string(record, "output"), priority) else {
        return;
    };
    let Some(priority) = priority.as_str() else {
        return;
    };
    let word = output
        .split_once(": ")
        .and_then(|(_, rest)| rest.split_whitespace().next())
        .unwrap_or_default();
    if severity(Some(&Value::from(word))).is_ok() && !word.eq_ignore_ascii_case(priority) {
        draft.note(format!(
            "`output` says `{}` but `priority` is `{}`; `priority` used",
            shorten(word),
            shorten(priority)
        ));
    }
}

/// `time`, else the event time among the output fields.
fn event_time(draft: &mut Draft, record: &Value, fields: &Map<String, Value>) {
    let candidates = [
        ("time", record.get("time")),
        ("output_fields.evt.time", fields.get("evt.time")),
        (
            "output_fields.evt.time.iso8601",
            fields.get("evt.time.iso8601"),
        ),
        ("output_fields.evt_time", fields.get("evt_time")),
    ];
    let (field, value) = candidates
        .into_iter()
        .find(|(_, value)| value.is_some_and(|v| !v.is_null()))
        .unwrap_or(("time", None));
    draft.time(field, time::field(value, None));
}

fn entities(draft: &mut Draft, record: &Value, fields: &Map<String, Value>) {
    let get = |name: &str| fields.get(name).filter(|v| v.as_str() != Some("<NA>"));

    draft.src_ip("fd.cip", get("fd.cip"));
    draft.dest_ip("fd.sip", get("fd.sip"));
    for name in ["fd.rip", "fd.lip", "container.ip", "k8s.pod.ip"] {
        draft.entity(EntityKind::Ip, name, get(name));
    }
    for name in ["fd.cip.name", "fd.sip.name", "fd.rip.name", "fd.lip.name"] {
        draft.name_or_address(name, get(name));
    }

    draft.process(
        ("proc.pid", get("proc.pid")),
        ("proc.name", get("proc.name")),
    );
    if let Some(path) = get("fd.name").and_then(Value::as_str)
        && path.starts_with('/')
    {
        draft.add(EntityKind::File, "fd.name", path);
    }
    if get("container.id").and_then(Value::as_str) != Some("host") {
        draft.entity(EntityKind::Container, "container.id", get("container.id"));
    }
    draft.entity(EntityKind::Host, "hostname", record.get("hostname"));
    draft.entity(EntityKind::Account, "user.name", get("user.name"));

    let namespace = get("k8s.ns.name").and_then(Value::as_str);
    let pod = get("k8s.pod.name").and_then(Value::as_str);
    if let (Some(namespace), Some(pod)) = (namespace, pod) {
        let value = format!("k8s:{}/{}", namespace.trim(), pod.trim());
        draft.add(EntityKind::CloudResource, "k8s.pod.name", &value);
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
    fn reads_a_current_event() {
        let record = json!({
            "hostname": "node-1",
            "output": "2024-05-13T13:23:36.089890892+0000: Warning Sensitive file opened",
            "priority": "Warning",
            "rule": "Read sensitive file untrusted",
            "source": "syscall",
            "tags": [],
            "time": "2024-05-13T13:23:36.089890892Z",
            "output_fields": {
                "container.id": "84c0b936c919",
                "fd.name": "/etc/shadow",
                "fd.cip": "216.160.83.56", "fd.sip": "89.160.20.112",
                "fd.lip": "89.160.20.128", "fd.rip": "<NA>",
                "fd.cip.name": "Example.com",
                "proc.name": "event-generator", "proc.pid": 133567,
                "proc.aname[7]": null,
                "user.name": "root",
                "k8s.ns.name": "default", "k8s.pod.name": "debug"
            }
        });
        let alert = alert(&record);
        assert_eq!(alert["title"], "Read sensitive file untrusted");
        assert_eq!(alert["rule_id"], "Read sensitive file untrusted");
        assert_eq!(alert["severity"], "medium");
        assert_eq!(alert["time"], "2024-05-13T13:23:36.089Z");
        assert_eq!(alert["host"], "node-1");
        assert_eq!(alert["src_ip"], "216.160.83.56");
        assert_eq!(alert["dest_ip"], "89.160.20.112");
        assert_eq!(
            alert["entities"],
            json!({
                "ip": ["216.160.83.56", "89.160.20.112", "89.160.20.128"],
                "domain": ["example.com"],
                "process": ["133567"],
                "file": ["/etc/shadow"],
                "container": ["84c0b936c919"],
                "host": ["node-1"],
                "account": ["root"],
                "cloud-resource": ["k8s:default/debug"]
            })
        );
        assert!(alert.get("notes").is_none(), "{}", alert["notes"]);
    }

    #[test]
    fn reads_the_2016_format_without_hostname_or_source() {
        let record = json!({
            "output": "2016-08-04T16:17:57.881781397+0000: Warning An open was seen",
            "priority": "Warning",
            "rule": "open_from_cat",
            "time": "2016-08-04T16:17:57.881781397Z",
            "output_fields": {"evt.time.iso8601": 1_470_327_477_881_781_397_u64,
                              "proc.cmdline": "cat /dev/null"}
        });
        let alert = alert(&record);
        assert_eq!(alert["title"], "open_from_cat");
        assert_eq!(alert["host"], Value::Null);
        assert_eq!(alert["time"], "2016-08-04T16:17:57.881Z");
        assert_eq!(alert["entities"], json!({}));
    }

    #[test]
    fn odd_fields_are_noted_and_the_rest_is_kept() {
        let record = json!({
            "output": "21:35:04.518808525: Warning Sensitive file opened",
            "priority": "Critical",
            "rule": "r",
            "output_fields": {
                "evt.time": 1_724_880_904_518_808_600_u64,
                "k8s.pod.ip": "175.16.199.0/24",
                "container.id": "host",
                "fd.name": "10.0.0.1:5->10.0.0.2:80",
                "proc.pid": -1,
                "proc.name": "sh"
            }
        });
        let alert = alert(&record);
        assert_eq!(alert["severity"], "critical");
        assert_eq!(alert["time"], "2024-08-28T21:35:04.518Z");
        assert_eq!(alert["entities"], json!({"process": ["sh"]}));
        let notes = alert["notes"].to_string();
        assert!(
            notes.contains("`output` says `Warning` but `priority` is `Critical`"),
            "{notes}"
        );
        assert!(
            notes.contains("`k8s.pod.ip`: `175.16.199.0/24` is a network"),
            "{notes}"
        );
        assert!(
            notes.contains("`proc.pid`: `-1` is not a process id"),
            "{notes}"
        );
    }

    #[test]
    fn maps_priorities_and_notes_unknown_ones() {
        for (priority, expected) in [
            ("Emergency", "critical"),
            ("ALERT", "critical"),
            ("Error", "high"),
            ("Notice", "low"),
            ("Informational", "info"),
            ("Debug", "info"),
            ("Loud", "medium"),
        ] {
            let record = json!({"rule": "r", "priority": priority, "output": "x"});
            assert_eq!(alert(&record)["severity"], expected, "{priority}");
        }
        let record = json!({"rule": "r", "priority": ["Debug"], "output_fields": [1]});
        let notes = alert(&record)["notes"].to_string();
        assert!(
            notes.contains("`priority`: `[\\\"Debug\\\"]` is not a Falco"),
            "{notes}"
        );
        assert!(notes.contains("`output_fields`: an array"), "{notes}");
        assert!(notes.contains("`time`: missing"), "{notes}");
    }

    #[test]
    fn refuses_an_event_without_a_rule() {
        for (record, needle) in [
            (json!({"priority": "Debug"}), "field `rule`: missing"),
            (json!({"rule": ""}), "field `rule`: empty"),
            (json!({"rule": {"id": 1}}), "field `rule`: an object"),
        ] {
            let err = parse(&record).unwrap_err();
            assert!(err.contains(needle), "{record}: {err}");
        }
    }
}
