//! What the task asked for: coturn settings, typed and validated without touching the host.

use matrixha_module::file::{parse_mode, Ownership};
use matrixha_module::systemd::ServiceAction;
use matrixha_module::{ModuleError, Secret};
use serde::{Deserialize, Serialize};
use std::net::IpAddr;

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Params {
    #[serde(default = "default_path")]
    pub path: String,
    /// The TURN realm; Synapse's `turn_uris` and coturn must agree on it.
    pub realm: String,
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
    #[serde(default = "default_listening_port")]
    pub listening_port: u16,
    #[serde(default = "default_tls_listening_port")]
    pub tls_listening_port: u16,
    #[serde(default = "default_min_port")]
    pub min_port: u16,
    #[serde(default = "default_max_port")]
    pub max_port: u16,
    #[serde(default)]
    pub cert: Option<String>,
    #[serde(default)]
    pub pkey: Option<String>,
    /// Peer ranges TURN may not relay to (`denied-peer-ip`), as `a.b.c.d-e.f.g.h` or CIDR.
    #[serde(default)]
    pub denied_peer_ips: Vec<String>,
    #[serde(default)]
    pub allowed_peer_ips: Vec<String>,
    #[serde(default = "default_user_quota")]
    pub user_quota: u32,
    #[serde(default = "default_total_quota")]
    pub total_quota: u32,
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
    #[serde(default)]
    pub backup: bool,
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
fn default_service_action() -> ServiceAction {
    // coturn re-reads only its certificates on SIGHUP; listeners and secrets need a restart.
    ServiceAction::Restart
}

/// coturn computes HMAC over the secret; below this, brute force of captured credentials is practical.
pub const MIN_SECRET_LEN: usize = 32;

impl Params {
    pub fn tls(&self) -> bool {
        self.cert.is_some()
    }

    pub fn service_action_runs(&self) -> bool {
        self.service_action != ServiceAction::None
    }

    pub fn ownership(&self) -> Result<Ownership, ModuleError> {
        Ok(Ownership {
            owner: self.owner.clone(),
            group: self.group.clone(),
            mode: Some(parse_mode(&self.mode).map_err(|e| {
                ModuleError::param("mode", e, "quote it in YAML: mode: '0640'")
            })?),
        })
    }

    /// Everything that can be checked without the host.
    pub fn validate(&self) -> Result<(), ModuleError> {
        if !self.path.starts_with('/') {
            return Err(ModuleError::param("path", format!("'{}' is not absolute", self.path), "give the full path, e.g. /etc/turnserver.conf"));
        }
        if self.realm.trim().is_empty() || self.realm.contains(char::is_whitespace) {
            return Err(ModuleError::param("realm", "must be a non-empty name without spaces", "use the TURN domain, e.g. turn.example.org"));
        }
        if self.static_auth_secret.expose().len() < MIN_SECRET_LEN {
            return Err(ModuleError::param(
                "static_auth_secret",
                format!("is shorter than {MIN_SECRET_LEN} characters"),
                "generate one with `matrixha secrets` or `openssl rand -hex 32`",
            ));
        }
        if self.static_auth_secret.expose().chars().any(|c| c.is_whitespace() || c == '#') {
            return Err(ModuleError::param("static_auth_secret", "contains whitespace or '#', which coturn's parser cuts", "use a hex or base64 secret"));
        }
        if self.listening_ips.is_empty() {
            return Err(ModuleError::param("listening_ips", "is empty", "list this node's address(es); coturn would otherwise listen on every interface"));
        }
        for (name, port) in [("listening_port", self.listening_port), ("tls_listening_port", self.tls_listening_port), ("min_port", self.min_port), ("max_port", self.max_port)] {
            if port == 0 {
                return Err(ModuleError::param(name, "is 0", "choose a port between 1 and 65535"));
            }
        }
        if self.listening_port == self.tls_listening_port {
            return Err(ModuleError::param("tls_listening_port", format!("equals listening_port ({})", self.listening_port), "use 5349 for TLS and 3478 for plain TURN"));
        }
        if self.min_port >= self.max_port {
            return Err(ModuleError::param("min_port", format!("{} is not below max_port {}", self.min_port, self.max_port), "give a relay range such as 49152-65535"));
        }
        // Relay ports must not collide with the listeners or with ports other services bind.
        if self.min_port < 1024 {
            return Err(ModuleError::param("min_port", format!("{} is a privileged port", self.min_port), "use the ephemeral range, 49152 or above"));
        }
        for (name, port) in [("listening_port", self.listening_port), ("tls_listening_port", self.tls_listening_port)] {
            if (self.min_port..=self.max_port).contains(&port) {
                return Err(ModuleError::param(name, format!("{port} lies inside the relay range {}-{}", self.min_port, self.max_port), "move the relay range above the listener ports"));
            }
        }
        if self.cert.is_some() != self.pkey.is_some() {
            return Err(ModuleError::param("pkey", "cert and pkey must be given together", "set both for TURN over TLS, or neither"));
        }
        for (name, list) in [("denied_peer_ips", &self.denied_peer_ips), ("allowed_peer_ips", &self.allowed_peer_ips)] {
            for r in list {
                crate::render::peer_range(r).map_err(|e| ModuleError::param(name, e, "write ranges as 10.0.3.0/24 or 10.0.3.0-10.0.3.255"))?;
            }
        }
        for (name, v) in [("realm", &self.realm), ("external_ip", self.external_ip.as_ref().unwrap_or(&String::new())), ("server_name", self.server_name.as_ref().unwrap_or(&String::new()))] {
            if v.contains('#') || v.contains('\n') {
                return Err(ModuleError::param(name, "contains '#' or a newline; coturn reads the rest of the line as part of the value", "remove it"));
            }
        }
        Ok(())
    }
}
