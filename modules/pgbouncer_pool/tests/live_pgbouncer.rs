//! Against real PostgreSQL 15 and PgBouncer 1.18 on 127.0.0.1 private ports: SCRAM through the pool (DN-3), idempotence, check/diff, RELOAD under an open session, PAUSE/RESUME, bad input.
//!
//! Each test starts its own servers in a temporary directory (as the postgres
//! user via runuser when run as root) and stops them when it ends.

use matrixha_module::run_with_args;
use pgbouncer_pool::console::{Console, Target};
use pgbouncer_pool::PgbouncerPool;
use serde_json::{json, Value};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

const PG_BIN: &str = "/usr/lib/postgresql/15/bin";
const PGBOUNCER: &str = "/usr/sbin/pgbouncer";
const SUPER_PW: &str = "Sup3r-live-test-pw-xq-0123";
const SYNAPSE_PW: &str = "Syn4pse-live-test-pw-zk-0123";
const ADMIN_PW: &str = "Adm1n-live-test-pw-jw-0123";
const SETUP: &str = "scripts/deps.sh (apt-get install postgresql-15 pgbouncer)";

fn is_root() -> bool {
    nix_uid() == 0
}

fn nix_uid() -> u32 {
    // From /proc, so the test needs no libc binding.
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|u| u.parse().ok()))
        })
        .unwrap_or(u32::MAX)
}

fn as_postgres(program: &str) -> Command {
    if is_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--", program]);
        c
    } else {
        Command::new(program)
    }
}

fn run_ok(mut c: Command, what: &str) -> Output {
    let out = c
        .output()
        .unwrap_or_else(|e| panic!("{what}: cannot run ({e}); install with {SETUP}"));
    assert!(
        out.status.success(),
        "{what} failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn wait_port(port: u16, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("{what} did not listen on 127.0.0.1:{port} within 20 s");
}

/// A PostgreSQL with scram-sha-256 only in pg_hba, a `synapse` role and database.
struct Lab {
    dir: tempfile::TempDir,
    pg_port: u16,
    pgb_port: u16,
    pgbouncer_started: bool,
}

impl Lab {
    fn start() -> Lab {
        for bin in [format!("{PG_BIN}/initdb"), PGBOUNCER.to_owned()] {
            assert!(
                Path::new(&bin).exists(),
                "{bin} is missing: install it with {SETUP}"
            );
        }
        let dir = tempfile::Builder::new()
            .prefix("pgbouncer-live-")
            .tempdir()
            .unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let lab = Lab {
            pg_port: free_port(),
            pgb_port: free_port(),
            dir,
            pgbouncer_started: false,
        };
        let pw = lab.path("superuser.pw");
        std::fs::write(&pw, SUPER_PW).unwrap();
        if is_root() {
            run_ok(
                {
                    let mut c = Command::new("chown");
                    c.args(["-R", "postgres:postgres"]).arg(lab.dir.path());
                    c
                },
                "chown",
            );
        }
        let mut initdb = as_postgres(&format!("{PG_BIN}/initdb"));
        initdb
            .args(["-D"])
            .arg(lab.path("pg"))
            .args([
                "-U",
                "postgres",
                "--auth=scram-sha-256",
                "--no-sync",
                "-E",
                "UTF8",
            ])
            .arg(format!("--pwfile={}", pw.display()));
        run_ok(initdb, "initdb");
        // pg_hba: SCRAM only, TCP on 127.0.0.1 only (no trust, no md5).
        std::fs::write(
            lab.path("pg/pg_hba.conf"),
            "local all all scram-sha-256\nhost all all 127.0.0.1/32 scram-sha-256\n",
        )
        .unwrap();
        let mut pg_ctl = as_postgres(&format!("{PG_BIN}/pg_ctl"));
        pg_ctl
            .arg("-D")
            .arg(lab.path("pg"))
            .arg("-l")
            .arg(lab.path("pg.log"))
            .args(["-w", "-t", "30", "-o"])
            .arg(format!(
                "-p {} -k {} -c listen_addresses=127.0.0.1 -c password_encryption=scram-sha-256 -c fsync=off",
                lab.pg_port,
                lab.dir.path().display()
            ))
            .arg("start");
        run_ok(pg_ctl, "pg_ctl start");
        lab.psql_super(&format!(
            "CREATE ROLE synapse LOGIN PASSWORD '{SYNAPSE_PW}'; "
        ));
        lab.psql_super("CREATE DATABASE synapse OWNER synapse");
        lab
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn psql_super(&self, sql: &str) -> String {
        let mut c = Command::new("psql");
        c.arg(format!(
            "host=127.0.0.1 port={} user=postgres dbname=postgres",
            self.pg_port
        ))
        .args(["-X", "-At", "-v", "ON_ERROR_STOP=1", "-c", sql])
        .env("PGPASSWORD", SUPER_PW);
        String::from_utf8_lossy(&run_ok(c, "psql as postgres").stdout)
            .trim()
            .to_owned()
    }

    /// psql through PgBouncer as synapse: Ok(stdout) or Err(stderr).
    fn psql_pooled(&self, password: &str, sql: &str) -> Result<String, String> {
        let out = Command::new("psql")
            .arg(format!(
                "host=127.0.0.1 port={} user=synapse dbname=synapse connect_timeout=10",
                self.pgb_port
            ))
            .args(["-X", "-At", "-c", sql])
            .env("PGPASSWORD", password)
            .output()
            .expect("psql");
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
        } else {
            Err(String::from_utf8_lossy(&out.stderr).trim().to_owned())
        }
    }

    /// The last lines of PgBouncer's log, for failure messages.
    fn pgbouncer_log(&self) -> String {
        let log = std::fs::read_to_string(self.path("pgbouncer.log")).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(8)..].join("\n")
    }

    fn start_pgbouncer(&mut self) {
        let mut c = as_postgres(PGBOUNCER);
        c.arg("-d").arg(self.path("pgbouncer.ini"));
        run_ok(c, "pgbouncer -d");
        self.pgbouncer_started = true;
        wait_port(self.pgb_port, "pgbouncer");
    }

    /// The module's arguments for this lab; tests adjust them.
    fn args(&self) -> Value {
        let owner = if is_root() {
            json!("postgres")
        } else {
            Value::Null
        };
        json!({
            "path": self.path("pgbouncer.ini"),
            "auth_file": self.path("userlist.txt"),
            "listen_addr": ["127.0.0.1"],
            "listen_port": self.pgb_port,
            "unix_socket_dir": self.dir.path(),
            "pidfile": self.path("pgbouncer.pid"),
            "logfile": self.path("pgbouncer.log"),
            "owner": owner, "group": owner,
            "admin_users": ["pgb_admin"],
            "users": [
                {"name": "synapse", "password": SYNAPSE_PW},
                {"name": "pgb_admin", "password": ADMIN_PW}
            ],
            "databases": [{"name": "synapse", "host": "127.0.0.1", "port": self.pg_port}],
            // 4 processes × cp_max 5 = 20 clients; PostgreSQL here runs with max_connections 100.
            "capacity": {"synapse_database": "synapse", "synapse_processes": 4, "cp_max": 5,
                         "postgres_max_connections": 100},
            "verifier_source": {"host": "127.0.0.1", "port": self.pg_port, "password": SUPER_PW},
            "admin": {"host": "127.0.0.1", "user": "pgb_admin", "password": ADMIN_PW},
            "service_action": "reload"
        })
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        if self.pgbouncer_started {
            if let Ok(pid) = std::fs::read_to_string(self.path("pgbouncer.pid")) {
                let _ = Command::new("kill").args(["-INT", pid.trim()]).status();
            }
        }
        let mut c = as_postgres(&format!("{PG_BIN}/pg_ctl"));
        c.arg("-D")
            .arg(self.path("pg"))
            .args(["-m", "immediate", "-w", "stop"]);
        let _ = c.output();
    }
}

/// Runs the module in-process with the output scrubber off, and asserts that no
/// password and no secret of the auth file (derived verifiers and md5 secrets,
/// whole or their keys) appears anywhere in the result.
fn run(args: &Value, check: bool, diff: bool) -> Value {
    matrixha_module::disable_scrubber_for_tests();
    let mut a = args.clone();
    a["_ansible_check_mode"] = json!(check);
    a["_ansible_diff"] = json!(diff);
    let auth_file = args["auth_file"].as_str().map(PathBuf::from);
    let mut secrets = auth_file_secrets(auth_file.as_deref());
    let r = run_with_args::<PgbouncerPool>(&a.to_string());
    secrets.extend(auth_file_secrets(auth_file.as_deref()));
    let text = r.to_string();
    for pw in [SUPER_PW, SYNAPSE_PW, ADMIN_PW] {
        assert!(
            !text.contains(pw),
            "a password appears in the result: {text}"
        );
    }
    for s in &secrets {
        assert!(
            !text.contains(s.as_str()),
            "a secret of the auth file ({} characters) appears in the result: {text}",
            s.len()
        );
    }
    r
}

/// Every secret in an auth file, and for SCRAM secrets also StoredKey and ServerKey alone.
fn auth_file_secrets(path: Option<&Path>) -> Vec<String> {
    let Some(text) = path.and_then(|p| std::fs::read_to_string(p).ok()) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for line in text.lines() {
        let Some(secret) = line.split('"').nth(3) else {
            continue;
        };
        out.push(secret.to_owned());
        if let Some((_, keys)) = secret.rsplit_once('$') {
            out.extend(keys.split(':').map(str::to_owned));
        }
    }
    out
}

fn ok(r: &Value) -> &Value {
    assert_eq!(r["failed"], false, "module failed: {r:#}");
    r
}

fn actions(r: &Value) -> Vec<String> {
    r["changes"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|c| c["action"].as_str().unwrap_or_default().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn scram_pool_lifecycle_against_real_pgbouncer_and_postgresql() {
    let mut lab = Lab::start();
    let base = lab.args();
    // The first run writes files only: no PgBouncer runs yet.
    let mut first = base.clone();
    first["admin"] = Value::Null;
    first["service_action"] = json!("none");

    // Check mode predicts the change and touches nothing.
    let r = run(&first, true, true);
    ok(&r);
    assert_eq!(r["changed"], true, "{r:#}");
    assert_eq!(actions(&r), vec!["write_auth_file", "write_config"]);
    assert!(
        !lab.path("pgbouncer.ini").exists(),
        "check mode wrote pgbouncer.ini"
    );
    assert!(
        !lab.path("userlist.txt").exists(),
        "check mode wrote the auth file"
    );
    let diffs = r["diff"].to_string();
    assert!(
        diffs.contains(r#"\"synapse\" \"SCRAM-SHA-256$********\""#),
        "{diffs}"
    );
    // The verifier the server stores (which the module copies) is a secret too.
    let server_verifier =
        lab.psql_super("SELECT rolpassword FROM pg_authid WHERE rolname = 'synapse'");
    assert!(
        !diffs.contains(&server_verifier),
        "diff shows the server's verifier: {diffs}"
    );

    // Real run: files written 0640, the synapse secret is the server's own verifier.
    let r = run(&first, false, false);
    ok(&r);
    assert_eq!(r["changed"], true);
    assert_eq!(r["reload_required"], true);
    let mode = std::fs::metadata(lab.path("userlist.txt"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o640);
    let userlist = std::fs::read_to_string(lab.path("userlist.txt")).unwrap();
    let server_verifier =
        lab.psql_super("SELECT rolpassword FROM pg_authid WHERE rolname = 'synapse'");
    assert!(
        server_verifier.starts_with("SCRAM-SHA-256$4096:"),
        "{server_verifier}"
    );
    assert!(
        userlist.contains(&format!("\"synapse\" \"{server_verifier}\"")),
        "auth file does not hold the server's verifier:\n{userlist}"
    );
    assert!(
        userlist.contains("\"pgb_admin\" \"SCRAM-SHA-256$4096:"),
        "{userlist}"
    );
    let ini = std::fs::read_to_string(lab.path("pgbouncer.ini")).unwrap();
    assert!(ini.contains("pool_mode = session"), "{ini}");
    assert!(
        ini.contains("default_pool_size = 10"),
        "20 clients over 2 surviving nodes: {ini}"
    );
    assert!(ini.contains("max_db_connections=12"), "{ini}");

    lab.start_pgbouncer();

    // DN-3: SCRAM client → PgBouncer → SCRAM-only PostgreSQL.
    assert_eq!(
        lab.psql_pooled(SYNAPSE_PW, "SELECT current_user")
            .as_deref(),
        Ok("synapse")
    );
    let wrong = lab.psql_pooled("not-the-password", "SELECT 1").unwrap_err();
    // PgBouncer itself checks the client's SCRAM proof and says so.
    assert!(wrong.contains("SASL authentication failed"), "{wrong}");

    // Idempotence with the console: nothing to do, facts from SHOW.
    let r = run(&base, false, false);
    ok(&r);
    assert_eq!(r["changed"], false, "second run changed: {r:#}");
    assert_eq!(r["pgbouncer"]["config"]["pool_mode"], "session");
    assert_eq!(r["pgbouncer"]["config"]["default_pool_size"], "10");
    let dbs = r["pgbouncer"]["databases"].as_array().unwrap();
    assert!(
        dbs.iter()
            .any(|d| d["name"] == "synapse" && d["max_connections"] == 12),
        "{dbs:?}"
    );
    assert!(r["pgbouncer"]["pools"].is_array() && r["pgbouncer"]["stats"].is_array());

    // A client session held open through the pool (our own client, SCRAM end to end).
    let session_target = Target {
        host: "127.0.0.1".into(),
        port: lab.pgb_port,
        user: "synapse".into(),
        password: Some(matrixha_module::Secret::new(SYNAPSE_PW)),
        timeout: Duration::from_secs(10),
        database: "synapse".into(),
    };
    let mut session = Console::connect(&session_target).expect("session through PgBouncer");
    let pid = |s: &mut Console| s.query("SELECT pg_backend_pid()").unwrap().rows[0][0].clone();
    let pid_before = pid(&mut session);

    // Check + diff mode for a larger deployment: predicted, not applied.
    let mut bigger = base.clone();
    bigger["capacity"]["synapse_processes"] = json!(6);
    let r = run(&bigger, true, true);
    ok(&r);
    assert_eq!(r["changed"], true);
    assert_eq!(actions(&r), vec!["write_config", "reload"]);
    let diff = &r["diff"][0];
    assert!(diff["before"]
        .as_str()
        .unwrap()
        .contains("default_pool_size = 10"));
    assert!(diff["after"]
        .as_str()
        .unwrap()
        .contains("default_pool_size = 15"));
    assert_eq!(
        r["pgbouncer"]["config"]["default_pool_size"], "10",
        "check mode reloaded"
    );
    assert!(std::fs::read_to_string(lab.path("pgbouncer.ini"))
        .unwrap()
        .contains("default_pool_size = 10"));

    // Real run: RELOAD applies it; the open session survives on the same backend.
    let r = run(&bigger, false, true);
    ok(&r);
    assert_eq!(r["changed"], true);
    assert_eq!(actions(&r), vec!["write_config", "reload"]);
    assert_eq!(r["pgbouncer"]["config"]["default_pool_size"], "15");
    assert_eq!(
        pid(&mut session),
        pid_before,
        "the session moved or died on RELOAD"
    );
    let r = run(&bigger, false, false);
    assert_eq!(
        ok(&r)["changed"],
        false,
        "rerun after reload changed: {r:#}"
    );
    drop(session);

    // A restart-only setting under service_action reload: written, reported, not applied.
    let mut moved = bigger.clone();
    moved["listen_addr"] = json!(["127.0.0.1", "localhost"]);
    let r = run(&moved, true, false);
    ok(&r);
    assert_eq!(r["restart_required"], true, "{r:#}");
    assert!(r["warnings"].to_string().contains("listen_addr"), "{r:#}");

    // PAUSE for maintenance, idempotent, then RESUME.
    let mut pause = bigger.clone();
    pause["paused"] = json!(true);
    let r = run(&pause, false, false);
    assert_eq!(actions(ok(&r)), vec!["pause"]);
    let paused = r["pgbouncer"]["databases"]
        .as_array()
        .unwrap()
        .iter()
        .any(|d| d["name"] == "synapse" && d["paused"] == 1);
    assert!(paused, "{r:#}");
    assert_eq!(ok(&run(&pause, false, false))["changed"], false);
    pause["paused"] = json!(false);
    let r = run(&pause, false, false);
    assert_eq!(actions(ok(&r)), vec!["resume"]);
    assert_eq!(ok(&run(&pause, false, false))["changed"], false);
    assert_eq!(
        lab.psql_pooled(SYNAPSE_PW, "SELECT 1").as_deref(),
        Ok("1"),
        "pool does not serve after RESUME"
    );

    // A password that does not match the server's verifier fails before writing.
    let mut wrong_pw = bigger.clone();
    wrong_pw["users"][0]["password"] = json!("Another-pw-that-is-wrong");
    let r = run(&wrong_pw, false, false);
    assert_eq!(r["failed"], true);
    assert!(
        r["msg"]
            .as_str()
            .unwrap()
            .starts_with("users[synapse].password: does not match"),
        "{r:#}"
    );
    assert!(!r.to_string().contains("Another-pw-that-is-wrong"));
}

#[test]
fn bad_input_and_unreachable_console_fail_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let closed = free_port();
    let owner = if is_root() {
        json!("root")
    } else {
        Value::Null
    };
    let base = json!({
        "path": dir.path().join("pgbouncer.ini"),
        "auth_file": dir.path().join("userlist.txt"),
        "listen_addr": ["127.0.0.1"],
        "listen_port": closed,
        "owner": owner, "group": owner,
        "admin_users": ["pgb_admin"],
        "users": [{"name": "synapse", "password": SYNAPSE_PW},
                  {"name": "pgb_admin", "password": ADMIN_PW}],
        "databases": [{"name": "synapse", "host": "10.0.3.10"}],
        "capacity": {"synapse_database": "synapse", "synapse_processes": 19},
        "admin": {"host": "127.0.0.1", "user": "pgb_admin", "password": ADMIN_PW, "timeout": 2},
        "service_action": "reload"
    });

    let mut a = base.clone();
    a["pool_mode"] = json!("statment");
    let r = run(&a, false, false);
    let msg = r["msg"].as_str().unwrap();
    // rules::PoolMode::parse's text, the same `matrixha check` shows; the value is not quoted.
    assert!(
        msg.starts_with("pool_mode: unknown pool mode (a string of 8 characters)"),
        "{msg}"
    );
    assert!(
        msg.contains("`session`") && !msg.contains("statment"),
        "{msg}"
    );

    // DN-11: 19 × 10 = 190 clients on every PgBouncer node cannot fit in 500.
    let mut a = base.clone();
    a["capacity"]["tolerated_pgbouncer_failures"] = json!(2);
    a["capacity"]["postgres_max_connections"] = json!(500);
    let r = run(&a, false, false);
    let msg = r["msg"].as_str().unwrap();
    assert!(
        msg.starts_with("capacity.postgres_max_connections: PostgreSQL max_connections 500 is less than the 650"),
        "{msg}"
    );
    assert!(
        msg.contains("Fix: raise max_connections to at least 650"),
        "{msg}"
    );

    // The seeds' pool of 50 for 190 Synapse connections.
    let mut a = base.clone();
    a["default_pool_size"] = json!(50);
    let r = run(&a, false, false);
    let msg = r["msg"].as_str().unwrap();
    assert!(
        msg.starts_with("default_pool_size: 50 server connections"),
        "{msg}"
    );

    // Nothing listens on the admin port: fails before writing any file.
    let r = run(&base, false, false);
    assert_eq!(r["failed"], true);
    let msg = r["msg"].as_str().unwrap();
    assert!(
        msg.starts_with(&format!(
            "admin: cannot reach the PgBouncer admin console at 127.0.0.1:{closed}"
        )),
        "{msg}"
    );
    assert!(msg.contains("Fix: start PgBouncer"), "{msg}");
    assert!(
        !dir.path().join("pgbouncer.ini").exists(),
        "files written before the failure"
    );

    // Check mode does not fail on it: it warns and predicts.
    let r = run(&base, true, false);
    assert_eq!(r["failed"], false, "{r:#}");
    assert!(r["warnings"].to_string().contains("facts omitted"), "{r:#}");

    // DN-4: transaction mode for Synapse fails and names the role settings, until
    // the caller says they are set per role; then it warns (pgbouncer_pool::rules).
    let mut a = base.clone();
    a["pool_mode"] = json!("transaction");
    let r = run(&a, true, false);
    assert_eq!(r["failed"], true, "{r:#}");
    assert_eq!(r["param"], "pool_mode", "{r:#}");
    let msg = r["msg"].as_str().unwrap_or_default();
    assert!(
        msg.contains("ALTER ROLE <synapse role> SET bytea_output"),
        "{msg}"
    );
    a["session_settings_per_role"] = json!(true);
    let r = run(&a, true, false);
    assert_eq!(r["failed"], false, "{r:#}");
    assert!(
        r["warnings"]
            .to_string()
            .contains("pool_mode: transaction pooling"),
        "{r:#}"
    );
}

/// DN-3: the seeds' md5 auth file cannot log in to a SCRAM-only server, and
/// neither can a SCRAM secret with its own salt; the server's own verifier can.
#[test]
fn dn3_only_the_servers_own_verifier_logs_in_through_pgbouncer() {
    let mut lab = Lab::start();
    let mut base = lab.args();
    // After a failed server login PgBouncer waits server_login_retry (15 s) before the next try.
    base["settings"] = json!({"server_login_retry": "1"});

    // The seeds' way: auth_type md5 and an md5 secret.
    let mut md5 = base.clone();
    md5["auth_type"] = json!("md5");
    md5["users"][0]["encryption"] = json!("md5");
    md5["users"][1]["encryption"] = json!("md5");
    md5["verifier_source"] = Value::Null;
    md5["admin"] = Value::Null;
    md5["service_action"] = json!("none");
    assert_eq!(ok(&run(&md5, false, false))["changed"], true);
    lab.start_pgbouncer();
    let err = lab.psql_pooled(SYNAPSE_PW, "SELECT 1").unwrap_err();
    // PgBouncer cannot answer the server's SCRAM challenge from an md5 secret.
    assert!(
        err.contains("server login failed: wrong password type"),
        "md5 secret against a SCRAM server: {err}\n{}",
        lab.pgbouncer_log()
    );
    std::thread::sleep(Duration::from_millis(1100));

    // SCRAM with this module's own salt: clients log in to PgBouncer, PgBouncer not to PostgreSQL.
    let mut own_salt = base.clone();
    own_salt["verifier_source"] = Value::Null;
    own_salt["admin"]["password"] = json!(ADMIN_PW);
    // The console still speaks md5 for pgb_admin until the RELOAD: PgBouncer answers md5 for md5 secrets.
    let r = run(&own_salt, false, false);
    ok(&r);
    assert!(
        r["warnings"]
            .to_string()
            .contains("verifier_source is not set"),
        "{r:#}"
    );
    let err = lab.psql_pooled(SYNAPSE_PW, "SELECT 1").unwrap_err();
    // PgBouncer accepted the client, then PostgreSQL refused PgBouncer's proof.
    let log = lab.pgbouncer_log();
    assert!(
        err.contains("password authentication failed for user \"synapse\"")
            && log.contains("server login failed: FATAL password authentication failed"),
        "own-salt SCRAM secret: {err}\n{log}"
    );

    // The server's verifier: the login goes through.
    std::thread::sleep(Duration::from_millis(1100));
    let r = run(&base, false, false);
    ok(&r);
    assert_eq!(r["users_with_new_secret"], json!(["synapse"]), "{r:#}");
    assert_eq!(
        lab.psql_pooled(SYNAPSE_PW, "SELECT current_user")
            .as_deref(),
        Ok("synapse")
    );
}
