//! The operator's IP plan: subnets, VIPs and the address of every server (seed 001 §5).

use crate::error::{read_file, CliError, Result};
use crate::net::{parse_ip, parse_net};
use crate::scale::{self, Scale, Service};
use ipnet::Ipv4Net;
use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;
use std::path::Path;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IpPlan {
    /// Matrix server name; `--domain` overrides it.
    #[serde(default)]
    pub domain: Option<String>,
    /// Suffix of the servers' internal names (`patroni1.internal`, seed 001 §5).
    #[serde(default = "d_suffix")]
    pub internal_suffix: String,
    /// Segment name → subnet (management, lb, app, db, storage, webrtc, service).
    pub subnets: BTreeMap<String, String>,
    /// Where the users' devices are: TURN may relay to them, never to the servers (DN-14).
    #[serde(default)]
    pub client_subnets: Vec<String>,
    /// Where administrators work: Ketesa and /_synapse/admin are allowed from here only.
    #[serde(default)]
    pub admin_subnets: Vec<String>,
    pub vips: Vips,
    /// Service → its servers, in order; a scale takes the first N.
    pub servers: BTreeMap<Service, Vec<Server>>,
    /// Node counts that replace the scale profile's (DN-17: the tables are data).
    #[serde(default)]
    pub counts: BTreeMap<Service, u32>,
    /// RAM per node in GB replacing the profile's, per service.
    #[serde(default)]
    pub ram_gb: BTreeMap<Service, u32>,
}

fn d_suffix() -> String {
    "internal".into()
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Vips {
    /// HAProxy front VIP: HTTPS for clients and federation.
    pub front: String,
    /// Writer VIP on the DB network (PostgreSQL :5432, PgBouncer :6432).
    pub db: String,
    /// S3 VIP on the storage network.
    pub s3: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Server {
    pub name: String,
    pub address: String,
    /// This server's RAM in GB when it differs from the profile.
    #[serde(default)]
    pub ram_gb: Option<u32>,
}

/// A server chosen for the inventory, with its parsed address.
#[derive(Debug, Clone)]
pub struct Node {
    pub name: String,
    pub address: Ipv4Addr,
    pub ram_gb: u32,
}

/// The plan cut to one scale: what `init` writes.
#[derive(Debug, Clone)]
pub struct Layout {
    pub scale: Scale,
    pub domain: String,
    pub internal_suffix: String,
    pub subnets: BTreeMap<String, Ipv4Net>,
    pub client_subnets: Vec<Ipv4Net>,
    pub admin_subnets: Vec<Ipv4Net>,
    pub front_vip: Ipv4Addr,
    pub db_vip: Ipv4Addr,
    pub s3_vip: Ipv4Addr,
    pub nodes: BTreeMap<Service, Vec<Node>>,
}

impl Layout {
    pub fn nodes(&self, s: Service) -> &[Node] {
        self.nodes.get(&s).map(Vec::as_slice).unwrap_or(&[])
    }

    /// The segment subnet holding `ip`, if any.
    pub fn subnet_of(&self, ip: Ipv4Addr) -> Option<(&str, Ipv4Net)> {
        self.subnets
            .iter()
            .filter(|(_, c)| c.contains(&ip))
            .max_by_key(|(_, c)| c.prefix_len())
            .map(|(n, c)| (n.as_str(), *c))
    }
}

pub fn load(path: &Path) -> Result<IpPlan> {
    let text = read_file(path)?;
    let bad = |e: String| {
        CliError::new(
            format!("{}: not a valid IP plan: {e}", path.display()),
            "compare it with inventories/examples/seed-ip-plan.yml",
        )
    };
    // Syntax first, then types through the modules' deserializer, whose messages
    // describe a wrong value ("a string of 9 characters") instead of quoting it.
    let doc: serde_yaml::Value =
        serde_yaml::from_str(&text).map_err(|e| bad(crate::typed::yaml_error(&e)))?;
    let json = crate::typed::to_json(&doc).map_err(bad)?;
    matrixha_module::from_value(json).map_err(|e| bad(e.to_string()))
}

fn valid_domain(d: &str) -> bool {
    d.contains('.')
        && !d.starts_with('.')
        && !d.ends_with('.')
        && d.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                && !l.starts_with('-')
        })
}

fn valid_host_name(n: &str) -> bool {
    !n.is_empty()
        && n.len() <= 63
        && !n.starts_with('-')
        && n.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
}

fn cidr(field: &str, s: &str) -> Result<Ipv4Net> {
    parse_net(s).ok_or_else(|| {
        CliError::new(
            format!("{field}: '{s}' is not an IPv4 subnet"),
            "write it as 10.0.3.0/24",
        )
    })
}

fn ip(field: &str, s: &str) -> Result<Ipv4Addr> {
    parse_ip(s).ok_or_else(|| {
        CliError::new(
            format!("{field}: '{s}' is not an IPv4 address"),
            "write it as 10.0.3.10",
        )
    })
}

/// Cuts `plan` to `scale`; refuses a plan without enough servers or with bad addresses.
pub fn layout(plan: &IpPlan, scale: Scale, domain: Option<&str>) -> Result<Layout> {
    let domain = domain
        .map(str::to_owned)
        .or_else(|| plan.domain.clone())
        .ok_or_else(|| {
            CliError::new(
                "no domain given",
                "pass --domain chat.example.com or set domain: in the IP plan",
            )
        })?;
    if !valid_domain(&domain) {
        return Err(CliError::new(
            format!("domain '{domain}' is not a DNS name"),
            "give the Matrix server name, e.g. chat.z3r0d3v.com",
        ));
    }
    let mut subnets = BTreeMap::new();
    for (name, s) in &plan.subnets {
        subnets.insert(name.clone(), cidr(&format!("subnets.{name}"), s)?);
    }
    let client_subnets = plan
        .client_subnets
        .iter()
        .map(|s| cidr("client_subnets", s))
        .collect::<Result<Vec<_>>>()?;
    let admin_subnets = plan
        .admin_subnets
        .iter()
        .map(|s| cidr("admin_subnets", s))
        .collect::<Result<Vec<_>>>()?;
    let mut nodes = BTreeMap::new();
    let mut names = BTreeSet::new();
    let mut addrs = BTreeMap::new();
    for s in Service::ALL {
        let want = plan
            .counts
            .get(&s)
            .copied()
            .unwrap_or_else(|| scale::count(scale, s));
        let given = plan.servers.get(&s).map(Vec::as_slice).unwrap_or(&[]);
        if (given.len() as u32) < want {
            return Err(CliError::new(
                format!(
                    "servers.{}: the {} scale needs {want} server(s), the IP plan lists {}",
                    s.key(),
                    scale.as_str(),
                    given.len()
                ),
                format!(
                    "add {} more under servers.{} (name and address)",
                    want - given.len() as u32,
                    s.key()
                ),
            ));
        }
        let ram = plan
            .ram_gb
            .get(&s)
            .copied()
            .unwrap_or_else(|| scale::ram_gb(scale, s));
        let mut list = Vec::new();
        for srv in given.iter().take(want as usize) {
            let field = format!("servers.{}.{}", s.key(), srv.name);
            if !valid_host_name(&srv.name) {
                return Err(CliError::new(
                    format!("{field}: '{}' is not a host name", srv.name),
                    "use letters, digits and '-' (it becomes <name>.<internal_suffix> in /etc/hosts)",
                ));
            }
            let a = ip(&field, &srv.address)?;
            if !subnets.values().any(|c: &Ipv4Net| c.contains(&a)) {
                return Err(CliError::new(
                    format!("{field}: {a} is in none of the plan's subnets"),
                    "add its network under subnets: (TURN must know every server network) or correct the address",
                ));
            }
            if !names.insert(srv.name.clone()) {
                return Err(CliError::new(
                    format!("server name '{}' appears twice", srv.name),
                    "give every server its own name (a host may not serve two tiers here)",
                ));
            }
            if let Some(other) = addrs.insert(a, srv.name.clone()) {
                return Err(CliError::new(
                    format!("servers {} and {} share the address {a}", other, srv.name),
                    "give every server its own address",
                ));
            }
            list.push(Node {
                name: srv.name.clone(),
                address: a,
                ram_gb: srv.ram_gb.unwrap_or(ram),
            });
        }
        nodes.insert(s, list);
    }
    Ok(Layout {
        scale,
        domain,
        internal_suffix: plan.internal_suffix.clone(),
        subnets,
        client_subnets,
        admin_subnets,
        front_vip: ip("vips.front", &plan.vips.front)?,
        db_vip: ip("vips.db", &plan.vips.db)?,
        s3_vip: ip("vips.s3", &plan.vips.s3)?,
        nodes,
    })
}
