//! Writes the file and restarts coturn; never reached in check mode.

use crate::Params;
use matrixha_module::{file, systemd, ModuleError};
use std::path::Path;

pub fn write(p: &Params, content: &str, restart: bool) -> Result<(), ModuleError> {
    file::write_atomic(Path::new(&p.path), content.as_bytes(), &p.ownership()?, p.backup)?;
    if restart {
        systemd::apply(&p.service, p.service_action)?;
    }
    Ok(())
}
