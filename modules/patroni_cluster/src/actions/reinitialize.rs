//! `action: reinitialize`: observe the cluster, refuse the leader, apply POST /reinitialize and wait until it streams again.

use crate::actions::wait_for::Condition;
use crate::actions::{member_api, unknown_member};
use crate::observe;
use crate::params::{default_timeout, Connection};
use crate::plan;
use crate::rest::{snippet, Api};
use crate::settle::{round, settle};
use matrixha_module::{Ctx, ModuleError, Outcome};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ReinitializeParams {
    /// The replica whose data directory Patroni rebuilds (required).
    #[serde(default)]
    pub member: Option<String>,
    /// Seconds until it streams again.
    #[serde(
        default = "default_timeout",
        deserialize_with = "matrixha_module::lenient::int"
    )]
    pub timeout: u64,
}

impl ReinitializeParams {
    pub fn validate(&self) -> Result<(), ModuleError> {
        if self.member.is_none() {
            return Err(ModuleError::param(
                "member",
                "is required for action reinitialize",
                "name the replica whose data directory Patroni should rebuild",
            ));
        }
        Ok(())
    }
}

/// `postmaster_start_time` of a member: it changes when PostgreSQL restarts.
fn started_at(api: &Api) -> Option<String> {
    api.get("/patroni")
        .ok()?
        .get("postmaster_start_time")
        .and_then(Value::as_str)
        .map(str::to_owned)
}

pub fn run(conn: &Connection, p: &ReinitializeParams, ctx: &Ctx) -> Result<Outcome, ModuleError> {
    let api = Api::new(conn, Some(p.timeout))?;
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
