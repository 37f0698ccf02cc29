//! Waiting for Patroni to settle: poll the cluster until a condition holds or the timeout passes.

use crate::observe::{self, Cluster};
use crate::rest::Api;
use matrixha_module::{wait, ModuleError};
use std::time::{Duration, Instant};

/// Polls the cluster until `done` accepts it or `timeout` passes. Read errors
/// while Patroni moves the leader are "not yet", kept for the timeout message.
pub fn settle(
    api: &Api,
    timeout: Duration,
    what: &str,
    mut done: impl FnMut(&Cluster) -> Result<(), String>,
) -> Result<(Cluster, f64), ModuleError> {
    let start = Instant::now();
    let res: Result<Result<Cluster, String>, ModuleError> = wait::until(
        timeout,
        Duration::from_millis(250),
        |why| match observe::cluster(api) {
            Ok(c) => match done(&c) {
                Ok(()) => Ok(Some(c)),
                Err(missing) => {
                    *why = missing;
                    Ok(None)
                }
            },
            Err(e) => {
                *why = e.to_string();
                Ok(None)
            }
        },
    );
    match res? {
        Ok(c) => Ok((c, round(start.elapsed().as_secs_f64()))),
        Err(msg) => Err(ModuleError::param(
            "timeout",
            format!("{what}: {msg}"),
            "see `patronictl list` and Patroni's log on the members; raise timeout if the cluster is just slow",
        )),
    }
}

pub fn round(s: f64) -> f64 {
    (s * 100.0).round() / 100.0
}
