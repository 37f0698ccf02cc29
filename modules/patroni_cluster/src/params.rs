//! What the task asked for: one `action` and its options, typed and validated without I/O.

use matrixha_module::file::{parse_mode, Ownership};
use matrixha_module::{ModuleError, Secret};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::net::IpAddr;

/// What the task does. Each action reads only the options its section of the
/// documentation lists; the others keep their defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Render this node's `patroni.yml`, write it, reload Patroni.
    Config,
    /// Read `/cluster` and `/patroni`; return the cluster as facts.
    Facts,
    /// Poll until `condition` holds or `timeout` passes.
    WaitFor,
    /// PATCH `/config` with the part of `dcs` that differs.
    DynamicConfig,
    Switchover,
    Failover,
    Restart,
    Reinitialize,
    /// Ensure the application database and its owner role on the leader.
    Database,
}

/// How `config` makes a running Patroni re-read its file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Reload {
    /// `systemctl reload <service>` when the unit is active (Patroni reloads on SIGHUP).
    Systemd,
    /// `POST /reload` on `api_url` (Patroni's REST equivalent of SIGHUP).
    Rest,
    None,
}

/// What `wait_for` waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Condition {
    /// A member holds the leader lock and its PostgreSQL runs.
    Leader,
    /// At least `count` replicas stream WAL from the leader.
    Streaming,
    /// At least `count` synchronous standbys.
    SyncStandby,
    /// `member` runs (the leader) or streams (a replica).
    Member,
    /// No member has `pending_restart`.
    NoPendingRestart,
}

/// One `pg_hba.conf` line (DN-2: scram-sha-256 for every TCP rule).
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct HbaRule {
    #[serde(rename = "type", default = "default_hba_type")]
    pub kind: String,
    pub database: String,
    pub user: String,
    #[serde(default)]
    pub address: Option<String>,
    #[serde(default = "default_hba_method")]
    pub method: String,
}

/// Patroni's dynamic (DCS) configuration: `bootstrap.dcs` for `config`,
/// the desired `/config` for `dynamic_config`. Unset keys are left alone.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Dcs {
    #[serde(default, deserialize_with = "matrixha_module::lenient::opt_int")]
    pub ttl: Option<u32>,
    #[serde(default, deserialize_with = "matrixha_module::lenient::opt_int")]
    pub loop_wait: Option<u32>,
    #[serde(default, deserialize_with = "matrixha_module::lenient::opt_int")]
    pub retry_timeout: Option<u32>,
    #[serde(default, deserialize_with = "matrixha_module::lenient::opt_int")]
    pub maximum_lag_on_failover: Option<u64>,
    /// `true`/`false`, or `quorum` (Patroni 4.x quorum commit).
    #[serde(default)]
    pub synchronous_mode: Option<SyncMode>,
    #[serde(default, deserialize_with = "matrixha_module::lenient::opt_bool")]
    pub synchronous_mode_strict: Option<bool>,
    #[serde(default, deserialize_with = "matrixha_module::lenient::opt_int")]
    pub synchronous_node_count: Option<u32>,
    #[serde(default, deserialize_with = "matrixha_module::lenient::opt_bool")]
    pub failsafe_mode: Option<bool>,
    #[serde(default, deserialize_with = "matrixha_module::lenient::opt_bool")]
    pub check_timeline: Option<bool>,
    #[serde(default, deserialize_with = "matrixha_module::lenient::opt_bool")]
    pub use_pg_rewind: Option<bool>,
    #[serde(default, deserialize_with = "matrixha_module::lenient::opt_bool")]
    pub use_slots: Option<bool>,
    /// PostgreSQL parameters shared by all members; `null` removes one (dynamic_config).
    #[serde(default)]
    pub parameters: Map<String, Value>,
    /// DN-7: turns WAL archiving on (`archive_mode: on`) with this command.
    #[serde(default)]
    pub archive_command: Option<String>,
}

/// Patroni's `synchronous_mode`: a boolean, or `quorum` since Patroni 4.0.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(untagged)]
pub enum SyncMode {
    On(bool),
    Named(String),
}

impl SyncMode {
    pub fn to_json(&self) -> Value {
        match self {
            SyncMode::On(b) => Value::Bool(*b),
            SyncMode::Named(s) => match matrixha_module::lenient::parse_bool(s) {
                Some(b) => Value::Bool(b),
                None => Value::String(s.clone()),
            },
        }
    }
}

pub const DEFAULT_TTL: u32 = 30;
pub const DEFAULT_LOOP_WAIT: u32 = 10;
pub const DEFAULT_RETRY_TIMEOUT: u32 = 10;

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Params {
    pub action: Action,

    // --- The REST API (every action but `config` talks to it; `config` reloads through it).
    #[serde(default = "default_api_url")]
    pub api_url: String,
    /// Basic auth for Patroni's unsafe endpoints; `config` also renders it as `restapi.authentication`.
    #[serde(default)]
    pub api_username: Option<String>,
    #[serde(default)]
    pub api_password: Option<Secret>,
    #[serde(default)]
    pub ca_file: Option<String>,
    #[serde(
        default = "yes",
        deserialize_with = "matrixha_module::lenient::boolean"
    )]
    pub validate_certs: bool,
    /// Seconds for one HTTP request.
    #[serde(
        default = "default_api_timeout",
        deserialize_with = "matrixha_module::lenient::int"
    )]
    pub api_timeout: u64,

    // --- action: config
    #[serde(default = "default_path")]
    pub path: String,
    #[serde(default)]
    pub scope: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    /// This node's address: PostgreSQL and the REST API listen on it (DN-1), never 0.0.0.0.
    #[serde(default)]
    pub node_address: Option<IpAddr>,
    #[serde(
        default = "default_restapi_port",
        deserialize_with = "matrixha_module::lenient::int"
    )]
    pub restapi_port: u16,
    #[serde(default)]
    pub restapi_certfile: Option<String>,
    #[serde(default)]
    pub restapi_keyfile: Option<String>,
    #[serde(
        default = "default_postgres_port",
        deserialize_with = "matrixha_module::lenient::int"
    )]
    pub postgres_port: u16,
    /// `host:port` of each etcd member, rendered under `etcd3:` (DN-19).
    #[serde(default)]
    pub etcd3_hosts: Vec<String>,
    #[serde(default = "default_etcd3_protocol")]
    pub etcd3_protocol: String,
    #[serde(default)]
    pub etcd3_cacert: Option<String>,
    #[serde(default)]
    pub etcd3_username: Option<String>,
    #[serde(default)]
    pub etcd3_password: Option<Secret>,
    #[serde(default)]
    pub data_dir: Option<String>,
    #[serde(default)]
    pub bin_dir: Option<String>,
    #[serde(default)]
    pub pgpass: Option<String>,
    #[serde(default = "default_socket_dir")]
    pub unix_socket_dir: String,
    #[serde(default = "default_superuser")]
    pub superuser_username: String,
    #[serde(default)]
    pub superuser_password: Option<Secret>,
    #[serde(default = "default_replication_user")]
    pub replication_username: String,
    #[serde(default)]
    pub replication_password: Option<Secret>,
    #[serde(default = "default_rewind_user")]
    pub rewind_username: String,
    #[serde(default)]
    pub rewind_password: Option<Secret>,
    /// Networks (CIDR) of the DB nodes; the default pg_hba allows replication and
    /// applications from them (DN-2: HAProxy forwards from node addresses, not the VIP).
    #[serde(default)]
    pub cluster_networks: Vec<String>,
    /// Explicit pg_hba rules, rendered after the local ones; replaces the default network rules.
    #[serde(default)]
    pub pg_hba: Vec<HbaRule>,
    #[serde(default)]
    pub tags: Map<String, Value>,
    #[serde(default)]
    pub dcs: Dcs,
    /// This node's own PostgreSQL parameters (`postgresql.parameters`).
    #[serde(default)]
    pub local_parameters: Map<String, Value>,
    #[serde(
        default = "yes",
        deserialize_with = "matrixha_module::lenient::boolean"
    )]
    pub data_checksums: bool,
    #[serde(default)]
    pub log_dir: Option<String>,
    #[serde(default = "default_owner")]
    pub owner: String,
    #[serde(default = "default_owner")]
    pub group: String,
    #[serde(default = "default_mode")]
    pub mode: String,
    #[serde(default = "default_reload")]
    pub reload: Reload,
    #[serde(default = "default_service")]
    pub service: String,

    // --- dynamic_config / restart
    /// dynamic_config: restart the members that need it after the change.
    /// restart: only restart members that have `pending_restart`.
    #[serde(default, deserialize_with = "matrixha_module::lenient::boolean")]
    pub restart_pending: bool,

    // --- wait_for and every action that waits
    #[serde(default)]
    pub condition: Option<Condition>,
    #[serde(default = "one", deserialize_with = "matrixha_module::lenient::int")]
    pub count: u32,
    /// wait_for `member`, restart (default: every member), reinitialize (required).
    #[serde(default)]
    pub member: Option<String>,
    /// Seconds to wait for the cluster to settle.
    #[serde(
        default = "default_timeout",
        deserialize_with = "matrixha_module::lenient::int"
    )]
    pub timeout: u64,

    // --- switchover / failover
    #[serde(default)]
    pub candidate: Option<String>,
    /// switchover: refuse unless this member is the leader (guards against a stale inventory).
    #[serde(default)]
    pub leader: Option<String>,

    // --- database
    #[serde(default)]
    pub db_name: Option<String>,
    #[serde(default)]
    pub db_owner: Option<String>,
    #[serde(default)]
    pub db_owner_password: Option<Secret>,
    #[serde(default = "default_encoding")]
    pub db_encoding: String,
    #[serde(default = "default_locale")]
    pub db_lc_collate: String,
    #[serde(default = "default_locale")]
    pub db_lc_ctype: String,
    /// Default: the leader's host and port from `/cluster`.
    #[serde(default)]
    pub login_host: Option<String>,
    #[serde(default, deserialize_with = "matrixha_module::lenient::opt_int")]
    pub login_port: Option<u16>,
    #[serde(default = "default_superuser")]
    pub login_user: String,
    #[serde(default)]
    pub login_password: Option<Secret>,
}

fn yes() -> bool {
    true
}
fn one() -> u32 {
    1
}
fn default_api_url() -> String {
    "http://127.0.0.1:8008".into()
}
fn default_api_timeout() -> u64 {
    10
}
fn default_path() -> String {
    "/etc/patroni/config.yml".into()
}
fn default_restapi_port() -> u16 {
    8008
}
fn default_postgres_port() -> u16 {
    5432
}
fn default_etcd3_protocol() -> String {
    "http".into()
}
fn default_socket_dir() -> String {
    "/var/run/postgresql".into()
}
fn default_superuser() -> String {
    "postgres".into()
}
fn default_replication_user() -> String {
    "replicator".into()
}
fn default_rewind_user() -> String {
    "rewind_user".into()
}
fn default_owner() -> String {
    "postgres".into()
}
fn default_mode() -> String {
    "0600".into()
}
fn default_reload() -> Reload {
    Reload::Systemd
}
fn default_service() -> String {
    "patroni".into()
}
fn default_timeout() -> u64 {
    120
}
fn default_encoding() -> String {
    "UTF8".into()
}
fn default_locale() -> String {
    "C".into()
}
fn default_hba_type() -> String {
    "host".into()
}
fn default_hba_method() -> String {
    "scram-sha-256".into()
}

/// Parameters Patroni owns in synchronous mode (DN-6).
const PATRONI_OWNED: &[&str] = &["synchronous_standby_names", "synchronous_commit"];
const SYNC_FIX: &str = "remove it and use dcs.synchronous_mode, dcs.synchronous_node_count \
                        and dcs.synchronous_mode_strict; Patroni manages it (DN-6)";

impl Params {
    pub fn ownership(&self) -> Result<Ownership, ModuleError> {
        Ok(Ownership {
            owner: Some(self.owner.clone()),
            group: Some(self.group.clone()),
            mode: Some(
                parse_mode(&self.mode)
                    .map_err(|e| ModuleError::param("mode", e, "quote it in YAML: mode: '0600'"))?,
            ),
        })
    }

    /// Checks common to every action, then the action's own.
    pub fn validate(&self) -> Result<(), ModuleError> {
        validate_url("api_url", &self.api_url)?;
        if self.api_username.is_some() != self.api_password.is_some() {
            return Err(ModuleError::param(
                "api_password",
                "api_username and api_password must be given together",
                "set both (Patroni's restapi.authentication) or neither",
            ));
        }
        if self.api_timeout == 0 {
            return Err(ModuleError::param(
                "api_timeout",
                "is 0",
                "give seconds, e.g. 10",
            ));
        }
        match self.action {
            Action::Config => self.validate_config(),
            Action::DynamicConfig => self.dcs.validate("dcs", None),
            Action::WaitFor => match self.condition {
                None => Err(ModuleError::param(
                    "condition",
                    "is required for action wait_for",
                    "choose leader, streaming, sync_standby, member or no_pending_restart",
                )),
                Some(Condition::Member) if self.member.is_none() => Err(ModuleError::param(
                    "member",
                    "is required for condition member",
                    "name the Patroni member to wait for",
                )),
                _ => Ok(()),
            },
            Action::Failover if self.candidate.is_none() => Err(ModuleError::param(
                "candidate",
                "is required for action failover",
                "name the member to promote (see action facts), or use action switchover",
            )),
            Action::Reinitialize if self.member.is_none() => Err(ModuleError::param(
                "member",
                "is required for action reinitialize",
                "name the replica whose data directory Patroni should rebuild",
            )),
            Action::Database => self.validate_database(),
            _ => Ok(()),
        }
    }

    fn validate_config(&self) -> Result<(), ModuleError> {
        if !self.path.starts_with('/') {
            return Err(ModuleError::param(
                "path",
                format!("'{}' is not absolute", self.path),
                "give the full path, e.g. /etc/patroni/config.yml",
            ));
        }
        for (name, v) in [("scope", &self.scope), ("name", &self.name)] {
            match v {
                None => {
                    return Err(ModuleError::param(
                        name,
                        "is required for action config",
                        "set it (scope: the cluster name, the same on every node; name: this node's member name)",
                    ))
                }
                Some(s) if !is_token(s) => {
                    return Err(ModuleError::param(
                        name,
                        format!("'{s}' is not a plain name"),
                        "use letters, digits, '-', '_' and '.' only",
                    ))
                }
                _ => {}
            }
        }
        match self.node_address {
            None => {
                return Err(ModuleError::param(
                    "node_address",
                    "is required for action config",
                    "give this node's IP address (e.g. 10.0.3.11); PostgreSQL and the REST API listen on it (DN-1)",
                ))
            }
            Some(a) if a.is_unspecified() => {
                return Err(ModuleError::param(
                    "node_address",
                    format!("{a} listens on every address and clashes with the VIP's HAProxy (DN-1)"),
                    "give this node's own address",
                ))
            }
            _ => {}
        }
        for (name, port) in [
            ("restapi_port", self.restapi_port),
            ("postgres_port", self.postgres_port),
        ] {
            if port == 0 {
                return Err(ModuleError::param(
                    name,
                    "is 0",
                    "choose a port between 1 and 65535",
                ));
            }
        }
        if self.restapi_port == self.postgres_port {
            return Err(ModuleError::param(
                "restapi_port",
                format!("equals postgres_port ({})", self.postgres_port),
                "use 8008 for the REST API and 5432 for PostgreSQL",
            ));
        }
        if self.etcd3_hosts.is_empty() {
            return Err(ModuleError::param(
                "etcd3_hosts",
                "is empty",
                "list every etcd member as host:port, e.g. ['10.0.3.11:2379', '10.0.3.12:2379', '10.0.3.13:2379']",
            ));
        }
        for h in &self.etcd3_hosts {
            host_port(h).map_err(|e| {
                ModuleError::param(
                    "etcd3_hosts",
                    e,
                    "write each member as host:port, e.g. 10.0.3.11:2379, without http://",
                )
            })?;
        }
        if !matches!(self.etcd3_protocol.as_str(), "http" | "https") {
            return Err(ModuleError::param(
                "etcd3_protocol",
                format!("'{}' is not http or https", self.etcd3_protocol),
                "choose http or https",
            ));
        }
        if self.etcd3_username.is_some() != self.etcd3_password.is_some() {
            return Err(ModuleError::param(
                "etcd3_password",
                "etcd3_username and etcd3_password must be given together",
                "set both or neither",
            ));
        }
        if self.restapi_certfile.is_some() != self.restapi_keyfile.is_some() {
            return Err(ModuleError::param(
                "restapi_keyfile",
                "restapi_certfile and restapi_keyfile must be given together",
                "set both for HTTPS, or neither",
            ));
        }
        for (name, v) in [("data_dir", &self.data_dir), ("bin_dir", &self.bin_dir)] {
            match v {
                None => {
                    return Err(ModuleError::param(
                        name,
                        "is required for action config",
                        "give the absolute path, e.g. data_dir: /var/lib/postgresql/15/main, bin_dir: /usr/lib/postgresql/15/bin",
                    ))
                }
                Some(p) if !p.starts_with('/') => {
                    return Err(ModuleError::param(name, format!("'{p}' is not absolute"), "give the full path"))
                }
                _ => {}
            }
        }
        for (name, v) in [
            ("superuser_password", &self.superuser_password),
            ("replication_password", &self.replication_password),
        ] {
            match v {
                None => {
                    return Err(ModuleError::param(
                        name,
                        "is required for action config",
                        "pass it from Ansible Vault (no_log)",
                    ))
                }
                Some(s) if s.expose().len() < 12 => {
                    return Err(ModuleError::param(
                        name,
                        "is shorter than 12 characters",
                        "generate one with `openssl rand -hex 24`",
                    ))
                }
                _ => {}
            }
        }
        for (name, user) in [
            ("superuser_username", &self.superuser_username),
            ("replication_username", &self.replication_username),
            ("rewind_username", &self.rewind_username),
        ] {
            if !is_identifier(user) {
                return Err(ModuleError::param(
                    name,
                    format!("'{user}' is not a plain role name"),
                    "use lower-case letters, digits and '_'",
                ));
            }
        }
        for net in &self.cluster_networks {
            cidr(net).map_err(|e| {
                ModuleError::param(
                    "cluster_networks",
                    e,
                    "write networks as CIDR, e.g. 10.0.3.0/24",
                )
            })?;
        }
        if self.cluster_networks.is_empty() && self.pg_hba.is_empty() {
            return Err(ModuleError::param(
                "cluster_networks",
                "is empty and no pg_hba rules are given, so no other node could connect",
                "give the DB subnet, e.g. ['10.0.3.0/24'] (DN-2), or explicit pg_hba rules",
            ));
        }
        for rule in &self.pg_hba {
            rule.validate()?;
        }
        for (k, v) in &self.tags {
            if !(v.is_boolean() || v.is_string() || v.is_number()) {
                return Err(ModuleError::param(
                    format!("tags.{k}"),
                    "is not a boolean, string or number",
                    "write tags as nofailover: false",
                ));
            }
        }
        check_parameters("local_parameters", &self.local_parameters)?;
        self.ownership()?;
        self.dcs.validate(
            "dcs",
            Some((DEFAULT_TTL, DEFAULT_LOOP_WAIT, DEFAULT_RETRY_TIMEOUT)),
        )
    }

    fn validate_database(&self) -> Result<(), ModuleError> {
        for (name, v) in [("db_name", &self.db_name), ("db_owner", &self.db_owner)] {
            match v {
                None => {
                    return Err(ModuleError::param(
                        name,
                        "is required for action database",
                        "set it, e.g. synapse",
                    ))
                }
                Some(s) if !is_identifier(s) => return Err(ModuleError::param(
                    name,
                    format!("'{s}' is not a plain name"),
                    "use lower-case letters, digits and '_' (at most 63), starting with a letter",
                )),
                _ => {}
            }
        }
        match &self.db_owner_password {
            None => {
                return Err(ModuleError::param(
                    "db_owner_password",
                    "is required for action database",
                    "pass it from Ansible Vault (no_log)",
                ))
            }
            Some(s) if s.expose().len() < 12 => {
                return Err(ModuleError::param(
                    "db_owner_password",
                    "is shorter than 12 characters",
                    "generate one with `openssl rand -hex 24`",
                ))
            }
            // The SCRAM verifier is computed here; PostgreSQL would SASLprep a non-ASCII
            // password (RFC 4013, NFKC) and the verifiers would disagree.
            Some(s) if !s.expose().bytes().all(|b| (0x20..0x7f).contains(&b)) => {
                return Err(ModuleError::param(
                    "db_owner_password",
                    "contains non-ASCII or control characters",
                    "use a printable ASCII password (generated secrets are)",
                ))
            }
            _ => {}
        }
        if self.login_password.is_none() {
            return Err(ModuleError::param(
                "login_password",
                "is required for action database",
                "give the PostgreSQL superuser's password (the superuser_password of action config)",
            ));
        }
        if !is_identifier(&self.login_user) {
            return Err(ModuleError::param(
                "login_user",
                format!("'{}' is not a plain role name", self.login_user),
                "use the superuser, e.g. postgres",
            ));
        }
        for (name, v) in [
            ("db_encoding", &self.db_encoding),
            ("db_lc_collate", &self.db_lc_collate),
            ("db_lc_ctype", &self.db_lc_ctype),
        ] {
            if v.is_empty()
                || !v
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "._-@".contains(c))
            {
                return Err(ModuleError::param(
                    name,
                    format!("'{v}' is not a plain encoding or locale name"),
                    "use e.g. UTF8 and C (what Synapse requires)",
                ));
            }
        }
        Ok(())
    }
}

impl Dcs {
    /// `defaults` are the values Patroni assumes when a key is unset (config);
    /// `dynamic_config` checks again against the live `/config` merged with the change.
    pub fn validate(
        &self,
        prefix: &str,
        defaults: Option<(u32, u32, u32)>,
    ) -> Result<(), ModuleError> {
        if let Some((ttl, lw, rt)) = defaults {
            check_timing(
                prefix,
                self.ttl.unwrap_or(ttl),
                self.loop_wait.unwrap_or(lw),
                self.retry_timeout.unwrap_or(rt),
            )?;
        } else if let (Some(t), Some(l), Some(r)) = (self.ttl, self.loop_wait, self.retry_timeout) {
            check_timing(prefix, t, l, r)?;
        }
        if let Some(SyncMode::Named(s)) = &self.synchronous_mode {
            if s != "quorum" && matrixha_module::lenient::parse_bool(s).is_none() {
                return Err(ModuleError::param(
                    format!("{prefix}.synchronous_mode"),
                    format!("'{s}' is not true, false or quorum"),
                    "use true (synchronous replication) or quorum (Patroni 4.x)",
                ));
            }
        }
        if self.synchronous_node_count == Some(0) {
            return Err(ModuleError::param(
                format!("{prefix}.synchronous_node_count"),
                "is 0",
                "use 1 or more, or turn synchronous_mode off",
            ));
        }
        check_parameters(&format!("{prefix}.parameters"), &self.parameters)?;
        if let Some(cmd) = &self.archive_command {
            if cmd.trim().is_empty() {
                return Err(ModuleError::param(
                    format!("{prefix}.archive_command"),
                    "is empty",
                    "give the command, e.g. pgbackrest --stanza=main archive-push %p",
                ));
            }
            if !cmd.contains("%p") {
                return Err(ModuleError::param(
                    format!("{prefix}.archive_command"),
                    "does not contain %p, so PostgreSQL would not pass the WAL file to it",
                    "use e.g. pgbackrest --stanza=main archive-push %p",
                ));
            }
            for k in ["archive_mode", "archive_command"] {
                if self.parameters.contains_key(k) {
                    return Err(ModuleError::param(
                        format!("{prefix}.parameters.{k}"),
                        "is set together with dcs.archive_command",
                        "set the command once, in dcs.archive_command (it turns archive_mode on)",
                    ));
                }
            }
        }
        Ok(())
    }

    /// The parameters as Patroni should store them: archive hook folded in,
    /// booleans as PostgreSQL's `on`/`off` (YAML 1.1 turns `on` into `true`).
    pub fn effective_parameters(&self) -> Map<String, Value> {
        let mut out: Map<String, Value> = self
            .parameters
            .iter()
            .map(|(k, v)| (k.clone(), normalise_parameter(v)))
            .collect();
        if let Some(cmd) = &self.archive_command {
            out.insert("archive_mode".into(), Value::String("on".into()));
            out.insert("archive_command".into(), Value::String(cmd.clone()));
        }
        out
    }
}

/// Patroni's rule (docs/dynamic_configuration.rst): a leader must be able to
/// retry the DCS and still renew its lock before the TTL runs out.
pub fn check_timing(
    prefix: &str,
    ttl: u32,
    loop_wait: u32,
    retry_timeout: u32,
) -> Result<(), ModuleError> {
    if ttl < 20 {
        return Err(ModuleError::param(
            format!("{prefix}.ttl"),
            format!("{ttl} is below 20, Patroni's minimum"),
            "use 20 or more",
        ));
    }
    if loop_wait == 0 {
        return Err(ModuleError::param(
            format!("{prefix}.loop_wait"),
            "is 0",
            "use 1 or more seconds (default 10)",
        ));
    }
    if u64::from(loop_wait) + 2 * u64::from(retry_timeout) > u64::from(ttl) {
        return Err(ModuleError::param(
            format!("{prefix}.ttl"),
            format!(
                "loop_wait ({loop_wait}) + 2 × retry_timeout ({retry_timeout}) = {} exceeds ttl ({ttl}); \
                 the leader could lose its lock while it retries etcd",
                u64::from(loop_wait) + 2 * u64::from(retry_timeout)
            ),
            format!(
                "raise ttl to at least {} or lower loop_wait / retry_timeout",
                u64::from(loop_wait) + 2 * u64::from(retry_timeout)
            ),
        ));
    }
    Ok(())
}

fn check_parameters(prefix: &str, params: &Map<String, Value>) -> Result<(), ModuleError> {
    for (k, v) in params {
        if PATRONI_OWNED.contains(&k.as_str()) {
            return Err(ModuleError::param(
                format!("{prefix}.{k}"),
                "is managed by Patroni in synchronous mode",
                SYNC_FIX,
            ));
        }
        if !is_parameter_name(k) {
            return Err(ModuleError::param(
                format!("{prefix}.{k}"),
                "is not a PostgreSQL parameter name",
                "use the name from postgresql.conf, e.g. max_connections",
            ));
        }
        if !(v.is_null() || v.is_boolean() || v.is_string() || v.is_number()) {
            return Err(ModuleError::param(
                format!("{prefix}.{k}"),
                "is not a string, number or boolean",
                "write it as in postgresql.conf, e.g. '256MB'",
            ));
        }
    }
    Ok(())
}

/// Booleans become `on`/`off`; numbers and strings stay as given.
pub fn normalise_parameter(v: &Value) -> Value {
    match v {
        Value::Bool(true) => Value::String("on".into()),
        Value::Bool(false) => Value::String("off".into()),
        other => other.clone(),
    }
}

impl HbaRule {
    fn validate(&self) -> Result<(), ModuleError> {
        let fix = "write rules as {type: host, database: all, user: synapse, address: 10.0.3.0/24, method: scram-sha-256}";
        if !matches!(
            self.kind.as_str(),
            "local" | "host" | "hostssl" | "hostnossl"
        ) {
            return Err(ModuleError::param(
                "pg_hba",
                format!(
                    "type '{}' is not local, host, hostssl or hostnossl",
                    self.kind
                ),
                fix,
            ));
        }
        for (what, v) in [
            ("database", &self.database),
            ("user", &self.user),
            ("method", &self.method),
        ] {
            if v.is_empty() || v.contains(char::is_whitespace) || v.contains('#') {
                return Err(ModuleError::param(
                    "pg_hba",
                    format!("{what} '{v}' is empty or contains spaces or '#'"),
                    fix,
                ));
            }
        }
        match (&self.kind[..], &self.address) {
            ("local", Some(_)) => {
                return Err(ModuleError::param(
                    "pg_hba",
                    "a local rule has no address",
                    fix,
                ))
            }
            ("local", None) => {}
            (_, None) => {
                return Err(ModuleError::param(
                    "pg_hba",
                    format!("the {} rule for {} has no address", self.kind, self.user),
                    fix,
                ))
            }
            (_, Some(a)) => cidr(a).map_err(|e| ModuleError::param("pg_hba", e, fix))?,
        }
        // DN-2: passwords travel only as SCRAM; md5 and password are refused, trust
        // over TCP would let anyone on the network in.
        if self.kind != "local" && matches!(self.method.as_str(), "trust" | "md5" | "password") {
            return Err(ModuleError::param(
                "pg_hba",
                format!(
                    "method {} for {} from {} is not allowed over TCP",
                    self.method,
                    self.user,
                    self.address.as_deref().unwrap_or("")
                ),
                "use scram-sha-256 (DN-2)",
            ));
        }
        Ok(())
    }

    pub fn line(&self) -> String {
        match &self.address {
            Some(a) => format!(
                "{} {} {} {} {}",
                self.kind, self.database, self.user, a, self.method
            ),
            None => format!(
                "{} {} {} {}",
                self.kind, self.database, self.user, self.method
            ),
        }
    }
}

/// `http(s)://host[:port]` without a path.
fn validate_url(name: &str, url: &str) -> Result<(), ModuleError> {
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))
        .ok_or_else(|| {
            ModuleError::param(
                name,
                format!("'{url}' does not start with http:// or https://"),
                "write it as http://10.0.3.11:8008",
            )
        })?;
    let host = rest.trim_end_matches('/');
    if host.is_empty() || host.contains('/') || host.contains(char::is_whitespace) {
        return Err(ModuleError::param(
            name,
            format!("'{url}' is not scheme://host:port"),
            "write it as http://10.0.3.11:8008 (no path)",
        ));
    }
    Ok(())
}

/// `host:port` with a port in 1..=65535.
pub fn host_port(s: &str) -> Result<(), String> {
    if s.contains("://") {
        return Err(format!("'{s}' has a scheme"));
    }
    let (host, port) = s
        .rsplit_once(':')
        .ok_or_else(|| format!("'{s}' has no :port"))?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.is_empty()
        || !host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || ".-:".contains(c))
    {
        return Err(format!("'{s}' has no valid host"));
    }
    match port.parse::<u16>() {
        Ok(p) if p > 0 => Ok(()),
        _ => Err(format!("'{s}' has no valid port")),
    }
}

/// `a.b.c.d/len` or an IPv6 network.
pub fn cidr(s: &str) -> Result<(), String> {
    let (addr, len) = s
        .split_once('/')
        .ok_or_else(|| format!("'{s}' is not CIDR (address/length)"))?;
    let ip: IpAddr = addr
        .parse()
        .map_err(|_| format!("'{s}' does not start with an IP address"))?;
    let max = if ip.is_ipv4() { 32 } else { 128 };
    match len.parse::<u8>() {
        Ok(l) if l <= max => Ok(()),
        _ => Err(format!("'{s}' has a prefix length outside 0-{max}")),
    }
}

fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
}

/// Names we quote nowhere: lower-case SQL identifiers that need no quoting.
pub fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_lowercase() || c == '_')
        && s.len() <= 63
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

fn is_parameter_name(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
}

#[cfg(test)]
mod tests {
    use super::*;
    use matrixha_module::parse_args;
    use serde_json::json;

    fn config_args() -> Value {
        json!({
            "action": "config", "scope": "synapse", "name": "patroni1",
            "node_address": "10.0.3.11", "etcd3_hosts": ["10.0.3.11:2379"],
            "data_dir": "/var/lib/postgresql/15/main", "bin_dir": "/usr/lib/postgresql/15/bin",
            "superuser_password": "superuser-secret-1", "replication_password": "replication-secret-1",
            "cluster_networks": ["10.0.3.0/24"]
        })
    }

    fn parse(v: Value) -> Params {
        parse_args::<Params>(&v.to_string()).unwrap().1
    }

    fn error(v: Value) -> String {
        match parse_args::<Params>(&v.to_string()) {
            Ok((_, p)) => p.validate().unwrap_err().to_string(),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn a_complete_config_validates() {
        parse(config_args()).validate().unwrap();
    }

    #[test]
    fn ttl_arithmetic_is_checked_with_defaults_filled_in() {
        let mut a = config_args();
        a["dcs"] = json!({"ttl": 20, "loop_wait": 10});
        let msg = error(a);
        assert!(
            msg.starts_with(
                "dcs.ttl: loop_wait (10) + 2 × retry_timeout (10) = 30 exceeds ttl (20)"
            ),
            "{msg}"
        );
        assert!(msg.contains("raise ttl to at least 30"), "{msg}");
        let mut a = config_args();
        a["dcs"] = json!({"ttl": 20, "loop_wait": 4, "retry_timeout": 8});
        parse(a).validate().unwrap();
    }

    #[test]
    fn patroni_owned_parameters_are_refused() {
        for key in ["synchronous_standby_names", "synchronous_commit"] {
            let mut a = config_args();
            a["dcs"] = json!({"parameters": {key: "*"}});
            let msg = error(a);
            assert!(
                msg.starts_with(&format!("dcs.parameters.{key}: is managed by Patroni")),
                "{msg}"
            );
            assert!(msg.contains("synchronous_mode"), "{msg}");
            let mut a = config_args();
            a["local_parameters"] = json!({key: "on"});
            assert!(error(a).starts_with(&format!("local_parameters.{key}")));
        }
    }

    #[test]
    fn unspecified_listen_address_is_refused() {
        let mut a = config_args();
        a["node_address"] = json!("0.0.0.0");
        assert!(error(a).contains("clashes with the VIP"));
        let mut a = config_args();
        a["node_address"] = json!("10.0.3");
        assert!(error(a).starts_with("node_address: invalid IP address"));
    }

    #[test]
    fn etcd_hosts_must_be_host_port() {
        for bad in ["http://10.0.3.11:2379", "10.0.3.11", "10.0.3.11:0", ":2379"] {
            let mut a = config_args();
            a["etcd3_hosts"] = json!([bad]);
            let msg = error(a);
            assert!(msg.starts_with("etcd3_hosts: "), "{bad}: {msg}");
        }
    }

    #[test]
    fn md5_over_tcp_is_refused_and_addresses_are_checked() {
        let mut a = config_args();
        a["pg_hba"] = json!([{"database": "all", "user": "synapse", "address": "10.0.3.10/32", "method": "md5"}]);
        assert!(error(a).contains("use scram-sha-256"));
        let mut a = config_args();
        a["pg_hba"] = json!([{"database": "all", "user": "synapse", "address": "10.0.3.300/32"}]);
        assert!(error(a).starts_with("pg_hba: '10.0.3.300/32' does not start with an IP address"));
    }

    #[test]
    fn archive_command_needs_percent_p_and_is_set_once() {
        let mut d = Dcs {
            archive_command: Some("pgbackrest archive-push".into()),
            ..Dcs::default()
        };
        assert!(d
            .validate("dcs", None)
            .unwrap_err()
            .to_string()
            .contains("%p"));
        d.archive_command = Some("pgbackrest --stanza=main archive-push %p".into());
        let p = d.effective_parameters();
        assert_eq!(p["archive_mode"], "on");
        d.parameters.insert("archive_mode".into(), json!("on"));
        assert!(d.validate("dcs", None).is_err());
    }

    #[test]
    fn numbers_and_booleans_may_arrive_as_strings() {
        let mut a = config_args();
        a["restapi_port"] = json!("8009");
        a["data_checksums"] = json!("no");
        a["dcs"] = json!({"ttl": "35", "synchronous_mode": "yes", "use_slots": "true"});
        let p = parse(a);
        p.validate().unwrap();
        assert_eq!(p.restapi_port, 8009);
        assert!(!p.data_checksums);
        assert_eq!(p.dcs.ttl, Some(35));
        assert_eq!(p.dcs.use_slots, Some(true));
        assert_eq!(p.dcs.synchronous_mode.unwrap().to_json(), json!(true));
        let mut a = config_args();
        a["restapi_port"] = json!(70000);
        assert_eq!(error(a), "restapi_port: 70000 is out of range");
        let mut a = config_args();
        a["postgres_port"] = json!("fast");
        assert_eq!(
            error(a),
            "postgres_port: 'fast' is not a whole number of 0 or more"
        );
        assert_eq!(
            error(json!({"action": "facts", "validate_certs": "maybe"})),
            "validate_certs: 'maybe' is not a boolean (true/false)"
        );
    }

    #[test]
    fn synchronous_mode_is_a_boolean_or_quorum() {
        let mut a = config_args();
        a["dcs"] = json!({"synchronous_mode": "quorum"});
        let p = parse(a);
        p.validate().unwrap();
        assert_eq!(p.dcs.synchronous_mode.unwrap().to_json(), json!("quorum"));
        let mut a = config_args();
        a["dcs"] = json!({"synchronous_mode": "always"});
        assert!(error(a).starts_with("dcs.synchronous_mode: 'always' is not true, false or quorum"));
    }

    #[test]
    fn yaml_booleans_become_on_off() {
        let d = Dcs {
            parameters: serde_json::from_value(
                json!({"hot_standby": true, "wal_compression": false, "max_connections": 500}),
            )
            .unwrap(),
            ..Dcs::default()
        };
        let p = d.effective_parameters();
        assert_eq!(p["hot_standby"], "on");
        assert_eq!(p["wal_compression"], "off");
        assert_eq!(p["max_connections"], 500);
    }

    #[test]
    fn action_specific_requirements_name_the_parameter() {
        assert!(error(json!({"action": "failover"})).starts_with("candidate: is required"));
        assert!(error(json!({"action": "reinitialize"})).starts_with("member: is required"));
        assert!(error(json!({"action": "wait_for"})).starts_with("condition: is required"));
        assert!(error(json!({"action": "wait_for", "condition": "member"}))
            .starts_with("member: is required"));
        assert!(
            error(json!({"action": "facts", "api_url": "10.0.3.11:8008"})).starts_with("api_url: ")
        );
        assert!(error(json!({"action": "facts", "api_username": "patroni"}))
            .starts_with("api_password: "));
        let db = json!({"action": "database", "db_name": "synapse", "db_owner": "Synapse",
                        "db_owner_password": "xxxxxxxxxxxxxxxx", "login_password": "y"});
        assert!(error(db).starts_with("db_owner: 'Synapse' is not a plain name"));
        let db = json!({"action": "database", "db_name": "synapse", "db_owner": "synapse",
                        "db_owner_password": "pässwörd-pässwörd", "login_password": "y"});
        assert!(error(db).contains("non-ASCII"));
    }

    #[test]
    fn unknown_action_lists_the_choices() {
        let msg = error(json!({"action": "promote"}));
        assert!(
            msg.starts_with("action: unknown variant `promote`"),
            "{msg}"
        );
        assert!(msg.contains("`switchover`"), "{msg}");
    }
}
