//! Text output: tables for lists, `key: value` listings for records.
//!
//! Columns read the API's JSON by path and show `-` for what a record
//! lacks, so a field the server adds or leaves out never breaks a table.
//! Cells are single lines: control characters in server-sent text are
//! escaped, so a crafted alert field cannot forge a line of output.

use serde_json::Value;

/// One column: its header and how to read a cell from an item.
pub struct Column {
    pub header: &'static str,
    pub cell: fn(&Value) -> Option<String>,
}

/// The longest cell shown in a table; longer ones end in `…`. Records
/// show the whole value.
const MAX_CELL: usize = 60;

/// Renders `items` as a table: a header row, then one row per item, each
/// column as wide as its widest cell (the last column is not padded).
pub fn table(columns: &[Column], items: &[Value]) -> String {
    let rows: Vec<Vec<String>> = items
        .iter()
        .map(|item| {
            columns
                .iter()
                .map(|column| {
                    let text = (column.cell)(item).unwrap_or_else(|| "-".into());
                    truncate(&one_line(&text), MAX_CELL)
                })
                .collect()
        })
        .collect();
    let widths: Vec<usize> = columns
        .iter()
        .enumerate()
        .map(|(i, column)| {
            rows.iter()
                .map(|row| row[i].chars().count())
                .chain([column.header.len()])
                .max()
                .unwrap_or(0)
        })
        .collect();

    let mut out = String::new();
    let headers: Vec<String> = columns.iter().map(|c| c.header.to_string()).collect();
    for row in std::iter::once(&headers).chain(&rows) {
        let mut line = String::new();
        for (i, cell) in row.iter().enumerate() {
            if i + 1 == row.len() {
                line.push_str(cell);
            } else {
                let pad = widths[i] - cell.chars().count();
                line.push_str(cell);
                line.push_str(&" ".repeat(pad + 2));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// Renders an object as aligned `key: value` lines. Nested objects are
/// flattened to dotted keys (`entity.kind`), lists of scalars are joined
/// with commas, lists of objects get one indented line per element, and
/// null fields are left out.
pub fn record(value: &Value) -> String {
    let mut lines = Vec::new();
    flatten("", value, &mut lines);
    let width = lines
        .iter()
        .filter(|(key, _)| !key.starts_with("  "))
        .map(|(key, _)| key.chars().count())
        .max()
        .unwrap_or(0);
    let mut out = String::new();
    for (key, text) in lines {
        if key.starts_with("  ") {
            out.push_str(&format!("{key}{text}\n"));
        } else {
            let pad = width - key.chars().count();
            out.push_str(&format!("{key}:{} {text}\n", " ".repeat(pad)));
        }
    }
    out
}

/// Keys shown first in a record, when present; the rest follow in the
/// server's order.
const FIRST_KEYS: [&str; 3] = ["id", "name", "status"];

fn flatten(prefix: &str, value: &Value, lines: &mut Vec<(String, String)>) {
    let Value::Object(map) = value else {
        lines.push((prefix.to_string(), scalar(value)));
        return;
    };
    let first = FIRST_KEYS.iter().filter_map(|key| map.get_key_value(*key));
    let rest = map
        .iter()
        .filter(|(key, _)| !FIRST_KEYS.contains(&key.as_str()));
    for (key, field) in first.chain(rest) {
        let key = if prefix.is_empty() {
            key.clone()
        } else {
            format!("{prefix}.{key}")
        };
        match field {
            Value::Null => {}
            Value::Object(inner) if inner.is_empty() => lines.push((key, "-".into())),
            Value::Object(_) => flatten(&key, field, lines),
            Value::Array(list) if list.iter().any(|v| v.is_object() || v.is_array()) => {
                lines.push((key, format!("{} item(s)", list.len())));
                for (i, element) in list.iter().enumerate() {
                    lines.push((format!("  [{i}] "), compact(element)));
                }
            }
            Value::Array(list) if list.is_empty() => lines.push((key, "-".into())),
            Value::Array(list) => {
                let texts: Vec<String> = list.iter().map(scalar).collect();
                lines.push((key, texts.join(", ")));
            }
            _ => lines.push((key, scalar(field))),
        }
    }
}

/// An object as `k=v k=v` on one line, nested values as JSON.
fn compact(value: &Value) -> String {
    match value {
        Value::Object(map) => map
            .iter()
            .filter(|(_, v)| !v.is_null())
            .map(|(k, v)| format!("{k}={}", scalar(v)))
            .collect::<Vec<_>>()
            .join(" "),
        other => scalar(other),
    }
}

/// A value as one line of text: strings bare, the rest as JSON.
pub fn scalar(value: &Value) -> String {
    match value {
        Value::String(text) => one_line(text),
        Value::Null => "-".into(),
        other => other.to_string(),
    }
}

/// Escapes control characters so that text stays on one line.
fn one_line(text: &str) -> String {
    if !text.chars().any(char::is_control) {
        return text.to_string();
    }
    text.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut cut: String = text.chars().take(max - 1).collect();
    cut.push('…');
    cut
}

/// The value at a dotted `path`, trying each `|`-separated alternative:
/// `"name|spec.name"`.
pub fn at<'v>(value: &'v Value, path: &str) -> Option<&'v Value> {
    path.split('|').find_map(|alternative| {
        alternative
            .split('.')
            .try_fold(value, |value, key| value.get(key))
            .filter(|found| !found.is_null())
    })
}

/// The text at `path`, if present.
pub fn text(value: &Value, path: &str) -> Option<String> {
    at(value, path).map(scalar)
}

/// An entity as `kind:value`.
pub fn entity(value: &Value, path: &str) -> Option<String> {
    let entity = at(value, path)?;
    match (entity.get("kind"), entity.get("value")) {
        (Some(kind), Some(val)) => Some(format!("{}:{}", scalar(kind), scalar(val))),
        _ => Some(scalar(entity)),
    }
}

/// A list at `path` joined with commas; elements that are objects show
/// their `field`.
pub fn join(value: &Value, path: &str, field: &str) -> Option<String> {
    let list = at(value, path)?.as_array()?;
    let texts: Vec<String> = list
        .iter()
        .map(|element| match element.get(field) {
            Some(inner) => scalar(inner),
            None => scalar(element),
        })
        .collect();
    Some(texts.join(","))
}

/// Text for a number at `path`, or the length of a list there.
pub fn count(value: &Value, path: &str) -> Option<String> {
    match at(value, path)? {
        Value::Array(list) => Some(list.len().to_string()),
        other => Some(scalar(other)),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::columns::{SIGNAL_COLUMNS, TASK_COLUMNS};
    use super::*;

    #[test]
    fn a_task_page_aligns_its_columns_and_marks_missing_fields() {
        let tasks = [
            json!({
                "id": 12, "policy_id": 3, "action": "AliyunWafBlockIP",
                "target": "waf-prod", "entity": {"kind": "ip", "value": "203.0.113.7"},
                "status": "Succeeded", "attempt_count": 1,
                "attempts": [{"number": 1}],
                "revert": {"status": "Scheduled"},
                "expires_at": "2026-12-04T19:40:17.000Z",
                "created_at": "2026-12-04T18:40:17.000Z",
                "updated_at": "2026-12-04T18:40:18.000Z"
            }),
            json!({
                "id": 9, "policy_id": 1, "action": "Kill", "target": "t",
                "entity": {"kind": "process", "value": "42"},
                "status": "Failed", "attempts": [{"number": 1}, {"number": 2}],
                "failure": {"kind": "throttled", "message": "slow down\nnow"},
                "updated_at": "2026-12-04T18:00:00.000Z"
            }),
        ];
        let out = table(&TASK_COLUMNS, &tasks);
        let expected = "\
ID  POLICY  STATUS     ACTION            TARGET    ENTITY          ATTEMPTS  REVERT     UPDATED                   FAILURE
12  3       Succeeded  AliyunWafBlockIP  waf-prod  ip:203.0.113.7  1         Scheduled  2026-12-04T18:40:18.000Z  -
9   1       Failed     Kill              t         process:42      2         -          2026-12-04T18:00:00.000Z  throttled: slow down\\nnow
";
        assert_eq!(out, expected);
    }

    #[test]
    fn an_alert_page_shows_the_normalized_title_severity_and_source() {
        let alerts = [json!({
            "id": 4, "source": "suricata-eve", "received_at": "2026-12-04T18:40:17.000Z",
            "updates": 0, "policies": [7],
            "data": {"title": "ET SCAN SSH", "severity": "high", "src_ip": "203.0.113.7"}
        })];
        let out = table(&SIGNAL_COLUMNS, &alerts);
        let expected = "\
ID  SOURCE        SEVERITY  TITLE        SRC          RECEIVED                  UPDATES  POLICIES
4   suricata-eve  high      ET SCAN SSH  203.0.113.7  2026-12-04T18:40:17.000Z  0        7
";
        assert_eq!(out, expected);
    }

    #[test]
    fn long_cells_are_cut_and_wide_characters_counted_once() {
        let columns = [
            Column {
                header: "A",
                cell: |v| text(v, "a"),
            },
            Column {
                header: "B",
                cell: |v| text(v, "b"),
            },
        ];
        let long = "x".repeat(100);
        let out = table(
            &columns,
            &[json!({"a": "é", "b": long}), json!({"a": "ab"})],
        );
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines[0], "A   B");
        assert_eq!(lines[1], format!("é   {}…", "x".repeat(59)));
        assert_eq!(lines[2], "ab  -");
    }

    #[test]
    fn a_record_flattens_nested_fields_with_the_id_first() {
        let out = record(&json!({
            "actions": ["A", "B"],
            "entity": {"kind": "ip", "value": "203.0.113.7"},
            "id": 7,
            "joined_alerts": [],
            "note": null,
            "steps": [{"id": "waf", "status": "Done", "note": null}],
        }));
        let expected = "\
id:            7
actions:       A, B
entity.kind:   ip
entity.value:  203.0.113.7
joined_alerts: -
steps:         1 item(s)
  [0] id=waf status=Done
";
        assert_eq!(out, expected);
    }

    #[test]
    fn paths_try_each_alternative() {
        let version = json!({"version": 2, "spec": {"name": "block"}});
        assert_eq!(text(&version, "name|spec.name").as_deref(), Some("block"));
        assert_eq!(text(&version, "missing|also.missing"), None);
        assert_eq!(count(&json!({"a": [1, 2, 3]}), "a").as_deref(), Some("3"));
        assert_eq!(
            join(&json!({"a": [{"id": "x"}, "y"]}), "a", "id").as_deref(),
            Some("x,y")
        );
    }
}
