//! Reloading and restarting services through systemd, and signalling a daemon by pid file.

use crate::ModuleError;
use std::process::Command;

/// What to do to a unit after its configuration changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ServiceAction {
    Reload,
    Restart,
    /// `reload-or-restart`: reload when the unit supports it.
    ReloadOrRestart,
    /// Leave the service alone (a handler or an operator restarts it).
    None,
}

impl ServiceAction {
    fn verb(self) -> Option<&'static str> {
        match self {
            ServiceAction::Reload => Some("reload"),
            ServiceAction::Restart => Some("restart"),
            ServiceAction::ReloadOrRestart => Some("reload-or-restart"),
            ServiceAction::None => None,
        }
    }
}

/// Runs `systemctl <action> <unit>`; a unit that is not running is not started by a reload.
pub fn apply(unit: &str, action: ServiceAction) -> Result<(), ModuleError> {
    let Some(verb) = action.verb() else {
        return Ok(());
    };
    if matches!(action, ServiceAction::Reload) && !is_active(unit) {
        // Nothing to reload; the new file is read when the unit starts.
        return Ok(());
    }
    systemctl(&[verb, unit])
}

/// `systemctl is-active --quiet UNIT`.
pub fn is_active(unit: &str) -> bool {
    Command::new("systemctl")
        .args(["is-active", "--quiet", unit])
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

fn systemctl(args: &[&str]) -> Result<(), ModuleError> {
    let out = Command::new("systemctl").args(args).output().map_err(|e| {
        ModuleError::new(format!("cannot run systemctl {}: {e}", args.join(" ")))
            .with_fix("run this on a host managed by systemd, or set the service action to none")
    })?;
    if out.status.success() {
        return Ok(());
    }
    Err(ModuleError::new(format!(
        "systemctl {} failed: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr).trim()
    ))
    .with_fix(format!(
        "see journalctl -u {} for why",
        args.last().copied().unwrap_or_default()
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn none_action_runs_nothing() {
        assert!(apply("no-such-unit-matrixha.service", ServiceAction::None).is_ok());
    }
}
