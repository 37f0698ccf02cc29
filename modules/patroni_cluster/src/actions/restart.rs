//! `action: restart`: observe the cluster, plan the order (replicas first), apply one POST /restart at a time.

use crate::actions::wait_for::Condition;
use crate::actions::{member_api, unknown_member};
use crate::observe::{self, Cluster};
use crate::params::{default_timeout, Connection};
use crate::plan;
use crate::rest::{snippet, Api};
use crate::settle::{round, settle};
use matrixha_module::{Ctx, ModuleError, Outcome};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::time::{Duration, Instant};

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RestartParams {
    /// The member to restart; every member when omitted.
    #[serde(default)]
    pub member: Option<String>,
    /// Restart only members that have `pending_restart` (idempotent).
    #[serde(default, deserialize_with = "matrixha_module::lenient::boolean")]
    pub restart_pending: bool,
    /// Seconds each member may take to come back.
    #[serde(
        default = "default_timeout",
        deserialize_with = "matrixha_module::lenient::int"
    )]
    pub timeout: u64,
}

pub fn run(conn: &Connection, p: &RestartParams, ctx: &Ctx) -> Result<Outcome, ModuleError> {
    let api = Api::new(conn, Some(p.timeout))?;
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
    let c = restart_members(&api, &c, &order, p.restart_pending, p.timeout)?;
    Ok(Outcome::changed_if(true)
        .msg(format!("restarted {}", order.join(", ")))
        .field("restarted", &order)
        .field("elapsed", round(start.elapsed().as_secs_f64()))
        .field("cluster", &c))
}

/// Restarts `order` one by one, each back to running/streaming before the next.
/// `only_pending`: ask Patroni to restart only if still pending, and wait until the flag clears.
pub fn restart_members(
    api: &Api,
    c: &Cluster,
    order: &[String],
    only_pending: bool,
    timeout: u64,
) -> Result<Cluster, ModuleError> {
    let mut last = c.clone();
    for name in order {
        let m = c
            .member(name)
            .ok_or_else(|| unknown_member("member", name, c))?;
        let mapi = member_api(api, m)?;
        let body = if only_pending {
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
            Duration::from_secs(timeout),
            &format!("{name} did not come back after its restart"),
            |c| {
                plan::condition_met(c, Condition::Member, 1, Some(name))?;
                match c.member(name) {
                    Some(m) if only_pending && m.pending_restart => {
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
