//! pgbouncer.ini and the auth file as text, and reading them back (pure).

use crate::params::{Params, Pools};
use matrixha_module::Secret;
use std::collections::BTreeMap;

pub const HEADER: &str =
    "; Managed by matrixha.stack.pgbouncer_pool: local changes are overwritten on the next run.\n";

/// pgbouncer.ini for `p` with the sized pools.
pub fn pgbouncer_ini(p: &Params, pools: &Pools) -> String {
    let mut out = String::from(HEADER);
    out.push_str("\n[databases]\n");
    let synapse_db = p.capacity.as_ref().map(|c| c.synapse_database.as_str());
    for d in &p.databases {
        let mut line = format!("{} = host={} port={}", d.name, d.host, d.port);
        line += &format!(" dbname={}", d.dbname.as_deref().unwrap_or(&d.name));
        if let Some(m) = d.pool_mode {
            line += &format!(" pool_mode={}", m.as_str());
        }
        if let Some(s) = d.pool_size {
            line += &format!(" pool_size={s}");
        }
        if let Some(s) = d.reserve_pool {
            line += &format!(" reserve_pool={s}");
        }
        // The sized cap keeps this node's server connections inside the share of
        // max_connections the plan gave it (DN-11).
        let cap = d.max_db_connections.or_else(|| {
            (Some(d.name.as_str()) == synapse_db)
                .then(|| pools.plan.as_ref().map(|pl| pl.max_db_connections))
                .flatten()
        });
        if let Some(c) = cap {
            line += &format!(" max_db_connections={c}");
        }
        out.push_str(&line);
        out.push('\n');
    }
    out.push_str("\n[pgbouncer]\n");
    for (k, v) in settings(p, pools) {
        out.push_str(&format!("{k} = {v}\n"));
    }
    out
}

/// The `[pgbouncer]` section as ordered key/value pairs.
pub fn settings(p: &Params, pools: &Pools) -> Vec<(String, String)> {
    let mut s: Vec<(String, String)> = vec![
        ("listen_addr".into(), p.listen_addr.join(",")),
        ("listen_port".into(), p.listen_port.to_string()),
        ("unix_socket_dir".into(), p.unix_socket_dir.clone()),
        ("pidfile".into(), p.pidfile.clone()),
    ];
    if !p.logfile.is_empty() {
        s.push(("logfile".into(), p.logfile.clone()));
    }
    s.extend([
        ("auth_type".into(), p.auth_type.as_str().into()),
        ("auth_file".into(), p.auth_file.clone()),
        ("admin_users".into(), p.admin_users.join(",")),
        ("stats_users".into(), p.stats_users.join(",")),
        ("pool_mode".into(), p.pool_mode.as_str().into()),
        (
            "default_pool_size".into(),
            pools.default_pool_size.to_string(),
        ),
        ("min_pool_size".into(), p.min_pool_size.to_string()),
        (
            "reserve_pool_size".into(),
            pools.reserve_pool_size.to_string(),
        ),
        (
            "reserve_pool_timeout".into(),
            p.reserve_pool_timeout.to_string(),
        ),
        ("max_client_conn".into(), pools.max_client_conn.to_string()),
    ]);
    if let Some(m) = pools.max_db_connections {
        s.push(("max_db_connections".into(), m.to_string()));
    }
    s.extend([
        ("server_reset_query".into(), p.server_reset_query.clone()),
        (
            "server_idle_timeout".into(),
            p.server_idle_timeout.to_string(),
        ),
        ("server_lifetime".into(), p.server_lifetime.to_string()),
        (
            "server_connect_timeout".into(),
            p.server_connect_timeout.to_string(),
        ),
        (
            "query_wait_timeout".into(),
            p.query_wait_timeout.to_string(),
        ),
    ]);
    s.extend(p.settings.iter().map(|(k, v)| (k.clone(), v.clone())));
    s
}

/// The `[pgbouncer]` section of an existing file (keys lower-cased, comments dropped).
pub fn parse_pgbouncer_section(text: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut in_section = false;
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with(';') || line.starts_with('#') {
            continue;
        }
        if line.starts_with('[') {
            in_section = line.eq_ignore_ascii_case("[pgbouncer]");
            continue;
        }
        if in_section {
            if let Some((k, v)) = line.split_once('=') {
                out.insert(k.trim().to_ascii_lowercase(), v.trim().to_owned());
            }
        }
    }
    out
}

/// `"name" "secret"` lines of an auth file, in order (PgBouncer's format: `""` escapes `"`).
///
/// PgBouncer skips `;` comment lines and reads only lines that start with `"`
/// (src/loader.c, load_auth_file; another line stops it as "broken auth file"),
/// so a commented-out entry is not a user.
pub fn parse_auth_file(text: &str) -> Vec<(String, Secret)> {
    let mut out = Vec::new();
    for line in text.lines().filter(|l| l.trim_start().starts_with('"')) {
        let mut fields = Vec::new();
        let mut chars = line.trim().chars().peekable();
        while let Some(c) = chars.next() {
            if c != '"' {
                continue;
            }
            let mut f = String::new();
            loop {
                match chars.next() {
                    Some('"') if chars.peek() == Some(&'"') => {
                        chars.next();
                        f.push('"');
                    }
                    Some('"') | None => break,
                    Some(ch) => f.push(ch),
                }
            }
            fields.push(f);
        }
        if fields.len() >= 2 {
            out.push((fields[0].clone(), Secret::new(fields[1].clone())));
        }
    }
    out
}

/// The auth file's text: every line holds a secret, so the whole text is one.
pub fn auth_file(entries: &[(String, Secret)]) -> Secret {
    let mut out = String::new();
    for (user, secret) in entries {
        out.push_str(&format!("\"{user}\" \"{}\"\n", secret.expose()));
    }
    Secret::new(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(user: &str, secret: &str) -> (String, Secret) {
        (user.to_owned(), Secret::new(secret))
    }

    #[test]
    fn auth_file_round_trips_with_quotes() {
        let text = auth_file(&[entry("synapse", "md5abc")]);
        assert_eq!(
            parse_auth_file(text.expose()),
            vec![entry("synapse", "md5abc")]
        );
        let quoted = "\"syn\"\"apse\" \"SCRAM-SHA-256$4096:x$y:z\"\n";
        assert_eq!(
            parse_auth_file(quoted),
            vec![entry("syn\"apse", "SCRAM-SHA-256$4096:x$y:z")]
        );
        assert_eq!(parse_auth_file(";comment\n\n\"a\"\n"), vec![]);
        assert_eq!(parse_auth_file(";\"old\" \"md5x\"\n"), vec![]);
    }

    #[test]
    fn pgbouncer_section_ignores_databases_and_comments() {
        let text = "[databases]\nlisten_port = 1\n[pgbouncer]\n; x\nlisten_port = 6432\nPool_Mode=session\n";
        let s = parse_pgbouncer_section(text);
        assert_eq!(s.get("listen_port").map(String::as_str), Some("6432"));
        assert_eq!(s.get("pool_mode").map(String::as_str), Some("session"));
        assert_eq!(s.len(), 2);
    }
}

#[cfg(test)]
mod ini_tests {
    use crate::params::Params;

    #[test]
    fn ini_points_at_the_writer_vip_with_sized_pools() {
        let (_, p): (_, Params) = matrixha_module::parse_args(
            r#"{"listen_addr": ["10.0.3.11", "127.0.0.1"],
                "databases": [{"name": "synapse", "host": "10.0.3.10"}],
                "capacity": {"synapse_database": "synapse", "synapse_processes": 19}}"#,
        )
        .unwrap();
        let pools = p.validate().unwrap();
        let ini = super::pgbouncer_ini(&p, &pools);
        assert!(ini.contains(
            "\n[databases]\nsynapse = host=10.0.3.10 port=5432 dbname=synapse max_db_connections=105\n"
        ), "{ini}");
        for line in [
            "listen_addr = 10.0.3.11,127.0.0.1",
            "listen_port = 6432",
            "auth_type = scram-sha-256",
            "pool_mode = session",
            "default_pool_size = 95",
            "reserve_pool_size = 10",
            "max_client_conn = 200",
            "server_reset_query = DISCARD ALL",
        ] {
            assert!(
                ini.contains(&format!("\n{line}\n")),
                "missing {line}:\n{ini}"
            );
        }
    }
}
