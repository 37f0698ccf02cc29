//! What the host has now: the current file, its ownership and the installed coturn version (read-only).

use crate::params::ConfigParams;
use crate::version::Version;
use matrixha_module::file::{observed_ownership, read_optional, Ownership};
use matrixha_module::ModuleError;
use std::path::Path;
use std::process::Command;

pub struct State {
    pub content: Option<String>,
    pub ownership: Option<Ownership>,
}

pub fn state(p: &ConfigParams) -> Result<State, ModuleError> {
    let path = Path::new(&p.path);
    Ok(State {
        content: read_optional(path).map_err(|e| ModuleError {
            param: Some("path".into()),
            ..e
        })?,
        ownership: observed_ownership(path),
    })
}

/// The coturn version options are rendered for: the parameter, else `turnserver --version`
/// (which prints only the version, e.g. `4.6.1` on Debian 12).
pub fn coturn_version(p: &ConfigParams) -> Result<Version, ModuleError> {
    if let Some(v) = &p.coturn_version {
        return Version::parse(v).ok_or_else(|| {
            ModuleError::param("coturn_version", "is not a version", "write it like 4.6.1")
        });
    }
    let out = Command::new("turnserver")
        .arg("--version")
        .output()
        .map_err(|e| {
            ModuleError::param(
            "coturn_version",
            format!("turnserver is not installed here ({e}) and coturn_version is not set"),
            "install coturn first, or set coturn_version (e.g. when coturn runs in a container)",
        )
        })?;
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    Version::parse(text.trim()).ok_or_else(|| {
        ModuleError::param(
            "coturn_version",
            format!(
                "`turnserver --version` printed '{}', not a version",
                text.trim()
            ),
            "set coturn_version explicitly",
        )
    })
}
