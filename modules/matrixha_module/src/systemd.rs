//! Reloading and restarting services through systemd, and signalling a daemon by pid file.

use crate::ModuleError;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use std::path::Path;
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

/// Sends `signal` to the pid written in `pid_file` (e.g. SIGHUP to reload a daemon).
pub fn signal_pid_file(pid_file: &Path, signal: Signal) -> Result<(), ModuleError> {
    let text = std::fs::read_to_string(pid_file).map_err(|e| {
        ModuleError::new(format!("cannot read pid file {}: {e}", pid_file.display()))
            .with_fix("check that the service runs and writes that pid file")
    })?;
    let pid: i32 = text.trim().parse().map_err(|_| {
        ModuleError::new(format!(
            "pid file {} does not hold a pid",
            pid_file.display()
        ))
    })?;
    kill(Pid::from_raw(pid), signal)
        .map_err(|e| ModuleError::new(format!("cannot send {signal} to pid {pid}: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn none_action_runs_nothing() {
        assert!(apply("no-such-unit-matrixha.service", ServiceAction::None).is_ok());
    }

    #[test]
    fn signal_reaches_a_real_process() {
        let mut child = Command::new("sleep").arg("30").spawn().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let pf = dir.path().join("x.pid");
        std::fs::write(&pf, format!("{}\n", child.id())).unwrap();
        signal_pid_file(&pf, Signal::SIGTERM).unwrap();
        let status = child.wait().unwrap();
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(status.signal(), Some(Signal::SIGTERM as i32));
    }

    #[test]
    fn bad_pid_file_says_so() {
        let dir = tempfile::tempdir().unwrap();
        let pf = dir.path().join("x.pid");
        std::fs::write(&pf, "garbage").unwrap();
        let e = signal_pid_file(&pf, Signal::SIGHUP).unwrap_err();
        assert!(e.to_string().contains("does not hold a pid"));
    }
}
