//! What the host has now: the current file and its ownership (read-only).

use crate::Params;
use matrixha_module::file::{observed_ownership, read_optional, Ownership};
use matrixha_module::ModuleError;
use std::path::Path;

pub struct State {
    pub content: Option<String>,
    pub ownership: Option<Ownership>,
}

pub fn state(p: &Params) -> Result<State, ModuleError> {
    let path = Path::new(&p.path);
    Ok(State {
        content: read_optional(path).map_err(|e| ModuleError { param: Some("path".into()), ..e })?,
        ownership: observed_ownership(path),
    })
}
