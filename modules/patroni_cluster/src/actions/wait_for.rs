//! `action: wait_for`: observe the cluster until `condition` holds (the plan is the condition itself).

use crate::params::{default_timeout, Connection};
use crate::rest::Api;
use crate::{plan, settle};
use matrixha_module::{ModuleError, Outcome};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// What `wait_for` waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Condition {
    /// A member holds the leader lock and its PostgreSQL runs.
    Leader,
    /// At least `count` replicas stream WAL from the leader.
    Streaming,
    /// At least `count` synchronous standbys.
    SyncStandby,
    /// `member` runs (the leader) or streams (a replica).
    Member,
    /// No member has `pending_restart`.
    NoPendingRestart,
}

impl Condition {
    pub fn name(self) -> &'static str {
        match self {
            Condition::Leader => "leader",
            Condition::Streaming => "streaming",
            Condition::SyncStandby => "sync_standby",
            Condition::Member => "member",
            Condition::NoPendingRestart => "no_pending_restart",
        }
    }
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct WaitForParams {
    #[serde(default)]
    pub condition: Option<Condition>,
    #[serde(default = "one", deserialize_with = "matrixha_module::lenient::int")]
    pub count: u32,
    /// The member for `condition: member`.
    #[serde(default)]
    pub member: Option<String>,
    /// Seconds to wait.
    #[serde(
        default = "default_timeout",
        deserialize_with = "matrixha_module::lenient::int"
    )]
    pub timeout: u64,
}

fn one() -> u32 {
    1
}

impl WaitForParams {
    pub fn validate(&self) -> Result<(), ModuleError> {
        match self.condition {
            None => Err(ModuleError::param(
                "condition",
                "is required for action wait_for",
                "choose leader, streaming, sync_standby, member or no_pending_restart",
            )),
            Some(Condition::Member) if self.member.is_none() => Err(ModuleError::param(
                "member",
                "is required for condition member",
                "name the Patroni member to wait for",
            )),
            _ => Ok(()),
        }
    }
}

pub fn run(conn: &Connection, p: &WaitForParams) -> Result<Outcome, ModuleError> {
    let api = Api::new(conn, None)?;
    let cond = p.condition.unwrap_or(Condition::Leader);
    let (c, elapsed) = settle::settle(
        &api,
        Duration::from_secs(p.timeout),
        &format!("condition {}", cond.name()),
        |c| plan::condition_met(c, cond, p.count, p.member.as_deref()),
    )?;
    Ok(Outcome::unchanged()
        .field("elapsed", elapsed)
        .field("cluster", &c))
}

#[cfg(test)]
mod tests {
    use matrixha_module::parse_args;
    use serde_json::json;

    fn error(v: serde_json::Value) -> String {
        match parse_args::<crate::params::Params>(&v.to_string()) {
            Ok((_, p)) => crate::validate(&p).unwrap_err().to_string(),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn condition_and_its_member_are_required() {
        assert!(error(json!({"action": "wait_for"})).starts_with("condition: is required"));
        assert!(error(json!({"action": "wait_for", "condition": "member"}))
            .starts_with("member: is required"));
        let msg = error(json!({"action": "wait_for", "condition": "leader", "count": "two"}));
        assert!(msg.starts_with("count: "), "{msg}");
    }
}
