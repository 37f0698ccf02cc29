//! The application database and its owner role on the leader, with a client-side SCRAM verifier.

use crate::observe::Cluster;
use crate::Params;
use matrixha_module::ModuleError;
use pg_auth as scram;
use postgres::{Client, Config, NoTls};
use serde::Serialize;
use std::time::Duration;

/// What the leader has now.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct Observed {
    pub role_exists: bool,
    pub role_can_login: bool,
    /// Whether the stored verifier matches the requested password (never the verifier itself).
    pub password_matches: bool,
    pub db_exists: bool,
    pub db_owner: Option<String>,
    pub db_encoding: Option<String>,
    pub db_collate: Option<String>,
    pub db_ctype: Option<String>,
}

/// One statement to run; `shown` is what results print (no verifier).
#[derive(Debug, Clone, PartialEq)]
pub struct Statement {
    pub sql: String,
    pub shown: String,
}

const SHOWN_VERIFIER: &str = "<scram-sha-256 verifier>";

/// Where to connect: the task's login_host, else the leader from `/cluster`.
pub fn target(p: &Params, c: Option<&Cluster>) -> Result<(String, u16), ModuleError> {
    if let Some(h) = &p.login_host {
        return Ok((h.clone(), p.login_port.unwrap_or(5432)));
    }
    let leader = c.and_then(|c| c.leader_member()).ok_or_else(|| {
        ModuleError::param(
            "login_host",
            "the cluster has no leader to create the database on",
            "wait for a leader first (action wait_for, condition leader) or give login_host",
        )
    })?;
    let host = leader.host.clone().ok_or_else(|| {
        ModuleError::param(
            "login_host",
            format!("/cluster gives no host for leader {}", leader.name),
            "give login_host",
        )
    })?;
    Ok((host, p.login_port.or(leader.port).unwrap_or(5432)))
}

pub fn connect(p: &Params, host: &str, port: u16) -> Result<Client, ModuleError> {
    let mut cfg = Config::new();
    cfg.host(host)
        .port(port)
        .user(&p.login_user)
        .dbname("postgres")
        .application_name("matrixha.patroni_cluster")
        .connect_timeout(Duration::from_secs(p.api_timeout));
    if let Some(pw) = &p.login_password {
        cfg.password(pw.expose());
    }
    let mut client = cfg.connect(NoTls).map_err(|e| {
        let text = db_error(&e);
        let (param, fix) = if text.contains("password authentication failed") {
            (
                "login_password",
                "give the superuser password of the cluster (superuser_password of action config)",
            )
        } else if text.contains("pg_hba.conf") {
            (
                "login_host",
                "allow this host in pg_hba (cluster_networks) or connect from a DB node",
            )
        } else {
            (
                "login_host",
                "check that PostgreSQL listens on that address and port",
            )
        };
        ModuleError::param(
            param,
            format!(
                "cannot connect to PostgreSQL at {host}:{port} as {}: {}",
                p.login_user,
                db_error(&e)
            ),
            fix,
        )
    })?;
    let in_recovery: bool = client
        .query_one("SELECT pg_is_in_recovery()", &[])
        .map_err(|e| ModuleError::new(format!("cannot query {host}:{port}: {}", db_error(&e))))?
        .get(0);
    if in_recovery {
        return Err(ModuleError::param(
            "login_host",
            format!(
                "{host}:{port} is a replica (in recovery); databases are created on the leader"
            ),
            "omit login_host so the module connects to the leader from /cluster",
        ));
    }
    Ok(client)
}

/// The server's message with its detail, without the driver's wrapping.
pub fn db_error(e: &postgres::Error) -> String {
    match e.as_db_error() {
        Some(d) => d.message().to_owned(),
        None => e.to_string(),
    }
}

pub fn observe(client: &mut Client, p: &Params) -> Result<Observed, ModuleError> {
    let owner = p.db_owner.clone().unwrap_or_default();
    let name = p.db_name.clone().unwrap_or_default();
    let password = p
        .db_owner_password
        .as_ref()
        .map(|s| s.expose())
        .unwrap_or_default();
    let q = |e: postgres::Error| {
        ModuleError::new(format!("cannot read the catalogue: {}", db_error(&e)))
    };
    let mut o = Observed::default();
    // pg_authid needs superuser; that is what login_user is.
    if let Some(row) = client
        .query_opt(
            "SELECT rolcanlogin, rolpassword FROM pg_authid WHERE rolname = $1",
            &[&owner],
        )
        .map_err(q)?
    {
        o.role_exists = true;
        o.role_can_login = row.get(0);
        let stored: Option<String> = row.get(1);
        o.password_matches = stored
            .and_then(|s| scram::Verifier::parse(&s))
            .map(|v| v.verifies(password))
            .unwrap_or(false);
    }
    if let Some(row) = client
        .query_opt(
            "SELECT pg_get_userbyid(datdba)::text, pg_encoding_to_char(encoding)::text, datcollate::text, datctype::text \
             FROM pg_database WHERE datname = $1",
            &[&name],
        )
        .map_err(q)?
    {
        o.db_exists = true;
        o.db_owner = row.get(0);
        o.db_encoding = row.get(1);
        o.db_collate = row.get(2);
        o.db_ctype = row.get(3);
    }
    Ok(o)
}

/// Statements that bring `o` to what `p` asks. Names are validated plain identifiers,
/// so they need no quoting; the verifier is generated here with a fresh salt.
pub fn plan(
    p: &Params,
    o: &Observed,
    verifier: impl Fn() -> Result<String, ModuleError>,
) -> Result<Vec<Statement>, ModuleError> {
    let owner = p.db_owner.clone().unwrap_or_default();
    let name = p.db_name.clone().unwrap_or_default();
    let mut out = Vec::new();
    let pw_stmt = |prefix: String| -> Result<Statement, ModuleError> {
        let v = verifier()?;
        Ok(Statement {
            sql: format!("{prefix} PASSWORD '{v}'"),
            shown: format!("{prefix} PASSWORD '{SHOWN_VERIFIER}'"),
        })
    };
    if !o.role_exists {
        out.push(pw_stmt(format!("CREATE ROLE {owner} LOGIN"))?);
    } else {
        if !o.password_matches {
            out.push(pw_stmt(format!("ALTER ROLE {owner}"))?);
        }
        if !o.role_can_login {
            let sql = format!("ALTER ROLE {owner} LOGIN");
            out.push(Statement {
                shown: sql.clone(),
                sql,
            });
        }
    }
    if !o.db_exists {
        let sql = format!(
            "CREATE DATABASE {name} OWNER {owner} ENCODING '{}' LC_COLLATE '{}' LC_CTYPE '{}' TEMPLATE template0",
            p.db_encoding, p.db_lc_collate, p.db_lc_ctype
        );
        out.push(Statement {
            shown: sql.clone(),
            sql,
        });
    } else {
        let enc_ok = o
            .db_encoding
            .as_deref()
            .map(|e| e.eq_ignore_ascii_case(&p.db_encoding.replace('-', "")))
            .unwrap_or(false);
        if !enc_ok
            || o.db_collate.as_deref() != Some(&p.db_lc_collate)
            || o.db_ctype.as_deref() != Some(&p.db_lc_ctype)
        {
            return Err(ModuleError::param(
                "db_name",
                format!(
                    "database {name} exists with ENCODING {} LC_COLLATE {} LC_CTYPE {}, not {} / {} / {}; it cannot be changed in place",
                    o.db_encoding.as_deref().unwrap_or("?"),
                    o.db_collate.as_deref().unwrap_or("?"),
                    o.db_ctype.as_deref().unwrap_or("?"),
                    p.db_encoding,
                    p.db_lc_collate,
                    p.db_lc_ctype
                ),
                "dump it, drop it and let this task recreate it (then restore), or choose another db_name",
            ));
        }
        if o.db_owner.as_deref() != Some(owner.as_str()) {
            let sql = format!("ALTER DATABASE {name} OWNER TO {owner}");
            out.push(Statement {
                shown: sql.clone(),
                sql,
            });
        }
    }
    Ok(out)
}

pub fn apply(client: &mut Client, statements: &[Statement]) -> Result<(), ModuleError> {
    for s in statements {
        // CREATE DATABASE cannot run in a transaction block: one simple query each.
        client.batch_execute(&s.sql).map_err(|e| {
            ModuleError::new(format!("{} failed: {}", s.shown, db_error(&e)))
                .with_fix("check the PostgreSQL log on the leader")
        })?;
    }
    Ok(())
}

pub fn new_verifier(password: &str) -> Result<String, ModuleError> {
    scram::new_verifier(password)
        .map(|v| v.render().expose().to_owned())
        .map_err(|e| ModuleError::new(format!("cannot read /dev/urandom for a salt: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use matrixha_module::parse_args;
    use serde_json::json;

    fn params() -> Params {
        parse_args::<Params>(
            &json!({"action": "database", "db_name": "synapse", "db_owner": "synapse",
                    "db_owner_password": "synapse-secret-12", "login_password": "superuser-secret"})
            .to_string(),
        )
        .unwrap()
        .1
    }

    fn fake() -> Result<String, ModuleError> {
        Ok("SCRAM-SHA-256$4096:c2FsdA==$a:b".into())
    }

    #[test]
    fn fresh_cluster_creates_role_then_database() {
        let s = plan(&params(), &Observed::default(), fake).unwrap();
        assert_eq!(s.len(), 2);
        assert_eq!(
            s[0].shown,
            "CREATE ROLE synapse LOGIN PASSWORD '<scram-sha-256 verifier>'"
        );
        assert!(s[0].sql.contains("SCRAM-SHA-256$4096:"));
        assert_eq!(
            s[1].sql,
            "CREATE DATABASE synapse OWNER synapse ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0"
        );
        assert!(s.iter().all(|s| !s.sql.contains("synapse-secret-12")));
    }

    #[test]
    fn matching_state_plans_nothing() {
        let o = Observed {
            role_exists: true,
            role_can_login: true,
            password_matches: true,
            db_exists: true,
            db_owner: Some("synapse".into()),
            db_encoding: Some("UTF8".into()),
            db_collate: Some("C".into()),
            db_ctype: Some("C".into()),
        };
        assert!(plan(&params(), &o, fake).unwrap().is_empty());
        let changed = Observed {
            password_matches: false,
            db_owner: Some("postgres".into()),
            ..o.clone()
        };
        let s = plan(&params(), &changed, fake).unwrap();
        assert_eq!(
            s.iter().map(|s| s.shown.as_str()).collect::<Vec<_>>(),
            vec![
                "ALTER ROLE synapse PASSWORD '<scram-sha-256 verifier>'",
                "ALTER DATABASE synapse OWNER TO synapse"
            ]
        );
        let wrong = Observed {
            db_collate: Some("en_US.UTF-8".into()),
            ..o
        };
        let e = plan(&params(), &wrong, fake).unwrap_err().to_string();
        assert!(
            e.starts_with(
                "db_name: database synapse exists with ENCODING UTF8 LC_COLLATE en_US.UTF-8"
            ),
            "{e}"
        );
    }
}
