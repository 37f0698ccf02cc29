//! This node's `patroni.yml` from validated parameters (serde_yaml, stable key order).

use crate::actions::config::ConfigParams;
use crate::dcs::{normalise_parameter, DEFAULT_LOOP_WAIT, DEFAULT_RETRY_TIMEOUT, DEFAULT_TTL};
use crate::hba::hba_lines;
use crate::params::Connection;
use matrixha_module::Secret;
use serde_json::Value as Json;
use serde_yaml::{Mapping, Value};

/// The first line of every file this module writes.
pub const HEADER: &str =
    "# Managed by matrixha.stack.patroni_cluster (action: config); local edits are overwritten.";

struct Map(Mapping);

impl Map {
    fn new() -> Map {
        Map(Mapping::new())
    }
    fn set(mut self, k: &str, v: impl Into<Value>) -> Map {
        self.0.insert(Value::String(k.to_owned()), v.into());
        self
    }
    fn opt(self, k: &str, v: Option<impl Into<Value>>) -> Map {
        match v {
            Some(v) => self.set(k, v),
            None => self,
        }
    }
    fn done(self) -> Value {
        Value::Mapping(self.0)
    }
}

/// The clear value goes into the document: it is the file Patroni reads.
/// Diffs mask it by Patroni's schema ([`crate::masking`]).
fn secret(s: &Secret) -> Value {
    Value::String(s.expose().to_owned())
}

fn json_to_yaml(v: &Json) -> Value {
    serde_yaml::to_value(v).unwrap_or(Value::Null)
}

fn json_map(m: &serde_json::Map<String, Json>) -> Value {
    let mut out = Map::new();
    for (k, v) in m {
        out = out.set(k, json_to_yaml(v));
    }
    out.done()
}

/// The file's text for a document from [`document`].
pub fn text(doc: &Value) -> String {
    let body = serde_yaml::to_string(doc).unwrap_or_default();
    format!("{HEADER}\n{body}")
}

/// The full file as a YAML document, passwords in the clear.
pub fn document(conn: &Connection, p: &ConfigParams) -> Value {
    // Validation guarantees these; empty strings only if a caller skipped it.
    let addr = p.node_address.map(|a| a.to_string()).unwrap_or_default();
    let host = if addr.contains(':') {
        format!("[{addr}]")
    } else {
        addr.clone()
    };
    let loopback = p.node_address.map(|a| a.is_loopback()).unwrap_or(false);

    let mut restapi = Map::new()
        .set("listen", format!("{host}:{}", p.restapi_port))
        .set("connect_address", format!("{host}:{}", p.restapi_port))
        .opt("certfile", p.restapi_certfile.clone())
        .opt("keyfile", p.restapi_keyfile.clone());
    if let (Some(u), Some(pw)) = (&conn.api_username, &conn.api_password) {
        restapi = restapi.set(
            "authentication",
            Map::new()
                .set("username", u.as_str())
                .set("password", secret(pw))
                .done(),
        );
    }

    // DN-19: etcd3 speaks etcd's v3 API; `etcd:` is the v2 API that etcd 3.4+ disables.
    let mut etcd3 = Map::new()
        .set(
            "hosts",
            Value::Sequence(
                p.etcd3_hosts
                    .iter()
                    .map(|h| Value::String(h.clone()))
                    .collect(),
            ),
        )
        .set("protocol", p.etcd3_protocol.as_str())
        .opt("cacert", p.etcd3_cacert.clone());
    if let (Some(u), Some(pw)) = (&p.etcd3_username, &p.etcd3_password) {
        etcd3 = etcd3
            .set("username", u.as_str())
            .set("password", secret(pw));
    }

    let mut postgresql_dcs = Map::new()
        .opt("use_pg_rewind", p.dcs.use_pg_rewind.or(Some(true)))
        .opt("use_slots", p.dcs.use_slots);
    let params = p.dcs.effective_parameters();
    if !params.is_empty() {
        postgresql_dcs = postgresql_dcs.set("parameters", json_map(&params));
    }
    let dcs = Map::new()
        .set("ttl", p.dcs.ttl.unwrap_or(DEFAULT_TTL))
        .set("loop_wait", p.dcs.loop_wait.unwrap_or(DEFAULT_LOOP_WAIT))
        .set(
            "retry_timeout",
            p.dcs.retry_timeout.unwrap_or(DEFAULT_RETRY_TIMEOUT),
        )
        .opt("maximum_lag_on_failover", p.dcs.maximum_lag_on_failover)
        .opt(
            "synchronous_mode",
            p.dcs
                .synchronous_mode
                .as_ref()
                .map(|m| json_to_yaml(&m.to_json())),
        )
        .opt("synchronous_mode_strict", p.dcs.synchronous_mode_strict)
        .opt("synchronous_node_count", p.dcs.synchronous_node_count)
        .opt("failsafe_mode", p.dcs.failsafe_mode)
        .opt("check_timeline", p.dcs.check_timeline)
        .set("postgresql", postgresql_dcs.done());

    let mut initdb = vec![
        Map::new().set("encoding", "UTF8").done(),
        Map::new().set("locale", "C.UTF-8").done(),
    ];
    if p.data_checksums {
        initdb.push(Value::String("data-checksums".into()));
    }
    let bootstrap = Map::new()
        .set("dcs", dcs.done())
        .set("initdb", Value::Sequence(initdb));

    let mut auth = Map::new()
        .set(
            "superuser",
            user(&p.superuser_username, p.superuser_password.as_ref()),
        )
        .set(
            "replication",
            user(&p.replication_username, p.replication_password.as_ref()),
        );
    if let Some(pw) = &p.rewind_password {
        auth = auth.set("rewind", user(&p.rewind_username, Some(pw)));
    }

    let mut local = serde_json::Map::new();
    local.insert(
        "unix_socket_directories".into(),
        Json::String(p.unix_socket_dir.clone()),
    );
    for (k, v) in &p.local_parameters {
        local.insert(k.clone(), normalise_parameter(v));
    }

    // DN-1: the node address (and loopback for local tools), never every interface.
    let listen = if loopback {
        format!("{host}:{}", p.postgres_port)
    } else {
        format!("{addr},127.0.0.1:{}", p.postgres_port)
    };
    let postgresql = Map::new()
        .set("listen", listen)
        .set("connect_address", format!("{host}:{}", p.postgres_port))
        .set("data_dir", p.data_dir.clone().unwrap_or_default())
        .set("bin_dir", p.bin_dir.clone().unwrap_or_default())
        .opt("pgpass", p.pgpass.clone())
        .set("authentication", auth.done())
        .set("parameters", json_map(&local))
        .set(
            "pg_hba",
            Value::Sequence(hba_lines(p).into_iter().map(Value::String).collect()),
        );

    let mut doc = Map::new()
        .set("scope", p.scope.clone().unwrap_or_default())
        .set("name", p.name.clone().unwrap_or_default())
        .set("restapi", restapi.done())
        .set("etcd3", etcd3.done())
        .set("bootstrap", bootstrap.done())
        .set("postgresql", postgresql.done());
    if !p.tags.is_empty() {
        doc = doc.set("tags", json_map(&p.tags));
    }
    if let Some(dir) = &p.log_dir {
        doc = doc.set("log", Map::new().set("dir", dir.as_str()).done());
    }
    doc.done()
}

fn user(name: &str, pw: Option<&Secret>) -> Value {
    let mut m = Map::new().set("username", name);
    if let Some(pw) = pw {
        m = m.set("password", secret(pw));
    }
    m.done()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::params::{ActionParams, Params};
    use matrixha_module::parse_args;
    use serde_json::json;

    fn params(extra: Json) -> Params {
        let mut a = json!({
            "action": "config", "scope": "synapse", "name": "patroni1",
            "node_address": "10.0.3.11", "etcd3_hosts": ["10.0.3.11:2379", "10.0.3.12:2379"],
            "data_dir": "/var/lib/postgresql/15/main", "bin_dir": "/usr/lib/postgresql/15/bin",
            "superuser_password": "superuser-secret-0123456789", "replication_password": "replication-secret-0123456789",
            "api_username": "patroni", "api_password": "api-secret-0123456789-abcd",
            "cluster_networks": ["10.0.3.0/24"],
            "dcs": {"ttl": 20, "loop_wait": 4, "retry_timeout": 8, "synchronous_mode": true,
                    "parameters": {"max_connections": 500, "hot_standby": true},
                    "archive_command": "pgbackrest --stanza=main archive-push %p"},
            "tags": {"nofailover": false}
        });
        for (k, v) in extra.as_object().unwrap() {
            a[k] = v.clone();
        }
        let p = parse_args::<Params>(&a.to_string()).unwrap().1;
        crate::validate(&p).unwrap();
        p
    }

    fn render(p: &Params) -> String {
        match &p.action {
            ActionParams::Config(c) => text(&document(&p.connection, c)),
            other => panic!("not config: {other:?}"),
        }
    }

    fn parsed(p: &Params) -> serde_yaml::Value {
        serde_yaml::from_str(&render(p)).unwrap()
    }

    #[test]
    fn renders_etcd3_node_addresses_and_secrets() {
        let p = params(json!({}));
        let y = parsed(&p);
        assert!(y.get("etcd").is_none(), "DN-19: no v2 etcd section");
        assert_eq!(y["etcd3"]["hosts"][1], "10.0.3.12:2379");
        assert_eq!(y["restapi"]["listen"], "10.0.3.11:8008");
        assert_eq!(y["postgresql"]["listen"], "10.0.3.11,127.0.0.1:5432");
        assert_eq!(y["postgresql"]["connect_address"], "10.0.3.11:5432");
        assert_eq!(
            y["postgresql"]["authentication"]["superuser"]["password"],
            "superuser-secret-0123456789"
        );
        assert_eq!(y["restapi"]["authentication"]["username"], "patroni");
        let dcs = &y["bootstrap"]["dcs"];
        assert_eq!(dcs["ttl"], 20);
        assert_eq!(dcs["synchronous_mode"], true);
        assert_eq!(dcs["postgresql"]["parameters"]["hot_standby"], "on");
        assert_eq!(dcs["postgresql"]["parameters"]["archive_mode"], "on");
        assert!(dcs["postgresql"]["parameters"]
            .get("synchronous_standby_names")
            .is_none());
    }

    #[test]
    fn rendering_is_stable() {
        let p = params(json!({}));
        assert_eq!(render(&p), render(&p));
        assert!(render(&p).starts_with(HEADER));
    }
}
