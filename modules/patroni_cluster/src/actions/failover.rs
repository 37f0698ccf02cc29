//! `action: failover`: observe the cluster, check the candidate can be promoted, apply POST /failover and wait.

use crate::actions::unknown_member;
use crate::observe;
use crate::params::{default_timeout, Connection};
use crate::rest::{snippet, Api};
use crate::settle::{round, settle};
use matrixha_module::{Ctx, ModuleError, Outcome};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::time::{Duration, Instant};

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct FailoverParams {
    /// The member to promote (required).
    #[serde(default)]
    pub candidate: Option<String>,
    /// Seconds until the candidate leads.
    #[serde(
        default = "default_timeout",
        deserialize_with = "matrixha_module::lenient::int"
    )]
    pub timeout: u64,
}

impl FailoverParams {
    pub fn validate(&self) -> Result<(), ModuleError> {
        if self.candidate.is_none() {
            return Err(ModuleError::param(
                "candidate",
                "is required for action failover",
                "name the member to promote (see action facts), or use action switchover",
            ));
        }
        Ok(())
    }
}

pub fn run(conn: &Connection, p: &FailoverParams, ctx: &Ctx) -> Result<Outcome, ModuleError> {
    let api = Api::new(conn, Some(p.timeout))?;
    let c = observe::cluster(&api)?;
    let cand = p.candidate.clone().unwrap_or_default();
    let m = c
        .member(&cand)
        .ok_or_else(|| unknown_member("candidate", &cand, &c))?;
    let previous = c.leader.clone();
    if m.is_leader() {
        return Ok(Outcome::unchanged()
            .msg(format!("{cand} is already the leader"))
            .field("candidate", &cand)
            .field("previous_leader", &previous)
            .field("cluster", &c));
    }
    if !m.runs() {
        return Err(ModuleError::param(
            "candidate",
            format!(
                "{cand} is {}; Patroni can only promote a running member",
                m.state
            ),
            "start it or choose another member",
        ));
    }
    let mut out = Outcome::changed_if(true)
        .field("candidate", &cand)
        .field("previous_leader", &previous);
    if m.tag_true("nofailover") {
        return Err(ModuleError::param(
            "candidate",
            format!("{cand} is tagged nofailover"),
            "choose another member or remove the tag",
        ));
    }
    if ctx.check_mode {
        return Ok(out
            .msg(format!("would fail over to {cand}"))
            .field("cluster", &c));
    }
    let start = Instant::now();
    let r = api.post("/failover", &json!({"candidate": cand}))?;
    if r.status != 200 {
        return Err(ModuleError::new(format!(
            "Patroni refused the failover to {cand} ({}): {}",
            r.status,
            snippet(&r.body)
        ))
        .with_fix(
            "see the reason above; a healthy cluster is better served by action switchover",
        ));
    }
    let (c, _) = settle(
        &api,
        Duration::from_secs(p.timeout),
        &format!("{cand} did not become the running leader"),
        |c| match c.leader_member() {
            Some(m) if m.name == cand && m.runs() => Ok(()),
            Some(m) => Err(format!("leader is {} ({})", m.name, m.state)),
            None => Err("no leader yet".into()),
        },
    )?;
    out = out
        .field("elapsed", round(start.elapsed().as_secs_f64()))
        .field("cluster", &c);
    Ok(out.msg(format!("failed over to {cand}")))
}
