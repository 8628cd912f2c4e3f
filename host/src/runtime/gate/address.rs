//! Addresses a component must not reach unless an operator granted them by
//! address: loopback, private, link-local, cloud metadata and the like.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Cloud instance metadata services, which hand out credentials to anyone
/// on the instance who asks: AWS, GCP, Azure and Tencent Cloud use
/// 169.254.169.254, Alibaba Cloud 100.100.100.200, AWS over IPv6
/// fd00:ec2::254, and Azure's WireServer 168.63.129.16 (a public address).
const METADATA: [IpAddr; 4] = [
    IpAddr::V4(Ipv4Addr::new(169, 254, 169, 254)),
    IpAddr::V4(Ipv4Addr::new(100, 100, 100, 200)),
    IpAddr::V6(Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254)),
    IpAddr::V4(Ipv4Addr::new(168, 63, 129, 16)),
];

/// The address a socket really reaches: IPv4-mapped (`::ffff:a.b.c.d`),
/// IPv4-translated (`::ffff:0:a.b.c.d`, RFC 2765) and NAT64 (`64:ff9b::/96`,
/// RFC 6052, and the local-use `64:ff9b:1::/48`, RFC 8215) IPv6 addresses
/// are judged as their IPv4 part.
pub fn effective(ip: IpAddr) -> IpAddr {
    let IpAddr::V6(v6) = ip else {
        return ip;
    };
    if let Some(v4) = v6.to_ipv4_mapped() {
        return IpAddr::V4(v4);
    }
    let s = v6.segments();
    let embeds_v4 = s[..6] == [0, 0, 0, 0, 0xffff, 0]
        || s[..6] == [0x64, 0xff9b, 0, 0, 0, 0]
        || s[..3] == [0x64, 0xff9b, 1];
    if embeds_v4 {
        let [a, b] = s[6].to_be_bytes();
        let [c, d] = s[7].to_be_bytes();
        return IpAddr::V4(Ipv4Addr::new(a, b, c, d));
    }
    ip
}

/// Why `ip` is not a public unicast address, or `None` when it is.
pub fn special_reason(ip: IpAddr) -> Option<&'static str> {
    let ip = effective(ip);
    if METADATA.contains(&ip) {
        return Some("a cloud metadata address");
    }
    match ip {
        IpAddr::V4(v4) => v4_reason(v4),
        IpAddr::V6(v6) => v6_reason(v6),
    }
}

fn v4_reason(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, ..] = ip.octets();
    if ip.is_unspecified() || a == 0 {
        Some("an unspecified (`0.0.0.0/8`) address")
    } else if ip.is_loopback() {
        Some("a loopback address")
    } else if ip.is_private() {
        Some("a private (RFC 1918) address")
    } else if ip.is_link_local() {
        Some("a link-local address")
    } else if a == 100 && (64..128).contains(&b) {
        Some("a carrier-grade NAT (`100.64.0.0/10`) address")
    } else if ip.is_multicast() || ip.is_broadcast() || a >= 240 {
        Some("a multicast, broadcast or reserved address")
    } else if a == 192 && b == 0 && ip.octets()[2] == 0 {
        Some("an IETF protocol (`192.0.0.0/24`) address")
    } else if a == 198 && (b == 18 || b == 19) {
        Some("a benchmarking (`198.18.0.0/15`) address")
    } else {
        None
    }
}

fn v6_reason(ip: Ipv6Addr) -> Option<&'static str> {
    let first = ip.segments()[0];
    if ip.is_unspecified() {
        Some("the unspecified address `::`")
    } else if ip.is_loopback() {
        Some("a loopback address")
    } else if first & 0xfe00 == 0xfc00 {
        Some("a unique local (`fc00::/7`) address")
    } else if first & 0xffc0 == 0xfe80 {
        Some("a link-local address")
    } else if first & 0xffc0 == 0xfec0 {
        Some("a site-local (`fec0::/10`) address")
    } else if ip.is_multicast() {
        Some("a multicast address")
    } else if ip.segments()[..6] == [0; 6] {
        Some("an IPv4-compatible (`::/96`) address")
    } else if first == 0x2002 {
        Some("a 6to4 (`2002::/16`) address, which embeds an IPv4 address")
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_every_non_public_destination() {
        let refused = [
            "127.0.0.1",
            "127.255.255.254",
            "0.0.0.0",
            "0.1.2.3",
            "10.0.0.1",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "169.254.1.1",
            "100.64.0.1",
            "100.100.100.200",
            "224.0.0.1",
            "255.255.255.255",
            "240.0.0.1",
            "192.0.0.8",
            "198.18.0.1",
            "::",
            "::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "64:ff9b::a9fe:a9fe",
            "::127.0.0.1",
            "fc00::1",
            "fd00:ec2::254",
            "fe80::1",
            "ff02::1",
            "2002:7f00:1::",
            // Found by review: other IPv6 forms embedding IPv4, site-local,
            // and Azure's WireServer.
            "64:ff9b:1::a9fe:a9fe",
            "::ffff:0:a9fe:a9fe",
            "fec0::1",
            "168.63.129.16",
        ];
        for text in refused {
            let ip: IpAddr = text.parse().unwrap();
            assert!(special_reason(ip).is_some(), "{text} was allowed");
        }
    }

    #[test]
    fn allows_public_unicast() {
        for text in [
            "8.8.8.8",
            "47.96.1.2",
            "100.63.255.255",
            "100.128.0.0",
            "172.32.0.1",
            "198.51.100.7",
            "2001:4860:4860::8888",
            "2400:3200::1",
        ] {
            let ip: IpAddr = text.parse().unwrap();
            assert_eq!(special_reason(ip), None, "{text}");
        }
    }

    #[test]
    fn metadata_is_named_as_such() {
        for text in [
            "169.254.169.254",
            "100.100.100.200",
            "fd00:ec2::254",
            "::ffff:a9fe:a9fe",
        ] {
            let ip: IpAddr = text.parse().unwrap();
            assert_eq!(
                special_reason(ip),
                Some("a cloud metadata address"),
                "{text}"
            );
        }
    }

    #[test]
    fn mapped_and_nat64_addresses_are_judged_as_ipv4() {
        let mapped: IpAddr = "::ffff:10.1.2.3".parse().unwrap();
        assert_eq!(effective(mapped), "10.1.2.3".parse::<IpAddr>().unwrap());
        let nat64: IpAddr = "64:ff9b::808:808".parse().unwrap();
        assert_eq!(effective(nat64), "8.8.8.8".parse::<IpAddr>().unwrap());
    }
}
