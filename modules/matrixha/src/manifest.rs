//! MDAD's variable manifest (reference/mdad-variables.json): what a vars.yml may set (DN-12).
//!
//! Ansible silently ignores a variable no role reads, so a misspelt or renamed
//! MDAD variable is a setting that never happens. The manifest lists, for a
//! pinned MDAD commit, the settable names, the computed ones (set by MDAD
//! itself), renamed ones (old → new) and banned patterns (MDAD's own
//! validation fails the play on them).

use crate::error::{read_file, CliError, Result};
use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// The project's copy, refreshed with scripts/refresh-mdad-manifest.py.
pub const EMBEDDED: &str = include_str!("../../../reference/mdad-variables.json");

#[derive(Debug, Deserialize)]
struct Raw {
    playbook: Playbook,
    settable: BTreeMap<String, String>,
    computed: BTreeMap<String, String>,
    renamed: BTreeMap<String, String>,
    banned_patterns: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Playbook {
    pub source: String,
    pub commit: String,
    pub migration_expected_version: String,
}

pub struct Manifest {
    pub playbook: Playbook,
    pub settable: BTreeMap<String, String>,
    pub computed: BTreeMap<String, String>,
    pub renamed: BTreeMap<String, String>,
    pub banned: Vec<(String, Pattern)>,
}

/// What the manifest says about one variable name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Settable,
    /// The operator's own vault variables (`vault_*`): MDAD never reads them, they feed values.
    VaultVar,
    Banned {
        pattern: String,
        replacement: Option<String>,
    },
    Renamed {
        to: String,
    },
    Computed {
        role: String,
    },
    Unknown {
        near: Vec<String>,
    },
}

impl Manifest {
    pub fn parse(text: &str, origin: &str) -> Result<Manifest> {
        let bad = |e: String| {
            CliError::new(
                format!("{origin}: not an MDAD manifest: {e}"),
                "regenerate it with scripts/refresh-mdad-manifest.py",
            )
        };
        // Syntax from serde_json (its messages name a place, not a value), types
        // through the modules' deserializer, which describes a wrong value.
        let doc: serde_json::Value = serde_json::from_str(text).map_err(|e| bad(e.to_string()))?;
        let raw: Raw = matrixha_module::from_value(doc).map_err(|e| bad(e.to_string()))?;
        let mut banned = Vec::new();
        for p in raw.banned_patterns {
            let pat = Pattern::compile(&p).ok_or_else(|| {
                CliError::new(
                    format!(
                        "{origin}: banned pattern '{p}' uses regex syntax matrixha does not read"
                    ),
                    "keep patterns to ^, $, literals, (a|b) groups and .+ / .*",
                )
            })?;
            banned.push((p, pat));
        }
        Ok(Manifest {
            playbook: raw.playbook,
            settable: raw.settable,
            computed: raw.computed,
            renamed: raw.renamed,
            banned,
        })
    }

    pub fn load(path: Option<&Path>) -> Result<Manifest> {
        match path {
            Some(p) => Manifest::parse(&read_file(p)?, &p.display().to_string()),
            None => Manifest::parse(EMBEDDED, "reference/mdad-variables.json (built in)"),
        }
    }

    pub fn verdict(&self, name: &str) -> Verdict {
        if name.starts_with("vault_") {
            return Verdict::VaultVar;
        }
        if let Some((p, _)) = self.banned.iter().find(|(_, pat)| pat.matches(name)) {
            // MDAD dropped the matrix_ prefix of the roles it moved to MASH
            // (matrix_coturn_* → coturn_*): point at the new name when it exists.
            let replacement = name
                .strip_prefix("matrix_")
                .filter(|n| self.settable.contains_key(*n))
                .map(str::to_owned)
                .or_else(|| self.renamed.get(name).cloned())
                // Synapse Admin became Ketesa (DN-12).
                .or_else(|| {
                    name.strip_prefix("matrix_synapse_admin_")
                        .map(|rest| format!("matrix_ketesa_{rest}"))
                        .filter(|n| self.settable.contains_key(n))
                });
            return Verdict::Banned {
                pattern: p.clone(),
                replacement,
            };
        }
        if let Some(to) = self.renamed.get(name) {
            return Verdict::Renamed { to: to.clone() };
        }
        if let Some(role) = self.computed.get(name) {
            return Verdict::Computed { role: role.clone() };
        }
        if self.settable.contains_key(name) {
            return Verdict::Settable;
        }
        Verdict::Unknown {
            near: self.near(name),
        }
    }

    /// Settable names sharing the longest prefix with `name` (at most 3).
    fn near(&self, name: &str) -> Vec<String> {
        let common = |a: &str| {
            a.chars()
                .zip(name.chars())
                .take_while(|(x, y)| x == y)
                .count()
        };
        let best = self.settable.keys().map(|k| common(k)).max().unwrap_or(0);
        if best < name.find('_').map(|i| i + 2).unwrap_or(usize::MAX) {
            return vec![];
        }
        let set: BTreeSet<&String> = self.settable.keys().filter(|k| common(k) == best).collect();
        set.into_iter().take(3).cloned().collect()
    }
}

/// The subset of regular expressions the manifest's banned patterns use.
#[derive(Debug, Clone)]
pub struct Pattern {
    anchored_start: bool,
    nodes: Vec<Node>,
}

#[derive(Debug, Clone)]
enum Node {
    Lit(char),
    /// `.` with a minimum count (0 for `.*`, 1 for `.+`, exactly one when `exact`).
    Any {
        min: usize,
        exact: bool,
    },
    Alt(Vec<Vec<Node>>),
    End,
}

impl Pattern {
    pub fn compile(p: &str) -> Option<Pattern> {
        let chars: Vec<char> = p.chars().collect();
        let (anchored_start, start) = if chars.first() == Some(&'^') {
            (true, 1)
        } else {
            (false, 0)
        };
        let (nodes, used) = parse_seq(&chars, start, false)?;
        if used != chars.len() {
            return None;
        }
        Some(Pattern {
            anchored_start,
            nodes,
        })
    }

    pub fn matches(&self, s: &str) -> bool {
        let chars: Vec<char> = s.chars().collect();
        if self.anchored_start {
            return m(&self.nodes, &chars, 0, &mut Vec::new());
        }
        (0..=chars.len()).any(|i| m(&self.nodes, &chars, i, &mut Vec::new()))
    }
}

fn parse_seq(c: &[char], mut i: usize, in_group: bool) -> Option<(Vec<Node>, usize)> {
    let mut out = Vec::new();
    while i < c.len() {
        match c[i] {
            '(' => {
                let mut alts = Vec::new();
                i += 1;
                loop {
                    let (seq, j) = parse_seq(c, i, true)?;
                    alts.push(seq);
                    match c.get(j) {
                        Some('|') => i = j + 1,
                        Some(')') => {
                            i = j + 1;
                            break;
                        }
                        _ => return None,
                    }
                }
                out.push(Node::Alt(alts));
            }
            '|' | ')' if in_group => return Some((out, i)),
            '.' => {
                match c.get(i + 1) {
                    Some('+') => {
                        out.push(Node::Any {
                            min: 1,
                            exact: false,
                        });
                        i += 2;
                    }
                    Some('*') => {
                        out.push(Node::Any {
                            min: 0,
                            exact: false,
                        });
                        i += 2;
                    }
                    _ => {
                        out.push(Node::Any {
                            min: 1,
                            exact: true,
                        });
                        i += 1;
                    }
                }
                continue;
            }
            '$' if i + 1 == c.len() => {
                out.push(Node::End);
                i += 1;
                continue;
            }
            ch if ch.is_ascii_alphanumeric() || ch == '_' || ch == '-' => {
                if matches!(c.get(i + 1), Some('+' | '*' | '?' | '{')) {
                    return None;
                }
                out.push(Node::Lit(ch));
            }
            _ => return None,
        }
        if !matches!(out.last(), Some(Node::Alt(_))) {
            i += 1;
        }
    }
    Some((out, i))
}

/// Backtracking match of `nodes` (then `rest`, the continuation) at position `i`.
fn m(nodes: &[Node], s: &[char], i: usize, rest: &mut Vec<Vec<Node>>) -> bool {
    let Some((first, tail)) = nodes.split_first() else {
        return match rest.pop() {
            Some(next) => {
                let ok = m(&next, s, i, rest);
                rest.push(next);
                ok
            }
            None => true,
        };
    };
    match first {
        Node::Lit(ch) => s.get(i) == Some(ch) && m(tail, s, i + 1, rest),
        Node::End => i == s.len() && m(tail, s, i, rest),
        Node::Any { min, exact: true } => i + min <= s.len() && m(tail, s, i + min, rest),
        Node::Any { min, exact: false } => (i + min..=s.len()).rev().any(|j| m(tail, s, j, rest)),
        Node::Alt(alts) => alts.iter().any(|alt| {
            rest.push(tail.to_vec());
            let ok = m(alt, s, i, rest);
            rest.pop();
            ok
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_banned_pattern_of_the_manifest_compiles() {
        let man = Manifest::load(None).unwrap();
        assert!(man.banned.len() > 10);
    }

    #[test]
    fn patterns_match_like_regexes() {
        let p = Pattern::compile("^matrix_synapse_admin_(enabled|base_path|http_)").unwrap();
        assert!(p.matches("matrix_synapse_admin_enabled"));
        assert!(p.matches("matrix_synapse_admin_http_foo"));
        assert!(!p.matches("matrix_synapse_admin_contact"));
        let p = Pattern::compile("^matrix_mx_puppet_skype_enabled$").unwrap();
        assert!(p.matches("matrix_mx_puppet_skype_enabled"));
        assert!(!p.matches("matrix_mx_puppet_skype_enabled_x"));
        let p = Pattern::compile("^matrix_coturn_.+").unwrap();
        assert!(p.matches("matrix_coturn_turn_static_auth_secret"));
        assert!(!p.matches("matrix_coturn_"));
        let p = Pattern::compile("^matrix_(a|bb)_.+").unwrap();
        assert!(p.matches("matrix_bb_x") && p.matches("matrix_a_x") && !p.matches("matrix_c_x"));
        assert!(Pattern::compile("^a[bc]").is_none());
    }

    #[test]
    fn seed_variables_get_their_verdicts() {
        let man = Manifest::load(None).unwrap();
        assert!(matches!(
            man.verdict("matrix_coturn_turn_static_auth_secret"),
            Verdict::Banned { replacement: Some(ref r), .. } if r == "coturn_turn_static_auth_secret"
        ));
        assert!(matches!(
            man.verdict("matrix_synapse_caches_per_cache_factors"),
            Verdict::Unknown { .. }
        ));
        assert!(matches!(
            man.verdict("matrix_synapse_admin_enabled"),
            Verdict::Banned { .. }
        ));
        assert!(matches!(
            man.verdict("coturn_turn_uris"),
            Verdict::Computed { .. }
        ));
        assert_eq!(
            man.verdict("matrix_synapse_workers_preset"),
            Verdict::Settable
        );
        assert!(matches!(
            man.verdict("cinny_docker_image"),
            Verdict::Renamed { .. }
        ));
    }
}
