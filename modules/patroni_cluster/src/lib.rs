//! `matrixha.stack.patroni_cluster`: Patroni node config, cluster state, dynamic config, operations, database.

pub mod apply;
pub mod database;
pub mod observe;
pub mod ops;
pub mod params;
pub mod plan;
pub mod render;
pub mod rest;

use matrixha_module::{file, Ctx, Module, ModuleError, Outcome};
pub use params::Params;
use params::{
    check_timing, Action, Condition, DEFAULT_LOOP_WAIT, DEFAULT_RETRY_TIMEOUT, DEFAULT_TTL,
};
use rest::Api;
use serde_json::Value;
use std::path::Path;
use std::time::{Duration, Instant};

pub struct PatroniCluster;

impl Module for PatroniCluster {
    const NAME: &'static str = "patroni_cluster";
    type Params = Params;

    fn run(p: Params, ctx: &Ctx) -> Result<Outcome, ModuleError> {
        p.validate()?;
        match p.action {
            Action::Config => node_config(&p, ctx),
            Action::Facts => facts(&p),
            Action::WaitFor => wait_for(&p),
            Action::DynamicConfig => dynamic_config(&p, ctx),
            Action::Switchover => ops::switchover(&p, ctx),
            Action::Failover => ops::failover(&p, ctx),
            Action::Restart => ops::restart(&p, ctx),
            Action::Reinitialize => ops::reinitialize(&p, ctx),
            Action::Database => ensure_database(&p, ctx),
        }
    }
}

fn node_config(p: &Params, ctx: &Ctx) -> Result<Outcome, ModuleError> {
    let want = render::patroni_yml(p, false);
    let path = Path::new(&p.path);
    let now = file::read_optional(path)?;
    let own = p.ownership()?;
    let content_changes = now.as_deref() != Some(want.as_str());
    let owner_changes = file::ownership_differs(&own, file::observed_ownership(path).as_ref());
    let mut out = Outcome::changed_if(content_changes || owner_changes).field("path", &p.path);
    // Rendering cannot prove the binaries exist; Patroni would fail only when it starts.
    if let Some(bin) = &p.bin_dir {
        if !Path::new(bin).join("postgres").exists() {
            out = out.warn(format!(
                "{bin}/postgres does not exist on this host; install PostgreSQL before starting Patroni, or fix bin_dir"
            ));
        }
    }
    if content_changes {
        // The diff shows the file with every password replaced; a changed password
        // shows as no line change, so say so.
        let before = now.as_deref().map(mask_file).unwrap_or_default();
        out = out.diff(&p.path, before, render::patroni_yml(p, true));
    }
    let mut reloaded = false;
    if (content_changes || owner_changes) && !ctx.check_mode {
        apply::write_config(p, &want)?;
        if content_changes {
            let (done, warning) = apply::reload(p)?;
            reloaded = done;
            if let Some(w) = warning {
                out = out.warn(w);
            }
        }
    }
    Ok(out.field("reloaded", reloaded))
}

/// The current file with its passwords masked, so diffs never carry them.
fn mask_file(text: &str) -> String {
    let mut doc: serde_yaml::Value = match serde_yaml::from_str(text) {
        Ok(d) => d,
        Err(_) => return "(unparsable previous file)\n".into(),
    };
    fn walk(v: &mut serde_yaml::Value) {
        if let serde_yaml::Value::Mapping(m) = v {
            for (k, val) in m.iter_mut() {
                if k.as_str() == Some("password") {
                    *val = serde_yaml::Value::String(render::MASKED.into());
                } else {
                    walk(val);
                }
            }
        }
    }
    walk(&mut doc);
    let header = text
        .lines()
        .next()
        .filter(|l| l.starts_with('#'))
        .map(|l| format!("{l}\n"))
        .unwrap_or_default();
    format!(
        "{header}{}",
        serde_yaml::to_string(&doc).unwrap_or_default()
    )
}

fn facts(p: &Params) -> Result<Outcome, ModuleError> {
    let c = observe::cluster(&Api::new(p)?)?;
    Ok(Outcome::unchanged()
        .field("cluster", &c)
        .fact("patroni_cluster", &c))
}

fn wait_for(p: &Params) -> Result<Outcome, ModuleError> {
    let api = Api::new(p)?;
    let cond = p.condition.unwrap_or(Condition::Leader);
    let what = format!(
        "condition {}",
        serde_json::to_value(cond)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default()
    );
    let (c, elapsed) = apply::settle(&api, Duration::from_secs(p.timeout), &what, |c| {
        plan::condition_met(c, cond, p.count, p.member.as_deref())
    })?;
    Ok(Outcome::unchanged()
        .field("elapsed", elapsed)
        .field("cluster", &c))
}

fn yaml(v: &Value) -> String {
    // serde_json's Map is ordered by key (no preserve_order), so the text is stable.
    serde_yaml::to_string(v).unwrap_or_default()
}

fn dynamic_config(p: &Params, ctx: &Ctx) -> Result<Outcome, ModuleError> {
    let api = Api::new(p)?;
    let current = api.get("/config")?;
    let desired = plan::desired_config(&p.dcs);
    let patch = plan::config_patch(&current, &desired);
    let after = plan::merged(&current, &patch);
    let num = |k: &str, d: u32| {
        after
            .get(k)
            .and_then(Value::as_u64)
            .map(|v| v.min(u32::MAX as u64) as u32)
            .unwrap_or(d)
    };
    check_timing(
        "dcs",
        num("ttl", DEFAULT_TTL),
        num("loop_wait", DEFAULT_LOOP_WAIT),
        num("retry_timeout", DEFAULT_RETRY_TIMEOUT),
    )?;
    let mut out = Outcome::changed_if(!patch.is_empty()).field("patch", &patch);
    if !patch.is_empty() {
        out = out.diff("/config", yaml(&current), yaml(&after));
    }
    if ctx.check_mode {
        let c = observe::cluster(&api)?;
        let mut would = c.pending_restart.clone();
        if p.restart_pending && !would.is_empty() {
            out.changed = true;
        }
        if !p.restart_pending {
            would.clear();
        }
        return Ok(out.field("restarted", would).field("cluster", &c));
    }
    if !patch.is_empty() {
        api.patch_config(&Value::Object(patch.clone()))?;
    }
    let mut c = observe::cluster(&api)?;
    let mut restarted: Vec<String> = Vec::new();
    if p.restart_pending {
        let touched_parameters = patch
            .get("postgresql")
            .and_then(|pg| pg.get("parameters"))
            .is_some();
        if touched_parameters {
            // Members notice the new parameters on their next HA loop and only then
            // flag pending_restart; give every member three loops to do so.
            let wait = Duration::from_secs(3 * u64::from(num("loop_wait", DEFAULT_LOOP_WAIT)) + 5);
            let start = Instant::now();
            while start.elapsed() < wait {
                c = observe::cluster(&api)?;
                if !c.pending_restart.is_empty()
                    && c.members
                        .iter()
                        .filter(|m| m.runs())
                        .all(|m| m.pending_restart)
                {
                    break;
                }
                std::thread::sleep(Duration::from_millis(500));
            }
        }
        let order = plan::restart_order(&c, true, None);
        if !order.is_empty() {
            c = ops::restart_members(p, &api, &c, &order)?;
            restarted = order;
            out.changed = true;
        }
    } else if !c.pending_restart.is_empty() {
        out = out.warn(format!(
            "pending restart on {} (set restart_pending: true to restart them)",
            c.pending_restart.join(", ")
        ));
    }
    Ok(out.field("restarted", restarted).field("cluster", &c))
}

fn ensure_database(p: &Params, ctx: &Ctx) -> Result<Outcome, ModuleError> {
    let cluster = match &p.login_host {
        Some(_) => None,
        None => Some(observe::cluster(&Api::new(p)?)?),
    };
    let (host, port) = database::target(p, cluster.as_ref())?;
    let mut client = database::connect(p, &host, port)?;
    let observed = database::observe(&mut client, p)?;
    let password = p
        .db_owner_password
        .as_ref()
        .map(|s| s.expose().to_owned())
        .unwrap_or_default();
    let statements = database::plan(p, &observed, || database::new_verifier(&password))?;
    if !ctx.check_mode {
        database::apply(&mut client, &statements)?;
    }
    let shown: Vec<&str> = statements.iter().map(|s| s.shown.as_str()).collect();
    let mut out = Outcome::changed_if(!statements.is_empty())
        .field("executed_queries", &shown)
        .field("leader", format!("{host}:{port}"));
    if !statements.is_empty() {
        out = out.diff(
            "database",
            serde_yaml::to_string(&observed).unwrap_or_default(),
            format!("{}\n", shown.join(";\n")),
        );
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    /// The sidecar documentation (what ansible-doc and argument checks show) lists
    /// exactly the parameters the module accepts.
    #[test]
    fn sidecar_doc_lists_every_parameter() {
        let doc: serde_yaml::Value = serde_yaml::from_str(include_str!(
            "../../../collection/plugins/modules/patroni_cluster.yml"
        ))
        .unwrap();
        let documented: BTreeSet<String> = doc["DOCUMENTATION"]["options"]
            .as_mapping()
            .unwrap()
            .keys()
            .map(|k| k.as_str().unwrap().to_owned())
            .collect();
        let (_, p): (Ctx, Params) = matrixha_module::parse_args(r#"{"action":"facts"}"#).unwrap();
        let accepted: BTreeSet<String> = serde_json::to_value(&p)
            .unwrap()
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect();
        assert_eq!(documented, accepted);
        let dcs_doc: BTreeSet<String> = doc["DOCUMENTATION"]["options"]["dcs"]["suboptions"]
            .as_mapping()
            .unwrap()
            .keys()
            .map(|k| k.as_str().unwrap().to_owned())
            .collect();
        let dcs: BTreeSet<String> = serde_json::to_value(&p.dcs)
            .unwrap()
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect();
        assert_eq!(dcs_doc, dcs);
    }

    /// Every secret parameter of `config`, in check and diff mode: the result
    /// (diff included) never carries one of them.
    #[test]
    fn config_result_never_carries_a_secret() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("patroni.yml");
        std::fs::write(
            &path,
            "restapi:\n  authentication:\n    password: old-api-secret-123\n",
        )
        .unwrap();
        let secrets = [
            "su-secret-0001",
            "repl-secret-002",
            "rewind-secret-03",
            "api-secret-00004",
            "etcd-secret-0005",
        ];
        let args = serde_json::json!({
            "action": "config", "path": path, "scope": "s", "name": "n", "node_address": "10.0.3.11",
            "etcd3_hosts": ["10.0.3.11:2379"], "data_dir": "/d", "bin_dir": "/b", "cluster_networks": ["10.0.3.0/24"],
            "superuser_password": secrets[0], "replication_password": secrets[1], "rewind_password": secrets[2],
            "api_username": "patroni", "api_password": secrets[3], "etcd3_username": "root", "etcd3_password": secrets[4],
            "_ansible_check_mode": true, "_ansible_diff": true
        });
        let r = matrixha_module::run_with_args::<PatroniCluster>(&args.to_string());
        assert_eq!(r["changed"], true, "{r}");
        let text = r.to_string();
        for s in secrets.iter().chain(["old-api-secret-123"].iter()) {
            assert!(!text.contains(s), "{s} leaked: {text}");
        }
        assert!(
            r["diff"][0]["after"]
                .as_str()
                .unwrap()
                .contains("password: '********'"),
            "{r}"
        );
        assert!(
            std::fs::read_to_string(&path)
                .unwrap()
                .contains("old-api-secret-123"),
            "check mode kept the file"
        );
    }
}
