//! The egress gate: decides, before any connection, whether an outgoing
//! request of a component may leave, and then sends it to the address it
//! checked.
//!
//! A request leaves only when all of these hold:
//! 1. its scheme is http or https and its origin is the call's target
//!    endpoint (when the target has one);
//! 2. its host matches one of the component's grants ([`HostGrant`]); an IP
//!    literal must be granted as an address;
//! 3. every address the name resolves to (through the injected
//!    [`Resolver`]) is public, or is granted explicitly by address;
//! 4. its body fits the call's limit.
//!
//! The connection then goes to the checked address through the injected
//! [`Connector`], so a second DNS answer can never redirect it. Redirects
//! are not followed: the guest sees the 3xx and any new request it makes is
//! checked again.

mod address;
mod hooks;
mod net;
mod pattern;
pub(crate) mod send;

use std::net::IpAddr;

pub use address::{effective, special_reason};
pub use hooks::GateHooks;
pub use net::{
    Connector, LoopbackOnlyConnector, Network, Resolver, StaticResolver, SystemResolver,
    TcpConnector,
};
pub use pattern::{HostGrant, HostPattern, ParseGrantError, Scheme};

/// The origin a request is addressed to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// http or https.
    pub scheme: Scheme,
    /// A lower-case DNS name or an IP address.
    pub host: Host,
    /// The port, defaulted from the scheme.
    pub port: u16,
}

/// The host of an origin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Host {
    /// A DNS name, lower case, without trailing dot.
    Name(String),
    /// An IP literal (IPv4-mapped IPv6 kept as written; judged as IPv4).
    Ip(IpAddr),
}

impl std::fmt::Display for Host {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Name(name) => f.write_str(name),
            Self::Ip(IpAddr::V6(v6)) => write!(f, "[{v6}]"),
            Self::Ip(ip) => write!(f, "{ip}"),
        }
    }
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}://{}:{}", self.scheme, self.host, self.port)
    }
}

impl Origin {
    /// Parses the scheme and authority of a request or endpoint URL. Only
    /// strict dotted-quad IPv4 and bracketed IPv6 are IP literals; any other
    /// host is a name (and `127.1` or `2130706433` never match a name
    /// grant, see [`HostGrant`]).
    pub fn parse(scheme: &str, authority: &str) -> Result<Self, Refusal> {
        let scheme = Scheme::parse(scheme)
            .ok_or_else(|| Refusal::new(format!("scheme `{scheme}` is not http or https")))?;
        if authority.contains('@') {
            return Err(Refusal::new("authority carries user info"));
        }
        let (host, port) = match authority.strip_prefix('[') {
            Some(rest) => {
                let (host, after) = rest
                    .split_once(']')
                    .ok_or_else(|| Refusal::new(format!("authority `{authority}` is malformed")))?;
                (host, after.strip_prefix(':'))
            }
            None => match authority.rsplit_once(':') {
                Some((host, port)) => (host, Some(port)),
                None => (authority, None),
            },
        };
        let port = match port {
            None => scheme.default_port(),
            Some(port) => port
                .parse()
                .map_err(|_| Refusal::new(format!("port in `{authority}` is not a number")))?,
        };
        let host = match host.parse::<IpAddr>() {
            Ok(ip) => Host::Ip(ip),
            Err(_) if host.is_empty() => return Err(Refusal::new("request has no host")),
            Err(_) => {
                let name = host.strip_suffix('.').unwrap_or(host).to_ascii_lowercase();
                Host::Name(name)
            }
        };
        Ok(Self { scheme, host, port })
    }

    /// Parses an endpoint such as `https://waf.example.com` or
    /// `http://127.0.0.1:9000/`.
    pub fn parse_url(url: &str) -> Result<Self, Refusal> {
        let (scheme, rest) = url
            .split_once("://")
            .ok_or_else(|| Refusal::new(format!("endpoint `{url}` has no scheme")))?;
        let authority = rest.split(['/', '?']).next().unwrap_or(rest);
        Self::parse(scheme, authority)
    }
}

/// Why the gate refused a request. The message is shown to operators; it
/// names the host and the rule, never a header or body.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}")]
pub struct Refusal {
    reason: String,
}

impl Refusal {
    fn new(reason: impl Into<String>) -> Self {
        Self {
            reason: reason.into(),
        }
    }

    /// The reason, for logs and failure messages.
    pub fn reason(&self) -> &str {
        &self.reason
    }
}

/// What one call may reach: the component's grants and the task's target
/// endpoint.
#[derive(Debug, Clone, Default)]
pub struct EgressPolicy {
    grants: Vec<HostGrant>,
    endpoint: Option<Origin>,
}

impl EgressPolicy {
    /// A policy from the component's grants and, when the target has one,
    /// its endpoint. With no grants nothing is reachable: an empty list
    /// never means "everything".
    pub fn new(grants: Vec<HostGrant>, endpoint: Option<Origin>) -> Self {
        Self { grants, endpoint }
    }

    /// Checks the origin before resolution (rules 1 and 2).
    pub fn check_origin(&self, origin: &Origin) -> Result<(), Refusal> {
        if let Some(endpoint) = &self.endpoint
            && endpoint != origin
        {
            return Err(Refusal::new(format!(
                "`{origin}` is not the target endpoint `{endpoint}`"
            )));
        }
        let granted = match &origin.host {
            Host::Name(name) => self
                .grants
                .iter()
                .any(|grant| grant.allows_name(origin.scheme, name, origin.port)),
            Host::Ip(ip) => self.address_granted(origin, *ip),
        };
        if granted {
            Ok(())
        } else {
            Err(Refusal::new(format!(
                "`{origin}` is not granted to this component"
            )))
        }
    }

    /// Checks the resolved addresses (rule 3): all must be public or
    /// granted by address. Returns the addresses to connect to, normalized.
    pub fn check_addresses(&self, origin: &Origin, ips: &[IpAddr]) -> Result<Vec<IpAddr>, Refusal> {
        if ips.is_empty() {
            return Err(Refusal::new(format!(
                "`{}` resolved to no address",
                origin.host
            )));
        }
        let mut checked = Vec::with_capacity(ips.len());
        for &ip in ips {
            let ip = effective(ip);
            if let Some(reason) = special_reason(ip)
                && !self.address_granted(origin, ip)
            {
                return Err(Refusal::new(format!(
                    "`{}` resolved to {ip}, {reason}, which is not granted by address",
                    origin.host
                )));
            }
            checked.push(ip);
        }
        Ok(checked)
    }

    fn address_granted(&self, origin: &Origin, ip: IpAddr) -> bool {
        let ip = effective(ip);
        self.grants
            .iter()
            .any(|grant| grant.allows_address(origin.scheme, ip, origin.port))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(grants: &[&str], endpoint: Option<&str>) -> EgressPolicy {
        let grants = grants.iter().map(|g| g.parse().unwrap()).collect();
        EgressPolicy::new(grants, endpoint.map(|e| Origin::parse_url(e).unwrap()))
    }

    fn origin(url: &str) -> Origin {
        Origin::parse_url(url).unwrap()
    }

    #[test]
    fn parses_origins_strictly() {
        assert_eq!(
            origin("https://WAF.example.com."),
            Origin {
                scheme: Scheme::Https,
                host: Host::Name("waf.example.com".into()),
                port: 443
            }
        );
        let ip = origin("http://[::ffff:127.0.0.1]:81");
        assert_eq!(ip.host, Host::Ip("::ffff:127.0.0.1".parse().unwrap()));
        assert_eq!(ip.port, 81);
        // Non-canonical IPv4 forms stay names, and names never match them.
        for odd in ["127.1", "2130706433", "0x7f000001", "017700000001"] {
            assert!(matches!(
                origin(&format!("http://{odd}")).host,
                Host::Name(_)
            ));
        }
        assert!(Origin::parse_url("ftp://x").is_err());
        assert!(Origin::parse_url("http://u@x").is_err());
        assert!(Origin::parse_url("http://x:port").is_err());
    }

    #[test]
    fn empty_grants_reach_nothing() {
        let none = policy(&[], None);
        for url in ["https://example.com", "http://127.0.0.1", "https://[::1]"] {
            assert!(none.check_origin(&origin(url)).is_err(), "{url}");
        }
    }

    #[test]
    fn ip_literals_need_an_address_grant() {
        let by_name = policy(&["http://api.test:8080"], None);
        for url in [
            "http://127.0.0.1:8080",
            "http://[::ffff:127.0.0.1]:8080",
            "http://[::1]:8080",
            "http://2130706433:8080",
            "http://127.1:8080",
            "http://0x7f000001:8080",
        ] {
            let err = by_name.check_origin(&origin(url)).unwrap_err();
            assert!(err.reason().contains("not granted"), "{url}: {err}");
        }
        let by_address = policy(&["http://127.0.0.1:8080"], None);
        assert!(
            by_address
                .check_origin(&origin("http://127.0.0.1:8080"))
                .is_ok()
        );
        assert!(
            by_address
                .check_origin(&origin("http://[::ffff:127.0.0.1]:8080"))
                .is_ok()
        );
        assert!(
            by_address
                .check_origin(&origin("http://127.0.0.2:8080"))
                .is_err()
        );
    }

    #[test]
    fn the_target_endpoint_narrows_the_grants() {
        let p = policy(
            &["*.aliyuncs.com"],
            Some("https://waf.cn-hangzhou.aliyuncs.com"),
        );
        assert!(
            p.check_origin(&origin("https://waf.cn-hangzhou.aliyuncs.com/"))
                .is_ok()
        );
        let err = p
            .check_origin(&origin("https://ecs.cn-hangzhou.aliyuncs.com"))
            .unwrap_err();
        assert!(err.reason().contains("not the target endpoint"), "{err}");
        // The endpoint alone grants nothing.
        let p = policy(&[], Some("https://waf.cn-hangzhou.aliyuncs.com"));
        assert!(
            p.check_origin(&origin("https://waf.cn-hangzhou.aliyuncs.com"))
                .is_err()
        );
    }

    #[test]
    fn resolved_addresses_must_be_public_or_granted() {
        let p = policy(&["http://api.test:80"], None);
        let o = origin("http://api.test");
        let public: IpAddr = "198.51.100.7".parse().unwrap();
        assert_eq!(p.check_addresses(&o, &[public]).unwrap(), vec![public]);
        for bad in [
            "127.0.0.1",
            "169.254.169.254",
            "::ffff:10.0.0.1",
            "fd00:ec2::254",
        ] {
            let err = p
                .check_addresses(&o, &[public, bad.parse().unwrap()])
                .unwrap_err();
            assert!(
                err.reason().contains("not granted by address"),
                "{bad}: {err}"
            );
        }
        assert!(p.check_addresses(&o, &[]).is_err());

        let p = policy(&["http://api.test:80", "http://127.0.0.1:80"], None);
        let loopback: IpAddr = "::ffff:127.0.0.1".parse().unwrap();
        assert_eq!(
            p.check_addresses(&o, &[loopback]).unwrap(),
            vec!["127.0.0.1".parse::<IpAddr>().unwrap()]
        );
        // Granting loopback on one port does not grant it on another.
        let other_port = origin("http://api.test:81");
        assert!(p.check_addresses(&other_port, &[loopback]).is_err());
    }
}
