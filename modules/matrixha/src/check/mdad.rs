//! MDAD variables against the manifest of the pinned playbook.

use super::{Ctx, Finding};
use crate::inventory::Inventory;
use crate::manifest::{Manifest, Verdict};
use serde_yaml::Value;
use std::collections::BTreeMap;

pub(super) fn mdad(c: &mut Ctx) {
    let Ok(host) = crate::mdad::synapse_host(c.inv) else {
        return;
    };
    let own = crate::mdad::operator_vars(c.inv, &host);
    for (k, _, origin) in &own {
        report_verdict(c, Some(origin), k, c.man.verdict(k));
    }
    if let Some((_, v, origin)) = own
        .iter()
        .find(|(k, _, _)| k == "matrix_playbook_migration_validated_version")
    {
        if v.as_str() != Some(c.man.playbook.migration_expected_version.as_str()) {
            c.err(
                "mdad-migration",
                Some(origin),
                Some("matrix_playbook_migration_validated_version"),
                format!(
                    "MDAD at the pinned commit expects {}; another value stops the play",
                    c.man.playbook.migration_expected_version
                ),
                format!(
                    "read MDAD's CHANGELOG up to {0}, then set it to {0}",
                    c.man.playbook.migration_expected_version
                ),
            );
        }
    }
}

/// A complete MDAD vars.yml (e.g. one written by hand from the seeds).
pub fn check_mdad_file(
    inv_findings: &mut Vec<Finding>,
    man: &Manifest,
    origin: &str,
    vars: &serde_yaml::Mapping,
) {
    let inv = Inventory::default();
    let mut c = Ctx {
        inv: &inv,
        man,
        out: Vec::new(),
        hv: BTreeMap::new(),
    };
    for k in vars.keys().filter_map(Value::as_str) {
        report_verdict(&mut c, Some(origin), k, man.verdict(k));
    }
    match vars
        .get("matrix_playbook_migration_validated_version")
        .and_then(Value::as_str)
    {
        None => c.err(
            "mdad-migration",
            Some(origin),
            Some("matrix_playbook_migration_validated_version"),
            "is not set: MDAD stops the play before doing anything".into(),
            format!(
                "set it to {} after reading MDAD's CHANGELOG",
                man.playbook.migration_expected_version
            ),
        ),
        Some(v) if v != man.playbook.migration_expected_version => c.err(
            "mdad-migration",
            Some(origin),
            Some("matrix_playbook_migration_validated_version"),
            format!(
                "{v} is not the version MDAD expects ({})",
                man.playbook.migration_expected_version
            ),
            format!("set it to {}", man.playbook.migration_expected_version),
        ),
        _ => {}
    }
    inv_findings.extend(c.out);
    inv_findings.sort_by_key(|f| f.level);
}

pub(super) fn report_verdict(c: &mut Ctx, origin: Option<&str>, k: &str, v: Verdict) {
    let ver = format!(
        "MDAD {}",
        &c.man.playbook.commit[..12.min(c.man.playbook.commit.len())]
    );
    match v {
        Verdict::Settable | Verdict::VaultVar => {}
        Verdict::Banned { pattern, replacement } => c.err(
            "mdad-banned",
            origin,
            Some(k),
            format!("{ver} fails the play on variables matching {pattern}"),
            match replacement {
                Some(r) => format!("rename it to {r}"),
                None => "remove it; the component it configured is gone from MDAD".into(),
            },
        ),
        Verdict::Renamed { to } => c.err("mdad-renamed", origin, Some(k), format!("{ver} renamed this variable; the old name is ignored"), format!("use {to}")),
        Verdict::Computed { role } => c.err("mdad-computed", origin, Some(k), format!("{ver} computes this variable itself (role {role}); setting it overrides the derivation"), "remove it and set the variables it is derived from"),
        Verdict::Unknown { near } => c.err(
            "mdad-unknown",
            origin,
            Some(k),
            format!("no role of {ver} reads this variable: Ansible ignores it silently"),
            if near.is_empty() { "remove it or correct the name (see MDAD's docs/configuring-playbook-*.md)".into() } else { format!("remove it or use an existing name, e.g. {}", near.join(", ")) },
        ),
    }
}
