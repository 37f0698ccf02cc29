//! Keep PgBouncer's pools and users as the inventory says: sized, SCRAM secrets, reloaded through the admin console.

pub mod apply;
pub mod console;
pub mod diff;
pub mod observe;
pub mod params;
pub mod plan;
pub mod render;
pub mod rules;
pub mod sizing;

use crate::rules::{Finding, Level};
use matrixha_module::file::ownership_differs;
use matrixha_module::{Ctx, Module, ModuleError, Outcome};
pub use params::Params;
use std::time::Duration;

pub struct PgbouncerPool;

impl Module for PgbouncerPool {
    const NAME: &'static str = "pgbouncer_pool";
    type Params = Params;

    fn run(p: Params, ctx: &Ctx) -> Result<Outcome, ModuleError> {
        let pools = p.validate()?;
        let mut warnings = Vec::new();
        // The rules `matrixha check` applies too (crate::rules): errors fail, warnings warn.
        let mut finding = |param: &str, f: Finding| match f.level {
            Level::Error => Err(ModuleError::param(param, f.problem, f.fix)),
            Level::Warning => {
                warnings.push(format!("{param}: {}. Fix: {}", f.problem, f.fix));
                Ok(())
            }
        };
        if let Some((mode, param)) = p.synapse_pool_mode() {
            if let Some(f) = rules::pool_mode_finding(mode, p.session_settings_per_role) {
                finding(&param, f)?;
            }
        }
        if let Some(f) = rules::listen_addr_finding(&p.listen_addr) {
            finding("listen_addr", f)?;
        }

        if p.verifier_source.is_none() {
            let app_users: Vec<&str> = p
                .users
                .iter()
                .filter(|u| u.encryption == params::AuthType::ScramSha256)
                .filter(|u| !p.admin_users.contains(&u.name) && !p.stats_users.contains(&u.name))
                .map(|u| u.name.as_str())
                .collect();
            if !app_users.is_empty() {
                warnings.push(format!(
                    "verifier_source is not set: the SCRAM secrets of {} have this module's own salt, and \
                     PgBouncer can log in to PostgreSQL with a SCRAM secret only when the server stores the \
                     same verifier; set verifier_source so the server's verifiers are copied",
                    app_users.join(", ")
                ));
            }
        }
        let want_ini = render::pgbouncer_ini(&p, &pools);
        let files = observe::files(&p)?;
        let server = match observe::server_target(&p) {
            Some(t) => {
                let names: Vec<&str> = p
                    .users
                    .iter()
                    .filter(|u| u.encryption == params::AuthType::ScramSha256)
                    .map(|u| u.name.as_str())
                    .collect();
                match observe::server_verifiers(&t, &names) {
                    Ok(v) => Some(v),
                    // Before the DB tier exists (a first --check run) the
                    // prediction can still be made: every secret will be written.
                    Err(e) if ctx.check_mode => {
                        warnings.push(format!("check mode: {e}; secrets predicted as new"));
                        None
                    }
                    Err(e) => return Err(e),
                }
            }
            None => None,
        };
        let (auth_entries, new_secrets) =
            observe::desired_auth(&p, files.auth.as_deref(), server.as_ref())?;
        let want_auth = render::auth_file(&auth_entries);
        let own = p.ownership()?;
        let current_users: Vec<String> = files
            .auth
            .as_deref()
            .map(render::parse_auth_file)
            .unwrap_or_default()
            .into_iter()
            .map(|(u, _)| u)
            .collect();
        let db_names: Vec<String> = p.databases.iter().map(|d| d.name.clone()).collect();
        let target = observe::target(&p);

        // PAUSE/RESUME needs the console's view before planning.
        let paused_now = match (&p.paused, &target) {
            (None, _) => None,
            (Some(_), None) => {
                return Err(ModuleError::param(
                    "paused",
                    "PAUSE/RESUME go through the admin console, and admin is not set",
                    "set admin (host, user, password)",
                ))
            }
            (Some(_), Some(t)) => {
                let mut c =
                    console::Console::connect(t).map_err(|e| observe::console_error(t, e))?;
                Some(observe::paused(&mut c, &db_names).map_err(|e| observe::console_error(t, e))?)
            }
        };

        let plan = plan::changes(&plan::Inputs {
            config_path: &p.path,
            auth_path: &p.auth_file,
            current_ini: files.ini.as_deref(),
            desired_ini: &want_ini,
            ini_ownership_differs: ownership_differs(&own, files.ini_ownership.as_ref()),
            current_users: current_users.clone(),
            desired_users: auth_entries.iter().map(|(u, _)| u.clone()).collect(),
            new_secrets: new_secrets.clone(),
            auth_content_differs: files.auth.as_deref() != Some(want_auth.expose()),
            auth_ownership_differs: ownership_differs(&own, files.auth_ownership.as_ref()),
            service: &p.service,
            service_action: p.service_action,
            want_paused: p.paused,
            databases: db_names,
            paused_now,
        });
        if plan.restart_required {
            warnings.push(format!(
                "{} changed and PgBouncer reads these settings only at start: restart {} \
                 (service_action is {})",
                plan.restart_settings.join(", "),
                p.service,
                p.service_action.as_str()
            ));
        }

        let mut shown = None;
        if !ctx.check_mode {
            // Reach the console before touching a file: a RELOAD that cannot be
            // sent would leave new files PgBouncer does not run with.
            let early = match (&target, apply::needs_console(&plan.changes)) {
                (Some(t), true) => Some(apply::connect(t, Duration::from_secs(2))?),
                _ => None,
            };
            apply::write_files(
                &plan.changes,
                &apply::Content {
                    ini: &want_ini,
                    auth: want_auth.expose(),
                    ownership: &own,
                },
            )?;
            let console = apply::service_changes(&plan.changes, target.as_ref(), early)?;
            if let Some(t) = &target {
                // After a restart PgBouncer needs a moment to listen again.
                let mut c = match console {
                    Some(c) => c,
                    None => apply::connect(t, Duration::from_secs(t.timeout.as_secs().max(2)))?,
                };
                let facts = observe::show(&mut c).map_err(|e| observe::console_error(t, e))?;
                verify_applied(
                    &facts,
                    &p,
                    &pools,
                    plan.reload_required || plan.restart_required,
                )?;
                shown = Some(facts);
            }
        } else if let Some(t) = &target {
            // Check mode reports what runs now when it can, and never fails for it.
            match console::Console::connect(t).and_then(|mut c| observe::show(&mut c)) {
                Ok(f) => shown = Some(f),
                Err(e) => warnings.push(format!(
                    "check mode: admin console not readable, facts omitted ({})",
                    e
                )),
            }
        }

        let changed = !plan.changes.is_empty();
        let mut out = Outcome::changed_if(changed)
            .field("path", &p.path)
            .field("auth_file", &p.auth_file)
            .field("changes", &plan.changes)
            .field("reload_required", plan.reload_required)
            .field("restart_required", plan.restart_required)
            .field("users_with_new_secret", &new_secrets)
            .field("pools", &pools);
        if let Some(s) = shown {
            out = out.field("pgbouncer", s);
        }
        // Before texts are files the module takes over: they may hold secrets it never wrote.
        if files.ini.as_deref() != Some(want_ini.as_str()) {
            let (before, after) = diff::ini(files.ini.as_deref().unwrap_or_default(), &want_ini);
            out = out.diff(&p.path, before, after);
        }
        if files.auth.as_deref() != Some(want_auth.expose()) {
            let (before, after) = diff::auth_file(
                files.auth.as_deref().unwrap_or_default(),
                want_auth.expose(),
            );
            out = out.diff(&p.auth_file, before, after);
        }
        for w in warnings {
            out = out.warn(w);
        }
        Ok(out)
    }
}

/// After RELOAD/restart, SHOW CONFIG must hold what was written; PgBouncer
/// logs and ignores a bad file on RELOAD, which would otherwise look like success.
fn verify_applied(
    facts: &serde_json::Value,
    p: &Params,
    pools: &params::Pools,
    left_to_others: bool,
) -> Result<(), ModuleError> {
    if left_to_others {
        return Ok(());
    }
    let expect = [
        ("pool_mode", p.pool_mode.as_str().to_owned()),
        ("default_pool_size", pools.default_pool_size.to_string()),
        ("max_client_conn", pools.max_client_conn.to_string()),
        ("listen_port", p.listen_port.to_string()),
    ];
    for (k, want) in expect {
        let have = facts["config"][k].as_str().unwrap_or_default();
        if have != want {
            return Err(ModuleError::new(format!(
                "PgBouncer runs with {k} = {have} after applying, not {want}: it did not take the new {}",
                p.path
            ))
            .with_fix(format!(
                "see PgBouncer's log ({}) for why it rejected the file, or restart {}",
                p.logfile, p.service
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sizing::PoolMode;
    use serde_json::json;

    /// The module's verdict on each pool mode is rules::pool_mode_finding's, so
    /// `matrixha check` (which calls the same function) cannot disagree with it.
    #[test]
    fn module_applies_the_shared_pool_mode_rule() {
        let dir = tempfile::tempdir().unwrap();
        for mode in PoolMode::ALL {
            for per_role in [false, true] {
                let args = json!({
                    "_ansible_check_mode": true,
                    "path": dir.path().join("pgbouncer.ini"),
                    "auth_file": dir.path().join("userlist.txt"),
                    "listen_addr": ["10.0.3.11"],
                    "users": [{"name": "synapse", "password": "synapse-password-1-0123456"}],
                    "databases": [{"name": "synapse", "host": "10.0.3.10", "pool_mode": mode.as_str()}],
                    "capacity": {"synapse_database": "synapse", "synapse_processes": 4, "cp_max": 5},
                    "session_settings_per_role": per_role,
                    "service_action": "none"
                });
                let r = matrixha_module::run_with_args::<PgbouncerPool>(&args.to_string());
                let case = format!("{} per_role={per_role}: {r}", mode.as_str());
                let warnings = r["warnings"].to_string();
                match rules::pool_mode_finding(mode, per_role) {
                    Some(Finding {
                        level: Level::Error,
                        problem,
                        fix,
                    }) => {
                        assert_eq!(r["failed"], true, "{case}");
                        assert_eq!(r["param"], "databases[synapse].pool_mode", "{case}");
                        assert_eq!(
                            r["msg"],
                            format!("databases[synapse].pool_mode: {problem}. Fix: {fix}"),
                            "{case}"
                        );
                    }
                    Some(Finding {
                        level: Level::Warning,
                        problem,
                        ..
                    }) => {
                        assert_eq!(r["failed"], false, "{case}");
                        assert!(warnings.contains(&problem), "{case}");
                    }
                    None => {
                        assert_eq!(r["failed"], false, "{case}");
                        assert!(!warnings.contains("pool_mode"), "{case}");
                    }
                }
            }
        }
    }
}
