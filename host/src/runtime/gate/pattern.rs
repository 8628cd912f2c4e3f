//! The grant grammar: which origins a component may call.
//!
//! A grant is `[scheme://]host[:port]`:
//! - `scheme` is `https` (the default), `http` or `*`;
//! - `host` is a DNS name (`wafopenapi.cn-hangzhou.aliyuncs.com`), a
//!   wildcard over subdomains (`*.aliyuncs.com`, which does not match
//!   `aliyuncs.com` itself), `*` for any name (explicit and flagged as
//!   dangerous), an IP address (`127.0.0.1`, `[::1]`) or a network
//!   (`10.0.0.0/8`, `[fd00::/8]`);
//! - `port` is a number or `*`; without one, the scheme's default port
//!   (443 or 80) is the only one granted.
//!
//! Names never match IP literals and wildcards never match IP addresses: an
//! address must be granted as an address.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use riposte_sdk::entity::Cidr;

/// A URL scheme the gate lets through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scheme {
    /// Plain HTTP.
    Http,
    /// HTTP over TLS.
    Https,
}

impl Scheme {
    /// Parses `http` or `https`, case-insensitively.
    pub fn parse(text: &str) -> Option<Self> {
        match text.to_ascii_lowercase().as_str() {
            "http" => Some(Self::Http),
            "https" => Some(Self::Https),
            _ => None,
        }
    }

    /// 80 or 443.
    pub fn default_port(self) -> u16 {
        match self {
            Self::Http => 80,
            Self::Https => 443,
        }
    }
}

impl fmt::Display for Scheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Http => "http",
            Self::Https => "https",
        })
    }
}

/// The host part of a grant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostPattern {
    /// Exactly this DNS name, lower case.
    Name(String),
    /// Any name ending in `.suffix` (with at least one more label).
    Subdomains(String),
    /// Any DNS name; never an IP address.
    AnyName,
    /// A network (a single address is a `/32` or `/128`).
    Network(Cidr),
}

/// One parsed grant: `[scheme://]host[:port]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostGrant {
    /// `None` means any of http and https.
    pub scheme: Option<Scheme>,
    /// The hosts granted.
    pub host: HostPattern,
    /// `None` means any port.
    pub port: Option<u16>,
}

/// Why a grant could not be parsed. The message says what is accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "grant `{grant}` is not a host pattern: {reason}\n\
     expected a host such as `wafopenapi.cn-hangzhou.aliyuncs.com`, `*.aliyuncs.com` or \
     `127.0.0.1`, optionally with a scheme (`http://`) and a port (`:8080`)"
)]
pub struct ParseGrantError {
    grant: String,
    reason: String,
}

impl FromStr for HostGrant {
    type Err = ParseGrantError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let fail = |reason: &str| ParseGrantError {
            grant: text.to_string(),
            reason: reason.to_string(),
        };
        let trimmed = text.trim();
        if trimmed.is_empty() {
            return Err(fail("it is empty"));
        }

        let (scheme, rest) = match trimmed.split_once("://") {
            Some(("*", rest)) => (None, rest),
            Some((scheme, rest)) => {
                let scheme = Scheme::parse(scheme)
                    .ok_or_else(|| fail("the scheme must be http, https or *"))?;
                (Some(scheme), rest)
            }
            None => (Some(Scheme::Https), trimmed),
        };
        if rest.contains(['/', '?', '#', '@']) && !rest.starts_with('[') && !is_cidr_like(rest) {
            return Err(fail("a grant names an origin, without path, query or user"));
        }

        let (host, port) = split_host_port(rest).map_err(|reason| fail(&reason))?;
        let port = match port {
            None => scheme.map(Scheme::default_port),
            Some("*") => None,
            Some(digits) => Some(
                digits
                    .parse::<u16>()
                    .ok()
                    .filter(|port| *port != 0)
                    .ok_or_else(|| fail("the port must be a number from 1 to 65535, or *"))?,
            ),
        };
        let host = parse_host(host).map_err(|reason| fail(&reason))?;
        Ok(Self { scheme, host, port })
    }
}

fn is_cidr_like(text: &str) -> bool {
    let host = text.split(':').next().unwrap_or(text);
    host.contains('/')
        && host
            .chars()
            .all(|c| c.is_ascii_digit() || c == '.' || c == '/')
}

/// Splits `host[:port]`, where an IPv6 host is in brackets.
fn split_host_port(text: &str) -> Result<(&str, Option<&str>), String> {
    if let Some(rest) = text.strip_prefix('[') {
        let (host, after) = rest
            .split_once(']')
            .ok_or("an IPv6 address must be closed with `]`")?;
        return match after {
            "" => Ok((host, None)),
            port if port.starts_with(':') => Ok((host, Some(&port[1..]))),
            _ => Err("only `:port` may follow `]`".into()),
        };
    }
    match text.split_once(':') {
        Some((_, port)) if port.contains(':') => {
            Err("an IPv6 address must be written in brackets, e.g. `[::1]:8080`".into())
        }
        Some((host, port)) => Ok((host, Some(port))),
        None => Ok((text, None)),
    }
}

fn parse_host(host: &str) -> Result<HostPattern, String> {
    if host == "*" {
        return Ok(HostPattern::AnyName);
    }
    if host.contains('/') {
        let cidr = Cidr::parse(host).map_err(|err| err.to_string())?;
        return Ok(HostPattern::Network(cidr));
    }
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(HostPattern::Network(Cidr::host(ip)));
    }
    if let Some(suffix) = host.strip_prefix("*.") {
        check_name(suffix)?;
        return Ok(HostPattern::Subdomains(suffix.to_ascii_lowercase()));
    }
    if host.contains('*') {
        return Err("`*` may only stand alone or as the first label (`*.example.com`)".into());
    }
    check_name(host)?;
    Ok(HostPattern::Name(host.to_ascii_lowercase()))
}

/// Accepts LDH names; refuses anything that looks like a numeric IPv4 form
/// (`127.1`, `2130706433`, `0x7f000001`), which resolvers would turn into
/// addresses behind the operator's back.
fn check_name(name: &str) -> Result<(), String> {
    let name = name.strip_suffix('.').unwrap_or(name);
    let valid_label = |label: &str| {
        !label.is_empty()
            && label.len() <= 63
            && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            && !label.starts_with('-')
            && !label.ends_with('-')
    };
    if name.is_empty() || name.len() > 253 || !name.split('.').all(valid_label) {
        return Err(format!("`{name}` is not a valid DNS name"));
    }
    if looks_numeric(name) {
        return Err(format!(
            "`{name}` is a numeric address form; write the address in dotted-quad form"
        ));
    }
    Ok(())
}

/// True for names a C resolver would read as an IPv4 address: all labels
/// numeric (decimal, octal or `0x` hex), e.g. `127.1` or `0x7f000001`.
pub(crate) fn looks_numeric(name: &str) -> bool {
    name.split('.').all(|label| {
        let hex = label
            .strip_prefix("0x")
            .or_else(|| label.strip_prefix("0X"));
        match hex {
            Some(digits) => digits.chars().all(|c| c.is_ascii_hexdigit()),
            None => !label.is_empty() && label.chars().all(|c| c.is_ascii_digit()),
        }
    })
}

impl HostGrant {
    /// Whether this grant lets `scheme://name:port` through, for a DNS name.
    pub fn allows_name(&self, scheme: Scheme, name: &str, port: u16) -> bool {
        if !self.allows_scheme_port(scheme, port) {
            return false;
        }
        let name = name.strip_suffix('.').unwrap_or(name).to_ascii_lowercase();
        match &self.host {
            HostPattern::Name(granted) => *granted == name,
            HostPattern::Subdomains(suffix) => name
                .strip_suffix(suffix.as_str())
                .is_some_and(|head| head.len() > 1 && head.ends_with('.')),
            HostPattern::AnyName => true,
            HostPattern::Network(_) => false,
        }
    }

    /// Whether this grant names `ip` explicitly (as an address or network)
    /// for `scheme` and `port`.
    pub fn allows_address(&self, scheme: Scheme, ip: IpAddr, port: u16) -> bool {
        self.allows_scheme_port(scheme, port)
            && matches!(&self.host, HostPattern::Network(cidr) if cidr.contains(ip))
    }

    /// Whether this grant reaches every public name (`*`), which operators
    /// should be warned about.
    pub fn is_any_host(&self) -> bool {
        self.host == HostPattern::AnyName
    }

    fn allows_scheme_port(&self, scheme: Scheme, port: u16) -> bool {
        self.scheme.is_none_or(|granted| granted == scheme)
            && self.port.is_none_or(|granted| granted == port)
    }
}

impl fmt::Display for HostGrant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.scheme {
            Some(scheme) => write!(f, "{scheme}://")?,
            None => f.write_str("*://")?,
        }
        match &self.host {
            HostPattern::Name(name) => f.write_str(name)?,
            HostPattern::Subdomains(suffix) => write!(f, "*.{suffix}")?,
            HostPattern::AnyName => f.write_str("*")?,
            HostPattern::Network(cidr) if cidr.is_host() && cidr.addr().is_ipv6() => {
                write!(f, "[{}]", cidr.addr())?
            }
            HostPattern::Network(cidr) if cidr.is_host() => write!(f, "{}", cidr.addr())?,
            HostPattern::Network(cidr) if cidr.addr().is_ipv6() => write!(f, "[{cidr}]")?,
            HostPattern::Network(cidr) => write!(f, "{cidr}")?,
        }
        match self.port {
            Some(port) => write!(f, ":{port}"),
            None => f.write_str(":*"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grant(text: &str) -> HostGrant {
        text.parse().unwrap_or_else(|err| panic!("{text}: {err}"))
    }

    #[test]
    fn parses_and_prints_the_accepted_forms() {
        let cases = [
            (
                "wafopenapi.cn-hangzhou.aliyuncs.com",
                "https://wafopenapi.cn-hangzhou.aliyuncs.com:443",
            ),
            ("WAF.Example.COM", "https://waf.example.com:443"),
            ("*.aliyuncs.com", "https://*.aliyuncs.com:443"),
            ("http://api.test:8080", "http://api.test:8080"),
            ("http://api.test", "http://api.test:80"),
            ("*://api.test:*", "*://api.test:*"),
            ("*", "https://*:443"),
            ("http://127.0.0.1:9000", "http://127.0.0.1:9000"),
            ("[::1]:8443", "https://[::1]:8443"),
            ("10.0.0.0/8", "https://10.0.0.0/8:443"),
            ("[fd00::/8]:443", "https://[fd00::/8]:443"),
        ];
        for (input, shown) in cases {
            assert_eq!(grant(input).to_string(), shown, "{input}");
        }
    }

    #[test]
    fn refuses_malformed_grants_with_a_reason() {
        let cases = [
            ("", "empty"),
            ("ftp://host", "scheme"),
            ("*.aliyuncs", "`aliyuncs` is"), // parses, see below
            ("waf.*.aliyuncs.com", "first label"),
            ("host:0", "port"),
            ("host:99999", "port"),
            ("host/path", "origin"),
            ("user@host", "origin"),
            ("::1", "brackets"),
            ("[::1", "closed"),
            ("127.1", "numeric"),
            ("2130706433", "numeric"),
            ("0x7f000001", "numeric"),
            ("-bad-.com", "not a valid DNS name"),
            ("10.0.0.1/8", "host bits"),
        ];
        for (input, needle) in cases {
            if input == "*.aliyuncs" {
                // A single-label suffix is a valid (if broad) pattern.
                assert!(input.parse::<HostGrant>().is_ok());
                continue;
            }
            let err = input.parse::<HostGrant>().expect_err(input).to_string();
            assert!(err.contains(needle), "{input}: {err}");
            assert!(err.contains("expected a host such as"), "{input}: {err}");
        }
    }

    #[test]
    fn names_match_exactly_or_by_subdomain() {
        let exact = grant("api.test");
        assert!(exact.allows_name(Scheme::Https, "api.test", 443));
        assert!(exact.allows_name(Scheme::Https, "API.test.", 443));
        assert!(!exact.allows_name(Scheme::Https, "api.test", 8443));
        assert!(!exact.allows_name(Scheme::Http, "api.test", 443));
        assert!(!exact.allows_name(Scheme::Https, "evilapi.test", 443));
        assert!(!exact.allows_name(Scheme::Https, "x.api.test", 443));

        let wild = grant("*.aliyuncs.com");
        assert!(wild.allows_name(Scheme::Https, "waf.aliyuncs.com", 443));
        assert!(wild.allows_name(Scheme::Https, "a.b.aliyuncs.com", 443));
        assert!(!wild.allows_name(Scheme::Https, "aliyuncs.com", 443));
        assert!(!wild.allows_name(Scheme::Https, "evilaliyuncs.com", 443));
        assert!(!wild.allows_name(Scheme::Https, "aliyuncs.com.evil.test", 443));
    }

    #[test]
    fn addresses_match_only_address_grants() {
        let any = grant("*://*:*");
        let ip = "127.0.0.1".parse().unwrap();
        assert!(any.allows_name(Scheme::Http, "anything.test", 1));
        assert!(!any.allows_address(Scheme::Http, ip, 80));

        let loopback = grant("http://127.0.0.1:9000");
        assert!(loopback.allows_address(Scheme::Http, ip, 9000));
        assert!(!loopback.allows_address(Scheme::Http, ip, 9001));
        assert!(!loopback.allows_name(Scheme::Http, "127.0.0.1", 9000));

        let net = grant("*://10.0.0.0/8:*");
        assert!(net.allows_address(Scheme::Https, "10.9.8.7".parse().unwrap(), 443));
        assert!(!net.allows_address(Scheme::Https, "11.0.0.1".parse().unwrap(), 443));
    }

    #[test]
    fn numeric_label_detection() {
        for numeric in [
            "127.1",
            "2130706433",
            "0x7f000001",
            "0x7f.1",
            "017700000001",
        ] {
            assert!(looks_numeric(numeric), "{numeric}");
        }
        for name in ["a1.test", "1a.test", "example.com", "0xg.test"] {
            assert!(!looks_numeric(name), "{name}");
        }
    }
}
