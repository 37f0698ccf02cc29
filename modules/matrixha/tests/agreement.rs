//! `matrixha check` and the modules agree: one table of values, fed to both, same verdict.
//!
//! Each row substitutes one value into a generated, passing large inventory and
//! runs `matrixha check` on it; the same value goes into the parameters the role
//! hands the module (collection/roles/*/tasks/*.yml), which the module crate
//! validates as the module binary would. Both must reach the row's verdict: a
//! rule with one home cannot answer differently in the two places.

use serde_json::{json, Value as Json};
use std::path::{Path, PathBuf};
use std::process::Command;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Verdict {
    Accept,
    Warning,
    Error,
}
use Verdict::*;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

fn run(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_matrixha"))
        .args(args)
        .current_dir(repo())
        .output()
        .unwrap()
}

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(files_under(&p));
        } else {
            out.push(p);
        }
    }
    out
}

/// A large inventory that passes `check`: plaintext vault, placeholders filled.
fn clean_large(tmp: &Path) -> PathBuf {
    let inv = tmp.join("base");
    let o = run(&[
        "init",
        "--scale",
        "large",
        "--ip-plan",
        "inventories/examples/seed-ip-plan.yml",
        "--out",
        inv.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{o:?}");
    let o = run(&[
        "secrets",
        "--plaintext",
        "--out",
        inv.join("group_vars/all/vault.yml").to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{o:?}");
    for f in files_under(&inv) {
        let t = std::fs::read_to_string(&f)
            .unwrap()
            .replace("- CHANGE_TO_YOUR_CLIENT_SUBNETS", "- 10.20.0.0/16")
            .replace("CHANGE_TO_PATH_OF_FRONT_TLS_PEM", "/etc/ssl/front.pem")
            .replace("CHANGE_TO_PATH_OF_COTURN_TLS_CERT", "/etc/ssl/turn.crt")
            .replace("CHANGE_TO_PATH_OF_COTURN_TLS_KEY", "/etc/ssl/turn.key");
        std::fs::write(&f, t).unwrap();
    }
    let o = run(&["check", "-i", inv.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{o:?}");
    inv
}

/// What the inventory holds, as the role would read it (for the module's side).
struct Plan {
    server_subnets: Json,
    pools: serde_yaml::Mapping,
}

fn plan_of(inv: &Path) -> Plan {
    let read = |rel: &str| -> serde_yaml::Mapping {
        serde_yaml::from_str(&std::fs::read_to_string(inv.join(rel)).unwrap()).unwrap()
    };
    let all = read("group_vars/all/main.yml");
    Plan {
        server_subnets: serde_json::to_value(&all["matrixha_server_subnets"]).unwrap(),
        pools: read("group_vars/pgbouncer.yml"),
    }
}

/// `check` on the base inventory with `var: value` in `host_vars/<host>.yml`; the
/// verdict of the findings of `rules` about `var`.
fn cli_verdict(
    base: &Path,
    n: usize,
    host: &str,
    var: &str,
    yaml: &str,
    rules: &[&str],
) -> Verdict {
    let inv = base.parent().unwrap().join(format!("case{n}"));
    let st = Command::new("cp")
        .arg("-r")
        .arg(base)
        .arg(&inv)
        .status()
        .unwrap();
    assert!(st.success());
    std::fs::create_dir_all(inv.join("host_vars")).unwrap();
    std::fs::write(
        inv.join(format!("host_vars/{host}.yml")),
        format!("{var}: {yaml}\n"),
    )
    .unwrap();
    let o = run(&["check", "-i", inv.to_str().unwrap(), "--format", "json"]);
    let v: Json = serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&o.stderr)));
    v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["variable"] == var && rules.iter().any(|r| f["rule"] == *r))
        .map(|f| {
            if f["level"] == "error" {
                Error
            } else {
                Warning
            }
        })
        .max()
        .unwrap_or(Accept)
}

fn yaml_json(yaml: &str) -> Json {
    let v: serde_yaml::Value = serde_yaml::from_str(yaml).unwrap();
    serde_json::to_value(v).unwrap()
}

/// roles/coturn/tasks/configure.yml for coturn1 of the large plan; `param` replaced.
fn coturn_verdict(plan: &Plan, param: &str, value: Json) -> Verdict {
    let mut a = json!({
        "path": "/etc/turnserver.conf",
        "realm": "chat.z3r0d3v.com",
        "server_name": "coturn1.chat.z3r0d3v.com",
        "static_auth_secret": "0123456789abcdef0123456789abcdef01234567",
        "listening_ips": ["10.0.5.11"],
        "relay_ips": ["10.0.5.11"],
        "listening_port": 3478,
        "tls_listening_port": 5349,
        "min_port": 49152,
        "max_port": 65535,
        "service_user": "",
        "server_subnets": plan.server_subnets,
        "client_subnets": ["10.20.0.0/16"],
        "deny_private_ranges": false,
    });
    a[param] = value;
    let p: coturn_config::Params = match matrixha_module::from_value(a) {
        Ok(p) => p,
        Err(_) => return Error,
    };
    match p {
        coturn_config::Params::Present(c) => match c.validate() {
            Ok(peers) if peers.warnings.is_empty() => Accept,
            Ok(_) => Warning,
            Err(_) => Error,
        },
        coturn_config::Params::Probe(_) => panic!("state present expected"),
    }
}

/// roles/pgbouncer/tasks/configure.yml for patroni1 of the large plan; `edit` applied.
fn pgbouncer_verdict(plan: &Plan, edit: impl FnOnce(&mut Json)) -> Verdict {
    let n = |k: &str| plan.pools[k].as_u64().unwrap();
    let pw = "Aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa1";
    let mut a = json!({
        "path": "/etc/pgbouncer/pgbouncer.ini",
        "auth_file": "/etc/pgbouncer/userlist.txt",
        "listen_addr": ["10.0.3.11", "127.0.0.1"],
        "listen_port": 6432,
        "pool_mode": plan.pools["pgbouncer_pool_mode"].as_str().unwrap(),
        "admin_users": ["pgbouncer_admin"],
        "stats_users": [],
        "users": [{"name": "synapse", "password": pw}, {"name": "pgbouncer_admin", "password": pw}],
        "databases": [{"name": "synapse", "host": "10.0.3.10", "port": 5432,
                       "pool_mode": plan.pools["pgbouncer_pool_mode"].as_str().unwrap()}],
        "default_pool_size": n("pgbouncer_default_pool_size"),
        "reserve_pool_size": n("pgbouncer_reserve_pool_size"),
        "max_client_conn": n("pgbouncer_max_client_conn"),
        "capacity": {
            "synapse_database": "synapse",
            "synapse_processes": n("pgbouncer_synapse_processes"),
            "cp_min": n("pgbouncer_synapse_cp_min"),
            "cp_max": n("pgbouncer_synapse_cp_max"),
            "db_nodes": 3,
            "pgbouncer_nodes": 3,
            "postgres_max_connections": 500,
        },
        "verifier_source": {"host": "10.0.3.10", "port": 5432, "user": "postgres", "password": pw},
        "admin": {"host": "127.0.0.1", "port": 6432, "user": "pgbouncer_admin", "password": pw},
        "service": "pgbouncer",
    });
    edit(&mut a);
    let p: pgbouncer_pool::Params = match matrixha_module::from_value(a) {
        Ok(p) => p,
        Err(_) => return Error,
    };
    if p.validate().is_err() {
        return Error;
    }
    // The rules PgbouncerPool::run applies after validate(), before any I/O.
    let mut found = Vec::new();
    if let Some((mode, _)) = p.synapse_pool_mode() {
        found.extend(pgbouncer_pool::rules::pool_mode_finding(
            mode,
            p.session_settings_per_role,
        ));
    }
    found.extend(pgbouncer_pool::rules::listen_addr_finding(&p.listen_addr));
    found
        .iter()
        .map(|f| match f.level {
            pgbouncer_pool::rules::Level::Error => Error,
            pgbouncer_pool::rules::Level::Warning => Warning,
        })
        .max()
        .unwrap_or(Accept)
}

/// roles/patroni/tasks/{configure,synapse_db}.yml; `param` replaced.
fn patroni_verdict(action: &str, param: &str, value: Json) -> Verdict {
    let pw = "Bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb2";
    let mut a = match action {
        "config" => json!({
            "action": "config", "scope": "synapse", "name": "patroni1",
            "node_address": "10.0.3.11", "restapi_port": 8008, "postgres_port": 5432,
            "api_url": "http://10.0.3.11:8008", "etcd3_hosts": ["10.0.3.11:2379"],
            "data_dir": "/var/lib/postgresql/15/main", "bin_dir": "/usr/lib/postgresql/15/bin",
            "superuser_username": "postgres", "superuser_password": pw,
            "replication_username": "replicator", "replication_password": pw,
            "cluster_networks": ["10.0.3.0/24"],
        }),
        _ => json!({
            "action": "database", "api_url": "http://10.0.3.11:8008",
            "db_name": "synapse", "db_owner": "synapse", "db_owner_password": pw,
            "db_encoding": "UTF8", "db_lc_collate": "C", "db_lc_ctype": "C",
            "login_user": "postgres", "login_password": pw,
        }),
    };
    a[param] = value;
    match matrixha_module::from_value::<patroni_cluster::Params>(a) {
        Ok(p) => match patroni_cluster::validate(&p) {
            Ok(()) => Accept,
            Err(e) => {
                eprintln!("  patroni_cluster: {e}");
                Error
            }
        },
        Err(e) => {
            eprintln!("  patroni_cluster: {e}");
            Error
        }
    }
}

/// Which module the value goes to, under which parameter.
enum Module {
    Coturn(&'static str),
    /// The role passes pgbouncer_pool_mode twice: pool_mode and the Synapse database's pool_mode.
    PgbouncerPoolMode,
    PgbouncerParam(&'static str),
    /// pgbouncer_admin_password: the admin user's password and admin.password.
    PgbouncerAdminPassword,
    Patroni(&'static str, &'static str),
}

struct Row {
    host: &'static str,
    var: &'static str,
    yaml: String,
    cli_rules: &'static [&'static str],
    module: Module,
    want: Verdict,
}

fn row(
    host: &'static str,
    var: &'static str,
    yaml: impl Into<String>,
    cli_rules: &'static [&'static str],
    module: Module,
    want: Verdict,
) -> Row {
    Row {
        host,
        var,
        yaml: yaml.into(),
        cli_rules,
        module,
        want,
    }
}

const SECRET_RULES: &[&str] = &["secret-short", "secret-invalid", "secret-type"];

#[test]
fn check_and_the_modules_reach_the_same_verdict_on_every_shared_rule() {
    let tmp = tempfile::tempdir().unwrap();
    let base = clean_large(tmp.path());
    let plan = plan_of(&base);
    let q = |s: String| format!("'{s}'");
    let rows = vec![
        // TURN shared secret: coturn_config::rules (32 characters; main's check took 24).
        row(
            "coturn1",
            "coturn_static_auth_secret",
            q("a".repeat(24)),
            SECRET_RULES,
            Module::Coturn("static_auth_secret"),
            Error,
        ),
        row(
            "coturn1",
            "coturn_static_auth_secret",
            q("a".repeat(31)),
            SECRET_RULES,
            Module::Coturn("static_auth_secret"),
            Error,
        ),
        row(
            "coturn1",
            "coturn_static_auth_secret",
            q("0123456789abcdef".repeat(2)),
            SECRET_RULES,
            Module::Coturn("static_auth_secret"),
            Accept,
        ),
        row(
            "coturn1",
            "coturn_static_auth_secret",
            q(format!("{}#{}", "a".repeat(20), "b".repeat(20))),
            SECRET_RULES,
            Module::Coturn("static_auth_secret"),
            Error,
        ),
        row(
            "coturn1",
            "coturn_static_auth_secret",
            "1234567890123456789",
            SECRET_RULES,
            Module::Coturn("static_auth_secret"),
            Error,
        ),
        row(
            "coturn1",
            "coturn_static_auth_secret",
            "[a-list-is-not-a-secret-0123456789]",
            SECRET_RULES,
            Module::Coturn("static_auth_secret"),
            Error,
        ),
        // Pool mode: pgbouncer_pool::rules (main: check error vs module warning; unknown
        // modes passed check as session).
        row(
            "patroni1",
            "pgbouncer_pool_mode",
            "session",
            &["pool-mode"],
            Module::PgbouncerPoolMode,
            Accept,
        ),
        row(
            "patroni1",
            "pgbouncer_pool_mode",
            "transaction",
            &["pool-mode"],
            Module::PgbouncerPoolMode,
            Error,
        ),
        row(
            "patroni1",
            "pgbouncer_pool_mode",
            "statement",
            &["pool-mode"],
            Module::PgbouncerPoolMode,
            Error,
        ),
        row(
            "patroni1",
            "pgbouncer_pool_mode",
            "Session",
            &["pool-mode"],
            Module::PgbouncerPoolMode,
            Error,
        ),
        row(
            "patroni1",
            "pgbouncer_pool_mode",
            "statment",
            &["pool-mode"],
            Module::PgbouncerPoolMode,
            Error,
        ),
        // PostgreSQL passwords: pg_auth::MIN_PASSWORD_LEN (main: 24 in check, 12 in patroni_cluster).
        row(
            "patroni1",
            "patroni_superuser_password",
            q("x".repeat(12)),
            SECRET_RULES,
            Module::Patroni("config", "superuser_password"),
            Error,
        ),
        row(
            "patroni1",
            "patroni_superuser_password",
            q("x".repeat(23)),
            SECRET_RULES,
            Module::Patroni("config", "superuser_password"),
            Error,
        ),
        row(
            "patroni1",
            "patroni_superuser_password",
            q("x".repeat(24)),
            SECRET_RULES,
            Module::Patroni("config", "superuser_password"),
            Accept,
        ),
        // One rule (pg_auth::check_password) also for non-ASCII: main's patroni_cluster
        // accepted this superuser password while check refused it.
        row(
            "patroni1",
            "patroni_superuser_password",
            q(format!("{}ä", "x".repeat(30))),
            SECRET_RULES,
            Module::Patroni("config", "superuser_password"),
            Error,
        ),
        row(
            "patroni1",
            "patroni_replication_password",
            q("y".repeat(16)),
            SECRET_RULES,
            Module::Patroni("config", "replication_password"),
            Error,
        ),
        row(
            "patroni1",
            "patroni_synapse_db_password",
            q("z".repeat(20)),
            SECRET_RULES,
            Module::Patroni("database", "db_owner_password"),
            Error,
        ),
        row(
            "patroni1",
            "patroni_synapse_db_password",
            q("z".repeat(30)),
            SECRET_RULES,
            Module::Patroni("database", "db_owner_password"),
            Accept,
        ),
        row(
            "patroni1",
            "patroni_synapse_db_password",
            "1234567890123456789",
            SECRET_RULES,
            Module::Patroni("database", "db_owner_password"),
            Error,
        ),
        row(
            "patroni1",
            "pgbouncer_admin_password",
            q("w".repeat(20)),
            SECRET_RULES,
            Module::PgbouncerAdminPassword,
            Error,
        ),
        row(
            "patroni1",
            "pgbouncer_admin_password",
            q("w".repeat(30)),
            SECRET_RULES,
            Module::PgbouncerAdminPassword,
            Accept,
        ),
        row(
            "patroni1",
            "pgbouncer_admin_password",
            q(format!("{}ä", "w".repeat(30))),
            SECRET_RULES,
            Module::PgbouncerAdminPassword,
            Error,
        ),
        // TURN peers: coturn_config::peers (overlap with servers or special ranges; a
        // private client subnet with every private range denied stays allowed).
        row(
            "coturn1",
            "coturn_client_subnets",
            "[10.20.0.0/16]",
            &["turn-peers"],
            Module::Coturn("client_subnets"),
            Accept,
        ),
        row(
            "coturn1",
            "coturn_client_subnets",
            "[10.0.3.0/25]",
            &["turn-peers"],
            Module::Coturn("client_subnets"),
            Error,
        ),
        row(
            "coturn1",
            "coturn_client_subnets",
            "[10.0.0.0/8]",
            &["turn-peers"],
            Module::Coturn("client_subnets"),
            Error,
        ),
        row(
            "coturn1",
            "coturn_client_subnets",
            "[127.0.0.0/16]",
            &["turn-peers"],
            Module::Coturn("client_subnets"),
            Error,
        ),
        row(
            "coturn1",
            "coturn_client_subnets",
            "[10.20.0.0/33]",
            &["turn-peers"],
            Module::Coturn("client_subnets"),
            Error,
        ),
        row(
            "coturn1",
            "coturn_deny_private_ranges",
            "true",
            &["turn-peers"],
            Module::Coturn("deny_private_ranges"),
            Accept,
        ),
        // Wildcard binds (DN-1): coturn refuses them, PgBouncer warns.
        row(
            "coturn1",
            "coturn_listening_ips",
            "['0.0.0.0']",
            &["wildcard-bind"],
            Module::Coturn("listening_ips"),
            Error,
        ),
        row(
            "coturn1",
            "coturn_listening_ips",
            "['::']",
            &["wildcard-bind"],
            Module::Coturn("listening_ips"),
            Error,
        ),
        row(
            "coturn1",
            "coturn_listening_ips",
            "['10.0.5.11']",
            &["wildcard-bind"],
            Module::Coturn("listening_ips"),
            Accept,
        ),
        row(
            "coturn1",
            "coturn_relay_ips",
            "['0.0.0.0']",
            &["wildcard-bind"],
            Module::Coturn("relay_ips"),
            Error,
        ),
        row(
            "patroni3",
            "pgbouncer_listen_addresses",
            "['0.0.0.0']",
            &["wildcard-bind"],
            Module::PgbouncerParam("listen_addr"),
            Warning,
        ),
        row(
            "patroni3",
            "pgbouncer_listen_addresses",
            "['*']",
            &["wildcard-bind"],
            Module::PgbouncerParam("listen_addr"),
            Warning,
        ),
        row(
            "patroni3",
            "pgbouncer_listen_addresses",
            "['10.0.3.13', 127.0.0.1]",
            &["wildcard-bind"],
            Module::PgbouncerParam("listen_addr"),
            Accept,
        ),
        // coturn's ports: coturn_config::rules::check_ports.
        row(
            "coturn1",
            "coturn_min_port",
            "3000",
            &["turn-ports"],
            Module::Coturn("min_port"),
            Error,
        ),
        row(
            "coturn1",
            "coturn_listening_port",
            "50000",
            &["turn-ports"],
            Module::Coturn("listening_port"),
            Error,
        ),
        // Pool sizing: pgbouncer_pool::sizing through the module's capacity check.
        row(
            "patroni1",
            "pgbouncer_default_pool_size",
            "50",
            &["pool-arithmetic"],
            Module::PgbouncerParam("default_pool_size"),
            Error,
        ),
        row(
            "patroni1",
            "pgbouncer_default_pool_size",
            "100",
            &["pool-arithmetic"],
            Module::PgbouncerParam("default_pool_size"),
            Accept,
        ),
    ];
    let mut wrong = Vec::new();
    for (i, r) in rows.iter().enumerate() {
        let cli = cli_verdict(&base, i, r.host, r.var, &r.yaml, r.cli_rules);
        let value = yaml_json(&r.yaml);
        let module = match &r.module {
            Module::Coturn(param) => coturn_verdict(&plan, param, value),
            Module::PgbouncerPoolMode => pgbouncer_verdict(&plan, |a| {
                a["pool_mode"] = value.clone();
                a["databases"][0]["pool_mode"] = value;
            }),
            Module::PgbouncerParam(param) => pgbouncer_verdict(&plan, |a| a[*param] = value),
            Module::PgbouncerAdminPassword => pgbouncer_verdict(&plan, |a| {
                a["users"][1]["password"] = value.clone();
                a["admin"]["password"] = value;
            }),
            Module::Patroni(action, param) => patroni_verdict(action, param, value),
        };
        let line = format!(
            "{}={}: check {cli:?}, module {module:?}, expected {:?}",
            r.var, r.yaml, r.want
        );
        eprintln!("{line}");
        if cli != module || cli != r.want {
            wrong.push(line);
        }
    }
    assert!(
        wrong.is_empty(),
        "check and the modules disagree (or miss the expected verdict):\n{}",
        wrong.join("\n")
    );
}
