//! Scripts (playbooks): a trigger condition, an entity extractor and steps,
//! written as YAML (or the same document as JSON) an operator keeps in
//! git. Every save is checked here, so a script that names an unknown
//! action or target, a zero duration or a broken CEL condition is refused
//! when it is published, not when an alert arrives.
//!
//! ```yaml
//! name: block-attacker
//! description: Block the source of high-severity IDS alerts
//! trigger: alert.severity == 'high'
//! entity:
//!   kind: ip
//!   from: alert.src_ip
//!   # attributes: {exe: alert.original.output_fields['proc.exepath']}
//! steps:
//!   - id: waf
//!     action: AliyunWafBlockIP
//!     targets: [waf-prod]
//!     duration: 1h
//!   - id: firewall
//!     when: steps.waf.status != "Succeeded"
//!     action: AliyunFirewallProcess
//!     targets: ["provider:aliyun"]
//! ```
//!
//! A step runs once every task of the step before it is terminal, if its
//! `when` holds. Targets are target ids, or `provider:NAME` for every
//! target of a provider at the time the policy is created.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde::{Deserialize, Serialize};

use super::{EntityKind, Expr, Span, Time};

/// What the engine knows about an action, for validation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActionFacts {
    pub component: String,
    pub entity_kinds: Vec<EntityKind>,
    pub reversible: bool,
    pub retryable: bool,
}

/// The actions and targets a script or rule may name.
#[derive(Debug, Clone, Default)]
pub struct Known {
    pub actions: HashMap<String, ActionFacts>,
    /// Target id -> provider.
    pub targets: BTreeMap<String, String>,
    /// Names of published scripts.
    pub scripts: HashSet<String>,
}

impl Known {
    /// The target ids a selector stands for: itself, or every target of
    /// `provider:NAME`.
    pub fn select(&self, selector: &str) -> Vec<String> {
        match selector.strip_prefix("provider:") {
            Some(provider) => self
                .targets
                .iter()
                .filter(|(_, p)| p.as_str() == provider)
                .map(|(id, _)| id.clone())
                .collect(),
            None if self.targets.contains_key(selector) => vec![selector.to_string()],
            None => Vec::new(),
        }
    }
}

/// Where the entity of each policy comes from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EntityExtractor {
    pub kind: EntityKind,
    /// A CEL expression giving a string or a list of strings; each value
    /// becomes its own policy.
    pub from: Expr,
    /// Attributes given to every entity `from` yields, each a CEL
    /// expression giving a string (or null, for none): a process's
    /// `start-time` and `exe`, which the endpoint agent checks before it
    /// kills, so that a reused pid is left alone. Meant for extractors
    /// that yield one entity per alert.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub attributes: BTreeMap<String, Expr>,
}

/// One step of a script.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Step {
    /// A name later steps' `when` conditions use: `steps.<id>.status`.
    pub id: String,
    pub action: String,
    /// Target ids or `provider:NAME` selectors.
    pub targets: Vec<String>,
    /// How long the effect lasts before the engine reverts it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration: Option<Span>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub parameters: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub when: Option<Expr>,
}

/// A script as an operator writes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScriptSpec {
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// A CEL condition over `alert`; without one the script applies to
    /// every trigger its rules pass.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trigger: Option<Expr>,
    pub entity: EntityExtractor,
    pub steps: Vec<Step>,
}

/// A published version of a script.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScriptVersion {
    pub version: u32,
    pub spec: ScriptSpec,
    pub published_at: Time,
    pub published_by: String,
}

/// The most steps a script may have.
const MAX_STEPS: usize = 32;

impl ScriptSpec {
    /// Parses a YAML document (JSON is YAML too).
    pub fn from_yaml(text: &str) -> Result<Self, String> {
        serde_norway::from_str(text).map_err(|err| format!("script: {err}"))
    }

    /// Checks the script against what the engine knows; every problem is
    /// listed, each naming the field.
    pub fn validate(&self, known: &Known) -> Result<(), Vec<String>> {
        let mut problems = Vec::new();
        if let Err(err) = check_name(&self.name) {
            problems.push(format!("field `name`: {err}"));
        }
        if self.steps.is_empty() {
            problems.push("field `steps`: a script needs at least one step".into());
        }
        if self.steps.len() > MAX_STEPS {
            problems.push(format!(
                "field `steps`: {} steps; at most {MAX_STEPS} are allowed",
                self.steps.len()
            ));
        }
        let mut seen = HashSet::new();
        for (index, step) in self.steps.iter().enumerate() {
            let at = format!("field `steps[{index}]`");
            if !is_identifier(&step.id) {
                problems.push(format!(
                    "{at}.id: `{}` is not an identifier; expected lower-case letters, \
                     digits and `_`, starting with a letter, such as `block_waf`",
                    step.id
                ));
            }
            if !seen.insert(step.id.as_str()) {
                problems.push(format!("{at}.id: `{}` is used by an earlier step", step.id));
            }
            self.check_step(step, &at, known, &mut problems);
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems)
        }
    }

    fn check_step(&self, step: &Step, at: &str, known: &Known, problems: &mut Vec<String>) {
        match known.actions.get(&step.action) {
            None => {
                let mut names: Vec<_> = known.actions.keys().map(String::as_str).collect();
                names.sort_unstable();
                problems.push(format!(
                    "{at}.action: no installed component implements `{}`; known actions: {}",
                    step.action,
                    if names.is_empty() {
                        "none".into()
                    } else {
                        names.join(", ")
                    }
                ));
            }
            Some(facts) => {
                let kind = self.entity.kind;
                // A `cidr` extractor yields `ip` entities for single addresses.
                let accepted = facts.entity_kinds.contains(&kind)
                    || (kind == EntityKind::Cidr && facts.entity_kinds.contains(&EntityKind::Ip));
                if !accepted {
                    problems.push(format!(
                        "{at}.action: `{}` does not accept `{kind}` entities (it accepts {})",
                        step.action,
                        facts
                            .entity_kinds
                            .iter()
                            .map(|k| format!("`{k}`"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ));
                }
                if step.duration.is_some() && !facts.reversible {
                    problems.push(format!(
                        "{at}.duration: `{}` cannot be reverted, so it cannot have a duration",
                        step.action
                    ));
                }
            }
        }
        if step.targets.is_empty() {
            problems.push(format!("{at}.targets: a step needs at least one target"));
        }
        for selector in &step.targets {
            if known.select(selector).is_empty() {
                problems.push(format!(
                    "{at}.targets: `{selector}` names no known target; expected a target \
                     id ({}) or `provider:NAME`",
                    known.targets.keys().cloned().collect::<Vec<_>>().join(", ")
                ));
            }
        }
    }
}

/// Script and rule names: `block-attacker`.
pub fn check_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "`{name}` is not a name; expected 1 to 64 lower-case letters, digits, \
             `-` or `_`, starting with a letter, such as `block-attacker`"
        ))
    }
}

fn is_identifier(id: &str) -> bool {
    id.starts_with(|c: char| c.is_ascii_lowercase())
        && id.len() <= 64
        && id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn known() -> Known {
        let mut known = Known::default();
        known.actions.insert(
            "AliyunWafBlockIP".into(),
            ActionFacts {
                component: "aliyun-waf".into(),
                entity_kinds: vec![EntityKind::Ip, EntityKind::Cidr],
                reversible: true,
                retryable: true,
            },
        );
        known.actions.insert(
            "Kill".into(),
            ActionFacts {
                component: "endpoint".into(),
                entity_kinds: vec![EntityKind::Process],
                reversible: false,
                retryable: false,
            },
        );
        known.targets.insert("waf-prod".into(), "aliyun".into());
        known
    }

    const GOOD: &str = "
name: block-attacker
trigger: alert.alert.severity <= 2
entity: {kind: ip, from: alert.src_ip}
steps:
  - id: waf
    action: AliyunWafBlockIP
    targets: [waf-prod]
    duration: 1h
  - id: again
    when: steps.waf.status != 'Succeeded'
    action: AliyunWafBlockIP
    targets: ['provider:aliyun']
";

    #[test]
    fn a_good_script_parses_and_validates() {
        let spec = ScriptSpec::from_yaml(GOOD).unwrap();
        assert_eq!(spec.steps[0].duration.unwrap().seconds(), 3600);
        spec.validate(&known()).unwrap();
        let json = serde_json::to_string(&spec).unwrap();
        let back: ScriptSpec = serde_json::from_str(&json).unwrap();
        assert_eq!(back, spec);
    }

    #[test]
    fn bad_values_are_refused_at_save_with_the_field_named() {
        let cases = [
            ("duration: 1h", "duration: 0s", "positive"),
            ("duration: 1h", "duration: -5m", "negative"),
            ("duration: 1h", "duration: -60", "not positive"),
            (
                "trigger: alert.alert.severity <= 2",
                "trigger: alert.severity <=",
                "parse",
            ),
            ("steps.waf.status", "stepz.waf.status", "`stepz`"),
        ];
        for (from, to, needle) in cases {
            let err = ScriptSpec::from_yaml(&GOOD.replace(from, to)).unwrap_err();
            assert!(err.contains(needle), "{to}: {err}");
        }
        let err = ScriptSpec::from_yaml(&GOOD.replace("trigger:", "triger:")).unwrap_err();
        assert!(err.contains("unknown field `triger`"), "{err}");
    }

    #[test]
    fn unknown_actions_targets_and_kinds_are_refused() {
        let cases = [
            (
                "action: AliyunWafBlockIP\n    targets: [waf-prod]",
                "action: Nope\n    targets: [waf-prod]",
                "steps[0]`.action: no installed component implements `Nope`",
            ),
            (
                "targets: [waf-prod]",
                "targets: [waf-test]",
                "steps[0]`.targets: `waf-test` names no known target",
            ),
            (
                "'provider:aliyun'",
                "'provider:tencent'",
                "steps[1]`.targets",
            ),
            ("kind: ip", "kind: domain", "does not accept `domain`"),
            ("id: again", "id: waf", "used by an earlier step"),
            ("id: again", "id: Again-2", "not an identifier"),
            (
                "name: block-attacker",
                "name: Block Attacker",
                "field `name`",
            ),
        ];
        for (from, to, needle) in cases {
            let spec = ScriptSpec::from_yaml(&GOOD.replace(from, to)).unwrap();
            let problems = spec.validate(&known()).unwrap_err().join("\n");
            assert!(problems.contains(needle), "{to}: {problems}");
        }
    }

    #[test]
    fn an_irreversible_action_cannot_have_a_duration() {
        let text = "
name: kill
entity: {kind: process, from: alert.pid}
steps:
  - {id: kill, action: Kill, targets: [waf-prod], duration: 1h}
";
        let problems = ScriptSpec::from_yaml(text)
            .unwrap()
            .validate(&known())
            .unwrap_err();
        assert!(problems[0].contains("cannot be reverted"), "{problems:?}");
    }
}
