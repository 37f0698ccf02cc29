//! `matrixha.stack.pgbouncer_pool`: not implemented yet; it fails every task saying so.

use matrixha_module::{Ctx, Module, ModuleError, Outcome};
use serde::{Deserialize, Serialize};

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Params {}

pub struct PgbouncerPool;

impl Module for PgbouncerPool {
    const NAME: &'static str = "pgbouncer_pool";
    type Params = Params;
    fn run(_: Params, _: &Ctx) -> Result<Outcome, ModuleError> {
        Err(ModuleError::new("matrixha.stack.pgbouncer_pool is not implemented in this release")
            .with_fix("see the project's issue tracker"))
    }
}
