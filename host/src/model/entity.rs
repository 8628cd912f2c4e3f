//! Entities as the host stores them: a kind and one normalized value, so
//! that `::ffff:1.2.3.4`, `1.2.3.4/32` and `1.2.3.4` are one entity, and
//! `Evil.Example.COM.` is `evil.example.com`.
//!
//! Addresses, networks, domains and hashes are parsed by the SDK's entity
//! module, the same code components use, so host and guest never disagree
//! on what a value means.

use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;

use riposte_sdk::entity::{self as sdk, IpOrCidr};
use serde::{Deserialize, Serialize};

use crate::runtime::wit;

/// The kind of object an action acts on (see `wit/component.wit`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EntityKind {
    Ip,
    Cidr,
    Domain,
    Url,
    FileHash,
    File,
    Process,
    Host,
    Container,
    CloudResource,
    Account,
}

impl EntityKind {
    /// Every kind, in the WIT's order.
    pub const ALL: [EntityKind; 11] = [
        EntityKind::Ip,
        EntityKind::Cidr,
        EntityKind::Domain,
        EntityKind::Url,
        EntityKind::FileHash,
        EntityKind::File,
        EntityKind::Process,
        EntityKind::Host,
        EntityKind::Container,
        EntityKind::CloudResource,
        EntityKind::Account,
    ];

    /// The kebab-case name, as in the WIT and the API.
    pub fn as_str(self) -> &'static str {
        match self {
            EntityKind::Ip => "ip",
            EntityKind::Cidr => "cidr",
            EntityKind::Domain => "domain",
            EntityKind::Url => "url",
            EntityKind::FileHash => "file-hash",
            EntityKind::File => "file",
            EntityKind::Process => "process",
            EntityKind::Host => "host",
            EntityKind::Container => "container",
            EntityKind::CloudResource => "cloud-resource",
            EntityKind::Account => "account",
        }
    }

    /// Parses a kind name.
    pub fn parse(name: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|kind| kind.as_str() == name)
            .ok_or_else(|| {
                let names: Vec<_> = Self::ALL.iter().map(|kind| kind.as_str()).collect();
                format!(
                    "`{name}` is not an entity kind; expected one of {}",
                    names.join(", ")
                )
            })
    }

    /// The WIT enum value.
    pub fn to_wit(self) -> wit::EntityKind {
        match self {
            EntityKind::Ip => wit::EntityKind::Ip,
            EntityKind::Cidr => wit::EntityKind::Cidr,
            EntityKind::Domain => wit::EntityKind::Domain,
            EntityKind::Url => wit::EntityKind::Url,
            EntityKind::FileHash => wit::EntityKind::FileHash,
            EntityKind::File => wit::EntityKind::File,
            EntityKind::Process => wit::EntityKind::Process,
            EntityKind::Host => wit::EntityKind::Host,
            EntityKind::Container => wit::EntityKind::Container,
            EntityKind::CloudResource => wit::EntityKind::CloudResource,
            EntityKind::Account => wit::EntityKind::Account,
        }
    }
}

impl fmt::Display for EntityKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The longest value accepted for the free-form kinds.
const MAX_VALUE_LEN: usize = 2048;

/// A normalized entity. Construct it with [`Entity::parse`] only.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Entity {
    pub kind: EntityKind,
    pub value: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub attributes: BTreeMap<String, String>,
}

impl Entity {
    /// Parses and normalizes `value` as an entity of `kind`.
    ///
    /// A `cidr` of one address becomes an `ip`; an `ip` that is a network
    /// is refused; domains lose case and the trailing dot; hashes become
    /// lower-case. The error names the value and what was expected.
    pub fn parse(kind: EntityKind, value: &str) -> Result<Self, String> {
        let normalized = match kind {
            EntityKind::Ip | EntityKind::Cidr | EntityKind::Domain | EntityKind::FileHash => {
                let sdk_kind = match kind {
                    EntityKind::Ip => sdk::EntityKind::Ip,
                    EntityKind::Cidr => sdk::EntityKind::Cidr,
                    EntityKind::Domain => sdk::EntityKind::Domain,
                    _ => sdk::EntityKind::FileHash,
                };
                let parsed = sdk::Entity::parse(sdk_kind, value).map_err(|err| err.to_string())?;
                let kind = match parsed.kind() {
                    sdk::EntityKind::Ip => EntityKind::Ip,
                    sdk::EntityKind::Cidr => EntityKind::Cidr,
                    sdk::EntityKind::Domain => EntityKind::Domain,
                    _ => EntityKind::FileHash,
                };
                return Ok(Self {
                    kind,
                    value: parsed.to_string(),
                    attributes: BTreeMap::new(),
                });
            }
            EntityKind::Url => {
                let value = value.trim();
                let scheme_ok = value
                    .split_once("://")
                    .is_some_and(|(scheme, rest)| !scheme.is_empty() && !rest.is_empty());
                if !scheme_ok {
                    return Err(format!(
                        "`{value}` is not an absolute URL; expected for example \
                         `https://evil.example.com/payload`"
                    ));
                }
                value.to_string()
            }
            _ => value.trim().to_string(),
        };
        if normalized.is_empty() {
            return Err(format!(
                "an entity of kind `{kind}` needs a non-empty value"
            ));
        }
        if normalized.len() > MAX_VALUE_LEN || normalized.chars().any(char::is_control) {
            return Err(format!(
                "the `{kind}` value is longer than {MAX_VALUE_LEN} bytes or holds \
                 control characters"
            ));
        }
        Ok(Self {
            kind,
            value: normalized,
            attributes: BTreeMap::new(),
        })
    }

    /// Adds attributes (such as a process's `exe`), keeping the value.
    pub fn with_attributes(mut self, attributes: BTreeMap<String, String>) -> Self {
        self.attributes = attributes;
        self
    }

    /// The identity used for dedup and indexes: `ip:1.2.3.4`.
    pub fn key(&self) -> String {
        format!("{}:{}", self.kind, self.value)
    }

    /// The address or network, for the IP kinds.
    pub fn ip_or_cidr(&self) -> Option<IpOrCidr> {
        match self.kind {
            EntityKind::Ip | EntityKind::Cidr => IpOrCidr::parse(&self.value).ok(),
            _ => None,
        }
    }

    /// The address, for `ip` entities.
    pub fn ip(&self) -> Option<IpAddr> {
        match self.ip_or_cidr()? {
            IpOrCidr::Ip(ip) => Some(ip),
            IpOrCidr::Cidr(_) => None,
        }
    }

    /// The WIT record passed to components.
    pub fn to_wit(&self) -> wit::Entity {
        wit::Entity {
            kind: self.kind.to_wit(),
            value: self.value.clone(),
            attributes: self
                .attributes
                .iter()
                .map(|(name, value)| (name.clone(), value.clone()))
                .collect(),
        }
    }
}

impl fmt::Display for Entity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.kind, self.value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_address_is_one_entity() {
        for (kind, raw) in [
            (EntityKind::Ip, "1.2.3.4"),
            (EntityKind::Ip, "::ffff:1.2.3.4"),
            (EntityKind::Cidr, "1.2.3.4/32"),
            (EntityKind::Cidr, "::ffff:1.2.3.4/128"),
            (EntityKind::Ip, " 1.2.3.4 "),
        ] {
            let entity = Entity::parse(kind, raw).unwrap();
            assert_eq!(entity.key(), "ip:1.2.3.4", "{raw}");
        }
    }

    #[test]
    fn normalizes_each_kind() {
        let cases = [
            (EntityKind::Cidr, "10.0.0.0/8", "cidr:10.0.0.0/8"),
            (
                EntityKind::Domain,
                "Evil.Example.COM.",
                "domain:evil.example.com",
            ),
            (EntityKind::Ip, "2001:DB8::7", "ip:2001:db8::7"),
            (
                EntityKind::FileHash,
                "E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855",
                "file-hash:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
            ),
            (EntityKind::Host, " web-01 ", "host:web-01"),
            (
                EntityKind::Url,
                "https://x.example/a",
                "url:https://x.example/a",
            ),
        ];
        for (kind, raw, key) in cases {
            assert_eq!(Entity::parse(kind, raw).unwrap().key(), key, "{raw}");
        }
    }

    #[test]
    fn refuses_what_is_not_the_kind() {
        for (kind, raw, needle) in [
            (EntityKind::Ip, "1.2.3", "1.2.3"),
            (EntityKind::Ip, "10.0.0.0/8", "10.0.0.0/8"),
            (EntityKind::Cidr, "10.0.0.1/8", "10.0.0.0/8"),
            (EntityKind::Domain, "bad domain", "bad domain"),
            (EntityKind::Url, "evil.example.com", "absolute URL"),
            (EntityKind::Host, "  ", "non-empty"),
            (EntityKind::Account, "a\nb", "control"),
        ] {
            let err = Entity::parse(kind, raw).unwrap_err();
            assert!(err.contains(needle), "{raw}: {err}");
        }
        assert!(EntityKind::parse("ipv4").unwrap_err().contains("file-hash"));
    }
}
