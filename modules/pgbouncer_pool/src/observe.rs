//! What the host has now: pgbouncer.ini, the auth file, and what the admin console reports (read-only).

use crate::console::{Console, ConsoleError, Target};
use crate::params::{AuthType, Params};
use crate::render::parse_auth_file;
use matrixha_module::file::{observed_ownership, read_optional, Ownership};
use matrixha_module::{ModuleError, Secret};
use pg_auth::{md5_secret, new_verifier, Verifier};
use serde_json::{Map, Value};
use std::path::Path;
use std::time::Duration;

pub struct Files {
    pub ini: Option<String>,
    pub ini_ownership: Option<Ownership>,
    pub auth: Option<String>,
    pub auth_ownership: Option<Ownership>,
}

pub fn files(p: &Params) -> Result<Files, ModuleError> {
    let named = |param: &str, e: ModuleError| ModuleError {
        param: Some(param.into()),
        ..e
    };
    Ok(Files {
        ini: read_optional(Path::new(&p.path)).map_err(|e| named("path", e))?,
        ini_ownership: observed_ownership(Path::new(&p.path)),
        auth: read_optional(Path::new(&p.auth_file)).map_err(|e| named("auth_file", e))?,
        auth_ownership: observed_ownership(Path::new(&p.auth_file)),
    })
}

/// `(user, secret)` lines of the auth file.
pub type AuthEntries = Vec<(String, Secret)>;

/// The auth file's entries as they should be, and the users whose secret is new.
///
/// A stored secret that still verifies the password is kept: a new random salt
/// on every run would rewrite the file and reload PgBouncer each time.
pub fn desired_auth(
    p: &Params,
    current: Option<&str>,
    server: Option<&AuthEntries>,
) -> Result<(AuthEntries, Vec<String>), ModuleError> {
    let existing = current.map(parse_auth_file).unwrap_or_default();
    let mut entries = Vec::new();
    let mut changed = Vec::new();
    for u in &p.users {
        let old = existing.iter().find(|(n, _)| *n == u.name).map(|(_, s)| s);
        let pw = u.password.expose();
        let on_server = server.and_then(|s| s.iter().find(|(n, _)| *n == u.name).map(|(_, v)| v));
        if let (AuthType::ScramSha256, Some(v)) = (u.encryption, on_server) {
            if !Verifier::parse(v.expose()).is_some_and(|ver| ver.verifies(pw)) {
                return Err(ModuleError::param(
                    format!("users[{}].password", u.name),
                    "does not match the SCRAM verifier PostgreSQL stores for this role \
                     (or the server stores it as md5)",
                    "give the same password as the database role (the patroni role's vault value), \
                     or change the role's password first",
                ));
            }
            if old != Some(v) {
                changed.push(u.name.clone());
            }
            entries.push((u.name.clone(), v.clone()));
            continue;
        }
        let keep = match (u.encryption, old) {
            (AuthType::ScramSha256, Some(s)) => {
                Verifier::parse(s.expose()).is_some_and(|v| v.verifies(pw))
            }
            (AuthType::Md5, Some(s)) => *s == md5_secret(&u.name, pw),
            (_, None) => false,
        };
        let secret = match (keep, old) {
            (true, Some(s)) => s.clone(),
            _ => {
                changed.push(u.name.clone());
                match u.encryption {
                    AuthType::ScramSha256 => new_verifier(pw)
                        .map_err(|e| {
                            ModuleError::new(format!("cannot read /dev/urandom for a salt: {e}"))
                        })?
                        .render(),
                    AuthType::Md5 => md5_secret(&u.name, pw),
                }
            }
        };
        entries.push((u.name.clone(), secret));
    }
    Ok((entries, changed))
}

pub fn target(p: &Params) -> Option<Target> {
    let a = p.admin.as_ref()?;
    Some(Target {
        host: a.host.clone(),
        port: a.port.unwrap_or(p.listen_port),
        user: a.user.clone(),
        password: a.password.clone(),
        timeout: Duration::from_secs(a.timeout),
        database: "pgbouncer".into(),
    })
}

pub fn server_target(p: &Params) -> Option<Target> {
    let v = p.verifier_source.as_ref()?;
    Some(Target {
        host: v.host.clone(),
        port: v.port,
        user: v.user.clone(),
        password: v.password.clone(),
        timeout: Duration::from_secs(v.timeout),
        database: v.dbname.clone(),
    })
}

/// The verifiers PostgreSQL stores for `users` (`pg_authid.rolpassword`; superuser only).
///
/// PgBouncer can log in to the server with a stored SCRAM secret only when it is
/// the server's own verifier — same salt and iterations, not merely the same
/// password (PgBouncer docs, "Authentication file format") — so the server's
/// verifier is what goes into the auth file.
pub fn server_verifiers(t: &Target, users: &[&str]) -> Result<AuthEntries, ModuleError> {
    let err = |e: ConsoleError| {
        let fix = match e {
            ConsoleError::Unreachable(_) => {
                "check verifier_source.host/port: the writer VIP (or the primary) must accept connections"
            }
            ConsoleError::Auth(_) => {
                "give a superuser and its password in verifier_source (pg_authid is readable by superusers only),                  and allow it in pg_hba from this node"
            }
            ConsoleError::Command(_) => "verifier_source.user must be a superuser to read pg_authid",
        };
        ModuleError::param("verifier_source", e.to_string(), fix)
    };
    if users.is_empty() {
        return Ok(Vec::new());
    }
    let mut c = Console::connect(t).map_err(err)?;
    // Names passed params::plain (letters, digits, _ - . : /), so quoting is safe.
    let list = users
        .iter()
        .map(|u| format!("'{u}'"))
        .collect::<Vec<_>>()
        .join(",");
    let rows = c
        .query(&format!(
            "SELECT rolname, rolpassword FROM pg_authid WHERE rolname IN ({list})"
        ))
        .map_err(err)?;
    Ok(rows
        .rows
        .into_iter()
        .filter_map(
            |r| match (r.first().cloned().flatten(), r.get(1).cloned().flatten()) {
                // The server's verifier lets PgBouncer log in as the role: a Secret.
                (Some(n), Some(v)) => Some((n, Secret::new(v))),
                _ => None,
            },
        )
        .collect())
}

/// A console error as a module error naming `admin` and saying what to do.
pub fn console_error(t: &Target, e: ConsoleError) -> ModuleError {
    let fix = match e {
        ConsoleError::Unreachable(_) => format!(
            "start PgBouncer (systemctl start pgbouncer) or correct admin.host/admin.port; \
             it must listen on {}",
            t.describe()
        ),
        ConsoleError::Auth(_) => format!(
            "list '{}' in admin_users and give it a password in users (the auth file), \
             then pass the same password as admin.password",
            t.user
        ),
        ConsoleError::Command(_) => "see PgBouncer's log (logfile) for why".to_owned(),
    };
    ModuleError::param("admin", e.to_string(), fix)
}

/// Databases PAUSE has stopped (SHOW DATABASES `paused` = 1), among `names`.
pub fn paused(c: &mut Console, names: &[String]) -> Result<Vec<String>, ConsoleError> {
    let rows = c.query("SHOW DATABASES")?;
    let (Some(name), Some(paused)) = (rows.column("name"), rows.column("paused")) else {
        return Ok(Vec::new());
    };
    Ok(rows
        .rows
        .iter()
        .filter(|r| r.get(paused).cloned().flatten().as_deref() == Some("1"))
        .filter_map(|r| r.get(name).cloned().flatten())
        .filter(|n| names.contains(n))
        .collect())
}

/// SHOW POOLS / DATABASES / STATS / CONFIG as one JSON object for `register:`.
pub fn show(c: &mut Console) -> Result<Value, ConsoleError> {
    let mut m = Map::new();
    for (key, cmd) in [
        ("pools", "SHOW POOLS"),
        ("databases", "SHOW DATABASES"),
        ("stats", "SHOW STATS"),
    ] {
        m.insert(key.into(), Value::Array(c.query(cmd)?.to_json()));
    }
    let config = c.query("SHOW CONFIG")?;
    let mut cfg = Map::new();
    if let (Some(k), Some(v)) = (config.column("key"), config.column("value")) {
        for r in &config.rows {
            if let (Some(key), value) = (&r[k], &r[v]) {
                cfg.insert(
                    key.clone(),
                    value.clone().map(Value::String).unwrap_or(Value::Null),
                );
            }
        }
    }
    m.insert("config".into(), Value::Object(cfg));
    Ok(Value::Object(m))
}
