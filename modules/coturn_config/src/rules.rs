//! Rules about TURN settings that `matrixha check` applies too: pure functions, no I/O.
//!
//! The module's own validation calls these, and so does the CLI, so the two can
//! never disagree about a secret length, a port or a wildcard address.

use matrixha_module::{ModuleError, Secret};
use std::net::IpAddr;

/// coturn computes HMAC over the secret; below this, brute force of captured credentials is practical.
pub const MIN_SECRET_LEN: usize = 32;

/// Plain TURN/STUN port (RFC 5766 §18), UDP and TCP.
pub const DEFAULT_LISTENING_PORT: u16 = 3478;
/// TURN over TLS (RFC 5766 §18).
pub const DEFAULT_TLS_LISTENING_PORT: u16 = 5349;
/// Relay ports come from the ephemeral range (RFC 6335 §6: 49152-65535), where no
/// service listens; below it they could collide with ports other daemons bind.
pub const EPHEMERAL_PORTS: std::ops::RangeInclusive<u16> = 49152..=65535;

/// `static_auth_secret`: long enough, and nothing coturn's config parser would cut.
pub fn check_static_auth_secret(secret: &Secret) -> Result<(), ModuleError> {
    let s = secret.expose();
    if s.chars().count() < MIN_SECRET_LEN {
        return Err(ModuleError::param(
            "static_auth_secret",
            format!(
                "is shorter than {MIN_SECRET_LEN} characters ({} given)",
                s.chars().count()
            ),
            "generate one with `openssl rand -hex 32` and keep it in Ansible Vault",
        ));
    }
    if s.chars()
        .any(|c| c.is_whitespace() || c == '#' || c == '"' || c.is_control())
    {
        // coturn splits a line at the first blank or '=' and strips quotes (parse_arg_string).
        return Err(ModuleError::param(
            "static_auth_secret",
            "contains whitespace, '#', '\"' or a control character, which coturn's parser cuts",
            "use a hex or base64 secret",
        ));
    }
    Ok(())
}

/// `listening_ips`: at least one, and never the wildcard (DN-1: other services share
/// the host, and coturn on `0.0.0.0` would take their ports).
pub fn check_listening_ips(ips: &[IpAddr]) -> Result<(), ModuleError> {
    if ips.is_empty() {
        return Err(ModuleError::param(
            "listening_ips",
            "is empty",
            "list this node's address(es); coturn would otherwise listen on every interface",
        ));
    }
    check_not_wildcard("listening_ips", ips)
}

/// Any list of addresses coturn binds (`listening_ips`, `relay_ips`): no wildcard (DN-1).
pub fn check_not_wildcard(param: &str, ips: &[IpAddr]) -> Result<(), ModuleError> {
    if let Some(ip) = ips.iter().find(|ip| ip.is_unspecified()) {
        return Err(ModuleError::param(
            param,
            format!("{ip} is the wildcard address"),
            "give the node's own address (DN-1: other services share the host)",
        ));
    }
    Ok(())
}

/// The ports coturn listens on and relays from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ports {
    pub listening_port: u16,
    pub tls_listening_port: u16,
    pub min_port: u16,
    pub max_port: u16,
}

impl Default for Ports {
    fn default() -> Ports {
        Ports {
            listening_port: DEFAULT_LISTENING_PORT,
            tls_listening_port: DEFAULT_TLS_LISTENING_PORT,
            min_port: *EPHEMERAL_PORTS.start(),
            max_port: *EPHEMERAL_PORTS.end(),
        }
    }
}

/// Listeners apart, relay range inside the ephemeral range and clear of the listeners.
pub fn check_ports(p: &Ports) -> Result<(), ModuleError> {
    for (name, port) in [
        ("listening_port", p.listening_port),
        ("tls_listening_port", p.tls_listening_port),
        ("min_port", p.min_port),
        ("max_port", p.max_port),
    ] {
        if port == 0 {
            return Err(ModuleError::param(
                name,
                "is 0",
                "choose a port between 1 and 65535",
            ));
        }
    }
    if p.listening_port == p.tls_listening_port {
        return Err(ModuleError::param(
            "tls_listening_port",
            format!("equals listening_port ({})", p.listening_port),
            "use 5349 for TLS and 3478 for plain TURN",
        ));
    }
    if p.min_port >= p.max_port {
        return Err(ModuleError::param(
            "min_port",
            format!("{} is not below max_port {}", p.min_port, p.max_port),
            "give a relay range such as 49152-65535",
        ));
    }
    if !EPHEMERAL_PORTS.contains(&p.min_port) {
        return Err(ModuleError::param(
            "min_port",
            format!("{} lies below the ephemeral range 49152-65535", p.min_port),
            "keep the relay range inside 49152-65535 (RFC 6335), e.g. min_port: 49152",
        ));
    }
    for (name, port) in [
        ("listening_port", p.listening_port),
        ("tls_listening_port", p.tls_listening_port),
    ] {
        if (p.min_port..=p.max_port).contains(&port) {
            return Err(ModuleError::param(
                name,
                format!(
                    "{port} lies inside the relay range {}-{}",
                    p.min_port, p.max_port
                ),
                "keep listeners below 49152 (3478 and 5349)",
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_of_31_characters_is_refused_and_32_accepted() {
        let e = check_static_auth_secret(&Secret::new("a".repeat(31))).unwrap_err();
        assert_eq!(e.param.as_deref(), Some("static_auth_secret"));
        assert!(e.problem.contains("(31 given)"), "{e}");
        assert!(check_static_auth_secret(&Secret::new("a".repeat(32))).is_ok());
    }

    #[test]
    fn secret_errors_never_quote_the_secret() {
        for bad in [
            "0123456789abcdef 0123456789abcdef",
            "0123456789abcdef#0123456789abcdef",
            "short-secret-value",
        ] {
            let e = check_static_auth_secret(&Secret::new(bad)).unwrap_err();
            assert!(!e.to_string().contains(bad), "{e}");
        }
    }

    #[test]
    fn wildcard_and_empty_listeners_are_refused() {
        let any: IpAddr = "0.0.0.0".parse().unwrap();
        let any6: IpAddr = "::".parse().unwrap();
        let own: IpAddr = "10.0.5.11".parse().unwrap();
        assert_eq!(
            check_listening_ips(&[]).unwrap_err().param.as_deref(),
            Some("listening_ips")
        );
        assert!(check_listening_ips(&[own, any]).is_err());
        assert!(check_listening_ips(&[any6]).is_err());
        assert!(check_listening_ips(&[own]).is_ok());
        assert_eq!(
            check_not_wildcard("relay_ips", &[any])
                .unwrap_err()
                .param
                .as_deref(),
            Some("relay_ips")
        );
    }

    #[test]
    fn port_rules_name_the_port_at_fault() {
        let ok = Ports::default();
        assert!(check_ports(&ok).is_ok());
        let cases = [
            (
                Ports {
                    min_port: 3000,
                    max_port: 4000,
                    ..ok
                },
                "min_port",
            ),
            (
                Ports {
                    min_port: 60000,
                    max_port: 50000,
                    ..ok
                },
                "min_port",
            ),
            (
                Ports {
                    listening_port: 50000,
                    ..ok
                },
                "listening_port",
            ),
            (
                Ports {
                    tls_listening_port: 3478,
                    ..ok
                },
                "tls_listening_port",
            ),
            (Ports { max_port: 0, ..ok }, "max_port"),
        ];
        for (p, param) in cases {
            assert_eq!(
                check_ports(&p).unwrap_err().param.as_deref(),
                Some(param),
                "{p:?}"
            );
        }
    }
}
