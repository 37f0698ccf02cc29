//! `action: dynamic_config`: observe `GET /config`, plan the merge patch, apply it (PATCH), then restart what needs it.

use crate::actions::restart::restart_members;
use crate::dcs::{check_timing, Dcs, DEFAULT_LOOP_WAIT, DEFAULT_RETRY_TIMEOUT, DEFAULT_TTL};
use crate::observe;
use crate::params::{default_timeout, Connection};
use crate::plan;
use crate::rest::Api;
use matrixha_module::{Ctx, ModuleError, Outcome};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::time::{Duration, Instant};

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DynamicConfigParams {
    /// The desired `/config`; unset keys are left alone, `null` parameters removed.
    #[serde(default)]
    pub dcs: Dcs,
    /// Restart the members that need it after the change (replicas first).
    #[serde(default, deserialize_with = "matrixha_module::lenient::boolean")]
    pub restart_pending: bool,
    /// Seconds each restarted member may take to come back.
    #[serde(
        default = "default_timeout",
        deserialize_with = "matrixha_module::lenient::int"
    )]
    pub timeout: u64,
}

impl DynamicConfigParams {
    pub fn validate(&self) -> Result<(), ModuleError> {
        // The timing rule is checked against the live /config merged with the change (run).
        self.dcs.validate("dcs", None)
    }
}

fn yaml(v: &Value) -> String {
    // serde_json's Map is ordered by key (no preserve_order), so the text is stable.
    serde_yaml::to_string(v).unwrap_or_default()
}

/// A number from the configuration after the change, or Patroni's default.
fn num(after: &Value, k: &str, d: u32) -> u32 {
    after
        .get(k)
        .and_then(Value::as_u64)
        .map(|v| v.min(u32::MAX as u64) as u32)
        .unwrap_or(d)
}

pub fn run(conn: &Connection, p: &DynamicConfigParams, ctx: &Ctx) -> Result<Outcome, ModuleError> {
    let api = Api::new(conn, Some(p.timeout))?;
    // observe
    let current = api.get("/config")?;
    // plan
    let patch: Map<String, Value> = plan::config_patch(&current, &plan::desired_config(&p.dcs));
    let after = plan::merged(&current, &patch);
    check_timing(
        "dcs",
        num(&after, "ttl", DEFAULT_TTL),
        num(&after, "loop_wait", DEFAULT_LOOP_WAIT),
        num(&after, "retry_timeout", DEFAULT_RETRY_TIMEOUT),
    )?;
    let outcome = |changed: bool| {
        let out = Outcome::changed_if(changed).field("patch", &patch);
        if patch.is_empty() {
            out
        } else {
            out.diff("/config", yaml(&current), yaml(&after))
        }
    };
    if ctx.check_mode {
        let c = observe::cluster(&api)?;
        let would = if p.restart_pending {
            c.pending_restart.clone()
        } else {
            Vec::new()
        };
        return Ok(outcome(!patch.is_empty() || !would.is_empty())
            .field("restarted", would)
            .field("cluster", &c));
    }
    // apply
    if !patch.is_empty() {
        api.patch_config(&Value::Object(patch.clone()))?;
    }
    let mut c = observe::cluster(&api)?;
    let mut restarted: Vec<String> = Vec::new();
    let mut warning = None;
    if p.restart_pending {
        let touched_parameters = patch
            .get("postgresql")
            .and_then(|pg| pg.get("parameters"))
            .is_some();
        if touched_parameters {
            // Members notice the new parameters on their next HA loop and only then
            // flag pending_restart; give every member three loops to do so.
            let loop_wait = num(&after, "loop_wait", DEFAULT_LOOP_WAIT);
            let wait = Duration::from_secs(3 * u64::from(loop_wait) + 5);
            let start = Instant::now();
            while start.elapsed() < wait {
                c = observe::cluster(&api)?;
                if !c.pending_restart.is_empty()
                    && c.members
                        .iter()
                        .filter(|m| m.runs())
                        .all(|m| m.pending_restart)
                {
                    break;
                }
                std::thread::sleep(Duration::from_millis(500));
            }
        }
        let order = plan::restart_order(&c, true, None);
        if !order.is_empty() {
            c = restart_members(&api, &c, &order, true, p.timeout)?;
            restarted = order;
        }
    } else if !c.pending_restart.is_empty() {
        warning = Some(format!(
            "pending restart on {} (set restart_pending: true to restart them)",
            c.pending_restart.join(", ")
        ));
    }
    let mut out = outcome(!patch.is_empty() || !restarted.is_empty());
    if let Some(w) = warning {
        out = out.warn(w);
    }
    Ok(out.field("restarted", restarted).field("cluster", &c))
}
