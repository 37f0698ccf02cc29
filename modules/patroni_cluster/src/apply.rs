//! Changes to the host and the cluster: the config file and its reload, and waiting for Patroni to settle.

use crate::observe::{self, Cluster};
use crate::params::Reload;
use crate::rest::{snippet, Api};
use crate::Params;
use matrixha_module::{file, systemd, wait, ModuleError};
use serde_json::json;
use std::path::Path;
use std::time::{Duration, Instant};

/// Writes `patroni.yml` (atomic, owner, mode); creates its directory when missing.
pub fn write_config(p: &Params, content: &str) -> Result<(), ModuleError> {
    let path = Path::new(&p.path);
    if let Some(dir) = path.parent() {
        if !dir.exists() {
            std::fs::create_dir_all(dir).map_err(|e| {
                ModuleError::param(
                    "path",
                    format!("cannot create {}: {e}", dir.display()),
                    "create the directory or choose another path",
                )
            })?;
        }
    }
    file::write_atomic(path, content.as_bytes(), &p.ownership()?, false)?;
    Ok(())
}

/// Tells a running Patroni to re-read its file. Returns whether it was told,
/// and a warning when it is not running (it reads the file when it starts).
pub fn reload(p: &Params) -> Result<(bool, Option<String>), ModuleError> {
    match p.reload {
        Reload::None => Ok((false, None)),
        Reload::Systemd => {
            if systemd::is_active(&p.service) {
                // Patroni re-reads its configuration on SIGHUP, which the unit's ExecReload sends.
                systemd::apply(&p.service, systemd::ServiceAction::Reload)?;
                Ok((true, None))
            } else {
                Ok((
                    false,
                    Some(format!(
                        "{} is not active; Patroni reads the new file when it starts",
                        p.service
                    )),
                ))
            }
        }
        Reload::Rest => {
            let api = Api::new(p)?;
            match api.post("/reload", &json!({})) {
                // 202 "reload scheduled" (3.x and 4.x); 200 on some versions.
                Ok(r) if matches!(r.status, 200 | 202) => Ok((true, None)),
                Ok(r) => Err(ModuleError::new(format!(
                    "Patroni refused POST {}/reload with {}: {}",
                    api.base,
                    r.status,
                    snippet(&r.body)
                ))
                .with_fix("see Patroni's log on this node")),
                Err(e)
                    if e.param.as_deref() == Some("api_url")
                        && e.problem.contains("cannot connect") =>
                {
                    Ok((
                        false,
                        Some(format!(
                            "Patroni is not reachable at {}; it reads the new file when it starts",
                            api.base
                        )),
                    ))
                }
                Err(e) => Err(e),
            }
        }
    }
}

/// Polls the cluster until `done` accepts it or `timeout` passes. Read errors
/// while Patroni moves the leader are "not yet", kept for the timeout message.
pub fn settle(
    api: &Api,
    timeout: Duration,
    what: &str,
    mut done: impl FnMut(&Cluster) -> Result<(), String>,
) -> Result<(Cluster, f64), ModuleError> {
    let start = Instant::now();
    let res: Result<Result<Cluster, String>, ModuleError> = wait::until(
        timeout,
        Duration::from_millis(250),
        |why| match observe::cluster(api) {
            Ok(c) => match done(&c) {
                Ok(()) => Ok(Some(c)),
                Err(missing) => {
                    *why = missing;
                    Ok(None)
                }
            },
            Err(e) => {
                *why = e.to_string();
                Ok(None)
            }
        },
    );
    match res? {
        Ok(c) => Ok((c, round(start.elapsed().as_secs_f64()))),
        Err(msg) => Err(ModuleError::param(
            "timeout",
            format!("{what}: {msg}"),
            "see `patronictl list` and Patroni's log on the members; raise timeout if the cluster is just slow",
        )),
    }
}

pub fn round(s: f64) -> f64 {
    (s * 100.0).round() / 100.0
}
