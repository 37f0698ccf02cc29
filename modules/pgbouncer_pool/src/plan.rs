//! Desired vs observed → the list of changes (pure: no I/O, works in check mode).

use crate::params::{ServiceAction, RESTART_ONLY};
use crate::render::parse_pgbouncer_section;
use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Change {
    /// Rewrite pgbouncer.ini (content and/or owner/mode); `settings` are the `[pgbouncer]` keys that differ.
    WriteConfig {
        path: String,
        settings: Vec<String>,
    },
    /// Rewrite the auth file; `users` got a new secret, `removed` are gone. Secrets never appear.
    WriteAuthFile {
        path: String,
        users: Vec<String>,
        removed: Vec<String>,
    },
    /// `RELOAD` on the admin console: PgBouncer re-reads both files, clients stay connected.
    Reload,
    /// `systemctl restart`: these settings are read only at start.
    Restart {
        service: String,
        settings: Vec<String>,
    },
    Pause {
        databases: Vec<String>,
    },
    Resume {
        databases: Vec<String>,
    },
}

/// Everything the plan needs, already observed or rendered.
pub struct Inputs<'a> {
    pub config_path: &'a str,
    pub auth_path: &'a str,
    pub current_ini: Option<&'a str>,
    pub desired_ini: &'a str,
    pub ini_ownership_differs: bool,
    pub current_users: Vec<String>,
    pub desired_users: Vec<String>,
    pub new_secrets: Vec<String>,
    pub auth_content_differs: bool,
    pub auth_ownership_differs: bool,
    pub service: &'a str,
    pub service_action: ServiceAction,
    /// `paused` parameter and what SHOW DATABASES said (None: not asked).
    pub want_paused: Option<bool>,
    pub databases: Vec<String>,
    pub paused_now: Option<Vec<String>>,
}

pub struct Plan {
    pub changes: Vec<Change>,
    /// A reload (RELOAD or SIGHUP) is due and this run leaves it to someone else.
    pub reload_required: bool,
    /// A restart is due and this run leaves it to someone else.
    pub restart_required: bool,
    pub restart_settings: Vec<String>,
}

/// The `[pgbouncer]` keys whose values differ between two files.
pub fn differing_settings(before: Option<&str>, after: &str) -> Vec<String> {
    let b = before.map(parse_pgbouncer_section).unwrap_or_default();
    let a = parse_pgbouncer_section(after);
    let mut keys: Vec<String> = b
        .keys()
        .chain(a.keys())
        .filter(|k| b.get(*k) != a.get(*k))
        .cloned()
        .collect();
    keys.sort();
    keys.dedup();
    keys
}

pub fn changes(i: &Inputs) -> Plan {
    let mut changes = Vec::new();
    let ini_differs = i.current_ini != Some(i.desired_ini);
    let settings = differing_settings(i.current_ini, i.desired_ini);
    if i.auth_content_differs || i.auth_ownership_differs {
        changes.push(Change::WriteAuthFile {
            path: i.auth_path.to_owned(),
            users: i.new_secrets.clone(),
            removed: i
                .current_users
                .iter()
                .filter(|u| !i.desired_users.contains(u))
                .cloned()
                .collect(),
        });
    }
    if ini_differs || i.ini_ownership_differs {
        changes.push(Change::WriteConfig {
            path: i.config_path.to_owned(),
            settings: settings.clone(),
        });
    }
    let restart_settings: Vec<String> = settings
        .iter()
        .filter(|k| RESTART_ONLY.contains(&k.as_str()))
        .cloned()
        .collect();
    // Owner/mode changes alone do not change what PgBouncer reads.
    let needs_reload = ini_differs || i.auth_content_differs;
    let needs_restart = !restart_settings.is_empty();
    let mut reload_required = false;
    let mut restart_required = false;
    match i.service_action {
        ServiceAction::Auto if needs_restart => changes.push(Change::Restart {
            service: i.service.to_owned(),
            settings: restart_settings.clone(),
        }),
        ServiceAction::Auto | ServiceAction::Reload if needs_reload => {
            changes.push(Change::Reload);
            restart_required = needs_restart;
        }
        _ => {
            reload_required = needs_reload;
            restart_required = needs_restart;
        }
    }
    if let (Some(want), Some(now)) = (i.want_paused, &i.paused_now) {
        if want {
            let todo: Vec<String> = i
                .databases
                .iter()
                .filter(|d| !now.contains(d))
                .cloned()
                .collect();
            if !todo.is_empty() {
                changes.push(Change::Pause { databases: todo });
            }
        } else if !now.is_empty() {
            changes.push(Change::Resume {
                databases: now.clone(),
            });
        }
    }
    Plan {
        changes,
        reload_required,
        restart_required,
        restart_settings,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const INI: &str = "[databases]\nsynapse = host=10.0.3.10\n[pgbouncer]\nlisten_addr = 10.0.3.11\nlisten_port = 6432\ndefault_pool_size = 95\n";

    fn inputs<'a>(current: Option<&'a str>, desired: &'a str) -> Inputs<'a> {
        Inputs {
            config_path: "/etc/pgbouncer/pgbouncer.ini",
            auth_path: "/etc/pgbouncer/userlist.txt",
            current_ini: current,
            desired_ini: desired,
            ini_ownership_differs: false,
            current_users: vec!["synapse".into()],
            desired_users: vec!["synapse".into()],
            new_secrets: vec![],
            auth_content_differs: false,
            auth_ownership_differs: false,
            service: "pgbouncer",
            service_action: ServiceAction::Auto,
            want_paused: None,
            databases: vec!["synapse".into()],
            paused_now: None,
        }
    }

    #[test]
    fn plan_is_empty_when_files_match() {
        let plan = changes(&inputs(Some(INI), INI));
        assert!(plan.changes.is_empty());
        assert!(!plan.reload_required && !plan.restart_required);
    }

    #[test]
    fn pool_size_change_reloads() {
        let after = INI.replace("= 95", "= 100");
        let plan = changes(&inputs(Some(INI), &after));
        assert_eq!(
            plan.changes,
            vec![
                Change::WriteConfig {
                    path: "/etc/pgbouncer/pgbouncer.ini".into(),
                    settings: vec!["default_pool_size".into()]
                },
                Change::Reload
            ]
        );
    }

    #[test]
    fn listen_addr_change_restarts_instead_of_reloading() {
        let after = INI.replace("10.0.3.11", "10.0.3.11,127.0.0.1");
        let plan = changes(&inputs(Some(INI), &after));
        assert_eq!(
            plan.changes[1],
            Change::Restart {
                service: "pgbouncer".into(),
                settings: vec!["listen_addr".into()]
            }
        );
    }

    #[test]
    fn reload_only_action_reports_the_restart_it_leaves() {
        let after = INI.replace("6432", "6433");
        let mut i = inputs(Some(INI), &after);
        i.service_action = ServiceAction::Reload;
        let plan = changes(&i);
        assert!(plan.changes.contains(&Change::Reload));
        assert!(plan.restart_required);
        assert_eq!(plan.restart_settings, vec!["listen_port"]);
    }

    #[test]
    fn none_action_only_writes_and_says_what_is_due() {
        let after = INI.replace("= 95", "= 100");
        let mut i = inputs(Some(INI), &after);
        i.service_action = ServiceAction::None;
        let plan = changes(&i);
        assert_eq!(plan.changes.len(), 1);
        assert!(plan.reload_required && !plan.restart_required);
    }

    #[test]
    fn new_secret_rewrites_auth_file_and_reloads() {
        let mut i = inputs(Some(INI), INI);
        i.auth_content_differs = true;
        i.new_secrets = vec!["synapse".into()];
        i.current_users = vec!["synapse".into(), "old".into()];
        let plan = changes(&i);
        assert_eq!(
            plan.changes,
            vec![
                Change::WriteAuthFile {
                    path: "/etc/pgbouncer/userlist.txt".into(),
                    users: vec!["synapse".into()],
                    removed: vec!["old".into()]
                },
                Change::Reload
            ]
        );
    }

    #[test]
    fn ownership_only_rewrites_without_reload() {
        let mut i = inputs(Some(INI), INI);
        i.ini_ownership_differs = true;
        let plan = changes(&i);
        assert_eq!(plan.changes.len(), 1);
        assert!(matches!(plan.changes[0], Change::WriteConfig { .. }));
    }

    #[test]
    fn pause_and_resume_are_idempotent() {
        let mut i = inputs(Some(INI), INI);
        i.want_paused = Some(true);
        i.paused_now = Some(vec![]);
        assert_eq!(
            changes(&i).changes,
            vec![Change::Pause {
                databases: vec!["synapse".into()]
            }]
        );
        i.paused_now = Some(vec!["synapse".into()]);
        assert!(changes(&i).changes.is_empty());
        i.want_paused = Some(false);
        assert_eq!(
            changes(&i).changes,
            vec![Change::Resume {
                databases: vec!["synapse".into()]
            }]
        );
        i.paused_now = Some(vec![]);
        assert!(changes(&i).changes.is_empty());
    }
}
