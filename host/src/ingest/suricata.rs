//! Suricata EVE JSON (one record per line).
//!
//! Only `event_type: alert` records become alerts; `dns`, `flow`, `stats`
//! and the like are counted and skipped. Field names follow Suricata's EVE
//! output documentation
//! (<https://docs.suricata.io/en/latest/output/eve/eve-json-format.html>).
//! Addresses are normalized with the SDK's entity parser, so Suricata's
//! expanded IPv6 notation and IPv4-mapped forms compare equal to the
//! canonical ones.

use std::net::IpAddr;

use riposte_sdk::entity::parse_ip;
use serde::Deserialize;

/// One alert record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EveAlert {
    /// The record's timestamp, as written.
    pub timestamp: String,
    /// Normalized source address.
    pub src_ip: IpAddr,
    /// Normalized destination address.
    pub dest_ip: IpAddr,
    /// The rule's message, e.g. `ET SCAN Potential SSH Scan`.
    pub signature: String,
    /// The rule's id.
    pub signature_id: u64,
    /// 1 (high) to 4 (low); 3 when absent.
    pub severity: u8,
}

/// What one line held.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Record {
    /// An alert.
    Alert(EveAlert),
    /// Another event type, e.g. `dns`, or a blank line (`""`).
    Other(String),
}

/// Why a line could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {reason}")]
pub struct ParseEveError {
    /// 1-based line number.
    pub line: usize,
    /// What was wrong, naming the field and value.
    pub reason: String,
}

#[derive(Deserialize)]
struct RawRecord {
    event_type: Option<String>,
    timestamp: Option<String>,
    src_ip: Option<String>,
    dest_ip: Option<String>,
    alert: Option<RawAlert>,
}

#[derive(Deserialize)]
struct RawAlert {
    signature: Option<String>,
    signature_id: Option<u64>,
    severity: Option<u8>,
}

/// Parses line `number` (1-based) of an EVE file.
pub fn parse_line(number: usize, line: &str) -> Result<Record, ParseEveError> {
    let fail = |reason: String| ParseEveError {
        line: number,
        reason,
    };
    if line.trim().is_empty() {
        return Ok(Record::Other(String::new()));
    }
    let raw: RawRecord =
        serde_json::from_str(line).map_err(|err| fail(format!("not an EVE JSON record: {err}")))?;
    let event_type = raw.event_type.unwrap_or_default();
    if event_type != "alert" {
        return Ok(Record::Other(event_type));
    }
    let alert = raw
        .alert
        .ok_or_else(|| fail("alert record has no `alert` object".into()))?;
    let address = |field: &str, value: Option<String>| {
        let value = value.ok_or_else(|| fail(format!("alert record has no `{field}`")))?;
        parse_ip(&value).map_err(|err| fail(format!("`{field}`: {err}")))
    };
    Ok(Record::Alert(EveAlert {
        timestamp: raw.timestamp.unwrap_or_default(),
        src_ip: address("src_ip", raw.src_ip)?,
        dest_ip: address("dest_ip", raw.dest_ip)?,
        signature: alert.signature.unwrap_or_default(),
        signature_id: alert.signature_id.unwrap_or_default(),
        severity: alert.severity.unwrap_or(3),
    }))
}

/// Parses a whole file; each line's result in order.
pub fn parse(text: &str) -> Vec<Result<Record, ParseEveError>> {
    text.lines()
        .enumerate()
        .map(|(index, line)| parse_line(index + 1, line))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_alerts_and_normalizes_addresses() {
        let line = r#"{"timestamp":"t","event_type":"alert","src_ip":"2001:0db8:0000:0000:0000:0000:0000:0bad","dest_ip":"::ffff:10.0.0.1","alert":{"signature":"ET X","signature_id":7,"severity":1}}"#;
        let Record::Alert(alert) = parse_line(1, line).unwrap() else {
            panic!("not an alert");
        };
        assert_eq!(alert.src_ip.to_string(), "2001:db8::bad");
        assert_eq!(alert.dest_ip.to_string(), "10.0.0.1");
        assert_eq!((alert.signature_id, alert.severity), (7, 1));
    }

    #[test]
    fn skips_other_records_and_blank_lines() {
        let dns = r#"{"event_type":"dns","src_ip":"10.0.0.1"}"#;
        assert_eq!(parse_line(1, dns).unwrap(), Record::Other("dns".into()));
        assert_eq!(parse_line(2, "  ").unwrap(), Record::Other(String::new()));
    }

    #[test]
    fn names_the_line_and_field_of_bad_records() {
        let err = parse_line(4, "{not json").unwrap_err();
        assert!(
            err.to_string()
                .starts_with("line 4: not an EVE JSON record"),
            "{err}"
        );
        let bad_ip = r#"{"event_type":"alert","src_ip":"1.2.3","dest_ip":"1.2.3.4","alert":{}}"#;
        let err = parse_line(9, bad_ip).unwrap_err().to_string();
        assert!(
            err.contains("line 9: `src_ip`") && err.contains("`1.2.3`"),
            "{err}"
        );
    }

    #[test]
    fn the_bundled_demo_file_parses() {
        let records = parse(include_str!("../../../demo/alerts/eve.json"));
        let alerts = records
            .iter()
            .filter(|r| matches!(r, Ok(Record::Alert(_))))
            .count();
        assert_eq!(alerts, 6);
        assert!(records.iter().all(Result::is_ok));
    }
}
