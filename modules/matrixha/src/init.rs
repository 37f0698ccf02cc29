//! `matrixha init`: (scale, domain, IP plan) → a complete inventory with every derived value.

use crate::error::{CliError, Result};
use crate::ipplan::{Layout, Node};
use crate::scale::{self, Service};
use crate::yamlout::{map, strs, vault_ref, Doc};
use pgbouncer_pool::sizing::{self, PoolPlan, ScaleProfile};
use serde_yaml::Value;
use std::path::Path;

/// VRRP router ids of the seeds (000: front 51, DB 52, S3 53); unique per segment.
/// The DB one is the db_vip role's default; front and S3 have no role yet.
pub const FRONT_VRID: u32 = 51;
pub const S3_VRID: u32 = 53;

fn db_vrid() -> u32 {
    // A literal in the role's defaults (role_defaults tests every ROLE_NUMBERS entry).
    crate::role_defaults::number("db_vip_virtual_router_id").unwrap_or_default()
}

pub fn synapse_processes(l: &Layout) -> u32 {
    1 + scale::workers(l.scale).values().sum::<u32>()
}

pub fn pool_plan(l: &Layout) -> Result<PoolPlan> {
    let db = l.nodes(Service::Db).len() as u32;
    let profile = ScaleProfile {
        db_nodes: db,
        pgbouncer_nodes: db,
        ..ScaleProfile::new(synapse_processes(l))
    };
    sizing::size(&profile).map_err(|e| {
        CliError::new(
            format!("the pools of this plan do not close: {e}"),
            "change the counts in the IP plan",
        )
    })
}

fn host_entry(n: &Node, extra: &[(&str, Value)]) -> String {
    let mut parts = vec![format!("matrixha_node_address: {}", n.address)];
    for (k, v) in extra {
        let t = serde_yaml::to_string(v).unwrap_or_default();
        parts.push(format!("{k}: {}", t.trim_end()));
    }
    format!("        {}: {{{}}}", n.name, parts.join(", "))
}

fn names_only(nodes: &[Node]) -> Vec<String> {
    nodes
        .iter()
        .map(|n| format!("        {}:", n.name))
        .collect()
}

fn hosts_yml(l: &Layout) -> String {
    let mut out = vec![
        "---".to_owned(),
        format!(
            "# {} scale inventory for {}, written by `matrixha init`.",
            l.scale.as_str(),
            l.domain
        ),
        "# Groups are per service (matrix_servers as MDAD names it). matrixha_node_address".into(),
        "# is the address every role binds (DN-1: never 0.0.0.0).".into(),
        "all:".into(),
        "  children:".into(),
    ];
    let group = |out: &mut Vec<String>, name: &str, lines: Vec<String>| {
        out.push(format!("    {name}:"));
        out.push("      hosts:".into());
        out.extend(lines);
    };
    let with_mem = |s: Service| -> Vec<String> {
        l.nodes(s)
            .iter()
            .map(|n| host_entry(n, &[("matrixha_memory_gb", Value::from(n.ram_gb))]))
            .collect()
    };
    group(&mut out, "front_lb", with_mem(Service::FrontLb));
    group(&mut out, "matrix_servers", with_mem(Service::Synapse));
    out.push("    db:".into());
    out.push("      children:".into());
    for c in ["etcd", "patroni", "pgbouncer", "db_vip"] {
        out.push(format!("        {c}:"));
    }
    let db = l.nodes(Service::Db);
    // PostgreSQL's memory settings follow each node's RAM (patroni role, vars/main.yml).
    group(
        &mut out,
        "etcd",
        db.iter()
            .map(|n| {
                host_entry(
                    n,
                    &[
                        ("matrixha_memory_gb", Value::from(n.ram_gb)),
                        ("patroni_memory_mb", Value::from(n.ram_gb * 1024)),
                    ],
                )
            })
            .collect(),
    );
    group(&mut out, "patroni", names_only(db));
    group(&mut out, "pgbouncer", names_only(db));
    group(&mut out, "db_vip", names_only(&db[..db.len().min(2)]));
    group(&mut out, "object_store", with_mem(Service::ObjectStore));
    let os = l.nodes(Service::ObjectStore);
    group(&mut out, "s3_vip", names_only(&os[..os.len().min(2)]));
    group(&mut out, "coturn", with_mem(Service::Coturn));
    group(&mut out, "livekit_servers", with_mem(Service::Livekit));
    group(&mut out, "redis_servers", with_mem(Service::Redis));
    group(
        &mut out,
        "monitoring_servers",
        with_mem(Service::Monitoring),
    );
    group(&mut out, "backup_servers", with_mem(Service::Backup));
    out.join("\n") + "\n"
}

fn subnet_list(subnets: &[ipnet::Ipv4Net], placeholder: &str) -> Value {
    if subnets.is_empty() {
        strs([placeholder])
    } else {
        strs(subnets.iter().map(|c| c.to_string()))
    }
}

fn prefix_of(l: &Layout, vip: std::net::Ipv4Addr) -> u32 {
    l.subnet_of(vip)
        .map(|(_, c)| u32::from(c.prefix_len()))
        .unwrap_or(24)
}

fn all_yml(l: &Layout) -> String {
    let mut d = Doc::new(&[
        "Facts of the whole plan, visible to every host.",
        "Values marked CHANGE_… must be supplied by you; `matrixha check` fails until they are.",
    ]);
    d.set("matrixha_scale", l.scale.as_str())
        .set("matrixha_domain", l.domain.as_str())
        .set("matrixha_internal_suffix", l.internal_suffix.as_str());
    d.blank().set_c(
        "Networks of the servers (from the IP plan's subnets): TURN never relays to them (DN-14).",
        "matrixha_server_subnets",
        strs({
            let mut v: Vec<_> = l.subnets.values().copied().collect();
            v.sort();
            v.iter().map(|c| c.to_string()).collect::<Vec<_>>()
        }),
    );
    d.set_c(
        "Networks of the users' devices, e.g. [10.20.0.0/16]; TURN relays only to these.\nCHANGE_TO_YOUR_CLIENT_SUBNETS: the subnets your users' desktops and phones (Wi-Fi, VPN) use.",
        "matrixha_client_subnets",
        subnet_list(&l.client_subnets, "CHANGE_TO_YOUR_CLIENT_SUBNETS"),
    );
    d.set_c(
        "Networks administrators work from: only they reach Ketesa and /_synapse/admin (DN-20).\nCHANGE_TO_YOUR_ADMIN_SUBNETS: e.g. the management network 10.0.0.0/24.",
        "matrixha_admin_subnets",
        subnet_list(&l.admin_subnets, "CHANGE_TO_YOUR_ADMIN_SUBNETS"),
    );
    d.blank()
        .comment("VIPs (Keepalived): front (HTTPS), DB writer (PostgreSQL/PgBouncer), S3.")
        .set("matrixha_front_vip_address", l.front_vip.to_string())
        .set("db_vip_address", l.db_vip.to_string())
        .set("matrixha_s3_vip_address", l.s3_vip.to_string());
    d.blank().set_c(
        &format!(
            "Synapse workers per MDAD type (002 §5, {} scale): {} processes with the main one.",
            l.scale.as_str(),
            synapse_processes(l)
        ),
        "matrixha_synapse_workers",
        map(scale::workers(l.scale)
            .into_iter()
            .map(|(k, v)| (k, Value::from(v)))),
    );
    d.set("matrixha_synapse_traefik_port", 81)
        .set("matrixha_synapse_federation_port", 8449);
    d.blank()
        .comment("Ports of the LiveKit mesh (001 §6.3).")
        .set("matrixha_livekit_port", 7880)
        .set("matrixha_livekit_rtc_tcp_port", 7881)
        .set("matrixha_livekit_rtc_udp_port", 7882)
        .set("matrixha_livekit_port_range_start", 50100)
        .set("matrixha_livekit_port_range_end", 50200)
        .set("matrixha_livekit_jwt_port", 8080)
        .set(
            "matrixha_livekit_api_key",
            vault_ref("vault_livekit_api_key"),
        )
        .set(
            "matrixha_livekit_api_secret",
            vault_ref("vault_livekit_api_secret"),
        )
        .set("matrixha_redis_port", 6379)
        .set(
            "matrixha_redis_password",
            vault_ref("vault_livekit_redis_password"),
        );
    d.blank()
        .comment("Object store (S3 API via the S3 VIP).")
        .set("matrixha_object_store_port", 9000)
        .set("matrixha_s3_vip_port", 9000)
        .set("matrixha_object_store_bucket", "synapse-media")
        .set("matrixha_object_store_region", "us-east-1")
        .set(
            "matrixha_object_store_synapse_access_key",
            vault_ref("vault_object_store_synapse_access_key"),
        )
        .set(
            "matrixha_object_store_synapse_secret_key",
            vault_ref("vault_object_store_synapse_secret_key"),
        );
    d.blank()
        .set(
            "matrixha_grafana_admin_password",
            vault_ref("vault_grafana_admin_password"),
        )
        .set(
            "matrixha_metrics_basic_auth_password",
            vault_ref("vault_metrics_basic_auth_password"),
        );
    d.render()
}

fn front_lb_yml(l: &Layout) -> String {
    let mut d = Doc::new(&["Front HAProxy + Keepalived pair: TLS termination, HTTP to Traefik."]);
    d.set("matrixha_front_vip_prefix", prefix_of(l, l.front_vip))
        .set_c(
            "Unique among the VRRP instances of this segment.",
            "matrixha_front_vip_virtual_router_id",
            FRONT_VRID,
        )
        .set(
            "matrixha_front_vip_vrrp_auth_pass",
            vault_ref("vault_front_vip_vrrp_auth_pass"),
        )
        .set_c(
            &format!("CHANGE_TO_PATH_OF_FRONT_TLS_PEM: certificate chain and key (one PEM file) for\n{} and matrix.{}, on the controller.", l.domain, l.domain),
            "matrixha_front_tls_cert_src",
            "CHANGE_TO_PATH_OF_FRONT_TLS_PEM",
        );
    d.render()
}

fn patroni_yml(l: &Layout, p: &PoolPlan) -> String {
    let mut d =
        Doc::new(&["PostgreSQL under Patroni on every DB node (role matrixha.stack.patroni)."]);
    let mb = l
        .nodes(Service::Db)
        .first()
        .map(|n| n.ram_gb * 1024)
        .unwrap_or(0);
    d.set("patroni_scale", l.scale.as_str());
    // The module crate's formula, the one the role's Jinja is tested against.
    let mem = patroni_cluster::tuning::memory_settings(u64::from(mb));
    d.comment(&format!(
        "patroni_memory_mb is set per host in hosts.yml from each node's RAM; with {mb} MB the role\nsets shared_buffers {}MB, effective_cache_size {}MB, maintenance_work_mem {}MB.",
        mem.shared_buffers_mb, mem.effective_cache_size_mb, mem.maintenance_work_mem_mb
    ));
    d.comment("Pool arithmetic (DN-11, pgbouncer_pool::sizing):");
    for line in &p.explanation {
        d.comment(&format!("  {line}"));
    }
    d.set("patroni_max_connections", p.max_connections);
    d.blank()
        .comment("Credentials: vault variables written by `matrixha secrets`.")
        .set(
            "patroni_superuser_password",
            vault_ref("vault_patroni_superuser_password"),
        )
        .set(
            "patroni_replication_password",
            vault_ref("vault_patroni_replication_password"),
        )
        .set(
            "patroni_restapi_password",
            vault_ref("vault_patroni_restapi_password"),
        )
        .set(
            "patroni_synapse_db_password",
            vault_ref("vault_patroni_synapse_db_password"),
        );
    d.render()
}

fn pgbouncer_yml(l: &Layout, p: &PoolPlan) -> String {
    let mut d = Doc::new(&[
        "PgBouncer on every DB node, in front of the writer VIP (role matrixha.stack.pgbouncer).",
        "Sizes from the one sizing function (pgbouncer_pool::sizing, DN-11):",
    ]);
    for line in &p.explanation {
        d.comment(&format!("  {line}"));
    }
    d.set("pgbouncer_scale", l.scale.as_str())
        .set_c(
            "Session mode for Synapse (DN-4).",
            "pgbouncer_pool_mode",
            p.pool_mode.as_str(),
        )
        .set("pgbouncer_synapse_processes", synapse_processes(l))
        .set("pgbouncer_synapse_cp_min", p.cp_min)
        .set("pgbouncer_synapse_cp_max", p.cp_max)
        .set("pgbouncer_default_pool_size", p.default_pool_size)
        .set("pgbouncer_reserve_pool_size", p.reserve_pool_size)
        .set("pgbouncer_max_client_conn", p.max_client_conn);
    d.blank()
        .set(
            "pgbouncer_admin_password",
            vault_ref("vault_pgbouncer_admin_password"),
        )
        .set(
            "pgbouncer_synapse_db_password",
            vault_ref("vault_patroni_synapse_db_password"),
        )
        .set(
            "pgbouncer_verifier_source_password",
            vault_ref("vault_patroni_superuser_password"),
        );
    d.render()
}

fn db_vip_yml(l: &Layout) -> String {
    let mut d = Doc::new(&[
        "Writer VIP: HAProxy + Keepalived on the first two DB nodes (role matrixha.stack.db_vip).",
    ]);
    d.set("db_vip_prefix", prefix_of(l, l.db_vip))
        .set_c(
            "Unique among the VRRP instances of this segment.",
            "db_vip_virtual_router_id",
            db_vrid(),
        )
        .set(
            "db_vip_vrrp_auth_pass",
            vault_ref("vault_db_vip_vrrp_auth_pass"),
        );
    d.render()
}

fn object_store_yml(l: &Layout) -> String {
    let nodes = l.nodes(Service::ObjectStore).len() as u32;
    let drives = scale::OBJECT_STORE_DRIVES_PER_NODE;
    let total = nodes * drives;
    let set = scale::erasure_set_size(total).unwrap_or(total);
    let parity = scale::default_parity(set);
    let tb = scale::object_store_tb_per_node(l.scale);
    let mut d = Doc::new(&["Erasure-coded object store, one process per node (000 §5; DN-15)."]);
    d.comment(&format!(
        "{nodes} nodes × {drives} drives = {total} drives, one erasure set of {set}; EC:{parity} keeps\ndata readable with {parity} drives lost; usable ≈ {} TB of {} TB raw.",
        tb * nodes * (set - parity) / set,
        tb * nodes
    ));
    d.set_c(
        "DN-1: the node address; HAProxy binds the S3 VIP on the same port.",
        "matrixha_object_store_listen_address",
        "{{ matrixha_node_address }}",
    )
    .set("matrixha_object_store_console_port", 9001)
    .set(
        "matrixha_object_store_drives",
        strs((1..=drives).map(|i| format!("/mnt/minio/data{i}"))),
    )
    .set("matrixha_object_store_drive_size_gb", tb * 1024 / drives)
    .set("matrixha_object_store_parity", parity)
    .set(
        "matrixha_object_store_root_user",
        vault_ref("vault_object_store_root_user"),
    )
    .set(
        "matrixha_object_store_root_password",
        vault_ref("vault_object_store_root_password"),
    );
    d.render()
}

fn s3_vip_yml(l: &Layout) -> String {
    let mut d = Doc::new(&["S3 VIP: HAProxy + Keepalived on the first two object-store nodes."]);
    d.set("matrixha_s3_vip_prefix", prefix_of(l, l.s3_vip))
        .set_c(
            "Unique among the VRRP instances of this segment.",
            "matrixha_s3_vip_virtual_router_id",
            S3_VRID,
        )
        .set(
            "matrixha_s3_vip_vrrp_auth_pass",
            vault_ref("vault_s3_vip_vrrp_auth_pass"),
        );
    d.render()
}

fn coturn_yml(l: &Layout) -> String {
    let mut d = Doc::new(&[&format!(
        "coturn × {}, reached directly by clients (001 §6.2; role matrixha.stack.coturn).",
        l.nodes(Service::Coturn).len()
    )]);
    d.set("coturn_realm", l.domain.as_str())
        .set_c(
            "One DNS name per node (coturnN.<domain>), on its certificate and in turns: URIs.",
            "coturn_server_name",
            format!("{{{{ inventory_hostname }}}}.{}", l.domain),
        )
        .set("coturn_static_auth_secret", vault_ref("vault_coturn_static_auth_secret"))
        .set_c(
            "DN-14: deny every server network, relay only to client networks.",
            "coturn_server_subnets",
            "{{ matrixha_server_subnets }}",
        )
        .set("coturn_client_subnets", "{{ matrixha_client_subnets }}")
        .set_c(
            "CHANGE_TO_PATH_OF_COTURN_TLS_CERT / _KEY: certificate chain and key on the controller\nfor coturnN.<domain> (a wildcard for the domain works for every node).",
            "coturn_tls_cert_src",
            "CHANGE_TO_PATH_OF_COTURN_TLS_CERT",
        )
        .set("coturn_tls_key_src", "CHANGE_TO_PATH_OF_COTURN_TLS_KEY");
    d.render()
}

fn matrix_servers_yml() -> String {
    let mut d = Doc::new(&[
        "MDAD variables of your own for the Synapse host. `matrixha mdad-vars` merges them over",
        "the generated ones; `matrixha check` validates every name against MDAD's manifest.",
    ]);
    d.raw("{}");
    d.render()
}

/// Every file of the inventory, relative path → content.
pub fn render(l: &Layout) -> Result<Vec<(String, String)>> {
    let p = pool_plan(l)?;
    Ok(vec![
        ("hosts.yml".into(), hosts_yml(l)),
        ("group_vars/all/main.yml".into(), all_yml(l)),
        ("group_vars/front_lb.yml".into(), front_lb_yml(l)),
        ("group_vars/patroni.yml".into(), patroni_yml(l, &p)),
        ("group_vars/pgbouncer.yml".into(), pgbouncer_yml(l, &p)),
        ("group_vars/db_vip.yml".into(), db_vip_yml(l)),
        ("group_vars/object_store.yml".into(), object_store_yml(l)),
        ("group_vars/s3_vip.yml".into(), s3_vip_yml(l)),
        ("group_vars/coturn.yml".into(), coturn_yml(l)),
        (
            "group_vars/matrix_servers/main.yml".into(),
            matrix_servers_yml(),
        ),
    ])
}

pub fn write(dir: &Path, files: &[(String, String)], force: bool) -> Result<()> {
    if dir.join("hosts.yml").exists() && !force {
        return Err(CliError::new(
            format!("{} already holds an inventory", dir.display()),
            "choose another --out, or pass --force to overwrite the generated files",
        ));
    }
    for (rel, text) in files {
        let p = dir.join(rel);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).map_err(|e| {
                CliError::new(format!("cannot create {}: {e}", parent.display()), "")
            })?;
        }
        std::fs::write(&p, text)
            .map_err(|e| CliError::new(format!("cannot write {}: {e}", p.display()), ""))?;
    }
    Ok(())
}
