//! The normalized alert under construction, and the helpers adapters use
//! to read loosely typed JSON without panicking.
//!
//! Every value an adapter takes goes through [`Draft`]: entity values are
//! parsed by the model's entity parser, and what does not parse is dropped
//! with a note naming the field, so one odd field never costs the alert.

use serde_json::{Map, Value};

use super::{Format, Severity};
use crate::model::{Entity, EntityKind, Time};

/// The longest piece of input quoted in a message or a note.
const QUOTE_LEN: usize = 120;

/// The longest reason from another parser kept in a note; such reasons
/// quote the value, which may be long.
const REASON_LEN: usize = 400;

/// The most notes one alert keeps; a record with thousands of bad values
/// would otherwise grow its alert without bound.
const MAX_NOTES: usize = 32;

/// The most values one alert keeps per entity kind. The engine acts on at
/// most 256 entities per alert and rule; keeping more would only grow the
/// stored alert (and make deduplication quadratic).
const MAX_VALUES: usize = 256;

/// A normalized alert being assembled.
#[derive(Debug)]
pub(super) struct Draft {
    format: Format,
    title: String,
    severity: Severity,
    time: Option<Time>,
    rule_id: Option<String>,
    host: Option<String>,
    src_ip: Option<String>,
    dest_ip: Option<String>,
    entities: Vec<(EntityKind, Vec<String>)>,
    /// The kinds that reached [`MAX_VALUES`].
    capped: Vec<EntityKind>,
    notes: Vec<String>,
}

impl Draft {
    /// A draft with its title; severity `medium` until set.
    pub(super) fn new(format: Format, title: String) -> Self {
        Self {
            format,
            title,
            severity: Severity::Medium,
            time: None,
            rule_id: None,
            host: None,
            src_ip: None,
            dest_ip: None,
            entities: Vec::new(),
            capped: Vec::new(),
            notes: Vec::new(),
        }
    }

    /// Sets the severity, or keeps `medium` and notes why.
    pub(super) fn severity(&mut self, field: &str, severity: Result<Severity, String>) {
        match severity {
            Ok(severity) => self.severity = severity,
            Err(reason) => self.note(format!("`{field}`: {reason}; `medium` assumed")),
        }
    }

    /// Sets the time, or leaves it null and notes why.
    pub(super) fn time(&mut self, field: &str, time: Result<Time, String>) {
        match time {
            Ok(time) => self.time = Some(time),
            Err(reason) => self.note(format!("`{field}`: {reason}; time left null")),
        }
    }

    pub(super) fn rule_id(&mut self, rule_id: Option<String>) {
        self.rule_id = rule_id;
    }

    /// Sets the reporting host; it is not an entity by itself.
    pub(super) fn host(&mut self, host: Option<String>) {
        self.host = host;
    }

    /// Sets `src_ip` from `value` and adds it to the `ip` entities.
    pub(super) fn src_ip(&mut self, field: &str, value: Option<&Value>) {
        self.src_ip = self.address(field, value);
    }

    /// Sets `dest_ip` from `value` and adds it to the `ip` entities.
    pub(super) fn dest_ip(&mut self, field: &str, value: Option<&Value>) {
        self.dest_ip = self.address(field, value);
    }

    fn address(&mut self, field: &str, value: Option<&Value>) -> Option<String> {
        let text = self.text(field, value)?;
        let entity = self.parse(EntityKind::Ip, field, &text)?;
        let value = entity.value.clone();
        self.push(entity);
        Some(value)
    }

    /// Adds `value` (a string, a number, or a list of them) as entities of
    /// `kind`; what does not parse is dropped with a note.
    pub(super) fn entity(&mut self, kind: EntityKind, field: &str, value: Option<&Value>) {
        match value {
            Some(Value::Array(items)) => {
                for (index, item) in items.iter().enumerate() {
                    let name = format!("{field}[{index}]");
                    if let Some(text) = self.text(&name, Some(item)) {
                        self.add(kind, &name, &text);
                    }
                }
            }
            other => {
                if let Some(text) = self.text(field, other) {
                    self.add(kind, field, &text);
                }
            }
        }
    }

    /// Adds the `process` entity: the pid when `pid` is a positive
    /// integer (as `wit/component.wit` asks), else the process name.
    pub(super) fn process(&mut self, pid: (&str, Option<&Value>), name: (&str, Option<&Value>)) {
        match pid.1 {
            None | Some(Value::Null) => {}
            Some(value) => match integer(value) {
                Some(number) if number > 0 => {
                    self.add(EntityKind::Process, pid.0, &number.to_string());
                    return;
                }
                _ => {
                    let (field, shown) = (pid.0, shown(value));
                    self.note(format!("`{field}`: `{shown}` is not a process id; ignored"));
                }
            },
        }
        self.entity(EntityKind::Process, name.0, name.1);
    }

    /// Adds a name that may be an address (`http.hostname` can be either):
    /// an `ip` if it parses as one, else a `domain`.
    pub(super) fn name_or_address(&mut self, field: &str, value: Option<&Value>) {
        let Some(text) = self.text(field, value) else {
            return;
        };
        let kind = if riposte_sdk::entity::parse_ip(&text).is_ok() {
            EntityKind::Ip
        } else {
            EntityKind::Domain
        };
        self.add(kind, field, &text);
    }

    /// Adds one already-extracted value; a refusal becomes a note.
    pub(super) fn add(&mut self, kind: EntityKind, field: &str, value: &str) {
        if let Some(entity) = self.parse(kind, field, value) {
            self.push(entity);
        }
    }

    fn parse(&mut self, kind: EntityKind, field: &str, value: &str) -> Option<Entity> {
        Entity::parse(kind, value)
            .map_err(|reason| {
                self.note(format!("`{field}`: {}; ignored", clip(&reason, REASON_LEN)))
            })
            .ok()
    }

    fn push(&mut self, entity: Entity) {
        let index = match self.entities.iter().position(|(k, _)| *k == entity.kind) {
            Some(index) => index,
            None => {
                self.entities.push((entity.kind, Vec::new()));
                self.entities.len() - 1
            }
        };
        let values = &mut self.entities[index].1;
        if values.contains(&entity.value) {
            return;
        }
        if values.len() < MAX_VALUES {
            values.push(entity.value);
        } else if !self.capped.contains(&entity.kind) {
            let kind = entity.kind;
            self.capped.push(kind);
            self.note(format!(
                "more than {MAX_VALUES} `{kind}` values; the rest were ignored"
            ));
        }
    }

    /// Reads `value` as text: a non-empty string (trimmed) or a number.
    /// Null, absent and empty are `None`; another type is noted.
    pub(super) fn text(&mut self, field: &str, value: Option<&Value>) -> Option<String> {
        match value? {
            Value::Null => None,
            Value::String(text) => {
                let text = text.trim();
                (!text.is_empty()).then(|| text.to_string())
            }
            Value::Number(number) => Some(number.to_string()),
            other => {
                let kind = kind_of(other);
                self.note(format!(
                    "`{field}`: {kind} where a string was expected; ignored"
                ));
                None
            }
        }
    }

    /// Records something odd that was dropped or assumed.
    pub(super) fn note(&mut self, note: String) {
        if self.notes.len() < MAX_NOTES {
            self.notes.push(note);
        } else if self.notes.len() == MAX_NOTES {
            self.notes.push("more notes were dropped".into());
        }
    }

    /// The normalized alert document, holding `original`.
    pub(super) fn finish(self, original: &Value) -> Value {
        let optional = |text: Option<String>| text.map_or(Value::Null, Value::String);
        let mut alert = Map::new();
        alert.insert("format".into(), self.format.as_str().into());
        alert.insert("title".into(), self.title.into());
        alert.insert("severity".into(), self.severity.as_str().into());
        alert.insert(
            "time".into(),
            optional(self.time.map(|time| time.to_string())),
        );
        alert.insert("rule_id".into(), optional(self.rule_id));
        alert.insert("host".into(), optional(self.host));
        alert.insert("src_ip".into(), optional(self.src_ip));
        alert.insert("dest_ip".into(), optional(self.dest_ip));
        let entities: Map<String, Value> = self
            .entities
            .into_iter()
            .map(|(kind, values)| (kind.as_str().to_string(), values.into()))
            .collect();
        alert.insert("entities".into(), entities.into());
        if !self.notes.is_empty() {
            alert.insert("notes".into(), self.notes.into());
        }
        alert.insert("original".into(), original.clone());
        Value::Object(alert)
    }
}

/// Follows `path` through nested objects.
pub(super) fn at<'a>(value: &'a Value, path: &[&str]) -> Option<&'a Value> {
    path.iter().try_fold(value, |value, key| value.get(key))
}

/// A string field, trimmed; `None` when absent, empty or not a string.
pub(super) fn string<'a>(value: &'a Value, key: &str) -> Option<&'a str> {
    value
        .get(key)?
        .as_str()
        .map(str::trim)
        .filter(|text| !text.is_empty())
}

/// An integer given as a JSON integer, a float without a fraction, or a
/// numeric string; `None` otherwise (including numbers beyond `i64`).
pub(super) fn integer(value: &Value) -> Option<i64> {
    match value {
        Value::Number(number) => number.as_i64().or_else(|| {
            let float = number.as_f64()?;
            // Whole and within `i64`, so the cast loses nothing.
            let exact = float.fract() == 0.0 && float.abs() < 9.0e18;
            exact.then_some(float as i64)
        }),
        Value::String(text) => text.trim().parse().ok(),
        _ => None,
    }
}

/// What a JSON value is, for messages: "an array", "null".
pub(super) fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// A value as a message shows it: a string's text, else its JSON.
pub(super) fn shown(value: &Value) -> String {
    match value {
        Value::String(text) => shorten(text),
        other => shorten(&other.to_string()),
    }
}

/// `text` cut to a length fit for a message, on a character boundary,
/// with control characters escaped so a value cannot forge lines.
pub(super) fn shorten(text: &str) -> String {
    clip(text, QUOTE_LEN)
}

/// `text` cut to `max` characters, control characters escaped.
pub(super) fn clip(text: &str, max: usize) -> String {
    let mut out = String::new();
    for (count, c) in text.chars().enumerate() {
        if count == max {
            out.push('…');
            break;
        }
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn entities_are_normalized_deduplicated_and_ordered() {
        let mut draft = Draft::new(Format::Generic, "t".into());
        draft.src_ip("src_ip", Some(&json!("::ffff:203.0.113.7")));
        draft.dest_ip("dest_ip", Some(&json!("203.0.113.7")));
        draft.entity(
            EntityKind::Domain,
            "d",
            Some(&json!(["B.example.", "b.example"])),
        );
        draft.name_or_address("h", Some(&json!("198.51.100.1")));
        let alert = draft.finish(&json!({}));
        assert_eq!(alert["src_ip"], "203.0.113.7");
        assert_eq!(alert["dest_ip"], "203.0.113.7");
        assert_eq!(
            alert["entities"]["ip"],
            json!(["203.0.113.7", "198.51.100.1"])
        );
        assert_eq!(alert["entities"]["domain"], json!(["b.example"]));
        assert!(alert.get("notes").is_none());
    }

    #[test]
    fn bad_values_are_dropped_with_a_note_naming_the_field() {
        let mut draft = Draft::new(Format::Generic, "t".into());
        draft.src_ip("src_ip", Some(&json!("1.2.3")));
        draft.entity(EntityKind::Ip, "ips", Some(&json!(["1.2.3.4", {"x": 1}])));
        draft.entity(EntityKind::Host, "host", Some(&json!(true)));
        let alert = draft.finish(&json!({}));
        assert_eq!(alert["src_ip"], Value::Null);
        let notes = alert["notes"].as_array().unwrap();
        assert!(notes[0].as_str().unwrap().starts_with("`src_ip`: `1.2.3`"));
        assert_eq!(
            notes[1],
            "`ips[1]`: an object where a string was expected; ignored"
        );
        assert_eq!(
            notes[2],
            "`host`: a boolean where a string was expected; ignored"
        );
        assert_eq!(alert["entities"]["ip"], json!(["1.2.3.4"]));
    }

    #[test]
    fn values_per_kind_are_bounded() {
        let mut draft = Draft::new(Format::Generic, "t".into());
        let many: Vec<Value> = (0..100_000u32)
            .map(|n| json!(std::net::Ipv4Addr::from(n).to_string()))
            .collect();
        draft.entity(EntityKind::Ip, "ips", Some(&Value::Array(many)));
        let alert = draft.finish(&Value::Null);
        assert_eq!(
            alert["entities"]["ip"].as_array().unwrap().len(),
            MAX_VALUES
        );
        assert_eq!(
            alert["notes"],
            json!(["more than 256 `ip` values; the rest were ignored"])
        );
    }

    #[test]
    fn notes_are_bounded() {
        let mut draft = Draft::new(Format::Generic, "t".into());
        let many: Vec<Value> = (0..100).map(|_| json!("not an ip")).collect();
        draft.entity(EntityKind::Ip, "ips", Some(&Value::Array(many)));
        let alert = draft.finish(&Value::Null);
        assert_eq!(alert["notes"].as_array().unwrap().len(), MAX_NOTES + 1);
    }

    #[test]
    fn integers_come_from_numbers_and_numeric_strings_only() {
        for (value, expected) in [
            (json!(3), Some(3)),
            (json!(3.0), Some(3)),
            (json!(" 12 "), Some(12)),
            (json!(2.5), None),
            (json!(1e300), None),
            (json!("x"), None),
            (json!(null), None),
            (json!([1]), None),
        ] {
            assert_eq!(integer(&value), expected, "{value}");
        }
    }

    #[test]
    fn quotes_are_short_and_single_line() {
        assert_eq!(shorten("a\nb"), "a\\nb");
        let long = "界".repeat(500);
        assert_eq!(shorten(&long).chars().count(), QUOTE_LEN + 1);
    }
}
