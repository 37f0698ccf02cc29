//! Against real coturn (Debian's `turnserver`) on 127.0.0.1: the module writes the config, the probe allocates.
//!
//! Each test starts its own `turnserver` on private ports with a config the module
//! rendered, and stops it when done. Needs `turnserver` and `openssl` (scripts/deps.sh:
//! `apt-get install coturn openssl`).

use coturn_config::CoturnConfig;
use matrixha_module::run_with_args;
use serde_json::{json, Value};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const SECRET: &str = "4f1c9a7e2b6d8035c1e9a4f7b2d6083512ab";
const WRONG_SECRET: &str = "ffffffffffffffffffffffffffffffffffff";
const CLIENTS: &str = "10.20.0.0/16";
const SERVERS: &str = "10.0.3.0/24";

/// Runs the module in-process with the output scrubber off, so "no secret in the
/// result" checks the module's own masking, not the safety net.
fn module(args: Value) -> Value {
    matrixha_module::disable_scrubber_for_tests();
    let out = run_with_args::<CoturnConfig>(&args.to_string());
    let text = out.to_string();
    for secret in [SECRET, WRONG_SECRET] {
        assert!(
            !text.contains(secret),
            "the secret leaked into the result: {text}"
        );
    }
    out
}

/// A lab CA and a certificate it signed for `turn.test` and 127.0.0.1 (webpki refuses a
/// CA certificate as the server's own); returns (CA cert, server cert, server key).
fn lab_certs(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    let (ca, ca_key, cert, key, csr, ext) = (
        dir.join("ca.crt"),
        dir.join("ca.key"),
        dir.join("turn.crt"),
        dir.join("turn.key"),
        dir.join("turn.csr"),
        dir.join("ext.cnf"),
    );
    std::fs::write(
        &ext,
        "subjectAltName=DNS:turn.test,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n",
    )
    .unwrap();
    let openssl = |args: &[&std::ffi::OsStr]| {
        let st = Command::new("openssl")
            .args(args)
            .stderr(Stdio::null())
            .status()
            .expect("openssl is needed for the TLS test certificates: apt-get install openssl");
        assert!(st.success(), "openssl {args:?} failed");
    };
    let o = |s: &'static str| std::ffi::OsStr::new(s);
    openssl(&[
        o("req"),
        o("-x509"),
        o("-newkey"),
        o("ec"),
        o("-pkeyopt"),
        o("ec_paramgen_curve:P-256"),
        o("-nodes"),
        o("-days"),
        o("2"),
        o("-subj"),
        o("/CN=matrixha test CA"),
        o("-keyout"),
        ca_key.as_os_str(),
        o("-out"),
        ca.as_os_str(),
    ]);
    openssl(&[
        o("req"),
        o("-newkey"),
        o("ec"),
        o("-pkeyopt"),
        o("ec_paramgen_curve:P-256"),
        o("-nodes"),
        o("-subj"),
        o("/CN=turn.test"),
        o("-keyout"),
        key.as_os_str(),
        o("-out"),
        csr.as_os_str(),
    ]);
    openssl(&[
        o("x509"),
        o("-req"),
        o("-in"),
        csr.as_os_str(),
        o("-CA"),
        ca.as_os_str(),
        o("-CAkey"),
        ca_key.as_os_str(),
        o("-CAcreateserial"),
        o("-days"),
        o("2"),
        o("-extfile"),
        ext.as_os_str(),
        o("-out"),
        cert.as_os_str(),
    ]);
    (ca, cert, key)
}

/// coturn started on 127.0.0.1 with the module's config; killed on drop.
struct Turn {
    child: Child,
    port: u16,
    tls_port: u16,
    dir: tempfile::TempDir,
    ca: PathBuf,
}

impl Drop for Turn {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn config_args(dir: &Path, cert: &Path, key: &Path, port: u16) -> Value {
    json!({
        "path": dir.join("turnserver.conf").to_str().unwrap(),
        "realm": "turn.test",
        "static_auth_secret": SECRET,
        "listening_ips": ["127.0.0.1"],
        "listening_port": port,
        "tls_listening_port": port + 1,
        "min_port": 49152 + (port % 100) * 100,
        "max_port": 49152 + (port % 100) * 100 + 99,
        "cert": cert.to_str().unwrap(),
        "pkey": key.to_str().unwrap(),
        "server_subnets": [SERVERS],
        "client_subnets": [CLIENTS],
        "log_file": dir.join("turn.log").to_str().unwrap(),
        "service_action": "none",
        "service_user": "",
        "mode": "0600",
        "_ansible_diff": true,
    })
}

fn start(port: u16) -> Turn {
    let dir = tempfile::tempdir().unwrap();
    let (ca, cert, key) = lab_certs(dir.path());
    let r = module(config_args(dir.path(), &cert, &key, port));
    assert_eq!(r["failed"], false, "{r}");
    assert_eq!(r["changed"], true, "{r}");
    let conf = dir.path().join("turnserver.conf");
    let child = Command::new("turnserver")
        .arg("-c")
        .arg(&conf)
        .arg("--pidfile")
        .arg(dir.path().join("turn.pid"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("turnserver not found: apt-get install coturn (scripts/deps.sh)");
    let t = Turn {
        child,
        port,
        tls_port: port + 1,
        dir,
        ca,
    };
    // Ready when both TCP listeners accept; bounded.
    let deadline = Instant::now() + Duration::from_secs(15);
    while TcpStream::connect(("127.0.0.1", t.tls_port)).is_err()
        || TcpStream::connect(("127.0.0.1", t.port)).is_err()
    {
        assert!(
            Instant::now() < deadline,
            "turnserver did not listen on {port}/{} within 15 s; log: {}",
            t.tls_port,
            log(&t)
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    // coturn 4.6 logs an option it does not know and carries on; the rendered file
    // must not contain one (the version-dependent switches are the risk).
    let l = log(&t);
    assert!(
        !l.contains("Bad configuration format") && !l.contains("CONFIG ERROR"),
        "coturn rejected an option: {l}"
    );
    t
}

fn log(t: &Turn) -> String {
    std::fs::read_dir(t.dir.path())
        .map(|d| {
            d.flatten()
                .filter(|e| e.file_name().to_string_lossy().starts_with("turn"))
                .filter(|e| e.file_name().to_string_lossy().ends_with(".log"))
                .map(|e| std::fs::read_to_string(e.path()).unwrap_or_default())
                .collect::<String>()
        })
        .unwrap_or_default()
}

fn probe(t: &Turn, extra: Value) -> Value {
    let mut args = json!({
        "state": "probe",
        "static_auth_secret": SECRET,
        "targets": [{"host": "127.0.0.1", "port": t.port, "tls_port": t.tls_port, "tls_name": "turn.test"}],
        "ca_file": t.ca.to_str().unwrap(),
        "peers": ["10.20.0.5"],
        "timeout": 4,
        "fail_on_error": false,
    });
    for (k, v) in extra.as_object().unwrap() {
        args[k] = v.clone();
    }
    module(args)
}

#[test]
fn allocation_succeeds_on_udp_tcp_and_tls_with_synapse_credentials() {
    let t = start(34710);
    let r = probe(&t, json!({}));
    assert_eq!(r["ok"], true, "{r}\nlog: {}", log(&t));
    let checks = r["probe"].as_array().unwrap();
    assert_eq!(
        checks
            .iter()
            .map(|c| c["transport"].as_str().unwrap())
            .collect::<Vec<_>>(),
        ["udp", "tcp", "tls"]
    );
    for c in checks {
        assert_eq!(c["ok"], true, "{c}");
        let relayed = c["relayed_address"].as_str().unwrap();
        assert!(relayed.starts_with("127.0.0.1:"), "{c}");
        let relay_port: u16 = relayed.rsplit(':').next().unwrap().parse().unwrap();
        assert!(
            (49152 + 10 * 100..49152 + 10 * 100 + 100).contains(&relay_port),
            "relay port outside min/max: {c}"
        );
        assert_eq!(c["realm"], "turn.test");
        assert_eq!(c["permissions"][0]["result"], "allowed", "{c}");
    }
    assert_eq!(
        r["turn_uris"][2],
        format!("turns:turn.test:{}?transport=tcp", t.tls_port)
    );
    // The task fails by default when a check fails, and passes here.
    let r = probe(&t, json!({"fail_on_error": true}));
    assert_eq!(r["failed"], false, "{r}");
}

#[test]
fn wrong_secret_and_expired_username_are_rejected_with_401() {
    let t = start(34720);
    let wrong = probe(
        &t,
        json!({"static_auth_secret": WRONG_SECRET, "transports": ["udp", "tcp"]}),
    );
    assert_eq!(wrong["ok"], false, "{wrong}");
    for c in wrong["probe"].as_array().unwrap() {
        assert_eq!(c["error_code"], 401, "{c}");
        assert!(c.get("relayed_address").is_none(), "{c}");
    }
    let past = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
        - 60;
    let expired = probe(
        &t,
        json!({"username": format!("{past}:matrixha-probe"), "transports": ["udp", "tls"]}),
    );
    for c in expired["probe"].as_array().unwrap() {
        assert_eq!(c["error_code"], 401, "{c}");
    }
    // The same credentials with a future expiry work: the expiry is what failed.
    let future = past + 3600;
    let ok = probe(
        &t,
        json!({"username": format!("{future}:matrixha-probe"), "transports": ["udp"]}),
    );
    assert_eq!(ok["ok"], true, "{ok}");
    // fail_on_error makes the task fail, naming the target and transport, without the secret.
    let failed = probe(
        &t,
        json!({"static_auth_secret": WRONG_SECRET, "transports": ["tcp"], "fail_on_error": true}),
    );
    assert_eq!(failed["failed"], true);
    assert!(
        failed["msg"]
            .as_str()
            .unwrap()
            .contains("127.0.0.1 over tcp: credentials rejected"),
        "{failed}"
    );
}

/// The ephemeral password and the MESSAGE-INTEGRITY key are derived secrets: with the
/// scrubber off, neither appears in a passing probe, a failing one, or its error message.
#[test]
fn derived_credentials_never_appear_in_results_or_errors() {
    use coturn_config::probe::credentials;
    let t = start(34770);
    let expiry = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 3600;
    let username = format!("{expiry}:matrixha-probe");
    let mut derived = Vec::new();
    for secret in [SECRET, WRONG_SECRET] {
        let password = credentials::ephemeral(&matrixha_module::Secret::new(secret), &username);
        let key = credentials::long_term_key(&username, "turn.test", &password);
        derived.push(password.expose().to_owned());
        derived.push(key.expose().to_owned());
    }
    let runs = [
        probe(&t, json!({"username": username})),
        probe(
            &t,
            json!({"username": username, "static_auth_secret": WRONG_SECRET}),
        ),
        probe(
            &t,
            json!({"username": username, "static_auth_secret": WRONG_SECRET, "fail_on_error": true}),
        ),
    ];
    assert_eq!(runs[0]["ok"], true, "{}", runs[0]);
    assert_eq!(runs[1]["ok"], false, "{}", runs[1]);
    assert_eq!(runs[2]["failed"], true, "{}", runs[2]);
    for r in &runs {
        let text = r.to_string();
        for d in &derived {
            assert!(
                !text.contains(d.as_str()),
                "a derived credential leaked: {text}"
            );
        }
    }
}

#[test]
fn permission_to_a_server_subnet_is_refused_and_a_client_subnet_allowed() {
    let t = start(34730);
    let r = probe(
        &t,
        json!({"peers": ["10.20.3.4"], "denied_peers": ["10.0.3.10", "169.254.169.254/32", "127.0.0.0/8"]}),
    );
    assert_eq!(r["ok"], true, "{r}\nlog: {}", log(&t));
    for c in r["probe"].as_array().unwrap() {
        let got: Vec<(&str, &str)> = c["permissions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| (p["peer"].as_str().unwrap(), p["result"].as_str().unwrap()))
            .collect();
        assert_eq!(
            got,
            [
                ("10.20.3.4", "allowed"),
                ("10.0.3.10", "denied"),
                ("169.254.169.254", "denied"),
                ("127.0.0.1", "denied")
            ],
            "{c}"
        );
    }
    // Expecting a server address to be allowed is reported as a failed check.
    let r = probe(&t, json!({"peers": ["10.0.3.10"], "transports": ["udp"]}));
    assert_eq!(r["ok"], false);
    assert_eq!(r["probe"][0]["permissions"][0]["result"], "denied");
}

#[test]
fn a_stopped_server_fails_the_probe_within_the_timeout() {
    let mut t = start(34740);
    let _ = t.child.kill();
    let _ = t.child.wait();
    let started = Instant::now();
    let r = probe(&t, json!({"timeout": 2}));
    assert_eq!(r["ok"], false, "{r}");
    for c in r["probe"].as_array().unwrap() {
        assert_eq!(c["ok"], false, "{c}");
        assert!(c["error"].as_str().is_some(), "{c}");
    }
    assert!(
        started.elapsed() < Duration::from_secs(3 * 2 + 2),
        "bounded by the per-transport timeout"
    );
}

#[test]
fn second_run_is_unchanged_and_check_mode_touches_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (_, cert, key) = lab_certs(dir.path());
    let args = config_args(dir.path(), &cert, &key, 34750);
    let conf = dir.path().join("turnserver.conf");

    let mut check = args.clone();
    check["_ansible_check_mode"] = json!(true);
    let r = module(check.clone());
    assert_eq!(r["changed"], true, "{r}");
    assert!(!conf.exists(), "check mode wrote the file");
    let after = r["diff"][0]["after"].as_str().unwrap();
    assert!(
        after.contains("static-auth-secret=********\n")
            && after.contains("allowed-peer-ip=10.20.0.0-10.20.255.255\n"),
        "{after}"
    );

    let first = module(args.clone());
    assert_eq!(first["changed"], true);
    assert_eq!(
        first["coturn_version"].as_str().unwrap().split('.').next(),
        Some("4")
    );
    let text = std::fs::read_to_string(&conf).unwrap();
    assert!(text.contains(&format!("static-auth-secret={SECRET}\n")));
    assert!(
        text.contains("denied-peer-ip=10.0.3.0-10.0.3.255\n")
            && text.contains("fingerprint\n")
            && text.contains("no-cli\n")
    );
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&conf).unwrap().permissions().mode() & 0o777,
        0o600
    );

    let second = module(args.clone());
    assert_eq!(second["changed"], false, "{second}");
    assert!(second.get("diff").is_none());

    // A changed secret shows as a masked change in check mode; the file stays.
    let new_secret = "0000000000000000000000000000000000000000";
    check["static_auth_secret"] = json!(new_secret);
    let r = module(check);
    assert_eq!(r["changed"], true);
    let (before, after) = (
        r["diff"][0]["before"].as_str().unwrap(),
        r["diff"][0]["after"].as_str().unwrap(),
    );
    assert_ne!(before, after, "a secret-only change must show in the diff");
    assert!(before.contains("static-auth-secret=********\n"), "{before}");
    assert!(
        after.contains("static-auth-secret=******** (will change)\n"),
        "{after}"
    );
    assert!(!r.to_string().contains(new_secret), "{r}");
    assert_eq!(std::fs::read_to_string(&conf).unwrap(), text);
}

#[test]
fn a_key_that_does_not_match_the_certificate_is_refused_before_writing() {
    let dir = tempfile::tempdir().unwrap();
    let (_, cert, _) = lab_certs(dir.path());
    let other = tempfile::tempdir().unwrap();
    let (_, _, other_key) = lab_certs(other.path());
    let r = module(config_args(dir.path(), &cert, &other_key, 34760));
    assert_eq!(r["failed"], true, "{r}");
    assert_eq!(r["param"], "pkey");
    assert!(
        r["msg"]
            .as_str()
            .unwrap()
            .contains("does not belong to the certificate"),
        "{r}"
    );
    assert!(!dir.path().join("turnserver.conf").exists());
    let r = module(config_args(
        dir.path(),
        &cert,
        Path::new("/nonexistent/turn.key"),
        34760,
    ));
    assert_eq!(r["param"], "pkey", "{r}");
}
