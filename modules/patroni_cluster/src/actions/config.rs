//! `action: config`: this node's `patroni.yml` — observe the file, plan (render, masked diff), apply (write, reload).

use crate::dcs::{check_parameters, Dcs, DEFAULT_LOOP_WAIT, DEFAULT_RETRY_TIMEOUT, DEFAULT_TTL};
use crate::hba::HbaRule;
use crate::params::{check_password, cidr, host_port, is_identifier, is_token, Connection};
use crate::rest::{snippet, Api};
use crate::{masking, render};
use matrixha_module::file::{self, parse_mode, Ownership};
use matrixha_module::{systemd, Ctx, ModuleError, Outcome, Secret};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use std::net::IpAddr;
use std::path::Path;

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

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigParams {
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
    /// Rendered as `bootstrap.dcs` (used once, when the cluster is created).
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
}

fn yes() -> bool {
    true
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

impl ConfigParams {
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

    pub fn validate(&self, conn: &Connection) -> Result<(), ModuleError> {
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
        // Patroni creates these roles and the REST API's credentials from this file.
        check_password(
            "superuser_password",
            self.superuser_password.as_ref(),
            "config",
        )?;
        check_password(
            "replication_password",
            self.replication_password.as_ref(),
            "config",
        )?;
        if self.rewind_password.is_some() {
            check_password("rewind_password", self.rewind_password.as_ref(), "config")?;
        }
        if conn.api_password.is_some() {
            check_password("api_password", conn.api_password.as_ref(), "config")?;
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
}

/// What is on disk now.
struct Observed {
    text: Option<String>,
    ownership: Option<Ownership>,
}

fn observe(p: &ConfigParams) -> Result<Observed, ModuleError> {
    let path = Path::new(&p.path);
    Ok(Observed {
        text: file::read_optional(path)?,
        ownership: file::observed_ownership(path),
    })
}

/// What would change: the whole file (it holds passwords, so it is a [`Secret`]) and its ownership.
struct Plan {
    content: Secret,
    doc: serde_yaml::Value,
    ownership: Ownership,
    content_changes: bool,
    owner_changes: bool,
}

fn plan(conn: &Connection, p: &ConfigParams, now: &Observed) -> Result<Plan, ModuleError> {
    let doc = render::document(conn, p);
    let content = Secret::new(render::text(&doc));
    let ownership = p.ownership()?;
    Ok(Plan {
        content_changes: now.text.as_deref() != Some(content.expose()),
        owner_changes: file::ownership_differs(&ownership, now.ownership.as_ref()),
        content,
        doc,
        ownership,
    })
}

pub fn run(conn: &Connection, p: &ConfigParams, ctx: &Ctx) -> Result<Outcome, ModuleError> {
    let now = observe(p)?;
    let plan = plan(conn, p, &now)?;
    let mut out =
        Outcome::changed_if(plan.content_changes || plan.owner_changes).field("path", &p.path);
    // Rendering cannot prove the binaries exist; Patroni would fail only when it starts.
    if let Some(bin) = &p.bin_dir {
        if !Path::new(bin).join("postgres").exists() {
            out = out.warn(format!(
                "{bin}/postgres does not exist on this host; install PostgreSQL before starting Patroni, or fix bin_dir"
            ));
        }
    }
    if plan.content_changes {
        // Both sides masked by Patroni's schema; a changed secret says "(will change)".
        let (before, after) = masking::diff_texts(now.text.as_deref(), &plan.doc);
        out = out.diff(&p.path, before, after);
    }
    let mut reloaded = false;
    if (plan.content_changes || plan.owner_changes) && !ctx.check_mode {
        write(p, &plan)?;
        if plan.content_changes {
            let (done, warning) = reload(conn, p)?;
            reloaded = done;
            if let Some(w) = warning {
                out = out.warn(w);
            }
        }
    }
    Ok(out.field("reloaded", reloaded))
}

/// Writes `patroni.yml` (atomic, owner, mode); creates its directory when missing.
fn write(p: &ConfigParams, plan: &Plan) -> Result<(), ModuleError> {
    let path = Path::new(&p.path);
    if let Some(dir) = path.parent() {
        if !dir.exists() {
            std::fs::create_dir_all(dir).map_err(|e| {
                ModuleError::param(
                    "path",
                    format!("cannot create {}: {e}", dir.display()),
                    "create the directory or choose another path",
                )
            })?;
        }
    }
    file::write_atomic(
        path,
        plan.content.expose().as_bytes(),
        &plan.ownership,
        false,
    )?;
    Ok(())
}

/// Tells a running Patroni to re-read its file. Returns whether it was told,
/// and a warning when it is not running (it reads the file when it starts).
fn reload(conn: &Connection, p: &ConfigParams) -> Result<(bool, Option<String>), ModuleError> {
    match p.reload {
        Reload::None => Ok((false, None)),
        Reload::Systemd => {
            if systemd::is_active(&p.service) {
                // Patroni re-reads its configuration on SIGHUP, which the unit's ExecReload sends.
                systemd::apply(&p.service, systemd::ServiceAction::Reload)?;
                Ok((true, None))
            } else {
                Ok((
                    false,
                    Some(format!(
                        "{} is not active; Patroni reads the new file when it starts",
                        p.service
                    )),
                ))
            }
        }
        Reload::Rest => {
            let api = Api::new(conn, None)?;
            match api.post("/reload", &json!({})) {
                // 202 "reload scheduled" (3.x and 4.x); 200 on some versions.
                Ok(r) if matches!(r.status, 200 | 202) => Ok((true, None)),
                Ok(r) => Err(ModuleError::new(format!(
                    "Patroni refused POST {}/reload with {}: {}",
                    api.base,
                    r.status,
                    snippet(&r.body)
                ))
                .with_fix("see Patroni's log on this node")),
                Err(e)
                    if e.param.as_deref() == Some("api_url")
                        && e.problem.contains("cannot connect") =>
                {
                    Ok((
                        false,
                        Some(format!(
                            "Patroni is not reachable at {}; it reads the new file when it starts",
                            api.base
                        )),
                    ))
                }
                Err(e) => Err(e),
            }
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use crate::params::Params;
    use matrixha_module::parse_args;
    use serde_json::{json, Value};

    pub(crate) fn config_args() -> Value {
        json!({
            "action": "config", "scope": "synapse", "name": "patroni1",
            "node_address": "10.0.3.11", "etcd3_hosts": ["10.0.3.11:2379"],
            "data_dir": "/var/lib/postgresql/15/main", "bin_dir": "/usr/lib/postgresql/15/bin",
            "superuser_password": "superuser-secret-0123456789", "replication_password": "replication-secret-0123456789",
            "cluster_networks": ["10.0.3.0/24"]
        })
    }

    fn parse(v: Value) -> Params {
        parse_args::<Params>(&v.to_string()).unwrap().1
    }

    fn error(v: Value) -> String {
        match parse_args::<Params>(&v.to_string()) {
            Ok((_, p)) => crate::validate(&p).unwrap_err().to_string(),
            Err(e) => e.to_string(),
        }
    }

    fn config(p: &Params) -> &super::ConfigParams {
        match &p.action {
            crate::params::ActionParams::Config(c) => c,
            other => panic!("not config: {other:?}"),
        }
    }

    #[test]
    fn a_complete_config_validates() {
        crate::validate(&parse(config_args())).unwrap();
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
        crate::validate(&parse(a)).unwrap();
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
        let msg = error(a);
        assert!(msg.starts_with("node_address: invalid IP address"), "{msg}");
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

    /// One rule with the CLI: pg_auth::MIN_PASSWORD_LEN (24), for every password
    /// Patroni creates from this file.
    #[test]
    fn passwords_shorter_than_the_shared_minimum_are_refused() {
        assert_eq!(pg_auth::MIN_PASSWORD_LEN, 24);
        let short = "x".repeat(pg_auth::MIN_PASSWORD_LEN - 1);
        for key in [
            "superuser_password",
            "replication_password",
            "rewind_password",
            "api_password",
        ] {
            let mut a = config_args();
            a[key] = json!(short);
            if key == "api_password" {
                a["api_username"] = json!("patroni");
            }
            let msg = error(a);
            assert_eq!(
                msg,
                format!("{key}: is shorter than 24 characters (23 given). Fix: generate one with `matrixha secrets` (40 random characters) and keep it in Ansible Vault")
            );
            let mut a = config_args();
            a[key] = json!("x".repeat(pg_auth::MIN_PASSWORD_LEN));
            if key == "api_password" {
                a["api_username"] = json!("patroni");
            }
            crate::validate(&parse(a)).unwrap();
        }
    }

    #[test]
    fn numbers_and_booleans_may_arrive_as_strings() {
        let mut a = config_args();
        a["restapi_port"] = json!("8009");
        a["data_checksums"] = json!("no");
        a["dcs"] = json!({"ttl": "35", "synchronous_mode": "yes", "use_slots": "true"});
        let p = parse(a);
        crate::validate(&p).unwrap();
        let c = config(&p);
        assert_eq!(c.restapi_port, 8009);
        assert!(!c.data_checksums);
        assert_eq!(c.dcs.ttl, Some(35));
        assert_eq!(c.dcs.use_slots, Some(true));
        assert_eq!(
            c.dcs.synchronous_mode.clone().unwrap().to_json(),
            json!(true)
        );
        let mut a = config_args();
        a["restapi_port"] = json!(70000);
        let msg = error(a);
        assert!(
            msg.starts_with("restapi_port: ") && msg.contains("out of range"),
            "{msg}"
        );
        let mut a = config_args();
        a["postgres_port"] = json!("fast");
        let msg = error(a);
        assert!(msg.starts_with("postgres_port: "), "{msg}");
        assert!(msg.contains("whole number"), "{msg}");
    }

    #[test]
    fn synchronous_mode_is_a_boolean_or_quorum() {
        let mut a = config_args();
        a["dcs"] = json!({"synchronous_mode": "quorum"});
        let p = parse(a);
        crate::validate(&p).unwrap();
        assert_eq!(
            config(&p).dcs.synchronous_mode.clone().unwrap().to_json(),
            json!("quorum")
        );
        let mut a = config_args();
        a["dcs"] = json!({"synchronous_mode": "always"});
        assert!(error(a).starts_with("dcs.synchronous_mode: 'always' is not true, false or quorum"));
    }

    /// Every secret parameter of `config`, in check and diff mode, with the
    /// scrubber off: the result (diff included) never carries one of them, nor
    /// the old password of the file it takes over.
    #[test]
    fn config_result_never_carries_a_secret() {
        matrixha_module::disable_scrubber_for_tests();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("patroni.yml");
        std::fs::write(
            &path,
            "restapi:\n  authentication:\n    username: patroni\n    password: old-api-secret-0123456789\n  keyfile_password: old-keyfile-secret-0123\n",
        )
        .unwrap();
        let secrets = [
            "su-secret-0001-0123456789",
            "repl-secret-002-0123456789",
            "rewind-secret-03-0123456789",
            "api-secret-00004-0123456789",
            "etcd-secret-0005",
        ];
        let args = json!({
            "action": "config", "path": path, "scope": "s", "name": "n", "node_address": "10.0.3.11",
            "etcd3_hosts": ["10.0.3.11:2379"], "data_dir": "/d", "bin_dir": "/b", "cluster_networks": ["10.0.3.0/24"],
            "superuser_password": secrets[0], "replication_password": secrets[1], "rewind_password": secrets[2],
            "api_username": "patroni", "api_password": secrets[3], "etcd3_username": "root", "etcd3_password": secrets[4],
            "_ansible_check_mode": true, "_ansible_diff": true
        });
        let r = matrixha_module::run_with_args::<crate::PatroniCluster>(&args.to_string());
        assert_eq!(r["changed"], true, "{r}");
        let text = r.to_string();
        for s in secrets
            .iter()
            .chain(["old-api-secret-0123456789", "old-keyfile-secret-0123"].iter())
        {
            assert!(!text.contains(s), "{s} leaked: {text}");
        }
        let after = r["diff"][0]["after"].as_str().unwrap();
        assert!(
            after.contains("password: '******** (will change)'"),
            "{after}"
        );
        assert!(
            std::fs::read_to_string(&path)
                .unwrap()
                .contains("old-api-secret-0123456789"),
            "check mode kept the file"
        );
    }
}
