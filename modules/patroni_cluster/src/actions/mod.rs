//! One file per action, each reading observe → plan → apply, with its own parameter type.

pub mod config;
pub mod database;
pub mod dynamic_config;
pub mod facts;
pub mod failover;
pub mod reinitialize;
pub mod restart;
pub mod switchover;
pub mod wait_for;

use crate::observe::{Cluster, Member};
use crate::rest::Api;
use matrixha_module::ModuleError;

/// `param` names a member the cluster does not have.
pub(crate) fn unknown_member(param: &str, name: &str, c: &Cluster) -> ModuleError {
    ModuleError::param(
        param,
        format!(
            "'{name}' is not a member of cluster {} (members: {})",
            c.scope.as_deref().unwrap_or("?"),
            c.names()
        ),
        "use a member name as `patronictl list` or action facts shows it",
    )
}

/// A client for the member's own REST API (member operations go there).
pub(crate) fn member_api(api: &Api, m: &Member) -> Result<Api, ModuleError> {
    match &m.api_url {
        Some(u) => api.sibling(u),
        None => Err(
            ModuleError::new(format!("/cluster gives no api_url for {}", m.name))
                .with_fix("check restapi.connect_address in its patroni.yml"),
        ),
    }
}
