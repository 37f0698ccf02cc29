//! Switchover, failover, restart and reinitialize: preconditions, the REST call, then wait until settled.

use crate::apply::{round, settle};
use crate::observe::{self, Cluster, Member};
use crate::params::Condition;
use crate::plan;
use crate::rest::{snippet, Api};
use crate::Params;
use matrixha_module::{Ctx, ModuleError, Outcome};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

/// Patroni's default `maximum_lag_on_failover` (docs/dynamic_configuration.rst).
const DEFAULT_MAX_LAG: u64 = 1_048_576;

fn unknown_member(param: &str, name: &str, c: &Cluster) -> ModuleError {
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

fn no_leader(c: &Cluster) -> ModuleError {
    ModuleError::new(format!(
        "cluster {} has no leader, so there is nothing to switch over from",
        c.scope.as_deref().unwrap_or("?")
    ))
    .with_fix("use action failover with a candidate, or wait_for condition leader")
}

fn member_api(api: &Api, m: &Member) -> Result<Api, ModuleError> {
    match &m.api_url {
        Some(u) => api.sibling(u),
        None => Err(
            ModuleError::new(format!("/cluster gives no api_url for {}", m.name))
                .with_fix("check restapi.connect_address in its patroni.yml"),
        ),
    }
}

pub fn switchover(p: &Params, ctx: &Ctx) -> Result<Outcome, ModuleError> {
    let api = Api::new(p)?;
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

pub fn failover(p: &Params, ctx: &Ctx) -> Result<Outcome, ModuleError> {
    let api = Api::new(p)?;
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

/// `postmaster_start_time` of a member: it changes when PostgreSQL restarts.
fn started_at(api: &Api) -> Option<String> {
    api.get("/patroni")
        .ok()?
        .get("postmaster_start_time")
        .and_then(Value::as_str)
        .map(str::to_owned)
}

pub fn restart(p: &Params, ctx: &Ctx) -> Result<Outcome, ModuleError> {
    let api = Api::new(p)?;
    let c = observe::cluster(&api)?;
    if let Some(name) = &p.member {
        if c.member(name).is_none() {
            return Err(unknown_member("member", name, &c));
        }
    }
    let order = plan::restart_order(&c, p.restart_pending, p.member.as_deref());
    if order.is_empty() {
        return Ok(Outcome::unchanged()
            .msg("no member needs a restart")
            .field("restarted", Vec::<String>::new())
            .field("cluster", &c));
    }
    if ctx.check_mode {
        return Ok(Outcome::changed_if(true)
            .msg(format!("would restart {}", order.join(", ")))
            .field("restarted", &order)
            .field("cluster", &c));
    }
    let start = Instant::now();
    let c = restart_members(p, &api, &c, &order)?;
    Ok(Outcome::changed_if(true)
        .msg(format!("restarted {}", order.join(", ")))
        .field("restarted", &order)
        .field("elapsed", round(start.elapsed().as_secs_f64()))
        .field("cluster", &c))
}

/// Restarts `order` one by one, each back to running/streaming before the next.
pub fn restart_members(
    p: &Params,
    api: &Api,
    c: &Cluster,
    order: &[String],
) -> Result<Cluster, ModuleError> {
    let mut last = c.clone();
    for name in order {
        let m = c
            .member(name)
            .ok_or_else(|| unknown_member("member", name, c))?;
        let mapi = member_api(api, m)?;
        let body = if p.restart_pending {
            json!({"restart_pending": true})
        } else {
            json!({})
        };
        let r = mapi.post("/restart", &body)?;
        if r.status != 200 {
            return Err(ModuleError::new(format!(
                "Patroni could not restart {name} ({}): {}",
                r.status,
                snippet(&r.body)
            ))
            .with_fix(format!("see Patroni's log on {name}")));
        }
        // Back means running again and, for a pending-restart restart, no longer
        // flagged: Patroni clears pending_restart on its next HA loop after the
        // restart, so a result read at once would still show the member as pending.
        let (c2, _) = settle(
            api,
            Duration::from_secs(p.timeout),
            &format!("{name} did not come back after its restart"),
            |c| {
                plan::condition_met(c, Condition::Member, 1, Some(name))?;
                match c.member(name) {
                    Some(m) if p.restart_pending && m.pending_restart => {
                        Err(format!("{name} still flags pending_restart"))
                    }
                    _ => Ok(()),
                }
            },
        )?;
        last = c2;
    }
    Ok(last)
}

pub fn reinitialize(p: &Params, ctx: &Ctx) -> Result<Outcome, ModuleError> {
    let api = Api::new(p)?;
    let c = observe::cluster(&api)?;
    let name = p.member.clone().unwrap_or_default();
    let m = c
        .member(&name)
        .ok_or_else(|| unknown_member("member", &name, &c))?;
    if m.is_leader() {
        return Err(ModuleError::param(
            "member",
            format!("{name} is the leader; reinitialize rebuilds a replica from the leader"),
            "switch over first (action switchover), then reinitialize it",
        ));
    }
    if ctx.check_mode {
        return Ok(Outcome::changed_if(true)
            .msg(format!("would reinitialize {name}"))
            .field("cluster", &c));
    }
    let mapi = member_api(&api, m)?;
    let before = started_at(&mapi);
    let start = Instant::now();
    let r = mapi.post("/reinitialize", &json!({"force": true}))?;
    if r.status != 200 {
        return Err(ModuleError::new(format!(
            "Patroni could not reinitialize {name} ({}): {}",
            r.status,
            snippet(&r.body)
        ))
        .with_fix(format!("see Patroni's log on {name}")));
    }
    // Until PostgreSQL has restarted, the old instance may still look streaming.
    let (c, _) = settle(
        &api,
        Duration::from_secs(p.timeout),
        &format!("{name} did not come back streaming after reinitialize"),
        |c| {
            let restarted = started_at(&mapi);
            if restarted.is_none() || restarted == before {
                return Err(format!("{name} has not restarted PostgreSQL yet"));
            }
            plan::condition_met(c, Condition::Member, 1, Some(&name))
        },
    )?;
    Ok(Outcome::changed_if(true)
        .msg(format!("reinitialized {name}"))
        .field("elapsed", round(start.elapsed().as_secs_f64()))
        .field("cluster", &c))
}
