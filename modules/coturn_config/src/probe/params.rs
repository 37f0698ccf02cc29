//! `state: probe`: what the TURN client was asked to check, typed and validated without touching the network.

use crate::{peers, rules};
use matrixha_module::{ModuleError, Secret};
use serde::{Deserialize, Serialize};

/// `state: probe`, defaults applied.
#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ProbeParams {
    /// The secret coturn is configured with; the probe derives credentials as Synapse does.
    pub static_auth_secret: Secret,
    pub targets: Vec<ProbeTarget>,
    #[serde(default = "default_transports")]
    pub transports: Vec<Transport>,
    /// Peers to ask a permission for (an address, or a subnet: its first host);
    /// empty means the probe's own mapped address.
    #[serde(default)]
    pub peers: Vec<String>,
    /// Peers the server must refuse (403), same forms: proves the peer restrictions hold.
    #[serde(default)]
    pub denied_peers: Vec<String>,
    /// The user part of the ephemeral username (`<expiry>:<user>`).
    #[serde(default = "default_probe_user")]
    pub user: String,
    /// Seconds the ephemeral credentials stay valid.
    #[serde(
        default = "default_ttl",
        deserialize_with = "matrixha_module::lenient::int"
    )]
    pub ttl: u32,
    /// A literal username instead of `<now+ttl>:<user>`; for testing rejected credentials.
    #[serde(default)]
    pub username: Option<String>,
    /// PEM file of the CA that signed the TURN certificate; system roots when absent.
    #[serde(default)]
    pub ca_file: Option<String>,
    #[serde(
        default = "yes",
        deserialize_with = "matrixha_module::lenient::boolean"
    )]
    pub validate_certs: bool,
    /// Seconds allowed for each target and transport.
    #[serde(
        default = "default_timeout",
        deserialize_with = "matrixha_module::lenient::int"
    )]
    pub timeout: u32,
    /// Fail the task when any check fails (the results are in the message).
    #[serde(
        default = "yes",
        deserialize_with = "matrixha_module::lenient::boolean"
    )]
    pub fail_on_error: bool,
}

#[derive(Debug, Deserialize, Serialize, Clone)]
#[serde(deny_unknown_fields)]
pub struct ProbeTarget {
    /// Address or name to connect to.
    pub host: String,
    #[serde(
        default = "default_listening_port",
        deserialize_with = "matrixha_module::lenient::int"
    )]
    pub port: u16,
    #[serde(
        default = "default_tls_listening_port",
        deserialize_with = "matrixha_module::lenient::int"
    )]
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
fn yes() -> bool {
    true
}
fn default_listening_port() -> u16 {
    rules::DEFAULT_LISTENING_PORT
}
fn default_tls_listening_port() -> u16 {
    rules::DEFAULT_TLS_LISTENING_PORT
}

impl ProbeParams {
    pub fn validate(&self) -> Result<(), ModuleError> {
        rules::check_static_auth_secret(&self.static_auth_secret)?;
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
        if let Some(i) = self.targets.iter().position(|t| t.host.trim().is_empty()) {
            return Err(ModuleError::param(
                "targets",
                format!("target {} has an empty host", i + 1),
                "give an address or name",
            ));
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
        peers::parse_ranges("peers", &self.peers)?;
        peers::parse_ranges("denied_peers", &self.denied_peers)?;
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
