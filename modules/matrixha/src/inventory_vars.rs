//! The inventory's own `matrixha_*` variables: facts of the plan that no single role owns (yet).
//!
//! Role variables are declared in `collection/roles/*/meta/argument_specs.yml`;
//! the generated inventory sets only those, Ansible connection variables, the
//! vault variables of `secrets.rs`, and the names below. A test keeps it so.

pub const DOCUMENTED: &[(&str, &str)] = &[
    (
        "matrixha_scale",
        "small, medium or large: the scale profile the plan was made for",
    ),
    (
        "matrixha_domain",
        "the Matrix server name (chat.z3r0d3v.com in the seeds)",
    ),
    (
        "matrixha_internal_suffix",
        "suffix of the servers' internal names in /etc/hosts",
    ),
    (
        "matrixha_node_address",
        "this host's address; every role binds it (DN-1)",
    ),
    (
        "matrixha_client_subnets",
        "networks of the users' devices: TURN may relay to them (DN-14)",
    ),
    (
        "matrixha_admin_subnets",
        "networks allowed to reach Ketesa and /_synapse/admin (DN-20)",
    ),
    (
        "matrixha_server_subnets",
        "networks of the servers: TURN must never relay to them (DN-14)",
    ),
    (
        "matrixha_synapse_workers",
        "Synapse worker count per MDAD worker type",
    ),
    (
        "matrixha_front_vip_address",
        "front VIP: HTTPS for clients and federation",
    ),
    (
        "matrixha_front_vip_prefix",
        "prefix length of the front VIP's subnet",
    ),
    (
        "matrixha_front_vip_virtual_router_id",
        "VRRP router id of the front VIP",
    ),
    (
        "matrixha_front_vip_vrrp_auth_pass",
        "VRRP password of the front VIP (vault)",
    ),
    (
        "matrixha_front_tls_cert_src",
        "certificate chain + key (PEM) HAProxy terminates TLS with",
    ),
    ("matrixha_s3_vip_address", "S3 VIP on the storage network"),
    (
        "matrixha_s3_vip_prefix",
        "prefix length of the S3 VIP's subnet",
    ),
    ("matrixha_s3_vip_port", "port HAProxy binds on the S3 VIP"),
    (
        "matrixha_s3_vip_virtual_router_id",
        "VRRP router id of the S3 VIP",
    ),
    (
        "matrixha_s3_vip_vrrp_auth_pass",
        "VRRP password of the S3 VIP (vault)",
    ),
    (
        "matrixha_object_store_listen_address",
        "address the object store binds (the node address, DN-1)",
    ),
    (
        "matrixha_object_store_port",
        "S3 API port of each object-store node",
    ),
    (
        "matrixha_object_store_console_port",
        "web console port of each object-store node",
    ),
    (
        "matrixha_object_store_drives",
        "data directories, one per drive, identical on every node",
    ),
    ("matrixha_object_store_drive_size_gb", "size of each drive"),
    (
        "matrixha_object_store_parity",
        "erasure-code parity (EC:N) of the standard storage class",
    ),
    ("matrixha_object_store_bucket", "bucket of Synapse's media"),
    (
        "matrixha_object_store_region",
        "S3 region name the clients sign with",
    ),
    (
        "matrixha_object_store_root_user",
        "object store root user (vault)",
    ),
    (
        "matrixha_object_store_root_password",
        "object store root password (vault)",
    ),
    (
        "matrixha_object_store_synapse_access_key",
        "Synapse's S3 access key (vault)",
    ),
    (
        "matrixha_object_store_synapse_secret_key",
        "Synapse's S3 secret key (vault)",
    ),
    (
        "matrixha_synapse_traefik_port",
        "port Traefik binds on the Synapse address (HTTP from the front HAProxy)",
    ),
    (
        "matrixha_synapse_federation_port",
        "port of Traefik's federation entrypoint on the Synapse address",
    ),
    (
        "matrixha_livekit_port",
        "LiveKit signalling (HTTP/WebSocket) port",
    ),
    ("matrixha_livekit_rtc_tcp_port", "LiveKit ICE/TCP port"),
    ("matrixha_livekit_rtc_udp_port", "LiveKit ICE/UDP mux port"),
    (
        "matrixha_livekit_port_range_start",
        "first UDP port of LiveKit's media range",
    ),
    (
        "matrixha_livekit_port_range_end",
        "last UDP port of LiveKit's media range",
    ),
    ("matrixha_livekit_jwt_port", "lk-jwt-service port"),
    ("matrixha_livekit_api_key", "LiveKit API key (vault)"),
    ("matrixha_livekit_api_secret", "LiveKit API secret (vault)"),
    ("matrixha_redis_port", "Redis port of the LiveKit mesh"),
    (
        "matrixha_redis_password",
        "Redis password of the LiveKit mesh (vault)",
    ),
    (
        "matrixha_grafana_admin_password",
        "Grafana admin password (vault)",
    ),
    (
        "matrixha_metrics_basic_auth_password",
        "password Prometheus scrapes Synapse's metrics with (vault)",
    ),
    ("matrixha_memory_gb", "this host's RAM in GB as planned"),
];

pub fn is_documented(name: &str) -> bool {
    DOCUMENTED.iter().any(|(n, _)| *n == name)
}

/// Ansible's own connection and behaviour variables.
pub fn is_ansible_var(name: &str) -> bool {
    name.starts_with("ansible_")
}
