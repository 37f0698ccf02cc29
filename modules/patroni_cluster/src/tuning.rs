//! PostgreSQL memory settings from a node's RAM: the one formula the CLI prints and the patroni role renders.
//!
//! Seeds 003 §4 give 16GB / 48GB / 2GB for a 64 GB node: shared_buffers = RAM/4,
//! effective_cache_size = 3·RAM/4, maintenance_work_mem = RAM/32 capped at 2 GB.
//! The role (collection/roles/patroni/vars/main.yml) writes the same formula in
//! Jinja because it sizes each host from its facts at run time; the test
//! `role_formula_matches` below fails when the two drift.

use serde::Serialize;
use serde_json::{Map, Value};

/// From this much RAM on, a node gets the larger WAL sizes (the scale profile's
/// `max_wal_size`, `min_wal_size` 2GB); below it, 256MB / 1GB.
pub const LARGE_NODE_MB: u64 = 16384;

/// The memory-derived PostgreSQL parameters of one node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MemorySettings {
    pub shared_buffers_mb: u64,
    pub effective_cache_size_mb: u64,
    pub maintenance_work_mem_mb: u64,
    pub wal_buffers_mb: u64,
    pub min_wal_size: &'static str,
    /// `None`: the scale profile's `max_wal_size` applies (a large node).
    pub max_wal_size: Option<&'static str>,
}

/// The settings for a node with `memory_mb` of RAM. Pure; floors keep tiny lab
/// machines above PostgreSQL's own minimums.
pub fn memory_settings(memory_mb: u64) -> MemorySettings {
    let large = memory_mb >= LARGE_NODE_MB;
    MemorySettings {
        shared_buffers_mb: (memory_mb / 4).max(128),
        effective_cache_size_mb: (memory_mb * 3 / 4).max(256),
        maintenance_work_mem_mb: (memory_mb / 32).clamp(64, 2048),
        // PostgreSQL's own auto-tuning (-1) is shared_buffers/32 capped at 16 MB;
        // seeds 003 allow up to 64 MB for write-heavy Synapse.
        wal_buffers_mb: (memory_mb / 4 / 32).clamp(1, 64),
        min_wal_size: if large { "2GB" } else { "256MB" },
        max_wal_size: if large { None } else { Some("1GB") },
    }
}

impl MemorySettings {
    /// As PostgreSQL parameters (`"16384MB"` …), for `dcs.parameters`;
    /// `profile_max_wal_size` fills `max_wal_size` on a large node.
    pub fn parameters(&self, profile_max_wal_size: &str) -> Map<String, Value> {
        let mut m = Map::new();
        let mb = |v: u64| Value::String(format!("{v}MB"));
        m.insert("shared_buffers".into(), mb(self.shared_buffers_mb));
        m.insert(
            "effective_cache_size".into(),
            mb(self.effective_cache_size_mb),
        );
        m.insert(
            "maintenance_work_mem".into(),
            mb(self.maintenance_work_mem_mb),
        );
        m.insert("wal_buffers".into(), mb(self.wal_buffers_mb));
        m.insert("min_wal_size".into(), self.min_wal_size.into());
        m.insert(
            "max_wal_size".into(),
            self.max_wal_size.unwrap_or(profile_max_wal_size).into(),
        );
        m
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_64_gb_node_gets_the_seed_values() {
        let s = memory_settings(65536);
        assert_eq!(s.shared_buffers_mb, 16384);
        assert_eq!(s.effective_cache_size_mb, 49152);
        assert_eq!(s.maintenance_work_mem_mb, 2048);
        assert_eq!(s.wal_buffers_mb, 64);
        assert_eq!(s.parameters("8GB")["max_wal_size"], "8GB");
        assert_eq!(s.parameters("8GB")["min_wal_size"], "2GB");
    }

    #[test]
    fn small_nodes_keep_the_floors() {
        let s = memory_settings(2048);
        assert_eq!(
            (
                s.shared_buffers_mb,
                s.effective_cache_size_mb,
                s.maintenance_work_mem_mb,
                s.wal_buffers_mb
            ),
            (512, 1536, 64, 16)
        );
        assert_eq!(s.parameters("8GB")["max_wal_size"], "1GB");
        let s = memory_settings(0);
        assert_eq!(
            (
                s.shared_buffers_mb,
                s.effective_cache_size_mb,
                s.wal_buffers_mb
            ),
            (128, 256, 1)
        );
    }

    /// The role renders the same formula in Jinja (it sizes each host from its
    /// facts at run time). If one of these expressions changes, change
    /// `memory_settings` with it (and this test).
    #[test]
    fn role_formula_matches() {
        let vars: serde_yaml::Value = serde_yaml::from_str(include_str!(
            "../../../collection/roles/patroni/vars/main.yml"
        ))
        .unwrap();
        let p = &vars["patroni_pg_parameters_computed"];
        let expect = [
            ("shared_buffers", "{{ [(patroni_memory_mb | int) // 4, 128] | max }}MB"),
            ("effective_cache_size", "{{ [(patroni_memory_mb | int) * 3 // 4, 256] | max }}MB"),
            ("maintenance_work_mem", "{{ [[(patroni_memory_mb | int) // 32, 2048] | min, 64] | max }}MB"),
            ("wal_buffers", "{{ [[(patroni_memory_mb | int) // 4 // 32, 64] | min, 1] | max }}MB"),
            ("min_wal_size", "{{ '2GB' if (patroni_memory_mb | int) >= 16384 else '256MB' }}"),
            ("max_wal_size", "{{ patroni_profile.max_wal_size if (patroni_memory_mb | int) >= 16384 else '1GB' }}"),
        ];
        for (k, jinja) in expect {
            assert_eq!(
                p[k].as_str(),
                Some(jinja),
                "the role's {k} formula changed: update patroni_cluster::tuning::memory_settings to match"
            );
        }
    }
}
