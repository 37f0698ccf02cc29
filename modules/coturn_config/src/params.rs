//! What the task asked for: coturn settings or a probe, typed and validated without touching the host.

use crate::peers;
use matrixha_module::file::{parse_mode, Ownership};
use matrixha_module::systemd::ServiceAction;
use matrixha_module::{ModuleError, Secret};
use serde::{Deserialize, Serialize};
use std::net::IpAddr;

/// The task's arguments as Ansible sends them. `state` picks what the module does;
/// [`Params::split`] turns them into [`ConfigParams`] or [`ProbeParams`] and refuses an
/// option the chosen state does not use, naming it. One flat struct keeps serde's
/// per-parameter error paths (`listening_port: invalid type …`).
#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Params {
    #[serde(default)]
    pub state: State,
    pub static_auth_secret: Secret,
    // state: present
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub realm: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub listening_ips: Option<Vec<IpAddr>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub relay_ips: Option<Vec<IpAddr>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_ip: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub listening_port: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_listening_port: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_port: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_port: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cert: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pkey: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_user: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_subnets: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_subnets: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deny_private_ranges: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub denied_peer_ips: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed_peer_ips: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_quota: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total_quota: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_file: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verbose: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub coturn_version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_action: Option<ServiceAction>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backup: Option<bool>,
    // state: probe
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub targets: Option<Vec<ProbeTarget>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transports: Option<Vec<Transport>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peers: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub denied_peers: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validate_certs: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fail_on_error: Option<bool>,
}

#[derive(Debug, Default, Deserialize, Serialize, PartialEq, Eq, Clone, Copy)]
#[serde(rename_all = "snake_case")]
pub enum State {
    /// Keep `turnserver.conf` as asked.
    #[default]
    Present,
    /// Allocate a relay on each target over each transport; changes nothing.
    Probe,
}

/// What the module was asked to do, with every default applied.
#[derive(Debug)]
pub enum Mode {
    Config(Box<ConfigParams>),
    Probe(ProbeParams),
}

fn unused(name: &str, given: bool, state: &str) -> Result<(), ModuleError> {
    if given {
        let other = if state == "probe" { "present" } else { "probe" };
        return Err(ModuleError::param(
            name,
            format!("is not used with state: {state}"),
            format!("remove it, or use state: {other}"),
        ));
    }
    Ok(())
}

fn required<T>(name: &str, v: Option<T>, state: &str) -> Result<T, ModuleError> {
    v.ok_or_else(|| {
        ModuleError::param(
            name,
            format!("is required with state: {state}"),
            format!("set {name}"),
        )
    })
}

impl Params {
    pub fn split(self) -> Result<Mode, ModuleError> {
        match self.state {
            State::Present => {
                for (name, given) in [
                    ("targets", self.targets.is_some()),
                    ("transports", self.transports.is_some()),
                    ("peers", self.peers.is_some()),
                    ("denied_peers", self.denied_peers.is_some()),
                    ("user", self.user.is_some()),
                    ("ttl", self.ttl.is_some()),
                    ("username", self.username.is_some()),
                    ("ca_file", self.ca_file.is_some()),
                    ("validate_certs", self.validate_certs.is_some()),
                    ("timeout", self.timeout.is_some()),
                    ("fail_on_error", self.fail_on_error.is_some()),
                ] {
                    unused(name, given, "present")?;
                }
                Ok(Mode::Config(Box::new(ConfigParams {
                    path: self.path.unwrap_or_else(default_path),
                    realm: required("realm", self.realm, "present")?,
                    server_name: self.server_name,
                    static_auth_secret: self.static_auth_secret,
                    listening_ips: required("listening_ips", self.listening_ips, "present")?,
                    relay_ips: self.relay_ips.unwrap_or_default(),
                    external_ip: self.external_ip,
                    listening_port: self.listening_port.unwrap_or_else(default_listening_port),
                    tls_listening_port: self
                        .tls_listening_port
                        .unwrap_or_else(default_tls_listening_port),
                    min_port: self.min_port.unwrap_or_else(default_min_port),
                    max_port: self.max_port.unwrap_or_else(default_max_port),
                    cert: self.cert,
                    pkey: self.pkey,
                    service_user: self.service_user.unwrap_or_else(default_service_user),
                    server_subnets: self.server_subnets.unwrap_or_default(),
                    client_subnets: self.client_subnets.unwrap_or_default(),
                    deny_private_ranges: self.deny_private_ranges.unwrap_or(false),
                    denied_peer_ips: self.denied_peer_ips.unwrap_or_default(),
                    allowed_peer_ips: self.allowed_peer_ips.unwrap_or_default(),
                    user_quota: self.user_quota.unwrap_or_else(default_user_quota),
                    total_quota: self.total_quota.unwrap_or_else(default_total_quota),
                    log_file: self.log_file,
                    verbose: self.verbose.unwrap_or(false),
                    coturn_version: self.coturn_version,
                    owner: self.owner,
                    group: self.group,
                    mode: self.mode.unwrap_or_else(default_mode),
                    service: self.service.unwrap_or_else(default_service),
                    service_action: self.service_action.unwrap_or_else(default_service_action),
                    backup: self.backup.unwrap_or(false),
                })))
            }
            State::Probe => {
                for (name, given) in [
                    ("path", self.path.is_some()),
                    ("realm", self.realm.is_some()),
                    ("server_name", self.server_name.is_some()),
                    ("listening_ips", self.listening_ips.is_some()),
                    ("relay_ips", self.relay_ips.is_some()),
                    ("external_ip", self.external_ip.is_some()),
                    ("listening_port", self.listening_port.is_some()),
                    ("tls_listening_port", self.tls_listening_port.is_some()),
                    ("min_port", self.min_port.is_some()),
                    ("max_port", self.max_port.is_some()),
                    ("cert", self.cert.is_some()),
                    ("pkey", self.pkey.is_some()),
                    ("service_user", self.service_user.is_some()),
                    ("server_subnets", self.server_subnets.is_some()),
                    ("client_subnets", self.client_subnets.is_some()),
                    ("deny_private_ranges", self.deny_private_ranges.is_some()),
                    ("denied_peer_ips", self.denied_peer_ips.is_some()),
                    ("allowed_peer_ips", self.allowed_peer_ips.is_some()),
                    ("user_quota", self.user_quota.is_some()),
                    ("total_quota", self.total_quota.is_some()),
                    ("log_file", self.log_file.is_some()),
                    ("verbose", self.verbose.is_some()),
                    ("coturn_version", self.coturn_version.is_some()),
                    ("owner", self.owner.is_some()),
                    ("group", self.group.is_some()),
                    ("mode", self.mode.is_some()),
                    ("service", self.service.is_some()),
                    ("service_action", self.service_action.is_some()),
                    ("backup", self.backup.is_some()),
                ] {
                    unused(name, given, "probe")?;
                }
                Ok(Mode::Probe(ProbeParams {
                    static_auth_secret: self.static_auth_secret,
                    targets: required("targets", self.targets, "probe")?,
                    transports: self.transports.unwrap_or_else(default_transports),
                    peers: self.peers.unwrap_or_default(),
                    denied_peers: self.denied_peers.unwrap_or_default(),
                    user: self.user.unwrap_or_else(default_probe_user),
                    ttl: self.ttl.unwrap_or_else(default_ttl),
                    username: self.username,
                    ca_file: self.ca_file,
                    validate_certs: self.validate_certs.unwrap_or(true),
                    timeout: self.timeout.unwrap_or_else(default_timeout),
                    fail_on_error: self.fail_on_error.unwrap_or(true),
                }))
            }
        }
    }
}

/// `state: present`, defaults applied.
#[derive(Debug)]
pub struct ConfigParams {
    pub path: String,
    /// The TURN realm (coturn answers 401 with it; clients hash credentials with it).
    pub realm: String,
    /// The name in `turn_uris` and the name the TLS certificate must carry; defaults to `realm`.
    pub server_name: Option<String>,
    /// Shared with Synapse (`turn_shared_secret`); ephemeral credentials derive from it.
    pub static_auth_secret: Secret,
    /// Node addresses coturn listens on (never 0.0.0.0 on shared hosts, DN-1).
    pub listening_ips: Vec<IpAddr>,
    pub relay_ips: Vec<IpAddr>,
    /// `external-ip`: a public address, or `public/private` when behind NAT.
    pub external_ip: Option<String>,
    pub listening_port: u16,
    pub tls_listening_port: u16,
    pub min_port: u16,
    pub max_port: u16,
    pub cert: Option<String>,
    pub pkey: Option<String>,
    /// The user coturn runs as; cert and pkey must be readable by it. `""` skips the check.
    pub service_user: String,
    /// Subnets of servers TURN must never relay to (DB, storage, management, service), DN-14.
    pub server_subnets: Vec<String>,
    /// Subnets where clients live; relaying to them stays allowed, DN-14.
    pub client_subnets: Vec<String>,
    /// Also deny every private range (RFC 1918, RFC 6598, fc00::/7): for TURN facing the internet.
    pub deny_private_ranges: bool,
    pub denied_peer_ips: Vec<String>,
    /// Allowed wins over denied in coturn.
    pub allowed_peer_ips: Vec<String>,
    pub user_quota: u32,
    pub total_quota: u32,
    /// `log-file`; without it coturn logs to syslog (the journal).
    pub log_file: Option<String>,
    pub verbose: bool,
    /// coturn's version (`4.6.1`); detected with `turnserver --version` when absent.
    pub coturn_version: Option<String>,
    pub owner: Option<String>,
    pub group: Option<String>,
    pub mode: String,
    pub service: String,
    pub service_action: ServiceAction,
    pub backup: bool,
}

/// `state: probe`, defaults applied.
#[derive(Debug)]
pub struct ProbeParams {
    /// The secret coturn is configured with; the probe derives credentials as Synapse does.
    pub static_auth_secret: Secret,
    pub targets: Vec<ProbeTarget>,
    pub transports: Vec<Transport>,
    /// Peers to ask a permission for (an address, or a subnet: its first host);
    /// empty means the probe's own mapped address.
    pub peers: Vec<String>,
    /// Peers the server must refuse (403), same forms: proves the peer restrictions hold.
    pub denied_peers: Vec<String>,
    /// The user part of the ephemeral username (`<expiry>:<user>`).
    pub user: String,
    /// Seconds the ephemeral credentials stay valid.
    pub ttl: u32,
    /// A literal username instead of `<now+ttl>:<user>`; for testing rejected credentials.
    pub username: Option<String>,
    /// PEM file of the CA that signed the TURN certificate; system roots when absent.
    pub ca_file: Option<String>,
    pub validate_certs: bool,
    /// Seconds allowed for each target and transport.
    pub timeout: u32,
    /// Fail the task when any check fails (the results are in the message).
    pub fail_on_error: bool,
}

#[derive(Debug, Deserialize, Serialize, Clone)]
#[serde(deny_unknown_fields)]
pub struct ProbeTarget {
    /// Address or name to connect to.
    pub host: String,
    #[serde(default = "default_listening_port")]
    pub port: u16,
    #[serde(default = "default_tls_listening_port")]
    pub tls_port: u16,
    /// Name the TLS certificate must carry; defaults to `host`.
    #[serde(default)]
    pub tls_name: Option<String>,
}

#[derive(Debug, Deserialize, Serialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Transport {
    Udp,
    Tcp,
    Tls,
}

impl Transport {
    pub fn name(self) -> &'static str {
        match self {
            Transport::Udp => "udp",
            Transport::Tcp => "tcp",
            Transport::Tls => "tls",
        }
    }
}

fn default_path() -> String {
    "/etc/turnserver.conf".into()
}
fn default_listening_port() -> u16 {
    3478
}
fn default_tls_listening_port() -> u16 {
    5349
}
fn default_min_port() -> u16 {
    49152
}
fn default_max_port() -> u16 {
    65535
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
fn default_transports() -> Vec<Transport> {
    vec![Transport::Udp, Transport::Tcp, Transport::Tls]
}
fn default_probe_user() -> String {
    "matrixha-probe".into()
}
fn default_ttl() -> u32 {
    600
}
fn default_timeout() -> u32 {
    5
}

/// coturn computes HMAC over the secret; below this, brute force of captured credentials is practical.
pub const MIN_SECRET_LEN: usize = 32;

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

fn check_secret(s: &Secret) -> Result<(), ModuleError> {
    if s.expose().len() < MIN_SECRET_LEN {
        return Err(ModuleError::param(
            "static_auth_secret",
            format!("is shorter than {MIN_SECRET_LEN} characters"),
            "generate one with `openssl rand -hex 32` and keep it in Ansible Vault",
        ));
    }
    if s.expose()
        .chars()
        .any(|c| c.is_whitespace() || c == '#' || c.is_control())
    {
        return Err(ModuleError::param(
            "static_auth_secret",
            "contains whitespace, '#' or a control character, which coturn's parser cuts",
            "use a hex or base64 secret",
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

    /// Everything that can be checked without the host.
    pub fn validate(&self) -> Result<(), ModuleError> {
        if !self.path.starts_with('/') {
            return Err(ModuleError::param(
                "path",
                format!("'{}' is not absolute", self.path),
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
        check_secret(&self.static_auth_secret)?;
        if self.listening_ips.is_empty() {
            return Err(ModuleError::param(
                "listening_ips",
                "is empty",
                "list this node's address(es); coturn would otherwise listen on every interface",
            ));
        }
        if let Some(ip) = self
            .listening_ips
            .iter()
            .chain(&self.relay_ips)
            .find(|ip| ip.is_unspecified())
        {
            return Err(ModuleError::param(
                "listening_ips",
                format!("{ip} is the wildcard address"),
                "give the node's own address (DN-1: other services share the host)",
            ));
        }
        for (name, port) in [
            ("listening_port", self.listening_port),
            ("tls_listening_port", self.tls_listening_port),
            ("min_port", self.min_port),
            ("max_port", self.max_port),
        ] {
            if port == 0 {
                return Err(ModuleError::param(
                    name,
                    "is 0",
                    "choose a port between 1 and 65535",
                ));
            }
        }
        if self.listening_port == self.tls_listening_port {
            return Err(ModuleError::param(
                "tls_listening_port",
                format!("equals listening_port ({})", self.listening_port),
                "use 5349 for TLS and 3478 for plain TURN",
            ));
        }
        if self.min_port >= self.max_port {
            return Err(ModuleError::param(
                "min_port",
                format!("{} is not below max_port {}", self.min_port, self.max_port),
                "give a relay range such as 49152-65535",
            ));
        }
        // Relay ports come from the ephemeral range (RFC 6335 §6: 49152-65535), where
        // no service listens; below it they could collide with ports other daemons bind.
        if self.min_port < 49152 {
            return Err(ModuleError::param(
                "min_port",
                format!(
                    "{} lies below the ephemeral range 49152-65535",
                    self.min_port
                ),
                "keep the relay range inside 49152-65535 (RFC 6335), e.g. min_port: 49152",
            ));
        }
        for (name, port) in [
            ("listening_port", self.listening_port),
            ("tls_listening_port", self.tls_listening_port),
        ] {
            if (self.min_port..=self.max_port).contains(&port) {
                return Err(ModuleError::param(
                    name,
                    format!(
                        "{port} lies inside the relay range {}-{}",
                        self.min_port, self.max_port
                    ),
                    "keep listeners below 49152 (3478 and 5349)",
                ));
            }
        }
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
                        format!("'{v}' is not absolute"),
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
                    format!("'{ext}' is not an address or public/private pair"),
                    "write 203.0.113.5 or 203.0.113.5/10.0.5.11",
                ));
            }
        }
        if let Some(v) = &self.coturn_version {
            crate::version::Version::parse(v).ok_or_else(|| {
                ModuleError::param(
                    "coturn_version",
                    format!("'{v}' is not a version like 4.6.1"),
                    "omit it to detect the installed version",
                )
            })?;
        }
        peers::Restrictions::from_params(self)?;
        Ok(())
    }
}

impl ProbeParams {
    pub fn validate(&self) -> Result<(), ModuleError> {
        check_secret(&self.static_auth_secret)?;
        if self.targets.is_empty() {
            return Err(ModuleError::param(
                "targets",
                "is empty",
                "list the TURN nodes to probe, e.g. [{host: 10.0.5.11}]",
            ));
        }
        if self.transports.is_empty() {
            return Err(ModuleError::param(
                "transports",
                "is empty",
                "use any of udp, tcp, tls",
            ));
        }
        for t in &self.targets {
            if t.host.trim().is_empty() {
                return Err(ModuleError::param(
                    "targets",
                    "a target has an empty host",
                    "give an address or name",
                ));
            }
        }
        if self.timeout == 0 || self.timeout > 120 {
            return Err(ModuleError::param(
                "timeout",
                format!("{} s is out of range", self.timeout),
                "use 1 to 120 seconds",
            ));
        }
        if self.ttl == 0 {
            return Err(ModuleError::param(
                "ttl",
                "is 0: the credentials would already be expired",
                "use e.g. 600",
            ));
        }
        for (name, list) in [("peers", &self.peers), ("denied_peers", &self.denied_peers)] {
            for r in list {
                peers::Range::parse(r).map_err(|e| {
                    ModuleError::param(
                        name,
                        e,
                        "give an address (10.20.0.5) or a subnet (10.20.0.0/16)",
                    )
                })?;
            }
        }
        if self.user.contains(':') {
            return Err(ModuleError::param(
                "user",
                "contains ':', coturn's separator between expiry and user",
                "drop the ':'",
            ));
        }
        Ok(())
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
        match matrixha_module::parse_args::<Params>(&text)
            .unwrap()
            .1
            .split()
            .unwrap()
        {
            Mode::Config(c) => *c,
            Mode::Probe(_) => panic!("not a config"),
        }
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
            (r#","coturn_version":"latest""#, "coturn_version"),
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
    fn state_selects_the_parameter_set() {
        let probe = r#"{"state":"probe","static_auth_secret":"0123456789abcdef0123456789abcdef","targets":[{"host":"127.0.0.1"}]}"#;
        let (_, p) = matrixha_module::parse_args::<Params>(probe).unwrap();
        let Ok(Mode::Probe(p)) = p.split() else {
            panic!("not a probe")
        };
        assert_eq!(
            p.transports,
            vec![Transport::Udp, Transport::Tcp, Transport::Tls]
        );
        assert_eq!(p.targets[0].port, 3478);
        let wrong = r#"{"state":"probe","static_auth_secret":"0123456789abcdef0123456789abcdef","targets":[],"realm":"x"}"#;
        let e = matrixha_module::parse_args::<Params>(wrong)
            .unwrap()
            .1
            .split()
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "realm: is not used with state: probe. Fix: remove it, or use state: present"
        );
        let e = matrixha_module::parse_args::<Params>(
            r#"{"static_auth_secret":"x","listening_ips":[]}"#,
        )
        .unwrap()
        .1
        .split()
        .unwrap_err();
        assert_eq!(e.param.as_deref(), Some("realm"));
        let msg =
            matrixha_module::parse_args::<Params>(r#"{"state":"absent","static_auth_secret":"x"}"#)
                .unwrap_err()
                .to_string();
        assert!(
            msg.contains("`present`") && msg.contains("`probe`"),
            "{msg}"
        );
        let msg = matrixha_module::parse_args::<Params>(
            r#"{"realm":"x","static_auth_secret":"y","listening_ips":["10.0.0.1"],"min_port":"a"}"#,
        )
        .unwrap_err()
        .to_string();
        assert!(msg.starts_with("min_port: invalid type"), "{msg}");
    }
}
