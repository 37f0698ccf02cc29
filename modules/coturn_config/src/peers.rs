//! Which peers TURN may relay to: server subnets denied, client subnets allowed, special ranges denied (DN-14).

use crate::params::ConfigParams;
use matrixha_module::ModuleError;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// An inclusive address range of one family, as coturn's `first-last` takes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Range {
    pub first: IpAddr,
    pub last: IpAddr,
}

impl Range {
    /// `10.0.3.0/24`, `10.0.3.7`, `10.0.3.0-10.0.3.255`, `fc00::/7`.
    pub fn parse(text: &str) -> Result<Range, String> {
        let text = text.trim();
        if let Some((a, b)) = text.split_once('-') {
            let (a, b): (IpAddr, IpAddr) = (
                a.trim()
                    .parse()
                    .map_err(|_| format!("'{text}' is not an address range"))?,
                b.trim()
                    .parse()
                    .map_err(|_| format!("'{text}' is not an address range"))?,
            );
            if a.is_ipv4() != b.is_ipv4() || a > b {
                return Err(format!(
                    "'{text}' is not an ascending range of one address family"
                ));
            }
            return Ok(Range { first: a, last: b });
        }
        let (addr, len) = text.split_once('/').unwrap_or((text, ""));
        let addr: IpAddr = addr
            .parse()
            .map_err(|_| format!("'{text}' is not an address or CIDR"))?;
        let bits = if addr.is_ipv4() { 32 } else { 128 };
        let len: u32 = if len.is_empty() {
            bits
        } else {
            len.parse()
                .map_err(|_| format!("'{text}' has a bad prefix length"))?
        };
        if len > bits {
            return Err(format!("'{text}' has a prefix longer than {bits}"));
        }
        Ok(match addr {
            IpAddr::V4(v4) => {
                let mask = if len == 0 { 0 } else { u32::MAX << (32 - len) };
                let first = u32::from(v4) & mask;
                Range {
                    first: Ipv4Addr::from(first).into(),
                    last: Ipv4Addr::from(first | !mask).into(),
                }
            }
            IpAddr::V6(v6) => {
                let mask = if len == 0 {
                    0
                } else {
                    u128::MAX << (128 - len)
                };
                let first = u128::from(v6) & mask;
                Range {
                    first: Ipv6Addr::from(first).into(),
                    last: Ipv6Addr::from(first | !mask).into(),
                }
            }
        })
    }

    pub fn overlaps(&self, other: &Range) -> bool {
        self.first.is_ipv4() == other.first.is_ipv4()
            && self.first <= other.last
            && other.first <= self.last
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        self.first.is_ipv4() == ip.is_ipv4() && self.first <= ip && ip <= self.last
    }

    /// One address standing for the range: the address itself, else the first host
    /// after the network address (a permission only needs an address, not a live peer).
    pub fn representative(&self) -> IpAddr {
        if self.first == self.last {
            return self.first;
        }
        match self.first {
            IpAddr::V4(v4) => Ipv4Addr::from(u32::from(v4).saturating_add(1)).into(),
            IpAddr::V6(v6) => Ipv6Addr::from(u128::from(v6).saturating_add(1)).into(),
        }
    }

    /// coturn's form: `first-last`.
    pub fn coturn(&self) -> String {
        format!("{}-{}", self.first, self.last)
    }
}

/// IANA special-purpose blocks a relay has no business reaching (RFC 6890 and the
/// registries it created), beyond what coturn already refuses by itself (loopback
/// unless `allow-loopback-peers`, multicast with `no-multicast-peers`). IPv6 blocks
/// that embed IPv4 addresses (mapped, NAT64, 6to4, Teredo) are here because they
/// would otherwise be a way around the IPv4 denials.
pub const SPECIAL_PURPOSE: &[(&str, &str)] = &[
    ("0.0.0.0/8", "this network (RFC 791)"),
    ("127.0.0.0/8", "loopback (RFC 1122)"),
    (
        "169.254.0.0/16",
        "link-local, cloud metadata services (RFC 3927)",
    ),
    ("192.0.0.0/24", "IETF protocol assignments (RFC 6890)"),
    ("192.0.2.0/24", "documentation TEST-NET-1 (RFC 5737)"),
    ("198.18.0.0/15", "benchmarking (RFC 2544)"),
    ("198.51.100.0/24", "documentation TEST-NET-2 (RFC 5737)"),
    ("203.0.113.0/24", "documentation TEST-NET-3 (RFC 5737)"),
    (
        "240.0.0.0/4",
        "reserved and limited broadcast (RFC 1112, RFC 919)",
    ),
    ("::/127", "unspecified and loopback (RFC 4291)"),
    ("::ffff:0:0/96", "IPv4-mapped (RFC 4291)"),
    ("64:ff9b::/96", "IPv4/IPv6 translation (RFC 6052)"),
    (
        "64:ff9b:1::/48",
        "local-use IPv4/IPv6 translation (RFC 8215)",
    ),
    ("100::/64", "discard-only (RFC 6666)"),
    (
        "2001::/23",
        "IETF protocol assignments, Teredo (RFC 2928, RFC 4380)",
    ),
    ("2001:db8::/32", "documentation (RFC 3849)"),
    ("2002::/16", "6to4 (RFC 3056)"),
    ("fe80::/10", "link-local (RFC 4291)"),
];

/// Private ranges, denied only with `deny_private_ranges` (TURN facing the internet, as `003`).
pub const PRIVATE: &[(&str, &str)] = &[
    ("10.0.0.0/8", "private (RFC 1918)"),
    ("172.16.0.0/12", "private (RFC 1918)"),
    ("192.168.0.0/16", "private (RFC 1918)"),
    ("100.64.0.0/10", "shared address space, CGNAT (RFC 6598)"),
    ("fc00::/7", "unique local (RFC 4193)"),
];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub range: Range,
    pub why: String,
}

/// The `denied-peer-ip` and `allowed-peer-ip` lines, with the reason for each.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Restrictions {
    pub denied: Vec<Rule>,
    pub allowed: Vec<Rule>,
    /// Things worth telling the user that do not stop the run.
    pub warnings: Vec<String>,
}

fn parse_list(name: &str, list: &[String]) -> Result<Vec<Range>, ModuleError> {
    list.iter()
        .map(|r| {
            Range::parse(r).map_err(|e| {
                ModuleError::param(
                    name,
                    e,
                    "write ranges as 10.0.3.0/24 or 10.0.3.0-10.0.3.255",
                )
            })
        })
        .collect()
}

fn fixed(list: &[(&str, &str)]) -> Vec<Rule> {
    list.iter()
        .filter_map(|(r, why)| {
            Range::parse(r).ok().map(|range| Rule {
                range,
                why: (*why).to_owned(),
            })
        })
        .collect()
}

impl Restrictions {
    /// coturn lets an allowed range win over a denied one ("If an ip address is specified
    /// as both allowed and denied, then the ip address is considered to be allowed",
    /// examples/etc/turnserver.conf), so a client subnet that overlaps a server subnet or
    /// a special-purpose block would silently re-open it: that is an error here.
    pub fn from_params(p: &ConfigParams) -> Result<Restrictions, ModuleError> {
        let servers = parse_list("server_subnets", &p.server_subnets)?;
        let clients = parse_list("client_subnets", &p.client_subnets)?;
        let extra_denied = parse_list("denied_peer_ips", &p.denied_peer_ips)?;
        let extra_allowed = parse_list("allowed_peer_ips", &p.allowed_peer_ips)?;
        let special = fixed(SPECIAL_PURPOSE);

        for (name, list) in [
            ("client_subnets", &clients),
            ("allowed_peer_ips", &extra_allowed),
        ] {
            for c in list.iter() {
                if let Some(s) = servers.iter().find(|s| s.overlaps(c)) {
                    return Err(ModuleError::param(
                        name,
                        format!("{} overlaps the server subnet {}; coturn lets allowed win, so servers would be reachable through TURN", c.coturn(), s.coturn()),
                        "list client and server subnets that do not overlap (DN-14)",
                    ));
                }
                if let Some(s) = special.iter().find(|s| s.range.overlaps(c)) {
                    return Err(ModuleError::param(
                        name,
                        format!("{} overlaps {} ({})", c.coturn(), s.range.coturn(), s.why),
                        "clients never live there; remove the range",
                    ));
                }
            }
        }

        let mut denied = special;
        if p.deny_private_ranges {
            denied.extend(fixed(PRIVATE));
        }
        denied.extend(servers.into_iter().map(|range| Rule {
            range,
            why: "server subnet".into(),
        }));
        denied.extend(extra_denied.into_iter().map(|range| Rule {
            range,
            why: "denied_peer_ips".into(),
        }));
        let mut allowed: Vec<Rule> = clients
            .into_iter()
            .map(|range| Rule {
                range,
                why: "client subnet".into(),
            })
            .collect();
        allowed.extend(extra_allowed.into_iter().map(|range| Rule {
            range,
            why: "allowed_peer_ips".into(),
        }));

        let mut warnings = Vec::new();
        for ip in p.listening_ips.iter().chain(&p.relay_ips) {
            if allowed.iter().any(|a| a.range.contains(*ip)) {
                warnings.push(format!("{ip} (this TURN node) lies in an allowed range: clients can relay to the node itself; list its subnet in server_subnets"));
            }
        }
        if p.server_subnets.is_empty() && !p.deny_private_ranges {
            warnings.push("server_subnets is empty: TURN can relay to every internal server (DN-14); list the DB, storage, management and service subnets".into());
        }
        Ok(Restrictions {
            denied,
            allowed,
            warnings,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::params::tests::config;

    #[test]
    fn cidr_becomes_coturn_range() {
        let r = |t| Range::parse(t).map(|r| r.coturn());
        assert_eq!(r("10.0.3.0/24").unwrap(), "10.0.3.0-10.0.3.255");
        assert_eq!(r("10.0.0.0/8").unwrap(), "10.0.0.0-10.255.255.255");
        assert_eq!(r("10.0.3.7").unwrap(), "10.0.3.7-10.0.3.7");
        assert_eq!(
            r("fc00::/7").unwrap(),
            "fc00::-fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"
        );
        assert!(r("10.0.3.9-10.0.3.1").is_err());
        assert!(r("10.0.3.0/33").is_err());
    }

    #[test]
    fn a_subnet_is_represented_by_its_first_host() {
        assert_eq!(
            Range::parse("10.20.0.0/16")
                .unwrap()
                .representative()
                .to_string(),
            "10.20.0.1"
        );
        assert_eq!(
            Range::parse("10.0.3.10")
                .unwrap()
                .representative()
                .to_string(),
            "10.0.3.10"
        );
    }

    #[test]
    fn every_fixed_range_parses() {
        assert_eq!(fixed(SPECIAL_PURPOSE).len(), SPECIAL_PURPOSE.len());
        assert_eq!(fixed(PRIVATE).len(), PRIVATE.len());
    }

    #[test]
    fn servers_denied_clients_allowed_specials_denied() {
        let p = config(
            r#","server_subnets":["10.0.3.0/24","10.0.4.0/24"],"client_subnets":["10.20.0.0/16"]"#,
        );
        let r = Restrictions::from_params(&p).unwrap();
        let denied: Vec<_> = r.denied.iter().map(|d| d.range.coturn()).collect();
        assert!(denied.contains(&"10.0.3.0-10.0.3.255".to_string()));
        assert!(denied.contains(&"169.254.0.0-169.254.255.255".to_string()));
        assert!(
            !denied.contains(&"10.0.0.0-10.255.255.255".to_string()),
            "private ranges only on request"
        );
        assert_eq!(r.allowed[0].range.coturn(), "10.20.0.0-10.20.255.255");
        assert!(r.warnings.is_empty(), "{:?}", r.warnings);
    }

    #[test]
    fn client_overlapping_loopback_is_refused() {
        let p = config(r#","client_subnets":["127.0.0.0/16"]"#);
        let e = Restrictions::from_params(&p).unwrap_err();
        assert_eq!(e.param.as_deref(), Some("client_subnets"));
        assert!(e.problem.contains("loopback"), "{e}");
    }

    #[test]
    fn node_inside_client_subnet_is_a_warning() {
        let p = config(r#","server_subnets":["10.0.3.0/24"],"client_subnets":["10.0.5.0/24"]"#);
        let r = Restrictions::from_params(&p).unwrap();
        assert!(r.warnings[0].contains("10.0.5.11"), "{:?}", r.warnings);
    }
}
