//! What the task asked for: `state` picks coturn settings or a probe, each its own typed, validated parameter set.

use crate::probe::params::ProbeParams;
use crate::{peers, rules};
use matrixha_module::file::{parse_mode, Ownership};
use matrixha_module::systemd::ServiceAction;
use matrixha_module::{from_value, lenient, ModuleError, Secret};
use serde::de::{self, Deserializer};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::net::IpAddr;

/// The task's arguments: `state` (default `present`) selects the parameter type.
/// Each type is the one list of its fields; an option of the other state is refused
/// by name, not as an unknown field.
#[derive(Debug, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum Params {
    /// Keep `turnserver.conf` as asked.
    Present(Box<ConfigParams>),
    /// Allocate a relay on each target over each transport; changes nothing.
    Probe(ProbeParams),
}

impl<'de> Deserialize<'de> for Params {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Params, D::Error> {
        let Value::Object(mut args) = Value::deserialize(d)? else {
            return Err(de::Error::custom(
                "parameters: expected a mapping of parameters",
            ));
        };
        let state = match args.remove("state") {
            None | Some(Value::Null) => "present".to_owned(),
            Some(Value::String(s)) if s == "present" || s == "probe" => s,
            Some(other) => {
                return Err(de::Error::custom(format!(
                    "state: found {}, expected `present` or `probe`",
                    lenient::describe(&other)
                )))
            }
        };
        // from_value's messages already start with the parameter's name.
        let parsed = if state == "probe" {
            refuse_other_state(&args, fields::<ProbeParams>(), "probe")
                .and_then(|()| from_value::<ProbeParams>(Value::Object(args)))
                .map(Params::Probe)
        } else {
            refuse_other_state(&args, fields::<ConfigParams>(), "present")
                .and_then(|()| from_value::<ConfigParams>(Value::Object(args)))
                .map(|c| Params::Present(Box::new(c)))
        };
        parsed.map_err(|e| de::Error::custom(e.to_string()))
    }
}

/// A parameter the chosen state does not know but the other state does: say so, so
/// the user learns which `state` it belongs to.
fn refuse_other_state(
    args: &Map<String, Value>,
    own: &[&str],
    state: &str,
) -> Result<(), ModuleError> {
    let (other, other_fields) = if state == "probe" {
        ("present", fields::<ConfigParams>())
    } else {
        ("probe", fields::<ProbeParams>())
    };
    match args
        .keys()
        .find(|k| !own.contains(&k.as_str()) && other_fields.contains(&k.as_str()))
    {
        Some(name) => Err(ModuleError::param(
            name.as_str(),
            format!("is not used with state: {state}"),
            format!("remove it, or use state: {other}"),
        )),
        None => Ok(()),
    }
}

/// The field names serde derived for `T`, read from the derive itself so no second
/// list has to be kept in step.
fn fields<'de, T: Deserialize<'de>>() -> &'static [&'static str] {
    let mut found: &'static [&'static str] = &[];
    let _ = T::deserialize(FieldNames(&mut found));
    found
}

/// A Deserializer that only records the field list a derived struct asks for.
struct FieldNames<'a>(&'a mut &'static [&'static str]);

#[derive(Debug)]
struct Stop;

impl std::fmt::Display for Stop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("field names read")
    }
}
impl std::error::Error for Stop {}
impl de::Error for Stop {
    fn custom<T: std::fmt::Display>(_: T) -> Stop {
        Stop
    }
}

impl<'de> Deserializer<'de> for FieldNames<'_> {
    type Error = Stop;
    fn deserialize_struct<V: de::Visitor<'de>>(
        self,
        _: &'static str,
        fields: &'static [&'static str],
        _: V,
    ) -> Result<V::Value, Stop> {
        *self.0 = fields;
        Err(Stop)
    }
    fn deserialize_any<V: de::Visitor<'de>>(self, _: V) -> Result<V::Value, Stop> {
        Err(Stop)
    }
    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf option unit unit_struct newtype_struct seq tuple
        tuple_struct map enum identifier ignored_any
    }
}

/// `state: present`, defaults applied.
#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigParams {
    #[serde(default = "default_path")]
    pub path: String,
    /// The TURN realm (coturn answers 401 with it; clients hash credentials with it).
    pub realm: String,
    /// The name in `turn_uris` and the name the TLS certificate must carry; defaults to `realm`.
    #[serde(default)]
    pub server_name: Option<String>,
    /// Shared with Synapse (`turn_shared_secret`); ephemeral credentials derive from it.
    pub static_auth_secret: Secret,
    /// Node addresses coturn listens on (never 0.0.0.0 on shared hosts, DN-1).
    pub listening_ips: Vec<IpAddr>,
    #[serde(default)]
    pub relay_ips: Vec<IpAddr>,
    /// `external-ip`: a public address, or `public/private` when behind NAT.
    #[serde(default)]
    pub external_ip: Option<String>,
    #[serde(
        default = "default_listening_port",
        deserialize_with = "matrixha_module::lenient::int"
    )]
    pub listening_port: u16,
    #[serde(
        default = "default_tls_listening_port",
        deserialize_with = "matrixha_module::lenient::int"
    )]
    pub tls_listening_port: u16,
    #[serde(
        default = "default_min_port",
        deserialize_with = "matrixha_module::lenient::int"
    )]
    pub min_port: u16,
    #[serde(
        default = "default_max_port",
        deserialize_with = "matrixha_module::lenient::int"
    )]
    pub max_port: u16,
    #[serde(default)]
    pub cert: Option<String>,
    #[serde(default)]
    pub pkey: Option<String>,
    /// The user coturn runs as; cert and pkey must be readable by it. `""` skips the check.
    #[serde(default = "default_service_user")]
    pub service_user: String,
    /// Subnets of servers TURN must never relay to (DB, storage, management, service), DN-14.
    #[serde(default)]
    pub server_subnets: Vec<String>,
    /// Subnets where clients live; relaying to them stays allowed, DN-14.
    #[serde(default)]
    pub client_subnets: Vec<String>,
    /// Also deny every private range (RFC 1918, RFC 6598, fc00::/7): for TURN facing the internet.
    #[serde(default, deserialize_with = "matrixha_module::lenient::boolean")]
    pub deny_private_ranges: bool,
    #[serde(default)]
    pub denied_peer_ips: Vec<String>,
    /// Allowed wins over denied in coturn.
    #[serde(default)]
    pub allowed_peer_ips: Vec<String>,
    #[serde(
        default = "default_user_quota",
        deserialize_with = "matrixha_module::lenient::int"
    )]
    pub user_quota: u32,
    #[serde(
        default = "default_total_quota",
        deserialize_with = "matrixha_module::lenient::int"
    )]
    pub total_quota: u32,
    /// `log-file`; without it coturn logs to syslog (the journal).
    #[serde(default)]
    pub log_file: Option<String>,
    #[serde(default, deserialize_with = "matrixha_module::lenient::boolean")]
    pub verbose: bool,
    /// coturn's version (`4.6.1`); detected with `turnserver --version` when absent.
    #[serde(default)]
    pub coturn_version: Option<String>,
    #[serde(default)]
    pub owner: Option<String>,
    #[serde(default)]
    pub group: Option<String>,
    #[serde(default = "default_mode")]
    pub mode: String,
    #[serde(default = "default_service")]
    pub service: String,
    #[serde(default = "default_service_action")]
    pub service_action: ServiceAction,
    #[serde(default, deserialize_with = "matrixha_module::lenient::boolean")]
    pub backup: bool,
}

fn default_path() -> String {
    "/etc/turnserver.conf".into()
}
fn default_listening_port() -> u16 {
    rules::DEFAULT_LISTENING_PORT
}
fn default_tls_listening_port() -> u16 {
    rules::DEFAULT_TLS_LISTENING_PORT
}
fn default_min_port() -> u16 {
    *rules::EPHEMERAL_PORTS.start()
}
fn default_max_port() -> u16 {
    *rules::EPHEMERAL_PORTS.end()
}
fn default_user_quota() -> u32 {
    12
}
fn default_total_quota() -> u32 {
    1200
}
fn default_mode() -> String {
    "0640".into()
}
fn default_service() -> String {
    "coturn".into()
}
fn default_service_user() -> String {
    // Debian's coturn.service runs `User=turnserver`.
    "turnserver".into()
}
fn default_service_action() -> ServiceAction {
    // coturn re-reads only its certificates on SIGHUP; listeners and secrets need a restart.
    ServiceAction::Restart
}

/// coturn reads everything after the key up to the line end as the value (DN-14).
fn no_comment(name: &str, v: &str) -> Result<(), ModuleError> {
    if v.contains('#') || v.contains('\n') || v.contains('\r') {
        return Err(ModuleError::param(
            name,
            "contains '#' or a line break; coturn reads everything after '=' up to the line end as the value (DN-14)",
            "remove it",
        ));
    }
    Ok(())
}

impl ConfigParams {
    pub fn tls(&self) -> bool {
        self.cert.is_some()
    }

    pub fn host_name(&self) -> &str {
        self.server_name.as_deref().unwrap_or(&self.realm)
    }

    pub fn service_action_runs(&self) -> bool {
        self.service_action != ServiceAction::None
    }

    pub fn ports(&self) -> rules::Ports {
        rules::Ports {
            listening_port: self.listening_port,
            tls_listening_port: self.tls_listening_port,
            min_port: self.min_port,
            max_port: self.max_port,
        }
    }

    pub fn ownership(&self) -> Result<Ownership, ModuleError> {
        Ok(Ownership {
            owner: self.owner.clone(),
            group: self.group.clone(),
            mode: Some(
                parse_mode(&self.mode)
                    .map_err(|e| ModuleError::param("mode", e, "quote it in YAML: mode: '0640'"))?,
            ),
        })
    }

    /// The peer subnets parsed, with the node's own addresses for the warnings.
    pub fn peer_request(&self) -> Result<peers::PeerRequest, ModuleError> {
        Ok(peers::PeerRequest {
            server_subnets: peers::parse_ranges("server_subnets", &self.server_subnets)?,
            client_subnets: peers::parse_ranges("client_subnets", &self.client_subnets)?,
            denied_peer_ips: peers::parse_ranges("denied_peer_ips", &self.denied_peer_ips)?,
            allowed_peer_ips: peers::parse_ranges("allowed_peer_ips", &self.allowed_peer_ips)?,
            deny_private_ranges: self.deny_private_ranges,
            node_ips: self
                .listening_ips
                .iter()
                .chain(&self.relay_ips)
                .copied()
                .collect(),
        })
    }

    /// Everything that can be checked without the host; returns the peer plan it checked.
    pub fn validate(&self) -> Result<peers::PeerPlan, ModuleError> {
        if !self.path.starts_with('/') {
            return Err(ModuleError::param(
                "path",
                "is not an absolute path",
                "give the full path, e.g. /etc/turnserver.conf",
            ));
        }
        if self.realm.trim().is_empty() || self.realm.contains(char::is_whitespace) {
            return Err(ModuleError::param(
                "realm",
                "must be a non-empty name without spaces",
                "use the TURN domain, e.g. turn.example.org",
            ));
        }
        rules::check_static_auth_secret(&self.static_auth_secret)?;
        rules::check_listening_ips(&self.listening_ips)?;
        rules::check_not_wildcard("relay_ips", &self.relay_ips)?;
        rules::check_ports(&self.ports())?;
        if self.cert.is_some() != self.pkey.is_some() {
            return Err(ModuleError::param(
                "pkey",
                "cert and pkey must be given together",
                "set both for TURN over TLS, or neither",
            ));
        }
        for (name, v) in [
            ("cert", &self.cert),
            ("pkey", &self.pkey),
            ("log_file", &self.log_file),
        ] {
            if let Some(v) = v {
                if !v.starts_with('/') {
                    return Err(ModuleError::param(
                        name,
                        "is not an absolute path",
                        "give the full path",
                    ));
                }
                no_comment(name, v)?;
                if v.contains(char::is_whitespace) {
                    return Err(ModuleError::param(
                        name,
                        "contains whitespace",
                        "use a path without spaces",
                    ));
                }
            }
        }
        for (name, v) in [
            ("realm", Some(&self.realm)),
            ("external_ip", self.external_ip.as_ref()),
            ("server_name", self.server_name.as_ref()),
        ] {
            if let Some(v) = v {
                no_comment(name, v)?;
            }
        }
        if let Some(ext) = &self.external_ip {
            let ok = match ext.split_once('/') {
                Some((a, b)) => a.parse::<IpAddr>().is_ok() && b.parse::<IpAddr>().is_ok(),
                None => ext.parse::<IpAddr>().is_ok(),
            };
            if !ok {
                return Err(ModuleError::param(
                    "external_ip",
                    "is not an address or a public/private pair",
                    "write 203.0.113.5 or 203.0.113.5/10.0.5.11",
                ));
            }
        }
        if let Some(v) = &self.coturn_version {
            crate::version::Version::parse(v).ok_or_else(|| {
                ModuleError::param(
                    "coturn_version",
                    "is not a version like 4.6.1",
                    "omit it to detect the installed version",
                )
            })?;
        }
        peers::plan(&self.peer_request()?)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn config(extra: &str) -> ConfigParams {
        let text = format!(
            r#"{{"realm":"turn.example.org","static_auth_secret":"0123456789abcdef0123456789abcdef",
                 "listening_ips":["10.0.5.11"]{extra}}}"#
        );
        match matrixha_module::parse_args::<Params>(&text).unwrap().1 {
            Params::Present(c) => *c,
            Params::Probe(_) => panic!("not a config"),
        }
    }

    fn parse_err(text: &str) -> String {
        matrixha_module::parse_args::<Params>(text)
            .unwrap_err()
            .to_string()
    }

    const SECRET: &str = "0123456789abcdef0123456789abcdef";

    /// INI inventories and `-e key=value` send numbers and booleans as text.
    #[test]
    fn numbers_and_booleans_may_arrive_as_strings() {
        let c = config(r#","listening_port":"3479","verbose":"yes","user_quota":"12""#);
        assert_eq!(
            (c.listening_port, c.verbose, c.user_quota),
            (3479, true, 12)
        );
        let msg = parse_err(&format!(
            r#"{{"realm":"r","static_auth_secret":"{SECRET}","listening_ips":["10.0.5.11"],"listening_port":"http"}}"#
        ));
        assert!(
            msg.starts_with("listening_port: expected a whole number"),
            "{msg}"
        );
    }

    #[test]
    fn validation_names_the_parameter() {
        let cases = [
            (r#","min_port":3000,"max_port":4000"#, "min_port"),
            (r#","min_port":60000,"max_port":50000"#, "min_port"),
            (r#","listening_port":50000"#, "listening_port"),
            (r#","cert":"/c.pem""#, "pkey"),
            (r#","denied_peer_ips":["10.0.0.0/40"]"#, "denied_peer_ips"),
            (
                r#","server_subnets":["10.0.3.0/24"],"client_subnets":["10.0.0.0/16"]"#,
                "client_subnets",
            ),
            (r#","realm":"a b""#, "realm"),
            (r#","server_name":"turn.example.org # main""#, "server_name"),
            (r#","external_ip":"turn.example.org""#, "external_ip"),
            (r#","static_auth_secret":"short""#, "static_auth_secret"),
            (r#","listening_ips":["0.0.0.0"]"#, "listening_ips"),
            (r#","relay_ips":["::"]"#, "relay_ips"),
            (r#","coturn_version":"latest""#, "coturn_version"),
            (r#","path":"etc/turnserver.conf""#, "path"),
            (r#","mode":"rw""#, "mode"),
        ];
        for (extra, param) in cases {
            let p = config(extra);
            let e = p
                .validate()
                .and_then(|_| p.ownership().map(|_| ()))
                .unwrap_err();
            assert_eq!(e.param.as_deref(), Some(param), "{extra}: {e}");
        }
    }

    #[test]
    fn state_selects_the_parameter_type() {
        let probe = format!(
            r#"{{"state":"probe","static_auth_secret":"{SECRET}","targets":[{{"host":"127.0.0.1"}}]}}"#
        );
        let (_, p) = matrixha_module::parse_args::<Params>(&probe).unwrap();
        let Params::Probe(p) = p else {
            panic!("not a probe")
        };
        use crate::probe::params::Transport;
        assert_eq!(
            p.transports,
            vec![Transport::Udp, Transport::Tcp, Transport::Tls]
        );
        assert_eq!(p.targets[0].port, 3478);
        assert!(p.validate().is_ok());
    }

    #[test]
    fn an_option_of_the_other_state_is_named_with_its_state() {
        let msg = parse_err(&format!(
            r#"{{"state":"probe","static_auth_secret":"{SECRET}","targets":[],"realm":"x"}}"#
        ));
        assert_eq!(
            msg,
            "realm: is not used with state: probe. Fix: remove it, or use state: present"
        );
        let msg = parse_err(&format!(
            r#"{{"realm":"x","static_auth_secret":"{SECRET}","listening_ips":["10.0.0.1"],"targets":[]}}"#
        ));
        assert_eq!(
            msg,
            "targets: is not used with state: present. Fix: remove it, or use state: probe"
        );
        let msg = parse_err(&format!(
            r#"{{"realm":"x","static_auth_secret":"{SECRET}","listening_ips":["10.0.0.1"],"prot":1}}"#
        ));
        assert!(msg.contains("unknown field `prot`"), "{msg}");
    }

    #[test]
    fn both_parameter_types_list_their_fields() {
        let config = fields::<ConfigParams>();
        let probe = fields::<ProbeParams>();
        assert!(config.contains(&"realm") && config.contains(&"backup"));
        assert!(probe.contains(&"targets") && probe.contains(&"fail_on_error"));
        assert!(config.contains(&"static_auth_secret") && probe.contains(&"static_auth_secret"));
    }

    #[test]
    fn type_errors_name_the_parameter_and_never_quote_the_value() {
        let msg = parse_err(&format!(
            r#"{{"state":"{SECRET}","static_auth_secret":"{SECRET}"}}"#
        ));
        assert!(msg.starts_with("state: found a string of 32"), "{msg}");
        assert!(!msg.contains(SECRET), "{msg}");
        let msg = parse_err(
            r#"{"realm":"x","static_auth_secret":"y","listening_ips":["10.0.0.1"],"min_port":"a"}"#,
        );
        assert!(msg.starts_with("min_port: "), "{msg}");
        let msg = parse_err(
            r#"{"realm":"x","static_auth_secret":["4f1c9a7e2b6d8035c1e9a4f7b2d6083512ab"],"listening_ips":["10.0.0.1"]}"#,
        );
        assert!(msg.starts_with("static_auth_secret: "), "{msg}");
        assert!(!msg.contains("4f1c9a7e"), "{msg}");
        let msg = parse_err(&format!(
            r#"{{"state":"probe","static_auth_secret":{{"v":"{SECRET}"}},"targets":[]}}"#
        ));
        assert!(msg.starts_with("static_auth_secret: "), "{msg}");
        assert!(!msg.contains(SECRET), "{msg}");
    }
}
