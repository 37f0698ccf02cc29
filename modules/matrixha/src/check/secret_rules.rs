//! Placeholders and secrets: each secret judged by the module that receives it, reuse across components.

use super::Ctx;
use crate::inventory::plain_ref;
use crate::secrets;
use crate::typed;
use coturn_config::rules as turn_rules;
use matrixha_module::Secret;
use serde_yaml::Value;
use std::collections::{BTreeMap, BTreeSet};

fn walk<'v>(v: &'v Value, path: String, out: &mut Vec<(String, &'v str)>) {
    match v {
        Value::String(s) => out.push((path, s)),
        Value::Sequence(s) => s
            .iter()
            .enumerate()
            .for_each(|(i, x)| walk(x, format!("{path}[{i}]"), out)),
        Value::Mapping(m) => m
            .iter()
            .for_each(|(k, x)| walk(x, format!("{path}.{}", k.as_str().unwrap_or("?")), out)),
        _ => {}
    }
}

pub(super) fn placeholders(c: &mut Ctx) {
    let mut seen = BTreeSet::new();
    for h in c.inv.hosts() {
        let vars = c.h(&h).vars.clone();
        for (k, v) in &vars {
            let Some(k) = k.as_str() else { continue };
            let mut strs = Vec::new();
            walk(v, k.to_owned(), &mut strs);
            for (path, s) in strs {
                if let Some(i) = s.find("CHANGE") {
                    let token: String = s[i..]
                        .chars()
                        .take_while(|ch| ch.is_ascii_alphanumeric() || *ch == '_')
                        .collect();
                    let origin = c.inv.origin(&h, k);
                    if seen.insert((origin.clone(), path.clone())) {
                        c.err("placeholder", Some(&origin), Some(&path), format!("still holds the placeholder {token}"), "replace it with your value (the comment above it in the inventory says what it is)");
                    }
                }
            }
        }
    }
}

fn secret_like(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    ["password", "secret", "_pass", "auth_pass"]
        .iter()
        .any(|p| n.contains(p))
        && !n.ends_with("_user")
        && !n.contains("password_file")
}

/// The module that receives a role variable's secret, and so judges it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SecretJudge {
    /// coturn_config's `static_auth_secret` (coturn_config::rules).
    Turn,
    /// A PostgreSQL credential: patroni_cluster and pgbouncer_pool apply
    /// pg_auth's length and SASLprep rules to every password they pass on.
    Postgres,
}

fn secret_judge(var: &str) -> Option<SecretJudge> {
    match var {
        "coturn_static_auth_secret" => Some(SecretJudge::Turn),
        v if (v.starts_with("patroni_") || v.starts_with("pgbouncer_"))
            && v.ends_with("_password") =>
        {
            Some(SecretJudge::Postgres)
        }
        _ => None,
    }
}

/// Why the module would refuse `value`: (rule, problem, fix); None when it accepts it.
fn judge_secret(judge: SecretJudge, value: &str) -> Option<(&'static str, String, String)> {
    let n = value.chars().count();
    match judge {
        SecretJudge::Turn => {
            let e = turn_rules::check_static_auth_secret(&Secret::new(value)).err()?;
            let rule = if n < turn_rules::MIN_SECRET_LEN {
                "secret-short"
            } else {
                "secret-invalid"
            };
            Some((
                rule,
                format!("coturn's static_auth_secret {}", e.problem),
                e.fix.unwrap_or_default(),
            ))
        }
        SecretJudge::Postgres => {
            // The modules' own rule (pg_auth::check_password): length, then printable ASCII.
            let e = pg_auth::check_password("password", &Secret::new(value)).err()?;
            let rule = if n < pg_auth::MIN_PASSWORD_LEN {
                "secret-short"
            } else {
                "secret-invalid"
            };
            Some((
                rule,
                format!("the password {}", e.problem),
                e.fix.unwrap_or_default(),
            ))
        }
    }
}

/// The CLI's own minimum, for secrets no module judges yet (object store, LiveKit, Synapse).
fn own_min_len(name: &str) -> usize {
    secrets::spec(name)
        .map(|s| secrets::min_len(s.kind))
        .unwrap_or(if name.contains("vrrp") || name.ends_with("auth_pass") {
            secrets::min_len(secrets::Kind::Vrrp)
        } else {
            pg_auth::MIN_PASSWORD_LEN
        })
}

pub(super) fn secrets_rule(c: &mut Ctx) {
    // name → (value, host where seen); literal values only, references resolved.
    let mut values: BTreeMap<String, (String, String)> = BTreeMap::new();
    let mut missing_vault: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    // name → the variables that hold `{{ name }}`: whoever receives the value judges it.
    let mut users: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for h in c.inv.hosts() {
        let keys: Vec<String> = c
            .h(&h)
            .vars
            .keys()
            .filter_map(|k| k.as_str().map(str::to_owned))
            .collect();
        for k in keys {
            if !secret_like(&k) && !k.starts_with("vault_") {
                continue;
            }
            let Some(raw_value) = c.h(&h).raw(&k).cloned() else {
                continue;
            };
            let raw = match raw_value {
                Value::String(s) => s,
                Value::Null => continue,
                other => {
                    // A module would refuse it too (a Secret is a string); the
                    // message says what was found, never the value.
                    if secret_judge(&k).is_some() || secrets::spec(&k).is_some() {
                        if let Err(e) = typed::var_problem::<Secret>(&k, &other) {
                            let origin = c.inv.origin(&h, &k);
                            c.err(
                                "secret-type",
                                Some(&origin),
                                Some(&k),
                                e,
                                "write the secret as a quoted string (the vault's values are)",
                            );
                        }
                    }
                    continue;
                }
            };
            if raw.contains("CHANGE") {
                continue;
            }
            match plain_ref(&raw) {
                Some(r) if c.h(&h).get(&k).is_none() => {
                    if r.starts_with("vault_") && c.inv.encrypted.is_empty() {
                        missing_vault.entry(r).or_default().insert(k.clone());
                    }
                    continue;
                }
                Some(r) => {
                    // The referenced variable is checked itself, by this one's rules too.
                    users.entry(r).or_default().insert(k.clone());
                    continue;
                }
                None => {}
            }
            if raw.contains("{{") || raw.is_empty() {
                continue;
            }
            values.entry(k).or_insert((raw, h.clone()));
        }
    }
    for (r, users) in &missing_vault {
        let users: Vec<&str> = users.iter().map(String::as_str).collect();
        c.err(
            "secrets",
            None,
            Some(r),
            format!("no vault file defines it (used by {})", users.join(", ")),
            "write the vault with `matrixha secrets --out <inventory>/group_vars/all/vault.yml`",
        );
    }
    let mut by_value: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (k, (v, h)) in &values {
        let origin = c.inv.origin(h, k);
        let mut judges: Vec<(SecretJudge, &str)> = Vec::new();
        for name in std::iter::once(k).chain(users.get(k).into_iter().flatten()) {
            if let Some(j) = secret_judge(name) {
                if !judges.iter().any(|(x, _)| *x == j) {
                    judges.push((j, name.as_str()));
                }
            }
        }
        if judges.is_empty() {
            let min = own_min_len(k);
            let n = v.chars().count();
            if n < min {
                c.err(
                    "secret-short",
                    Some(&origin),
                    Some(k),
                    format!("the secret is {n} characters long, under {min}"),
                    "generate a new one with `matrixha secrets` (40 random characters)",
                );
            }
        }
        for (j, user) in judges {
            if let Some((rule, problem, fix)) = judge_secret(j, v) {
                let problem = if user == k {
                    problem
                } else {
                    format!("{problem} (it is passed on as {user})")
                };
                c.err(rule, Some(&origin), Some(k), problem, fix);
            }
        }
        if secrets::spec(k).is_some_and(|s| {
            matches!(
                s.kind,
                secrets::Kind::Ident(_) | secrets::Kind::Htpasswd { .. }
            )
        }) {
            continue;
        }
        by_value.entry(v.as_str()).or_default().push(k.as_str());
    }
    for (_, names) in by_value {
        if names.len() > 1 {
            c.err(
                "secret-reused",
                None,
                Some(names[0]),
                format!(
                    "{} hold the same secret: one leak opens every component",
                    names.join(", ")
                ),
                "give each component its own secret (`matrixha secrets` does)",
            );
        }
    }
}
