//! Executes the plan: files, then RELOAD or restart, then PAUSE/RESUME; never reached in check mode.

use crate::console::{Console, ConsoleError, Target};
use crate::observe::console_error;
use crate::plan::Change;
use matrixha_module::file::{write_atomic, Ownership};
use matrixha_module::systemd::{self, ServiceAction as Systemd};
use matrixha_module::{wait, ModuleError};
use std::path::Path;
use std::time::Duration;

pub struct Content<'a> {
    pub ini: &'a str,
    pub auth: &'a str,
    pub ownership: &'a Ownership,
}

/// Writes the files. The auth file goes first, so a RELOAD triggered by
/// anyone between the two writes never sees users the config refers to missing.
pub fn write_files(changes: &[Change], c: &Content) -> Result<(), ModuleError> {
    for ch in changes {
        if let Change::WriteAuthFile { path, .. } = ch {
            write_atomic(Path::new(path), c.auth.as_bytes(), c.ownership, false)?;
        }
    }
    for ch in changes {
        if let Change::WriteConfig { path, .. } = ch {
            write_atomic(Path::new(path), c.ini.as_bytes(), c.ownership, false)?;
        }
    }
    Ok(())
}

/// True when the plan needs the admin console (RELOAD, PAUSE, RESUME).
pub fn needs_console(changes: &[Change]) -> bool {
    changes.iter().any(|c| {
        matches!(
            c,
            Change::Reload | Change::Pause { .. } | Change::Resume { .. }
        )
    })
}

/// Connects, waiting up to `patience` for a PgBouncer that is (re)starting.
pub fn connect(t: &Target, patience: Duration) -> Result<Console, ModuleError> {
    let mut last_refusal = String::new();
    let waited = wait::until(
        patience,
        Duration::from_millis(200),
        |_| match Console::connect(t) {
            Ok(c) => Ok(Some(c)),
            Err(ConsoleError::Unreachable(m)) => {
                last_refusal = m;
                Ok(None)
            }
            Err(e) => Err(console_error(t, e)),
        },
    )?;
    waited.map_err(|_| {
        console_error(
            t,
            ConsoleError::Unreachable(format!(
                "{last_refusal} (still after {} s)",
                patience.as_secs()
            )),
        )
    })
}

/// RELOAD / restart / PAUSE / RESUME, in plan order. Returns the open console, if any.
pub fn service_changes(
    changes: &[Change],
    target: Option<&Target>,
    mut console: Option<Console>,
) -> Result<Option<Console>, ModuleError> {
    for ch in changes {
        match ch {
            Change::Restart { service, .. } => {
                systemd::apply(service, Systemd::Restart)?;
                console = None;
            }
            Change::Reload | Change::Pause { .. } | Change::Resume { .. } => {
                let t = target.ok_or_else(|| {
                    ModuleError::param(
                        "admin",
                        "a RELOAD/PAUSE/RESUME is due but no admin console connection is configured",
                        "set admin (user, password, host) or service_action: none and reload through a handler",
                    )
                })?;
                if console.is_none() {
                    console = Some(connect(t, Duration::from_secs(2))?);
                }
                if let Some(c) = console.as_mut() {
                    let sql = match ch {
                        Change::Reload => "RELOAD".to_owned(),
                        // One database at a time: PAUSE without a name also stops
                        // databases this task does not manage.
                        Change::Pause { databases } => pause_sql("PAUSE", databases),
                        Change::Resume { databases } => pause_sql("RESUME", databases),
                        _ => String::new(),
                    };
                    for stmt in sql.split(';').filter(|s| !s.trim().is_empty()) {
                        c.query(stmt.trim()).map_err(|e| console_error(t, e))?;
                    }
                }
            }
            Change::WriteConfig { .. } | Change::WriteAuthFile { .. } => {}
        }
    }
    Ok(console)
}

fn pause_sql(verb: &str, databases: &[String]) -> String {
    databases
        .iter()
        .map(|d| format!("{verb} {d}"))
        .collect::<Vec<_>>()
        .join(";")
}
