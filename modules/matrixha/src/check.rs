//! `matrixha check`: every rule a plan must pass, each problem with its host, variable and fix.

use crate::inventory::{plain_ref, HostVars, Inventory};
use crate::manifest::{Manifest, Verdict};
use crate::net::{is_network_or_broadcast, parse_ip, parse_net, subnet};
use crate::role_defaults;
use crate::scale;
use crate::secrets;
use crate::typed;
use coturn_config::peers::{self, PeerRequest};
use coturn_config::rules as turn_rules;
use ipnet::Ipv4Net;
use matrixha_module::{ModuleError, Secret};
use pgbouncer_pool::rules::{self, is_wildcard};
use pgbouncer_pool::sizing::{self, PoolMode, ScaleProfile};
use serde::Serialize;
use serde_yaml::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, Ipv4Addr};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Error,
    Warning,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Finding {
    pub level: Level,
    pub rule: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub variable: Option<String>,
    pub problem: String,
    pub fix: String,
}

impl Finding {
    pub fn render(&self) -> String {
        let lvl = match self.level {
            Level::Error => "error",
            Level::Warning => "warning",
        };
        let mut at = Vec::new();
        if let Some(h) = &self.host {
            at.push(h.clone());
        }
        if let Some(v) = &self.variable {
            at.push(v.clone());
        }
        let at = if at.is_empty() {
            String::new()
        } else {
            format!(" {}:", at.join(": "))
        };
        format!(
            "{lvl}[{}]{at} {}\n  fix: {}",
            self.rule, self.problem, self.fix
        )
    }
}

/// Numeric variables the rules read, whose unset value is the role's literal default
/// (collection/roles/*/defaults/main.yml, compiled in; role_defaults tests every one is there).
pub const ROLE_NUMBERS: &[&str] = &[
    "db_vip_virtual_router_id",
    "db_vip_prefix",
    "db_vip_pg_port",
    "db_vip_pgbouncer_port",
    "patroni_pg_port",
    "patroni_restapi_port",
    "pgbouncer_port",
    "pgbouncer_synapse_cp_min",
    "pgbouncer_synapse_cp_max",
    "etcd_client_port",
    "etcd_peer_port",
    "coturn_listening_port",
    "coturn_tls_listening_port",
    "coturn_min_port",
    "coturn_max_port",
];

/// Boolean variables the rules read, defaulted the same way.
pub const ROLE_FLAGS: &[&str] = &["db_vip_pgbouncer_enabled", "coturn_deny_private_ranges"];

/// The inventory's value, else the role default.
fn num(hv: &HostVars, name: &str) -> Option<u32> {
    hv.u32(name).or_else(|| role_defaults::number(name))
}

/// A port from [`ROLE_NUMBERS`]: the role always has a default for it.
fn role_port(hv: &HostVars, name: &str) -> u32 {
    num(hv, name).unwrap_or_default()
}

/// A flag from [`ROLE_FLAGS`].
fn flag(hv: &HostVars, name: &str) -> bool {
    hv.bool(name)
        .or_else(|| role_defaults::flag(name))
        .unwrap_or_default()
}

/// Module messages cite DESIGN.md (`(DN-4)`, `DN-1: `); operators read the finding without them.
fn for_operators(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find("DN-") {
        let digits = rest[i + 3..]
            .chars()
            .take_while(char::is_ascii_digit)
            .count();
        if digits == 0 {
            out.push_str(&rest[..i + 3]);
            rest = &rest[i + 3..];
            continue;
        }
        let end = i + 3 + digits;
        let (before, after) = (&rest[..i], &rest[end..]);
        if before.ends_with('(') && after.starts_with(')') {
            // " (DN-4)" goes with its parentheses and the blank before them.
            out.push_str(before[..before.len() - 1].trim_end());
            rest = &after[1..];
        } else if before.ends_with(", ") && after.starts_with(')') {
            // "(the pools are sized for it, DN-11)"
            out.push_str(&before[..before.len() - 2]);
            rest = after;
        } else if let Some(a) = after.strip_prefix(": ") {
            out.push_str(before);
            rest = a;
        } else {
            out.push_str(before);
            out.push_str("design note ");
            out.push_str(&rest[i + 3..end]);
            rest = after;
        }
    }
    out.push_str(rest);
    out
}

struct Ctx<'a> {
    inv: &'a Inventory,
    man: &'a Manifest,
    out: Vec<Finding>,
    hv: BTreeMap<String, HostVars>,
}

impl Ctx<'_> {
    fn push(
        &mut self,
        level: Level,
        rule: &'static str,
        host: Option<&str>,
        var: Option<&str>,
        problem: String,
        fix: String,
    ) {
        let f = Finding {
            level,
            rule,
            host: host.map(str::to_owned),
            variable: var.map(str::to_owned),
            problem: for_operators(&problem),
            fix: for_operators(&fix),
        };
        if !self.out.contains(&f) {
            self.out.push(f);
        }
    }
    fn err(
        &mut self,
        rule: &'static str,
        host: Option<&str>,
        var: Option<&str>,
        problem: String,
        fix: impl Into<String>,
    ) {
        self.push(Level::Error, rule, host, var, problem, fix.into());
    }
    fn warn(
        &mut self,
        rule: &'static str,
        host: Option<&str>,
        var: Option<&str>,
        problem: String,
        fix: impl Into<String>,
    ) {
        self.push(Level::Warning, rule, host, var, problem, fix.into());
    }
    fn h(&self, host: &str) -> &HostVars {
        &self.hv[host]
    }
    fn addr(&self, host: &str) -> Option<Ipv4Addr> {
        let h = self.h(host);
        h.str("matrixha_node_address")
            .or_else(|| h.str("ansible_host"))
            .and_then(|s| parse_ip(&s))
    }
    fn group(&self, g: &str) -> Vec<String> {
        self.inv.group_hosts(g)
    }
    /// A list variable with `{{ var }}` items resolved against the host.
    fn addr_list(&self, host: &str, var: &str) -> Option<Vec<String>> {
        let h = self.h(host);
        let raw = h.list(var)?;
        Some(
            raw.into_iter()
                .map(|item| match plain_ref(&item) {
                    Some(r) => h.str(&r).unwrap_or(item),
                    None => item,
                })
                .collect(),
        )
    }
}

/// Runs every rule; errors first, then warnings.
pub fn check(inv: &Inventory, man: &Manifest) -> Vec<Finding> {
    let mut c = Ctx {
        inv,
        man,
        out: Vec::new(),
        hv: inv
            .hosts()
            .iter()
            .map(|h| (h.clone(), HostVars::new(inv, h)))
            .collect(),
    };
    if c.hv.is_empty() {
        c.err(
            "inventory",
            None,
            None,
            "the inventory has no host".into(),
            "write one with `matrixha init`",
        );
        return c.out;
    }
    for h in inv.hosts() {
        if c.addr(&h).is_none() {
            c.err(
                "address",
                Some(&h),
                Some("matrixha_node_address"),
                "the host has no IPv4 address".into(),
                "set matrixha_node_address to the address its services bind",
            );
        }
    }
    quorum(&mut c);
    object_store(&mut c);
    vips(&mut c);
    binds(&mut c);
    pg_hba(&mut c);
    pools(&mut c);
    turn(&mut c);
    placeholders(&mut c);
    secrets_rule(&mut c);
    mdad(&mut c);
    if !inv.encrypted.is_empty() {
        let files: Vec<String> = inv
            .encrypted
            .iter()
            .map(|p| p.display().to_string())
            .collect();
        c.warn(
            "secrets",
            None,
            None,
            format!(
                "{} is encrypted: secrets were not checked",
                files.join(", ")
            ),
            "pass --vault-password-file to check them too",
        );
    }
    c.out.sort_by_key(|f| f.level);
    c.out
}

fn quorum(c: &mut Ctx) {
    for (g, what) in [("etcd", "etcd"), ("patroni", "Patroni")] {
        let n = c.group(g).len();
        if n < 3 || n & 1 == 0 {
            c.err(
                "quorum",
                None,
                Some(&format!("group {g}")),
                format!("{n} {what} node(s): a quorum needs an odd number, at least 3 (with {n} the cluster {})", if n < 3 { "cannot survive losing one node" } else { "survives no more failures than with one node less" }),
                format!("put 3 or 5 hosts in group {g}"),
            );
        }
    }
}

fn object_store(c: &mut Ctx) {
    let nodes = c.group("object_store");
    if nodes.is_empty() {
        return;
    }
    if nodes.len() < 4 {
        c.err(
            "object-store",
            None,
            Some("group object_store"),
            format!(
                "{} object-store node(s): erasure coding across nodes needs at least 4",
                nodes.len()
            ),
            "put 4 (or more) hosts in group object_store",
        );
    }
    let first = nodes[0].clone();
    let drives = c
        .h(&first)
        .list("matrixha_object_store_drives")
        .map(|d| d.len() as u32)
        .unwrap_or(1);
    let total = drives * nodes.len() as u32;
    let Some(set) = scale::erasure_set_size(total) else {
        c.err(
            "object-store",
            Some(&first),
            Some("matrixha_object_store_drives"),
            format!("{total} drives cannot form erasure sets of 2 to 16 drives"),
            "use a drive count per node that divides evenly (e.g. 4 nodes × 4 drives)",
        );
        return;
    };
    if let Some(p) = c.h(&first).u32("matrixha_object_store_parity") {
        if p == 0 || p > set / 2 {
            c.err(
                "object-store",
                Some(&first),
                Some("matrixha_object_store_parity"),
                format!("parity EC:{p} is not valid for erasure sets of {set} drives ({} nodes × {drives} drives): it must be 1 to {}", nodes.len(), set / 2),
                format!("set matrixha_object_store_parity to {} (the default for {set} drives)", scale::default_parity(set)),
            );
        }
    }
}

struct Vip {
    label: &'static str,
    var: &'static str,
    prefix_var: &'static str,
    vrid_var: &'static str,
    group: &'static str,
}

const VIPS: [Vip; 3] = [
    Vip {
        label: "front VIP",
        var: "matrixha_front_vip_address",
        prefix_var: "matrixha_front_vip_prefix",
        vrid_var: "matrixha_front_vip_virtual_router_id",
        group: "front_lb",
    },
    Vip {
        label: "DB writer VIP",
        var: "db_vip_address",
        prefix_var: "db_vip_prefix",
        vrid_var: "db_vip_virtual_router_id",
        group: "db_vip",
    },
    Vip {
        label: "S3 VIP",
        var: "matrixha_s3_vip_address",
        prefix_var: "matrixha_s3_vip_prefix",
        vrid_var: "matrixha_s3_vip_virtual_router_id",
        group: "s3_vip",
    },
];

/// (first holder, router-id variable, VIP label) of one Keepalived instance.
type VrrpUser = (String, &'static str, String);

fn vips(c: &mut Ctx) {
    let all_hosts: Vec<String> = c.inv.hosts().into_iter().collect();
    let mut vrrp: BTreeMap<(Ipv4Addr, u32), Vec<VrrpUser>> = BTreeMap::new();
    for v in &VIPS {
        let holders = c.group(v.group);
        let Some(h0) = holders.first().cloned() else {
            continue;
        };
        let Some(vip_s) = c.h(&h0).str(v.var) else {
            c.err(
                "vip",
                Some(&h0),
                Some(v.var),
                format!("the {} is not set", v.label),
                format!("set {} in group_vars/all", v.var),
            );
            continue;
        };
        let Some(vip) = parse_ip(&vip_s) else {
            c.err(
                "vip",
                Some(&h0),
                Some(v.var),
                format!("'{vip_s}' is not an IPv4 address"),
                "write it as 10.0.3.10",
            );
            continue;
        };
        let prefix = num(c.h(&h0), v.prefix_var).unwrap_or(24).min(32) as u8;
        let net = subnet(vip, prefix);
        for h in &holders {
            if let Some(a) = c.addr(h) {
                if !net.contains(&a) {
                    c.err("vip-subnet", Some(h), Some(v.var), format!("the {} {vip} is outside {net}, the subnet of {h} ({a}) that must carry it", v.label), format!("choose a free address in {} for {}", subnet(a, prefix), v.var));
                }
            }
        }
        if is_network_or_broadcast(&net, vip) {
            c.err(
                "vip-subnet",
                None,
                Some(v.var),
                format!(
                    "the {} {vip} is the network or broadcast address of {net}",
                    v.label
                ),
                "choose a host address",
            );
        }
        for h in &all_hosts {
            if c.addr(h) == Some(vip) {
                c.err("vip-used", Some(h), Some(v.var), format!("the {} {vip} is also the address of host {h}: whoever holds the VIP breaks {h}", v.label), format!("choose an address for {} that no host uses", v.var));
            }
        }
        let id = num(c.h(&h0), v.vrid_var).unwrap_or(0);
        if !(1..=255).contains(&id) {
            c.err(
                "vrrp",
                Some(&h0),
                Some(v.vrid_var),
                format!("VRRP router id {id} is outside 1..255"),
                "choose an id from 1 to 255, unique on this segment",
            );
        }
        vrrp.entry((net.network(), id))
            .or_default()
            .push((h0, v.vrid_var, v.label.to_owned()));
    }
    for ((netw, id), users) in vrrp {
        if users.len() > 1 {
            let names: Vec<String> = users.iter().map(|(_, _, l)| l.clone()).collect();
            let (h, var, _) = &users[1];
            c.err("vrrp", Some(h), Some(var), format!("VRRP router id {id} is used by {} on the same segment {}: Keepalived instances with one id fight over the VIP", names.join(" and "), netw), format!("give {var} another id (1-255) unused on this segment"));
        }
    }
}

#[derive(Debug, Clone)]
struct Bind {
    service: &'static str,
    var: &'static str,
    addr: String,
    port: u32,
}

fn binds(c: &mut Ctx) {
    let mut by_host: BTreeMap<String, Vec<Bind>> = BTreeMap::new();
    let node = |c: &Ctx, h: &str| c.addr(h).map(|a| a.to_string()).unwrap_or_default();
    for h in c.group("patroni") {
        let hv = c.h(&h);
        let port = role_port(hv, "patroni_pg_port");
        let listen: Vec<String> = match hv.get("patroni_pg_parameters_extra") {
            Some(Value::Mapping(m)) => m
                .get("listen_addresses")
                .and_then(Value::as_str)
                .map(|s| s.split(',').map(|x| x.trim().to_owned()).collect()),
            _ => None,
        }
        .unwrap_or_else(|| vec![node(c, &h), "127.0.0.1".into()]);
        let e = by_host.entry(h.clone()).or_default();
        for a in listen {
            e.push(Bind {
                service: "PostgreSQL",
                var: "patroni_pg_parameters_extra.listen_addresses",
                addr: a,
                port,
            });
        }
        e.push(Bind {
            service: "Patroni REST API",
            var: "patroni_restapi_port",
            addr: node(c, &h),
            port: role_port(c.h(&h), "patroni_restapi_port"),
        });
    }
    for h in c.group("pgbouncer") {
        let port = role_port(c.h(&h), "pgbouncer_port");
        let listen = c
            .addr_list(&h, "pgbouncer_listen_addresses")
            .unwrap_or_else(|| vec![node(c, &h), "127.0.0.1".into()]);
        if let Some(f) = rules::listen_addr_finding(&listen) {
            pool_finding(c, "wildcard-bind", &h, "pgbouncer_listen_addresses", f);
        }
        let e = by_host.entry(h.clone()).or_default();
        for a in listen {
            e.push(Bind {
                service: "PgBouncer",
                var: "pgbouncer_listen_addresses",
                addr: a,
                port,
            });
        }
    }
    for h in c.group("etcd") {
        let n = node(c, &h);
        let hv = c.h(&h);
        let (cp, pp) = (
            role_port(hv, "etcd_client_port"),
            role_port(hv, "etcd_peer_port"),
        );
        let e = by_host.entry(h.clone()).or_default();
        e.push(Bind {
            service: "etcd client",
            var: "etcd_client_port",
            addr: n.clone(),
            port: cp,
        });
        e.push(Bind {
            service: "etcd peer",
            var: "etcd_peer_port",
            addr: n,
            port: pp,
        });
    }
    for h in c.group("db_vip") {
        let hv = c.h(&h);
        let Some(vip) = hv.str("db_vip_address") else {
            continue;
        };
        let pg = role_port(hv, "db_vip_pg_port");
        let pgb = role_port(hv, "db_vip_pgbouncer_port");
        let pgb_on = flag(hv, "db_vip_pgbouncer_enabled");
        let e = by_host.entry(h.clone()).or_default();
        e.push(Bind {
            service: "HAProxy (DB writer VIP)",
            var: "db_vip_pg_port",
            addr: vip.clone(),
            port: pg,
        });
        if pgb_on {
            e.push(Bind {
                service: "HAProxy (DB writer VIP, PgBouncer)",
                var: "db_vip_pgbouncer_port",
                addr: vip,
                port: pgb,
            });
        }
    }
    for h in c.group("object_store") {
        let hv = c.h(&h);
        let a = match hv
            .raw("matrixha_object_store_listen_address")
            .and_then(Value::as_str)
            .map(str::to_owned)
        {
            Some(s) if plain_ref(&s).is_some() => hv
                .str("matrixha_object_store_listen_address")
                .unwrap_or_else(|| node(c, &h)),
            Some(s) => s,
            None => node(c, &h),
        };
        let p = hv.u32("matrixha_object_store_port").unwrap_or(9000);
        let cp = hv.u32("matrixha_object_store_console_port").unwrap_or(9001);
        let e = by_host.entry(h.clone()).or_default();
        e.push(Bind {
            service: "object store (S3 API)",
            var: "matrixha_object_store_listen_address",
            addr: a.clone(),
            port: p,
        });
        e.push(Bind {
            service: "object store (console)",
            var: "matrixha_object_store_listen_address",
            addr: a,
            port: cp,
        });
    }
    for h in c.group("s3_vip") {
        let hv = c.h(&h);
        let Some(vip) = hv.str("matrixha_s3_vip_address") else {
            continue;
        };
        let p = hv.u32("matrixha_s3_vip_port").unwrap_or(9000);
        by_host.entry(h.clone()).or_default().push(Bind {
            service: "HAProxy (S3 VIP)",
            var: "matrixha_s3_vip_port",
            addr: vip,
            port: p,
        });
    }
    for h in c.group("coturn") {
        let hv = c.h(&h);
        let p = role_port(hv, "coturn_listening_port");
        let tp = role_port(hv, "coturn_tls_listening_port");
        let ips = c
            .addr_list(&h, "coturn_listening_ips")
            .unwrap_or_else(|| vec![node(c, &h)]);
        let e = by_host.entry(h.clone()).or_default();
        for a in ips {
            e.push(Bind {
                service: "coturn",
                var: "coturn_listening_ips",
                addr: a.clone(),
                port: p,
            });
            e.push(Bind {
                service: "coturn (TLS)",
                var: "coturn_listening_ips",
                addr: a,
                port: tp,
            });
        }
    }
    for (h, list) in by_host {
        for i in 0..list.len() {
            for j in i + 1..list.len() {
                let (a, b) = (&list[i], &list[j]);
                if a.port != b.port || a.service == b.service {
                    continue;
                }
                let same = a.addr == b.addr || is_wildcard(&a.addr) || is_wildcard(&b.addr);
                if !same {
                    continue;
                }
                let (wild, other) = if is_wildcard(&a.addr) { (a, b) } else { (b, a) };
                let shown = |x: &Bind| {
                    if is_wildcard(&x.addr) {
                        format!("every address (*:{})", x.port)
                    } else {
                        format!("{}:{}", x.addr, x.port)
                    }
                };
                c.err(
                    "port-clash",
                    Some(&h),
                    Some(wild.var),
                    format!("{} binds {} and {} binds {}: the second one cannot start", wild.service, shown(wild), other.service, shown(other)),
                    format!("bind {} to the node address (and 127.0.0.1) instead of all addresses; the VIP holder also needs net.ipv4.ip_nonlocal_bind=1", wild.service),
                );
            }
        }
    }
}

fn pg_hba(c: &mut Ctx) {
    let patroni = c.group("patroni");
    let Some(h0) = patroni.first().cloned() else {
        return;
    };
    let Some(sources) = c.h(&h0).list("patroni_app_client_sources") else {
        return;
    };
    let nets: Vec<Ipv4Net> = sources.iter().filter_map(|s| parse_net(s)).collect();
    let mut origin: BTreeSet<String> = c.group("pgbouncer").into_iter().collect();
    origin.extend(c.group("db_vip"));
    let vip = c.h(&h0).str("db_vip_address").and_then(|s| parse_ip(&s));
    let missing: Vec<String> = origin
        .iter()
        .filter_map(|h| c.addr(h).map(|a| (h, a)))
        .filter(|(_, a)| !nets.iter().any(|n| n.contains(a)))
        .map(|(h, a)| format!("{h} ({a})"))
        .collect();
    if !missing.is_empty() {
        let vip_note = match vip {
            Some(v) if nets.iter().any(|n| n.contains(&v)) => format!(" It allows {v}, the writer VIP, but a connection through HAProxy or PgBouncer comes from the node's own address, never from the VIP."),
            _ => String::new(),
        };
        c.err(
            "pg-hba",
            Some(&h0),
            Some("patroni_app_client_sources"),
            format!("pg_hba lets Synapse's role in only from {}; its connections arrive from {}, which PostgreSQL will reject.{vip_note}", sources.join(", "), missing.join(", ")),
            "leave patroni_app_client_sources unset (the role allows every DB node) or list the DB subnet, with scram-sha-256",
        );
    }
}

fn pool_field_var(field: &str) -> &'static str {
    match field {
        "synapse_processes" => "pgbouncer_synapse_processes",
        "cp_min" => "pgbouncer_synapse_cp_min",
        "cp_max" => "pgbouncer_synapse_cp_max",
        "db_nodes" => "group patroni",
        "pgbouncer_nodes" => "group pgbouncer",
        "tolerated_pgbouncer_failures" => "pgbouncer_tolerated_failures",
        "default_pool_size" => "pgbouncer_default_pool_size",
        "reserve_pool_size" => "pgbouncer_reserve_pool_size",
        "max_client_conn" => "pgbouncer_max_client_conn",
        "max_connections" => "patroni_max_connections",
        _ => "pgbouncer_default_pool_size",
    }
}

/// A finding of pgbouncer_pool's own rules, at the level the module gives it.
fn pool_finding(c: &mut Ctx, rule: &'static str, host: &str, var: &str, f: rules::Finding) {
    let level = match f.level {
        rules::Level::Error => Level::Error,
        rules::Level::Warning => Level::Warning,
    };
    c.push(level, rule, Some(host), Some(var), f.problem, f.fix);
}

fn pools(c: &mut Ctx) {
    let pgb = c.group("pgbouncer");
    let Some(h) = pgb.first().cloned() else {
        return;
    };
    let hv = c.h(&h).clone();
    // What Synapse really runs: the MDAD vars (worker counts, cp_max) when they can be derived.
    let mdad_vars: BTreeMap<String, Value> = crate::mdad::generate(c.inv, c.man)
        .map(|v| v.into_iter().map(|(_, k, v)| (k, v)).collect())
        .unwrap_or_default();
    let mdad_processes = if mdad_vars.is_empty() {
        None
    } else {
        Some(
            1 + mdad_vars
                .iter()
                .filter(|(k, _)| {
                    k.starts_with("matrix_synapse_workers_") && k.ends_with("_workers_count")
                })
                .filter_map(|(_, v)| v.as_u64())
                .sum::<u64>() as u32,
        )
    };
    let mdad_cp_max = mdad_vars
        .get("matrix_synapse_database_cp_max")
        .and_then(Value::as_u64)
        .map(|n| n as u32);
    // Unset and no MDAD vars: the role's own table for the scale
    // (`pgbouncer_scale_processes[pgbouncer_scale]`, pgbouncer_scale defaulting
    // to matrixha_scale, else large, as the role's defaults say).
    let scale = hv
        .str("pgbouncer_scale")
        .or_else(|| hv.str("matrixha_scale"))
        .unwrap_or_else(|| "large".into());
    let processes = hv
        .u32("pgbouncer_synapse_processes")
        .or(mdad_processes)
        .or_else(|| role_defaults::synapse_processes(&scale))
        .unwrap_or_default();
    if let Some(p) = mdad_processes {
        if p != processes {
            c.err("pool-arithmetic", Some(&h), Some("pgbouncer_synapse_processes"), format!("PgBouncer is sized for {processes} Synapse processes but the MDAD variables run {p} (main + workers)"), format!("set pgbouncer_synapse_processes to {p}"));
        }
    }
    let cp_max = hv.u32("pgbouncer_synapse_cp_max");
    if let (Some(a), Some(b)) = (cp_max, mdad_cp_max) {
        if a != b {
            c.err("pool-arithmetic", Some(&h), Some("pgbouncer_synapse_cp_max"), format!("PgBouncer is sized for cp_max {a} but Synapse runs with matrix_synapse_database_cp_max {b}"), "use one value for both");
        }
    }
    // The module's parser and DN-4 verdict (pgbouncer_pool::rules). An unknown
    // mode fails the module, so it is an error here; the pools are then sized
    // for session mode, the one the role's default and init write.
    let mode = match hv.str("pgbouncer_pool_mode") {
        None => PoolMode::Session,
        Some(text) => match PoolMode::parse(&text) {
            Ok(m) => m,
            Err(f) => {
                pool_finding(c, "pool-mode", &h, "pgbouncer_pool_mode", f);
                PoolMode::Session
            }
        },
    };
    // Nothing in the stack applies Synapse's settings per role (the pgbouncer role
    // has no variable for it), so the module's `session_settings_per_role` is false.
    if let Some(f) = rules::pool_mode_finding(mode, false) {
        pool_finding(c, "pool-mode", &h, "pgbouncer_pool_mode", f);
    }
    let tolerated = hv.u32("pgbouncer_tolerated_failures");
    let max_conn = c
        .group("patroni")
        .first()
        .and_then(|p| c.h(p).u32("patroni_max_connections"));
    if let (Some(a), Some(b)) = (hv.u32("pgbouncer_postgres_max_connections"), max_conn) {
        if a != b {
            c.err("pool-arithmetic", Some(&h), Some("pgbouncer_postgres_max_connections"), format!("PgBouncer checks its pools against max_connections {a} but PostgreSQL runs with patroni_max_connections {b}"), "remove pgbouncer_postgres_max_connections (it follows patroni_max_connections by default)");
        }
    }
    let profile = ScaleProfile {
        synapse_processes: processes,
        cp_min: hv.u32("pgbouncer_synapse_cp_min"),
        cp_max: cp_max.or(mdad_cp_max),
        db_nodes: c.group("patroni").len() as u32,
        pgbouncer_nodes: pgb.len() as u32,
        tolerated_pgbouncer_failures: tolerated,
        pool_mode: mode,
        default_pool_size: hv.u32("pgbouncer_default_pool_size"),
        reserve_pool_size: hv.u32("pgbouncer_reserve_pool_size"),
        max_client_conn: hv.u32("pgbouncer_max_client_conn"),
        max_connections: max_conn,
        ..ScaleProfile::new(processes)
    };
    if mode != PoolMode::Session {
        // The plan must also hold in session mode, which Synapse needs (DN-4).
        let session = ScaleProfile {
            pool_mode: PoolMode::Session,
            ..profile.clone()
        };
        if let Err(e) = sizing::size(&session) {
            c.err(
                "pool-arithmetic",
                Some(&h),
                Some(pool_field_var(e.field)),
                format!("in session mode, which Synapse needs: {}", e.problem),
                e.fix.clone(),
            );
        }
    }
    if let Err(e) = sizing::size(&profile) {
        c.err(
            "pool-arithmetic",
            Some(&h),
            Some(pool_field_var(e.field)),
            e.problem,
            e.fix,
        );
    }
}

/// The role variable a coturn_config parameter comes from (roles/coturn/tasks/configure.yml
/// passes `<param>: "{{ coturn_<param> }}"` for each of these).
fn coturn_var(param: Option<&str>) -> String {
    format!("coturn_{}", param.unwrap_or("static_auth_secret"))
}

/// A rejection by coturn_config's own rules, under the role variable it came from.
fn coturn_error(c: &mut Ctx, rule: &'static str, host: &str, e: ModuleError) {
    let var = coturn_var(e.param.as_deref());
    c.err(
        rule,
        Some(host),
        Some(&var),
        e.problem,
        e.fix.unwrap_or_default(),
    );
}

/// A list the role passes to coturn_config, when the checker can read it: items
/// holding Jinja it does not evaluate, or placeholders (the placeholder rule
/// reports those), leave it unknown.
fn literal_list(c: &Ctx, host: &str, var: &str) -> Option<Vec<String>> {
    let list = c.addr_list(host, var)?;
    (!list
        .iter()
        .any(|s| s.contains("{{") || s.contains("CHANGE")))
    .then_some(list)
}

fn turn(c: &mut Ctx) {
    let coturn = c.group("coturn");
    let Some(h) = coturn.first().cloned() else {
        return;
    };
    // Per node, what coturn binds (DN-1) and its ports: coturn_config's rules.
    let mut node_ips: Vec<IpAddr> = Vec::new();
    for x in &coturn {
        for var in ["coturn_listening_ips", "coturn_relay_ips"] {
            let Some(list) = literal_list(c, x, var) else {
                continue;
            };
            let ips: Vec<IpAddr> = match typed::var_problem(var, &Value::from(list)) {
                Ok(ips) => ips,
                Err(e) => {
                    c.err(
                        "wildcard-bind",
                        Some(x),
                        Some(var),
                        e,
                        "list this node's own IP addresses",
                    );
                    continue;
                }
            };
            let verdict = if var == "coturn_listening_ips" {
                turn_rules::check_listening_ips(&ips)
            } else {
                turn_rules::check_not_wildcard("relay_ips", &ips)
            };
            if let Err(e) = verdict {
                coturn_error(c, "wildcard-bind", x, e);
            }
            node_ips.extend(ips);
        }
        let hv = c.h(x);
        let port_of = |var: &str| u16::try_from(role_port(hv, var)).ok();
        if let (Some(listening_port), Some(tls_listening_port), Some(min_port), Some(max_port)) = (
            port_of("coturn_listening_port"),
            port_of("coturn_tls_listening_port"),
            port_of("coturn_min_port"),
            port_of("coturn_max_port"),
        ) {
            let ports = turn_rules::Ports {
                listening_port,
                tls_listening_port,
                min_port,
                max_port,
            };
            if let Err(e) = turn_rules::check_ports(&ports) {
                coturn_error(c, "turn-ports", x, e);
            }
        }
    }
    node_ips.sort();
    node_ips.dedup();

    // The peer rules (DN-14) as the module builds them, from the same subnets.
    let mut req = PeerRequest {
        deny_private_ranges: flag(c.h(&h), "coturn_deny_private_ranges"),
        node_ips,
        ..PeerRequest::default()
    };
    for (var, param) in [
        ("coturn_server_subnets", "server_subnets"),
        ("coturn_client_subnets", "client_subnets"),
    ] {
        let list: Vec<String> = c
            .h(&h)
            .list(var)
            .unwrap_or_default()
            .into_iter()
            .filter(|s| !s.contains("CHANGE"))
            .collect();
        match peers::parse_ranges(param, &list) {
            Ok(nets) if param == "server_subnets" => req.server_subnets = nets,
            Ok(nets) => req.client_subnets = nets,
            Err(e) => coturn_error(c, "turn-peers", &h, e),
        }
    }
    let clients_listed = !req.client_subnets.is_empty();
    match peers::plan(&req) {
        Err(e) => coturn_error(c, "turn-peers", &h, e),
        Ok(plan) => {
            // Only the checker sees every host: each must be out of TURN's reach.
            let exposed: Vec<String> = c
                .inv
                .hosts()
                .into_iter()
                .filter_map(|x| c.addr(&x).map(|a| (x, a)))
                .filter(|(_, a)| plan.relays_to(IpAddr::V4(*a)))
                .map(|(x, a)| format!("{x} ({a})"))
                .collect();
            if !exposed.is_empty() {
                c.err("turn-peers", Some(&h), Some("coturn_server_subnets"), format!("TURN may relay to servers outside the denied subnets: {}; a TURN user could reach their internal services", exposed.join(", ")), "list every server subnet in coturn_server_subnets (matrixha_server_subnets holds them)");
            }
            for w in plan.warnings {
                c.warn(
                    "turn-peers",
                    Some(&h),
                    Some("coturn_server_subnets"),
                    w,
                    "see the coturn_config module's documentation of server_subnets and client_subnets",
                );
            }
        }
    }
    if !clients_listed {
        c.warn(
            "turn-peers",
            Some(&h),
            Some("coturn_client_subnets"),
            "no client subnet is listed: the relay probe cannot prove TURN reaches clients".into(),
            "list your users' subnets in matrixha_client_subnets",
        );
    }
}

fn walk<'v>(v: &'v Value, path: String, out: &mut Vec<(String, &'v str)>) {
    match v {
        Value::String(s) => out.push((path, s)),
        Value::Sequence(s) => s
            .iter()
            .enumerate()
            .for_each(|(i, x)| walk(x, format!("{path}[{i}]"), out)),
        Value::Mapping(m) => m
            .iter()
            .for_each(|(k, x)| walk(x, format!("{path}.{}", k.as_str().unwrap_or("?")), out)),
        _ => {}
    }
}

fn placeholders(c: &mut Ctx) {
    let mut seen = BTreeSet::new();
    for h in c.inv.hosts() {
        let vars = c.h(&h).vars.clone();
        for (k, v) in &vars {
            let Some(k) = k.as_str() else { continue };
            let mut strs = Vec::new();
            walk(v, k.to_owned(), &mut strs);
            for (path, s) in strs {
                if let Some(i) = s.find("CHANGE") {
                    let token: String = s[i..]
                        .chars()
                        .take_while(|ch| ch.is_ascii_alphanumeric() || *ch == '_')
                        .collect();
                    let origin = c.inv.origin(&h, k);
                    if seen.insert((origin.clone(), path.clone())) {
                        c.err("placeholder", Some(&origin), Some(&path), format!("still holds the placeholder {token}"), "replace it with your value (the comment above it in the inventory says what it is)");
                    }
                }
            }
        }
    }
}

fn secret_like(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    ["password", "secret", "_pass", "auth_pass"]
        .iter()
        .any(|p| n.contains(p))
        && !n.ends_with("_user")
        && !n.contains("password_file")
}

/// The module that receives a role variable's secret, and so judges it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SecretJudge {
    /// coturn_config's `static_auth_secret` (coturn_config::rules).
    Turn,
    /// A PostgreSQL credential: patroni_cluster and pgbouncer_pool apply
    /// pg_auth's length and SASLprep rules to every password they pass on.
    Postgres,
}

fn secret_judge(var: &str) -> Option<SecretJudge> {
    match var {
        "coturn_static_auth_secret" => Some(SecretJudge::Turn),
        v if (v.starts_with("patroni_") || v.starts_with("pgbouncer_"))
            && v.ends_with("_password") =>
        {
            Some(SecretJudge::Postgres)
        }
        _ => None,
    }
}

/// Why the module would refuse `value`: (rule, problem, fix); None when it accepts it.
fn judge_secret(judge: SecretJudge, value: &str) -> Option<(&'static str, String, String)> {
    let n = value.chars().count();
    match judge {
        SecretJudge::Turn => {
            let e = turn_rules::check_static_auth_secret(&Secret::new(value)).err()?;
            let rule = if n < turn_rules::MIN_SECRET_LEN {
                "secret-short"
            } else {
                "secret-invalid"
            };
            Some((
                rule,
                format!("coturn's static_auth_secret {}", e.problem),
                e.fix.unwrap_or_default(),
            ))
        }
        SecretJudge::Postgres if n < pg_auth::MIN_PASSWORD_LEN => Some((
            "secret-short",
            format!(
                "the secret is {n} characters long, under {}",
                pg_auth::MIN_PASSWORD_LEN
            ),
            "generate a new one with `matrixha secrets` (40 random characters)".into(),
        )),
        SecretJudge::Postgres if !pg_auth::password_is_supported(value) => Some((
            "secret-invalid",
            "the password holds characters outside printable ASCII, which PostgreSQL's SASLprep would change before hashing".into(),
            "use letters, digits and ASCII punctuation (`matrixha secrets` does)".into(),
        )),
        SecretJudge::Postgres => None,
    }
}

/// The CLI's own minimum, for secrets no module judges yet (object store, LiveKit, Synapse).
fn own_min_len(name: &str) -> usize {
    secrets::spec(name)
        .map(|s| secrets::min_len(s.kind))
        .unwrap_or(if name.contains("vrrp") || name.ends_with("auth_pass") {
            secrets::min_len(secrets::Kind::Vrrp)
        } else {
            pg_auth::MIN_PASSWORD_LEN
        })
}

fn secrets_rule(c: &mut Ctx) {
    // name → (value, host where seen); literal values only, references resolved.
    let mut values: BTreeMap<String, (String, String)> = BTreeMap::new();
    let mut missing_vault: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    // name → the variables that hold `{{ name }}`: whoever receives the value judges it.
    let mut users: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for h in c.inv.hosts() {
        let keys: Vec<String> = c
            .h(&h)
            .vars
            .keys()
            .filter_map(|k| k.as_str().map(str::to_owned))
            .collect();
        for k in keys {
            if !secret_like(&k) && !k.starts_with("vault_") {
                continue;
            }
            let Some(raw_value) = c.h(&h).raw(&k).cloned() else {
                continue;
            };
            let raw = match raw_value {
                Value::String(s) => s,
                Value::Null => continue,
                other => {
                    // A module would refuse it too (a Secret is a string); the
                    // message says what was found, never the value.
                    if secret_judge(&k).is_some() || secrets::spec(&k).is_some() {
                        if let Err(e) = typed::var_problem::<Secret>(&k, &other) {
                            let origin = c.inv.origin(&h, &k);
                            c.err(
                                "secret-type",
                                Some(&origin),
                                Some(&k),
                                e,
                                "write the secret as a quoted string (the vault's values are)",
                            );
                        }
                    }
                    continue;
                }
            };
            if raw.contains("CHANGE") {
                continue;
            }
            match plain_ref(&raw) {
                Some(r) if c.h(&h).get(&k).is_none() => {
                    if r.starts_with("vault_") && c.inv.encrypted.is_empty() {
                        missing_vault.entry(r).or_default().insert(k.clone());
                    }
                    continue;
                }
                Some(r) => {
                    // The referenced variable is checked itself, by this one's rules too.
                    users.entry(r).or_default().insert(k.clone());
                    continue;
                }
                None => {}
            }
            if raw.contains("{{") || raw.is_empty() {
                continue;
            }
            values.entry(k).or_insert((raw, h.clone()));
        }
    }
    for (r, users) in &missing_vault {
        let users: Vec<&str> = users.iter().map(String::as_str).collect();
        c.err(
            "secrets",
            None,
            Some(r),
            format!("no vault file defines it (used by {})", users.join(", ")),
            "write the vault with `matrixha secrets --out <inventory>/group_vars/all/vault.yml`",
        );
    }
    let mut by_value: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (k, (v, h)) in &values {
        let origin = c.inv.origin(h, k);
        let mut judges: Vec<(SecretJudge, &str)> = Vec::new();
        for name in std::iter::once(k).chain(users.get(k).into_iter().flatten()) {
            if let Some(j) = secret_judge(name) {
                if !judges.iter().any(|(x, _)| *x == j) {
                    judges.push((j, name.as_str()));
                }
            }
        }
        if judges.is_empty() {
            let min = own_min_len(k);
            let n = v.chars().count();
            if n < min {
                c.err(
                    "secret-short",
                    Some(&origin),
                    Some(k),
                    format!("the secret is {n} characters long, under {min}"),
                    "generate a new one with `matrixha secrets` (40 random characters)",
                );
            }
        }
        for (j, user) in judges {
            if let Some((rule, problem, fix)) = judge_secret(j, v) {
                let problem = if user == k {
                    problem
                } else {
                    format!("{problem} (it is passed on as {user})")
                };
                c.err(rule, Some(&origin), Some(k), problem, fix);
            }
        }
        if secrets::spec(k).is_some_and(|s| {
            matches!(
                s.kind,
                secrets::Kind::Ident(_) | secrets::Kind::Htpasswd { .. }
            )
        }) {
            continue;
        }
        by_value.entry(v.as_str()).or_default().push(k.as_str());
    }
    for (_, names) in by_value {
        if names.len() > 1 {
            c.err(
                "secret-reused",
                None,
                Some(names[0]),
                format!(
                    "{} hold the same secret: one leak opens every component",
                    names.join(", ")
                ),
                "give each component its own secret (`matrixha secrets` does)",
            );
        }
    }
}

fn mdad(c: &mut Ctx) {
    let Ok(host) = crate::mdad::synapse_host(c.inv) else {
        return;
    };
    let own = crate::mdad::operator_vars(c.inv, &host);
    for (k, _, origin) in &own {
        report_verdict(c, Some(origin), k, c.man.verdict(k));
    }
    if let Some((_, v, origin)) = own
        .iter()
        .find(|(k, _, _)| k == "matrix_playbook_migration_validated_version")
    {
        if v.as_str() != Some(c.man.playbook.migration_expected_version.as_str()) {
            c.err(
                "mdad-migration",
                Some(origin),
                Some("matrix_playbook_migration_validated_version"),
                format!(
                    "MDAD at the pinned commit expects {}; another value stops the play",
                    c.man.playbook.migration_expected_version
                ),
                format!(
                    "read MDAD's CHANGELOG up to {0}, then set it to {0}",
                    c.man.playbook.migration_expected_version
                ),
            );
        }
    }
}

/// A complete MDAD vars.yml (e.g. one written by hand from the seeds).
pub fn check_mdad_file(
    inv_findings: &mut Vec<Finding>,
    man: &Manifest,
    origin: &str,
    vars: &serde_yaml::Mapping,
) {
    let inv = Inventory::default();
    let mut c = Ctx {
        inv: &inv,
        man,
        out: Vec::new(),
        hv: BTreeMap::new(),
    };
    for k in vars.keys().filter_map(Value::as_str) {
        report_verdict(&mut c, Some(origin), k, man.verdict(k));
    }
    match vars
        .get("matrix_playbook_migration_validated_version")
        .and_then(Value::as_str)
    {
        None => c.err(
            "mdad-migration",
            Some(origin),
            Some("matrix_playbook_migration_validated_version"),
            "is not set: MDAD stops the play before doing anything".into(),
            format!(
                "set it to {} after reading MDAD's CHANGELOG",
                man.playbook.migration_expected_version
            ),
        ),
        Some(v) if v != man.playbook.migration_expected_version => c.err(
            "mdad-migration",
            Some(origin),
            Some("matrix_playbook_migration_validated_version"),
            format!(
                "{v} is not the version MDAD expects ({})",
                man.playbook.migration_expected_version
            ),
            format!("set it to {}", man.playbook.migration_expected_version),
        ),
        _ => {}
    }
    inv_findings.extend(c.out);
    inv_findings.sort_by_key(|f| f.level);
}

fn report_verdict(c: &mut Ctx, origin: Option<&str>, k: &str, v: Verdict) {
    let ver = format!(
        "MDAD {}",
        &c.man.playbook.commit[..12.min(c.man.playbook.commit.len())]
    );
    match v {
        Verdict::Settable | Verdict::VaultVar => {}
        Verdict::Banned { pattern, replacement } => c.err(
            "mdad-banned",
            origin,
            Some(k),
            format!("{ver} fails the play on variables matching {pattern}"),
            match replacement {
                Some(r) => format!("rename it to {r}"),
                None => "remove it; the component it configured is gone from MDAD".into(),
            },
        ),
        Verdict::Renamed { to } => c.err("mdad-renamed", origin, Some(k), format!("{ver} renamed this variable; the old name is ignored"), format!("use {to}")),
        Verdict::Computed { role } => c.err("mdad-computed", origin, Some(k), format!("{ver} computes this variable itself (role {role}); setting it overrides the derivation"), "remove it and set the variables it is derived from"),
        Verdict::Unknown { near } => c.err(
            "mdad-unknown",
            origin,
            Some(k),
            format!("no role of {ver} reads this variable: Ansible ignores it silently"),
            if near.is_empty() { "remove it or correct the name (see MDAD's docs/configuring-playbook-*.md)".into() } else { format!("remove it or use an existing name, e.g. {}", near.join(", ")) },
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::for_operators;

    #[test]
    fn design_note_numbers_leave_module_messages() {
        assert_eq!(
            for_operators("breaks index builds (DN-4). Session mode"),
            "breaks index builds. Session mode"
        );
        assert_eq!(
            for_operators("use session (the pools are sized for it, DN-11); or"),
            "use session (the pools are sized for it); or"
        );
        assert_eq!(for_operators("DN-1: bind the node"), "bind the node");
        assert_eq!(
            for_operators("see DN-14 and DN-x"),
            "see design note 14 and DN-x"
        );
    }
}
