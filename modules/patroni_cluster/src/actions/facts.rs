//! `action: facts`: read `/cluster` and `/patroni` and return the cluster, nothing to plan or apply.

use crate::observe;
use crate::params::Connection;
use crate::rest::Api;
use matrixha_module::{ModuleError, Outcome};
use serde::{Deserialize, Serialize};

/// Facts takes only the connection options.
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct FactsParams {}

pub fn run(conn: &Connection, _p: &FactsParams) -> Result<Outcome, ModuleError> {
    let c = observe::cluster(&Api::new(conn, None)?)?;
    Ok(Outcome::unchanged()
        .field("cluster", &c)
        .fact("patroni_cluster", &c))
}
