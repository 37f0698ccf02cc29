//! Connection-pool sizing: one function turns a scale profile into cp_max, PgBouncer pools and max_connections (DN-11).
//!
//! The chain is Synapse (processes × cp_max client connections) → PgBouncer on
//! every DB node → writer VIP → PostgreSQL primary. The seeds size each hop on
//! its own (19 × 10 = 190 clients, 3 × 50 = 150 server connections) and never
//! check that the hops fit together; in session mode the 40 extra clients wait
//! forever. [`size`] derives every number from one profile and refuses a plan
//! whose arithmetic does not close. `pgbouncer_pool` and the CLI both call it.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Synapse's own default (`cp_max: 10` in Twisted's adbapi pool, kept by MDAD).
pub const DEFAULT_CP_MAX: u32 = 10;
/// Synapse's default `cp_min`.
pub const DEFAULT_CP_MIN: u32 = 5;
/// PostgreSQL's default `superuser_reserved_connections`; these slots are part of
/// `max_connections` but never usable by the pool.
pub const SUPERUSER_RESERVED: u32 = 3;
/// Above this `max_connections` PostgreSQL spends more on per-backend memory
/// and snapshot scans than the pool saves; a plan that needs more should use
/// fewer processes or transaction pooling.
pub const MAX_CONNECTIONS_CEILING: u32 = 5000;

/// PgBouncer pool mode of the Synapse database (DN-4: session by default).
/// Parsing (`PoolMode::parse`, `Deserialize`) and the DN-4 verdict live in `crate::rules`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PoolMode {
    #[default]
    Session,
    Transaction,
    Statement,
}

impl PoolMode {
    pub fn as_str(self) -> &'static str {
        match self {
            PoolMode::Session => "session",
            PoolMode::Transaction => "transaction",
            PoolMode::Statement => "statement",
        }
    }
}

/// Connections PostgreSQL must keep free for everything that is not Synapse.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Headroom {
    /// Operators' psql sessions, migrations, the admin console's users.
    #[serde(default = "d_admin")]
    pub admin: u32,
    /// postgres_exporter and health checks.
    #[serde(default = "d_monitoring")]
    pub monitoring: u32,
    /// Patroni's own connections, pg_rewind and base backups of replicas.
    #[serde(default = "d_replication")]
    pub replication: u32,
    /// pgBackRest (backup-standby still opens a connection on the primary).
    #[serde(default = "d_backup")]
    pub backup: u32,
}

fn d_admin() -> u32 {
    5
}
fn d_monitoring() -> u32 {
    5
}
fn d_replication() -> u32 {
    6
}
fn d_backup() -> u32 {
    4
}

impl Default for Headroom {
    fn default() -> Headroom {
        Headroom {
            admin: d_admin(),
            monitoring: d_monitoring(),
            replication: d_replication(),
            backup: d_backup(),
        }
    }
}

impl Headroom {
    pub fn total(&self) -> u32 {
        self.admin + self.monitoring + self.replication + self.backup
    }
}

/// The scale profile. Optional fields are derived when absent; when given
/// (e.g. the `max_connections` PostgreSQL already runs with), the plan must
/// close with them or [`size`] fails.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScaleProfile {
    /// Synapse main process + workers, each with its own connection pool.
    pub synapse_processes: u32,
    #[serde(default)]
    pub cp_min: Option<u32>,
    #[serde(default)]
    pub cp_max: Option<u32>,
    #[serde(default = "d_nodes")]
    pub db_nodes: u32,
    #[serde(default = "d_nodes")]
    pub pgbouncer_nodes: u32,
    /// How many PgBouncer nodes may be down while every Synapse connection
    /// still gets a server connection. Default: what the DB tier itself
    /// survives (a 3-node etcd/Patroni quorum loses one node), capped at
    /// `pgbouncer_nodes - 1`.
    #[serde(default)]
    pub tolerated_pgbouncer_failures: Option<u32>,
    #[serde(default)]
    pub pool_mode: PoolMode,
    #[serde(default)]
    pub headroom: Headroom,
    #[serde(default)]
    pub default_pool_size: Option<u32>,
    #[serde(default)]
    pub reserve_pool_size: Option<u32>,
    #[serde(default)]
    pub max_client_conn: Option<u32>,
    #[serde(default)]
    pub max_connections: Option<u32>,
}

fn d_nodes() -> u32 {
    3
}

impl ScaleProfile {
    /// A profile with the defaults for everything but the process count.
    pub fn new(synapse_processes: u32) -> ScaleProfile {
        ScaleProfile {
            synapse_processes,
            cp_min: None,
            cp_max: None,
            db_nodes: d_nodes(),
            pgbouncer_nodes: d_nodes(),
            tolerated_pgbouncer_failures: None,
            pool_mode: PoolMode::Session,
            headroom: Headroom::default(),
            default_pool_size: None,
            reserve_pool_size: None,
            max_client_conn: None,
            max_connections: None,
        }
    }
}

/// Every number of a plan that closes, and how it was reached.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PoolPlan {
    pub cp_min: u32,
    pub cp_max: u32,
    /// processes × cp_max: the most connections Synapse ever opens.
    pub synapse_connections: u32,
    pub pool_mode: PoolMode,
    /// PgBouncer nodes left when the tolerated number has failed.
    pub surviving_pgbouncer_nodes: u32,
    /// Per PgBouncer node, for the Synapse database/user pair.
    pub default_pool_size: u32,
    pub reserve_pool_size: u32,
    /// Per PgBouncer node: caps its server connections to the database.
    pub max_db_connections: u32,
    /// Per PgBouncer node: all Synapse clients plus admin and monitoring can queue on one node.
    pub max_client_conn: u32,
    /// pgbouncer_nodes × max_db_connections: the most the pools can ever open.
    pub pooled_server_connections: u32,
    /// headroom + superuser_reserved_connections.
    pub reserved_connections: u32,
    /// The least `max_connections` that closes the plan.
    pub required_max_connections: u32,
    /// MDAD's rule: max(200 + cp_max × processes, 500).
    pub mdad_max_connections: u32,
    /// The value to run PostgreSQL with (given, or the larger of the two above, rounded up to 10).
    pub max_connections: u32,
    /// Human-readable arithmetic, one line per hop.
    pub explanation: Vec<String>,
}

/// A plan that does not close: which profile field, what is wrong, what to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SizingError {
    pub field: &'static str,
    pub problem: String,
    pub fix: String,
}

impl fmt::Display for SizingError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}. Fix: {}", self.field, self.problem, self.fix)
    }
}

impl std::error::Error for SizingError {}

fn err(field: &'static str, problem: String, fix: impl Into<String>) -> SizingError {
    SizingError {
        field,
        problem,
        fix: fix.into(),
    }
}

fn div_ceil(a: u32, b: u32) -> u32 {
    a.div_ceil(b.max(1))
}

fn round_up(v: u32, step: u32) -> u32 {
    div_ceil(v, step) * step
}

/// MDAD's default for PostgreSQL `max_connections`.
pub fn mdad_max_connections(cp_max: u32, processes: u32) -> u32 {
    (200 + cp_max * processes).max(500)
}

/// Derives a pool plan from `p`, or says why it cannot close.
pub fn size(p: &ScaleProfile) -> Result<PoolPlan, SizingError> {
    if p.synapse_processes == 0 || p.synapse_processes > 200 {
        return Err(err(
            "synapse_processes",
            format!(
                "{} Synapse processes is not a deployment",
                p.synapse_processes
            ),
            "count the main process plus every worker (1 to 200)",
        ));
    }
    let cp_max = p.cp_max.unwrap_or(DEFAULT_CP_MAX);
    let cp_min = p.cp_min.unwrap_or(DEFAULT_CP_MIN.min(cp_max));
    if cp_max == 0 || cp_max > 100 {
        return Err(err(
            "cp_max",
            format!("cp_max {cp_max} is outside 1..100"),
            "Synapse's default is 10; raise it only for a process that waits on its pool",
        ));
    }
    if cp_min > cp_max {
        return Err(err(
            "cp_min",
            format!("cp_min {cp_min} is larger than cp_max {cp_max}"),
            "set cp_min at most cp_max (Synapse's defaults are 5 and 10)",
        ));
    }
    if p.db_nodes == 0 {
        return Err(err(
            "db_nodes",
            "no database node".into(),
            "count the Patroni nodes (3)",
        ));
    }
    if p.pgbouncer_nodes == 0 {
        return Err(err(
            "pgbouncer_nodes",
            "no PgBouncer node".into(),
            "PgBouncer runs on every DB node: count them",
        ));
    }
    let quorum_tolerance = (p.db_nodes - 1) / 2;
    let tolerated = p
        .tolerated_pgbouncer_failures
        .unwrap_or(quorum_tolerance.min(p.pgbouncer_nodes - 1));
    if tolerated >= p.pgbouncer_nodes {
        return Err(err(
            "tolerated_pgbouncer_failures",
            format!(
                "{tolerated} failures of {} PgBouncer nodes leaves none to serve Synapse",
                p.pgbouncer_nodes
            ),
            format!("set it below {}", p.pgbouncer_nodes),
        ));
    }
    let surviving = p.pgbouncer_nodes - tolerated;
    let clients = p.synapse_processes * cp_max;
    let mut why = vec![format!(
        "Synapse opens at most {} processes × cp_max {cp_max} = {clients} connections",
        p.synapse_processes
    )];

    // Session mode: a client holds its server connection for its whole life,
    // so the surviving nodes together must hold every Synapse connection.
    // Transaction mode: a server connection is busy only during a transaction;
    // each process keeps at most cp_min transactions going in steady state,
    // and every process must be able to get at least one.
    let needed_pool = match p.pool_mode {
        PoolMode::Session => div_ceil(clients, surviving),
        PoolMode::Transaction | PoolMode::Statement => {
            div_ceil(p.synapse_processes * cp_min.max(1), surviving)
                .max(div_ceil(p.synapse_processes, surviving))
        }
    };
    let pool = p.default_pool_size.unwrap_or(needed_pool);
    if pool < needed_pool {
        let (fix, what) = match p.pool_mode {
            PoolMode::Session => (
                format!(
                    "set default_pool_size to at least {needed_pool}, lower cp_max, or add PgBouncer nodes"
                ),
                "in session mode the extra clients wait until query_wait_timeout and fail",
            ),
            _ => (
                format!("set default_pool_size to at least {needed_pool}"),
                "some processes would starve",
            ),
        };
        return Err(err(
            "default_pool_size",
            format!(
                "{pool} server connections per PgBouncer node is less than the {needed_pool} needed: \
                 {clients} Synapse connections over {surviving} surviving node(s) ({tolerated} of {} may fail), {what}",
                p.pgbouncer_nodes
            ),
            fix,
        ));
    }
    why.push(format!(
        "{} mode, {tolerated} of {} PgBouncer node(s) may fail: default_pool_size {pool} per node (needs {needed_pool})",
        p.pool_mode.as_str(),
        p.pgbouncer_nodes
    ));
    // The reserve serves clients that waited reserve_pool_timeout: a tenth of the pool, at least 2.
    let reserve = p.reserve_pool_size.unwrap_or(div_ceil(pool, 10).max(2));
    let per_node = pool + reserve;
    let admin_clients = p.headroom.admin + p.headroom.monitoring;
    // Every Synapse client may queue on one node (the others down); refusing
    // them would turn a slowdown into errors.
    let needed_clients = clients + admin_clients;
    let max_client_conn = p.max_client_conn.unwrap_or(round_up(needed_clients, 50));
    if max_client_conn < needed_clients {
        return Err(err(
            "max_client_conn",
            format!(
                "{max_client_conn} client connections per node cannot hold the {clients} Synapse \
                 connections plus {admin_clients} admin/monitoring clients that land on one node when the others fail"
            ),
            format!("set max_client_conn to at least {needed_clients}"),
        ));
    }
    let pooled = p.pgbouncer_nodes * per_node;
    let reserved = p.headroom.total() + SUPERUSER_RESERVED;
    let required = pooled + reserved;
    why.push(format!(
        "PostgreSQL: {} PgBouncer nodes × (pool {pool} + reserve {reserve}) = {pooled} \
         + headroom {} (admin {}, monitoring {}, replication {}, backup {}) + {SUPERUSER_RESERVED} superuser-reserved = {required}",
        p.pgbouncer_nodes,
        p.headroom.total(),
        p.headroom.admin,
        p.headroom.monitoring,
        p.headroom.replication,
        p.headroom.backup
    ));
    let mdad = mdad_max_connections(cp_max, p.synapse_processes);
    let max_connections = match p.max_connections {
        Some(given) if given < required => {
            return Err(err(
                "max_connections",
                format!(
                    "PostgreSQL max_connections {given} is less than the {required} the pools can open \
                     ({pooled} pooled + {reserved} reserved)"
                ),
                format!(
                    "raise max_connections to at least {required}, or shrink the pools \
                     (fewer PgBouncer nodes, lower cp_max, or allow fewer tolerated failures)"
                ),
            ))
        }
        Some(given) => given,
        None => round_up(required.max(mdad), 10),
    };
    if max_connections > MAX_CONNECTIONS_CEILING {
        return Err(err(
            "max_connections",
            format!("the plan needs max_connections {max_connections}, above {MAX_CONNECTIONS_CEILING}"),
            "use fewer Synapse processes or a lower cp_max, or transaction pooling with the ALTER ROLE settings of DN-4",
        ));
    }
    why.push(format!(
        "max_connections {max_connections} (required {required}, MDAD rule max(200 + {cp_max} × {}, 500) = {mdad})",
        p.synapse_processes
    ));
    Ok(PoolPlan {
        cp_min,
        cp_max,
        synapse_connections: clients,
        pool_mode: p.pool_mode,
        surviving_pgbouncer_nodes: surviving,
        default_pool_size: pool,
        reserve_pool_size: reserve,
        max_db_connections: per_node,
        max_client_conn,
        pooled_server_connections: pooled,
        reserved_connections: reserved,
        required_max_connections: required,
        mdad_max_connections: mdad,
        max_connections,
        explanation: why,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    // Seed 002 §Worker Configuration: main + 4 sync, 2 generic, 2 federation_sender,
    // 1 event_persister (small); 6/3/3/2 (medium); 8/4/4/2 (large).
    const SMALL: u32 = 1 + 4 + 2 + 2 + 1;
    const MEDIUM: u32 = 1 + 6 + 3 + 3 + 2;
    const LARGE: u32 = 1 + 8 + 4 + 4 + 2;

    #[test]
    fn small_scale_closes_within_mdad_default() {
        let plan = size(&ScaleProfile::new(SMALL)).unwrap();
        assert_eq!(plan.synapse_connections, 100);
        assert_eq!(
            plan.default_pool_size, 50,
            "100 clients over 2 surviving nodes"
        );
        assert_eq!(plan.reserve_pool_size, 5);
        assert_eq!(plan.pooled_server_connections, 3 * 55);
        assert_eq!(plan.required_max_connections, 165 + 20 + 3);
        assert_eq!(plan.max_connections, 500, "MDAD's floor of 500 is larger");
        assert_eq!(plan.max_client_conn, 150);
    }

    #[test]
    fn medium_scale_closes() {
        let plan = size(&ScaleProfile::new(MEDIUM)).unwrap();
        assert_eq!(plan.synapse_connections, 150);
        assert_eq!(plan.default_pool_size, 75);
        assert_eq!(plan.reserve_pool_size, 8);
        assert_eq!(plan.required_max_connections, 3 * 83 + 23);
        assert_eq!(plan.max_connections, 500);
    }

    #[test]
    fn large_scale_closes_and_the_seed_pool_of_50_does_not() {
        let plan = size(&ScaleProfile::new(LARGE)).unwrap();
        assert_eq!(plan.synapse_connections, 190);
        assert_eq!(plan.default_pool_size, 95);
        assert_eq!(plan.max_db_connections, 105);
        assert_eq!(plan.required_max_connections, 315 + 23);
        assert_eq!(plan.mdad_max_connections, 500);
        assert_eq!(plan.max_connections, 500);
        assert_eq!(plan.max_client_conn, 200);

        // DN-11: the seeds' default_pool_size 50 leaves 40 of 190 clients waiting.
        let seeds = ScaleProfile {
            default_pool_size: Some(50),
            ..ScaleProfile::new(LARGE)
        };
        let e = size(&seeds).unwrap_err();
        assert_eq!(e.field, "default_pool_size");
        assert!(e.problem.contains("less than the 95 needed"), "{e}");
        assert!(e.fix.contains("at least 95"), "{e}");
    }

    #[test]
    fn every_pgbouncer_node_carrying_everything_needs_more_than_500() {
        let p = ScaleProfile {
            tolerated_pgbouncer_failures: Some(2),
            max_connections: Some(500),
            ..ScaleProfile::new(LARGE)
        };
        let e = size(&p).unwrap_err();
        assert_eq!(e.field, "max_connections");
        assert!(e.problem.contains("less than the 650"), "{e}");
        assert!(e.fix.contains("at least 650"), "{e}");
        let p = ScaleProfile {
            max_connections: None,
            ..p
        };
        assert_eq!(size(&p).unwrap().max_connections, 650);
    }

    #[test]
    fn a_given_max_connections_that_fits_is_kept() {
        let p = ScaleProfile {
            max_connections: Some(400),
            ..ScaleProfile::new(LARGE)
        };
        assert_eq!(size(&p).unwrap().max_connections, 400);
    }

    #[test]
    fn single_pgbouncer_node_must_hold_every_connection() {
        let p = ScaleProfile {
            pgbouncer_nodes: 1,
            ..ScaleProfile::new(LARGE)
        };
        let plan = size(&p).unwrap();
        assert_eq!(plan.surviving_pgbouncer_nodes, 1);
        assert_eq!(plan.default_pool_size, 190);
    }

    #[test]
    fn transaction_mode_needs_smaller_pools() {
        let p = ScaleProfile {
            pool_mode: PoolMode::Transaction,
            ..ScaleProfile::new(LARGE)
        };
        let plan = size(&p).unwrap();
        assert_eq!(plan.default_pool_size, 48, "19 × cp_min 5 over 2 nodes");
    }

    #[test]
    fn plans_that_do_not_close_name_the_field() {
        let cases: Vec<(ScaleProfile, &str)> = vec![
            (ScaleProfile::new(0), "synapse_processes"),
            (
                ScaleProfile {
                    cp_min: Some(20),
                    ..ScaleProfile::new(LARGE)
                },
                "cp_min",
            ),
            (
                ScaleProfile {
                    cp_max: Some(0),
                    ..ScaleProfile::new(LARGE)
                },
                "cp_max",
            ),
            (
                ScaleProfile {
                    pgbouncer_nodes: 0,
                    ..ScaleProfile::new(LARGE)
                },
                "pgbouncer_nodes",
            ),
            (
                ScaleProfile {
                    tolerated_pgbouncer_failures: Some(3),
                    ..ScaleProfile::new(LARGE)
                },
                "tolerated_pgbouncer_failures",
            ),
            (
                ScaleProfile {
                    max_client_conn: Some(100),
                    ..ScaleProfile::new(LARGE)
                },
                "max_client_conn",
            ),
            (
                ScaleProfile {
                    cp_max: Some(100),
                    tolerated_pgbouncer_failures: Some(2),
                    synapse_processes: 40,
                    ..ScaleProfile::new(LARGE)
                },
                "max_connections",
            ),
        ];
        for (p, field) in cases {
            let e = size(&p).unwrap_err();
            assert_eq!(e.field, field, "{e}");
            assert!(e.to_string().contains(". Fix: "), "{e}");
        }
    }

    #[test]
    fn explanation_shows_the_arithmetic() {
        let plan = size(&ScaleProfile::new(LARGE)).unwrap();
        let text = plan.explanation.join("\n");
        assert!(text.contains("19 processes × cp_max 10 = 190"), "{text}");
        assert!(text.contains("MDAD rule"), "{text}");
    }
}
