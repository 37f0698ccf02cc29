//! turnserver.conf text from parameters (pure), the TURN URIs clients use, and which lines of any turnserver.conf hold secrets.

use crate::params::ConfigParams;
use crate::peers::PeerPlan;
use crate::version::Version;
use std::fmt::Write;
use std::ops::Range;

const HEADER: &str = "# Managed by matrixha.stack.coturn_config: edits here are overwritten.\n";

/// The complete `turnserver.conf` for these parameters and this coturn version.
/// Values never carry trailing comments: coturn reads `# …` after a value as part of it
/// (DN-14), so every explanation sits on its own line.
pub fn turnserver_conf(p: &ConfigParams, peers: &PeerPlan, v: Version) -> String {
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
        line(&mut c, "denied-peer-ip", &r.coturn());
    }
    for r in &peers.allowed {
        let _ = writeln!(c, "# {}", r.why);
        line(&mut c, "allowed-peer-ip", &r.coturn());
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

/// Options whose value is a secret, in any turnserver.conf the module may take over:
/// `turnserver --help` and examples/etc/turnserver.conf of coturn 4.6 (the shared
/// secret, long-term users `name:password` or `name:0xkey`, the CLI password, the TLS
/// key's passphrase, every user and statistics database DSN with its password), and
/// `stateless-nonce-secret` of later releases. Paths (`pkey`, `secret-key-file`) are
/// not secrets; the files they name are never read into a diff.
pub const SECRET_KEYS: &[&str] = &[
    "static-auth-secret",
    "user",
    "cli-password",
    "pkey-pwd",
    "psql-userdb",
    "sql-userdb",
    "mysql-userdb",
    "mongo-userdb",
    "redis-userdb",
    "redis-statsdb",
    "stateless-nonce-secret",
];

/// The byte range of the secret in one line of a turnserver.conf, for
/// `textdiff::mask_secrets`. coturn skips leading blanks and splits the key from the
/// value at the first run of blanks or `=` (parse_arg_string in mainrelay.c), so
/// `user alice:pw`, `  user = alice:pw` and `user=alice:pw` are all the same option.
/// Commented-out options are masked too: an old secret often survives as `#static-auth-secret=…`.
pub fn secret_span(line: &str) -> Option<Range<usize>> {
    let blank = |c: char| c == ' ' || c == '\t';
    let body = line.trim_start_matches(|c: char| blank(c) || c == '#');
    let key_start = line.len() - body.len();
    let key_len = body
        .find(|c: char| blank(c) || c == '=')
        .unwrap_or(body.len());
    if !SECRET_KEYS.contains(&&body[..key_len]) {
        return None;
    }
    let rest = &body[key_len..];
    let value = rest.trim_start_matches(|c: char| blank(c) || c == '=');
    let mut start = key_start + key_len + (rest.len() - value.len());
    let end = key_start + key_len + rest.trim_end().len();
    if &body[..key_len] == "user" {
        // `name:password` or `name:0xkey`: the name is no secret and says which user changes.
        if let Some(colon) = line[start..end].find(':') {
            start += colon + 1;
        }
    }
    (start < end).then_some(start..end)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::params::tests::config;

    fn conf(extra: &str, v: Version) -> String {
        let p = config(extra);
        turnserver_conf(&p, &p.validate().unwrap(), v)
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

    fn masked(line: &str) -> String {
        match secret_span(line) {
            Some(r) => format!("{}********{}", &line[..r.start], &line[r.end..]),
            None => line.to_owned(),
        }
    }

    #[test]
    fn every_secret_bearing_line_is_found_in_the_forms_coturn_reads() {
        let cases = [
            ("static-auth-secret=north", "static-auth-secret=********"),
            (
                "  static-auth-secret = north  ",
                "  static-auth-secret = ********  ",
            ),
            ("static-auth-secret\tnorth", "static-auth-secret\t********"),
            (
                "user=ninefingers:youhavetoberealistic",
                "user=ninefingers:********",
            ),
            (
                "user=ninefingers:0xbc807ee29df3c9ffa736523fb2c4e8ee",
                "user=ninefingers:********",
            ),
            ("user=lonely", "user=********"),
            ("cli-password=qwerty", "cli-password=********"),
            ("pkey-pwd=hunter2", "pkey-pwd=********"),
            (
                r#"psql-userdb="host=db dbname=coturn user=turn password=pg-pw connect_timeout=30""#,
                "psql-userdb=********",
            ),
            ("sql-userdb=host=db password=x", "sql-userdb=********"),
            (
                "mysql-userdb=host=db password=my-pw",
                "mysql-userdb=********",
            ),
            (
                "mongo-userdb=mongodb://turn:mongo-pw@db/coturn",
                "mongo-userdb=********",
            ),
            (
                "redis-userdb=ip=10.0.4.5 password=rd-pw",
                "redis-userdb=********",
            ),
            (
                "redis-statsdb=ip=10.0.4.5 password=rs-pw",
                "redis-statsdb=********",
            ),
            (
                "stateless-nonce-secret=abc",
                "stateless-nonce-secret=********",
            ),
            ("#static-auth-secret=north", "#static-auth-secret=********"),
            ("# cli-password=qwerty", "# cli-password=********"),
        ];
        for (line, want) in cases {
            assert_eq!(masked(line), want, "{line}");
        }
        for plain in [
            "user-quota=12",
            "userdb=/var/lib/turn/turndb",
            "pkey=/etc/ssl/k.pem",
            "secret-key-file=/etc/coturn/aes.key",
            "use-auth-secret",
            "static-auth-secret=",
            "realm=turn.example.org",
            "# Authentication: ephemeral credentials derived from the shared secret (TURN REST API)",
        ] {
            assert_eq!(secret_span(plain), None, "{plain}");
        }
    }

    #[test]
    fn the_rendered_file_masks_its_secret() {
        let p = config("");
        let c = conf("", BOOKWORM);
        let shown: String = c.lines().map(masked).collect();
        assert!(c.contains(p.static_auth_secret.expose()));
        assert!(!shown.contains(p.static_auth_secret.expose()), "{shown}");
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
