//! `pg_hba.conf` rules: the ones a task adds (validated, DN-2) and the full list `config` renders.

use crate::actions::config::ConfigParams;
use crate::params::cidr;
use matrixha_module::ModuleError;
use serde::{Deserialize, Serialize};

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

fn default_hba_type() -> String {
    "host".into()
}
fn default_hba_method() -> String {
    "scram-sha-256".into()
}

impl HbaRule {
    pub(crate) fn validate(&self) -> Result<(), ModuleError> {
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

/// pg_hba: local socket for the superuser (peer), loopback and the cluster
/// networks with scram-sha-256 (DN-2), then the task's own rules.
pub fn hba_lines(p: &ConfigParams) -> Vec<String> {
    let mut rules = vec![
        HbaRule {
            kind: "local".into(),
            database: "all".into(),
            user: p.superuser_username.clone(),
            address: None,
            method: "peer".into(),
        },
        HbaRule {
            kind: "local".into(),
            database: "all".into(),
            user: "all".into(),
            address: None,
            method: "scram-sha-256".into(),
        },
        HbaRule {
            kind: "host".into(),
            database: "all".into(),
            user: "all".into(),
            address: Some("127.0.0.1/32".into()),
            method: "scram-sha-256".into(),
        },
        HbaRule {
            kind: "host".into(),
            database: "replication".into(),
            user: p.replication_username.clone(),
            address: Some("127.0.0.1/32".into()),
            method: "scram-sha-256".into(),
        },
    ];
    for net in &p.cluster_networks {
        rules.push(HbaRule {
            kind: "host".into(),
            database: "replication".into(),
            user: p.replication_username.clone(),
            address: Some(net.clone()),
            method: "scram-sha-256".into(),
        });
        rules.push(HbaRule {
            kind: "host".into(),
            database: "all".into(),
            user: "all".into(),
            address: Some(net.clone()),
            method: "scram-sha-256".into(),
        });
    }
    rules.extend(p.pg_hba.iter().cloned());
    let mut seen = std::collections::HashSet::new();
    rules
        .iter()
        .map(HbaRule::line)
        .filter(|l| seen.insert(l.clone()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::params::{ActionParams, Params};
    use matrixha_module::parse_args;
    use serde_json::json;

    fn hba(extra: serde_json::Value) -> Vec<String> {
        let mut a = crate::actions::config::tests::config_args();
        for (k, v) in extra.as_object().unwrap() {
            a[k] = v.clone();
        }
        let p = parse_args::<Params>(&a.to_string()).unwrap().1;
        crate::validate(&p).unwrap();
        match &p.action {
            ActionParams::Config(c) => hba_lines(c),
            other => panic!("not config: {other:?}"),
        }
    }

    #[test]
    fn pg_hba_allows_the_db_subnet_with_scram_and_keeps_extra_rules_last() {
        let lines = hba(
            json!({"pg_hba": [{"database": "synapse", "user": "synapse", "address": "10.0.2.0/24"}]}),
        );
        assert!(lines.contains(&"host all all 10.0.3.0/24 scram-sha-256".to_owned()));
        assert!(lines.contains(&"host replication replicator 10.0.3.0/24 scram-sha-256".to_owned()));
        assert_eq!(
            lines.last().unwrap(),
            "host synapse synapse 10.0.2.0/24 scram-sha-256"
        );
        assert!(lines.iter().all(|l| !l.contains("md5")));
    }
}
