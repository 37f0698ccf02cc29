//! `matrixha hosts`: the servers' /etc/hosts and the clients' DNS zone (split horizon, seed 001 §5).
//!
//! Servers resolve everything from /etc/hosts (no DNS server after the
//! internet is cut, 002 §1); clients need real DNS, and their UDP media must go
//! straight to the coturn and LiveKit nodes, never through HAProxy.

use crate::error::{CliError, Result};
use crate::inventory::{HostVars, Inventory};
use serde::Serialize;

#[derive(Debug, Serialize)]
pub struct HostsLine {
    pub address: String,
    pub names: Vec<String>,
    pub comment: String,
}

#[derive(Debug, Serialize)]
pub struct Record {
    pub name: String,
    pub address: String,
    pub comment: String,
}

#[derive(Debug, Serialize)]
pub struct Names {
    pub domain: String,
    pub etc_hosts: Vec<HostsLine>,
    pub zone: Vec<Record>,
}

fn addr(inv: &Inventory, h: &str) -> Option<String> {
    let hv = HostVars::new(inv, h);
    hv.str("matrixha_node_address")
        .or_else(|| hv.str("ansible_host"))
}

pub fn names(inv: &Inventory) -> Result<Names> {
    let any = inv.hosts().into_iter().next().ok_or_else(|| {
        CliError::new(
            "the inventory has no host",
            "write one with `matrixha init`",
        )
    })?;
    let hv = HostVars::new(inv, &any);
    let domain = hv
        .str("matrixha_domain")
        .ok_or_else(|| CliError::new("matrixha_domain is not set", "set it in group_vars/all"))?;
    let suffix = hv
        .str("matrixha_internal_suffix")
        .unwrap_or_else(|| "internal".into());
    let front = hv.str("matrixha_front_vip_address").ok_or_else(|| {
        CliError::new(
            "matrixha_front_vip_address is not set",
            "set the front VIP in group_vars/all",
        )
    })?;
    let mut lines = vec![HostsLine {
        address: "127.0.0.1".into(),
        names: vec!["localhost".into()],
        comment: String::new(),
    }];
    lines.push(HostsLine {
        address: front.clone(),
        names: vec![
            domain.clone(),
            format!("matrix.{domain}"),
            format!("livekit.{domain}"),
            format!("front-vip.{suffix}"),
            "front-vip".into(),
            "haproxy-vip".into(),
        ],
        comment: "front VIP: HTTPS of Matrix, Element and LiveKit signalling (servers use it too)"
            .into(),
    });
    for (var, names, comment) in [
        (
            "db_vip_address",
            vec![
                format!("db-vip.{suffix}"),
                "db-vip".into(),
                "patroni-vip".into(),
            ],
            "DB writer VIP: PostgreSQL :5432, PgBouncer :6432",
        ),
        (
            "matrixha_s3_vip_address",
            vec![
                format!("s3-vip.{suffix}"),
                "s3-vip".into(),
                "minio-vip".into(),
            ],
            "S3 VIP",
        ),
    ] {
        if let Some(a) = hv.str(var) {
            lines.push(HostsLine {
                address: a,
                names,
                comment: comment.into(),
            });
        }
    }
    let coturn: Vec<String> = inv.group_hosts("coturn");
    let livekit: Vec<String> = inv.group_hosts("livekit_servers");
    let mut zone = vec![
        Record {
            name: format!("{domain}."),
            address: front.clone(),
            comment: "HAProxy front VIP (HTTPS)".into(),
        },
        Record {
            name: format!("matrix.{domain}."),
            address: front.clone(),
            comment: "HAProxy front VIP (HTTPS, federation :8448)".into(),
        },
        Record {
            name: format!("livekit.{domain}."),
            address: front.clone(),
            comment: "LiveKit signalling and lk-jwt-service through HAProxy".into(),
        },
    ];
    for h in inv.hosts() {
        let Some(a) = addr(inv, &h) else { continue };
        let mut n = vec![format!("{h}.{suffix}"), h.clone()];
        if coturn.contains(&h) || livekit.contains(&h) {
            n.push(format!("{h}.{domain}"));
            zone.push(Record {
                name: format!("{h}.{domain}."),
                address: a.clone(),
                comment: if coturn.contains(&h) {
                    "TURN, DIRECT (UDP/TCP 3478, TLS 5349, relay ports)".into()
                } else {
                    "LiveKit media, DIRECT (UDP 7882, 50100-50200; TCP 7881)".into()
                },
            });
        }
        lines.push(HostsLine {
            address: a,
            names: n,
            comment: String::new(),
        });
    }
    Ok(Names {
        domain,
        etc_hosts: lines,
        zone,
    })
}

pub fn render_hosts(n: &Names) -> String {
    let mut out = vec![
        format!(
            "# /etc/hosts for every server of {} (written by `matrixha hosts`).",
            n.domain
        ),
        "# The same file on every server; servers reach HTTPS services through the front VIP."
            .to_owned(),
    ];
    for l in &n.etc_hosts {
        let mut s = format!("{:<15} {}", l.address, l.names.join(" "));
        if !l.comment.is_empty() {
            s.push_str(&format!("  # {}", l.comment));
        }
        out.push(s);
    }
    out.join("\n") + "\n"
}

pub fn render_zone(n: &Names) -> String {
    let mut out = vec![
        format!(
            "; DNS records for the clients of {} (written by `matrixha hosts`).",
            n.domain
        ),
        "; HTTPS goes through the front VIP; TURN and LiveKit media go DIRECT to each node."
            .to_owned(),
    ];
    for r in &n.zone {
        out.push(format!(
            "{:<40} IN A {:<15} ; {}",
            r.name, r.address, r.comment
        ));
    }
    out.join("\n") + "\n"
}
