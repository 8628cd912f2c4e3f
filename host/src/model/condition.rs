//! CEL expressions in scripts and rules: parsed and checked once when the
//! script or rule is saved, evaluated many times against alerts.
//!
//! Variables an expression can name: `alert` (the alert or incident, as
//! ingested), `entity` (`kind` and `value`, in steps), and `steps` (each
//! earlier step by id, with `status` and counts of `succeeded`, `failed`
//! and `ignored` tasks). A reference to any other name is refused at save
//! time, so a typo such as `alret.severity` never reaches production;
//! expressions that use comprehension macros (`exists`, `all`, `map`,
//! `filter`) may bind their own names and are checked for parse errors
//! only.

use std::fmt;
use std::sync::Arc;

use cel::{Context, Program, Value};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Names an expression may reference.
pub const VARIABLES: [&str; 3] = ["alert", "entity", "steps"];

/// The macros that bind names of their own, as they appear in source.
const BINDING_MACROS: [&str; 5] = [".all(", ".exists(", ".exists_one(", ".map(", ".filter("];

/// A compiled CEL expression with its source text.
#[derive(Clone)]
pub struct Expr {
    source: String,
    program: Arc<Program>,
}

impl fmt::Debug for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Expr").field(&self.source).finish()
    }
}

impl PartialEq for Expr {
    fn eq(&self, other: &Self) -> bool {
        self.source == other.source
    }
}

/// The values an expression sees.
#[derive(Debug, Default)]
pub struct Bindings<'a> {
    pub alert: Option<&'a serde_json::Value>,
    pub entity: Option<serde_json::Value>,
    pub steps: Option<serde_json::Value>,
}

impl Expr {
    /// Parses `source` and checks the names it references.
    pub fn parse(source: &str) -> Result<Self, String> {
        let program = Program::compile(source)
            .map_err(|err| format!("CEL expression `{source}` does not parse: {err}"))?;
        let references = program.references();
        let binds_names = BINDING_MACROS.iter().any(|call| source.contains(call));
        if !binds_names {
            let mut unknown: Vec<_> = references
                .variables()
                .into_iter()
                .filter(|name| !VARIABLES.contains(name))
                .collect();
            unknown.sort_unstable();
            if let Some(name) = unknown.first() {
                return Err(format!(
                    "CEL expression `{source}` names `{name}`, which is not defined; \
                     expressions can use {}",
                    VARIABLES.map(|v| format!("`{v}`")).join(", ")
                ));
            }
        }
        Ok(Self {
            source: source.to_string(),
            program: Arc::new(program),
        })
    }

    /// The text as written.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Evaluates to a value, or says why it could not.
    pub fn evaluate(&self, bindings: &Bindings<'_>) -> Result<Value, String> {
        let mut context = Context::default();
        let null = serde_json::Value::Null;
        let bind = |context: &mut Context, name: &str, value: &serde_json::Value| {
            let value = cel::to_value(value).map_err(|err| format!("binding `{name}`: {err}"))?;
            context.add_variable_from_value(name, value);
            Ok::<_, String>(())
        };
        bind(&mut context, "alert", bindings.alert.unwrap_or(&null))?;
        bind(
            &mut context,
            "entity",
            bindings.entity.as_ref().unwrap_or(&null),
        )?;
        bind(
            &mut context,
            "steps",
            bindings.steps.as_ref().unwrap_or(&null),
        )?;
        self.program
            .execute(&context)
            .map_err(|err| format!("CEL expression `{}` failed: {err}", self.source))
    }

    /// Evaluates to a boolean; anything else is an error.
    pub fn is_true(&self, bindings: &Bindings<'_>) -> Result<bool, String> {
        match self.evaluate(bindings)? {
            Value::Bool(value) => Ok(value),
            other => Err(format!(
                "CEL condition `{}` gave {}, not a boolean",
                self.source,
                brief(&other)
            )),
        }
    }

    /// Evaluates to zero or more strings: a string, a list of strings, or
    /// null (nothing). Numbers are written in decimal.
    pub fn strings(&self, bindings: &Bindings<'_>) -> Result<Vec<String>, String> {
        let value = self.evaluate(bindings)?;
        let one = |value: &Value| match value {
            Value::String(text) => Ok(Some(text.to_string())),
            Value::Int(number) => Ok(Some(number.to_string())),
            Value::UInt(number) => Ok(Some(number.to_string())),
            Value::Null => Ok(None),
            other => Err(format!(
                "CEL expression `{}` gave {}; expected a string or a list of strings",
                self.source,
                brief(other)
            )),
        };
        match &value {
            Value::List(items) => items
                .iter()
                .filter_map(|item| one(item).transpose())
                .collect(),
            other => Ok(one(other)?.into_iter().collect()),
        }
    }
}

/// A value as a short text for messages: alert content can be large, and
/// messages end up in logs and task records.
fn brief(value: &Value) -> String {
    const MAX: usize = 80;
    let text = format!("{value:?}");
    match text.char_indices().nth(MAX) {
        Some((cut, _)) => format!("{}...", &text[..cut]),
        None => text,
    }
}

impl Serialize for Expr {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.source)
    }
}

impl<'de> Deserialize<'de> for Expr {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let source = String::deserialize(deserializer)?;
        Expr::parse(&source).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn evaluates_conditions_over_the_alert() {
        let alert = json!({"alert": {"severity": 1}, "src_ip": "203.0.113.9"});
        let bindings = Bindings {
            alert: Some(&alert),
            ..Bindings::default()
        };
        let cases = [
            ("alert.alert.severity <= 2", true),
            ("alert.alert.severity > 2", false),
            ("alert.src_ip.startsWith('203.')", true),
            ("has(alert.dest_ip)", false),
            ("[1, 2].exists(x, x == alert.alert.severity)", true),
        ];
        for (source, expected) in cases {
            let expr = Expr::parse(source).unwrap();
            assert_eq!(expr.is_true(&bindings), Ok(expected), "{source}");
        }
    }

    #[test]
    fn extracts_one_or_many_strings() {
        let alert = json!({"src_ip": "203.0.113.9", "ips": ["a", "b"], "none": null});
        let bindings = Bindings {
            alert: Some(&alert),
            ..Bindings::default()
        };
        let strings = |source: &str| Expr::parse(source).unwrap().strings(&bindings);
        assert_eq!(strings("alert.src_ip"), Ok(vec!["203.0.113.9".into()]));
        assert_eq!(strings("alert.ips"), Ok(vec!["a".into(), "b".into()]));
        assert_eq!(strings("alert.none"), Ok(vec![]));
        assert!(
            strings("{'a': 1}")
                .unwrap_err()
                .contains("expected a string")
        );
    }

    #[test]
    fn refuses_bad_expressions_when_saved() {
        let err = Expr::parse("alert.severity <=").unwrap_err();
        assert!(err.contains("does not parse"), "{err}");
        let err = Expr::parse("alret.severity <= 2").unwrap_err();
        assert!(err.contains("`alret`") && err.contains("`alert`"), "{err}");
    }

    #[test]
    fn a_non_boolean_condition_is_an_error_not_false() {
        let alert = json!({"severity": 1});
        let bindings = Bindings {
            alert: Some(&alert),
            ..Bindings::default()
        };
        let err = Expr::parse("alert.severity").unwrap().is_true(&bindings);
        assert!(err.unwrap_err().contains("not a boolean"));
        let err = Expr::parse("alert.missing.deeper == 1")
            .unwrap()
            .is_true(&bindings);
        assert!(err.unwrap_err().contains("failed"));
    }
}
