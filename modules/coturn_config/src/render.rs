//! turnserver.conf text from parameters (pure), and the TURN URIs clients use.

use crate::params::ConfigParams;
use crate::peers::Restrictions;
use crate::version::Version;
use std::fmt::Write;

const HEADER: &str = "# Managed by matrixha.stack.coturn_config: edits here are overwritten.\n";

/// The complete `turnserver.conf` for these parameters and this coturn version.
/// Values never carry trailing comments: coturn reads `# …` after a value as part of it
/// (DN-14), so every explanation sits on its own line.
pub fn turnserver_conf(p: &ConfigParams, peers: &Restrictions, v: Version) -> String {
    let mut c = String::from(HEADER);
    let _ = writeln!(c, "# Options for coturn {v}.");
    let line = |c: &mut String, k: &str, v: &dyn std::fmt::Display| {
        let _ = writeln!(c, "{k}={v}");
    };
    c.push_str("\n# Listeners and relay addresses\n");
    line(&mut c, "listening-port", &p.listening_port);
    for ip in &p.listening_ips {
        line(&mut c, "listening-ip", ip);
    }
    for ip in &p.relay_ips {
        line(&mut c, "relay-ip", ip);
    }
    if let Some(ext) = &p.external_ip {
        line(&mut c, "external-ip", ext);
    }
    line(&mut c, "min-port", &p.min_port);
    line(&mut c, "max-port", &p.max_port);

    c.push_str("\n# Authentication: ephemeral credentials derived from the shared secret (TURN REST API)\n");
    c.push_str("use-auth-secret\n");
    line(&mut c, "static-auth-secret", &p.static_auth_secret.expose());
    line(&mut c, "realm", &p.realm);
    line(&mut c, "server-name", &p.host_name());
    line(&mut c, "user-quota", &p.user_quota);
    line(&mut c, "total-quota", &p.total_quota);

    c.push_str("\n# TLS\n");
    if p.tls() {
        line(&mut c, "tls-listening-port", &p.tls_listening_port);
        line(&mut c, "cert", &p.cert.as_deref().unwrap_or_default());
        line(&mut c, "pkey", &p.pkey.as_deref().unwrap_or_default());
        if v.has_tls_version_switches() {
            c.push_str(
                "# TLS 1.0 and 1.1 are deprecated (RFC 8996); coturn 4.7+ disables them itself.\n",
            );
            c.push_str("no-tlsv1\nno-tlsv1_1\n");
        }
    } else {
        c.push_str("no-tls\n");
        if v.has_dtls() {
            c.push_str("no-dtls\n");
        }
    }

    c.push_str("\n# Peers: special-purpose ranges and server subnets denied, client subnets allowed (DN-14)\n");
    c.push_str("no-multicast-peers\n");
    for r in &peers.denied {
        let _ = writeln!(c, "# {}", r.why);
        line(&mut c, "denied-peer-ip", &r.range.coturn());
    }
    for r in &peers.allowed {
        let _ = writeln!(c, "# {}", r.why);
        line(&mut c, "allowed-peer-ip", &r.range.coturn());
    }

    c.push_str("\n# Hardening and logging\n");
    c.push_str("fingerprint\n");
    if v.needs_no_cli() {
        c.push_str("no-cli\n");
    }
    if v.needs_no_software_attribute() {
        c.push_str("no-software-attribute\n");
    }
    match &p.log_file {
        Some(f) => {
            line(&mut c, "log-file", f);
            c.push_str("simple-log\n");
        }
        None => c.push_str("syslog\n"),
    }
    if p.verbose {
        c.push_str("verbose\n");
    }
    c
}

/// `turn_uris` for Synapse's `turn_uris` / MDAD and Element for this node.
pub fn turn_uris(p: &ConfigParams) -> Vec<String> {
    let host = p.host_name();
    let mut uris = vec![
        format!("turn:{host}:{}?transport=udp", p.listening_port),
        format!("turn:{host}:{}?transport=tcp", p.listening_port),
    ];
    if p.tls() {
        uris.push(format!(
            "turns:{host}:{}?transport=tcp",
            p.tls_listening_port
        ));
    }
    uris
}

/// The file as diff mode may show it: the secret replaced, marked when it changes.
pub fn masked(text: &str, p: &ConfigParams) -> String {
    text.lines()
        .map(|l| match l.strip_prefix("static-auth-secret=") {
            Some(v) if v == p.static_auth_secret.expose() => {
                "static-auth-secret=********".to_owned()
            }
            Some(_) => "static-auth-secret=******** (will change)".to_owned(),
            None => l.to_owned(),
        })
        .fold(String::new(), |mut s, l| {
            s.push_str(&l);
            s.push('\n');
            s
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::params::tests::config;

    fn conf(extra: &str, v: Version) -> String {
        let p = config(extra);
        turnserver_conf(&p, &Restrictions::from_params(&p).unwrap(), v)
    }
    const BOOKWORM: Version = Version::new(4, 6, 1);

    #[test]
    fn renders_listeners_realm_auth_and_hardening() {
        let c = conf("", BOOKWORM);
        for want in [
            "listening-ip=10.0.5.11\n",
            "realm=turn.example.org\n",
            "use-auth-secret\n",
            "fingerprint\n",
            "no-cli\n",
            "no-multicast-peers\n",
            "no-tls\n",
            "syslog\n",
        ] {
            assert!(c.contains(want), "{want} missing in\n{c}");
        }
    }

    #[test]
    fn no_value_line_carries_a_comment() {
        let c = conf(
            r#","cert":"/etc/ssl/c.pem","pkey":"/etc/ssl/k.pem","server_subnets":["10.0.3.0/24"],"client_subnets":["10.20.0.0/16"]"#,
            BOOKWORM,
        );
        assert!(
            !c.lines().any(|l| !l.starts_with('#') && l.contains('#')),
            "{c}"
        );
    }

    #[test]
    fn tls_switches_follow_the_version() {
        let tls = r#","cert":"/etc/ssl/c.pem","pkey":"/etc/ssl/k.pem""#;
        let old = conf(tls, BOOKWORM);
        assert!(old.contains("no-tlsv1\nno-tlsv1_1\n") && old.contains("no-software-attribute\n"));
        let new = conf(tls, Version::new(4, 7, 0));
        assert!(
            !new.contains("no-tlsv1") && !new.contains("no-software-attribute"),
            "{new}"
        );
        assert!(!conf("", Version::new(4, 10, 0)).contains("no-cli"));
    }

    #[test]
    fn peer_rules_deny_servers_and_allow_clients() {
        let c = conf(
            r#","server_subnets":["10.0.3.0/24"],"client_subnets":["10.20.0.0/16"]"#,
            BOOKWORM,
        );
        assert!(
            c.contains("# server subnet\ndenied-peer-ip=10.0.3.0-10.0.3.255\n"),
            "{c}"
        );
        assert!(
            c.contains("# client subnet\nallowed-peer-ip=10.20.0.0-10.20.255.255\n"),
            "{c}"
        );
        assert!(
            c.contains("denied-peer-ip=::ffff:0.0.0.0-::ffff:255.255.255.255\n"),
            "{c}"
        );
    }

    #[test]
    fn masked_hides_secret_and_marks_a_change() {
        let p = config("");
        let c = turnserver_conf(&p, &Restrictions::from_params(&p).unwrap(), BOOKWORM);
        assert!(!masked(&c, &p).contains(p.static_auth_secret.expose()));
        assert_eq!(
            masked("static-auth-secret=older\n", &p),
            "static-auth-secret=******** (will change)\n"
        );
    }

    #[test]
    fn uris_include_turns_only_with_tls() {
        assert_eq!(turn_uris(&config("")).len(), 2);
        let p = config(
            r#","cert":"/etc/ssl/c.pem","pkey":"/etc/ssl/k.pem","server_name":"coturn1.example.org""#,
        );
        assert_eq!(
            turn_uris(&p)[2],
            "turns:coturn1.example.org:5349?transport=tcp"
        );
    }
}
