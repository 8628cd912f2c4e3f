//! Entity values: the one parser for what a response action acts on.
//!
//! The host (API, config loader, engine) and the components parse entity
//! values here, so a value means the same thing everywhere and is stored in
//! one normalised form:
//!
//! - `ip`: `::ffff:1.2.3.4` is the IPv4 address `1.2.3.4`; `10.0.0.7/32` and
//!   `2001:db8::1/128` are single addresses; IPv6 is written in its
//!   compressed form (`2001:db8::1`). Ambiguous IPv4 spellings (`127.1`,
//!   `2130706433`, `0x7f000001`, `010.0.0.1`) are refused, because tools
//!   disagree on what they mean.
//! - `cidr`: a network whose host bits are zero; `10.0.0.7/24` is refused
//!   with a hint to `10.0.0.0/24`.
//! - `domain`: lower-case ASCII without the trailing dot, at least two
//!   labels; internationalised names must be given in punycode (`xn--`).
//!   Wildcards (`*.example.com`) are a separate type, [`DomainPattern`].
//! - `file-hash`: a SHA-256 digest, 64 lower-case hex digits.
//!
//! Every type reads surrounding whitespace as absent, displays in normal
//! form, and (de)serialises as that string; [`Entity`] serialises as
//! `{"kind": "ip", "value": "1.2.3.4"}`.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Why an entity value was refused. The message names the value and says
/// what is accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum EntityError {
    /// Not an IPv4 or IPv6 address.
    InvalidIp {
        /// The value as given.
        value: String,
    },
    /// Not an address with a prefix length.
    InvalidCidr {
        /// The value as given.
        value: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A CIDR block with bits set after the prefix.
    HostBitsSet {
        /// The value as given.
        value: String,
        /// The network the value probably meant.
        network: String,
    },
    /// A network where a single address was expected.
    NotAnAddress {
        /// The value as given.
        value: String,
    },
    /// Not a domain name (or domain pattern).
    InvalidDomain {
        /// The value as given.
        value: String,
        /// What is wrong with it.
        reason: String,
    },
    /// Not a SHA-256 digest in hex.
    InvalidFileHash {
        /// The value as given.
        value: String,
        /// What is wrong with it.
        reason: String,
    },
    /// Not one of the entity kinds of [`EntityKind`].
    UnknownKind {
        /// The kind as given.
        value: String,
    },
}

impl fmt::Display for EntityError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EntityError::InvalidIp { value } => write!(
                f,
                "`{value}` is not an IPv4 or IPv6 address; expected four decimal numbers \
                 without leading zeros such as `192.0.2.1`, or an IPv6 address such as \
                 `2001:db8::1`"
            ),
            EntityError::InvalidCidr { value, reason } => write!(
                f,
                "`{value}` is not a CIDR block: {reason}; expected an address and a prefix \
                 length such as `203.0.113.0/24` or `2001:db8::/32`"
            ),
            EntityError::HostBitsSet { value, network } => {
                write!(f, "`{value}` has host bits set; did you mean `{network}`?")
            }
            EntityError::NotAnAddress { value } => write!(
                f,
                "`{value}` is a network, not a single address; use the kind `cidr`"
            ),
            EntityError::InvalidDomain { value, reason } => {
                write!(f, "`{value}` is not a domain name: {reason}")
            }
            EntityError::InvalidFileHash { value, reason } => write!(
                f,
                "`{value}` is not a SHA-256 hash: {reason}; expected 64 hex digits"
            ),
            EntityError::UnknownKind { value } => write!(
                f,
                "`{value}` is not an entity kind; expected `ip`, `cidr`, `domain` or `file-hash`"
            ),
        }
    }
}

impl std::error::Error for EntityError {}

/// The kinds of entity this module parses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum EntityKind {
    /// A single IPv4 or IPv6 address.
    Ip,
    /// An IPv4 or IPv6 network.
    Cidr,
    /// A fully qualified domain name.
    Domain,
    /// The SHA-256 digest of a file.
    FileHash,
}

impl EntityKind {
    /// The kind's name: `ip`, `cidr`, `domain` or `file-hash`.
    pub fn as_str(self) -> &'static str {
        match self {
            EntityKind::Ip => "ip",
            EntityKind::Cidr => "cidr",
            EntityKind::Domain => "domain",
            EntityKind::FileHash => "file-hash",
        }
    }
}

impl fmt::Display for EntityKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for EntityKind {
    type Err = EntityError;

    fn from_str(s: &str) -> Result<Self, EntityError> {
        match s.trim() {
            "ip" => Ok(EntityKind::Ip),
            "cidr" => Ok(EntityKind::Cidr),
            "domain" => Ok(EntityKind::Domain),
            "file-hash" => Ok(EntityKind::FileHash),
            _ => Err(EntityError::UnknownKind { value: s.into() }),
        }
    }
}

/// A normalised entity value.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "RawEntity", into = "RawEntity")]
#[non_exhaustive]
pub enum Entity {
    /// A single address, IPv4 when it is IPv4-mapped.
    Ip(IpAddr),
    /// A network of more than one address.
    Cidr(Cidr),
    /// A domain name.
    Domain(Domain),
    /// A file's SHA-256 digest.
    FileHash(FileHash),
}

impl Entity {
    /// Parses `value` as an entity of `kind` and normalises it.
    ///
    /// A single-address network given as `cidr` (`10.0.0.7/32`, or an address
    /// without a prefix) becomes an [`Entity::Ip`], so one address is stored
    /// one way whatever kind it came with. An `ip` value that is a larger
    /// network is refused. A `domain` is exact: wildcards are refused.
    pub fn parse(kind: EntityKind, value: &str) -> Result<Self, EntityError> {
        match kind {
            EntityKind::Ip => parse_ip(value).map(Entity::Ip),
            EntityKind::Cidr => Ok(match IpOrCidr::parse(value)? {
                IpOrCidr::Ip(ip) => Entity::Ip(ip),
                IpOrCidr::Cidr(cidr) => Entity::Cidr(cidr),
            }),
            EntityKind::Domain => Domain::parse(value).map(Entity::Domain),
            EntityKind::FileHash => FileHash::parse(value).map(Entity::FileHash),
        }
    }

    /// The kind of the normalised value (`ip` for `10.0.0.7/32`).
    pub fn kind(&self) -> EntityKind {
        match self {
            Entity::Ip(_) => EntityKind::Ip,
            Entity::Cidr(_) => EntityKind::Cidr,
            Entity::Domain(_) => EntityKind::Domain,
            Entity::FileHash(_) => EntityKind::FileHash,
        }
    }
}

impl fmt::Display for Entity {
    /// The normalised value, without the kind.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Entity::Ip(ip) => ip.fmt(f),
            Entity::Cidr(cidr) => cidr.fmt(f),
            Entity::Domain(domain) => domain.fmt(f),
            Entity::FileHash(hash) => hash.fmt(f),
        }
    }
}

/// The serialised form of [`Entity`].
#[derive(Serialize, Deserialize)]
struct RawEntity {
    kind: EntityKind,
    value: String,
}

impl TryFrom<RawEntity> for Entity {
    type Error = EntityError;

    fn try_from(raw: RawEntity) -> Result<Self, EntityError> {
        Entity::parse(raw.kind, &raw.value)
    }
}

impl From<Entity> for RawEntity {
    fn from(entity: Entity) -> Self {
        RawEntity {
            kind: entity.kind(),
            value: entity.to_string(),
        }
    }
}

/// Parses a single IPv4 or IPv6 address and normalises it.
///
/// An IPv4-mapped IPv6 address is returned as IPv4, and a host-length
/// prefix (`/32`, `/128`) is dropped. A larger network is refused with
/// [`EntityError::NotAnAddress`]; any other malformed value with
/// [`EntityError::InvalidIp`].
pub fn parse_ip(value: &str) -> Result<IpAddr, EntityError> {
    match IpOrCidr::parse(value)? {
        IpOrCidr::Ip(ip) => Ok(ip),
        IpOrCidr::Cidr(_) => Err(EntityError::NotAnAddress {
            value: value.trim().into(),
        }),
    }
}

/// An address without a prefix, strictly: std refuses the short, integer,
/// hex and octal IPv4 forms that `inet_aton` accepts.
fn parse_bare_ip(value: &str) -> Result<IpAddr, EntityError> {
    value
        .parse::<IpAddr>()
        .map(|ip| ip.to_canonical())
        .map_err(|_| EntityError::InvalidIp {
            value: value.into(),
        })
}

/// A single address or a network, as `cidr` entities and allow-lists hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IpOrCidr {
    /// One address (also `/32` and `/128` blocks).
    Ip(IpAddr),
    /// A network of more than one address.
    Cidr(Cidr),
}

impl IpOrCidr {
    /// Parses an address or a CIDR block; a single-address block becomes
    /// [`IpOrCidr::Ip`].
    pub fn parse(value: &str) -> Result<Self, EntityError> {
        let value = value.trim();
        if !value.contains('/') {
            return parse_bare_ip(value).map(IpOrCidr::Ip);
        }
        let cidr = Cidr::parse(value)?;
        Ok(if cidr.is_host() {
            IpOrCidr::Ip(cidr.addr())
        } else {
            IpOrCidr::Cidr(cidr)
        })
    }

    /// Whether `ip` is this address or inside this network.
    pub fn contains(&self, ip: IpAddr) -> bool {
        match self {
            IpOrCidr::Ip(own) => *own == ip.to_canonical(),
            IpOrCidr::Cidr(cidr) => cidr.contains(ip),
        }
    }
}

impl fmt::Display for IpOrCidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IpOrCidr::Ip(ip) => ip.fmt(f),
            IpOrCidr::Cidr(cidr) => cidr.fmt(f),
        }
    }
}

impl FromStr for IpOrCidr {
    type Err = EntityError;

    fn from_str(s: &str) -> Result<Self, EntityError> {
        Self::parse(s)
    }
}

/// An IPv4 or IPv6 network: an address whose bits after `prefix` are zero.
///
/// IPv4-mapped blocks (`::ffff:10.0.0.0/120`) are held as IPv4
/// (`10.0.0.0/24`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Cidr {
    addr: IpAddr,
    prefix: u8,
}

impl Cidr {
    /// The network `addr/prefix`. Fails when the prefix is too long for the
    /// address family or when host bits are set.
    pub fn new(addr: IpAddr, prefix: u8) -> Result<Self, EntityError> {
        Self::build(&format!("{addr}/{prefix}"), addr, prefix)
    }

    /// Parses `address/prefix`, such as `203.0.113.0/24`. The prefix is a
    /// decimal number without a sign or leading zeros.
    pub fn parse(value: &str) -> Result<Self, EntityError> {
        let value = value.trim();
        let invalid = |reason: String| EntityError::InvalidCidr {
            value: value.into(),
            reason,
        };
        let (addr, prefix) = value
            .split_once('/')
            .ok_or_else(|| invalid("it has no `/prefix`".into()))?;
        // Not canonicalised yet: `build` maps `::ffff:a.b.c.d/n` with the prefix.
        let addr = addr
            .parse::<IpAddr>()
            .map_err(|_| invalid(format!("`{addr}` is not an IPv4 or IPv6 address")))?;
        let prefix_ok = !prefix.is_empty()
            && prefix.len() <= 3
            && prefix.bytes().all(|b| b.is_ascii_digit())
            && (prefix == "0" || !prefix.starts_with('0'));
        let prefix = prefix
            .parse::<u8>()
            .ok()
            .filter(|_| prefix_ok)
            .ok_or_else(|| invalid(format!("`{prefix}` is not a prefix length")))?;
        Self::build(value, addr, prefix)
    }

    /// Checks and normalises a parsed block; `value` is the input, for
    /// messages.
    fn build(value: &str, addr: IpAddr, prefix: u8) -> Result<Self, EntityError> {
        let (addr, prefix) = match addr {
            IpAddr::V6(v6) if prefix >= 96 => match v6.to_ipv4_mapped() {
                Some(v4) => (IpAddr::V4(v4), prefix - 96),
                None => (addr, prefix),
            },
            _ => (addr, prefix),
        };
        let max = if addr.is_ipv4() { 32 } else { 128 };
        if prefix > max {
            let family = if addr.is_ipv4() { "IPv4" } else { "IPv6" };
            return Err(EntityError::InvalidCidr {
                value: value.into(),
                reason: format!("the prefix length of an {family} block is at most {max}"),
            });
        }
        let network = mask(addr, prefix);
        if network != addr {
            return Err(EntityError::HostBitsSet {
                value: value.into(),
                network: format!("{network}/{prefix}"),
            });
        }
        Ok(Self { addr, prefix })
    }

    /// The network address.
    pub fn addr(&self) -> IpAddr {
        self.addr
    }

    /// The prefix length, at most 32 for IPv4 and 128 for IPv6.
    pub fn prefix(&self) -> u8 {
        self.prefix
    }

    /// The block of exactly `ip` (`/32` or `/128`); an IPv4-mapped `ip`
    /// gives an IPv4 block.
    pub fn host(ip: IpAddr) -> Self {
        let addr = ip.to_canonical();
        let prefix = if addr.is_ipv4() { 32 } else { 128 };
        Self { addr, prefix }
    }

    /// Whether the block holds exactly one address (`/32`, `/128`).
    pub fn is_host(&self) -> bool {
        self.prefix == if self.addr.is_ipv4() { 32 } else { 128 }
    }

    /// Whether `ip` is in this network; an IPv4-mapped `ip` counts as IPv4.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        ip.is_ipv4() == self.addr.is_ipv4() && mask(ip, self.prefix) == self.addr
    }
}

/// `addr` with every bit after the first `prefix` cleared; `prefix` is at
/// most the address width.
fn mask(addr: IpAddr, prefix: u8) -> IpAddr {
    match addr {
        IpAddr::V4(v4) => {
            let bits = u32::from(v4);
            let kept = bits.checked_shr(32 - u32::from(prefix)).unwrap_or(0);
            let masked = kept.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
            IpAddr::V4(Ipv4Addr::from(masked))
        }
        IpAddr::V6(v6) => {
            let bits = u128::from(v6);
            let kept = bits.checked_shr(128 - u32::from(prefix)).unwrap_or(0);
            let masked = kept.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
            IpAddr::V6(Ipv6Addr::from(masked))
        }
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

impl FromStr for Cidr {
    type Err = EntityError;

    fn from_str(s: &str) -> Result<Self, EntityError> {
        Self::parse(s)
    }
}

/// Longest domain name in presentation form, without the trailing dot
/// (RFC 1035 §2.3.4, 255 octets on the wire).
const MAX_DOMAIN_LEN: usize = 253;

/// Longest label (RFC 1035 §2.3.4).
const MAX_LABEL_LEN: usize = 63;

/// An exact, fully qualified domain name in lower-case ASCII, without the
/// trailing dot.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Domain(String);

impl Domain {
    /// Parses a domain name such as `Evil.Example.` (stored as
    /// `evil.example`).
    ///
    /// Accepts at least two labels of 1 to 63 characters from `a-z`, `0-9`
    /// and `-`, not starting or ending with `-`, 253 characters in all.
    /// Refuses non-ASCII names (give them in punycode), IP addresses, an
    /// all-numeric last label and wildcards (see [`DomainPattern`]).
    pub fn parse(value: &str) -> Result<Self, EntityError> {
        let value = value.trim();
        check_domain(value, value)
    }

    /// The name, lower-case, without the trailing dot.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Checks `name` (part of `value`, which messages show) and normalises it.
fn check_domain(value: &str, name: &str) -> Result<Domain, EntityError> {
    let refuse = |reason: String| EntityError::InvalidDomain {
        value: value.into(),
        reason,
    };
    if !name.is_ascii() {
        return Err(refuse(
            "it has non-ASCII characters; write internationalised names in punycode, \
             such as `xn--fiqs8s.cn`"
                .into(),
        ));
    }
    if name.parse::<IpAddr>().is_ok() {
        return Err(refuse("it is an IP address; use the kind `ip`".into()));
    }
    let name = name.to_ascii_lowercase();
    let name = name.strip_suffix('.').unwrap_or(&name);
    if name.is_empty() {
        return Err(refuse(
            "it is empty; expected a name such as `example.com`".into(),
        ));
    }
    if name.len() > MAX_DOMAIN_LEN {
        return Err(refuse(format!(
            "it is {} characters long, the limit is {MAX_DOMAIN_LEN}",
            name.len()
        )));
    }

    let labels: Vec<&str> = name.split('.').collect();
    for label in &labels {
        check_label(label).map_err(refuse)?;
    }
    if labels.len() < 2 {
        return Err(refuse(
            "it has a single label; expected a fully qualified name such as `example.com`".into(),
        ));
    }
    if labels
        .last()
        .is_some_and(|tld| tld.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err(refuse(
            "its last label is numeric; top-level domains are not".into(),
        ));
    }
    Ok(Domain(name.to_owned()))
}

/// Checks one lower-case label, returning the reason it is refused.
fn check_label(label: &str) -> Result<(), String> {
    if label.is_empty() {
        return Err("it has an empty label (`..`, or a leading `.`)".into());
    }
    if label.contains('*') {
        return Err("a wildcard is allowed only as a whole first label `*.` of a pattern".into());
    }
    if let Some(bad) = label
        .chars()
        .find(|&c| !(c.is_ascii_alphanumeric() || c == '-'))
    {
        return Err(format!(
            "`{}` is not allowed; labels use `a-z`, `0-9` and `-`",
            bad.escape_default()
        ));
    }
    if label.len() > MAX_LABEL_LEN {
        return Err(format!(
            "label `{label}` is {} characters long, the limit is {MAX_LABEL_LEN}",
            label.len()
        ));
    }
    if label.starts_with('-') || label.ends_with('-') {
        return Err(format!("label `{label}` starts or ends with `-`"));
    }
    Ok(())
}

impl fmt::Display for Domain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for Domain {
    type Err = EntityError;

    fn from_str(s: &str) -> Result<Self, EntityError> {
        Self::parse(s)
    }
}

/// A domain name or a wildcard `*.` followed by one, for the places that
/// accept patterns (firewall domain rules, allow-lists).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DomainPattern {
    /// Exactly this name.
    Exact(Domain),
    /// `*.` and this name: its subdomains.
    Wildcard(Domain),
}

impl DomainPattern {
    /// Parses `example.com` or `*.example.com`; the rest of the rules are
    /// those of [`Domain::parse`], so `*.com` is refused.
    pub fn parse(value: &str) -> Result<Self, EntityError> {
        let value = value.trim();
        match value.strip_prefix("*.") {
            Some(rest) => check_domain(value, rest).map(DomainPattern::Wildcard),
            None => check_domain(value, value).map(DomainPattern::Exact),
        }
    }

    /// Whether this is a `*.` pattern.
    pub fn is_wildcard(&self) -> bool {
        matches!(self, DomainPattern::Wildcard(_))
    }
}

impl fmt::Display for DomainPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DomainPattern::Exact(domain) => domain.fmt(f),
            DomainPattern::Wildcard(domain) => write!(f, "*.{domain}"),
        }
    }
}

impl FromStr for DomainPattern {
    type Err = EntityError;

    fn from_str(s: &str) -> Result<Self, EntityError> {
        Self::parse(s)
    }
}

/// The SHA-256 digest of a file, 64 lower-case hex digits.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FileHash(String);

impl FileHash {
    /// Parses 64 hex digits in either case; stored lower-case. MD5 and SHA-1
    /// digests are refused with a message that says so.
    pub fn parse(value: &str) -> Result<Self, EntityError> {
        let value = value.trim();
        let refuse = |reason: &str| EntityError::InvalidFileHash {
            value: value.into(),
            reason: reason.into(),
        };
        if !value.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(refuse("it has characters other than hex digits"));
        }
        match value.len() {
            64 => Ok(Self(value.to_ascii_lowercase())),
            32 => Err(refuse("it has 32 hex digits, an MD5 digest")),
            40 => Err(refuse("it has 40 hex digits, a SHA-1 digest")),
            _ => Err(refuse(&format!("it has {} hex digits", value.len()))),
        }
    }

    /// The digest, lower-case hex.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for FileHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for FileHash {
    type Err = EntityError;

    fn from_str(s: &str) -> Result<Self, EntityError> {
        Self::parse(s)
    }
}

/// Serialises each type as its normal-form string and deserialises through
/// its parser, so stored values are always valid and normalised.
macro_rules! serde_as_string {
    ($($ty:ty),*) => {$(
        impl Serialize for $ty {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.collect_str(self)
            }
        }

        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let value = String::deserialize(deserializer)?;
                value.parse().map_err(serde::de::Error::custom)
            }
        }
    )*};
}

serde_as_string!(IpOrCidr, Cidr, Domain, DomainPattern, FileHash);

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn accepted_ips() {
        for (input, normal) in [
            ("1.2.3.4", "1.2.3.4"),
            (" 1.2.3.4\n", "1.2.3.4"),
            ("0.0.0.0", "0.0.0.0"),
            ("255.255.255.255", "255.255.255.255"),
            ("::ffff:1.2.3.4", "1.2.3.4"),
            ("::FFFF:1.2.3.4", "1.2.3.4"),
            ("::ffff:0102:0304", "1.2.3.4"),
            ("2001:DB8:0:0:0:0:0:1", "2001:db8::1"),
            ("2001:0db8::0001", "2001:db8::1"),
            ("::", "::"),
            ("::1", "::1"),
            ("10.0.0.7/32", "10.0.0.7"),
            ("2001:db8::1/128", "2001:db8::1"),
            ("::ffff:1.2.3.4/128", "1.2.3.4"),
        ] {
            let parsed = parse_ip(input).unwrap_or_else(|e| panic!("{input}: {e}"));
            assert_eq!(parsed.to_string(), normal, "{input}");
            let entity = Entity::parse(EntityKind::Ip, input).unwrap();
            assert_eq!(
                (entity.kind(), entity.to_string().as_str()),
                (EntityKind::Ip, normal)
            );
        }
    }

    #[test]
    fn refused_ips() {
        for input in [
            "",
            " ",
            "1.2.3",
            "127.1",
            "2130706433",
            "0x7f000001",
            "0x7f.0.0.1",
            "010.0.0.1",
            "1.2.3.04",
            "1.2.3.256",
            "1.2.3.4.5",
            "1.2.3.-4",
            "+1.2.3.4",
            "1.2.3.4:80",
            "[::1]",
            "fe80::1%eth0",
            "::ffff:010.0.0.1",
            "2001:db8:::1",
            "2001:db8::1::2",
            "1:2:3:4:5:6:7:8:9",
            "localhost",
            "1.2.3.4/",
            "1.2.3.4/32/32",
        ] {
            assert!(parse_ip(input).is_err(), "{input:?} was accepted");
        }
        assert_eq!(
            parse_ip("1.2.3").unwrap_err().to_string(),
            "`1.2.3` is not an IPv4 or IPv6 address; expected four decimal numbers without \
             leading zeros such as `192.0.2.1`, or an IPv6 address such as `2001:db8::1`"
        );
        assert_eq!(
            parse_ip("10.0.0.0/24").unwrap_err().to_string(),
            "`10.0.0.0/24` is a network, not a single address; use the kind `cidr`"
        );
    }

    #[test]
    fn accepted_cidrs() {
        for (input, normal) in [
            ("10.0.0.0/24", "10.0.0.0/24"),
            ("10.0.0.0/8", "10.0.0.0/8"),
            ("0.0.0.0/0", "0.0.0.0/0"),
            ("203.0.113.128/25", "203.0.113.128/25"),
            ("2001:db8::/32", "2001:db8::/32"),
            ("2001:DB8:0::/48", "2001:db8::/48"),
            ("::/0", "::/0"),
            ("::ffff:10.0.0.0/120", "10.0.0.0/24"),
            (" 10.0.0.0/24 ", "10.0.0.0/24"),
        ] {
            let parsed = Cidr::parse(input).unwrap_or_else(|e| panic!("{input}: {e}"));
            assert_eq!(parsed.to_string(), normal, "{input}");
            let entity = Entity::parse(EntityKind::Cidr, input).unwrap();
            assert_eq!(
                (entity.kind(), entity.to_string().as_str()),
                (EntityKind::Cidr, normal)
            );
        }
        // A single address given as `cidr` is stored as an `ip`.
        for (input, normal) in [
            ("10.0.0.7/32", "10.0.0.7"),
            ("10.0.0.7", "10.0.0.7"),
            ("::1/128", "::1"),
        ] {
            let entity = Entity::parse(EntityKind::Cidr, input).unwrap();
            assert_eq!(entity, Entity::Ip(ip(normal)), "{input}");
        }
    }

    #[test]
    fn refused_cidrs() {
        for input in [
            "10.0.0.0",
            "10.0.0.0/",
            "/8",
            "10.0.0/8",
            "010.0.0.0/8",
            "10.0.0.0/33",
            "10.0.0.0/024",
            "10.0.0.0/+8",
            "10.0.0.0/-8",
            "10.0.0.0/ 8",
            "10.0.0.0/8/8",
            "10.0.0.0/0x8",
            "10.0.0.0/256",
            "2001:db8::/129",
            "2001:db8::1/64",
            "10.0.0.7/24",
            "[2001:db8::]/32",
        ] {
            assert!(Cidr::parse(input).is_err(), "{input:?} was accepted");
        }
        assert_eq!(
            Cidr::parse("10.0.0.7/24").unwrap_err().to_string(),
            "`10.0.0.7/24` has host bits set; did you mean `10.0.0.0/24`?"
        );
        assert_eq!(
            Cidr::parse("2001:db8::1/64").unwrap_err(),
            EntityError::HostBitsSet {
                value: "2001:db8::1/64".into(),
                network: "2001:db8::/64".into()
            }
        );
        assert_eq!(
            Cidr::parse("10.0.0.0/33").unwrap_err().to_string(),
            "`10.0.0.0/33` is not a CIDR block: the prefix length of an IPv4 block is at \
             most 32; expected an address and a prefix length such as `203.0.113.0/24` or \
             `2001:db8::/32`"
        );
        assert!(Cidr::new(ip("10.0.0.1"), 8).is_err());
        assert_eq!(
            Cidr::new(ip("10.0.0.0"), 8).unwrap().to_string(),
            "10.0.0.0/8"
        );
    }

    #[test]
    fn cidr_contains() {
        let net = Cidr::parse("10.0.0.0/24").unwrap();
        assert!(net.contains(ip("10.0.0.0")));
        assert!(net.contains(ip("10.0.0.255")));
        assert!(net.contains(ip("::ffff:10.0.0.9")));
        assert!(!net.contains(ip("10.0.1.0")));
        assert!(!net.contains(ip("::a00:9")));
        let all = Cidr::parse("0.0.0.0/0").unwrap();
        assert!(all.contains(ip("255.255.255.255")));
        assert!(!all.contains(ip("::1")));
        let v6 = Cidr::parse("2001:db8::/32").unwrap();
        assert!(v6.contains(ip("2001:db8:ffff::1")));
        assert!(!v6.contains(ip("2001:db9::")));
        assert!(
            IpOrCidr::parse("10.0.0.7/32")
                .unwrap()
                .contains(ip("::ffff:10.0.0.7"))
        );
    }

    #[test]
    fn accepted_domains() {
        let label63 = "a".repeat(63);
        // Three labels of 63, one of 57 and `com`: 253 characters.
        let long = format!("{label63}.{label63}.{label63}.{}.com", "b".repeat(57));
        assert_eq!(long.len(), 253);
        for (input, normal) in [
            ("example.com", "example.com"),
            ("Example.COM.", "example.com"),
            (" evil.example ", "evil.example"),
            ("a-b.example.com", "a-b.example.com"),
            ("123.example.com", "123.example.com"),
            ("xn--fiqs8s.cn", "xn--fiqs8s.cn"),
            ("xn--bcher-kva.example", "xn--bcher-kva.example"),
            (&format!("{label63}.com"), &format!("{label63}.com")),
            (&long, &long),
        ] {
            let parsed = Domain::parse(input).unwrap_or_else(|e| panic!("{input}: {e}"));
            assert_eq!(parsed.as_str(), normal, "{input}");
            assert_eq!(
                Entity::parse(EntityKind::Domain, input)
                    .unwrap()
                    .to_string(),
                normal
            );
        }
    }

    #[test]
    fn refused_domains() {
        let label64 = "a".repeat(64);
        let label63 = "a".repeat(63);
        let too_long = format!("{label63}.{label63}.{label63}.{}.com", "b".repeat(58));
        assert_eq!(too_long.len(), 254);
        for (input, reason) in [
            ("例子.cn", "non-ASCII"),
            ("bücher.example", "punycode"),
            ("", "empty"),
            (".", "empty"),
            ("example", "single label"),
            ("localhost.", "single label"),
            ("-a.example.com", "starts or ends with `-`"),
            ("a-.example.com", "starts or ends with `-`"),
            ("a..com", "empty label"),
            (".example.com", "empty label"),
            ("example.com..", "empty label"),
            ("*.example.com", "wildcard"),
            ("a_b.example.com", "`_` is not allowed"),
            ("exa mple.com", "` ` is not allowed"),
            ("http://example.com", "`:` is not allowed"),
            ("example.com/path", "`/` is not allowed"),
            ("1.2.3.4", "IP address"),
            ("::1", "IP address"),
            ("example.123", "numeric"),
            (&format!("{label64}.com"), "64 characters long"),
            (&too_long, "254 characters long"),
        ] {
            let error = Domain::parse(input).expect_err(input).to_string();
            assert!(
                error.starts_with(&format!("`{}` is not a domain name: ", input.trim())),
                "{error}"
            );
            assert!(error.contains(reason), "{input}: {error}");
        }
        assert_eq!(
            Domain::parse("例子.cn").unwrap_err().to_string(),
            "`例子.cn` is not a domain name: it has non-ASCII characters; write \
             internationalised names in punycode, such as `xn--fiqs8s.cn`"
        );
    }

    #[test]
    fn domain_patterns() {
        let pattern = DomainPattern::parse("*.Evil.Example.").unwrap();
        assert!(pattern.is_wildcard());
        assert_eq!(pattern.to_string(), "*.evil.example");
        let exact = DomainPattern::parse("evil.example").unwrap();
        assert!(!exact.is_wildcard());
        for input in [
            "*.com",
            "*",
            "*.",
            "a.*.com",
            "*example.com",
            "**.example.com",
            "*.*.example.com",
        ] {
            assert!(
                DomainPattern::parse(input).is_err(),
                "{input:?} was accepted"
            );
        }
        assert!(
            DomainPattern::parse("*.com")
                .unwrap_err()
                .to_string()
                .starts_with("`*.com` is not")
        );
    }

    #[test]
    fn file_hashes() {
        let digest = "E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855";
        assert_eq!(
            FileHash::parse(digest).unwrap().as_str(),
            digest.to_ascii_lowercase()
        );
        for (input, reason) in [
            ("d41d8cd98f00b204e9800998ecf8427e", "MD5"),
            ("da39a3ee5e6b4b0d3255bfef95601890afd80709", "SHA-1"),
            (&digest[1..], "63 hex digits"),
            (&format!("{digest}0"), "65 hex digits"),
            (&format!("{}g", &digest[1..]), "other than hex"),
            ("", "0 hex digits"),
        ] {
            let error = FileHash::parse(input).expect_err(input).to_string();
            assert!(error.contains(reason), "{input}: {error}");
        }
    }

    #[test]
    fn kinds_and_serde() {
        for kind in [
            EntityKind::Ip,
            EntityKind::Cidr,
            EntityKind::Domain,
            EntityKind::FileHash,
        ] {
            assert_eq!(kind.as_str().parse::<EntityKind>().unwrap(), kind);
            assert_eq!(serde_json::to_string(&kind).unwrap(), format!("\"{kind}\""));
        }
        assert_eq!(
            "url".parse::<EntityKind>().unwrap_err().to_string(),
            "`url` is not an entity kind; expected `ip`, `cidr`, `domain` or `file-hash`"
        );

        let entity: Entity =
            serde_json::from_str(r#"{"kind":"cidr","value":"::ffff:10.0.0.7/128"}"#).unwrap();
        assert_eq!(entity, Entity::Ip(ip("10.0.0.7")));
        assert_eq!(
            serde_json::to_string(&entity).unwrap(),
            r#"{"kind":"ip","value":"10.0.0.7"}"#
        );
        let refused = serde_json::from_str::<Entity>(r#"{"kind":"cidr","value":"10.0.0.7/24"}"#);
        assert!(
            refused
                .unwrap_err()
                .to_string()
                .contains("did you mean `10.0.0.0/24`?")
        );

        let cidr: Cidr = serde_json::from_str("\"2001:DB8::/32\"").unwrap();
        assert_eq!(serde_json::to_string(&cidr).unwrap(), "\"2001:db8::/32\"");
        let domain: Domain = serde_json::from_str("\"Example.COM.\"").unwrap();
        assert_eq!(serde_json::to_string(&domain).unwrap(), "\"example.com\"");
        assert!(serde_json::from_str::<Domain>("\"*.example.com\"").is_err());
        let pattern: DomainPattern = serde_json::from_str("\"*.example.com\"").unwrap();
        assert!(pattern.is_wildcard());
        let either: IpOrCidr = serde_json::from_str("\"10.0.0.7/32\"").unwrap();
        assert_eq!(either, IpOrCidr::Ip(ip("10.0.0.7")));
    }
}
