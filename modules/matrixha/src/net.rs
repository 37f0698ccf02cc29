//! IPv4 subnets as `ipnet` types, read from the text an IP plan or inventory holds.

use ipnet::Ipv4Net;
use std::net::Ipv4Addr;

/// `10.0.3.0/24`, or a bare address as a /32; host bits are cleared (`10.0.3.7/24` is `10.0.3.0/24`).
pub fn parse_net(s: &str) -> Option<Ipv4Net> {
    let s = s.trim();
    s.parse::<Ipv4Net>()
        .ok()
        .or_else(|| s.parse::<Ipv4Addr>().ok().map(Ipv4Net::from))
        .map(|n| n.trunc())
}

pub fn parse_ip(s: &str) -> Option<Ipv4Addr> {
    s.trim().parse().ok()
}

/// The subnet of `prefix` bits around `ip` (a VIP and its `*_prefix` variable).
pub fn subnet(ip: Ipv4Addr, prefix: u8) -> Ipv4Net {
    Ipv4Net::new(ip, prefix.min(32))
        .map(|n| n.trunc())
        .unwrap_or_else(|_| Ipv4Net::from(ip))
}

/// The network or broadcast address of a subnet, which no host may use (a /31 or /32 has neither).
pub fn is_network_or_broadcast(net: &Ipv4Net, ip: Ipv4Addr) -> bool {
    net.prefix_len() < 31 && (ip == net.network() || ip == net.broadcast())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subnets_parse_with_host_bits_cleared_and_bare_addresses_as_hosts() {
        let c = parse_net("10.0.3.7/24").unwrap();
        assert_eq!(c.to_string(), "10.0.3.0/24");
        assert!(c.contains(&"10.0.3.10".parse::<Ipv4Addr>().unwrap()));
        assert!(!c.contains(&"10.0.4.10".parse::<Ipv4Addr>().unwrap()));
        assert!(is_network_or_broadcast(&c, "10.0.3.255".parse().unwrap()));
        assert!(!is_network_or_broadcast(&c, "10.0.3.1".parse().unwrap()));
        assert_eq!(parse_net("10.0.3.9").unwrap().to_string(), "10.0.3.9/32");
        assert!(parse_net("10.0.3.0/33").is_none());
        assert_eq!(
            subnet("10.0.3.10".parse().unwrap(), 24).to_string(),
            "10.0.3.0/24"
        );
    }
}
