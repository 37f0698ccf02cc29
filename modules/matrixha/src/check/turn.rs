//! TURN: coturn_config's rules for the secret, listeners, ports and peers, plus which hosts TURN could reach.

use super::{flag, role_port, Ctx};
use crate::typed;
use coturn_config::peers::{self, PeerRequest};
use coturn_config::rules as turn_rules;
use matrixha_module::ModuleError;
use serde_yaml::Value;
use std::net::IpAddr;

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

pub(super) fn turn(c: &mut Ctx) {
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
