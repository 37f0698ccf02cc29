//! Desired configuration vs what the host has -> the changes to make (pure).

use crate::observe::State;
use crate::params::ConfigParams;
use matrixha_module::file::{ownership_differs, Ownership};
use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "change", rename_all = "snake_case")]
pub enum Change {
    /// Write the rendered file (new content, owner or mode).
    WriteConfig { path: String, content_changes: bool },
    /// coturn reads its configuration only at start.
    RestartService { service: String },
}

pub fn changes(p: &ConfigParams, want: &str, own: &Ownership, now: &State) -> Vec<Change> {
    let content_changes = now.content.as_deref() != Some(want);
    let owner_changes = ownership_differs(own, now.ownership.as_ref());
    let mut out = Vec::new();
    if content_changes || owner_changes {
        out.push(Change::WriteConfig {
            path: p.path.clone(),
            content_changes,
        });
    }
    if content_changes && p.service_action_runs() {
        out.push(Change::RestartService {
            service: p.service.clone(),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::params::tests::config;

    fn own() -> Ownership {
        Ownership {
            owner: None,
            group: None,
            mode: Some(0o640),
        }
    }

    #[test]
    fn plan_is_empty_when_file_and_mode_match() {
        let p = config("");
        let now = State {
            content: Some("x\n".into()),
            ownership: Some(Ownership {
                owner: Some("root".into()),
                group: Some("root".into()),
                mode: Some(0o640),
            }),
        };
        assert!(changes(&p, "x\n", &own(), &now).is_empty());
    }

    #[test]
    fn new_content_writes_and_restarts() {
        let p = config("");
        let now = State {
            content: None,
            ownership: None,
        };
        let c = changes(&p, "x\n", &own(), &now);
        assert_eq!(c.len(), 2);
        assert!(matches!(c[1], Change::RestartService { .. }));
    }

    #[test]
    fn mode_only_change_does_not_restart() {
        let p = config("");
        let now = State {
            content: Some("x\n".into()),
            ownership: Some(Ownership {
                owner: None,
                group: None,
                mode: Some(0o644),
            }),
        };
        assert_eq!(
            changes(&p, "x\n", &own(), &now),
            vec![Change::WriteConfig {
                path: p.path.clone(),
                content_changes: false
            }]
        );
    }

    #[test]
    fn service_action_none_never_restarts() {
        let p = config(r#","service_action":"none""#);
        let now = State {
            content: None,
            ownership: None,
        };
        assert_eq!(changes(&p, "x\n", &own(), &now).len(), 1);
    }
}
