//! Which peers TURN may relay to: server subnets denied, client subnets allowed, special ranges denied (DN-14).
//!
//! Pure functions over `ipnet` networks; `matrixha check` calls [`plan`] with the
//! inventory's subnets, the module with its parameters.

use ipnet::{IpNet, IpSubnets, Ipv4Subnets, Ipv6Subnets};
use matrixha_module::ModuleError;
use std::net::IpAddr;

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

/// One `denied-peer-ip` or `allowed-peer-ip` line and why it is there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub net: IpNet,
    pub why: String,
}

impl Rule {
    /// coturn's form, `first-last`: coturn 4.6 reads no CIDR here (add_ip_list_range).
    pub fn coturn(&self) -> String {
        coturn_range(&self.net)
    }
}

/// `10.0.3.0/24` as coturn writes it: `10.0.3.0-10.0.3.255`.
pub fn coturn_range(net: &IpNet) -> String {
    format!("{}-{}", net.network(), net.broadcast())
}

/// What the peer rules are made from: the subnets of the plan, parsed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PeerRequest {
    /// Servers TURN must never relay to (DB, storage, management, service).
    pub server_subnets: Vec<IpNet>,
    /// Where clients live; relaying to them stays allowed.
    pub client_subnets: Vec<IpNet>,
    /// Extra denials (`denied_peer_ips`).
    pub denied_peer_ips: Vec<IpNet>,
    /// Extra allowances (`allowed_peer_ips`), same overlap rules as client subnets.
    pub allowed_peer_ips: Vec<IpNet>,
    /// Also deny every private range (TURN facing the internet).
    pub deny_private_ranges: bool,
    /// The TURN node's own listening and relay addresses, for the warnings.
    pub node_ips: Vec<IpAddr>,
}

/// The `denied-peer-ip` and `allowed-peer-ip` lines, with the reason for each.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerPlan {
    pub denied: Vec<Rule>,
    pub allowed: Vec<Rule>,
    /// Things worth telling the user that do not stop the run.
    pub warnings: Vec<String>,
}

impl PeerPlan {
    /// Whether coturn with these lines relays to `ip`: an allowed range wins, then a
    /// denied one refuses, anything else is relayed (coturn's good_peer_addr). Loopback
    /// and multicast are refused too, by SPECIAL_PURPOSE and `no-multicast-peers`.
    pub fn relays_to(&self, ip: IpAddr) -> bool {
        if ip.is_multicast() {
            return false;
        }
        if self.allowed.iter().any(|r| r.net.contains(&ip)) {
            return true;
        }
        !self.denied.iter().any(|r| r.net.contains(&ip))
    }
}

/// CIDR blocks are nested or disjoint, so two overlap exactly when one holds the other's first address.
pub fn overlaps(a: &IpNet, b: &IpNet) -> bool {
    a.contains(&b.network()) || b.contains(&a.network())
}

/// An address (`10.0.3.7`), a subnet (`10.0.3.0/24`) or a range (`10.0.3.0-10.0.3.255`)
/// as the CIDR blocks that cover exactly it. `None` when it is none of these.
pub fn parse_range(text: &str) -> Option<Vec<IpNet>> {
    let text = text.trim();
    if let Some((a, b)) = text.split_once('-') {
        let (a, b): (IpAddr, IpAddr) = (a.trim().parse().ok()?, b.trim().parse().ok()?);
        let nets: IpSubnets = match (a, b) {
            (IpAddr::V4(a), IpAddr::V4(b)) if a <= b => Ipv4Subnets::new(a, b, 0).into(),
            (IpAddr::V6(a), IpAddr::V6(b)) if a <= b => Ipv6Subnets::new(a, b, 0).into(),
            _ => return None,
        };
        return Some(nets.collect());
    }
    if let Ok(ip) = text.parse::<IpAddr>() {
        return Some(vec![IpNet::from(ip)]);
    }
    text.parse::<IpNet>().ok().map(|n| vec![n.trunc()])
}

/// [`parse_range`] over a parameter's list; the error names the parameter and the
/// item's position, never its text.
pub fn parse_ranges(param: &str, list: &[String]) -> Result<Vec<IpNet>, ModuleError> {
    let mut out = Vec::new();
    for (i, text) in list.iter().enumerate() {
        out.extend(parse_range(text).ok_or_else(|| {
            ModuleError::param(
                param,
                format!(
                    "item {} ({} characters) is not an address, a subnet or an ascending range of one address family",
                    i + 1,
                    text.chars().count()
                ),
                "write 10.0.3.7, 10.0.3.0/24 or 10.0.3.0-10.0.3.255",
            )
        })?);
    }
    Ok(out)
}

/// One address standing for the network: the address itself, else the first host
/// after the network address (a permission only needs an address, not a live peer).
pub fn representative(net: &IpNet) -> IpAddr {
    if net.prefix_len() == net.max_prefix_len() {
        return net.addr();
    }
    // hosts() skips the IPv4 network address but not the IPv6 one.
    let skip = usize::from(net.addr().is_ipv6());
    net.hosts().nth(skip).unwrap_or_else(|| net.network())
}

fn fixed(list: &[(&str, &str)]) -> Vec<Rule> {
    list.iter()
        .filter_map(|(r, why)| {
            r.parse::<IpNet>().ok().map(|net| Rule {
                net,
                why: (*why).to_owned(),
            })
        })
        .collect()
}

fn rules(nets: &[IpNet], why: &str) -> Vec<Rule> {
    nets.iter()
        .map(|&net| Rule {
            net,
            why: why.to_owned(),
        })
        .collect()
}

/// The TURN peer rule (DN-14). coturn lets an allowed range win over a denied one
/// ("If an ip address is specified as both allowed and denied, then the ip address is
/// considered to be allowed", examples/etc/turnserver.conf), so a client subnet that
/// overlaps a server subnet or a special-purpose block would silently re-open it: that
/// is an error. A client subnet inside a private range with `deny_private_ranges` is
/// fine for the same reason: it stays allowed while the rest of the private space is denied.
pub fn plan(req: &PeerRequest) -> Result<PeerPlan, ModuleError> {
    let special = fixed(SPECIAL_PURPOSE);
    for (name, list) in [
        ("client_subnets", &req.client_subnets),
        ("allowed_peer_ips", &req.allowed_peer_ips),
    ] {
        for c in list {
            if let Some(s) = req.server_subnets.iter().find(|s| overlaps(s, c)) {
                return Err(ModuleError::param(
                    name,
                    format!("{c} overlaps the server subnet {s}; coturn lets allowed win, so servers would be reachable through TURN"),
                    "list client and server subnets that do not overlap (DN-14)",
                ));
            }
            if let Some(s) = special.iter().find(|s| overlaps(&s.net, c)) {
                return Err(ModuleError::param(
                    name,
                    format!("{c} overlaps {} ({})", s.net, s.why),
                    "clients never live there; remove the range",
                ));
            }
        }
    }

    let mut denied = special;
    if req.deny_private_ranges {
        denied.extend(fixed(PRIVATE));
    }
    denied.extend(rules(&req.server_subnets, "server subnet"));
    denied.extend(rules(&req.denied_peer_ips, "denied_peer_ips"));
    let mut allowed = rules(&req.client_subnets, "client subnet");
    allowed.extend(rules(&req.allowed_peer_ips, "allowed_peer_ips"));

    let mut warnings = Vec::new();
    for ip in &req.node_ips {
        if allowed.iter().any(|a| a.net.contains(ip)) {
            warnings.push(format!("{ip} (this TURN node) lies in an allowed range: clients can relay to the node itself; list its subnet in server_subnets"));
        }
    }
    if req.server_subnets.is_empty() && !req.deny_private_ranges {
        warnings.push("server_subnets is empty: TURN can relay to every internal server (DN-14); list the DB, storage, management and service subnets".into());
    }
    Ok(PeerPlan {
        denied,
        allowed,
        warnings,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nets(list: &[&str]) -> Vec<IpNet> {
        list.iter().flat_map(|t| parse_range(t).unwrap()).collect()
    }

    fn coturn(text: &str) -> Vec<String> {
        parse_range(text)
            .unwrap()
            .iter()
            .map(coturn_range)
            .collect()
    }

    #[test]
    fn cidr_address_and_range_become_coturn_ranges() {
        assert_eq!(coturn("10.0.3.0/24"), ["10.0.3.0-10.0.3.255"]);
        assert_eq!(coturn("10.0.3.7/24"), ["10.0.3.0-10.0.3.255"]);
        assert_eq!(coturn("10.0.0.0/8"), ["10.0.0.0-10.255.255.255"]);
        assert_eq!(coturn("10.0.3.7"), ["10.0.3.7-10.0.3.7"]);
        assert_eq!(coturn("10.0.3.0-10.0.3.255"), ["10.0.3.0-10.0.3.255"]);
        assert_eq!(
            coturn("10.0.3.5-10.0.3.9"),
            [
                "10.0.3.5-10.0.3.5",
                "10.0.3.6-10.0.3.7",
                "10.0.3.8-10.0.3.9"
            ]
        );
        assert_eq!(
            coturn("fc00::/7"),
            ["fc00::-fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"]
        );
        for bad in [
            "10.0.3.9-10.0.3.1",
            "10.0.3.0/33",
            "10.0.3.1-::1",
            "turn",
            "",
        ] {
            assert!(parse_range(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn a_bad_item_is_named_by_position_not_by_text() {
        let e = parse_ranges(
            "server_subnets",
            &["10.0.3.0/24".into(), "s3cret-in-wrong-place".into()],
        )
        .unwrap_err();
        assert_eq!(e.param.as_deref(), Some("server_subnets"));
        assert!(e.problem.contains("item 2"), "{e}");
        assert!(!e.to_string().contains("s3cret"), "{e}");
    }

    #[test]
    fn a_subnet_is_represented_by_its_first_host() {
        let r = |t: &str| representative(&parse_range(t).unwrap()[0]).to_string();
        assert_eq!(r("10.20.0.0/16"), "10.20.0.1");
        assert_eq!(r("10.0.3.10"), "10.0.3.10");
        assert_eq!(r("169.254.169.254/32"), "169.254.169.254");
        assert_eq!(r("fd00::/64"), "fd00::1");
    }

    #[test]
    fn every_fixed_range_parses() {
        assert_eq!(fixed(SPECIAL_PURPOSE).len(), SPECIAL_PURPOSE.len());
        assert_eq!(fixed(PRIVATE).len(), PRIVATE.len());
    }

    #[test]
    fn servers_denied_clients_allowed_specials_denied() {
        let p = plan(&PeerRequest {
            server_subnets: nets(&["10.0.3.0/24", "10.0.4.0/24"]),
            client_subnets: nets(&["10.20.0.0/16"]),
            node_ips: vec!["10.0.5.11".parse().unwrap()],
            ..PeerRequest::default()
        })
        .unwrap();
        let denied: Vec<_> = p.denied.iter().map(Rule::coturn).collect();
        assert!(denied.contains(&"10.0.3.0-10.0.3.255".to_string()));
        assert!(denied.contains(&"169.254.0.0-169.254.255.255".to_string()));
        assert!(
            !denied.contains(&"10.0.0.0-10.255.255.255".to_string()),
            "private ranges only on request"
        );
        assert_eq!(p.allowed[0].coturn(), "10.20.0.0-10.20.255.255");
        assert!(p.warnings.is_empty(), "{:?}", p.warnings);
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert!(!p.relays_to(ip("10.0.3.10")));
        assert!(!p.relays_to(ip("169.254.169.254")));
        assert!(!p.relays_to(ip("127.0.0.1")));
        assert!(!p.relays_to(ip("224.0.0.1")));
        assert!(p.relays_to(ip("10.20.3.4")));
        assert!(p.relays_to(ip("10.0.9.9")), "not listed: relayed");
    }

    #[test]
    fn overlap_with_a_server_subnet_is_refused_in_both_directions() {
        for (servers, clients) in [
            (["10.0.3.0/24"], ["10.0.0.0/16"]),
            (["10.0.0.0/16"], ["10.0.3.0/24"]),
            (["10.0.3.0/24"], ["10.0.3.128-10.0.4.10"]),
        ] {
            let e = plan(&PeerRequest {
                server_subnets: nets(&servers),
                client_subnets: nets(&clients),
                ..PeerRequest::default()
            })
            .unwrap_err();
            assert_eq!(e.param.as_deref(), Some("client_subnets"), "{e}");
        }
        let e = plan(&PeerRequest {
            server_subnets: nets(&["10.0.3.0/24"]),
            allowed_peer_ips: nets(&["10.0.3.7"]),
            ..PeerRequest::default()
        })
        .unwrap_err();
        assert_eq!(e.param.as_deref(), Some("allowed_peer_ips"));
        assert!(!overlaps(
            &nets(&["10.0.3.0/24"])[0],
            &nets(&["10.0.4.0/24"])[0]
        ));
        assert!(!overlaps(
            &nets(&["10.0.3.0/24"])[0],
            &nets(&["fd00::/8"])[0]
        ));
    }

    #[test]
    fn client_overlapping_loopback_is_refused() {
        let e = plan(&PeerRequest {
            client_subnets: nets(&["127.0.0.0/16"]),
            ..PeerRequest::default()
        })
        .unwrap_err();
        assert_eq!(e.param.as_deref(), Some("client_subnets"));
        assert!(e.problem.contains("loopback"), "{e}");
    }

    #[test]
    fn private_clients_stay_reachable_when_private_ranges_are_denied() {
        let p = plan(&PeerRequest {
            server_subnets: nets(&["10.0.3.0/24"]),
            client_subnets: nets(&["10.20.0.0/16"]),
            deny_private_ranges: true,
            ..PeerRequest::default()
        })
        .unwrap();
        assert!(p.relays_to("10.20.0.9".parse().unwrap()));
        assert!(!p.relays_to("10.30.0.9".parse().unwrap()));
        assert!(!p.relays_to("192.168.1.1".parse().unwrap()));
    }

    #[test]
    fn node_inside_client_subnet_and_no_server_subnets_are_warnings() {
        let p = plan(&PeerRequest {
            server_subnets: nets(&["10.0.3.0/24"]),
            client_subnets: nets(&["10.0.5.0/24"]),
            node_ips: vec!["10.0.5.11".parse().unwrap()],
            ..PeerRequest::default()
        })
        .unwrap();
        assert!(p.warnings[0].contains("10.0.5.11"), "{:?}", p.warnings);
        let p = plan(&PeerRequest::default()).unwrap();
        assert!(p.warnings[0].contains("server_subnets is empty"));
    }
}
