//! riposte's own alert format, for sources without an adapter: a JSON
//! object with a `title`, and optionally `severity`, `time`, `rule_id`,
//! `host`, `src_ip`, `dest_ip` and `entities`.
//!
//! A person or a script wrote it for riposte, so it is read strictly: a
//! field of the wrong type or a value that does not parse is an error that
//! names the field, not a note. Unknown fields are kept in `original`.

use serde_json::Value;

use super::draft::{Draft, kind_of, shorten};
use super::{Format, Parsed, Severity, time};
use crate::model::{Entity, EntityKind};

const EXAMPLE: &str =
    r#"{"title": "SSH brute force", "severity": "high", "src_ip": "203.0.113.7"}"#;

/// Reads one generic alert.
pub(super) fn parse(record: &Value) -> Result<Parsed, String> {
    let title = match record.get("title") {
        Some(Value::String(title)) if !title.trim().is_empty() => title.trim().to_string(),
        Some(Value::String(_)) => return Err("field `title`: empty; it names the alert".into()),
        Some(other) => return Err(wrong_type("title", other)),
        None => {
            return Err(format!(
                "field `title`: missing; a generic alert needs a non-empty `title`, \
                 such as {EXAMPLE}"
            ));
        }
    };
    let mut draft = Draft::new(Format::Generic, title);

    if let Some(severity) = optional_string(record, "severity")? {
        let severity =
            Severity::parse(severity).map_err(|err| format!("field `severity`: {err}"))?;
        draft.severity("severity", Ok(severity));
    }
    match optional_string(record, "time")? {
        Some(text) => {
            let time = time::rfc3339(text).map_err(|err| format!("field `time`: {err}"))?;
            draft.time("time", Ok(time));
        }
        None => draft.time("time", Err("missing".into())),
    }
    draft.rule_id(optional_text(record, "rule_id")?);
    draft.host(optional_string(record, "host")?.map(str::to_string));

    for field in ["src_ip", "dest_ip"] {
        let Some(text) = optional_string(record, field)? else {
            continue;
        };
        Entity::parse(EntityKind::Ip, text).map_err(|err| format!("field `{field}`: {err}"))?;
        let value = Some(&record[field]);
        if field == "src_ip" {
            draft.src_ip(field, value);
        } else {
            draft.dest_ip(field, value);
        }
    }

    match record.get("entities") {
        None | Some(Value::Null) => {}
        Some(Value::Object(entities)) => {
            for (name, values) in entities {
                entity_list(&mut draft, name, values)?;
            }
        }
        Some(other) => {
            return Err(format!(
                "field `entities`: {} where an object of kind -> list of values was \
                 expected, such as {{\"ip\": [\"203.0.113.7\"], \"domain\": [\"evil.example\"]}}",
                kind_of(other)
            ));
        }
    }
    Ok(Parsed::Alert(draft.finish(record)))
}

/// Checks and adds `entities.<name>`, a list of strings of one kind.
fn entity_list(draft: &mut Draft, name: &str, values: &Value) -> Result<(), String> {
    let kind = EntityKind::parse(name).map_err(|err| format!("field `entities`: {err}"))?;
    let Value::Array(items) = values else {
        return Err(format!(
            "field `entities.{name}`: {} where a list of strings was expected",
            kind_of(values)
        ));
    };
    for (index, item) in items.iter().enumerate() {
        let field = format!("entities.{name}[{index}]");
        let Value::String(text) = item else {
            return Err(wrong_type(&field, item));
        };
        Entity::parse(kind, text).map_err(|err| format!("field `{field}`: {err}"))?;
        draft.add(kind, &field, text);
    }
    Ok(())
}

/// A string field; `None` when absent or null, an error for another type.
fn optional_string<'a>(record: &'a Value, field: &str) -> Result<Option<&'a str>, String> {
    match record.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) if text.trim().is_empty() => Ok(None),
        Some(Value::String(text)) => Ok(Some(text.trim())),
        Some(other) => Err(wrong_type(field, other)),
    }
}

/// A string or number field, as text.
fn optional_text(record: &Value, field: &str) -> Result<Option<String>, String> {
    match record.get(field) {
        Some(Value::Number(number)) => Ok(Some(number.to_string())),
        _ => Ok(optional_string(record, field)?.map(str::to_string)),
    }
}

fn wrong_type(field: &str, value: &Value) -> String {
    let shown = match value {
        Value::String(text) => format!(" `{}`", shorten(text)),
        _ => String::new(),
    };
    format!(
        "field `{field}`: {}{shown} where a string was expected",
        kind_of(value)
    )
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn alert(record: Value) -> Value {
        match parse(&record).unwrap() {
            Parsed::Alert(alert) => alert,
            Parsed::Skipped(why) => panic!("skipped: {why}"),
        }
    }

    #[test]
    fn reads_every_field_and_keeps_unknown_ones_in_original() {
        let record = json!({
            "title": " SSH brute force ",
            "severity": "HIGH",
            "time": "2024-01-02T11:04:05.678+08:00",
            "rule_id": 5712,
            "host": "web-01",
            "src_ip": "::ffff:203.0.113.7",
            "dest_ip": "10.0.0.5",
            "entities": {"domain": ["Evil.Example."], "file-hash": [
                "E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855"
            ]},
            "ticket": "SEC-1"
        });
        let alert = alert(record.clone());
        assert_eq!(alert["format"], "generic");
        assert_eq!(alert["title"], "SSH brute force");
        assert_eq!(alert["severity"], "high");
        assert_eq!(alert["time"], "2024-01-02T03:04:05.678Z");
        assert_eq!(alert["rule_id"], "5712");
        assert_eq!(alert["host"], "web-01");
        assert_eq!(alert["src_ip"], "203.0.113.7");
        assert_eq!(
            alert["entities"],
            json!({
                "ip": ["203.0.113.7", "10.0.0.5"],
                "domain": ["evil.example"],
                "file-hash": ["e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"]
            })
        );
        assert!(alert.get("notes").is_none());
        assert_eq!(alert["original"], record);
    }

    #[test]
    fn defaults_are_medium_and_a_null_time_with_a_note() {
        let alert = alert(json!({"title": "x"}));
        assert_eq!(alert["severity"], "medium");
        assert_eq!(alert["time"], Value::Null);
        assert_eq!(alert["notes"], json!(["`time`: missing; time left null"]));
        assert_eq!(alert["entities"], json!({}));
    }

    #[test]
    fn refusals_name_the_field_and_what_is_expected() {
        for (record, needle) in [
            (json!({}), "field `title`: missing; a generic alert needs"),
            (json!({"title": "  "}), "field `title`: empty"),
            (
                json!({"title": 7}),
                "field `title`: a number where a string",
            ),
            (
                json!({"title": "x", "severity": "urgent"}),
                "field `severity`: `urgent` is not a severity; expected one of critical, high",
            ),
            (
                json!({"title": "x", "time": "yesterday"}),
                "field `time`: `yesterday` is not a time",
            ),
            (
                json!({"title": "x", "src_ip": "1.2.3"}),
                "field `src_ip`: `1.2.3` is not",
            ),
            (
                json!({"title": "x", "entities": {"ip": ["1.2.3.4", "1.2.3"]}}),
                "field `entities.ip[1]`: `1.2.3` is not an IPv4 or IPv6 address",
            ),
            (
                json!({"title": "x", "entities": {"ipv4": []}}),
                "field `entities`: `ipv4` is not an entity kind; expected one of ip, cidr",
            ),
            (
                json!({"title": "x", "entities": {"ip": "1.2.3.4"}}),
                "field `entities.ip`: a string where a list of strings was expected",
            ),
            (
                json!({"title": "x", "entities": {"ip": [1]}}),
                "field `entities.ip[0]`: a number where a string",
            ),
            (
                json!({"title": "x", "entities": []}),
                "field `entities`: an array where an object",
            ),
            (
                json!({"title": "x", "host": ["a"]}),
                "field `host`: an array",
            ),
        ] {
            let err = parse(&record).unwrap_err();
            assert!(err.contains(needle), "{record}: {err}");
        }
    }
}
