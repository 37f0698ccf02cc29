//! Reads an Ansible inventory directory (hosts.yml, group_vars/, host_vars/) the way Ansible merges it.

use crate::error::{read_file, CliError, Result};
use serde_yaml::{Mapping, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

#[derive(Debug, Default, Clone)]
pub struct Group {
    pub hosts: BTreeSet<String>,
    pub children: BTreeSet<String>,
    pub vars: Mapping,
}

#[derive(Debug, Default, Clone)]
pub struct Inventory {
    pub root: PathBuf,
    pub groups: BTreeMap<String, Group>,
    pub host_vars: BTreeMap<String, Mapping>,
    /// Files that are Ansible Vault ciphertext and were not decrypted.
    pub encrypted: Vec<PathBuf>,
}

/// Decrypts one vault file to its plaintext.
pub type Decrypt<'a> = &'a dyn Fn(&Path) -> Result<String>;

pub const VAULT_HEADER: &str = "$ANSIBLE_VAULT";

fn parse_yaml(path: &Path, text: &str) -> Result<Value> {
    serde_yaml::from_str(text).map_err(|e| {
        CliError::new(
            format!(
                "{}: not valid YAML: {}",
                path.display(),
                crate::typed::yaml_error(&e)
            ),
            "fix the syntax (ansible-inventory -i ... --list shows the same error)",
        )
    })
}

fn as_map(v: Value) -> Mapping {
    match v {
        Value::Mapping(m) => m,
        _ => Mapping::new(),
    }
}

impl Inventory {
    /// `path` is an inventory directory holding hosts.yml, or a hosts file whose
    /// directory holds group_vars/ and host_vars/.
    pub fn load(path: &Path, decrypt: Option<Decrypt<'_>>) -> Result<Inventory> {
        let (root, hosts_file) = if path.is_dir() {
            let f = ["hosts.yml", "hosts.yaml", "hosts"]
                .iter()
                .map(|n| path.join(n))
                .find(|p| p.is_file())
                .ok_or_else(|| {
                    CliError::new(
                        format!("{} has no hosts.yml", path.display()),
                        "point -i at an inventory written by `matrixha init`",
                    )
                })?;
            (path.to_path_buf(), f)
        } else {
            (
                path.parent().unwrap_or(Path::new(".")).to_path_buf(),
                path.to_path_buf(),
            )
        };
        let mut inv = Inventory {
            root: root.clone(),
            ..Default::default()
        };
        inv.groups.insert("all".into(), Group::default());
        let text = read_file(&hosts_file)?;
        let doc = parse_yaml(&hosts_file, &text)?;
        if let Value::Mapping(top) = doc {
            for (k, v) in top {
                if let Some(name) = k.as_str() {
                    inv.read_group(name, v);
                }
            }
        }
        for (dir, is_group) in [("group_vars", true), ("host_vars", false)] {
            let d = root.join(dir);
            if !d.is_dir() {
                continue;
            }
            let mut entries: Vec<PathBuf> = std::fs::read_dir(&d)
                .map_err(|e| CliError::new(format!("cannot list {}: {e}", d.display()), ""))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .collect();
            entries.sort();
            for p in entries {
                let name = p
                    .file_stem()
                    .and_then(|s| s.to_str())
                    .unwrap_or_default()
                    .to_owned();
                let files: Vec<PathBuf> = if p.is_dir() {
                    let mut f: Vec<PathBuf> = std::fs::read_dir(&p)
                        .map_err(|e| {
                            CliError::new(format!("cannot list {}: {e}", p.display()), "")
                        })?
                        .filter_map(|e| e.ok().map(|e| e.path()))
                        .filter(|f| {
                            matches!(
                                f.extension().and_then(|e| e.to_str()),
                                Some("yml" | "yaml" | "json")
                            )
                        })
                        .collect();
                    f.sort();
                    f
                } else if matches!(
                    p.extension().and_then(|e| e.to_str()),
                    Some("yml" | "yaml" | "json") | None
                ) {
                    vec![p.clone()]
                } else {
                    vec![]
                };
                let name = if p.is_dir() {
                    p.file_name()
                        .and_then(|s| s.to_str())
                        .unwrap_or_default()
                        .to_owned()
                } else {
                    name
                };
                for f in files {
                    let text = read_file(&f)?;
                    let text = if text.starts_with(VAULT_HEADER) {
                        match decrypt {
                            Some(d) => d(&f)?,
                            None => {
                                inv.encrypted.push(f.clone());
                                continue;
                            }
                        }
                    } else {
                        text
                    };
                    let vars = as_map(parse_yaml(&f, &text)?);
                    let target = if is_group {
                        &mut inv.groups.entry(name.clone()).or_default().vars
                    } else {
                        inv.host_vars.entry(name.clone()).or_default()
                    };
                    for (k, v) in vars {
                        target.insert(k, v);
                    }
                }
            }
        }
        Ok(inv)
    }

    fn read_group(&mut self, name: &str, v: Value) {
        self.groups.entry(name.to_owned()).or_default();
        let Value::Mapping(m) = v else { return };
        if let Some(Value::Mapping(hosts)) = m.get("hosts") {
            for (h, hv) in hosts {
                let Some(h) = h.as_str() else { continue };
                self.groups
                    .entry(name.to_owned())
                    .or_default()
                    .hosts
                    .insert(h.to_owned());
                let entry = self.host_vars.entry(h.to_owned()).or_default();
                if let Value::Mapping(vars) = hv {
                    for (k, v) in vars {
                        entry.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        if let Some(Value::Mapping(vars)) = m.get("vars") {
            let g = self.groups.entry(name.to_owned()).or_default();
            for (k, v) in vars {
                g.vars.insert(k.clone(), v.clone());
            }
        }
        if let Some(Value::Mapping(children)) = m.get("children") {
            for (c, cv) in children {
                let Some(c) = c.as_str() else { continue };
                self.groups
                    .entry(name.to_owned())
                    .or_default()
                    .children
                    .insert(c.to_owned());
                self.read_group(c, cv.clone());
            }
        }
    }

    /// Every host, sorted.
    pub fn hosts(&self) -> BTreeSet<String> {
        let mut all: BTreeSet<String> = self.host_vars.keys().cloned().collect();
        for g in self.groups.values() {
            all.extend(g.hosts.iter().cloned());
        }
        all
    }

    /// Hosts of `group` and of its children, in inventory order (sorted by name).
    pub fn group_hosts(&self, group: &str) -> Vec<String> {
        if group == "all" {
            return self.hosts().into_iter().collect();
        }
        let mut out = BTreeSet::new();
        let mut seen = BTreeSet::new();
        self.collect(group, &mut out, &mut seen);
        let mut v: Vec<String> = out.into_iter().collect();
        v.sort_by_key(|a| natural(a));
        v
    }

    fn collect(&self, group: &str, out: &mut BTreeSet<String>, seen: &mut BTreeSet<String>) {
        if !seen.insert(group.to_owned()) {
            return;
        }
        if let Some(g) = self.groups.get(group) {
            out.extend(g.hosts.iter().cloned());
            for c in &g.children {
                self.collect(c, out, seen);
            }
        }
    }

    pub fn has_group(&self, group: &str) -> bool {
        self.groups.contains_key(group)
    }

    fn depth(&self, group: &str) -> usize {
        if group == "all" {
            return 0;
        }
        let parents: Vec<&String> = self
            .groups
            .iter()
            .filter(|(_, g)| g.children.contains(group))
            .map(|(n, _)| n)
            .collect();
        1 + parents
            .iter()
            .map(|p| {
                if p.as_str() == group {
                    0
                } else {
                    self.depth(p)
                }
            })
            .max()
            .unwrap_or(0)
    }

    /// Groups `host` belongs to (directly or through children), lowest precedence first.
    pub fn groups_of(&self, host: &str) -> Vec<String> {
        let mut gs: Vec<(usize, String)> = self
            .groups
            .keys()
            .filter(|g| g.as_str() == "all" || self.group_hosts(g).iter().any(|h| h == host))
            .map(|g| (self.depth(g), g.clone()))
            .collect();
        gs.sort();
        gs.into_iter().map(|(_, g)| g).collect()
    }

    /// The variables Ansible gives `host`: all, then groups by depth, then host vars.
    pub fn vars(&self, host: &str) -> Mapping {
        let mut m = Mapping::new();
        for g in self.groups_of(host) {
            if let Some(gr) = self.groups.get(&g) {
                for (k, v) in &gr.vars {
                    m.insert(k.clone(), v.clone());
                }
            }
        }
        if let Some(hv) = self.host_vars.get(host) {
            for (k, v) in hv {
                m.insert(k.clone(), v.clone());
            }
        }
        m
    }

    /// Where a variable set for `host` comes from: "host_vars", or the group.
    pub fn origin(&self, host: &str, var: &str) -> String {
        if self
            .host_vars
            .get(host)
            .is_some_and(|m| m.contains_key(var))
        {
            return format!("host {host}");
        }
        for g in self.groups_of(host).iter().rev() {
            if self
                .groups
                .get(g)
                .is_some_and(|gr| gr.vars.contains_key(var))
            {
                return format!("group_vars/{g}");
            }
        }
        format!("host {host}")
    }
}

/// `patroni10` after `patroni9`.
pub fn natural(s: &str) -> (String, u64) {
    let digits: String = s.chars().rev().take_while(|c| c.is_ascii_digit()).collect();
    let n: String = digits.chars().rev().collect();
    (s[..s.len() - n.len()].to_owned(), n.parse().unwrap_or(0))
}

/// A variable lookup that follows plain `{{ other_var }}` references, as Ansible would.
#[derive(Debug, Clone)]
pub struct HostVars {
    pub host: String,
    pub vars: Mapping,
}

impl HostVars {
    pub fn new(inv: &Inventory, host: &str) -> HostVars {
        HostVars {
            host: host.to_owned(),
            vars: inv.vars(host),
        }
    }

    pub fn raw(&self, name: &str) -> Option<&Value> {
        self.vars.get(name)
    }

    /// The value with plain references resolved; None when unset or when a
    /// reference cannot be followed (a Jinja expression we do not evaluate).
    pub fn get(&self, name: &str) -> Option<Value> {
        let mut v = self.vars.get(name)?.clone();
        for _ in 0..10 {
            match v.as_str().and_then(plain_ref) {
                Some(r) => v = self.vars.get(r.as_str())?.clone(),
                None => break,
            }
        }
        if v.as_str().is_some_and(|s| s.contains("{{")) {
            return None;
        }
        Some(v)
    }

    pub fn str(&self, name: &str) -> Option<String> {
        match self.get(name)? {
            Value::String(s) => Some(s),
            Value::Number(n) => Some(n.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            _ => None,
        }
    }

    /// A whole number as the modules read it (matrixha_module::lenient).
    pub fn u32(&self, name: &str) -> Option<u32> {
        crate::typed::whole(&self.get(name)?).and_then(|n| u32::try_from(n).ok())
    }

    /// A boolean in Ansible's spellings (matrixha_module::lenient::parse_bool).
    pub fn bool(&self, name: &str) -> Option<bool> {
        match self.get(name)? {
            Value::Bool(b) => Some(b),
            Value::String(s) => matrixha_module::lenient::parse_bool(&s),
            _ => None,
        }
    }

    pub fn list(&self, name: &str) -> Option<Vec<String>> {
        match self.get(name)? {
            Value::Sequence(s) => Some(
                s.iter()
                    .filter_map(|v| match v {
                        Value::String(s) => Some(s.clone()),
                        Value::Number(n) => Some(n.to_string()),
                        _ => None,
                    })
                    .collect(),
            ),
            Value::String(s) if !s.is_empty() => Some(vec![s]),
            _ => None,
        }
    }
}

/// `{{ name }}` → `name`.
pub fn plain_ref(s: &str) -> Option<String> {
    let inner = s.trim().strip_prefix("{{")?.strip_suffix("}}")?.trim();
    if !inner.is_empty() && inner.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        Some(inner.to_owned())
    } else {
        None
    }
}
