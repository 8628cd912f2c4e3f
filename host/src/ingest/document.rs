//! Whole documents and single lines: where records start and end.
//!
//! A document is read as one JSON value first. If that works it is one
//! record, an array of records, or a provider response wrapping a list;
//! otherwise, if any line of it holds a JSON object on its own, it is JSON
//! lines, one record per line; otherwise it is one broken JSON value and
//! gives one error at the line the JSON parser stopped.

use serde_json::Value;

use super::draft::{integer, shorten, shown};
use super::{Format, Parsed, detect, parse_record};

/// Why a line (or the record starting on it) could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {reason}")]
pub struct LineError {
    /// 1-based line number: the line itself in JSON lines, else the line
    /// where the document's JSON starts (or where it is broken).
    pub line: usize,
    /// What was wrong, naming the record and the field.
    pub reason: String,
}

/// The keys under which provider responses list their events, in the
/// order they are looked for: Alibaba Cloud Security Center
/// (`SuspEvents`, `AlarmEventList`, `Events`, `List`, `Data`).
const LIST_KEYS: [&str; 5] = ["SuspEvents", "AlarmEventList", "Events", "List", "Data"];

/// Reads line `line` (1-based) of a JSON-lines document as `format`, or
/// as the format [`detect`] finds when `format` is `None`.
///
/// A blank line is skipped. When the format is Wazuh or unknown, a line of
/// Wazuh's `active-responses.log` (`2022/06/17 14:46:27 program: …`) is
/// read after its prefix: its JSON messages as Wazuh records, its other
/// messages (`Starting`, `Ended`) skipped.
pub fn parse_line(format: Option<Format>, line: usize, text: &str) -> Result<Parsed, LineError> {
    let fail = |reason: String| LineError { line, reason };
    let text = text.trim_start_matches('\u{feff}').trim();
    if text.is_empty() {
        return Ok(Parsed::Skipped("blank line".into()));
    }

    let mut format = format;
    let mut json = text;
    if matches!(format, None | Some(Format::Wazuh))
        && let Some(message) = wazuh_log_message(text)
    {
        if !message.starts_with('{') {
            return Ok(Parsed::Skipped(format!(
                "wazuh active-response log line `{}` is not an alert",
                shorten(message)
            )));
        }
        format = Some(Format::Wazuh);
        json = message;
    }

    let record: Value = serde_json::from_str(json).map_err(|err| fail(json_reason(&err)))?;
    read(format, &record).map_err(fail)
}

/// Reads a document of JSON lines, one JSON value, a JSON array of
/// records, or a provider response that wraps a list; one result per
/// record, in order (see the module docs of [`crate::ingest`]).
///
/// Errors name the line: in JSON lines the line itself, else the line
/// where the document starts, with the record's place in it (such as
/// "record `SuspEvents[1]`: …").
pub fn parse_document(format: Option<Format>, text: &str) -> Vec<Result<Parsed, LineError>> {
    let text = text.trim_start_matches('\u{feff}');
    if !text.trim().is_empty() {
        match serde_json::from_str::<Value>(text) {
            Ok(document) => return whole(format, first_line(text), &document),
            Err(err) if !is_json_lines(format, text) => {
                let line = err.line().max(1);
                return vec![Err(LineError {
                    line,
                    reason: json_reason(&err),
                })];
            }
            Err(_) => {}
        }
    }
    text.lines()
        .enumerate()
        .map(|(index, line)| parse_line(format, index + 1, line))
        .collect()
}

/// What a whole JSON document holds.
enum Contents<'a> {
    One(&'a Value),
    List(String, &'a [Value]),
    ApiError(String),
}

fn whole(format: Option<Format>, line: usize, document: &Value) -> Vec<Result<Parsed, LineError>> {
    let fail = |reason: String| LineError { line, reason };
    match contents(document) {
        Contents::One(record) => vec![read(format, record).map_err(fail)],
        Contents::ApiError(reason) => vec![Err(fail(reason))],
        Contents::List(name, []) if name.is_empty() => {
            vec![Ok(Parsed::Skipped(
                "the JSON array holds no records".into(),
            ))]
        }
        Contents::List(name, []) => vec![Ok(Parsed::Skipped(format!("`{name}` holds no records")))],
        Contents::List(name, records) => records
            .iter()
            .enumerate()
            .map(|(index, record)| {
                read(format, record).map_err(|err| fail(format!("record `{name}[{index}]`: {err}")))
            })
            .collect(),
    }
}

/// Finds the records in a document, unwrapping provider responses. A
/// document that is itself a record of a known format is not unwrapped,
/// so an alert with a `Data` or `Response` field stays whole.
fn contents(document: &Value) -> Contents<'_> {
    if detect(document).is_some() {
        return Contents::One(document);
    }
    let Value::Object(object) = document else {
        return match document {
            Value::Array(records) => Contents::List(String::new(), records),
            other => Contents::One(other),
        };
    };

    if let Some(Value::Object(response)) = object.get("Response") {
        if let Some(error) = response.get("Error") {
            return Contents::ApiError(api_error("Tencent Cloud", error));
        }
        let lists: Vec<_> = response.iter().filter(|(_, v)| v.is_array()).collect();
        if let [(key, Value::Array(records))] = lists.as_slice() {
            return Contents::List(format!("Response.{key}"), records);
        }
        return Contents::One(&object["Response"]);
    }

    if let Some(Value::Array(hits)) = object.get("hits").and_then(|hits| hits.get("hits")) {
        return Contents::List("hits.hits".into(), hits);
    }

    if object.get("RequestId").is_some() {
        for key in LIST_KEYS {
            match object.get(key) {
                Some(Value::Array(records)) => return Contents::List(key.into(), records),
                Some(inner @ Value::Object(_)) => {
                    let nested = LIST_KEYS
                        .iter()
                        .find_map(|k| inner.get(*k).and_then(Value::as_array).map(|l| (k, l)));
                    return match nested {
                        Some((k, records)) => Contents::List(format!("{key}.{k}"), records),
                        None => Contents::One(inner),
                    };
                }
                _ => {}
            }
        }
        let failed = object
            .get("Code")
            .is_some_and(|code| integer(code) != Some(200));
        if failed && object.get("Message").is_some() {
            return Contents::ApiError(api_error("Alibaba Cloud", document));
        }
    }
    Contents::One(document)
}

/// "`Code` `…`, `Message` `…`" of a provider's error object.
fn api_error(provider: &str, error: &Value) -> String {
    let field = |name: &str| error.get(name).map(shown).unwrap_or_default();
    format!(
        "the document is an API error from {provider}, not events: `Code` `{}`, \
         `Message` `{}`",
        field("Code"),
        field("Message")
    )
}

/// Reads one record as `format`, or as the detected one.
fn read(format: Option<Format>, record: &Value) -> Result<Parsed, String> {
    if let Some(format) = format.or_else(|| detect(record)) {
        return parse_record(format, record);
    }
    parse_record(Format::Generic, record).map_err(|err| {
        format!(
            "not recognized as suricata-eve, falco, wazuh or aliyun-sas; read as a \
             generic alert: {err}"
        )
    })
}

/// Whether any line of `text` holds a record of its own.
fn is_json_lines(format: Option<Format>, text: &str) -> bool {
    let wazuh_log = matches!(format, None | Some(Format::Wazuh));
    text.lines().map(str::trim).any(|line| {
        (line.starts_with('{') && serde_json::from_str::<Value>(line).is_ok_and(|v| v.is_object()))
            || (wazuh_log && wazuh_log_message(line).is_some())
    })
}

/// The message of an `active-responses.log` line, after its
/// `YYYY/MM/DD HH:MM:SS program: ` prefix.
fn wazuh_log_message(line: &str) -> Option<&str> {
    const SHAPE: &[u8; 20] = b"0000/00/00 00:00:00 ";
    let bytes = line.as_bytes();
    let matches = bytes.len() > SHAPE.len()
        && SHAPE.iter().zip(bytes).all(|(shape, byte)| match shape {
            b'0' => byte.is_ascii_digit(),
            other => other == byte,
        });
    if !matches {
        return None;
    }
    // The prefix is ASCII, so byte 20 is a character boundary.
    let (_program, message) = line[SHAPE.len()..].split_once(": ")?;
    Some(message.trim())
}

/// The 1-based line where the document's first non-blank character is.
fn first_line(text: &str) -> usize {
    let start = text.len() - text.trim_start().len();
    text[..start].matches('\n').count() + 1
}

/// A JSON error without serde's "at line N column M" suffix, with the
/// column in front.
fn json_reason(err: &serde_json::Error) -> String {
    let message = err.to_string();
    let message = message
        .rsplit_once(" at line ")
        .map_or(message.as_str(), |(text, _)| text);
    format!("invalid JSON at column {}: {message}", err.column())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn kinds(results: &[Result<Parsed, LineError>]) -> Vec<String> {
        results
            .iter()
            .map(|result| match result {
                Ok(Parsed::Alert(alert)) => format!("alert {}", alert["title"].as_str().unwrap()),
                Ok(Parsed::Skipped(why)) => format!("skipped {why}"),
                Err(err) => format!("error {err}"),
            })
            .collect()
    }

    const EVE: &str = r#"{"event_type":"alert","alert":{"signature":"A","severity":1}}"#;

    #[test]
    fn a_line_is_blank_json_or_an_error_naming_it() {
        assert_eq!(
            parse_line(None, 3, " \t").unwrap(),
            Parsed::Skipped("blank line".into())
        );
        let err = parse_line(None, 4, "{not json").unwrap_err();
        assert_eq!(err.line, 4);
        assert_eq!(
            err.to_string(),
            "line 4: invalid JSON at column 2: key must be a string"
        );
        let err = parse_line(None, 5, r#"{"x": 1}"#).unwrap_err();
        assert!(
            err.reason
                .starts_with("not recognized as suricata-eve, falco, wazuh or aliyun-sas")
                && err.reason.contains("field `title`: missing"),
            "{err}"
        );
        let err = parse_line(Some(Format::Falco), 6, EVE).unwrap_err();
        assert!(err.reason.starts_with("field `rule`: missing"), "{err}");
    }

    #[test]
    fn json_lines_keep_line_numbers_past_bad_and_blank_lines() {
        let text = format!("{EVE}\n{{\"event_type\":\"dns\"}}\n\n{{broken\n{EVE}\n");
        assert_eq!(
            kinds(&parse_document(None, &text)),
            [
                "alert A",
                "skipped suricata-eve record of event_type `dns` is not an alert",
                "skipped blank line",
                "error line 4: invalid JSON at column 2: key must be a string",
                "alert A",
            ]
        );
    }

    #[test]
    fn windows_line_endings_are_lines_too() {
        let text = format!("{EVE}\r\n\r\n{EVE}\r\n");
        assert_eq!(
            kinds(&parse_document(None, &text)),
            ["alert A", "skipped blank line", "alert A"]
        );
    }

    #[test]
    fn one_pretty_printed_object_is_one_record() {
        let text = "\n\n{\n  \"title\": \"pretty\",\n  \"severity\": \"low\"\n}\n";
        assert_eq!(kinds(&parse_document(None, text)), ["alert pretty"]);
        let broken = "{\n  \"title\": \"pretty\",\n  \"severity\": \n}\n";
        let results = parse_document(None, broken);
        assert_eq!(
            kinds(&results),
            ["error line 4: invalid JSON at column 1: expected value"]
        );
    }

    #[test]
    fn arrays_and_provider_responses_give_one_result_per_record() {
        let array = json!([{"title": "a"}, {"nope": 1}, {"title": "c"}]).to_string();
        let results = parse_document(Some(Format::Generic), &array);
        assert_eq!(results.len(), 3);
        let err = results[1].as_ref().unwrap_err();
        assert!(
            err.reason
                .starts_with("record `[1]`: field `title`: missing"),
            "{err}"
        );

        let tencent = json!({"Response": {"List": [{"title": "t"}], "RequestId": "r"}});
        assert_eq!(
            kinds(&parse_document(None, &tencent.to_string())),
            ["alert t"]
        );
        let hits = json!({"hits": {"hits": [{"_index": "i", "_source": {"title": "h"}}]}});
        assert_eq!(kinds(&parse_document(None, &hits.to_string())), ["alert h"]);
        let nested = json!({"RequestId": "r", "Data": {"List": [{"title": "n"}]}});
        assert_eq!(
            kinds(&parse_document(None, &nested.to_string())),
            ["alert n"]
        );

        let empty = json!({"RequestId": "r", "SuspEvents": []}).to_string();
        assert_eq!(
            kinds(&parse_document(None, &empty)),
            ["skipped `SuspEvents` holds no records"]
        );
        assert_eq!(
            kinds(&parse_document(None, "[]")),
            ["skipped the JSON array holds no records"]
        );
    }

    #[test]
    fn provider_errors_are_refused_with_their_message() {
        let aliyun = json!({"RequestId": "r", "Code": "Throttling", "Message": "slow down"});
        assert_eq!(
            kinds(&parse_document(None, &aliyun.to_string())),
            [
                "error line 1: the document is an API error from Alibaba Cloud, not events: \
                 `Code` `Throttling`, `Message` `slow down`"
            ]
        );
        let tencent = json!({"Response": {"Error": {"Code": "AuthFailure", "Message": "no"}}});
        let results = parse_document(None, &tencent.to_string());
        assert!(
            kinds(&results)[0].contains("API error from Tencent Cloud"),
            "{results:?}"
        );
    }

    #[test]
    fn wazuh_active_response_log_lines_are_read_after_their_prefix() {
        let add = json!({"command": "add", "parameters": {"alert": {
            "rule": {"level": 15, "description": "Shellshock attack detected"}}}});
        let text = format!(
            "2022/06/17 14:46:27 active-response/bin/firewall-drop: Starting\n\
             2022/06/17 14:46:27 active-response/bin/firewall-drop: {add}\n\
             2022/06/17 14:46:27 active-response/bin/firewall-drop: {{oops\n"
        );
        let results = parse_document(None, &text);
        assert_eq!(
            kinds(&results)[..2],
            [
                "skipped wazuh active-response log line `Starting` is not an alert",
                "alert Shellshock attack detected",
            ]
        );
        assert!(
            kinds(&results)[2].starts_with("error line 3: invalid JSON"),
            "{results:?}"
        );
        let err = parse_line(Some(Format::SuricataEve), 1, "2022/06/17 14:46:27 p: Ended");
        assert!(err.is_err());
    }

    #[test]
    fn empty_documents_and_byte_order_marks() {
        assert!(parse_document(None, "").is_empty());
        assert_eq!(kinds(&parse_document(None, "\n")), ["skipped blank line"]);
        let bom = format!("\u{feff}{EVE}");
        assert_eq!(kinds(&parse_document(None, &bom)), ["alert A"]);
    }
}
