//! `matrixha.stack.patroni_cluster`: Patroni node config, cluster state, dynamic config, operations, database.

pub mod params;

use matrixha_module::{Ctx, Module, ModuleError, Outcome};
pub use params::Params;

pub struct PatroniCluster;

impl Module for PatroniCluster {
    const NAME: &'static str = "patroni_cluster";
    type Params = Params;
    fn run(p: Params, _: &Ctx) -> Result<Outcome, ModuleError> {
        p.validate()?;
        Err(ModuleError::new("matrixha.stack.patroni_cluster: this action is not implemented yet")
            .with_fix("see the project's issue tracker"))
    }
}
