//! `action: switchover`: observe the cluster and /config, plan the candidate, apply POST /switchover and wait.

use crate::actions::unknown_member;
use crate::actions::wait_for::Condition;
use crate::observe::{self, Cluster};
use crate::params::{default_timeout, Connection};
use crate::plan;
use crate::rest::{snippet, Api};
use crate::settle::{round, settle};
use matrixha_module::{Ctx, ModuleError, Outcome};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::time::{Duration, Instant};

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SwitchoverParams {
    /// The member to promote; the healthiest eligible replica when omitted.
    #[serde(default)]
    pub candidate: Option<String>,
    /// Refuse unless this member is the leader (guards against a stale inventory).
    #[serde(default)]
    pub leader: Option<String>,
    /// Seconds until the candidate leads and the old leader streams again.
    #[serde(
        default = "default_timeout",
        deserialize_with = "matrixha_module::lenient::int"
    )]
    pub timeout: u64,
}

/// Patroni's default `maximum_lag_on_failover` (docs/dynamic_configuration.rst).
const DEFAULT_MAX_LAG: u64 = 1_048_576;

fn no_leader(c: &Cluster) -> ModuleError {
    ModuleError::new(format!(
        "cluster {} has no leader, so there is nothing to switch over from",
        c.scope.as_deref().unwrap_or("?")
    ))
    .with_fix("use action failover with a candidate, or wait_for condition leader")
}

pub fn run(conn: &Connection, p: &SwitchoverParams, ctx: &Ctx) -> Result<Outcome, ModuleError> {
    let api = Api::new(conn, Some(p.timeout))?;
    let c = observe::cluster(&api)?;
    if let Some(cand) = &p.candidate {
        if c.member(cand).is_none() {
            return Err(unknown_member("candidate", cand, &c));
        }
        if c.leader.as_deref() == Some(cand.as_str()) {
            return Ok(Outcome::unchanged()
                .msg(format!("{cand} is already the leader"))
                .field("candidate", cand)
                .field("previous_leader", cand)
                .field("cluster", &c));
        }
    }
    let leader = c.leader.clone().ok_or_else(|| no_leader(&c))?;
    if let Some(want) = &p.leader {
        if c.member(want).is_none() {
            return Err(unknown_member("leader", want, &c));
        }
        if *want != leader {
            return Err(ModuleError::param(
                "leader",
                format!("{want} is not the leader; {leader} is"),
                "re-read the cluster (action facts) and name the current leader, or omit leader",
            ));
        }
    }
    let config = api.get("/config")?;
    // `quorum` (4.x) also limits candidates to the synchronous set.
    let sync_mode = match config.get("synchronous_mode") {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => s == "quorum",
        _ => false,
    };
    let max_lag = config
        .get("maximum_lag_on_failover")
        .and_then(Value::as_u64)
        .or(Some(DEFAULT_MAX_LAG));
    let candidate = match &p.candidate {
        Some(cand) => {
            let m = c
                .member(cand)
                .ok_or_else(|| unknown_member("candidate", cand, &c))?;
            if let Some(why) = plan::ineligible(m, sync_mode, max_lag) {
                return Err(ModuleError::param(
                    "candidate",
                    format!("{cand} cannot take over: it {why}"),
                    match plan::best_candidate(&c, sync_mode, max_lag) {
                        Ok(best) => {
                            format!("choose {best}, or omit candidate to let the module pick")
                        }
                        Err(_) => {
                            "wait until a replica is healthy (action wait_for, condition streaming)"
                                .into()
                        }
                    },
                ));
            }
            cand.clone()
        }
        None => plan::best_candidate(&c, sync_mode, max_lag).map_err(|why| {
            ModuleError::new(format!("no member can take over from {leader}: {why}")).with_fix(
                "wait until a replica streams (action wait_for, condition streaming) and retry",
            )
        })?,
    };
    let mut out = Outcome::changed_if(true)
        .field("candidate", &candidate)
        .field("previous_leader", &leader);
    if ctx.check_mode {
        return Ok(out
            .msg(format!("would switch over from {leader} to {candidate}"))
            .field("cluster", &c));
    }
    let start = Instant::now();
    let r = api.post("/switchover", &plan::switchover_body(&leader, &candidate))?;
    if !matches!(r.status, 200 | 202) {
        return Err(ModuleError::new(format!(
            "Patroni refused the switchover from {leader} to {candidate} ({}): {}",
            r.status,
            snippet(&r.body)
        ))
        .with_fix(
            "see the reason above and Patroni's log on the leader; action facts shows the members",
        ));
    }
    let timeout = Duration::from_secs(p.timeout);
    let (_, _) = settle(
        &api,
        timeout,
        &format!("{candidate} did not become the running leader"),
        |c| match c.leader_member() {
            Some(m) if m.name == candidate && m.runs() => Ok(()),
            Some(m) => Err(format!("leader is {} ({})", m.name, m.state)),
            None => Err("no leader yet".into()),
        },
    )?;
    let promoted_after = round(start.elapsed().as_secs_f64());
    // The old leader comes back as a replica; report how long that took.
    let left = timeout.saturating_sub(start.elapsed());
    match settle(
        &api,
        left,
        &format!("{leader} did not rejoin as a streaming replica"),
        |c| plan::condition_met(c, Condition::Member, 1, Some(&leader)),
    ) {
        Ok((c, _)) => {
            out = out
                .field("cluster", &c)
                .field("rejoined_after", round(start.elapsed().as_secs_f64()));
        }
        Err(e) => {
            out = out.warn(e.to_string());
        }
    }
    Ok(out
        .msg(format!("switched over from {leader} to {candidate}"))
        .field("elapsed", promoted_after)
        .field("patroni_response", snippet(&r.body)))
}
