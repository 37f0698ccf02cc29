//! The three scale profiles: node counts, sizes and worker counts (seed 002 §3, §5, §15; DN-17).
//!
//! All scales share one topology; only these numbers differ. Defaults follow
//! 002 (the requirements) where 001 disagrees (DN-17: LiveKit 2/3/4 nodes,
//! coturn 3 at Large). An IP plan may override any count (`counts:`).

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Scale {
    Small,
    Medium,
    Large,
}

impl Scale {
    pub fn as_str(self) -> &'static str {
        match self {
            Scale::Small => "small",
            Scale::Medium => "medium",
            Scale::Large => "large",
        }
    }

    pub fn parse(s: &str) -> Option<Scale> {
        match s {
            "small" => Some(Scale::Small),
            "medium" => Some(Scale::Medium),
            "large" => Some(Scale::Large),
            _ => None,
        }
    }
}

/// Every server role of the topology, in inventory order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, Hash)]
#[serde(rename_all = "snake_case")]
pub enum Service {
    FrontLb,
    Synapse,
    Db,
    ObjectStore,
    Coturn,
    Livekit,
    Redis,
    Monitoring,
    Backup,
}

impl Service {
    pub const ALL: [Service; 9] = [
        Service::FrontLb,
        Service::Synapse,
        Service::Db,
        Service::ObjectStore,
        Service::Coturn,
        Service::Livekit,
        Service::Redis,
        Service::Monitoring,
        Service::Backup,
    ];

    pub fn key(self) -> &'static str {
        match self {
            Service::FrontLb => "front_lb",
            Service::Synapse => "synapse",
            Service::Db => "db",
            Service::ObjectStore => "object_store",
            Service::Coturn => "coturn",
            Service::Livekit => "livekit",
            Service::Redis => "redis",
            Service::Monitoring => "monitoring",
            Service::Backup => "backup",
        }
    }

    /// The inventory group the service's hosts go to (as in inventories/lab).
    pub fn group(self) -> &'static str {
        match self {
            Service::FrontLb => "front_lb",
            Service::Synapse => "matrix_servers",
            Service::Db => "patroni",
            Service::ObjectStore => "object_store",
            Service::Coturn => "coturn",
            Service::Livekit => "livekit_servers",
            Service::Redis => "redis_servers",
            Service::Monitoring => "monitoring_servers",
            Service::Backup => "backup_servers",
        }
    }
}

/// Synapse worker counts per type (002 §5), as MDAD names the types.
pub fn workers(scale: Scale) -> BTreeMap<&'static str, u32> {
    let (sync, generic, fed_sender, persister) = match scale {
        Scale::Small => (4, 2, 2, 1),
        Scale::Medium => (6, 3, 3, 2),
        Scale::Large => (8, 4, 4, 2),
    };
    BTreeMap::from([
        ("sync", sync),
        ("generic", generic),
        ("federation_sender", fed_sender),
        ("stream_writer_events_stream", persister),
    ])
}

/// Node count per service.
pub fn count(scale: Scale, s: Service) -> u32 {
    use Scale::*;
    match (s, scale) {
        (Service::FrontLb, _) => 2,
        (Service::Synapse, _) => 1,
        (Service::Db, _) => 3,
        (Service::ObjectStore, _) => 4,
        (Service::Coturn, Large) => 3,
        (Service::Coturn, _) => 2,
        (Service::Livekit, Small) => 2,
        (Service::Livekit, Medium) => 3,
        (Service::Livekit, Large) => 4,
        (Service::Redis, _) => 1,
        (Service::Monitoring, _) => 1,
        (Service::Backup, _) => 1,
    }
}

/// RAM per node in GB (002 §3; Redis from 001 §4.1).
pub fn ram_gb(scale: Scale, s: Service) -> u32 {
    use Scale::*;
    match (s, scale) {
        (Service::FrontLb, _) => 8,
        (Service::Synapse, Small) => 64,
        (Service::Synapse, Medium) => 96,
        (Service::Synapse, Large) => 128,
        (Service::Db, Small) => 32,
        (Service::Db, Medium) => 48,
        (Service::Db, Large) => 64,
        (Service::ObjectStore, Small) => 16,
        (Service::ObjectStore, _) => 32,
        (Service::Coturn, Large) => 16,
        (Service::Coturn, _) => 8,
        (Service::Livekit, Small) => 16,
        (Service::Livekit, Medium) => 24,
        (Service::Livekit, Large) => 32,
        (Service::Redis, _) => 8,
        (Service::Monitoring, Small) => 16,
        (Service::Monitoring, _) => 32,
        (Service::Backup, Large) => 32,
        (Service::Backup, _) => 16,
    }
}

/// Object-store capacity per node in TB (002 §3b), spread over the drives of 000 §5
/// (four drives per node, /mnt/minio/data1..4).
pub fn object_store_tb_per_node(scale: Scale) -> u32 {
    match scale {
        Scale::Small => 2,
        Scale::Medium => 4,
        Scale::Large => 8,
    }
}

pub const OBJECT_STORE_DRIVES_PER_NODE: u32 = 4;

/// MinIO's erasure-set size for `drives` drives: the largest divisor in 2..=16
/// (MinIO docs, "Erasure Coding": sets of 2 to 16 drives, all of one size).
pub fn erasure_set_size(drives: u32) -> Option<u32> {
    (2..=16).rev().find(|s| (drives / s) * s == drives)
}

/// MinIO's default parity for an erasure set of `set` drives
/// (EC:2 for up to 5 drives, EC:3 for 6-7, EC:4 from 8).
pub fn default_parity(set: u32) -> u32 {
    match set {
        0..=5 => 2.min(set / 2),
        6..=7 => 3,
        _ => 4,
    }
}
