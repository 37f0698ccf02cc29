//! Quorum and erasure-coding rules: how many nodes each clustered service needs.

use super::Ctx;
use crate::scale;

pub(super) fn quorum(c: &mut Ctx) {
    for (g, what) in [("etcd", "etcd"), ("patroni", "Patroni")] {
        let n = c.group(g).len();
        if n < 3 || n & 1 == 0 {
            c.err(
                "quorum",
                None,
                Some(&format!("group {g}")),
                format!("{n} {what} node(s): a quorum needs an odd number, at least 3 (with {n} the cluster {})", if n < 3 { "cannot survive losing one node" } else { "survives no more failures than with one node less" }),
                format!("put 3 or 5 hosts in group {g}"),
            );
        }
    }
}

pub(super) fn object_store(c: &mut Ctx) {
    let nodes = c.group("object_store");
    if nodes.is_empty() {
        return;
    }
    if nodes.len() < 4 {
        c.err(
            "object-store",
            None,
            Some("group object_store"),
            format!(
                "{} object-store node(s): erasure coding across nodes needs at least 4",
                nodes.len()
            ),
            "put 4 (or more) hosts in group object_store",
        );
    }
    let first = nodes[0].clone();
    let drives = c
        .h(&first)
        .list("matrixha_object_store_drives")
        .map(|d| d.len() as u32)
        .unwrap_or(1);
    let total = drives * nodes.len() as u32;
    let Some(set) = scale::erasure_set_size(total) else {
        c.err(
            "object-store",
            Some(&first),
            Some("matrixha_object_store_drives"),
            format!("{total} drives cannot form erasure sets of 2 to 16 drives"),
            "use a drive count per node that divides evenly (e.g. 4 nodes × 4 drives)",
        );
        return;
    };
    if let Some(p) = c.h(&first).u32("matrixha_object_store_parity") {
        if p == 0 || p > set / 2 {
            c.err(
                "object-store",
                Some(&first),
                Some("matrixha_object_store_parity"),
                format!("parity EC:{p} is not valid for erasure sets of {set} drives ({} nodes × {drives} drives): it must be 1 to {}", nodes.len(), set / 2),
                format!("set matrixha_object_store_parity to {} (the default for {set} drives)", scale::default_parity(set)),
            );
        }
    }
}
