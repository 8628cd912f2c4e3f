//! Suricata EVE JSON (<https://docs.suricata.io/en/latest/output/eve/eve-json-format.html>).
//!
//! Only `event_type: alert` records are alerts; `dns`, `flow`, `stats`,
//! `engine` and the rest are skipped with their type. What is read:
//!
//! | alert field | EVE field |
//! |---|---|
//! | `title` | `alert.signature`, else "Suricata signature <sid>" |
//! | `severity` | `alert.severity` (see the module docs) |
//! | `time` | `timestamp` (offsets such as `-0600` are accepted) |
//! | `rule_id` | `alert.signature_id` |
//! | `host` | `host`, the sensor name when Suricata is configured with one |
//! | `src_ip`, `dest_ip` | `src_ip`, `dest_ip` (expanded IPv6 is normalized) |
//!
//! Entities: both addresses; `http.hostname` and `tls.sni` (an `ip` when
//! they are addresses, else a `domain`); the DNS names of `dns.rrname`,
//! `dns.query[].rrname` (EVE DNS v1) and `dns.queries[].rrname` (v3); an
//! absolute `http.url` (proxy requests); the SHA-256 of `fileinfo` and of
//! `files[]`. The sensor is not an entity: it reported the alert, it is
//! not what the alert is about.

use serde_json::Value;

use super::draft::{Draft, at, integer, kind_of, shorten, shown, string};
use super::{Format, Parsed, Severity, time};
use crate::model::EntityKind;

/// Reads one EVE record.
pub(super) fn parse(record: &Value) -> Result<Parsed, String> {
    let event_type = match record.get("event_type") {
        Some(Value::String(kind)) => kind.trim(),
        Some(other) => {
            return Err(format!(
                "field `event_type`: {} where a string such as `alert` was expected",
                kind_of(other)
            ));
        }
        None => {
            return Err(
                "field `event_type`: missing; a Suricata EVE record names its \
                        `event_type`, such as `alert` or `dns`"
                    .into(),
            );
        }
    };
    if event_type != "alert" {
        return Ok(Parsed::Skipped(format!(
            "suricata-eve record of event_type `{}` is not an alert",
            shorten(event_type)
        )));
    }
    let alert = match record.get("alert") {
        Some(alert @ Value::Object(_)) => alert,
        Some(other) => {
            return Err(format!(
                "field `alert`: {} where an object was expected",
                kind_of(other)
            ));
        }
        None => {
            return Err(
                "field `alert`: missing; an EVE record of event_type `alert` \
                        carries an `alert` object with `signature` and `severity`"
                    .into(),
            );
        }
    };

    let sid = alert.get("signature_id").and_then(integer);
    let title = match (string(alert, "signature"), sid) {
        (Some(signature), _) => signature.to_string(),
        (None, Some(sid)) => format!("Suricata signature {sid}"),
        (None, None) => {
            return Err("field `alert.signature`: missing or empty, and no \
                        `alert.signature_id` either; nothing names the alert"
                .into());
        }
    };
    let mut draft = Draft::new(Format::SuricataEve, title);
    draft.severity("alert.severity", severity(alert.get("severity")));
    draft.time("timestamp", time::field(record.get("timestamp"), None));
    let rule_id = draft.text("alert.signature_id", alert.get("signature_id"));
    draft.rule_id(rule_id);
    let host = draft.text("host", record.get("host"));
    draft.host(host);
    draft.src_ip("src_ip", record.get("src_ip"));
    draft.dest_ip("dest_ip", record.get("dest_ip"));

    entities(&mut draft, record);
    Ok(Parsed::Alert(draft.finish(record)))
}

/// Suricata's priority: 1 is the highest.
fn severity(value: Option<&Value>) -> Result<Severity, String> {
    let value = match value {
        None | Some(Value::Null) => return Err("missing".into()),
        Some(value) => value,
    };
    match integer(value) {
        Some(1) => Ok(Severity::High),
        Some(2) => Ok(Severity::Medium),
        Some(3) => Ok(Severity::Low),
        Some(4..) => Ok(Severity::Info),
        Some(other) => Err(format!("`{other}` is not a priority of 1 or more")),
        None => Err(format!("`{}` is not a priority of 1 or more", shown(value))),
    }
}

fn entities(draft: &mut Draft, record: &Value) {
    draft.name_or_address("http.hostname", at(record, &["http", "hostname"]));
    draft.name_or_address("tls.sni", at(record, &["tls", "sni"]));

    if let Some(url) = at(record, &["http", "url"]).and_then(Value::as_str)
        && url.contains("://")
    {
        draft.add(EntityKind::Url, "http.url", url);
    }

    draft.entity(
        EntityKind::Domain,
        "dns.rrname",
        at(record, &["dns", "rrname"]),
    );
    for list in ["query", "queries"] {
        let Some(Value::Array(items)) = at(record, &["dns", list]) else {
            continue;
        };
        for (index, item) in items.iter().enumerate() {
            let field = format!("dns.{list}[{index}].rrname");
            draft.entity(EntityKind::Domain, &field, item.get("rrname"));
        }
    }

    let sha256 = at(record, &["fileinfo", "sha256"]);
    draft.entity(EntityKind::FileHash, "fileinfo.sha256", sha256);
    if let Some(Value::Array(files)) = record.get("files") {
        for (index, file) in files.iter().enumerate() {
            let field = format!("files[{index}].sha256");
            draft.entity(EntityKind::FileHash, &field, file.get("sha256"));
        }
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

    fn eve(extra: Value) -> Value {
        let mut record = json!({
            "timestamp": "2018-07-05T15:07:20.910626-0400",
            "event_type": "alert",
            "src_ip": "2001:0db8:0000:0000:0000:0000:0000:0bad",
            "dest_ip": "::ffff:10.0.0.1",
            "alert": {"signature": "ET X", "signature_id": 2024833, "severity": 1}
        });
        for (key, value) in extra.as_object().unwrap() {
            record[key] = value.clone();
        }
        record
    }

    #[test]
    fn reads_an_alert_and_normalizes_addresses_and_time() {
        let alert = alert(&eve(json!({"host": "sensor-1"})));
        assert_eq!(alert["format"], "suricata-eve");
        assert_eq!(alert["title"], "ET X");
        assert_eq!(alert["severity"], "high");
        assert_eq!(alert["time"], "2018-07-05T19:07:20.910Z");
        assert_eq!(alert["rule_id"], "2024833");
        assert_eq!(alert["host"], "sensor-1");
        assert_eq!(alert["src_ip"], "2001:db8::bad");
        assert_eq!(alert["dest_ip"], "10.0.0.1");
        assert_eq!(
            alert["entities"],
            json!({"ip": ["2001:db8::bad", "10.0.0.1"]})
        );
    }

    #[test]
    fn skips_other_event_types_with_the_type() {
        for kind in ["dns", "flow", "engine", "stats", "界"] {
            let record = json!({"event_type": kind});
            let expected = format!("suricata-eve record of event_type `{kind}` is not an alert");
            assert_eq!(parse(&record).unwrap(), Parsed::Skipped(expected));
        }
    }

    #[test]
    fn reads_app_layer_names_urls_and_hashes() {
        let sha = "f610428ebddf6f8cf9e39322e672583c45fcdcf885efad0ab48fd53a3dfc2c4b";
        let alert = alert(&eve(json!({
            "http": {"hostname": "192.168.86.28", "url": "http://ctldl.example.com/a.cab?1"},
            "tls": {"sni": "L2.io"},
            "dns": {"rrname": "c2.example", "queries": [{"rrname": "q.example"}, {"rrname": 7}],
                    "query": [{"rrname": "_ldap._tcp.example"}]},
            "fileinfo": {"md5": "427b7337ff37eeb24d74f47d8e04cf21", "sha256": sha},
            "files": [{"sha256": sha.to_uppercase()}, {"sha256": "abc"}]
        })));
        let entities = &alert["entities"];
        assert_eq!(
            entities["ip"],
            json!(["2001:db8::bad", "10.0.0.1", "192.168.86.28"])
        );
        assert_eq!(
            entities["domain"],
            json!(["l2.io", "c2.example", "q.example"])
        );
        assert_eq!(entities["url"], json!(["http://ctldl.example.com/a.cab?1"]));
        assert_eq!(entities["file-hash"], json!([sha]));
        let notes: Vec<&str> = alert["notes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n.as_str().unwrap())
            .collect();
        assert!(
            notes[0].starts_with("`dns.query[0].rrname`: `_ldap._tcp.example`"),
            "{notes:?}"
        );
        assert!(
            notes[1].starts_with("`dns.queries[1].rrname`: `7` is not a domain"),
            "{notes:?}"
        );
        assert!(
            notes[2].starts_with("`files[1].sha256`: `abc` is not a SHA-256"),
            "{notes:?}"
        );
    }

    #[test]
    fn odd_values_become_notes_not_failures() {
        let alert = alert(&eve(json!({
            "timestamp": 42,
            "src_ip": "1.2.3",
            "dest_ip": {"v": 4},
            "alert": {"signature": "", "signature_id": "7", "severity": "high"}
        })));
        assert_eq!(alert["title"], "Suricata signature 7");
        assert_eq!(alert["severity"], "medium");
        assert_eq!(
            (&alert["src_ip"], &alert["dest_ip"]),
            (&Value::Null, &Value::Null)
        );
        let notes = alert["notes"].to_string();
        for needle in [
            "`alert.severity`: `high` is not a priority",
            "`src_ip`: `1.2.3` is not an IPv4",
            "`dest_ip`: an object where a string was expected",
        ] {
            assert!(notes.contains(needle), "{needle} in {notes}");
        }
        // 42 is read as seconds since the epoch, not refused.
        assert_eq!(alert["time"], "1970-01-01T00:00:42.000Z");
    }

    #[test]
    fn maps_priorities_to_severities() {
        for (priority, expected) in [
            (json!(1), Ok(Severity::High)),
            (json!(2), Ok(Severity::Medium)),
            (json!("3"), Ok(Severity::Low)),
            (json!(255), Ok(Severity::Info)),
            (
                json!(1e300),
                Err("`1e+300` is not a priority of 1 or more".to_string()),
            ),
            (
                json!(0),
                Err("`0` is not a priority of 1 or more".to_string()),
            ),
        ] {
            assert_eq!(severity(Some(&priority)), expected, "{priority}");
        }
        assert_eq!(severity(None), Err("missing".into()));
    }

    #[test]
    fn the_bundled_demo_file_parses() {
        let text = include_str!("../../../demo/alerts/eve.json");
        let results = crate::ingest::parse_document(Some(Format::SuricataEve), text);
        let alerts = results
            .iter()
            .filter(|result| matches!(result, Ok(Parsed::Alert(_))))
            .count();
        assert_eq!((results.len(), alerts), (8, 6));
        assert!(results.iter().all(Result::is_ok));
    }

    #[test]
    fn refuses_records_that_name_no_alert() {
        for (record, needle) in [
            (json!({}), "field `event_type`: missing"),
            (json!({"event_type": 1}), "field `event_type`: a number"),
            (json!({"event_type": "alert"}), "field `alert`: missing"),
            (
                json!({"event_type": "alert", "alert": []}),
                "field `alert`: an array",
            ),
            (
                json!({"event_type": "alert", "alert": {"severity": 1}}),
                "field `alert.signature`: missing or empty",
            ),
        ] {
            let err = parse(&record).unwrap_err();
            assert!(err.contains(needle), "{record}: {err}");
        }
    }
}
