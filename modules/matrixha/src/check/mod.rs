//! `matrixha check`: every rule a plan must pass, each problem with its host, variable and fix.

mod mdad;
mod network;
mod pools;
mod secret_rules;
mod topology;
mod turn;

use crate::inventory::{plain_ref, HostVars, Inventory};
use crate::manifest::Manifest;
use crate::net::parse_ip;
use crate::role_defaults;
use crate::typed;
use serde::Serialize;
use std::collections::BTreeMap;
use std::net::Ipv4Addr;

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

/// Every number variable the rules read besides [`ROLE_NUMBERS`]: the module that
/// receives one reads it with `matrixha_module::lenient::int`, so a value that is
/// not a whole number fails there and is an error here, not a silent default.
const OTHER_NUMBERS: &[&str] = &[
    "matrixha_tcp_keepalive_idle",
    "matrixha_tcp_keepalive_interval",
    "matrixha_tcp_keepalive_count",
    "matrixha_tcp_user_timeout_ms",
    "pgbouncer_synapse_processes",
    "pgbouncer_default_pool_size",
    "pgbouncer_reserve_pool_size",
    "pgbouncer_max_client_conn",
    "pgbouncer_tolerated_failures",
    "pgbouncer_postgres_max_connections",
    "patroni_max_connections",
    "matrixha_object_store_port",
    "matrixha_object_store_console_port",
    "matrixha_object_store_parity",
];

fn number_types(c: &mut Ctx) {
    for h in c.inv.hosts() {
        for name in ROLE_NUMBERS.iter().chain(OTHER_NUMBERS) {
            let Some(v) = c.h(&h).get(name) else {
                continue;
            };
            // The roles' "" means unset (they pass `default(omit, true)`).
            if v.as_str().is_some_and(str::is_empty) {
                continue;
            }
            if let Err(e) = typed::var_problem::<typed::Whole>(name, &v).map(|typed::Whole(n)| n) {
                let origin = c.inv.origin(&h, name);
                c.err("type", Some(&origin), Some(name), e, "write a whole number");
            }
        }
    }
}

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
    number_types(&mut c);
    topology::quorum(&mut c);
    topology::object_store(&mut c);
    network::vips(&mut c);
    network::binds(&mut c);
    network::pg_hba(&mut c);
    pools::pools(&mut c);
    pools::keepalive(&mut c);
    turn::turn(&mut c);
    secret_rules::placeholders(&mut c);
    secret_rules::secrets_rule(&mut c);
    mdad::mdad(&mut c);
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

pub use mdad::check_mdad_file;
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
