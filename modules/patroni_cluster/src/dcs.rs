//! Patroni's dynamic (DCS) configuration: `bootstrap.dcs` for `config`, the desired `/config` for `dynamic_config`.

use matrixha_module::ModuleError;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

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

/// Parameters Patroni owns in synchronous mode (DN-6).
const PATRONI_OWNED: &[&str] = &["synchronous_standby_names", "synchronous_commit"];
const SYNC_FIX: &str = "remove it and use dcs.synchronous_mode, dcs.synchronous_node_count \
                        and dcs.synchronous_mode_strict; Patroni manages it (DN-6)";

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

pub(crate) fn check_parameters(
    prefix: &str,
    params: &Map<String, Value>,
) -> Result<(), ModuleError> {
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

fn is_parameter_name(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

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
    fn timing_rule_names_the_fix() {
        let msg = check_timing("dcs", 20, 10, 10).unwrap_err().to_string();
        assert!(
            msg.starts_with(
                "dcs.ttl: loop_wait (10) + 2 × retry_timeout (10) = 30 exceeds ttl (20)"
            ),
            "{msg}"
        );
        assert!(msg.contains("raise ttl to at least 30"), "{msg}");
        check_timing("dcs", 20, 4, 8).unwrap();
    }
}
