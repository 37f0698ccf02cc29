//! Addresses and ports: VIPs in their subnets, VRRP ids, binds that clash (DN-1), pg_hba sources.

use super::{flag, num, role_port, Ctx};
use crate::inventory::plain_ref;
use crate::net::{is_network_or_broadcast, parse_ip, parse_net, subnet};
use ipnet::Ipv4Net;
use pgbouncer_pool::rules::{self, is_wildcard};
use serde_yaml::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;

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

pub(super) fn vips(c: &mut Ctx) {
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

pub(super) fn binds(c: &mut Ctx) {
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
            super::pools::pool_finding(c, "wildcard-bind", &h, "pgbouncer_listen_addresses", f);
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

pub(super) fn pg_hba(c: &mut Ctx) {
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
