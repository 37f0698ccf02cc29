//! `matrixha.stack.livekit_node`: not implemented yet; it fails every task saying so.

use matrixha_module::{Ctx, Module, ModuleError, Outcome};
use serde::{Deserialize, Serialize};

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Params {}

pub struct LivekitNode;

impl Module for LivekitNode {
    const NAME: &'static str = "livekit_node";
    type Params = Params;
    fn run(_: Params, _: &Ctx) -> Result<Outcome, ModuleError> {
        Err(
            ModuleError::new("matrixha.stack.livekit_node is not implemented in this release")
                .with_fix("see the project's issue tracker"),
        )
    }
}
