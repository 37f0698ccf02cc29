//! Carries out the plan: writes the file atomically and restarts coturn; never reached in check mode.

use crate::params::ConfigParams;
use crate::plan::Change;
use matrixha_module::file::Ownership;
use matrixha_module::{file, systemd, ModuleError};
use std::path::Path;

pub fn changes(
    p: &ConfigParams,
    content: &str,
    own: &Ownership,
    changes: &[Change],
) -> Result<(), ModuleError> {
    for c in changes {
        match c {
            Change::WriteConfig { .. } => {
                file::write_atomic(Path::new(&p.path), content.as_bytes(), own, p.backup)?;
            }
            Change::RestartService { service } => systemd::apply(service, p.service_action)?,
        }
    }
    Ok(())
}
