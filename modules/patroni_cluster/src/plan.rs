//! Pure decisions: the /config patch, switchover candidates, wait conditions, restart order.

use crate::actions::wait_for::Condition;
use crate::dcs::Dcs;
use crate::observe::{Cluster, Member};
use serde_json::{json, Map, Value};

/// The desired dynamic configuration as the JSON shape of `GET /config`.
pub fn desired_config(d: &Dcs) -> Map<String, Value> {
    let mut top = Map::new();
    let mut put = |k: &str, v: Option<Value>| {
        if let Some(v) = v {
            top.insert(k.to_owned(), v);
        }
    };
    put("ttl", d.ttl.map(Value::from));
    put("loop_wait", d.loop_wait.map(Value::from));
    put("retry_timeout", d.retry_timeout.map(Value::from));
    put(
        "maximum_lag_on_failover",
        d.maximum_lag_on_failover.map(Value::from),
    );
    put(
        "synchronous_mode",
        d.synchronous_mode.as_ref().map(|m| m.to_json()),
    );
    put(
        "synchronous_mode_strict",
        d.synchronous_mode_strict.map(Value::from),
    );
    put(
        "synchronous_node_count",
        d.synchronous_node_count.map(Value::from),
    );
    put("failsafe_mode", d.failsafe_mode.map(Value::from));
    put("check_timeline", d.check_timeline.map(Value::from));
    let mut pg = Map::new();
    if let Some(v) = d.use_pg_rewind {
        pg.insert("use_pg_rewind".into(), v.into());
    }
    if let Some(v) = d.use_slots {
        pg.insert("use_slots".into(), v.into());
    }
    let params = d.effective_parameters();
    if !params.is_empty() {
        pg.insert("parameters".into(), Value::Object(params));
    }
    if !pg.is_empty() {
        top.insert("postgresql".into(), Value::Object(pg));
    }
    top
}

/// Patroni keeps values as given: `"500"` and `500`, `"on"` and `true` mean
/// the same to PostgreSQL, so compare them as PostgreSQL would read them.
fn same(a: &Value, b: &Value) -> bool {
    fn norm(v: &Value) -> Option<String> {
        match v {
            Value::Null => None,
            Value::Bool(true) => Some("on".into()),
            Value::Bool(false) => Some("off".into()),
            Value::String(s) => Some(match s.to_ascii_lowercase().as_str() {
                "true" | "on" | "yes" | "1" => "on".into(),
                "false" | "off" | "no" | "0" => "off".into(),
                other => other.to_owned(),
            }),
            Value::Number(n) => Some(match n.as_f64() {
                Some(0.0) => "off".into(),
                Some(1.0) => "on".into(),
                _ => n.to_string(),
            }),
            other => Some(other.to_string()),
        }
    }
    norm(a) == norm(b)
}

/// The JSON merge patch (RFC 7386, what `PATCH /config` takes) that turns
/// `current` into `desired`; empty when nothing differs. `null` in `desired`
/// removes a key that is present.
pub fn config_patch(current: &Value, desired: &Map<String, Value>) -> Map<String, Value> {
    let mut patch = Map::new();
    for (k, want) in desired {
        let have = current.get(k).unwrap_or(&Value::Null);
        match want {
            Value::Object(sub) => {
                let sub_patch = config_patch(have, sub);
                if !sub_patch.is_empty() {
                    patch.insert(k.clone(), Value::Object(sub_patch));
                }
            }
            Value::Null if have.is_null() => {}
            Value::Null => {
                patch.insert(k.clone(), Value::Null);
            }
            _ if same(have, want) => {}
            _ => {
                patch.insert(k.clone(), want.clone());
            }
        }
    }
    patch
}

/// `current` with `patch` merged in (RFC 7386): the config after the change.
pub fn merged(current: &Value, patch: &Map<String, Value>) -> Value {
    let mut out = current.as_object().cloned().unwrap_or_default();
    for (k, v) in patch {
        match v {
            Value::Null => {
                out.remove(k);
            }
            Value::Object(sub) => {
                let base = out.get(k).cloned().unwrap_or(Value::Null);
                out.insert(k.clone(), merged(&base, sub));
            }
            other => {
                out.insert(k.clone(), other.clone());
            }
        }
    }
    Value::Object(out)
}

/// Why `m` cannot take over from the leader, or `None` when it can.
/// Mirrors Patroni's healthy-standby rules (docs/rest_api.rst, "Healthy standby").
pub fn ineligible(m: &Member, sync_mode: bool, max_lag: Option<u64>) -> Option<String> {
    if m.is_leader() {
        return Some("is the leader".into());
    }
    if !m.runs() {
        return Some(format!("is {}", m.state));
    }
    if m.tag_true("nofailover") {
        return Some("is tagged nofailover".into());
    }
    if sync_mode && !m.is_sync() {
        return Some("is not a synchronous standby (synchronous_mode is on)".into());
    }
    if let (Some(lag), Some(max)) = (m.lag, max_lag) {
        if lag > max {
            return Some(format!(
                "lags {lag} bytes, more than maximum_lag_on_failover ({max})"
            ));
        }
    }
    None
}

/// The best replica to promote: eligible, synchronous first, least lag, then name.
pub fn best_candidate(
    c: &Cluster,
    sync_mode: bool,
    max_lag: Option<u64>,
) -> Result<String, String> {
    let mut eligible: Vec<&Member> = c
        .members
        .iter()
        .filter(|m| ineligible(m, sync_mode, max_lag).is_none())
        .collect();
    eligible.sort_by(|a, b| {
        (
            !a.is_sync(),
            !a.streaming,
            a.lag.unwrap_or(u64::MAX),
            &a.name,
        )
            .cmp(&(
                !b.is_sync(),
                !b.streaming,
                b.lag.unwrap_or(u64::MAX),
                &b.name,
            ))
    });
    match eligible.first() {
        Some(m) => Ok(m.name.clone()),
        None => Err(c
            .members
            .iter()
            .filter_map(|m| {
                ineligible(m, sync_mode, max_lag).map(|why| format!("{} {why}", m.name))
            })
            .collect::<Vec<_>>()
            .join("; ")),
    }
}

/// `Ok(())` when `cond` holds, else what is missing (for the timeout message).
pub fn condition_met(
    c: &Cluster,
    cond: Condition,
    count: u32,
    member: Option<&str>,
) -> Result<(), String> {
    let leader_ok = c.leader_member().map(|m| m.runs()).unwrap_or(false);
    let need = count as usize;
    match cond {
        Condition::Leader if leader_ok => Ok(()),
        Condition::Leader => Err(match c.leader_member() {
            Some(m) => format!("leader {} is {}", m.name, m.state),
            None => format!("no member holds the leader lock (members: {})", summary(c)),
        }),
        Condition::Streaming if leader_ok && c.streaming.len() >= need => Ok(()),
        Condition::Streaming => Err(format!(
            "{} of {need} replicas streaming from {} (members: {})",
            c.streaming.len(),
            c.leader.as_deref().unwrap_or("no leader"),
            summary(c)
        )),
        Condition::SyncStandby if leader_ok && c.sync_standbys.len() >= need => Ok(()),
        Condition::SyncStandby => Err(format!(
            "{} of {need} synchronous standbys (is dcs.synchronous_mode on?) (members: {})",
            c.sync_standbys.len(),
            summary(c)
        )),
        Condition::Member => {
            let name = member.unwrap_or_default();
            match c.member(name) {
                None => Err(format!("{name} is not a member (members: {})", c.names())),
                Some(m) if m.is_leader() && m.runs() => Ok(()),
                Some(m) if m.streaming => Ok(()),
                Some(m) => Err(format!("{name} is {} {}, not streaming", m.role, m.state)),
            }
        }
        Condition::NoPendingRestart if c.pending_restart.is_empty() => Ok(()),
        Condition::NoPendingRestart => Err(format!(
            "pending restart on {}",
            c.pending_restart.join(", ")
        )),
    }
}

fn summary(c: &Cluster) -> String {
    if c.members.is_empty() {
        return "none".into();
    }
    c.members
        .iter()
        .map(|m| format!("{} {} {}", m.name, m.role, m.state))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Members to restart, replicas before the leader so the primary restarts last.
pub fn restart_order(c: &Cluster, only_pending: bool, member: Option<&str>) -> Vec<String> {
    let mut picked: Vec<&Member> = c
        .members
        .iter()
        .filter(|m| member.map(|n| n == m.name).unwrap_or(true))
        .filter(|m| !only_pending || m.pending_restart)
        .collect();
    picked.sort_by_key(|m| (m.is_leader(), m.name.clone()));
    picked.into_iter().map(|m| m.name.clone()).collect()
}

/// The body of `POST /switchover`: always name the candidate, so the result is predictable.
pub fn switchover_body(leader: &str, candidate: &str) -> Value {
    json!({"leader": leader, "candidate": candidate})
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::observe::parse_cluster;

    fn cluster() -> Cluster {
        parse_cluster(
            &json!({"members": [
                {"name": "a", "role": "leader", "state": "running", "timeline": 2},
                {"name": "b", "role": "replica", "state": "streaming", "lag": 10},
                {"name": "c", "role": "sync_standby", "state": "streaming", "lag": 50},
                {"name": "d", "role": "replica", "state": "streaming", "lag": 0, "tags": {"nofailover": true}},
                {"name": "e", "role": "replica", "state": "stopped", "pending_restart": true}
            ]}),
            None,
        )
    }

    #[test]
    fn patch_holds_only_what_differs() {
        let current = json!({"ttl": 30, "loop_wait": 10, "synchronous_mode": false,
            "postgresql": {"use_pg_rewind": true, "parameters": {"max_connections": "100", "hot_standby": "on", "wal_keep_size": "1GB"}}});
        let d = Dcs {
            ttl: Some(30),
            synchronous_mode: Some(crate::dcs::SyncMode::On(true)),
            use_pg_rewind: Some(true),
            parameters: serde_json::from_value(json!({"max_connections": 100, "hot_standby": true,
                "work_mem": "32MB", "wal_keep_size": null}))
            .unwrap(),
            ..Dcs::default()
        };
        let patch = config_patch(&current, &desired_config(&d));
        assert_eq!(
            Value::Object(patch.clone()),
            json!({"synchronous_mode": true, "postgresql": {"parameters": {"work_mem": "32MB", "wal_keep_size": null}}})
        );
        let after = merged(&current, &patch);
        assert!(
            config_patch(&after, &desired_config(&d)).is_empty(),
            "second run changes nothing"
        );
        assert!(after
            .pointer("/postgresql/parameters/wal_keep_size")
            .is_none());
        assert_eq!(after["postgresql"]["parameters"]["max_connections"], "100");
    }

    #[test]
    fn best_candidate_prefers_sync_standby_and_skips_unhealthy() {
        let c = cluster();
        assert_eq!(best_candidate(&c, false, None).unwrap(), "c");
        assert_eq!(best_candidate(&c, true, None).unwrap(), "c");
        assert_eq!(best_candidate(&c, false, Some(20)).unwrap(), "b");
        let why = best_candidate(&c, true, Some(20)).unwrap_err();
        assert!(why.contains("c lags 50 bytes"), "{why}");
        assert!(why.contains("d is tagged nofailover"), "{why}");
        assert!(why.contains("e is stopped"), "{why}");
    }

    #[test]
    fn conditions_say_what_is_missing() {
        let c = cluster();
        assert!(condition_met(&c, Condition::Leader, 1, None).is_ok());
        assert!(condition_met(&c, Condition::Streaming, 3, None).is_ok());
        let why = condition_met(&c, Condition::Streaming, 4, None).unwrap_err();
        assert!(why.starts_with("3 of 4 replicas streaming from a"), "{why}");
        assert!(condition_met(&c, Condition::SyncStandby, 2, None)
            .unwrap_err()
            .starts_with("1 of 2"));
        assert!(condition_met(&c, Condition::Member, 1, Some("e"))
            .unwrap_err()
            .contains("stopped"));
        assert!(condition_met(&c, Condition::Member, 1, Some("zz"))
            .unwrap_err()
            .contains("members: a, b, c, d, e"));
        assert_eq!(
            condition_met(&c, Condition::NoPendingRestart, 1, None).unwrap_err(),
            "pending restart on e"
        );
    }

    #[test]
    fn restarts_replicas_before_the_leader() {
        let mut c = cluster();
        for m in c.members.iter_mut() {
            m.pending_restart = true;
        }
        assert_eq!(restart_order(&c, true, None), vec!["b", "c", "d", "e", "a"]);
        assert_eq!(restart_order(&cluster(), true, None), vec!["e"]);
        assert_eq!(restart_order(&cluster(), false, Some("a")), vec!["a"]);
    }
}
