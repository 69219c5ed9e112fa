//! The SSRF guard: a miner fetches URLs strangers send it, so it must never be made to connect
//! to loopback, private, link-local, multicast or unspecified addresses.
//!
//! The check is on the addresses actually connected to: DNS answers are filtered by the
//! resolver the HTTP client uses (so a public name that resolves to 127.0.0.1 is refused), and
//! literal IP hosts are checked on the first URL and on every redirect.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

/// True for addresses a public-facing fetcher must not reach.
pub fn is_forbidden(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => forbidden_v4(v4),
        IpAddr::V6(v6) => forbidden_v6(v6),
    }
}

fn forbidden_v4(ip: Ipv4Addr) -> bool {
    let o = ip.octets();
    ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_multicast()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || o[0] == 0 // "this network"
        || (o[0] == 100 && (64..128).contains(&o[1])) // carrier-grade NAT
        || (o[0] == 192 && o[1] == 0 && o[2] == 0) // IETF protocol assignments
        || (o[0] == 198 && (18..20).contains(&o[1])) // benchmarking
        || o[0] >= 240 // reserved
}

fn forbidden_v6(ip: Ipv6Addr) -> bool {
    let s = ip.segments();
    if let Some(v4) = ip.to_ipv4_mapped() {
        return forbidden_v4(v4);
    }
    // IPv4-compatible (::a.b.c.d), NAT64 (64:ff9b::/96) and 6to4 (2002::/16) embed an IPv4
    // address that may be what is really reached.
    let embedded = |hi: u16, lo: u16| Ipv4Addr::new((hi >> 8) as u8, hi as u8, (lo >> 8) as u8, lo as u8);
    if s[..6] == [0, 0, 0, 0, 0, 0] && !ip.is_loopback() && !ip.is_unspecified() {
        return forbidden_v4(embedded(s[6], s[7]));
    }
    if s[0] == 0x64 && s[1] == 0xff9b && s[2..6] == [0, 0, 0, 0] {
        return forbidden_v4(embedded(s[6], s[7]));
    }
    if s[0] == 0x2002 {
        return forbidden_v4(embedded(s[1], s[2]));
    }
    ip.is_loopback()
        || ip.is_unspecified()
        || ip.is_multicast()
        || (s[0] & 0xffc0) == 0xfe80 // link-local
        || (s[0] & 0xfe00) == 0xfc00 // unique local
        || (s[0] & 0xffc0) == 0xfec0 // site-local (deprecated)
}

/// The host of a URL as an IP address, if it is a literal one.
pub fn literal_ip(url: &url::Url) -> Option<IpAddr> {
    match url.host()? {
        url::Host::Ipv4(v4) => Some(IpAddr::V4(v4)),
        url::Host::Ipv6(v6) => Some(IpAddr::V6(v6)),
        url::Host::Domain(_) => None,
    }
}

/// The resolver's refusal: every address a name resolves to is forbidden. A type of its own so
/// the fetcher recognises it through the HTTP client's error chain without reading messages.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{host} resolves only to private or local addresses, which are not fetched")]
pub struct ForbiddenAddress {
    pub host: String,
}

/// A DNS resolver for reqwest that drops forbidden addresses, failing when none is left.
#[derive(Debug, Clone, Default)]
pub struct PublicOnlyResolver;

impl reqwest::dns::Resolve for PublicOnlyResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        Box::pin(async move {
            let host = name.as_str().to_string();
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let allowed: Vec<SocketAddr> = addrs.iter().copied().filter(|a| !is_forbidden(a.ip())).collect();
            if allowed.is_empty() {
                let err: Box<dyn std::error::Error + Send + Sync> = if addrs.is_empty() {
                    format!("{host} did not resolve").into()
                } else {
                    Box::new(ForbiddenAddress { host })
                };
                return Err(err);
            }
            let iter: reqwest::dns::Addrs = Box::new(allowed.into_iter());
            Ok(iter)
        })
    }
}

pub fn resolver() -> Arc<PublicOnlyResolver> {
    Arc::new(PublicOnlyResolver)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_addresses() {
        for bad in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "224.0.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "100.64.0.1",
            "::1",
            "::",
            "fe80::1",
            "fc00::1",
            "fd12:3456::1",
            "ff02::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "::ffff:169.254.169.254",
            "64:ff9b::a00:1",
            "2002:7f00:1::",
            "::127.0.0.1",
        ] {
            assert!(is_forbidden(bad.parse().unwrap()), "{bad} must be forbidden");
        }
        for good in
            ["8.8.8.8", "1.1.1.1", "93.184.216.34", "2606:4700:4700::1111", "::ffff:8.8.8.8", "2002:0808:0808::"]
        {
            assert!(!is_forbidden(good.parse().unwrap()), "{good} must be allowed");
        }
    }

    #[test]
    fn literal_hosts() {
        let u = url::Url::parse("http://[::ffff:127.0.0.1]:8080/x").unwrap();
        assert!(literal_ip(&u).is_some_and(is_forbidden));
        let u = url::Url::parse("http://localhost/x").unwrap();
        assert_eq!(literal_ip(&u), None);
        // Decimal and hex IPv4 forms are normalised by the URL parser, so they are caught too.
        let u = url::Url::parse("http://2130706433/x").unwrap();
        assert!(literal_ip(&u).is_some_and(is_forbidden));
        let u = url::Url::parse("http://0x7f.1/x").unwrap();
        assert!(literal_ip(&u).is_some_and(is_forbidden));
    }
}
