//! The `matrixha` binary end to end: golden inventories, the seeds' own plan, one invalid plan per rule, secrets.

use serde_yaml::{Mapping, Value};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_matrixha"))
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

fn run(args: &[&str]) -> Output {
    bin().args(args).current_dir(repo()).output().unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(files_under(&p));
        } else {
            out.push(p);
        }
    }
    out.sort();
    out
}

/// Generates a scale into a temp dir and compares it with inventories/examples/<scale>;
/// MATRIXHA_BLESS=1 rewrites the reviewed files instead.
#[test]
fn generated_inventories_match_the_reviewed_examples() {
    let bless = std::env::var_os("MATRIXHA_BLESS").is_some();
    for scale in ["small", "medium", "large"] {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join(scale);
        let o = run(&[
            "init",
            "--scale",
            scale,
            "--ip-plan",
            "inventories/examples/seed-ip-plan.yml",
            "--out",
            out.to_str().unwrap(),
        ]);
        assert!(o.status.success(), "{}", text(&o));
        let o = run(&[
            "mdad-vars",
            "-i",
            out.to_str().unwrap(),
            "--out",
            out.join("mdad-vars.yml").to_str().unwrap(),
        ]);
        assert!(o.status.success(), "{}", text(&o));
        let golden = repo().join("inventories/examples").join(scale);
        for f in files_under(&out) {
            let rel = f.strip_prefix(&out).unwrap();
            let want = golden.join(rel);
            let got = std::fs::read_to_string(&f).unwrap();
            if bless {
                std::fs::create_dir_all(want.parent().unwrap()).unwrap();
                std::fs::write(&want, &got).unwrap();
            } else {
                let w = std::fs::read_to_string(&want).unwrap_or_default();
                assert_eq!(w, got, "{} differs from the generated file (MATRIXHA_BLESS=1 cargo test -p matrixha to accept)", want.display());
            }
        }
        if !bless {
            let expected: BTreeSet<PathBuf> = files_under(&out)
                .iter()
                .map(|f| f.strip_prefix(&out).unwrap().to_path_buf())
                .collect();
            let present: BTreeSet<PathBuf> = files_under(&golden)
                .iter()
                .map(|f| f.strip_prefix(&golden).unwrap().to_path_buf())
                .collect();
            assert_eq!(expected, present, "files of {scale}");
        }
    }
}

fn argument_spec_names() -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for role in std::fs::read_dir(repo().join("collection/roles")).unwrap() {
        let p = role.unwrap().path().join("meta/argument_specs.yml");
        let Ok(t) = std::fs::read_to_string(&p) else {
            continue;
        };
        let v: Value = serde_yaml::from_str(&t).unwrap();
        if let Some(Value::Mapping(eps)) = v.get("argument_specs") {
            for (_, ep) in eps {
                if let Some(Value::Mapping(opts)) = ep.get("options") {
                    names.extend(opts.keys().filter_map(|k| k.as_str().map(str::to_owned)));
                }
            }
        }
    }
    names
}

fn vars_of_yaml(v: &Value, out: &mut BTreeSet<String>, in_hosts: bool) {
    if let Value::Mapping(m) = v {
        for (k, val) in m {
            let k = k.as_str().unwrap_or_default();
            match (in_hosts, k) {
                (true, "hosts") => {
                    if let Value::Mapping(hs) = val {
                        for (_, hv) in hs {
                            if let Value::Mapping(vars) = hv {
                                out.extend(
                                    vars.keys().filter_map(|k| k.as_str().map(str::to_owned)),
                                );
                            }
                        }
                    }
                }
                (true, "vars") => {
                    if let Value::Mapping(vars) = val {
                        out.extend(vars.keys().filter_map(|k| k.as_str().map(str::to_owned)));
                    }
                }
                (true, _) => vars_of_yaml(val, out, true),
                (false, _) => {
                    out.insert(k.to_owned());
                }
            }
        }
    }
}

/// Drift guard: the CLI writes only variables some role declares (argument_specs),
/// Ansible's own, vault ones, or the documented matrixha_* inventory variables.
#[test]
fn every_generated_variable_is_declared_by_a_role_or_documented() {
    let declared = argument_spec_names();
    assert!(
        declared.contains("pgbouncer_default_pool_size"),
        "roles not found"
    );
    for scale in ["small", "medium", "large"] {
        let dir = repo().join("inventories/examples").join(scale);
        let mut used = BTreeSet::new();
        let hosts: Value =
            serde_yaml::from_str(&std::fs::read_to_string(dir.join("hosts.yml")).unwrap()).unwrap();
        vars_of_yaml(&hosts, &mut used, true);
        for f in files_under(&dir.join("group_vars")) {
            if f.to_string_lossy().contains("matrix_servers") {
                continue; // MDAD's variables, checked against the manifest
            }
            let v: Value = serde_yaml::from_str(&std::fs::read_to_string(&f).unwrap()).unwrap();
            vars_of_yaml(&v, &mut used, false);
        }
        let stray: Vec<&String> = used
            .iter()
            .filter(|n| {
                !declared.contains(*n)
                    && !matrixha::inventory_vars::is_documented(n)
                    && !matrixha::inventory_vars::is_ansible_var(n)
                    && !n.starts_with("vault_")
            })
            .collect();
        assert!(
            stray.is_empty(),
            "{scale}: variables no role declares: {stray:?}"
        );
    }
}

#[test]
fn large_mdad_vars_hold_only_settable_variables() {
    let man = matrixha::manifest::Manifest::load(None).unwrap();
    let t =
        std::fs::read_to_string(repo().join("inventories/examples/large/mdad-vars.yml")).unwrap();
    let m: Mapping = serde_yaml::from_str(&t).unwrap();
    assert!(m.len() > 50);
    for k in m.keys().filter_map(Value::as_str) {
        assert_eq!(man.verdict(k), matrixha::manifest::Verdict::Settable, "{k}");
    }
    for k in [
        "matrix_playbook_migration_validated_version",
        "matrix_ketesa_enabled",
        "valkey_enabled",
        "matrix_synapse_turn_uris",
        "traefik_config_entrypoint_web_forwardedHeaders_trustedIPs",
        "matrix_metrics_exposure_http_basic_auth_enabled",
        "matrix_livekit_jwt_service_enabled",
    ] {
        assert!(m.contains_key(k), "{k} missing");
    }
    assert_eq!(
        m.get("traefik_container_web_host_bind_port")
            .and_then(Value::as_str),
        Some("10.0.2.10:81")
    );
    assert_eq!(
        m.get("matrix_synapse_database_port")
            .and_then(Value::as_u64),
        Some(6432)
    );
    // libpq keepalives (issue 19): a half-open connection ends within the dead-peer bound.
    for (k, want) in [("idle", 5), ("interval", 1), ("count", 3)] {
        assert_eq!(
            m.get(format!("matrix_synapse_database_keepalives_{k}").as_str())
                .and_then(Value::as_u64),
            Some(want),
            "{k}"
        );
    }
}

#[test]
fn seed_as_written_fails_with_the_seed_defects() {
    let o = run(&["check", "-i", "inventories/examples/seed-as-written"]);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(1), "{t}");
    for want in [
        // Port clashes on the VIP holders.
        "patroni1: patroni_pg_parameters_extra.listen_addresses: PostgreSQL binds every address (*:5432) and HAProxy (DB writer VIP) binds 10.0.3.10:5432",
        "patroni1: pgbouncer_listen_addresses: PgBouncer binds every address (*:6432)",
        "minio1: matrixha_object_store_listen_address: object store (S3 API) binds every address (*:9000) and HAProxy (S3 VIP) binds 10.0.4.10:9000",
        // pg_hba written for the VIP.
        "error[pg-hba] patroni1: patroni_app_client_sources",
        "never from the VIP",
        // Pool arithmetic.
        "50 server connections per PgBouncer node is less than the 95 needed",
        // MDAD variable names.
        "matrix_coturn_turn_static_auth_secret",
        "rename it to coturn_turn_static_auth_secret",
        "error[mdad-unknown] inventories/examples/seed-as-written/mdad-vars.yml: matrix_synapse_caches_per_cache_factors",
        "error[mdad-unknown] inventories/examples/seed-as-written/mdad-vars.yml: matrix_synapse_media_retention:",
        "matrix_synapse_admin_enabled: MDAD",
        "rename it to matrix_ketesa_enabled",
        "error[mdad-migration]",
    ] {
        assert!(t.contains(want), "missing {want:?} in\n{t}");
    }
    assert!(
        !t.contains("DN-"),
        "messages speak to operators, not to DESIGN.md numbers:\n{t}"
    );
}

/// A large inventory that passes: secrets in a plaintext vault, placeholders filled.
fn clean_large() -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    let inv = tmp.path().join("inv");
    let o = run(&[
        "init",
        "--scale",
        "large",
        "--ip-plan",
        "inventories/examples/seed-ip-plan.yml",
        "--out",
        inv.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let o = run(&[
        "secrets",
        "--plaintext",
        "--out",
        inv.join("group_vars/all/vault.yml").to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    for f in files_under(&inv) {
        let t = std::fs::read_to_string(&f).unwrap();
        let t = t.replace("- CHANGE_TO_YOUR_CLIENT_SUBNETS", "- 10.20.0.0/16");
        let t = t
            .replace("CHANGE_TO_PATH_OF_FRONT_TLS_PEM", "/etc/ssl/front.pem")
            .replace("CHANGE_TO_PATH_OF_COTURN_TLS_CERT", "/etc/ssl/turn.crt")
            .replace("CHANGE_TO_PATH_OF_COTURN_TLS_KEY", "/etc/ssl/turn.key");
        std::fs::write(&f, t).unwrap();
    }
    tmp
}

fn write(inv: &Path, rel: &str, body: &str) {
    let p = inv.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, body).unwrap();
}

#[test]
fn a_filled_in_plan_passes_and_each_broken_rule_names_its_problem() {
    let base = clean_large();
    let inv0 = base.path().join("inv");
    let o = run(&["check", "-i", inv0.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));

    // (rule, files to write or hosts.yml edit, expected message fragment)
    type Edit = (&'static str, &'static str);
    // (rule, files, hosts.yml replacement, expected message)
    type Case = (&'static str, Vec<Edit>, Option<Edit>, &'static str);
    let cases: Vec<Case> = vec![
        ("quorum", vec![], Some(("        patroni3: {matrixha_node_address: 10.0.3.13,", "        patroni4: {matrixha_node_address: 10.0.3.14}\n        patroni3: {matrixha_node_address: 10.0.3.13,")), "error[quorum] group etcd: 4 etcd node(s)"),
        ("object-store nodes", vec![], Some(("        minio4: {matrixha_node_address: 10.0.4.14, matrixha_memory_gb: 32}\n", "")), "3 object-store node(s)"),
        ("object-store parity", vec![("host_vars/minio1.yml", "matrixha_object_store_parity: 9\n")], None, "parity EC:9 is not valid for erasure sets of 16 drives"),
        ("vip-subnet", vec![("host_vars/patroni1.yml", "db_vip_address: 10.0.4.99\n")], None, "error[vip-subnet] patroni1: db_vip_address: the DB writer VIP 10.0.4.99 is outside 10.0.4.0/24"),
        ("vip-used", vec![("host_vars/minio1.yml", "matrixha_s3_vip_address: 10.0.4.14\n")], None, "error[vip-used] minio4: matrixha_s3_vip_address: the S3 VIP 10.0.4.14 is also the address of host minio4"),
        ("vrrp", vec![("host_vars/patroni1.yml", "db_vip_prefix: 16\n"), ("host_vars/minio1.yml", "matrixha_s3_vip_prefix: 16\nmatrixha_s3_vip_virtual_router_id: 52\n")], None, "VRRP router id 52 is used by DB writer VIP and S3 VIP on the same segment"),
        ("port-clash", vec![("host_vars/patroni1.yml", "pgbouncer_listen_addresses: ['0.0.0.0']\n")], None, "error[port-clash] patroni1: pgbouncer_listen_addresses: PgBouncer binds every address (*:6432) and HAProxy (DB writer VIP, PgBouncer) binds 10.0.3.10:6432"),
        ("pg-hba", vec![("host_vars/patroni1.yml", "patroni_app_client_sources: [10.0.3.10/32]\n")], None, "its connections arrive from patroni1 (10.0.3.11)"),
        ("pool-arithmetic", vec![("host_vars/patroni1.yml", "pgbouncer_default_pool_size: 50\n")], None, "error[pool-arithmetic] patroni1: pgbouncer_default_pool_size: 50 server connections per PgBouncer node is less than the 95 needed"),
        ("pool-arithmetic max_connections", vec![("host_vars/patroni1.yml", "patroni_max_connections: 300\n")], None, "PostgreSQL max_connections 300 is less than the 338"),
        ("pool-arithmetic mdad workers", vec![("group_vars/matrix_servers/own.yml", "matrix_synapse_workers_sync_workers_count: 12\n")], None, "PgBouncer is sized for 19 Synapse processes but the MDAD variables run 23"),
        ("pool-arithmetic pgbouncer vs patroni", vec![("host_vars/patroni1.yml", "pgbouncer_postgres_max_connections: 400\n")], None, "PgBouncer checks its pools against max_connections 400 but PostgreSQL runs with patroni_max_connections 500"),
        ("keepalive", vec![("host_vars/patroni1.yml", "matrixha_tcp_keepalive_idle: 30\n")], None, "error[keepalive] host patroni1: matrixha_tcp_keepalive_idle: TCP keepalive finds a dead peer after 33 s"),
        ("pool-mode", vec![("host_vars/patroni1.yml", "pgbouncer_pool_mode: transaction\n")], None, "error[pool-mode] patroni1: pgbouncer_pool_mode: transaction pooling"),
        ("turn-peers servers", vec![("host_vars/coturn1.yml", "coturn_server_subnets: [10.0.3.0/24]\n")], None, "TURN may relay to servers outside the denied subnets: backup (10.0.6.20)"),
        ("placeholder", vec![("host_vars/synapse.yml", "matrixha_front_tls_cert_src: CHANGE_TO_YOUR_CERT\n")], None, "error[placeholder] host synapse: matrixha_front_tls_cert_src: still holds the placeholder CHANGE_TO_YOUR_CERT"),
        ("secret-short", vec![("host_vars/patroni1.yml", "patroni_restapi_password: hunter2\n")], None, "error[secret-short] host patroni1: patroni_restapi_password: the password is shorter than 24 characters (7 given)"),
        ("secret-reused", vec![("host_vars/patroni1.yml", "patroni_restapi_password: Aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa1\npgbouncer_admin_password: Aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa1\n")], None, "patroni_restapi_password, pgbouncer_admin_password hold the same secret"),
        ("mdad-unknown", vec![("group_vars/matrix_servers/own.yml", "matrix_synapse_caches_per_cache_factors: {}\n")], None, "error[mdad-unknown] group_vars/matrix_servers: matrix_synapse_caches_per_cache_factors: no role of MDAD"),
        ("mdad-banned", vec![("group_vars/matrix_servers/own.yml", "matrix_coturn_turn_static_auth_secret: x\n")], None, "rename it to coturn_turn_static_auth_secret"),
        ("mdad-renamed", vec![("host_vars/synapse.yml", "cinny_docker_image: x\n")], None, "error[mdad-renamed] host_vars/synapse: cinny_docker_image: MDAD c0681e4bc2d5 renamed this variable; the old name is ignored\n  fix: use cinny_container_image"),
        ("mdad-computed", vec![("group_vars/matrix_servers/own.yml", "coturn_turn_uris: []\n")], None, "error[mdad-computed] group_vars/matrix_servers: coturn_turn_uris: MDAD c0681e4bc2d5 computes this variable itself"),
        ("mdad-migration", vec![("group_vars/matrix_servers/own.yml", "matrix_playbook_migration_validated_version: v2020.01.01.0\n")], None, "MDAD at the pinned commit expects v2026.05.18.0"),
        ("secrets missing", vec![("group_vars/all/vault.yml", "---\n{}\n")], None, "error[secrets] vault_patroni_superuser_password: no vault file defines it (used by patroni_superuser_password, pgbouncer_verifier_source_password)"),
    ];
    for (rule, files, hosts_edit, want) in cases {
        let tmp = tempfile::tempdir().unwrap();
        let inv = tmp.path().join("inv");
        Command::new("cp")
            .arg("-r")
            .arg(&inv0)
            .arg(&inv)
            .status()
            .unwrap();
        for (rel, body) in files {
            write(&inv, rel, body);
        }
        if let Some((from, to)) = hosts_edit {
            let p = inv.join("hosts.yml");
            let t = std::fs::read_to_string(&p).unwrap();
            assert!(t.contains(from), "{rule}: hosts.yml has no {from:?}");
            std::fs::write(&p, t.replacen(from, to, 1)).unwrap();
        }
        let o = run(&["check", "-i", inv.to_str().unwrap()]);
        let t = text(&o);
        assert_eq!(o.status.code(), Some(1), "{rule}: expected failure\n{t}");
        assert!(t.contains(want), "{rule}: missing {want:?} in\n{t}");
        assert!(t.contains("fix: "), "{rule}: no fix in\n{t}");
    }
}

#[test]
fn check_json_output_is_data() {
    let o = run(&[
        "check",
        "-i",
        "inventories/examples/seed-as-written",
        "--format",
        "json",
    ]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(v["errors"].as_u64().unwrap() > 5);
    assert!(v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .any(|f| f["rule"] == "pg-hba"
            && f["host"] == "patroni1"
            && f["variable"] == "patroni_app_client_sources"));
}

fn ansible_vault() -> PathBuf {
    let p = repo().join(".venv/bin/ansible-vault");
    assert!(p.is_file(), "{} missing: run scripts/venv.sh", p.display());
    p
}

#[test]
fn secrets_are_encrypted_with_ansible_vault_and_never_printed() {
    let vault = ansible_vault();
    let tmp = tempfile::tempdir().unwrap();
    let pw = tmp.path().join("pw");
    std::fs::write(&pw, "correct horse battery staple\n").unwrap();
    let out = tmp.path().join("vault.yml");
    let o = run(&[
        "secrets",
        "--out",
        out.to_str().unwrap(),
        "--vault-password-file",
        pw.to_str().unwrap(),
        "--ansible-vault",
        vault.to_str().unwrap(),
        "--format",
        "json",
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let raw = std::fs::read_to_string(&out).unwrap();
    assert!(raw.starts_with("$ANSIBLE_VAULT;1.1;AES256"), "{raw}");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&out).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let clear = Command::new(&vault)
        .args([
            "view",
            "--vault-password-file",
            pw.to_str().unwrap(),
            out.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(clear.status.success());
    let m: Mapping = serde_yaml::from_slice(&clear.stdout).unwrap();
    assert_eq!(m.len(), matrixha::secrets::SECRETS.len());
    let printed = text(&o);
    let mut values = BTreeSet::new();
    for (k, v) in &m {
        let v = v.as_str().unwrap();
        assert!(!printed.contains(v), "{k:?}'s value was printed");
        assert!(values.insert(v.to_owned()), "{k:?} repeats a value");
    }
    // Nothing left in clear next to it.
    assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 2);
    // A second run refuses to replace the secrets the stack runs with.
    let o = run(&[
        "secrets",
        "--out",
        out.to_str().unwrap(),
        "--vault-password-file",
        pw.to_str().unwrap(),
        "--ansible-vault",
        vault.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).contains("--force"));
    // check reads the encrypted vault with the password file.
    let inv = clean_large();
    let inv = inv.path().join("inv");
    std::fs::copy(&out, inv.join("group_vars/all/vault.yml")).unwrap();
    let o = run(&[
        "check",
        "-i",
        inv.to_str().unwrap(),
        "--vault-password-file",
        pw.to_str().unwrap(),
        "--ansible-vault",
        vault.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let o = run(&["check", "-i", inv.to_str().unwrap()]);
    assert!(
        text(&o).contains("is encrypted: secrets were not checked"),
        "{}",
        text(&o)
    );
}

#[test]
fn secrets_refuse_to_write_clear_text_without_plaintext() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("vault.yml");
    let o = run(&[
        "secrets",
        "--out",
        out.to_str().unwrap(),
        "--ansible-vault",
        "/nonexistent/ansible-vault",
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(!out.exists());
    assert_eq!(
        std::fs::read_dir(tmp.path()).unwrap().count(),
        0,
        "a clear-text temp file was left behind"
    );
}

#[test]
fn hosts_gives_servers_the_vip_and_clients_direct_media_nodes() {
    let o = run(&[
        "hosts",
        "-i",
        "inventories/examples/small",
        "--format",
        "json",
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let zone = v["zone"].as_array().unwrap();
    let rec = |n: &str| {
        zone.iter()
            .find(|r| r["name"] == n)
            .map(|r| r["address"].as_str().unwrap().to_owned())
    };
    assert_eq!(rec("chat.z3r0d3v.com.").as_deref(), Some("10.0.1.10"));
    assert_eq!(
        rec("coturn1.chat.z3r0d3v.com.").as_deref(),
        Some("10.0.5.11")
    );
    assert_eq!(
        rec("coturn2.chat.z3r0d3v.com.").as_deref(),
        Some("10.0.5.12")
    );
    assert_eq!(
        rec("coturn3.chat.z3r0d3v.com."),
        None,
        "small runs two coturn nodes"
    );
    let o = run(&[
        "hosts",
        "-i",
        "inventories/examples/small",
        "--only",
        "etc-hosts",
    ]);
    let t = text(&o);
    assert!(
        t.contains("10.0.3.11       patroni1.internal patroni1"),
        "{t}"
    );
    assert!(
        t.contains("10.0.1.10       chat.z3r0d3v.com matrix.chat.z3r0d3v.com"),
        "{t}"
    );
}

#[test]
fn init_refuses_a_plan_with_too_few_servers_for_the_scale() {
    let tmp = tempfile::tempdir().unwrap();
    let plan = tmp.path().join("plan.yml");
    let t = std::fs::read_to_string(repo().join("inventories/examples/seed-ip-plan.yml")).unwrap();
    std::fs::write(
        &plan,
        t.replace("    - {name: coturn3, address: 10.0.5.13}\n", ""),
    )
    .unwrap();
    let o = run(&[
        "init",
        "--scale",
        "large",
        "--ip-plan",
        plan.to_str().unwrap(),
        "--out",
        tmp.path().join("i").to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o).contains("servers.coturn: the large scale needs 3 server(s), the IP plan lists 2"),
        "{}",
        text(&o)
    );
}

#[test]
fn init_refuses_plans_that_cannot_work() {
    let tmp = tempfile::tempdir().unwrap();
    let t = std::fs::read_to_string(repo().join("inventories/examples/seed-ip-plan.yml")).unwrap();
    let cases = [
        (
            "  db: 10.0.3.10\n",
            "  db: 10.0.4.77\n",
            1,
            "the DB writer VIP 10.0.4.77 is outside 10.0.4.0/24",
        ),
        (
            "  s3: 10.0.4.10\n",
            "  s3: 10.0.4.12\n",
            1,
            "the S3 VIP 10.0.4.12 is also the address of host minio2",
        ),
        (
            "{name: backup, address: 10.0.6.20}",
            "{name: backup, address: 10.9.6.20}",
            2,
            "servers.backup.backup: 10.9.6.20 is in none of the plan's subnets",
        ),
        (
            "{name: backup, address: 10.0.6.20}",
            "{name: back_up, address: 10.0.6.20}",
            2,
            "'back_up' is not a host name",
        ),
    ];
    for (i, (from, to, code, want)) in cases.iter().enumerate() {
        assert!(t.contains(from), "{from}");
        let plan = tmp.path().join(format!("plan{i}.yml"));
        std::fs::write(&plan, t.replacen(from, to, 1)).unwrap();
        let o = run(&[
            "init",
            "--scale",
            "small",
            "--ip-plan",
            plan.to_str().unwrap(),
            "--out",
            tmp.path().join(format!("i{i}")).to_str().unwrap(),
        ]);
        assert_eq!(o.status.code(), Some(*code), "{}", text(&o));
        assert!(text(&o).contains(want), "missing {want:?} in {}", text(&o));
    }
}

/// Issue 10: serde errors quoted the offending value (`invalid type: integer `1234…``),
/// and a secret of the wrong type passed `check` silently.
#[test]
fn wrong_typed_secrets_are_described_never_quoted() {
    let base = clean_large();
    let inv0 = base.path().join("inv");
    let secret = "Zq8vJ2pLw0xN4rT6yB1cD3eF5gH7kM9n";
    let digits = "98765432109876543210987654321098765";
    let cases = [
        (
            format!("patroni_restapi_password: [{secret}]\n"),
            "error[secret-type] host patroni1: patroni_restapi_password: invalid type",
            secret,
        ),
        (
            format!("coturn_static_auth_secret: {{key: {secret}}}\n"),
            "error[secret-type] host coturn1: coturn_static_auth_secret: invalid type",
            secret,
        ),
        (
            format!("patroni_restapi_password: {digits}\n"),
            "not valid YAML: a value YAML cannot represent at line 1",
            digits,
        ),
    ];
    for (i, (body, want, value)) in cases.iter().enumerate() {
        let tmp = tempfile::tempdir().unwrap();
        let inv = tmp.path().join("inv");
        Command::new("cp")
            .arg("-r")
            .arg(&inv0)
            .arg(&inv)
            .status()
            .unwrap();
        let host = if body.starts_with("coturn") {
            "coturn1"
        } else {
            "patroni1"
        };
        write(&inv, &format!("host_vars/{host}.yml"), body);
        let o = run(&["check", "-i", inv.to_str().unwrap()]);
        let t = text(&o);
        assert_ne!(o.status.code(), Some(0), "case {i} passed:\n{t}");
        assert!(t.contains(want), "case {i}: missing {want:?} in\n{t}");
        assert!(!t.contains(value), "case {i}: the value was printed:\n{t}");
    }
    // The IP plan is read through the same deserializer.
    let tmp = tempfile::tempdir().unwrap();
    let plan = tmp.path().join("plan.yml");
    let t = std::fs::read_to_string(repo().join("inventories/examples/seed-ip-plan.yml")).unwrap();
    assert!(t.contains("  db: 10.0.3.10\n"));
    std::fs::write(
        &plan,
        t.replacen("  db: 10.0.3.10\n", &format!("  db: [{secret}]\n"), 1),
    )
    .unwrap();
    let o = run(&[
        "init",
        "--scale",
        "small",
        "--ip-plan",
        plan.to_str().unwrap(),
        "--out",
        tmp.path().join("i").to_str().unwrap(),
    ]);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(2), "{t}");
    assert!(t.contains("vips.db: invalid type"), "{t}");
    assert!(!t.contains(secret), "{t}");
}
