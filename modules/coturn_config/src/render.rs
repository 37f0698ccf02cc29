//! turnserver.conf text from parameters (pure), and the TURN URIs clients use.

use crate::Params;
use std::fmt::Write;
use std::net::IpAddr;

const HEADER: &str = "# Managed by matrixha.stack.coturn_config: edits here are overwritten.\n";

/// The complete `turnserver.conf` for these parameters. Values never carry
/// trailing comments: coturn reads `# …` after a value as part of it (DN-14).
pub fn turnserver_conf(p: &Params) -> String {
    let mut c = String::from(HEADER);
    let mut line = |k: &str, v: &dyn std::fmt::Display| {
        let _ = writeln!(c, "{k}={v}");
    };
    line("listening-port", &p.listening_port);
    for ip in &p.listening_ips {
        line("listening-ip", ip);
    }
    for ip in &p.relay_ips {
        line("relay-ip", ip);
    }
    if let Some(ext) = &p.external_ip {
        line("external-ip", ext);
    }
    line("min-port", &p.min_port);
    line("max-port", &p.max_port);
    line("realm", &p.realm);
    line("server-name", &p.server_name.as_deref().unwrap_or(&p.realm));
    line("static-auth-secret", &p.static_auth_secret.expose());
    line("user-quota", &p.user_quota);
    line("total-quota", &p.total_quota);
    if p.tls() {
        line("tls-listening-port", &p.tls_listening_port);
        line("cert", &p.cert.as_deref().unwrap_or_default());
        line("pkey", &p.pkey.as_deref().unwrap_or_default());
    }
    for r in &p.denied_peer_ips {
        line("denied-peer-ip", &peer_range(r).unwrap_or_else(|_| r.clone()));
    }
    for r in &p.allowed_peer_ips {
        line("allowed-peer-ip", &peer_range(r).unwrap_or_else(|_| r.clone()));
    }
    // Flags: shared-secret auth only, no admin CLI, no multicast relaying.
    c.push_str("use-auth-secret\nfingerprint\nno-cli\nno-multicast-peers\n");
    if !p.tls() {
        c.push_str("no-tls\nno-dtls\n");
    }
    c
}

/// A peer range in coturn's `first-last` form; CIDR input is expanded.
pub fn peer_range(text: &str) -> Result<String, String> {
    if let Some((a, b)) = text.split_once('-') {
        let (a, b): (IpAddr, IpAddr) = (
            a.trim().parse().map_err(|_| format!("'{text}' is not an address range"))?,
            b.trim().parse().map_err(|_| format!("'{text}' is not an address range"))?,
        );
        if a.is_ipv4() != b.is_ipv4() || a > b {
            return Err(format!("'{text}' is not an ascending range of one address family"));
        }
        return Ok(format!("{a}-{b}"));
    }
    let (addr, len) = text.split_once('/').unwrap_or((text, ""));
    let addr: IpAddr = addr.parse().map_err(|_| format!("'{text}' is not an address or CIDR"))?;
    match addr {
        IpAddr::V4(v4) => {
            let len: u32 = if len.is_empty() { 32 } else { len.parse().map_err(|_| format!("'{text}' has a bad prefix length"))? };
            if len > 32 {
                return Err(format!("'{text}' has a prefix longer than 32"));
            }
            let mask = if len == 0 { 0 } else { u32::MAX << (32 - len) };
            let first = u32::from(v4) & mask;
            let last = first | !mask;
            Ok(format!("{}-{}", std::net::Ipv4Addr::from(first), std::net::Ipv4Addr::from(last)))
        }
        IpAddr::V6(v6) => {
            let len: u32 = if len.is_empty() { 128 } else { len.parse().map_err(|_| format!("'{text}' has a bad prefix length"))? };
            if len > 128 {
                return Err(format!("'{text}' has a prefix longer than 128"));
            }
            let mask = if len == 0 { 0 } else { u128::MAX << (128 - len) };
            let first = u128::from(v6) & mask;
            let last = first | !mask;
            Ok(format!("{}-{}", std::net::Ipv6Addr::from(first), std::net::Ipv6Addr::from(last)))
        }
    }
}

/// `turn_uris` for Synapse's homeserver.yaml / MDAD for this node.
pub fn turn_uris(p: &Params) -> Vec<String> {
    let host = p.server_name.as_deref().unwrap_or(&p.realm);
    let mut uris = vec![
        format!("turn:{host}:{}?transport=udp", p.listening_port),
        format!("turn:{host}:{}?transport=tcp", p.listening_port),
    ];
    if p.tls() {
        uris.push(format!("turns:{host}:{}?transport=tcp", p.tls_listening_port));
    }
    uris
}

/// The file as diff mode may show it: the secret replaced, marked when it changes.
pub fn masked(text: &str, p: &Params) -> String {
    text.lines()
        .map(|l| match l.strip_prefix("static-auth-secret=") {
            Some(v) if v == p.static_auth_secret.expose() => "static-auth-secret=********".to_owned(),
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

    pub(crate) fn params(extra: &str) -> Params {
        let text = format!(
            r#"{{"realm":"turn.example.org","static_auth_secret":"0123456789abcdef0123456789abcdef",
                 "listening_ips":["10.0.4.21"]{extra}}}"#
        );
        matrixha_module::parse_args::<Params>(&text).unwrap().1
    }

    #[test]
    fn renders_listeners_realm_and_auth() {
        let c = turnserver_conf(&params(""));
        assert!(c.contains("listening-ip=10.0.4.21\n"));
        assert!(c.contains("realm=turn.example.org\n"));
        assert!(c.contains("use-auth-secret\n"));
        assert!(c.contains("no-tls\n"), "no cert, no TLS listener");
        assert!(!c.lines().any(|l| !l.starts_with('#') && l.contains('#')), "no trailing comments");
    }

    #[test]
    fn cidr_becomes_coturn_range() {
        assert_eq!(peer_range("10.0.3.0/24").unwrap(), "10.0.3.0-10.0.3.255");
        assert_eq!(peer_range("10.0.0.0/8").unwrap(), "10.0.0.0-10.255.255.255");
        assert_eq!(peer_range("10.0.3.7").unwrap(), "10.0.3.7-10.0.3.7");
        assert_eq!(peer_range("fc00::/7").unwrap(), "fc00::-fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff");
        assert!(peer_range("10.0.3.9-10.0.3.1").is_err());
        assert!(peer_range("10.0.3.0/33").is_err());
    }

    #[test]
    fn masked_hides_secret_and_marks_a_change() {
        let p = params("");
        let conf = turnserver_conf(&p);
        assert!(!masked(&conf, &p).contains(p.static_auth_secret.expose()));
        let old = "static-auth-secret=older\n";
        assert_eq!(masked(old, &p), "static-auth-secret=******** (will change)\n");
    }

    #[test]
    fn uris_include_turns_only_with_tls() {
        assert_eq!(turn_uris(&params("")).len(), 2);
        let p = params(r#","cert":"/etc/ssl/c.pem","pkey":"/etc/ssl/k.pem""#);
        assert_eq!(turn_uris(&p)[2], "turns:turn.example.org:5349?transport=tcp");
    }

    #[test]
    fn validation_names_the_parameter() {
        let cases = [
            (r#","min_port":3000,"max_port":4000"#, "listening_port"),
            (r#","min_port":60000,"max_port":50000"#, "min_port"),
            (r#","cert":"/c.pem""#, "pkey"),
            (r#","denied_peer_ips":["10.0.0.0/40"]"#, "denied_peer_ips"),
            (r#","realm":"a b""#, "realm"),
            (r#","mode":"rw""#, "mode"),
        ];
        for (extra, param) in cases {
            let p = params(extra);
            let e = p.validate().and_then(|_| p.ownership().map(|_| ())).unwrap_err();
            assert_eq!(e.param.as_deref(), Some(param), "{extra}: {e}");
        }
    }
}
