//! PgBouncer's pools: pgbouncer_pool's pool-mode rule and sizing, against what Synapse really runs.

use super::{Ctx, Level};
use crate::role_defaults;
use pgbouncer_pool::rules;
use pgbouncer_pool::sizing::{self, PoolMode, ScaleProfile};
use serde_yaml::Value;
use std::collections::BTreeMap;

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
pub(super) fn pool_finding(
    c: &mut Ctx,
    rule: &'static str,
    host: &str,
    var: &str,
    f: rules::Finding,
) {
    let level = match f.level {
        rules::Level::Error => Level::Error,
        rules::Level::Warning => Level::Warning,
    };
    c.push(level, rule, Some(host), Some(var), f.problem, f.fix);
}

/// Dead-peer detection on every DB hop (issue 19): pgbouncer_pool's rule on the
/// one set of numbers the roles and the MDAD vars use.
pub(super) fn keepalive(c: &mut Ctx) {
    for h in c.inv.hosts() {
        let (idle, interval, count) = crate::mdad::keepalive(c.h(&h));
        if let Some(f) = rules::keepalive_finding(idle, interval, count) {
            let var = [
                "matrixha_tcp_keepalive_idle",
                "matrixha_tcp_keepalive_interval",
                "matrixha_tcp_keepalive_count",
            ]
            .into_iter()
            .find(|v| c.h(&h).get(v).is_some())
            .unwrap_or("matrixha_tcp_keepalive_idle");
            let origin = c.inv.origin(&h, var);
            pool_finding(c, "keepalive", &origin, var, f);
        }
    }
}

pub(super) fn pools(c: &mut Ctx) {
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
