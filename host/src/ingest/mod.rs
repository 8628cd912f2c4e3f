//! Alert adapters: turn what sensors and cloud consoles emit into one
//! normalized alert document, the `alert` that response rules see.
//!
//! Each adapter reads one format, tolerates the variations real sensors
//! emit, and says precisely what was wrong with a record it cannot read
//! (the field, and what was expected). What is odd but not fatal, such as
//! an address that does not parse or a time without a zone, is dropped or
//! assumed and recorded in the alert's `notes`. Adapters never decide what
//! to do about an alert; that is the engine's job. No input makes them
//! panic.
//!
//! # The normalized alert
//!
//! ```json
//! {
//!   "format": "suricata-eve",
//!   "title": "ET SCAN Potential SSH Scan",
//!   "severity": "high",
//!   "time": "2024-01-02T03:04:05.678Z",
//!   "rule_id": "2001219",
//!   "host": "sensor-1",
//!   "src_ip": "203.0.113.7",
//!   "dest_ip": "10.0.0.5",
//!   "entities": {"ip": ["203.0.113.7", "10.0.0.5"], "domain": ["example.com"]},
//!   "notes": ["`tls.sni` `bad_name`: ...; ignored"],
//!   "original": {"...": "the record as received"}
//! }
//! ```
//!
//! `title` is never empty. `severity` is one of `critical`, `high`,
//! `medium`, `low`, `info`; a record whose severity field is missing or
//! unreadable gets `medium` and a note. `time` is UTC with milliseconds, or
//! null (with a note) when the record's time is missing or unreadable:
//! such a record is still an alert, because the rule, host and entities
//! are what a response acts on, and refusing it over its clock would drop
//! a possibly real attack (Wazuh's own test fixture has a placeholder
//! `timestamp`).
//! `rule_id`, `host`, `src_ip` and `dest_ip` are strings or null; the
//! addresses are canonical (`::ffff:1.2.3.4` is `1.2.3.4`). `entities`
//! holds only the kinds that have values, each value normalized by
//! [`crate::model::Entity::parse`], deduplicated, in order of appearance,
//! at most 256 per kind; it holds every address the record names, the victim's as well as the
//! attacker's, so a rule that blocks should take `alert.src_ip`. `notes`
//! is present only when something was dropped or assumed. `original` is
//! the record as received (after unwrapping an envelope, see below).
//!
//! Entity values follow `wit/component.wit`: a `process` is its pid when
//! the record has one, else the process name; a `file` is a path on the
//! host; a `container` is its id; a `host` is the name or id the source
//! uses for it; a `file-hash` is a SHA-256 (MD5 and SHA-1 are not taken).
//!
//! # Severity
//!
//! | format | field | critical | high | medium | low | info |
//! |---|---|---|---|---|---|---|
//! | suricata-eve | `alert.severity` | | 1 | 2 | 3 | 4 and above |
//! | falco | `priority` | Emergency, Alert, Critical | Error | Warning | Notice | Informational, Debug |
//! | wazuh | `rule.level` | 15 and above | 12 to 14 | 7 to 11 | 3 to 6 | 0 to 2 |
//! | aliyun-sas | `Level` | | serious | suspicious | remind | |
//! | generic | `severity` | critical | high | medium | low | info |
//!
//! Sources of the field meanings:
//!
//! - Suricata writes the rule's priority as `alert.severity`: 1 is the
//!   highest, and a rule without `priority` takes its classtype's, 3 for
//!   most (<https://docs.suricata.io/en/latest/rules/meta.html#priority>,
//!   <https://docs.suricata.io/en/latest/output/eve/eve-json-format.html>).
//!   Priority 1 is what Emerging Threats gives its most serious
//!   classtypes, but no Suricata value means "the host is lost", so none
//!   maps to `critical`.
//! - Falco's eight priorities are syslog's
//!   (<https://falco.org/docs/reference/rules/rule-fields/>); Emergency to
//!   Critical all mean a compromise in progress.
//! - Wazuh levels run from 0 (ignored) to 15 or 16 (severe attack):
//!   3 to 6 are successful logins, low-priority errors and user errors,
//!   7 to 11 "bad word" matches, first-seen events, repeated errors and
//!   integrity warnings, 12 to 14 high-importance events, 15 a severe
//!   attack (<https://documentation.wazuh.com/current/user-manual/ruleset/rules/rules-classification.html>).
//! - Alibaba Cloud Security Center has three levels: `serious` (紧急,
//!   urgent), `suspicious` (可疑) and `remind` (提醒)
//!   (<https://help.aliyun.com/document_detail/251497.html>, the `Levels`
//!   parameter of `DescribeSuspEvents`).
//!
//! # Documents
//!
//! [`parse_document`] takes JSON lines, one JSON object (pretty-printed or
//! not), a JSON array of records, or a provider's API response that wraps
//! a list (Alibaba Cloud `SuspEvents`, `AlarmEventList` or `Data`, Tencent
//! Cloud `Response.List` and the like, Elasticsearch `hits.hits`). A
//! record may be an Elasticsearch hit (`_source` is taken) or, for Wazuh,
//! an active-response message (its `parameters.alert` is taken); lines of
//! Wazuh's `active-responses.log` are read after their date and program
//! prefix.

mod aliyun;
mod document;
mod draft;
mod falco;
mod generic;
#[cfg(test)]
mod robustness;
mod suricata;
mod time;
mod wazuh;

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use document::{LineError, parse_document, parse_line};

/// The alert formats riposte reads; serialized as [`Format::as_str`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Format {
    /// riposte's own: `title`, `severity`, `entities` and the like.
    Generic,
    /// Suricata's EVE JSON output, `event_type: alert` records.
    SuricataEve,
    /// Falco's JSON output (`json_output: true`), any version since 2016.
    Falco,
    /// Wazuh manager alerts (`alerts.json`), as indexed or as passed to
    /// active responses.
    Wazuh,
    /// Alibaba Cloud Security Center (aegis/Sas) alarm and suspicious
    /// event records.
    AliyunSas,
}

impl Format {
    /// Every format.
    pub const ALL: [Format; 5] = [
        Format::Generic,
        Format::SuricataEve,
        Format::Falco,
        Format::Wazuh,
        Format::AliyunSas,
    ];

    /// The name used in the API and in alerts' `format`.
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Generic => "generic",
            Format::SuricataEve => "suricata-eve",
            Format::Falco => "falco",
            Format::Wazuh => "wazuh",
            Format::AliyunSas => "aliyun-sas",
        }
    }

    /// Parses a format name, ignoring ASCII case.
    pub fn parse(name: &str) -> Result<Format, String> {
        let trimmed = name.trim();
        Self::ALL
            .into_iter()
            .find(|format| format.as_str().eq_ignore_ascii_case(trimmed))
            .ok_or_else(|| {
                let names: Vec<_> = Self::ALL.iter().map(|format| format.as_str()).collect();
                format!(
                    "`{}` is not an alert format; expected one of {}",
                    draft::shorten(name),
                    names.join(", ")
                )
            })
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What one record held.
#[derive(Debug, Clone, PartialEq)]
pub enum Parsed {
    /// An alert, as the normalized document described in the module docs.
    Alert(Value),
    /// A record that is not an alert (a DNS log, an engine message, a
    /// blank line), with the reason.
    Skipped(String),
}

/// How bad an alert is, on riposte's scale; serialized as
/// [`Severity::as_str`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Critical,
    High,
    Medium,
    Low,
    Info,
}

impl Severity {
    /// Every severity, worst first.
    pub const ALL: [Severity; 5] = [
        Severity::Critical,
        Severity::High,
        Severity::Medium,
        Severity::Low,
        Severity::Info,
    ];

    /// The lower-case name written in alerts.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Critical => "critical",
            Severity::High => "high",
            Severity::Medium => "medium",
            Severity::Low => "low",
            Severity::Info => "info",
        }
    }

    /// Parses a severity name, ignoring ASCII case.
    pub fn parse(name: &str) -> Result<Severity, String> {
        Self::ALL
            .into_iter()
            .find(|severity| severity.as_str().eq_ignore_ascii_case(name.trim()))
            .ok_or_else(|| {
                let names: Vec<_> = Self::ALL.iter().map(|s| s.as_str()).collect();
                format!(
                    "`{}` is not a severity; expected one of {}",
                    draft::shorten(name),
                    names.join(", ")
                )
            })
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Reads one record (already parsed JSON) as `format`.
///
/// An Elasticsearch hit is read from its `_source`. The error names the
/// field and what was expected, such as "field `rule`: missing; a Wazuh
/// alert carries a `rule` object with `description` and `level`".
pub fn parse_record(format: Format, record: &Value) -> Result<Parsed, String> {
    let record = unwrap_hit(record);
    if !record.is_object() {
        return Err(format!(
            "expected a JSON object, found {}",
            draft::kind_of(record)
        ));
    }
    match format {
        Format::Generic => generic::parse(record),
        Format::SuricataEve => suricata::parse(record),
        Format::Falco => falco::parse(record),
        Format::Wazuh => wazuh::parse(record),
        Format::AliyunSas => aliyun::parse(record),
    }
}

/// Guesses the format of a record from its fields; `None` when nothing
/// fits (the caller then reads it as [`Format::Generic`], which refuses it
/// unless it has a `title`).
///
/// The checks, first match wins: a `title` string is generic (no vendor
/// format has one at the top); a Wazuh active-response message or a
/// `rule` object with `level` or `description` is Wazuh; `event_type` is
/// Suricata EVE; `rule`, `priority` and `output` strings are Falco; an
/// Alibaba Cloud event name or a `Level` of `serious`, `suspicious` or
/// `remind` is Alibaba Cloud.
pub fn detect(record: &Value) -> Option<Format> {
    let record = unwrap_hit(record);
    let is_str = |name: &str| record.get(name).is_some_and(Value::is_string);

    if is_str("title") {
        Some(Format::Generic)
    } else if wazuh::is_active_response(record) || wazuh::is_alert(record) {
        Some(Format::Wazuh)
    } else if is_str("event_type") {
        Some(Format::SuricataEve)
    } else if is_str("rule") && is_str("priority") && is_str("output") {
        Some(Format::Falco)
    } else if aliyun::is_event(record) {
        Some(Format::AliyunSas)
    } else {
        None
    }
}

/// The `_source` of an Elasticsearch hit, else the record itself.
fn unwrap_hit(record: &Value) -> &Value {
    match record.get("_source") {
        Some(source) if source.is_object() && record.get("_index").is_some() => source,
        _ => record,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_names_round_trip_and_teach() {
        for format in Format::ALL {
            assert_eq!(Format::parse(format.as_str()), Ok(format));
            assert_eq!(serde_json::to_value(format).unwrap(), format.as_str());
        }
        assert_eq!(Format::parse(" Suricata-EVE "), Ok(Format::SuricataEve));
        let err = Format::parse("eve").unwrap_err();
        assert!(
            err.contains("`eve`")
                && err.contains("generic, suricata-eve, falco, wazuh, aliyun-sas"),
            "{err}"
        );
    }

    #[test]
    fn severity_names_round_trip_and_teach() {
        for severity in Severity::ALL {
            assert_eq!(Severity::parse(severity.as_str()), Ok(severity));
            assert_eq!(serde_json::to_value(severity).unwrap(), severity.as_str());
        }
        let err = Severity::parse("urgent").unwrap_err();
        assert!(err.contains("critical, high, medium, low, info"), "{err}");
    }

    #[test]
    fn detects_each_format_from_its_fields() {
        let cases = [
            (r#"{"event_type":"dns"}"#, Some(Format::SuricataEve)),
            (
                r#"{"rule":"x","priority":"Warning","output":"o"}"#,
                Some(Format::Falco),
            ),
            (r#"{"rule":{"level":3},"agent":{}}"#, Some(Format::Wazuh)),
            (
                r#"{"command":"add","parameters":{"alert":{}}}"#,
                Some(Format::Wazuh),
            ),
            (
                r#"{"_index":"wazuh-alerts","_source":{"rule":{"description":"d"}}}"#,
                Some(Format::Wazuh),
            ),
            (
                r#"{"AlarmEventName":"x","Level":"serious"}"#,
                Some(Format::AliyunSas),
            ),
            (r#"{"Name":"x","Level":"remind"}"#, Some(Format::AliyunSas)),
            (r#"{"title":"x"}"#, Some(Format::Generic)),
            (
                r#"{"title":"x","rule":{"description":"d"}}"#,
                Some(Format::Generic),
            ),
            (r#"{"Response":{"List":[]}}"#, None),
            (r#"{"rule":{"name":"ecs"}}"#, None),
            ("[]", None),
            ("null", None),
        ];
        for (text, expected) in cases {
            let record: Value = serde_json::from_str(text).unwrap();
            assert_eq!(detect(&record), expected, "{text}");
        }
    }

    #[test]
    fn records_that_are_not_objects_are_refused_by_every_format() {
        for format in Format::ALL {
            for text in ["[1]", "\"x\"", "null", "12"] {
                let record: Value = serde_json::from_str(text).unwrap();
                let err = parse_record(format, &record).unwrap_err();
                assert!(err.starts_with("expected a JSON object"), "{err}");
            }
        }
    }
}
