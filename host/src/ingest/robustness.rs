//! Hostile and malformed input for every adapter: each known field given
//! every JSON type and some extreme values, deep nesting, huge numbers,
//! long and CJK text. Nothing may panic; every alert must keep the
//! normalized shape and every refusal must say why.

use serde_json::{Value, json};

use super::*;
use crate::model::{Entity, EntityKind, Time};

/// Checks the invariants of a normalized alert.
pub(super) fn check_alert(alert: &Value) {
    let title = alert["title"].as_str().expect("title is a string");
    assert!(!title.trim().is_empty(), "empty title in {alert}");
    let severity = alert["severity"].as_str().expect("severity is a string");
    assert!(Severity::parse(severity).is_ok(), "{severity}");
    assert!(Format::parse(alert["format"].as_str().unwrap()).is_ok());
    match &alert["time"] {
        Value::Null => {}
        Value::String(time) => assert_eq!(Time::parse(time).unwrap().to_string(), *time),
        other => panic!("time is {other}"),
    }
    for field in ["rule_id", "host", "src_ip", "dest_ip"] {
        assert!(
            alert[field].is_null() || alert[field].is_string(),
            "{field}"
        );
    }
    for (kind, values) in alert["entities"].as_object().expect("entities") {
        let kind = EntityKind::parse(kind).unwrap();
        let values = values.as_array().expect("a list of values");
        assert!(!values.is_empty(), "empty `{kind}` list");
        for value in values {
            let value = value.as_str().unwrap();
            assert_eq!(Entity::parse(kind, value).unwrap().value, value);
        }
    }
    if let Some(notes) = alert.get("notes") {
        let notes = notes.as_array().expect("notes are a list");
        assert!(!notes.is_empty());
        assert!(
            notes
                .iter()
                .all(|note| note.as_str().is_some_and(|n| !n.is_empty()))
        );
    }
    assert!(alert.get("original").is_some());
}

/// Checks one result: an alert with the normalized shape, a skip with a
/// reason, or a refusal with a reason.
fn check(result: &Result<Parsed, String>) {
    match result {
        Ok(Parsed::Alert(alert)) => check_alert(alert),
        Ok(Parsed::Skipped(reason)) | Err(reason) => assert!(!reason.trim().is_empty()),
    }
}

fn templates() -> Vec<(Format, Value)> {
    vec![
        (
            Format::Generic,
            json!({"title": "t", "severity": "low", "time": "2024-01-02T03:04:05Z",
                   "rule_id": "r", "host": "h", "src_ip": "192.0.2.1", "dest_ip": "192.0.2.2",
                   "entities": {"ip": ["192.0.2.3"], "domain": ["example.com"]}}),
        ),
        (
            Format::SuricataEve,
            json!({"timestamp": "2024-01-02T03:04:05.000001+0000", "event_type": "alert",
                   "src_ip": "192.0.2.1", "dest_ip": "192.0.2.2", "host": "s",
                   "alert": {"signature": "s", "signature_id": 1, "severity": 1},
                   "http": {"hostname": "example.com", "url": "http://example.com/"},
                   "tls": {"sni": "example.com"},
                   "dns": {"rrname": "example.com", "query": [{"rrname": "a.example"}],
                           "queries": [{"rrname": "b.example"}]},
                   "fileinfo": {"sha256": "00".repeat(32)},
                   "files": [{"sha256": "11".repeat(32)}]}),
        ),
        (
            Format::Falco,
            json!({"rule": "r", "priority": "Error", "output": "t: Error x",
                   "time": "2024-01-02T03:04:05Z",
                   "hostname": "h", "output_fields": {
                       "fd.cip": "192.0.2.1", "fd.sip": "192.0.2.2", "fd.rip": "192.0.2.3",
                       "fd.lip": "192.0.2.4", "fd.cip.name": "example.com", "proc.pid": 1,
                       "proc.name": "p", "fd.name": "/etc/passwd", "container.id": "c",
                       "user.name": "u", "k8s.ns.name": "n", "k8s.pod.name": "p",
                       "k8s.pod.ip": "192.0.2.5", "container.ip": "192.0.2.6", "evt.time": 1}}),
        ),
        (
            Format::Wazuh,
            json!({"timestamp": "2024-01-02T03:04:05.000+0000",
                   "rule": {"level": 5, "description": "d", "id": "1"},
                   "agent": {"name": "a", "ip": "192.0.2.1"},
                   "data": {"srcip": "192.0.2.2", "dstip": "192.0.2.3", "srcuser": "u",
                            "dstuser": "v", "url": "http://example.com/"},
                   "syscheck": {"path": "/etc/passwd", "sha256_after": "00".repeat(32)}}),
        ),
        (
            Format::AliyunSas,
            json!({"Name": "n", "Level": "serious", "LastTime": "2024-01-02 03:04:05",
                   "Uuid": "u", "InternetIp": "192.0.2.1", "IntranetIp": "10.0.0.1",
                   "InstanceId": "i-1", "Code": "200", "Message": "m",
                   "Details": [{"InfoType": "trojan_path", "Value": "/tmp/x"}]}),
        ),
    ]
}

/// Every path to a leaf or a container in `value`.
fn paths(value: &Value, prefix: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
    let children: Vec<(String, &Value)> = match value {
        Value::Object(map) => map.iter().map(|(k, v)| (k.clone(), v)).collect(),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .map(|(i, v)| (i.to_string(), v))
            .collect(),
        _ => return,
    };
    for (key, child) in children {
        prefix.push(key);
        out.push(prefix.clone());
        paths(child, prefix, out);
        prefix.pop();
    }
}

fn replace(record: &mut Value, path: &[String], with: Value) {
    let mut target = record;
    for key in path {
        target = match target {
            Value::Array(items) => &mut items[key.parse::<usize>().unwrap()],
            other => &mut other[key.as_str()],
        };
    }
    *target = with;
}

fn odd_values() -> Vec<Value> {
    let mut nested = json!("deep");
    for _ in 0..100 {
        nested = json!([nested]);
    }
    vec![
        Value::Null,
        json!(true),
        json!(0),
        json!(-1),
        json!(u64::MAX),
        json!(i64::MIN),
        json!(1e300),
        json!(-0.5),
        json!(""),
        json!("   "),
        json!("界".repeat(3000)),
        json!("a\nb\u{0}\u{202e}"),
        json!("<NA>"),
        json!("0001-01-01 00:00:00"),
        json!([]),
        json!({}),
        json!(["192.0.2.1", null, 7]),
        nested,
    ]
}

#[test]
fn every_field_of_every_format_survives_every_odd_value() {
    for (format, template) in templates() {
        check(&parse_record(format, &template));
        assert!(matches!(
            parse_record(format, &template),
            Ok(Parsed::Alert(_))
        ));
        let mut all = Vec::new();
        paths(&template, &mut Vec::new(), &mut all);
        for path in all {
            for odd in odd_values() {
                let mut record = template.clone();
                replace(&mut record, &path, odd.clone());
                check(&parse_record(format, &record));
                // Detection reads the same fields; it must not panic either.
                let _ = detect(&record);
            }
        }
    }
}

#[test]
fn documents_nested_beyond_the_parser_limit_are_refused() {
    for text in [
        "[".repeat(100_000),
        "{\"a\":".repeat(100_000),
        format!("{}1{}", "[".repeat(5000), "]".repeat(5000)),
    ] {
        let results = parse_document(None, &text);
        assert_eq!(results.len(), 1);
        let err = results[0].as_ref().unwrap_err();
        assert!(err.reason.starts_with("invalid JSON"), "{err}");
        assert!(parse_line(None, 1, &text).is_err());
    }
}

#[test]
fn text_that_is_not_json_lines_is_refused_line_by_line_or_whole() {
    for text in [
        "garbage",
        "\u{0}\u{1}",
        "界界界\n{\"title\":\"ok\"}",
        "}{",
        "1\n2\n",
        "\"just a string\"",
        "null",
        "[null, 1, \"x\", []]",
    ] {
        for format in Format::ALL.map(Some).into_iter().chain([None]) {
            for result in parse_document(format, text) {
                match result {
                    Ok(Parsed::Alert(alert)) => check_alert(&alert),
                    Ok(Parsed::Skipped(reason)) => assert!(!reason.is_empty()),
                    Err(err) => assert!(err.line >= 1 && !err.reason.is_empty(), "{err}"),
                }
            }
        }
    }
}
