//! What the task asked for: `action` picks one parameter type; the REST connection options are shared.

use crate::actions::{
    config::ConfigParams, database::DatabaseParams, dynamic_config::DynamicConfigParams,
    facts::FactsParams, failover::FailoverParams, reinitialize::ReinitializeParams,
    restart::RestartParams, switchover::SwitchoverParams, wait_for::WaitForParams,
};
use matrixha_module::{ModuleError, Secret};
use serde::de::{self, DeserializeOwned, Deserializer};
use serde::ser::{Error as _, Serializer};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::net::IpAddr;

/// What the task does; each action has its own parameter type.
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

impl Action {
    pub const ALL: [Action; 9] = [
        Action::Config,
        Action::Facts,
        Action::WaitFor,
        Action::DynamicConfig,
        Action::Switchover,
        Action::Failover,
        Action::Restart,
        Action::Reinitialize,
        Action::Database,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Action::Config => "config",
            Action::Facts => "facts",
            Action::WaitFor => "wait_for",
            Action::DynamicConfig => "dynamic_config",
            Action::Switchover => "switchover",
            Action::Failover => "failover",
            Action::Restart => "restart",
            Action::Reinitialize => "reinitialize",
            Action::Database => "database",
        }
    }

    /// The action's own parameters (the connection options come on top).
    pub fn fields(self) -> &'static [&'static str] {
        match self {
            Action::Config => field_names::<ConfigParams>(),
            Action::Facts => field_names::<FactsParams>(),
            Action::WaitFor => field_names::<WaitForParams>(),
            Action::DynamicConfig => field_names::<DynamicConfigParams>(),
            Action::Switchover => field_names::<SwitchoverParams>(),
            Action::Failover => field_names::<FailoverParams>(),
            Action::Restart => field_names::<RestartParams>(),
            Action::Reinitialize => field_names::<ReinitializeParams>(),
            Action::Database => field_names::<DatabaseParams>(),
        }
    }
}

/// Patroni's REST API as every action reaches it (`config` renders the
/// credentials as `restapi.authentication` and reloads through it).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Connection {
    #[serde(default = "default_api_url")]
    pub api_url: String,
    /// Basic auth for Patroni's unsafe endpoints.
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
}

impl Connection {
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
        Ok(())
    }
}

/// One action's parameters.
#[derive(Debug)]
pub enum ActionParams {
    // Boxed: the config parameters are far larger than any other action's.
    Config(Box<ConfigParams>),
    Facts(FactsParams),
    WaitFor(WaitForParams),
    DynamicConfig(DynamicConfigParams),
    Switchover(SwitchoverParams),
    Failover(FailoverParams),
    Restart(RestartParams),
    Reinitialize(ReinitializeParams),
    Database(DatabaseParams),
}

/// The whole task: the connection options and the action's own parameters.
#[derive(Debug)]
pub struct Params {
    pub connection: Connection,
    pub action: ActionParams,
}

impl Params {
    pub fn action(&self) -> Action {
        match &self.action {
            ActionParams::Config(_) => Action::Config,
            ActionParams::Facts(_) => Action::Facts,
            ActionParams::WaitFor(_) => Action::WaitFor,
            ActionParams::DynamicConfig(_) => Action::DynamicConfig,
            ActionParams::Switchover(_) => Action::Switchover,
            ActionParams::Failover(_) => Action::Failover,
            ActionParams::Restart(_) => Action::Restart,
            ActionParams::Reinitialize(_) => Action::Reinitialize,
            ActionParams::Database(_) => Action::Database,
        }
    }

    /// Splits the task's arguments: `action` picks the type, the connection
    /// options go to [`Connection`], the rest must belong to that action.
    pub fn from_map(mut map: Map<String, Value>) -> Result<Params, ModuleError> {
        // `null` means absent, as in parse_args (callers such as the CLI may pass it).
        map.retain(|_, v| !v.is_null());
        let choices = Action::ALL.map(Action::name).join(", ");
        let action: Action = match map.remove("action") {
            None => {
                return Err(ModuleError::param(
                    "action",
                    "is required",
                    format!("choose one of {choices}"),
                ))
            }
            Some(v) => typed::<Action>(v).map_err(|e| {
                let problem = e.problem.strip_prefix("parameters: ").unwrap_or(&e.problem);
                ModuleError::param("action", problem, format!("choose one of {choices}"))
            })?,
        };
        let mut conn = Map::new();
        for key in field_names::<Connection>() {
            if let Some(v) = map.remove(*key) {
                conn.insert((*key).to_owned(), v);
            }
        }
        let own = action.fields();
        if let Some(key) = map.keys().find(|k| !own.contains(&k.as_str())) {
            return Err(misplaced(key, action));
        }
        let connection: Connection = typed(Value::Object(conn))?;
        let rest = Value::Object(map);
        let action = match action {
            Action::Config => ActionParams::Config(Box::new(typed(rest)?)),
            Action::Facts => ActionParams::Facts(typed(rest)?),
            Action::WaitFor => ActionParams::WaitFor(typed(rest)?),
            Action::DynamicConfig => ActionParams::DynamicConfig(typed(rest)?),
            Action::Switchover => ActionParams::Switchover(typed(rest)?),
            Action::Failover => ActionParams::Failover(typed(rest)?),
            Action::Restart => ActionParams::Restart(typed(rest)?),
            Action::Reinitialize => ActionParams::Reinitialize(typed(rest)?),
            Action::Database => ActionParams::Database(typed(rest)?),
        };
        Ok(Params { connection, action })
    }
}

/// A parameter this action does not take: name the actions that do, if any.
fn misplaced(key: &str, action: Action) -> ModuleError {
    let users: Vec<&str> = Action::ALL
        .iter()
        .filter(|a| a.fields().contains(&key))
        .map(|a| a.name())
        .collect();
    let mut accepted: Vec<&str> = field_names::<Connection>().to_vec();
    accepted.extend(action.fields());
    accepted.sort_unstable();
    if users.is_empty() {
        ModuleError::param(
            key,
            format!(
                "is not a parameter of patroni_cluster (action {})",
                action.name()
            ),
            format!(
                "check the spelling; action {} takes {}",
                action.name(),
                accepted.join(", ")
            ),
        )
    } else {
        ModuleError::param(
            key,
            format!(
                "is not used by action {} (only by {})",
                action.name(),
                users.join(", ")
            ),
            format!(
                "remove it from this task; action {} takes {}",
                action.name(),
                accepted.join(", ")
            ),
        )
    }
}

/// Typed parsing of one part of the arguments, with errors that name the field.
fn typed<T: DeserializeOwned>(v: Value) -> Result<T, ModuleError> {
    matrixha_module::from_value::<T>(v)
}

impl<'de> Deserialize<'de> for Params {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Params, D::Error> {
        let map = Map::<String, Value>::deserialize(d)?;
        // The message already starts with the parameter's name.
        Params::from_map(map).map_err(|e| de::Error::custom(e.to_string()))
    }
}

/// `invocation.module_args`: one flat object as the task gave it (secrets masked).
impl Serialize for Params {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let own = match &self.action {
            ActionParams::Config(p) => serde_json::to_value(p),
            ActionParams::Facts(p) => serde_json::to_value(p),
            ActionParams::WaitFor(p) => serde_json::to_value(p),
            ActionParams::DynamicConfig(p) => serde_json::to_value(p),
            ActionParams::Switchover(p) => serde_json::to_value(p),
            ActionParams::Failover(p) => serde_json::to_value(p),
            ActionParams::Restart(p) => serde_json::to_value(p),
            ActionParams::Reinitialize(p) => serde_json::to_value(p),
            ActionParams::Database(p) => serde_json::to_value(p),
        }
        .map_err(S::Error::custom)?;
        let mut out = Map::new();
        out.insert("action".into(), Value::String(self.action().name().into()));
        if let Value::Object(c) =
            serde_json::to_value(&self.connection).map_err(S::Error::custom)?
        {
            out.extend(c);
        }
        if let Value::Object(o) = own {
            out.extend(o);
        }
        Value::Object(out).serialize(s)
    }
}

/// The field names serde's derive gives a struct, read from the derive itself
/// (it passes them to `deserialize_struct`), so no list is kept by hand.
pub fn field_names<T: DeserializeOwned>() -> &'static [&'static str] {
    let mut grabbed = None;
    let _ = T::deserialize(FieldGrab(&mut grabbed));
    grabbed.unwrap_or(&[])
}

struct FieldGrab<'a>(&'a mut Option<&'static [&'static str]>);

impl<'de> Deserializer<'de> for FieldGrab<'_> {
    type Error = de::value::Error;
    fn deserialize_any<V: de::Visitor<'de>>(self, _: V) -> Result<V::Value, Self::Error> {
        Err(de::Error::custom("not a struct"))
    }
    fn deserialize_struct<V: de::Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        _: V,
    ) -> Result<V::Value, Self::Error> {
        *self.0 = Some(fields);
        Err(de::Error::custom("fields read"))
    }
    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        option unit unit_struct newtype_struct seq tuple tuple_struct map enum identifier ignored_any
    }
}

fn yes() -> bool {
    true
}
fn default_api_url() -> String {
    "http://127.0.0.1:8008".into()
}
fn default_api_timeout() -> u64 {
    10
}
pub(crate) fn default_timeout() -> u64 {
    120
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

pub(crate) fn is_token(s: &str) -> bool {
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

/// A password the module renders or turns into a verifier: required here, and
/// then the one PostgreSQL password rule (`pg_auth::check_password`, as the CLI).
pub(crate) fn check_password(
    name: &str,
    pw: Option<&Secret>,
    action: &str,
) -> Result<(), ModuleError> {
    match pw {
        None => Err(ModuleError::param(
            name,
            format!("is required for action {action}"),
            "pass it from Ansible Vault (no_log)",
        )),
        Some(s) => pg_auth::check_password(name, s),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use matrixha_module::parse_args;
    use serde_json::json;

    fn error(v: Value) -> String {
        match parse_args::<Params>(&v.to_string()) {
            Ok((_, p)) => crate::validate(&p).unwrap_err().to_string(),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn every_action_reads_its_own_fields() {
        assert!(Action::Config.fields().contains(&"superuser_password"));
        assert!(Action::Database.fields().contains(&"db_owner_password"));
        assert!(Action::Facts.fields().is_empty());
        assert!(field_names::<Connection>().contains(&"api_password"));
    }

    #[test]
    fn unknown_action_lists_the_choices() {
        let msg = error(json!({"action": "promote"}));
        assert!(msg.starts_with("action: "), "{msg}");
        assert!(msg.contains("switchover"), "{msg}");
        assert!(!msg.contains("parameters:"), "{msg}");
        let msg = error(json!({"api_url": "http://127.0.0.1:8008"}));
        assert!(msg.starts_with("action: is required"), "{msg}");
    }

    #[test]
    fn a_parameter_of_another_action_is_named_with_the_actions_that_take_it() {
        let msg = error(json!({"action": "facts", "candidate": "pg2"}));
        assert!(
            msg.starts_with(
                "candidate: is not used by action facts (only by switchover, failover)"
            ),
            "{msg}"
        );
        assert!(msg.contains("Fix: remove it"), "{msg}");
        let msg = error(json!({"action": "config", "scoep": "x"}));
        assert!(msg.starts_with("scoep: is not a parameter"), "{msg}");
        assert!(msg.contains("scope"), "lists what config takes: {msg}");
    }

    #[test]
    fn connection_options_are_checked_for_every_action() {
        assert!(
            error(json!({"action": "facts", "api_url": "10.0.3.11:8008"})).starts_with("api_url: ")
        );
        assert!(error(json!({"action": "facts", "api_username": "patroni"}))
            .starts_with("api_password: "));
        let msg = error(json!({"action": "facts", "validate_certs": "maybe"}));
        assert!(
            msg.starts_with("validate_certs: ") && msg.contains("boolean"),
            "{msg}"
        );
    }

    #[test]
    fn invocation_is_one_flat_object_with_secrets_masked() {
        let (_, p): (_, Params) = parse_args(
            &json!({"action": "restart", "member": "pg2", "api_username": "patroni",
                    "api_password": "restapi-secret-0123456789"})
            .to_string(),
        )
        .unwrap();
        let v = serde_json::to_value(&p).unwrap();
        assert_eq!(v["action"], "restart");
        assert_eq!(v["member"], "pg2");
        assert_eq!(v["api_url"], "http://127.0.0.1:8008");
        assert!(!v.to_string().contains("restapi-secret"), "{v}");
    }
}
