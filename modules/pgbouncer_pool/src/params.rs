//! What the task asked for: PgBouncer settings, users and capacity, typed and validated without I/O.

pub use crate::sizing::PoolMode;
use crate::sizing::{self, Headroom, PoolPlan, ScaleProfile};
use matrixha_module::file::{parse_mode, Ownership};
use matrixha_module::{ModuleError, Secret};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Params {
    #[serde(default = "d_path")]
    pub path: String,
    #[serde(default = "d_auth_file")]
    pub auth_file: String,
    /// Node addresses PgBouncer binds (DN-1: never 0.0.0.0 on a node that may hold the DB VIP).
    pub listen_addr: Vec<String>,
    #[serde(default = "d_port", deserialize_with = "matrixha_module::lenient::int")]
    pub listen_port: u16,
    #[serde(default = "d_socket_dir")]
    pub unix_socket_dir: String,
    #[serde(default = "d_pidfile")]
    pub pidfile: String,
    #[serde(default = "d_logfile")]
    pub logfile: String,
    #[serde(default)]
    pub auth_type: AuthType,
    #[serde(default)]
    pub admin_users: Vec<String>,
    #[serde(default)]
    pub stats_users: Vec<String>,
    #[serde(default)]
    pub users: Vec<User>,
    pub databases: Vec<Database>,
    #[serde(default)]
    pub pool_mode: PoolMode,
    /// Synapse's session settings are role defaults (`ALTER ROLE … SET`, DN-4):
    /// the caller applied them, so transaction pooling is a warning, not an error.
    #[serde(default, deserialize_with = "matrixha_module::lenient::boolean")]
    pub session_settings_per_role: bool,
    #[serde(default, deserialize_with = "matrixha_module::lenient::opt_int")]
    pub default_pool_size: Option<u32>,
    #[serde(default, deserialize_with = "matrixha_module::lenient::int")]
    pub min_pool_size: u32,
    #[serde(default, deserialize_with = "matrixha_module::lenient::opt_int")]
    pub reserve_pool_size: Option<u32>,
    #[serde(
        default = "d_reserve_timeout",
        deserialize_with = "matrixha_module::lenient::int"
    )]
    pub reserve_pool_timeout: u32,
    #[serde(default, deserialize_with = "matrixha_module::lenient::opt_int")]
    pub max_client_conn: Option<u32>,
    #[serde(default, deserialize_with = "matrixha_module::lenient::opt_int")]
    pub max_db_connections: Option<u32>,
    #[serde(default = "d_reset_query")]
    pub server_reset_query: String,
    #[serde(default = "d_idle", deserialize_with = "matrixha_module::lenient::int")]
    pub server_idle_timeout: u32,
    #[serde(
        default = "d_lifetime",
        deserialize_with = "matrixha_module::lenient::int"
    )]
    pub server_lifetime: u32,
    #[serde(
        default = "d_connect_timeout",
        deserialize_with = "matrixha_module::lenient::int"
    )]
    pub server_connect_timeout: u32,
    #[serde(
        default = "d_query_wait",
        deserialize_with = "matrixha_module::lenient::int"
    )]
    pub query_wait_timeout: u32,
    /// More `[pgbouncer]` settings, written as given.
    #[serde(default)]
    pub settings: BTreeMap<String, String>,
    /// The Synapse deployment the pools serve; enables the DN-11 arithmetic check.
    #[serde(default)]
    pub capacity: Option<Capacity>,
    #[serde(default)]
    pub admin: Option<Admin>,
    /// A superuser connection to PostgreSQL (the writer VIP) to copy the roles'
    /// own SCRAM verifiers from, which PgBouncer needs to log in to the server.
    #[serde(default)]
    pub verifier_source: Option<VerifierSource>,
    #[serde(default = "d_service")]
    pub service: String,
    #[serde(default)]
    pub service_action: ServiceAction,
    /// `true`: PAUSE every database (maintenance); `false`: RESUME; absent: leave as is.
    #[serde(default, deserialize_with = "matrixha_module::lenient::opt_bool")]
    pub paused: Option<bool>,
    #[serde(default = "d_owner")]
    pub owner: Option<String>,
    #[serde(default = "d_owner")]
    pub group: Option<String>,
    #[serde(default = "d_mode")]
    pub mode: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
pub enum AuthType {
    #[default]
    #[serde(rename = "scram-sha-256")]
    ScramSha256,
    #[serde(rename = "md5")]
    Md5,
}

impl AuthType {
    pub fn as_str(self) -> &'static str {
        match self {
            AuthType::ScramSha256 => "scram-sha-256",
            AuthType::Md5 => "md5",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ServiceAction {
    /// RELOAD on the admin console; systemctl restart when a restart-only setting changed.
    #[default]
    Auto,
    /// RELOAD only; a restart-only change is reported (`restart_required`) and not applied.
    Reload,
    /// Write files only; `reload_required` / `restart_required` tell a handler what to do.
    None,
}

impl ServiceAction {
    pub fn as_str(self) -> &'static str {
        match self {
            ServiceAction::Auto => "auto",
            ServiceAction::Reload => "reload",
            ServiceAction::None => "none",
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct User {
    pub name: String,
    pub password: Secret,
    /// How the secret is stored in the auth file; md5 only when asked (DN-3).
    #[serde(default)]
    pub encryption: AuthType,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Database {
    pub name: String,
    pub host: String,
    #[serde(
        default = "d_pg_port",
        deserialize_with = "matrixha_module::lenient::int"
    )]
    pub port: u16,
    #[serde(default)]
    pub dbname: Option<String>,
    #[serde(default)]
    pub pool_mode: Option<PoolMode>,
    #[serde(default, deserialize_with = "matrixha_module::lenient::opt_int")]
    pub pool_size: Option<u32>,
    #[serde(default, deserialize_with = "matrixha_module::lenient::opt_int")]
    pub reserve_pool: Option<u32>,
    #[serde(default, deserialize_with = "matrixha_module::lenient::opt_int")]
    pub max_db_connections: Option<u32>,
}

/// The deployment the pools must carry (DN-11); see `crate::sizing`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Capacity {
    /// The `databases` entry Synapse connects to.
    pub synapse_database: String,
    #[serde(deserialize_with = "matrixha_module::lenient::int")]
    pub synapse_processes: u32,
    #[serde(default, deserialize_with = "matrixha_module::lenient::opt_int")]
    pub cp_min: Option<u32>,
    #[serde(default, deserialize_with = "matrixha_module::lenient::opt_int")]
    pub cp_max: Option<u32>,
    #[serde(
        default = "d_nodes",
        deserialize_with = "matrixha_module::lenient::int"
    )]
    pub db_nodes: u32,
    #[serde(
        default = "d_nodes",
        deserialize_with = "matrixha_module::lenient::int"
    )]
    pub pgbouncer_nodes: u32,
    #[serde(default, deserialize_with = "matrixha_module::lenient::opt_int")]
    pub tolerated_pgbouncer_failures: Option<u32>,
    /// PostgreSQL's `max_connections` (the Patroni setting); the plan must fit in it.
    #[serde(default, deserialize_with = "matrixha_module::lenient::opt_int")]
    pub postgres_max_connections: Option<u32>,
    #[serde(default)]
    pub headroom: Headroom,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Admin {
    /// IP/host name, or the unix socket directory (starts with `/`).
    #[serde(default = "d_admin_host")]
    pub host: String,
    /// Default: `listen_port`.
    #[serde(default, deserialize_with = "matrixha_module::lenient::opt_int")]
    pub port: Option<u16>,
    pub user: String,
    #[serde(default)]
    pub password: Option<Secret>,
    #[serde(
        default = "d_timeout",
        deserialize_with = "matrixha_module::lenient::int"
    )]
    pub timeout: u64,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct VerifierSource {
    pub host: String,
    #[serde(
        default = "d_pg_port",
        deserialize_with = "matrixha_module::lenient::int"
    )]
    pub port: u16,
    #[serde(default = "d_superuser")]
    pub user: String,
    #[serde(default)]
    pub password: Option<Secret>,
    #[serde(default = "d_superuser")]
    pub dbname: String,
    #[serde(
        default = "d_timeout",
        deserialize_with = "matrixha_module::lenient::int"
    )]
    pub timeout: u64,
}

fn d_superuser() -> String {
    "postgres".into()
}
fn d_path() -> String {
    "/etc/pgbouncer/pgbouncer.ini".into()
}
fn d_auth_file() -> String {
    "/etc/pgbouncer/userlist.txt".into()
}
fn d_port() -> u16 {
    6432
}
fn d_pg_port() -> u16 {
    5432
}
fn d_socket_dir() -> String {
    "/var/run/postgresql".into()
}
fn d_pidfile() -> String {
    "/var/run/postgresql/pgbouncer.pid".into()
}
fn d_logfile() -> String {
    "/var/log/postgresql/pgbouncer.log".into()
}
fn d_reserve_timeout() -> u32 {
    5
}
fn d_reset_query() -> String {
    "DISCARD ALL".into()
}
fn d_idle() -> u32 {
    600
}
fn d_lifetime() -> u32 {
    3600
}
fn d_connect_timeout() -> u32 {
    15
}
fn d_query_wait() -> u32 {
    120
}
fn d_service() -> String {
    "pgbouncer".into()
}
fn d_nodes() -> u32 {
    3
}
fn d_owner() -> Option<String> {
    // Debian's pgbouncer.service runs as postgres.
    Some("postgres".into())
}
fn d_mode() -> String {
    "0640".into()
}
fn d_admin_host() -> String {
    "127.0.0.1".into()
}
fn d_timeout() -> u64 {
    10
}

/// `[pgbouncer]` settings PgBouncer reads only at start (`SHOW CONFIG` reports them
/// `changeable = no` in 1.18): changing one needs a restart, not a RELOAD.
pub const RESTART_ONLY: &[&str] = &[
    "listen_addr",
    "listen_port",
    "listen_backlog",
    "unix_socket_dir",
    "unix_socket_mode",
    "unix_socket_group",
    "pidfile",
    "user",
    "logfile",
    "so_reuseport",
    "peer_id",
    "autodb_idle_timeout",
];

/// Keys the module writes itself; `settings` may not repeat them.
const MANAGED: &[&str] = &[
    "listen_addr",
    "listen_port",
    "unix_socket_dir",
    "pidfile",
    "logfile",
    "auth_type",
    "auth_file",
    "admin_users",
    "stats_users",
    "pool_mode",
    "default_pool_size",
    "min_pool_size",
    "reserve_pool_size",
    "reserve_pool_timeout",
    "max_client_conn",
    "max_db_connections",
    "server_reset_query",
    "server_idle_timeout",
    "server_lifetime",
    "server_connect_timeout",
    "query_wait_timeout",
];

/// Pool numbers after sizing: what gets written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Pools {
    #[serde(deserialize_with = "matrixha_module::lenient::int")]
    pub default_pool_size: u32,
    #[serde(deserialize_with = "matrixha_module::lenient::int")]
    pub reserve_pool_size: u32,
    #[serde(deserialize_with = "matrixha_module::lenient::int")]
    pub max_client_conn: u32,
    #[serde(default, deserialize_with = "matrixha_module::lenient::opt_int")]
    pub max_db_connections: Option<u32>,
    pub plan: Option<PoolPlan>,
}

fn plain(param: &str, value: &str, what: &str) -> Result<(), ModuleError> {
    let ok = !value.is_empty()
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-.:/".contains(c));
    if ok {
        Ok(())
    } else {
        // Where, not what: the value is never quoted (it may be a mis-placed secret).
        let problem = match value
            .chars()
            .position(|c| !(c.is_ascii_alphanumeric() || "_-.:/".contains(c)))
        {
            Some(i) => format!(
                "is not a valid {what}: character {} of {} is not allowed",
                i + 1,
                value.chars().count()
            ),
            None => format!("is not a valid {what}: it is empty"),
        };
        Err(ModuleError::param(
            param,
            problem,
            "use letters, digits and _ - . : / only (no spaces, quotes, ';' or '#', which pgbouncer.ini would misread)",
        ))
    }
}

fn no_newline(param: &str, value: &str) -> Result<(), ModuleError> {
    if value.contains(['\n', '\r']) {
        return Err(ModuleError::param(
            param,
            "contains a line break",
            "give a single-line value; pgbouncer.ini has one setting per line",
        ));
    }
    Ok(())
}

fn positive(param: &str, v: u32) -> Result<(), ModuleError> {
    if v == 0 {
        return Err(ModuleError::param(param, "is 0", "give a positive number"));
    }
    Ok(())
}

impl Params {
    pub fn ownership(&self) -> Result<Ownership, ModuleError> {
        Ok(Ownership {
            owner: self.owner.clone(),
            group: self.group.clone(),
            mode: Some(
                parse_mode(&self.mode).map_err(|e| ModuleError::param("mode", e, "e.g. '0640'"))?,
            ),
        })
    }

    /// The Synapse database's effective pool mode and the parameter that set it,
    /// when `capacity` names the database.
    pub fn synapse_pool_mode(&self) -> Option<(PoolMode, String)> {
        let cap = self.capacity.as_ref()?;
        let db = self
            .databases
            .iter()
            .find(|d| d.name == cap.synapse_database)?;
        Some(match db.pool_mode {
            Some(m) => (m, format!("databases[{}].pool_mode", db.name)),
            None => (self.pool_mode, "pool_mode".to_owned()),
        })
    }

    /// Checks everything that can be checked without touching the host, and
    /// sizes the pools. Errors name the parameter and the fix.
    pub fn validate(&self) -> Result<Pools, ModuleError> {
        for (name, v) in [
            ("path", &self.path),
            ("auth_file", &self.auth_file),
            ("unix_socket_dir", &self.unix_socket_dir),
            ("pidfile", &self.pidfile),
        ] {
            if !v.starts_with('/') {
                return Err(ModuleError::param(
                    name,
                    "is not an absolute path",
                    "give an absolute path",
                ));
            }
            plain(name, v, "path")?;
        }
        if !self.logfile.is_empty() {
            plain("logfile", &self.logfile, "path")?;
        }
        if self.listen_addr.is_empty() {
            return Err(ModuleError::param(
                "listen_addr",
                "is empty",
                "give the node's own address (and 127.0.0.1 for local clients)",
            ));
        }
        for a in &self.listen_addr {
            if a != "*" {
                plain("listen_addr", a, "address")?;
            }
        }
        if self.listen_port == 0 {
            return Err(ModuleError::param(
                "listen_port",
                "is 0",
                "PgBouncer's port is 6432",
            ));
        }
        self.ownership()?;
        for (i, u) in self.users.iter().enumerate() {
            plain(&format!("users[{i}].name"), &u.name, "user name")?;
            if let Some(first) = self.users[..i].iter().position(|o| o.name == u.name) {
                return Err(ModuleError::param(
                    format!("users[{i}].name"),
                    format!("repeats the name of users[{first}]"),
                    "list each user once",
                ));
            }
            pg_auth::check_password(&format!("users[{}].password", u.name), &u.password)?;
            if u.encryption == AuthType::Md5 && self.auth_type == AuthType::ScramSha256 {
                return Err(ModuleError::param(
                    format!("users[{}].encryption", u.name),
                    "md5 secret with auth_type scram-sha-256: clients could not log in with SCRAM",
                    "store scram-sha-256 secrets (the default), or set auth_type: md5 explicitly",
                ));
            }
        }
        for (param, list) in [
            ("admin_users", &self.admin_users),
            ("stats_users", &self.stats_users),
        ] {
            for name in list {
                plain(param, name, "user name")?;
            }
        }
        if let Some(a) = &self.admin {
            plain("admin.user", &a.user, "user name")?;
            if let Some(pw) = &a.password {
                pg_auth::check_password("admin.password", pw)?;
            }
            if a.host.is_empty() {
                return Err(ModuleError::param(
                    "admin.host",
                    "is empty",
                    "e.g. 127.0.0.1",
                ));
            }
            if !self.admin_users.contains(&a.user) && !self.stats_users.contains(&a.user) {
                return Err(ModuleError::param(
                    "admin.user",
                    "is in neither admin_users nor stats_users",
                    "add it to admin_users, or connect as a user that is there",
                ));
            }
            if a.timeout == 0 || a.timeout > 600 {
                return Err(ModuleError::param(
                    "admin.timeout",
                    "is outside 1..600 s",
                    "e.g. 10",
                ));
            }
        }
        if let Some(v) = &self.verifier_source {
            plain("verifier_source.host", &v.host, "host")?;
            if let Some(pw) = &v.password {
                pg_auth::check_password("verifier_source.password", pw)?;
            }
            plain("verifier_source.user", &v.user, "user name")?;
            plain("verifier_source.dbname", &v.dbname, "database name")?;
            if v.timeout == 0 || v.timeout > 600 {
                return Err(ModuleError::param(
                    "verifier_source.timeout",
                    "is outside 1..600 s",
                    "e.g. 10",
                ));
            }
        }
        if self.databases.is_empty() {
            return Err(ModuleError::param(
                "databases",
                "is empty",
                "list the databases to pool, e.g. {name: synapse, host: <writer VIP>}",
            ));
        }
        for (i, d) in self.databases.iter().enumerate() {
            plain(&format!("databases[{i}].name"), &d.name, "database name")?;
            if d.name == "pgbouncer" {
                return Err(ModuleError::param(
                    format!("databases[{i}].name"),
                    "'pgbouncer' is the admin console's name",
                    "choose another name",
                ));
            }
            if let Some(first) = self.databases[..i].iter().position(|o| o.name == d.name) {
                return Err(ModuleError::param(
                    format!("databases[{i}].name"),
                    format!("repeats the name of databases[{first}]"),
                    "list each database once",
                ));
            }
            plain(&format!("databases[{}].host", d.name), &d.host, "host")?;
            if let Some(n) = &d.dbname {
                plain(&format!("databases[{}].dbname", d.name), n, "database name")?;
            }
            if let Some(s) = d.pool_size {
                positive(&format!("databases[{}].pool_size", d.name), s)?;
            }
        }
        no_newline("server_reset_query", &self.server_reset_query)?;
        if self.server_reset_query.contains(['#', ';']) && !self.server_reset_query.ends_with(';') {
            return Err(ModuleError::param(
                "server_reset_query",
                "contains '#' or ';', which pgbouncer.ini treats as a comment",
                "use a single statement such as DISCARD ALL",
            ));
        }
        for (k, v) in &self.settings {
            if k.is_empty()
                || !k
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
            {
                return Err(ModuleError::param(
                    "settings",
                    format!(
                        "a key of {} characters is not a pgbouncer.ini setting name",
                        k.chars().count()
                    ),
                    "use PgBouncer's lower_case names",
                ));
            }
            if MANAGED.contains(&k.as_str()) {
                return Err(ModuleError::param(
                    "settings",
                    format!("'{k}' has its own parameter"),
                    format!("set {k} as a module parameter, not under settings"),
                ));
            }
            no_newline(&format!("settings.{k}"), v)?;
        }
        if let Some(s) = self.default_pool_size {
            positive("default_pool_size", s)?;
        }
        if let Some(s) = self.max_client_conn {
            positive("max_client_conn", s)?;
        }
        self.size_pools()
    }

    fn size_pools(&self) -> Result<Pools, ModuleError> {
        let Some(cap) = &self.capacity else {
            return Ok(Pools {
                default_pool_size: self.default_pool_size.unwrap_or(20),
                reserve_pool_size: self.reserve_pool_size.unwrap_or(0),
                max_client_conn: self.max_client_conn.unwrap_or(100),
                max_db_connections: self.max_db_connections,
                plan: None,
            });
        };
        let Some(db) = self
            .databases
            .iter()
            .find(|d| d.name == cap.synapse_database)
        else {
            return Err(ModuleError::param(
                "capacity.synapse_database",
                "names none of the databases",
                "name the databases entry Synapse connects to",
            ));
        };
        let mode = db.pool_mode.unwrap_or(self.pool_mode);
        let profile = ScaleProfile {
            synapse_processes: cap.synapse_processes,
            cp_min: cap.cp_min,
            cp_max: cap.cp_max,
            db_nodes: cap.db_nodes,
            pgbouncer_nodes: cap.pgbouncer_nodes,
            tolerated_pgbouncer_failures: cap.tolerated_pgbouncer_failures,
            pool_mode: mode,
            headroom: cap.headroom,
            // The pool that serves Synapse: its own pool_size, else the default.
            default_pool_size: db.pool_size.or(self.default_pool_size),
            reserve_pool_size: db.reserve_pool.or(self.reserve_pool_size),
            max_client_conn: self.max_client_conn,
            max_connections: cap.postgres_max_connections,
        };
        let plan = sizing::size(&profile).map_err(|e| {
            let param = match e.field {
                "default_pool_size" if db.pool_size.is_some() => {
                    format!("databases[{}].pool_size", db.name)
                }
                "default_pool_size" | "max_client_conn" => e.field.to_owned(),
                "max_connections" => "capacity.postgres_max_connections".to_owned(),
                other => format!("capacity.{other}"),
            };
            ModuleError::param(param, e.problem, e.fix)
        })?;
        Ok(Pools {
            default_pool_size: self.default_pool_size.unwrap_or(plan.default_pool_size),
            reserve_pool_size: self.reserve_pool_size.unwrap_or(plan.reserve_pool_size),
            max_client_conn: plan.max_client_conn,
            max_db_connections: self.max_db_connections,
            plan: Some(plan),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn params(extra: serde_json::Value) -> Result<Params, ModuleError> {
        let mut v = json!({
            "listen_addr": ["10.0.3.11", "127.0.0.1"],
            "admin_users": ["pgbouncer_admin"],
            "users": [{"name": "synapse", "password": "synapse-password-1-0123456"},
                      {"name": "pgbouncer_admin", "password": "admin-password-1-012345678"}],
            "databases": [{"name": "synapse", "host": "10.0.3.10"}],
            "capacity": {"synapse_database": "synapse", "synapse_processes": 19},
            "admin": {"user": "pgbouncer_admin", "password": "admin-password-1-012345678"}
        });
        for (k, val) in extra.as_object().unwrap() {
            v[k] = val.clone();
        }
        matrixha_module::parse_args::<Params>(&v.to_string()).map(|(_, p)| p)
    }

    fn invalid(extra: serde_json::Value) -> ModuleError {
        params(extra).unwrap().validate().unwrap_err()
    }

    /// INI inventories and `-e key=value` send numbers and booleans as text.
    #[test]
    fn numbers_and_booleans_may_arrive_as_strings() {
        let p = params(json!({"listen_port": "6433", "max_client_conn": "2000",
                              "session_settings_per_role": "no"}))
        .unwrap();
        assert_eq!((p.listen_port, p.max_client_conn), (6433, Some(2000)));
        assert!(!p.session_settings_per_role);
        let msg = params(json!({"listen_port": "pgbouncer"}))
            .unwrap_err()
            .to_string();
        assert!(
            msg.starts_with("listen_port: expected a whole number"),
            "{msg}"
        );
        assert!(!msg.contains("pgbouncer\""), "{msg}");
    }

    #[test]
    fn large_scale_defaults_size_the_pools() {
        let pools = params(json!({})).unwrap().validate().unwrap();
        assert_eq!(pools.default_pool_size, 95);
        assert_eq!(pools.reserve_pool_size, 10);
        assert_eq!(pools.max_client_conn, 200);
        assert_eq!(pools.plan.unwrap().max_db_connections, 105);
    }

    #[test]
    fn synapse_pool_size_too_small_names_the_database_option() {
        let e = invalid(
            json!({"databases": [{"name": "synapse", "host": "10.0.3.10", "pool_size": 50}]}),
        );
        assert_eq!(e.param.as_deref(), Some("databases[synapse].pool_size"));
        assert!(e.to_string().contains("at least 95"), "{e}");
    }

    #[test]
    fn managed_keys_cannot_hide_in_settings() {
        let e = invalid(json!({"settings": {"listen_port": "7000"}}));
        assert_eq!(e.param.as_deref(), Some("settings"));
        assert!(e.to_string().contains("own parameter"), "{e}");
    }

    #[test]
    fn admin_user_must_be_an_admin_or_stats_user() {
        let e = invalid(json!({"admin_users": []}));
        assert_eq!(e.param.as_deref(), Some("admin.user"));
    }

    #[test]
    fn md5_secret_needs_md5_auth_type() {
        let e = invalid(
            json!({"users": [{"name": "synapse", "password": "synapse-password-1-0123456", "encryption": "md5"}]}),
        );
        assert_eq!(e.param.as_deref(), Some("users[synapse].encryption"));
    }

    #[test]
    fn non_ascii_password_is_refused_without_echoing_it() {
        let e = invalid(json!({"users": [{"name": "synapse", "password": "pässwörd-secret"}]}));
        assert_eq!(e.param.as_deref(), Some("users[synapse].password"));
        assert!(!e.to_string().contains("pässwörd"), "{e}");
    }

    #[test]
    fn short_passwords_are_refused_by_the_shared_length_rule() {
        let short = "short-pw-of-23-chars-xy";
        assert_eq!(short.len(), pg_auth::MIN_PASSWORD_LEN - 1);
        for (extra, param) in [
            (
                json!({"users": [{"name": "synapse", "password": short}]}),
                "users[synapse].password",
            ),
            (
                json!({"admin": {"user": "pgbouncer_admin", "password": short}}),
                "admin.password",
            ),
            (
                json!({"verifier_source": {"host": "10.0.3.10", "password": short}}),
                "verifier_source.password",
            ),
        ] {
            let e = invalid(extra);
            assert_eq!(e.param.as_deref(), Some(param));
            assert_eq!(e.problem, "is shorter than 24 characters (23 given)");
            assert!(!e.to_string().contains(short), "{e}");
        }
    }

    #[test]
    fn values_pgbouncer_ini_would_misread_are_refused() {
        assert_eq!(
            invalid(json!({"listen_addr": ["10.0.3.11 ; x"]}))
                .param
                .as_deref(),
            Some("listen_addr")
        );
        assert_eq!(
            invalid(json!({"databases": [{"name": "synapse", "host": "10.0.3.10 dbname=x"}]}))
                .param
                .as_deref(),
            Some("databases[synapse].host")
        );
        assert_eq!(
            invalid(json!({"databases": [{"name": "pgbouncer", "host": "10.0.3.10"}]}))
                .param
                .as_deref(),
            Some("databases[0].name")
        );
    }

    /// Issue 10: a list rendered as text by a template once came back whole in msg.
    /// parse errors never go through the output scrubber, so these check the text itself.
    #[test]
    fn wrong_typed_secret_parameters_are_described_not_quoted() {
        let users_text = r#"[{"name": "synapse", "password": "users-as-text-pw-1"}]"#;
        for (extra, param, secret) in [
            (
                json!({"users": users_text}),
                "users: ",
                "users-as-text-pw-1",
            ),
            (
                json!({"users": {"name": "synapse", "password": "users-as-map-pw-2"}}),
                "users: ",
                "users-as-map-pw-2",
            ),
            (
                json!({"users": ["synapse:users-item-text-pw-3"]}),
                "users[0]: ",
                "users-item-text-pw-3",
            ),
            (
                json!({"users": [{"name": "synapse", "password": 987654321}]}),
                "users[0].password: ",
                "987654321",
            ),
            (
                json!({"admin": r#"{"user": "pgbouncer_admin", "password": "admin-as-text-pw-4"}"#}),
                "admin: ",
                "admin-as-text-pw-4",
            ),
            (
                json!({"admin": {"user": "pgbouncer_admin", "password": ["admin-list-pw-5"]}}),
                "admin.password: ",
                "admin-list-pw-5",
            ),
            (
                json!({"verifier_source": r#"{"host": "10.0.3.10", "password": "vs-as-text-pw-6"}"#}),
                "verifier_source: ",
                "vs-as-text-pw-6",
            ),
            (
                json!({"verifier_source": {"host": "10.0.3.10", "password": 31337.5}}),
                "verifier_source.password: ",
                "31337",
            ),
        ] {
            let msg = params(extra).unwrap_err().to_string();
            assert!(msg.starts_with(param), "{param}: {msg}");
            assert!(!msg.contains(secret), "{param} quoted its value: {msg}");
        }
    }

    #[test]
    fn refused_values_are_located_not_quoted() {
        // A password pasted into the wrong field must not come back in msg.
        let e =
            invalid(json!({"databases": [{"name": "synapse", "host": "pasted pw-in-host-77"}]}));
        assert_eq!(
            e.to_string(),
            "databases[synapse].host: is not a valid host: character 7 of 20 is not allowed. \
             Fix: use letters, digits and _ - . : / only (no spaces, quotes, ';' or '#', which \
             pgbouncer.ini would misread)"
        );
        let e = invalid(json!({"users": [
            {"name": "synapse", "password": "synapse-password-1-0123456"},
            {"name": "synapse", "password": "other-password-2-012345678"}]}));
        assert_eq!(e.param.as_deref(), Some("users[1].name"));
        assert_eq!(e.problem, "repeats the name of users[0]");
        let e = invalid(json!({"settings": {"Bad Key pw-in-key-9": "x"}}));
        assert!(!e.to_string().contains("pw-in-key-9"), "{e}");
    }

    #[test]
    fn capacity_must_name_a_listed_database() {
        let e =
            invalid(json!({"capacity": {"synapse_database": "matrix", "synapse_processes": 19}}));
        assert_eq!(e.param.as_deref(), Some("capacity.synapse_database"));
    }

    #[test]
    fn unknown_pool_mode_lists_the_choices() {
        let e = params(json!({"pool_mode": "statment"})).unwrap_err();
        let msg = e.to_string();
        // The same text as rules::PoolMode::parse gives the CLI.
        assert!(
            msg.starts_with("pool_mode: unknown pool mode (a string of 8 characters)"),
            "{msg}"
        );
        assert!(!msg.contains("statment"), "the value is not quoted: {msg}");
        assert!(
            msg.contains("`session`") && msg.contains("`transaction`"),
            "{msg}"
        );
    }
}
