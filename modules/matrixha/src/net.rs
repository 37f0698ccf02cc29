//! IPv4 addresses and subnets, the little the plan checks need.

use std::fmt;
use std::net::Ipv4Addr;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Cidr {
    pub addr: Ipv4Addr,
    pub prefix: u8,
}

impl Cidr {
    /// `10.0.3.0/24`, or a bare address as a /32.
    pub fn parse(s: &str) -> Option<Cidr> {
        let s = s.trim();
        let (a, p) = match s.split_once('/') {
            Some((a, p)) => (a, p.parse::<u8>().ok()?),
            None => (s, 32),
        };
        if p > 32 {
            return None;
        }
        Some(Cidr {
            addr: a.parse().ok()?,
            prefix: p,
        })
    }

    pub fn mask(&self) -> u32 {
        if self.prefix == 0 {
            0
        } else {
            u32::MAX << (32 - self.prefix)
        }
    }

    pub fn network(&self) -> u32 {
        u32::from(self.addr) & self.mask()
    }

    pub fn contains(&self, ip: Ipv4Addr) -> bool {
        u32::from(ip) & self.mask() == self.network()
    }

    pub fn contains_cidr(&self, other: &Cidr) -> bool {
        other.prefix >= self.prefix && self.contains(other.addr)
    }

    pub fn overlaps(&self, other: &Cidr) -> bool {
        self.contains_cidr(other) || other.contains_cidr(self)
    }

    /// The network or broadcast address of a subnet (not usable by a host).
    pub fn is_network_or_broadcast(&self, ip: Ipv4Addr) -> bool {
        if self.prefix >= 31 {
            return false;
        }
        let v = u32::from(ip);
        v == self.network() || v == self.network() | !self.mask()
    }

    /// RFC 1918 / RFC 6598 space, where an intranet's clients live.
    pub fn is_private(&self) -> bool {
        [
            "10.0.0.0/8",
            "172.16.0.0/12",
            "192.168.0.0/16",
            "100.64.0.0/10",
        ]
        .iter()
        .filter_map(|c| Cidr::parse(c))
        .any(|c| c.contains_cidr(self))
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", Ipv4Addr::from(self.network()), self.prefix)
    }
}

pub fn parse_ip(s: &str) -> Option<Ipv4Addr> {
    s.trim().parse().ok()
}

/// Addresses a service listening on `bind` occupies: `0.0.0.0`, `*` and `::` mean all.
pub fn is_wildcard(bind: &str) -> bool {
    matches!(bind.trim(), "0.0.0.0" | "*" | "::" | "" | "[::]")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subnet_contains_its_hosts_only() {
        let c = Cidr::parse("10.0.3.0/24").unwrap();
        assert!(c.contains("10.0.3.10".parse().unwrap()));
        assert!(!c.contains("10.0.4.10".parse().unwrap()));
        assert!(c.is_network_or_broadcast("10.0.3.255".parse().unwrap()));
        assert!(Cidr::parse("10.0.0.0/8").unwrap().overlaps(&c));
        assert!(c.is_private());
        assert!(!Cidr::parse("8.8.8.0/24").unwrap().is_private());
        assert_eq!(
            Cidr::parse("10.0.3.7/24").unwrap().to_string(),
            "10.0.3.0/24"
        );
        assert!(Cidr::parse("10.0.3.0/33").is_none());
    }
}
