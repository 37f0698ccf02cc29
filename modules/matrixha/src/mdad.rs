//! `matrixha mdad-vars`: MDAD's vars.yml for the Synapse host, derived from the inventory and checked against the manifest.

use crate::error::{CliError, Result};
use crate::inventory::{HostVars, Inventory};
use crate::manifest::{Manifest, Verdict};
use crate::yamlout::{map, render_entry, strs, vault_ref};
use serde_yaml::{Mapping, Value};

/// The Synapse host: the first host of MDAD's group.
pub fn synapse_host(inv: &Inventory) -> Result<String> {
    inv.group_hosts("matrix_servers")
        .into_iter()
        .next()
        .ok_or_else(|| {
            CliError::new(
                "the inventory has no host in group matrix_servers",
                "add the Synapse server under matrix_servers (as `matrixha init` writes it)",
            )
        })
}

/// MDAD variables the operator set in the inventory for the Synapse host
/// (group_vars/matrix_servers, host_vars/<host>, hosts.yml), ours excepted.
pub fn operator_vars(inv: &Inventory, host: &str) -> Vec<(String, Value, String)> {
    let mut out = Vec::new();
    let mut push = |m: &Mapping, origin: String| {
        for (k, v) in m {
            if let Some(k) = k.as_str() {
                if k.starts_with("matrixha_") || k.starts_with("ansible_") || k.starts_with("lab_")
                {
                    continue;
                }
                out.retain(|(n, _, _): &(String, Value, String)| n != k);
                out.push((k.to_owned(), v.clone(), origin.clone()));
            }
        }
    };
    if let Some(g) = inv.groups.get("matrix_servers") {
        push(&g.vars, "group_vars/matrix_servers".into());
    }
    if let Some(h) = inv.host_vars.get(host) {
        push(h, format!("host_vars/{host}"));
    }
    out
}

fn addr(hv: &HostVars) -> Option<String> {
    hv.str("matrixha_node_address")
        .or_else(|| hv.str("ansible_host"))
}

fn addrs(inv: &Inventory, group: &str) -> Vec<String> {
    inv.group_hosts(group)
        .iter()
        .filter_map(|h| addr(&HostVars::new(inv, h)))
        .collect()
}

fn first_var(inv: &Inventory, group: &str, var: &str) -> Option<HostVars> {
    inv.group_hosts(group)
        .first()
        .map(|h| HostVars::new(inv, h))
        .filter(|hv| hv.raw(var).is_some())
}

fn need(v: Option<String>, what: &str, fix: &str) -> Result<String> {
    v.ok_or_else(|| CliError::new(format!("the inventory does not say {what}"), fix))
}

/// The generated variables, in output order, each with an optional comment.
/// The dead-peer keepalive numbers: the inventory's `matrixha_tcp_keepalive_*`, else
/// pgbouncer_pool's defaults (the roles default to the same numbers).
pub fn keepalive(hv: &HostVars) -> (u32, u32, u32) {
    use pgbouncer_pool::rules as r;
    (
        hv.u32("matrixha_tcp_keepalive_idle")
            .unwrap_or(r::KEEPALIVE_IDLE_SECS),
        hv.u32("matrixha_tcp_keepalive_interval")
            .unwrap_or(r::KEEPALIVE_INTERVAL_SECS),
        hv.u32("matrixha_tcp_keepalive_count")
            .unwrap_or(r::KEEPALIVE_COUNT),
    )
}

pub fn generate(inv: &Inventory, man: &Manifest) -> Result<Vec<(Option<String>, String, Value)>> {
    let host = synapse_host(inv)?;
    let hv = HostVars::new(inv, &host);
    let domain = need(
        hv.str("matrixha_domain"),
        "matrixha_domain",
        "set it in group_vars/all (matrixha init does)",
    )?;
    let syn = need(
        addr(&hv),
        &format!("the address of {host}"),
        "set matrixha_node_address on the Synapse host",
    )?;
    let db_vip = need(
        hv.str("db_vip_address"),
        "db_vip_address",
        "set the writer VIP in group_vars/all",
    )?;
    let s3_vip = need(
        hv.str("matrixha_s3_vip_address"),
        "matrixha_s3_vip_address",
        "set the S3 VIP in group_vars/all",
    )?;
    let db_port = first_var(inv, "db_vip", "db_vip_pgbouncer_port")
        .and_then(|h| h.u32("db_vip_pgbouncer_port"))
        .or_else(|| crate::role_defaults::number("db_vip_pgbouncer_port"))
        .unwrap_or_default();
    let pgb = inv
        .group_hosts("pgbouncer")
        .first()
        .map(|h| HostVars::new(inv, h));
    let cp_min = pgb
        .as_ref()
        .and_then(|h| h.u32("pgbouncer_synapse_cp_min"))
        .or_else(|| crate::role_defaults::number("pgbouncer_synapse_cp_min"))
        .unwrap_or_default();
    let cp_max = pgb
        .as_ref()
        .and_then(|h| h.u32("pgbouncer_synapse_cp_max"))
        .or_else(|| crate::role_defaults::number("pgbouncer_synapse_cp_max"))
        .unwrap_or_default();
    let traefik_port = hv.u32("matrixha_synapse_traefik_port").unwrap_or(81);
    let fed_port = hv.u32("matrixha_synapse_federation_port").unwrap_or(8449);
    let s3_port = hv.u32("matrixha_s3_vip_port").unwrap_or(9000);
    let front = addrs(inv, "front_lb");
    let mut out: Vec<(Option<String>, String, Value)> = Vec::new();
    let mut set =
        |c: Option<&str>, k: &str, v: Value| out.push((c.map(str::to_owned), k.to_owned(), v));

    set(
        Some("--- Identity"),
        "matrix_domain",
        Value::from(domain.clone()),
    );
    set(
        None,
        "matrix_homeserver_implementation",
        Value::from("synapse"),
    );
    set(
        None,
        "matrix_homeserver_generic_secret_key",
        vault_ref("vault_matrix_homeserver_generic_secret_key"),
    );
    set(
        Some(&format!(
            "MDAD refuses to run without it; the manifest is of {} at {}.",
            man.playbook.source, man.playbook.commit
        )),
        "matrix_playbook_migration_validated_version",
        Value::from(man.playbook.migration_expected_version.clone()),
    );

    set(
        Some("--- Traefik behind the front HAProxy (DN-13): HTTP on the Synapse address, TLS ends at HAProxy"),
        "matrix_playbook_reverse_proxy_type",
        Value::from("playbook-managed-traefik"),
    );
    set(None, "matrix_playbook_ssl_enabled", Value::from(true));
    set(
        None,
        "traefik_config_entrypoint_web_secure_enabled",
        Value::from(false),
    );
    set(
        None,
        "traefik_container_web_host_bind_port",
        Value::from(format!("{syn}:{traefik_port}")),
    );
    set(
        Some("Only the HAProxy nodes may set X-Forwarded-For (the clients' addresses in Synapse's logs and rate limits)."),
        "traefik_config_entrypoint_web_forwardedHeaders_trustedIPs",
        strs(front.clone()),
    );
    set(
        None,
        "matrix_playbook_public_matrix_federation_api_traefik_entrypoint_host_bind_port",
        Value::from(format!("{syn}:{fed_port}")),
    );
    set(
        None,
        "matrix_playbook_public_matrix_federation_api_traefik_entrypoint_config_custom",
        map([(
            "forwardedHeaders",
            map([("trustedIPs", strs(front.clone()))]),
        )]),
    );

    set(
        Some("--- Federation (on by default, 002 §8)"),
        "matrix_synapse_federation_enabled",
        Value::from(true),
    );

    set(
        Some(&format!(
            "--- External PostgreSQL through PgBouncer behind the writer VIP {db_vip}:{db_port}"
        )),
        "postgres_enabled",
        Value::from(false),
    );
    set(None, "matrix_synapse_database_host", Value::from(db_vip));
    set(None, "matrix_synapse_database_port", Value::from(db_port));
    // libpq keepalives, so an in-flight query whose path lost a host (power cut: no
    // FIN, no RST) ends instead of hanging for the OS's two hours; the same numbers
    // as every other DB hop (matrixha_tcp_keepalive_*, pgbouncer_pool::rules).
    let (idle, interval, count) = keepalive(&hv);
    set(
        None,
        "matrix_synapse_database_keepalives_idle",
        Value::from(idle),
    );
    set(
        None,
        "matrix_synapse_database_keepalives_interval",
        Value::from(interval),
    );
    set(
        None,
        "matrix_synapse_database_keepalives_count",
        Value::from(count),
    );
    set(None, "matrix_synapse_database_user", Value::from("synapse"));
    set(
        None,
        "matrix_synapse_database_password",
        vault_ref("vault_patroni_synapse_db_password"),
    );
    set(
        None,
        "matrix_synapse_database_database",
        Value::from("synapse"),
    );
    set(
        Some("Pool per process, the numbers PgBouncer was sized with (DN-11)."),
        "matrix_synapse_database_cp_min",
        Value::from(cp_min),
    );
    set(None, "matrix_synapse_database_cp_max", Value::from(cp_max));

    set(
        Some("--- Synapse secrets (vault)"),
        "matrix_synapse_macaroon_secret_key",
        vault_ref("vault_synapse_macaroon_secret_key"),
    );
    set(
        None,
        "matrix_synapse_registration_shared_secret",
        vault_ref("vault_synapse_registration_shared_secret"),
    );
    set(
        None,
        "matrix_synapse_form_secret",
        vault_ref("vault_synapse_form_secret"),
    );

    let workers = match hv.get("matrixha_synapse_workers") {
        Some(Value::Mapping(m)) => m,
        _ => Mapping::new(),
    };
    set(
        Some("--- Workers: the preset, then every count explicit so the process count is the one the pools were sized for"),
        "matrix_synapse_workers_enabled",
        Value::from(true),
    );
    set(
        None,
        "matrix_synapse_workers_preset",
        Value::from("specialized-workers"),
    );
    let types = [
        "appservice",
        "background",
        "client_reader",
        "federation_reader",
        "federation_sender",
        "generic",
        "media_repository",
        "pusher",
        "room",
        "sync",
        "user_dir",
        "stream_writer_events_stream",
        "stream_writer_typing_stream",
        "stream_writer_to_device_stream",
        "stream_writer_account_data_stream",
        "stream_writer_receipts_stream",
        "stream_writer_presence_stream",
        "stream_writer_push_rules_stream",
        "stream_writer_device_lists_stream",
        "stream_writer_thread_subscriptions_stream",
        "stream_writer_quarantined_media_changes_stream",
    ];
    for t in types {
        let n = workers.get(t).and_then(Value::as_u64).unwrap_or(0);
        set(
            None,
            &format!("matrix_synapse_workers_{t}_workers_count"),
            Value::from(n),
        );
    }
    for (k, _) in &workers {
        if let Some(k) = k.as_str() {
            if !types.contains(&k) {
                return Err(CliError::new(
                    format!("matrixha_synapse_workers: unknown worker type '{k}'"),
                    format!("use one of {}", types.join(", ")),
                ));
            }
        }
    }
    set(
        Some("Redis protocol for worker replication (DN-5)."),
        "valkey_enabled",
        Value::from(true),
    );

    set(
        Some(&format!(
            "--- Media in the object store behind the S3 VIP {s3_vip}:{s3_port}"
        )),
        "matrix_synapse_ext_synapse_s3_storage_provider_enabled",
        Value::from(true),
    );
    let p = "matrix_synapse_ext_synapse_s3_storage_provider_";
    set(
        None,
        &format!("{p}config_bucket"),
        Value::from(
            hv.str("matrixha_object_store_bucket")
                .unwrap_or_else(|| "synapse-media".into()),
        ),
    );
    set(
        None,
        &format!("{p}config_region_name"),
        Value::from(
            hv.str("matrixha_object_store_region")
                .unwrap_or_else(|| "us-east-1".into()),
        ),
    );
    set(
        None,
        &format!("{p}config_endpoint_url"),
        Value::from(format!("http://{s3_vip}:{s3_port}")),
    );
    set(
        None,
        &format!("{p}config_access_key_id"),
        vault_ref("vault_object_store_synapse_access_key"),
    );
    set(
        None,
        &format!("{p}config_secret_access_key"),
        vault_ref("vault_object_store_synapse_secret_key"),
    );
    set(
        None,
        &format!("{p}config_storage_class"),
        Value::from("STANDARD"),
    );
    set(None, &format!("{p}store_local"), Value::from(true));
    set(None, &format!("{p}store_remote"), Value::from(true));
    set(None, &format!("{p}store_synchronous"), Value::from(true));

    let turn_hosts = inv.group_hosts("coturn");
    // The inventory's ports, else the coturn role's defaults.
    let turn_port = |var: &str| {
        turn_hosts
            .first()
            .and_then(|h| HostVars::new(inv, h).u32(var))
            .or_else(|| crate::role_defaults::number(var))
            .unwrap_or_default()
    };
    let (tp, tlsp) = (
        turn_port("coturn_listening_port"),
        turn_port("coturn_tls_listening_port"),
    );
    let mut uris = Vec::new();
    for h in &turn_hosts {
        let name = format!("{h}.{domain}");
        uris.push(format!("turns:{name}:{tlsp}?transport=tcp"));
        uris.push(format!("turn:{name}:{tp}?transport=udp"));
        uris.push(format!("turn:{name}:{tp}?transport=tcp"));
    }
    set(
        Some("--- TURN: our coturn nodes, reached directly by clients (DN-12: coturn_*, not matrix_coturn_*)"),
        "coturn_enabled",
        Value::from(false),
    );
    set(None, "matrix_synapse_turn_uris", strs(uris));
    set(
        None,
        "matrix_synapse_turn_shared_secret",
        vault_ref("vault_coturn_static_auth_secret"),
    );

    set(
        Some("--- Element Call with our LiveKit mesh; MDAD runs only lk-jwt-service"),
        "matrix_rtc_enabled",
        Value::from(true),
    );
    set(None, "matrix_element_call_enabled", Value::from(true));
    set(None, "livekit_server_enabled", Value::from(false));
    set(
        None,
        "matrix_livekit_jwt_service_enabled",
        Value::from(true),
    );
    set(
        None,
        "matrix_livekit_jwt_service_environment_variable_livekit_url",
        Value::from(format!("wss://livekit.{domain}")),
    );
    set(
        None,
        "matrix_livekit_jwt_service_environment_variable_livekit_key",
        vault_ref("vault_livekit_api_key"),
    );
    set(
        None,
        "matrix_livekit_jwt_service_environment_variable_livekit_secret",
        vault_ref("vault_livekit_api_secret"),
    );

    set(
        Some("--- Ketesa (Synapse Admin's successor, DN-12); the front HAProxy limits it to the admin networks (DN-20)"),
        "matrix_ketesa_enabled",
        Value::from(true),
    );

    set(
        Some("--- Metrics for the monitoring server, behind basic auth (002 §10)"),
        "matrix_synapse_metrics_enabled",
        Value::from(true),
    );
    set(
        None,
        "matrix_synapse_metrics_proxying_enabled",
        Value::from(true),
    );
    set(None, "matrix_metrics_exposure_enabled", Value::from(true));
    set(
        None,
        "matrix_metrics_exposure_http_basic_auth_enabled",
        Value::from(true),
    );
    set(
        None,
        "matrix_metrics_exposure_http_basic_auth_users",
        vault_ref("vault_metrics_basic_auth_htpasswd"),
    );

    // The operator's own MDAD variables win over the generated ones.
    let own = operator_vars(inv, &host);
    if !own.is_empty() {
        for (k, v, origin) in own {
            out.retain(|(_, n, _)| n != &k);
            out.push((Some(format!("from {origin}")), k, v));
        }
    }
    Ok(out)
}

/// Names the manifest does not accept, with the verdict.
pub fn invalid<'a>(vars: impl Iterator<Item = &'a str>, man: &Manifest) -> Vec<(String, Verdict)> {
    vars.filter_map(|k| match man.verdict(k) {
        Verdict::Settable | Verdict::VaultVar => None,
        v => Some((k.to_owned(), v)),
    })
    .collect()
}

pub fn render(vars: &[(Option<String>, String, Value)], host: &str, man: &Manifest) -> String {
    let mut lines = vec![
        "---".to_owned(),
        format!("# MDAD vars.yml for {host}, written by `matrixha mdad-vars`; every name checked against"),
        format!("# the manifest of {} {}.", man.playbook.source, man.playbook.commit),
        "# vault_* values come from the file `matrixha secrets` wrote: copy it next to this one.".into(),
    ];
    for (c, k, v) in vars {
        if let Some(c) = c {
            if let Some(section) = c.strip_prefix("--- ") {
                lines.push(String::new());
                lines.push(format!("# {section}"));
            } else {
                for l in c.lines() {
                    lines.push(format!("# {l}"));
                }
            }
        }
        lines.extend(render_entry(k, v));
    }
    lines.join("\n") + "\n"
}
