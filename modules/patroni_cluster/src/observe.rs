//! What the cluster looks like now: `/cluster` and `/patroni` of Patroni 3.0.2 and 4.x in one model.

use crate::rest::Api;
use matrixha_module::ModuleError;
use serde::Serialize;
use serde_json::{Map, Value};

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Member {
    pub name: String,
    /// `leader`, `replica`, `sync_standby`, `quorum_standby`, `standby_leader`.
    pub role: String,
    /// `running`, `streaming` (4.x replicas), `starting`, `stopped`, `creating replica` …
    pub state: String,
    pub host: Option<String>,
    pub port: Option<u16>,
    /// Base URL of the member's REST API (`/patroni` stripped).
    pub api_url: Option<String>,
    pub timeline: Option<u64>,
    /// Replay lag in bytes; `None` for the leader and when Patroni says "unknown".
    pub lag: Option<u64>,
    pub streaming: bool,
    pub pending_restart: bool,
    pub tags: Map<String, Value>,
}

impl Member {
    pub fn is_leader(&self) -> bool {
        matches!(
            self.role.as_str(),
            "leader" | "master" | "primary" | "standby_leader"
        )
    }
    pub fn is_sync(&self) -> bool {
        matches!(self.role.as_str(), "sync_standby" | "quorum_standby")
    }
    pub fn runs(&self) -> bool {
        matches!(self.state.as_str(), "running" | "streaming")
    }
    pub fn tag_true(&self, tag: &str) -> bool {
        match self.tags.get(tag) {
            Some(Value::Bool(b)) => *b,
            Some(Value::String(s)) => {
                matches!(s.to_ascii_lowercase().as_str(), "true" | "yes" | "on")
            }
            _ => false,
        }
    }
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Cluster {
    pub scope: Option<String>,
    pub leader: Option<String>,
    pub members: Vec<Member>,
    pub replicas: Vec<String>,
    pub streaming: Vec<String>,
    pub sync_standbys: Vec<String>,
    pub pending_restart: Vec<String>,
    pub timeline: Option<u64>,
    pub paused: bool,
    pub patroni_version: Option<String>,
}

impl Cluster {
    pub fn member(&self, name: &str) -> Option<&Member> {
        self.members.iter().find(|m| m.name == name)
    }
    pub fn leader_member(&self) -> Option<&Member> {
        self.leader.as_deref().and_then(|l| self.member(l))
    }
    pub fn names(&self) -> String {
        let names: Vec<&str> = self.members.iter().map(|m| m.name.as_str()).collect();
        if names.is_empty() {
            "none".into()
        } else {
            names.join(", ")
        }
    }
}

/// Reads the cluster through `api`. On 3.x replicas report `state: running`
/// whether or not they stream, so streaming comes from the leader's
/// `/patroni` `replication` list (its pg_stat_replication) when needed.
pub fn cluster(api: &Api) -> Result<Cluster, ModuleError> {
    let raw = api.get("/cluster")?;
    if raw.get("members").is_none() {
        return Err(ModuleError::param(
            "api_url",
            format!("{}/cluster answered JSON without members", api.base),
            "point api_url at Patroni's REST API",
        ));
    }
    let me = api.get("/patroni").ok();
    let mut c = parse_cluster(&raw, me.as_ref());
    let needs_replication = c
        .members
        .iter()
        .any(|m| !m.is_leader() && m.state == "running");
    if needs_replication {
        let leader_api = c.leader_member().and_then(|m| m.api_url.clone());
        if let Some(url) = leader_api {
            // The leader's address comes from /cluster; reuse the task's TLS and auth.
            if let Ok(status) = api.sibling(&url).and_then(|a| a.get("/patroni")) {
                apply_replication(&mut c, &status);
            }
        }
    }
    Ok(c)
}

/// `/cluster` (+ the queried member's `/patroni`) → [`Cluster`]. Pure.
pub fn parse_cluster(raw: &Value, me: Option<&Value>) -> Cluster {
    let members: Vec<Member> = raw
        .get("members")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(parse_member).collect())
        .unwrap_or_default();
    let mut c = Cluster {
        // 3.0.2's /cluster has no scope; /patroni names it on both versions.
        scope: raw
            .get("scope")
            .or_else(|| me.and_then(|m| m.pointer("/patroni/scope")))
            .and_then(Value::as_str)
            .map(str::to_owned),
        leader: None,
        members,
        replicas: vec![],
        streaming: vec![],
        sync_standbys: vec![],
        pending_restart: vec![],
        timeline: None,
        paused: raw.get("pause").and_then(Value::as_bool).unwrap_or(false),
        patroni_version: me
            .and_then(|m| m.pointer("/patroni/version"))
            .and_then(Value::as_str)
            .map(str::to_owned),
    };
    derive(&mut c);
    c
}

fn parse_member(m: &Value) -> Option<Member> {
    let name = m.get("name")?.as_str()?.to_owned();
    let role = m.get("role").and_then(Value::as_str).unwrap_or("unknown");
    // /cluster says "leader" on every version; older code paths say master/primary.
    let role = match role {
        "master" | "primary" => "leader",
        r => r,
    }
    .to_owned();
    let state = m
        .get("state")
        .and_then(Value::as_str)
        .unwrap_or("unknown")
        .to_owned();
    let lag = match m.get("lag") {
        Some(Value::Number(n)) => n.as_u64(),
        _ => None,
    };
    Some(Member {
        streaming: state == "streaming",
        pending_restart: m
            .get("pending_restart")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        host: m.get("host").and_then(Value::as_str).map(str::to_owned),
        port: m
            .get("port")
            .and_then(Value::as_u64)
            .and_then(|p| u16::try_from(p).ok()),
        api_url: m.get("api_url").and_then(Value::as_str).map(|u| {
            u.trim_end_matches("/patroni")
                .trim_end_matches('/')
                .to_owned()
        }),
        timeline: m.get("timeline").and_then(Value::as_u64),
        tags: m
            .get("tags")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default(),
        name,
        role,
        state,
        lag,
    })
}

/// Marks replicas the leader lists as streaming (3.x) and synchronous.
pub fn apply_replication(c: &mut Cluster, leader_status: &Value) {
    let Some(rows) = leader_status.get("replication").and_then(Value::as_array) else {
        return;
    };
    for row in rows {
        let Some(app) = row.get("application_name").and_then(Value::as_str) else {
            continue;
        };
        let streaming = row.get("state").and_then(Value::as_str) == Some("streaming");
        if let Some(m) = c
            .members
            .iter_mut()
            .find(|m| m.name == app && !m.is_leader())
        {
            m.streaming |= streaming;
        }
    }
    derive(c);
}

fn derive(c: &mut Cluster) {
    c.leader = c
        .members
        .iter()
        .find(|m| m.is_leader())
        .map(|m| m.name.clone());
    c.timeline = c.leader_member().and_then(|m| m.timeline);
    c.replicas = c
        .members
        .iter()
        .filter(|m| !m.is_leader())
        .map(|m| m.name.clone())
        .collect();
    c.streaming = c
        .members
        .iter()
        .filter(|m| !m.is_leader() && m.streaming)
        .map(|m| m.name.clone())
        .collect();
    c.sync_standbys = c
        .members
        .iter()
        .filter(|m| m.is_sync())
        .map(|m| m.name.clone())
        .collect();
    c.pending_restart = c
        .members
        .iter()
        .filter(|m| m.pending_restart)
        .map(|m| m.name.clone())
        .collect();
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Shapes as Patroni 3.0.2 (Debian bookworm) answers: replicas "running", no lsn fields.
    fn v3() -> Value {
        json!({"members": [
            {"name": "pg1", "role": "leader", "state": "running", "api_url": "http://127.0.0.1:8008/patroni",
             "host": "127.0.0.1", "port": 5432, "timeline": 1, "pending_restart": true},
            {"name": "pg2", "role": "sync_standby", "state": "running", "api_url": "http://127.0.0.1:8009/patroni",
             "host": "127.0.0.1", "port": 5433, "timeline": 1, "lag": 0},
            {"name": "pg3", "role": "replica", "state": "running", "host": "127.0.0.1", "port": 5434,
             "timeline": 1, "lag": "unknown", "tags": {"nofailover": true}}
        ], "scope": "demo"})
    }

    #[test]
    fn patroni3_shape_needs_the_leaders_replication_list_for_streaming() {
        let mut c = parse_cluster(
            &v3(),
            Some(&json!({"role": "master", "patroni": {"version": "3.0.2", "scope": "demo3"}})),
        );
        assert_eq!(c.scope.as_deref(), Some("demo"), "/cluster's scope wins");
        assert_eq!(c.leader.as_deref(), Some("pg1"));
        assert_eq!(c.sync_standbys, vec!["pg2"]);
        assert_eq!(c.pending_restart, vec!["pg1"]);
        assert!(c.streaming.is_empty());
        assert_eq!(c.member("pg3").unwrap().lag, None);
        assert!(c.member("pg3").unwrap().tag_true("nofailover"));
        apply_replication(
            &mut c,
            &json!({"replication": [
            {"application_name": "pg2", "state": "streaming", "sync_state": "sync"},
            {"application_name": "pg3", "state": "catchup", "sync_state": "async"}]}),
        );
        assert_eq!(c.streaming, vec!["pg2"]);
        assert_eq!(c.patroni_version.as_deref(), Some("3.0.2"));
        assert_eq!(
            c.member("pg2").unwrap().api_url.as_deref(),
            Some("http://127.0.0.1:8009")
        );
    }

    #[test]
    fn patroni4_shape_reports_streaming_directly() {
        let raw = json!({"members": [
            {"name": "a", "role": "leader", "state": "running", "timeline": 3},
            {"name": "b", "role": "quorum_standby", "state": "streaming", "timeline": 3, "lag": 0,
             "receive_lag": 0, "replay_lag": 0, "lsn": "0/4000060"},
            {"name": "c", "role": "replica", "state": "stopped", "timeline": 2}
        ], "scope": "demo", "pause": true});
        let c = parse_cluster(&raw, None);
        assert_eq!(c.streaming, vec!["b"]);
        assert_eq!(c.sync_standbys, vec!["b"]);
        assert_eq!(c.timeline, Some(3));
        assert!(c.paused);
        assert_eq!(c.replicas, vec!["b", "c"]);
    }

    #[test]
    fn no_leader_is_none() {
        let c = parse_cluster(
            &json!({"members": [{"name": "a", "role": "replica", "state": "running"}]}),
            None,
        );
        assert_eq!(c.leader, None);
        assert_eq!(c.timeline, None);
    }
}
