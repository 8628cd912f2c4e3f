//! What must never be acted on: allowlist entries an operator adds, and
//! guardrails that refuse obviously dangerous entities whatever a script
//! says (`0.0.0.0/0`, loopback, link-local, the host's own addresses,
//! configured protected ranges).
//!
//! A task for an allowlisted or guardrailed entity is created `Ignored`
//! with the reason and the component is never called.

use std::net::IpAddr;

use riposte_sdk::entity::IpOrCidr;
use serde::{Deserialize, Serialize};

use super::{Entity, EntityKind, Time};

/// Where an allowlist entry applies.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "kind", content = "id")]
pub enum Scope {
    /// Every target and action.
    Global,
    /// Tasks on one target.
    Target(String),
    /// Tasks of one action.
    Action(String),
}

/// An allowlist entry as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AllowEntry {
    pub id: u64,
    /// An entity, or a network for the IP kinds; a domain entry
    /// `*.example.com` covers every subdomain.
    pub kind: EntityKind,
    pub value: String,
    pub scope: Scope,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<Time>,
    pub reason: String,
    pub created_by: String,
    pub created_at: Time,
}

impl AllowEntry {
    /// Normalizes the value the way entities are normalized.
    pub fn check_value(kind: EntityKind, value: &str) -> Result<String, String> {
        if kind == EntityKind::Domain
            && let Some(rest) = value.trim().strip_prefix("*.")
        {
            let domain = Entity::parse(EntityKind::Domain, rest)?;
            return Ok(format!("*.{}", domain.value));
        }
        Ok(Entity::parse(kind, value)?.value)
    }

    /// Whether this entry covers `entity` for `action` on `target` at `now`.
    pub fn covers(&self, entity: &Entity, action: &str, target: &str, now: Time) -> bool {
        if self.expires_at.is_some_and(|at| at <= now) {
            return false;
        }
        let in_scope = match &self.scope {
            Scope::Global => true,
            Scope::Target(id) => id == target,
            Scope::Action(id) => id == action,
        };
        in_scope && self.matches(entity)
    }

    fn matches(&self, entity: &Entity) -> bool {
        if let (Some(mine), Some(theirs)) = (self.ip_or_cidr(), entity.ip_or_cidr()) {
            // A network that holds any allowlisted address is covered too:
            // blocking `203.0.113.0/24` would block allowlisted
            // `203.0.113.5`.
            return overlaps(mine, theirs);
        }
        if self.kind != entity.kind {
            return false;
        }
        match self.value.strip_prefix("*.") {
            Some(parent) if self.kind == EntityKind::Domain => {
                entity.value == parent || entity.value.ends_with(&format!(".{parent}"))
            }
            _ => self.value == entity.value,
        }
    }

    fn ip_or_cidr(&self) -> Option<IpOrCidr> {
        matches!(self.kind, EntityKind::Ip | EntityKind::Cidr)
            .then(|| IpOrCidr::parse(&self.value).ok())
            .flatten()
    }
}

/// Entities no script may act on, whatever the allowlist says.
#[derive(Debug, Clone)]
pub struct Guardrails {
    /// Networks an operator configured as protected (office ranges, the
    /// provider's own service ranges, ...).
    pub protected: Vec<IpOrCidr>,
    /// The daemon host's own addresses.
    pub own: Vec<IpAddr>,
    /// The widest IPv4 network a task may act on: `/8` by default, so a
    /// typo such as `128.0.0.0/1` never blocks half of the internet.
    pub min_prefix_v4: u8,
    /// The widest IPv6 network: `/32` by default.
    pub min_prefix_v6: u8,
}

impl Default for Guardrails {
    fn default() -> Self {
        Self {
            protected: Vec::new(),
            own: Vec::new(),
            min_prefix_v4: 8,
            min_prefix_v6: 32,
        }
    }
}

/// Ranges no task may touch, with what they are. A network is refused
/// when it overlaps any of them, not only when it starts inside one.
///
/// IPv4-mapped IPv6 needs no entry: entities are normalized, so
/// `::ffff:127.0.0.1` arrives as `127.0.0.1` and `::ffff:0:0/96` as
/// `0.0.0.0/0`.
const SPECIAL: [(&str, &str); 12] = [
    ("0.0.0.0/8", "unspecified (\"this network\")"),
    ("127.0.0.0/8", "loopback"),
    ("169.254.0.0/16", "link-local"),
    ("224.0.0.0/4", "multicast"),
    ("255.255.255.255/32", "broadcast"),
    ("240.0.0.0/4", "reserved"),
    ("::/128", "unspecified"),
    ("::1/128", "loopback"),
    ("::/96", "IPv4-compatible (deprecated)"),
    ("fe80::/10", "link-local"),
    ("ff00::/8", "multicast"),
    ("64:ff9b::/96", "NAT64 (IPv4 behind IPv6)"),
];

impl Guardrails {
    /// Guardrails with the host's own addresses read from the system
    /// (Linux `/proc/net`; elsewhere none) and `protected` networks.
    pub fn with_local_addresses(protected: Vec<IpOrCidr>) -> Self {
        Self {
            protected,
            own: local_addresses(),
            ..Self::default()
        }
    }

    /// Why `entity` must not be acted on, if it must not.
    pub fn check(&self, entity: &Entity) -> Result<(), String> {
        let Some(value) = entity.ip_or_cidr() else {
            return Ok(());
        };
        let refuse = |why: String| Err(format!("guardrail: `{}` {why}", entity.value));
        if let IpOrCidr::Cidr(cidr) = value {
            let min = if cidr.addr().is_ipv4() {
                self.min_prefix_v4
            } else {
                self.min_prefix_v6
            };
            if cidr.prefix() == 0 {
                return refuse("is every address; blocking it would cut off everything".into());
            }
            if cidr.prefix() < min {
                return refuse(format!(
                    "is wider than the widest network allowed (`/{min}`); \
                     split it or change the guardrail"
                ));
            }
        }
        if let IpOrCidr::Cidr(cidr) = value
            && let IpAddr::V6(net) = cidr.addr()
            && holds_v6(net, cidr.prefix(), MAPPED_START)
        {
            // Normalization turns `::ffff:a.b.c.d` into IPv4, so a wider
            // IPv6 network would hold every IPv4 address unchecked.
            return refuse("contains every IPv4-mapped address".into());
        }
        for (range, what) in SPECIAL {
            let range = IpOrCidr::parse(range).expect("the special ranges parse");
            if overlaps(range, value) {
                return match value {
                    IpOrCidr::Ip(_) => refuse(format!("is a {what} address")),
                    IpOrCidr::Cidr(_) => refuse(format!("contains {what} addresses")),
                };
            }
        }
        if let Some(own) = self.own.iter().find(|ip| value.contains(**ip)) {
            return refuse(format!("covers `{own}`, an address of this host"));
        }
        if let Some(range) = self.protected.iter().find(|range| overlaps(**range, value)) {
            return refuse(format!("overlaps the protected range `{range}`"));
        }
        Ok(())
    }
}

/// `::ffff:0.0.0.0`, the first IPv4-mapped IPv6 address.
const MAPPED_START: std::net::Ipv6Addr = std::net::Ipv6Addr::new(0, 0, 0, 0, 0, 0xffff, 0, 0);

/// Whether the IPv6 network `net/prefix` holds `ip`, compared bit by bit
/// (no mapping to IPv4).
fn holds_v6(net: std::net::Ipv6Addr, prefix: u8, ip: std::net::Ipv6Addr) -> bool {
    let mask = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
    u128::from(net) & mask == u128::from(ip) & mask
}

/// Whether two addresses or networks share any address. Two networks
/// overlap exactly when one contains the other's first address.
fn overlaps(a: IpOrCidr, b: IpOrCidr) -> bool {
    let first = |value: IpOrCidr| match value {
        IpOrCidr::Ip(ip) => ip,
        IpOrCidr::Cidr(cidr) => cidr.addr(),
    };
    a.contains(first(b)) || b.contains(first(a))
}

/// The host's own unicast addresses, from `/proc/net/fib_trie` (IPv4
/// `/32 host LOCAL` entries) and `/proc/net/if_inet6`. Loopback is left
/// out: the loopback guardrail covers it.
pub fn local_addresses() -> Vec<IpAddr> {
    let mut found = Vec::new();
    if let Ok(trie) = std::fs::read_to_string("/proc/net/fib_trie") {
        let mut last: Option<IpAddr> = None;
        for line in trie.lines() {
            let line = line.trim_start_matches([' ', '|', '+', '-']).trim();
            if let Ok(ip) = line.parse::<IpAddr>() {
                last = Some(ip);
            } else if line.starts_with("/32 host LOCAL")
                && let Some(ip) = last
                && !ip.is_loopback()
                && !found.contains(&ip)
            {
                found.push(ip);
            }
        }
    }
    if let Ok(table) = std::fs::read_to_string("/proc/net/if_inet6") {
        for line in table.lines() {
            let Some(hex) = line.split_whitespace().next() else {
                continue;
            };
            let Ok(bits) = u128::from_str_radix(hex, 16) else {
                continue;
            };
            let ip = IpAddr::V6(bits.into());
            if !ip.is_loopback() && !found.contains(&ip) {
                found.push(ip);
            }
        }
    }
    found
}

/// Parses a configured protected range.
pub fn parse_protected(value: &str) -> Result<IpOrCidr, String> {
    IpOrCidr::parse(value).map_err(|err| format!("protected range: {err}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(value: &str) -> Entity {
        Entity::parse(EntityKind::Ip, value).unwrap()
    }

    fn cidr(value: &str) -> Entity {
        Entity::parse(EntityKind::Cidr, value).unwrap()
    }

    #[test]
    fn guardrails_refuse_dangerous_entities_and_pass_ordinary_ones() {
        let rails = Guardrails {
            protected: vec![parse_protected("198.18.0.0/15").unwrap()],
            own: vec!["192.0.2.10".parse().unwrap()],
            ..Guardrails::default()
        };
        for (entity, needle) in [
            (cidr("0.0.0.0/0"), "every address"),
            (cidr("::/0"), "every address"),
            (ip("127.0.0.1"), "loopback"),
            (ip("::1"), "loopback"),
            (ip("::ffff:127.0.0.1"), "loopback"),
            (cidr("127.0.0.0/8"), "loopback"),
            (ip("169.254.169.254"), "link-local"),
            (ip("fe80::1"), "link-local"),
            (ip("192.0.2.10"), "this host"),
            (cidr("192.0.2.0/24"), "this host"),
            (ip("198.19.0.1"), "protected range"),
            (cidr("198.0.0.0/8"), "protected range"),
            // Networks that merely contain a special range, and networks
            // too wide to be anything but a mistake (found by the
            // adversarial review of issue 3).
            (cidr("169.0.0.0/8"), "link-local"),
            (cidr("255.255.255.254/31"), "broadcast"),
            (ip("250.1.2.3"), "reserved"),
            (ip("255.255.255.255"), "broadcast"),
            (ip("224.0.0.251"), "multicast"),
            (cidr("239.0.0.0/8"), "multicast"),
            (ip("::7f00:1"), "IPv4-compatible"),
            (cidr("64.0.0.0/2"), "wider than"),
            (cidr("128.0.0.0/1"), "wider than"),
            (cidr("fe00::/7"), "wider than"),
            (cidr("fe80::/64"), "link-local"),
            (cidr("ff02::/64"), "multicast"),
        ] {
            let err = rails.check(&entity).unwrap_err();
            assert!(err.contains(needle), "{entity}: {err}");
        }
        for entity in [ip("203.0.113.9"), cidr("203.0.113.0/24"), ip("2001:db8::9")] {
            assert_eq!(rails.check(&entity), Ok(()), "{entity}");
        }
        let domain = Entity::parse(EntityKind::Domain, "example.com").unwrap();
        assert_eq!(rails.check(&domain), Ok(()));

        // Without the width limit, overlap alone still refuses.
        let open = Guardrails {
            min_prefix_v4: 0,
            min_prefix_v6: 0,
            ..Guardrails::default()
        };
        for (entity, needle) in [
            (cidr("126.0.0.0/7"), "loopback"),
            (cidr("168.0.0.0/6"), "link-local"),
            (cidr("fe00::/7"), "link-local"),
            (cidr("::/8"), "IPv4-mapped"),
            (cidr("::fffe:0:0/95"), "IPv4-mapped"),
            (cidr("64:ff9b::/96"), "NAT64"),
            (ip("64:ff9b::7f00:1"), "NAT64"),
        ] {
            let err = open.check(&entity).unwrap_err();
            assert!(err.contains(needle), "{entity}: {err}");
        }
        assert_eq!(open.check(&cidr("192.0.0.0/3")), Ok(()));
    }

    fn entry(kind: EntityKind, value: &str, scope: Scope) -> AllowEntry {
        AllowEntry {
            id: 1,
            kind,
            value: AllowEntry::check_value(kind, value).unwrap(),
            scope,
            expires_at: None,
            reason: "test".into(),
            created_by: "tester".into(),
            created_at: Time::from_millis(0),
        }
    }

    #[test]
    fn allowlist_entries_cover_what_they_say_and_no_more() {
        let now = Time::from_millis(1_000);
        let net = entry(EntityKind::Cidr, "10.0.0.0/8", Scope::Global);
        assert!(net.covers(&ip("10.1.2.3"), "A", "t", now));
        assert!(net.covers(&ip("::ffff:10.1.2.3"), "A", "t", now));
        assert!(net.covers(&cidr("10.1.0.0/16"), "A", "t", now));
        // A wider network holds allowlisted addresses: covered as well.
        assert!(net.covers(&cidr("10.0.0.0/7"), "A", "t", now));
        let one = entry(EntityKind::Ip, "203.0.113.5", Scope::Global);
        assert!(one.covers(&cidr("203.0.113.0/24"), "A", "t", now));
        assert!(!one.covers(&cidr("203.0.114.0/24"), "A", "t", now));
        assert!(!net.covers(&ip("11.0.0.1"), "A", "t", now));

        let wild = entry(
            EntityKind::Domain,
            "*.Example.com.",
            Scope::Action("A".into()),
        );
        let domain = |d| Entity::parse(EntityKind::Domain, d).unwrap();
        assert!(wild.covers(&domain("a.b.example.com"), "A", "t", now));
        assert!(wild.covers(&domain("example.com"), "A", "t", now));
        assert!(!wild.covers(&domain("badexample.com"), "A", "t", now));
        assert!(!wild.covers(&domain("a.example.com"), "B", "t", now));

        let mut scoped = entry(EntityKind::Ip, "203.0.113.9", Scope::Target("t".into()));
        assert!(scoped.covers(&ip("203.0.113.9"), "A", "t", now));
        assert!(!scoped.covers(&ip("203.0.113.9"), "A", "other", now));
        scoped.expires_at = Some(now);
        assert!(!scoped.covers(&ip("203.0.113.9"), "A", "t", now));
    }
}
