//! `matrixha.stack.minio_bucket`: not implemented yet; it fails every task saying so.

use matrixha_module::{Ctx, Module, ModuleError, Outcome};
use serde::{Deserialize, Serialize};

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Params {}

pub struct MinioBucket;

impl Module for MinioBucket {
    const NAME: &'static str = "minio_bucket";
    type Params = Params;
    fn run(_: Params, _: &Ctx) -> Result<Outcome, ModuleError> {
        Err(
            ModuleError::new("matrixha.stack.minio_bucket is not implemented in this release")
                .with_fix("see the project's issue tracker"),
        )
    }
}
