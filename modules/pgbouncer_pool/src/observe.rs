//! What the host has now: pgbouncer.ini, the auth file, and what the admin console reports (read-only).

use crate::console::{Console, ConsoleError, Target};
use crate::params::{AuthType, Params};
use crate::render::parse_auth_file;
use crate::scram::{md5_secret, new_verifier, Verifier};
use matrixha_module::file::{observed_ownership, read_optional, Ownership};
use matrixha_module::ModuleError;
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
pub type AuthEntries = Vec<(String, String)>;

/// The auth file's entries as they should be, and the users whose secret is new.
///
/// A stored secret that still verifies the password is kept: a new random salt
/// on every run would rewrite the file and reload PgBouncer each time.
pub fn desired_auth(
    p: &Params,
    current: Option<&str>,
) -> Result<(AuthEntries, Vec<String>), ModuleError> {
    let existing = current.map(parse_auth_file).unwrap_or_default();
    let mut entries = Vec::new();
    let mut changed = Vec::new();
    for u in &p.users {
        let old = existing.iter().find(|(n, _)| *n == u.name).map(|(_, s)| s);
        let pw = u.password.expose();
        let keep = match (u.encryption, old) {
            (AuthType::ScramSha256, Some(s)) => Verifier::parse(s).is_some_and(|v| v.verifies(pw)),
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
    })
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
        .filter(|r| r[paused].as_deref() == Some("1"))
        .filter_map(|r| r[name].clone())
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
