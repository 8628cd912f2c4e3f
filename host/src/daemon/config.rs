//! The daemon's configuration file (YAML): signature policy, declared
//! grants, and whether the components directory is watched.
//!
//! ```yaml
//! signatures:
//!   required: true
//!   trusted_keys:           # the base64 line of a minisign.pub, or a path to one
//!     - RWS9H3j0X8k6ttxnA+NqDq07EPgXo1MWrZgecHiss06asa3DFK8hlpkc
//!     - /etc/riposte/keys/vendor.pub
//! grants:                   # by component name; they replace the stored grant at start
//!   webhook-notifier:
//!     hosts: [https://hooks.example.com]
//!     secrets: ["target:*"]
//! watch_components: true
//! ```
//!
//! Unknown fields are refused: a misspelt `required` must not leave
//! signatures optional without a word.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::registry::{SignaturePolicy, TrustedKey, runtime_grant};
use crate::store::GrantSpec;

/// The name looked for in the data directory when no `--config` is given.
pub const CONFIG_FILE: &str = "riposte.yaml";

/// The largest configuration file read.
const MAX_CONFIG: u64 = 1 << 20;

/// What a configuration file sets.
#[derive(Debug, Clone, Default)]
pub struct FileConfig {
    pub signatures: SignaturePolicy,
    pub grants: Vec<(String, GrantSpec)>,
    pub watch_components: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    #[serde(default)]
    signatures: RawSignatures,
    #[serde(default)]
    grants: BTreeMap<String, RawGrant>,
    #[serde(default = "yes")]
    watch_components: bool,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSignatures {
    #[serde(default)]
    required: bool,
    #[serde(default)]
    trusted_keys: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawGrant {
    #[serde(default)]
    hosts: Vec<String>,
    #[serde(default)]
    secrets: Vec<String>,
}

impl FileConfig {
    /// The defaults of a daemon without a configuration file.
    pub fn defaults() -> Self {
        Self {
            watch_components: true,
            ..Self::default()
        }
    }

    /// Reads and checks a configuration file; relative key paths are taken
    /// from the file's directory.
    pub fn load(path: &Path) -> Result<Self, String> {
        let size = std::fs::metadata(path)
            .map_err(|err| format!("cannot read {}: {err}", path.display()))?
            .len();
        if size > MAX_CONFIG {
            return Err(format!(
                "{} is {size} bytes; a configuration file is at most {MAX_CONFIG} bytes",
                path.display()
            ));
        }
        let text = std::fs::read_to_string(path)
            .map_err(|err| format!("cannot read {}: {err}", path.display()))?;
        let base = path.parent().unwrap_or(Path::new("."));
        Self::parse(&text, base).map_err(|err| format!("{}: {err}", path.display()))
    }

    /// Parses a configuration; `base` resolves relative key paths.
    pub fn parse(text: &str, base: &Path) -> Result<Self, String> {
        let raw: Raw = if text.trim().is_empty() {
            serde_norway::from_str("{}").expect("an empty mapping parses")
        } else {
            let deserializer = serde_norway::Deserializer::from_str(text);
            serde_path_to_error::deserialize(deserializer).map_err(|err| {
                let path = err.path().to_string();
                let inner = err.into_inner();
                if path == "." {
                    format!("{inner}")
                } else {
                    format!("field `{path}`: {inner}")
                }
            })?
        };
        let mut trusted = Vec::new();
        for (i, key) in raw.signatures.trusted_keys.iter().enumerate() {
            trusted.push(
                read_key(key, base)
                    .map_err(|err| format!("field `signatures.trusted_keys[{i}]`: {err}"))?,
            );
        }
        if raw.signatures.required && trusted.is_empty() {
            return Err(
                "field `signatures.required` is true but `signatures.trusted_keys` is \
                        empty: no component could ever be accepted"
                    .into(),
            );
        }
        let mut grants = Vec::new();
        for (name, grant) in raw.grants {
            let spec = GrantSpec {
                hosts: grant.hosts,
                secrets: grant.secrets,
            };
            runtime_grant(&spec).map_err(|err| format!("field `grants.{name}`: {err}"))?;
            grants.push((name, spec));
        }
        Ok(Self {
            signatures: SignaturePolicy {
                required: raw.signatures.required,
                trusted,
            },
            grants,
            watch_components: raw.watch_components,
        })
    }
}

/// A key given inline (its base64 line) or as a path to a `minisign.pub`.
fn read_key(text: &str, base: &Path) -> Result<TrustedKey, String> {
    let looks_like_path = text.contains('/') && !text.starts_with("RW") || text.ends_with(".pub");
    if looks_like_path {
        let path = base.join(PathBuf::from(text));
        let content = std::fs::read_to_string(&path)
            .map_err(|err| format!("cannot read the key file {}: {err}", path.display()))?;
        TrustedKey::parse(&content)
    } else {
        TrustedKey::parse(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "RWS9H3j0X8k6ttxnA+NqDq07EPgXo1MWrZgecHiss06asa3DFK8hlpkc";

    #[test]
    fn a_full_configuration_is_read() {
        let fixtures = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data"));
        let text = format!(
            "signatures:\n  required: true\n  trusted_keys:\n    - {KEY}\n    - minisign/key.pub\n\
             grants:\n  notifier:\n    hosts: [https://hooks.example.com]\n    secrets: ['target:*']\n\
             watch_components: false\n"
        );
        let config = FileConfig::parse(&text, fixtures).unwrap();
        assert!(config.signatures.required);
        assert_eq!(config.signatures.trusted.len(), 2);
        assert_eq!(config.signatures.trusted[1].id, KEY);
        assert_eq!(config.grants[0].0, "notifier");
        assert_eq!(config.grants[0].1.secrets, ["target:*"]);
        assert!(!config.watch_components);
        let empty = FileConfig::parse("", fixtures).unwrap();
        assert!(empty.watch_components && !empty.signatures.required);
    }

    #[test]
    fn mistakes_are_named_with_their_field() {
        let base = Path::new(".");
        let cases = [
            ("signatures:\n  requird: true\n", "requird"),
            ("signatures:\n  required: true\n", "trusted_keys` is empty"),
            (
                "signatures:\n  trusted_keys: [nonsense]\n",
                "signatures.trusted_keys[0]",
            ),
            (
                "signatures:\n  trusted_keys: [/nowhere/k.pub]\n",
                "cannot read the key file",
            ),
            ("grants:\n  x:\n    hosts: ['ftp://a']\n", "grants.x"),
            ("grants:\n  x:\n    secrets: ['a/b']\n", "grants.x"),
            ("watch_components: maybe\n", "watch_components"),
        ];
        for (text, expected) in cases {
            let err = FileConfig::parse(text, base).unwrap_err();
            assert!(err.contains(expected), "{text:?}: {err}");
        }
    }
}
