//! Response rules: a trigger kind and a CEL condition bound to a script,
//! with a dedup window and a rate limit.
//!
//! ```yaml
//! name: suricata-high
//! trigger: alert
//! condition: alert.severity == 'high'
//! script: block-attacker
//! dedup_window: 10m
//! rate_limit: 100/1m
//! ```

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::{Expr, Known, Span, check_name};

/// What a rule listens to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TriggerKind {
    /// A new alert.
    Alert,
    /// A new incident.
    Incident,
    /// An update of an incident seen before.
    IncidentUpdate,
}

/// At most `count` policies per `per`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    pub count: u32,
    pub per: Span,
}

impl RateLimit {
    /// Parses `100/1m`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let expected = "expected `COUNT/DURATION` such as `100/1m`";
        let (count, per) = text
            .split_once('/')
            .ok_or_else(|| format!("`{text}` is not a rate limit; {expected}"))?;
        let count = count
            .trim()
            .parse::<u32>()
            .ok()
            .filter(|count| *count > 0)
            .ok_or_else(|| format!("`{text}`: the count must be a positive integer; {expected}"))?;
        let per = Span::parse(per).map_err(|err| format!("`{text}`: {err}"))?;
        Ok(Self { count, per })
    }
}

impl fmt::Display for RateLimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.count, self.per)
    }
}

impl Serialize for RateLimit {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for RateLimit {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        RateLimit::parse(&String::deserialize(deserializer)?).map_err(serde::de::Error::custom)
    }
}

fn default_window() -> Span {
    Span::from_seconds(600).expect("ten minutes is a valid span")
}

fn enabled() -> bool {
    true
}

/// A response rule as an operator writes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleSpec {
    /// Required; may be left out of an API body whose path names the rule.
    #[serde(default)]
    pub name: String,
    pub trigger: TriggerKind,
    /// A CEL condition over `alert`; without one the rule fires on every
    /// trigger of its kind.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub condition: Option<Expr>,
    /// The script's name; the rule runs its latest published version.
    pub script: String,
    /// Alerts for the same entity and script inside this window join the
    /// existing policy instead of creating a new one. Default 10m.
    #[serde(default = "default_window")]
    pub dedup_window: Span,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_limit: Option<RateLimit>,
    #[serde(default = "enabled")]
    pub enabled: bool,
}

impl RuleSpec {
    /// Parses a YAML (or JSON) document.
    pub fn from_yaml(text: &str) -> Result<Self, String> {
        serde_norway::from_str(text).map_err(|err| format!("rule: {err}"))
    }

    /// Checks the rule against the published scripts.
    pub fn validate(&self, known: &Known) -> Result<(), Vec<String>> {
        let mut problems = Vec::new();
        if let Err(err) = check_name(&self.name) {
            problems.push(format!("field `name`: {err}"));
        }
        if !known.scripts.contains(&self.script) {
            let mut names: Vec<_> = known.scripts.iter().cloned().collect();
            names.sort_unstable();
            problems.push(format!(
                "field `script`: no script `{}` is published; published scripts: {}",
                self.script,
                if names.is_empty() {
                    "none".into()
                } else {
                    names.join(", ")
                }
            ));
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_rule_with_defaults() {
        let rule = RuleSpec::from_yaml("name: r\ntrigger: alert\nscript: s\n").unwrap();
        assert_eq!(rule.dedup_window.seconds(), 600);
        assert!(rule.enabled);
        assert_eq!(rule.rate_limit, None);
        let rule = RuleSpec::from_yaml(
            "name: r\ntrigger: incident-update\nscript: s\nrate_limit: 100/1m\ndedup_window: 30s",
        )
        .unwrap();
        assert_eq!(rule.rate_limit.unwrap().count, 100);
        assert_eq!(rule.dedup_window.seconds(), 30);
    }

    #[test]
    fn refuses_bad_rules_when_saved() {
        for (text, needle) in [
            (
                "name: r\ntrigger: alert\nscript: s\ndedup_window: 0",
                "positive",
            ),
            (
                "name: r\ntrigger: alert\nscript: s\nrate_limit: 0/1m",
                "positive integer",
            ),
            (
                "name: r\ntrigger: alert\nscript: s\nrate_limit: 5",
                "COUNT/DURATION",
            ),
            (
                "name: r\ntrigger: alarm\nscript: s",
                "unknown variant `alarm`",
            ),
            (
                "name: r\ntrigger: alert\nscript: s\ncondition: 'alert.x ==='",
                "parse",
            ),
            (
                "name: r\ntrigger: alert\nscript: s\nenable: false",
                "unknown field `enable`",
            ),
        ] {
            let err = RuleSpec::from_yaml(text).unwrap_err();
            assert!(err.contains(needle), "{text}: {err}");
        }
        let rule = RuleSpec::from_yaml("name: r\ntrigger: alert\nscript: nope").unwrap();
        let problems = rule.validate(&Known::default()).unwrap_err();
        assert!(problems[0].contains("no script `nope`"), "{problems:?}");
    }
}
