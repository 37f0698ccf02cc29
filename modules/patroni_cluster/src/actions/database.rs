//! `action: database`: the application database and its owner role on the leader — observe the catalogue, plan SQL with a client-side SCRAM verifier, apply.

use crate::observe::{self, Cluster};
use crate::params::{check_password, is_identifier, Connection};
use crate::rest::Api;
use matrixha_module::{Ctx, ModuleError, Outcome, Secret};
use pg_auth as scram;
use postgres::{Client, Config, NoTls};
use serde::{Deserialize, Serialize};
use std::time::Duration;

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseParams {
    #[serde(default)]
    pub db_name: Option<String>,
    #[serde(default)]
    pub db_owner: Option<String>,
    #[serde(default)]
    pub db_owner_password: Option<Secret>,
    #[serde(default = "default_encoding")]
    pub db_encoding: String,
    #[serde(default = "default_locale")]
    pub db_lc_collate: String,
    #[serde(default = "default_locale")]
    pub db_lc_ctype: String,
    /// Default: the leader's host and port from `/cluster`.
    #[serde(default)]
    pub login_host: Option<String>,
    #[serde(default, deserialize_with = "matrixha_module::lenient::opt_int")]
    pub login_port: Option<u16>,
    #[serde(default = "default_superuser")]
    pub login_user: String,
    #[serde(default)]
    pub login_password: Option<Secret>,
}

fn default_encoding() -> String {
    "UTF8".into()
}
fn default_locale() -> String {
    "C".into()
}
fn default_superuser() -> String {
    "postgres".into()
}

impl DatabaseParams {
    pub fn validate(&self) -> Result<(), ModuleError> {
        for (name, v) in [("db_name", &self.db_name), ("db_owner", &self.db_owner)] {
            match v {
                None => {
                    return Err(ModuleError::param(
                        name,
                        "is required for action database",
                        "set it, e.g. synapse",
                    ))
                }
                Some(s) if !is_identifier(s) => return Err(ModuleError::param(
                    name,
                    format!("'{s}' is not a plain name"),
                    "use lower-case letters, digits and '_' (at most 63), starting with a letter",
                )),
                _ => {}
            }
        }
        check_password(
            "db_owner_password",
            self.db_owner_password.as_ref(),
            "database",
        )?;
        // check_password also refuses non-ASCII: the SCRAM verifier is computed here and
        // PostgreSQL would SASLprep such a password (RFC 4013, NFKC) differently.
        if self.login_password.is_none() {
            return Err(ModuleError::param(
                "login_password",
                "is required for action database",
                "give the PostgreSQL superuser's password (the superuser_password of action config)",
            ));
        }
        if !is_identifier(&self.login_user) {
            return Err(ModuleError::param(
                "login_user",
                format!("'{}' is not a plain role name", self.login_user),
                "use the superuser, e.g. postgres",
            ));
        }
        for (name, v) in [
            ("db_encoding", &self.db_encoding),
            ("db_lc_collate", &self.db_lc_collate),
            ("db_lc_ctype", &self.db_lc_ctype),
        ] {
            if v.is_empty()
                || !v
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "._-@".contains(c))
            {
                return Err(ModuleError::param(
                    name,
                    format!("'{v}' is not a plain encoding or locale name"),
                    "use e.g. UTF8 and C (what Synapse requires)",
                ));
            }
        }
        Ok(())
    }
}

pub fn run(conn: &Connection, p: &DatabaseParams, ctx: &Ctx) -> Result<Outcome, ModuleError> {
    let cluster = match &p.login_host {
        Some(_) => None,
        None => Some(observe::cluster(&Api::new(conn, None)?)?),
    };
    let (host, port) = target(p, cluster.as_ref())?;
    let mut client = connect(conn, p, &host, port)?;
    let observed = observe(&mut client, p)?;
    let statements = plan(p, &observed, || {
        new_verifier(
            p.db_owner_password
                .as_ref()
                .map(Secret::expose)
                .unwrap_or_default(),
        )
    })?;
    if !ctx.check_mode {
        apply(&mut client, &statements)?;
    }
    let shown: Vec<&str> = statements.iter().map(|s| s.shown.as_str()).collect();
    let mut out = Outcome::changed_if(!statements.is_empty())
        .field("executed_queries", &shown)
        .field("leader", format!("{host}:{port}"));
    if !statements.is_empty() {
        out = out.diff(
            "database",
            serde_yaml::to_string(&observed).unwrap_or_default(),
            format!("{}\n", shown.join(";\n")),
        );
    }
    Ok(out)
}
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

/// One statement to run. `shown` is what results print; a statement that
/// carries a verifier keeps its real text as a [`Secret`].
#[derive(Debug, Clone, PartialEq)]
pub struct Statement {
    pub shown: String,
    secret_sql: Option<Secret>,
}

impl Statement {
    fn plain(sql: String) -> Statement {
        Statement {
            shown: sql,
            secret_sql: None,
        }
    }

    /// The SQL sent to the server.
    pub fn sql(&self) -> &str {
        match &self.secret_sql {
            Some(s) => s.expose(),
            None => &self.shown,
        }
    }

    /// A server message about this statement, with the verifier (if any) replaced.
    fn redact(&self, msg: &str) -> String {
        match &self.secret_sql {
            Some(s) => {
                let mut out = msg.replace(s.expose(), &self.shown);
                // The verifier alone, as a server could quote it "at or near" an error.
                if let Some(v) = verifier_in(s.expose()) {
                    out = out.replace(v, SHOWN_VERIFIER);
                }
                out
            }
            None => msg.to_owned(),
        }
    }
}

/// The verifier inside `... PASSWORD '<verifier>'`.
fn verifier_in(sql: &str) -> Option<&str> {
    let start = sql.find("PASSWORD '")? + "PASSWORD '".len();
    let end = sql[start..].find('\'')? + start;
    Some(&sql[start..end])
}

const SHOWN_VERIFIER: &str = "<scram-sha-256 verifier>";

/// Where to connect: the task's login_host, else the leader from `/cluster`.
pub fn target(p: &DatabaseParams, c: Option<&Cluster>) -> Result<(String, u16), ModuleError> {
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

pub fn connect(
    conn: &Connection,
    p: &DatabaseParams,
    host: &str,
    port: u16,
) -> Result<Client, ModuleError> {
    let mut cfg = Config::new();
    cfg.host(host)
        .port(port)
        .user(&p.login_user)
        .dbname("postgres")
        .application_name("matrixha.patroni_cluster")
        .connect_timeout(Duration::from_secs(conn.api_timeout));
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

pub fn observe(client: &mut Client, p: &DatabaseParams) -> Result<Observed, ModuleError> {
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
        // The stored verifier is a secret too: it logs in to PgBouncer-style SCRAM.
        let stored: Option<Secret> = row.get::<_, Option<String>>(1).map(Secret::new);
        o.password_matches = stored
            .and_then(|s| scram::Verifier::parse(s.expose()))
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
    p: &DatabaseParams,
    o: &Observed,
    verifier: impl Fn() -> Result<Secret, ModuleError>,
) -> Result<Vec<Statement>, ModuleError> {
    let owner = p.db_owner.clone().unwrap_or_default();
    let name = p.db_name.clone().unwrap_or_default();
    let mut out = Vec::new();
    let pw_stmt = |prefix: String| -> Result<Statement, ModuleError> {
        let v = verifier()?;
        Ok(Statement {
            secret_sql: Some(Secret::new(format!("{prefix} PASSWORD '{}'", v.expose()))),
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
            out.push(Statement::plain(format!("ALTER ROLE {owner} LOGIN")));
        }
    }
    if !o.db_exists {
        let sql = format!(
            "CREATE DATABASE {name} OWNER {owner} ENCODING '{}' LC_COLLATE '{}' LC_CTYPE '{}' TEMPLATE template0",
            p.db_encoding, p.db_lc_collate, p.db_lc_ctype
        );
        out.push(Statement::plain(sql));
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
            out.push(Statement::plain(format!(
                "ALTER DATABASE {name} OWNER TO {owner}"
            )));
        }
    }
    Ok(out)
}

pub fn apply(client: &mut Client, statements: &[Statement]) -> Result<(), ModuleError> {
    for s in statements {
        // CREATE DATABASE cannot run in a transaction block: one simple query each.
        client.batch_execute(s.sql()).map_err(|e| {
            ModuleError::new(format!("{} failed: {}", s.shown, s.redact(&db_error(&e))))
                .with_fix("check the PostgreSQL log on the leader")
        })?;
    }
    Ok(())
}

/// A fresh verifier (new salt); a derived secret, so a [`Secret`].
pub fn new_verifier(password: &str) -> Result<Secret, ModuleError> {
    scram::new_verifier(password)
        .map(|v| v.render())
        .map_err(|e| ModuleError::new(format!("cannot read /dev/urandom for a salt: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use matrixha_module::parse_args;
    use serde_json::json;

    const OWNER_PW: &str = "synapse-secret-0123456789";

    fn params() -> DatabaseParams {
        let p = parse_args::<crate::params::Params>(
            &json!({"action": "database", "db_name": "synapse", "db_owner": "synapse",
                    "db_owner_password": OWNER_PW, "login_password": "superuser-secret"})
            .to_string(),
        )
        .unwrap()
        .1;
        match p.action {
            crate::params::ActionParams::Database(d) => d,
            other => panic!("not database: {other:?}"),
        }
    }

    fn fake() -> Result<Secret, ModuleError> {
        Ok(Secret::new("SCRAM-SHA-256$4096:c2FsdA==$a:b"))
    }

    #[test]
    fn fresh_cluster_creates_role_then_database() {
        let s = plan(&params(), &Observed::default(), fake).unwrap();
        assert_eq!(s.len(), 2);
        assert_eq!(
            s[0].shown,
            "CREATE ROLE synapse LOGIN PASSWORD '<scram-sha-256 verifier>'"
        );
        assert!(s[0].sql().contains("SCRAM-SHA-256$4096:"));
        assert_eq!(
            s[1].sql(),
            "CREATE DATABASE synapse OWNER synapse ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0"
        );
        assert!(s.iter().all(|s| !s.sql().contains(OWNER_PW)));
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

    /// A server error that quotes the statement never carries the verifier.
    #[test]
    fn errors_about_a_password_statement_hide_the_verifier() {
        let s = plan(&params(), &Observed::default(), fake).unwrap();
        let v = "SCRAM-SHA-256$4096:c2FsdA==$a:b";
        let msg = s[0].redact(&format!(
            "syntax error at or near \"{v}\" in {}",
            s[0].sql()
        ));
        assert!(!msg.contains(v), "{msg}");
        assert!(msg.contains("<scram-sha-256 verifier>"), "{msg}");
    }

    #[test]
    fn owner_password_follows_the_shared_minimum_and_is_ascii() {
        let error = |pw: &str| {
            let (_, p) = parse_args::<crate::params::Params>(
                &json!({"action": "database", "db_name": "synapse", "db_owner": "synapse",
                        "db_owner_password": pw, "login_password": "y"})
                .to_string(),
            )
            .unwrap();
            crate::validate(&p).err().map(|e| e.to_string())
        };
        let msg = error(&"x".repeat(23)).unwrap();
        assert!(
            msg.starts_with("db_owner_password: is shorter than 24 characters"),
            "{msg}"
        );
        assert!(msg.contains("Fix: "), "{msg}");
        assert!(error(&"x".repeat(24)).is_none());
        assert!(error("pässwörd-pässwörd-pässwörd")
            .unwrap()
            .contains("outside printable ASCII"));
        let (_, p) = parse_args::<crate::params::Params>(
            &json!({"action": "database", "db_name": "synapse", "db_owner": "Synapse",
                    "db_owner_password": OWNER_PW, "login_password": "y"})
            .to_string(),
        )
        .unwrap();
        let msg = crate::validate(&p).unwrap_err().to_string();
        assert!(
            msg.starts_with("db_owner: 'Synapse' is not a plain name"),
            "{msg}"
        );
    }
}
