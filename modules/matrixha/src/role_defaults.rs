//! The roles' own defaults (collection/roles/*/defaults/main.yml, compiled in), for variables an inventory leaves unset.
//!
//! The files are the one list: `matrixha check` assumes what the role would use,
//! read from the role itself, so a changed default cannot leave the checker behind.

use serde_yaml::{Mapping, Value};
use std::sync::OnceLock;

/// (role, its defaults/main.yml).
const FILES: &[(&str, &str)] = &[
    (
        "coturn",
        include_str!("../../../collection/roles/coturn/defaults/main.yml"),
    ),
    (
        "db_vip",
        include_str!("../../../collection/roles/db_vip/defaults/main.yml"),
    ),
    (
        "etcd",
        include_str!("../../../collection/roles/etcd/defaults/main.yml"),
    ),
    (
        "patroni",
        include_str!("../../../collection/roles/patroni/defaults/main.yml"),
    ),
    (
        "pgbouncer",
        include_str!("../../../collection/roles/pgbouncer/defaults/main.yml"),
    ),
];

fn all() -> &'static Mapping {
    static ALL: OnceLock<Mapping> = OnceLock::new();
    ALL.get_or_init(|| {
        let mut m = Mapping::new();
        for (_, text) in FILES {
            // A role file that does not parse would fail every play; the unit
            // test below makes it fail the build's tests first.
            if let Ok(Value::Mapping(vars)) = serde_yaml::from_str::<Value>(text) {
                m.extend(vars);
            }
        }
        m
    })
}

/// The role default of `name`, as written (Jinja expressions included).
pub fn get(name: &str) -> Option<&'static Value> {
    all().get(name)
}

/// A literal number default (`pgbouncer_port: 6432`); None for an expression.
pub fn number(name: &str) -> Option<u32> {
    get(name)
        .and_then(Value::as_u64)
        .and_then(|n| u32::try_from(n).ok())
}

/// A literal boolean default (`db_vip_pgbouncer_enabled: true`).
pub fn flag(name: &str) -> Option<bool> {
    get(name).and_then(Value::as_bool)
}

/// The role's table of Synapse processes per scale
/// (`pgbouncer_synapse_processes: "{{ pgbouncer_scale_processes[pgbouncer_scale] }}"`).
pub fn synapse_processes(scale: &str) -> Option<u32> {
    get("pgbouncer_scale_processes")?
        .get(scale)
        .and_then(Value::as_u64)
        .and_then(|n| u32::try_from(n).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_role_defaults_file_parses_as_a_mapping() {
        for (role, text) in FILES {
            let v: Value = serde_yaml::from_str(text).unwrap();
            assert!(v.is_mapping(), "{role}");
        }
    }

    #[test]
    fn the_numbers_the_checker_reads_are_literal_in_the_roles() {
        for name in crate::check::ROLE_NUMBERS {
            assert!(
                number(name).is_some(),
                "{name} is not a literal number in its role's defaults"
            );
        }
        for name in crate::check::ROLE_FLAGS {
            assert!(
                flag(name).is_some(),
                "{name} is not a literal boolean in its role's defaults"
            );
        }
        assert!(synapse_processes("large").is_some());
    }

    #[test]
    fn the_roles_process_counts_are_the_sum_of_the_scale_profiles_workers() {
        // init writes matrixha_synapse_workers from scale::workers; the pgbouncer role
        // sizes for its own table when pgbouncer_synapse_processes is unset.
        for s in [
            crate::scale::Scale::Small,
            crate::scale::Scale::Medium,
            crate::scale::Scale::Large,
        ] {
            let ours = 1 + crate::scale::workers(s).values().sum::<u32>();
            assert_eq!(synapse_processes(s.as_str()), Some(ours), "{}", s.as_str());
        }
    }
}
